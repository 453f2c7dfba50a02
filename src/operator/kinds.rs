//! What the operator shell needs to know per kind: how to hand an object to the core and how
//! to turn the outcome back into that kind's status.

use std::fmt::Debug;
use std::future::Future;

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::Context;
use crate::api::{
    Account, AccountStatus, Condition, ConditionStatus, Conditions, DeletionPolicy, Membership, MembershipStatus,
    Organization, OrganizationStatus, TenantLink, TenantLinkStatus,
};
use crate::core::account::DesiredAccount;
use crate::core::membership::DesiredMembership;
use crate::core::organization::DesiredOrganization;
use crate::core::tenant_link::DesiredTenantLink;
use crate::core::{CoreError, Flags, Kind, Outcome, account, membership, organization, set_condition};
use crate::core::{provider_code, tenant_link};
use crate::store::Owner;

/// The condition a Membership reports its invitation mail on.
pub const INVITATION_DELIVERED: &str = "InvitationDelivered";

/// At most this many platform IDs are listed in a status; counts carry the rest.
const LISTED_IDS: usize = 50;

/// What one reconcile of an object is about: the object, whether it is being deleted, its
/// annotations' flags and the time.
pub struct Request {
    pub owner: Owner,
    pub deleting: bool,
    pub flags: Flags,
    pub now: Timestamp,
}

/// A kind the operator reconciles through the core.
pub trait Managed:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    type Status: Clone + Debug + Default + PartialEq + Serialize + Send + Sync;

    const KIND: Kind;
    /// Condition types this kind sets itself in `absorb` (after Ready and Synced), which
    /// `set_conditions` keeps as they are.
    const OWN_CONDITIONS: &'static [&'static str] = &[];

    fn status(&self) -> Option<&Self::Status>;
    fn conditions(status: &Self::Status) -> &[Condition];
    fn observed_generation(status: &Self::Status) -> Option<i64>;
    fn set_conditions(status: &mut Self::Status, conditions: Vec<Condition>, generation: Option<i64>);
    fn deletion_policy(&self) -> DeletionPolicy;

    /// Observe, plan and apply through the core (reading what the kind needs from the cluster).
    fn reconcile(&self, ctx: &Context, req: Request) -> impl Future<Output = Result<Outcome, CoreError>> + Send;

    /// After a successful reconcile of a live object, outside any transaction: the steps that
    /// talk to Kubernetes (a provider's code Secret) and status fields that need more than the
    /// outcome (link counts). May bring `outcome.requeue_at` forward (a code's expiry).
    fn enrich(
        &self,
        _ctx: &Context,
        _outcome: &mut Outcome,
        _status: &mut Self::Status,
        _now: Timestamp,
    ) -> impl Future<Output = Result<(), CoreError>> + Send {
        async { Ok(()) }
    }

    /// The kind-specific status fields an outcome reports (Ready and Synced are set separately).
    fn absorb(status: &mut Self::Status, outcome: &Outcome, now: Timestamp);
}

/// The accessors every kind has the same way: its status, conditions and deletion policy.
macro_rules! status_accessors {
    ($status:ty) => {
        fn status(&self) -> Option<&$status> {
            self.status.as_ref()
        }
        fn observed_generation(status: &$status) -> Option<i64> {
            status.observed_generation
        }
        fn conditions(status: &$status) -> &[Condition] {
            &status.conditions.0
        }
        fn set_conditions(status: &mut $status, conditions: Vec<Condition>, generation: Option<i64>) {
            status.conditions = merge_own(&status.conditions, conditions, Self::OWN_CONDITIONS);
            status.observed_generation = generation;
        }
        fn deletion_policy(&self) -> DeletionPolicy {
            self.spec.deletion_policy
        }
    };
}
pub(super) use status_accessors;

/// `next` (Ready, Synced and the rest), except the `own` types, which stay as `current` has them.
pub(super) fn merge_own(current: &Conditions, next: Vec<Condition>, own: &[&str]) -> Conditions {
    let mut all: Vec<Condition> = next.into_iter().filter(|c| !own.contains(&c.type_.as_str())).collect();
    all.extend(current.0.iter().filter(|c| own.contains(&c.type_.as_str())).cloned());
    Conditions(all)
}

fn listed(ids: &[String]) -> Vec<String> {
    ids.iter().take(LISTED_IDS).cloned().collect()
}

fn count(n: u64) -> Option<i32> {
    Some(i32::try_from(n).unwrap_or(i32::MAX))
}

impl Managed for Account {
    type Status = AccountStatus;
    const KIND: Kind = Kind::Account;

    status_accessors!(AccountStatus);

    async fn reconcile(&self, ctx: &Context, req: Request) -> Result<Outcome, CoreError> {
        let Request { owner, deleting, flags, now } = req;
        let desired = DesiredAccount::new(owner, self.spec.clone(), deleting, flags);
        account::reconcile(&ctx.store, &desired, now).await
    }

    fn absorb(status: &mut AccountStatus, outcome: &Outcome, _now: Timestamp) {
        if outcome.id.is_some() {
            status.account_id.clone_from(&outcome.id);
        }
        if let Some(children) = &outcome.children {
            status.organization_count = count(children.count);
            status.organizations = listed(&children.ids);
        }
    }
}

impl Managed for Organization {
    type Status = OrganizationStatus;
    const KIND: Kind = Kind::Organization;

    status_accessors!(OrganizationStatus);

    async fn reconcile(&self, ctx: &Context, req: Request) -> Result<Outcome, CoreError> {
        let Request { owner, deleting, flags, now } = req;
        let desired = DesiredOrganization::new(owner, self.spec.clone(), deleting, flags);
        organization::reconcile(&ctx.store, &desired, now).await
    }

    async fn enrich(
        &self,
        ctx: &Context,
        outcome: &mut Outcome,
        status: &mut OrganizationStatus,
        now: Timestamp,
    ) -> Result<(), CoreError> {
        let Some(org_id) = outcome.id.clone().filter(|_| outcome.is_ready()) else { return Ok(()) };
        if let Some(provider) = self.spec.service_provider.as_ref().filter(|p| p.enabled) {
            let lifetime = provider.code_lifetime.to_duration().unwrap_or(provider_code::DEFAULT_LIFETIME);
            let code = super::provider::ensure_code(ctx, self, &org_id, lifetime, now).await?;
            status.provider_code_secret = Some(code.secret);
            // Replaced when it expires, not at the next resync.
            outcome.requeue_at = Some(outcome.requeue_at.map_or(code.expires_at, |at| at.min(code.expires_at)));
        } else if status.provider_code_secret.take().is_some() {
            // No provider any more: the core revoked its codes; the Secret goes too.
            super::provider::withdraw_code(ctx, self).await?;
        }
        let mut conn = ctx.store.acquire().await?;
        let summary = tenant_link::link_summary(&mut conn, &org_id).await?;
        status.links = (summary.tenant_count > 0 || summary.provider_count > 0).then_some(summary);
        Ok(())
    }

    fn absorb(status: &mut OrganizationStatus, outcome: &Outcome, _now: Timestamp) {
        if outcome.id.is_some() {
            status.organization_id.clone_from(&outcome.id);
        }
        if outcome.account_id.is_some() {
            status.account_id.clone_from(&outcome.account_id);
        }
        if let Some(children) = &outcome.children {
            status.member_count = count(children.count);
        }
        if outcome.is_ready() {
            status.staff = outcome.staff.as_deref().map(|s| s.status()).unwrap_or_default();
        }
    }
}

impl Managed for Membership {
    type Status = MembershipStatus;
    const KIND: Kind = Kind::Membership;
    const OWN_CONDITIONS: &'static [&'static str] = &[INVITATION_DELIVERED];

    status_accessors!(MembershipStatus);

    async fn reconcile(&self, ctx: &Context, req: Request) -> Result<Outcome, CoreError> {
        let Request { owner, deleting, flags, now } = req;
        let desired = DesiredMembership::new(owner, self.spec.clone(), deleting, flags)
            .with_invitations_per_day(ctx.invitations_per_day);
        membership::reconcile(&ctx.store, &desired, now, &ctx.mail_settings).await
    }

    fn absorb(status: &mut MembershipStatus, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.membership.as_deref() else { return };
        facts.fill(status);
        if let Some(invitation) = &facts.invitation {
            let generation = status.observed_generation;
            put_condition(&mut status.conditions.0, INVITATION_DELIVERED, invitation.delivered(), generation, now);
        }
    }
}

/// Set a kind's own condition `type_` to `(status, reason, message)`, keeping its transition
/// time when the status did not change.
pub(super) fn put_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    (status, reason, message): (ConditionStatus, &str, String),
    generation: Option<i64>,
    now: Timestamp,
) {
    let previous = conditions.clone();
    set_condition(conditions, &previous, type_, status, reason, message, generation, now);
}

/// Whether the object's current generation still waits for a reconcile. A paused object
/// does not: its generation stays unobserved on purpose until the pause is lifted.
pub fn pending<K: Managed>(obj: &K) -> bool {
    let observed = obj.status().and_then(K::observed_generation);
    let annotations = obj.meta().annotations.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()));
    let paused = Flags::from_annotations(annotations).is_ok_and(|f| f.paused);
    obj.meta().deletion_timestamp.is_none() && !paused && observed != obj.meta().generation
}

/// The condition a TenantLink reports acceptance on.
pub const ACCEPTED: &str = "Accepted";

impl Managed for TenantLink {
    type Status = TenantLinkStatus;
    const KIND: Kind = Kind::TenantLink;
    const OWN_CONDITIONS: &'static [&'static str] = &[ACCEPTED, INVITATION_DELIVERED];

    status_accessors!(TenantLinkStatus);

    async fn reconcile(&self, ctx: &Context, req: Request) -> Result<Outcome, CoreError> {
        let Request { owner, deleting, flags, now } = req;
        // The code is read from a Secret in the link's own namespace only.
        let code = match (&self.spec.provider_code, deleting) {
            (Some(pc), false) => {
                super::secrets::read_key(&ctx.client, &owner.namespace, pc.secret_ref.name.as_str(), &pc.secret_ref.key)
                    .await
                    .map_err(|e| CoreError::Input {
                        what: format!("Secret {}", pc.secret_ref.name),
                        reason: e.to_string(),
                    })?
            }
            _ => None,
        };
        let desired = DesiredTenantLink::new(owner, self.spec.clone(), deleting, flags, code.as_deref())
            .with_invitations_per_day(ctx.invitations_per_day);
        tenant_link::reconcile(&ctx.store, &desired, now, &ctx.mail_settings).await
    }

    fn absorb(status: &mut TenantLinkStatus, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.tenant_link.as_deref() else { return };
        status.phase = Some(facts.phase);
        status.link_id.clone_from(&facts.link_id);
        status.counterpart_organization_id.clone_from(&facts.counterpart_organization_id);
        status.counterpart_organization_name.clone_from(&facts.counterpart_organization_name);
        status.accepted_at = facts.accepted_at_text();
        status.invitation_expires_at = facts.invitation_expires_at_text();
        status.members.clone_from(&facts.members);
        status.provider_staff.clone_from(&facts.provider_staff);
        let generation = status.observed_generation;
        if let Some(invitation) = &facts.invitation {
            put_condition(&mut status.conditions.0, INVITATION_DELIVERED, invitation.delivered(), generation, now);
        }
        let accepted = if facts.accepted() {
            (ConditionStatus::True, "Accepted", "the link is active".to_owned())
        } else {
            (ConditionStatus::False, outcome.reason, outcome.message.clone())
        };
        put_condition(&mut status.conditions.0, ACCEPTED, accepted, generation, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AccountSpec;

    fn account(generation: i64, observed: Option<i64>, deleting: bool) -> Account {
        let spec: AccountSpec = serde_yaml::from_str(
            "legalName: A\nbillingAddress: {street: [x], city: c, postalCode: '1', country: PL}\nbillingEmail: a@b.pl\ncurrency: PLN\n",
        )
        .expect("spec");
        let mut a = Account::new("a", spec);
        a.metadata.generation = Some(generation);
        if deleting {
            a.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH));
        }
        a.status = observed.map(|g| AccountStatus { observed_generation: Some(g), ..Default::default() });
        a
    }

    #[test]
    fn an_object_is_pending_until_its_generation_is_observed() {
        assert!(pending(&account(1, None, false)), "never reconciled");
        assert!(pending(&account(2, Some(1), false)), "spec changed since");
        assert!(!pending(&account(2, Some(2), false)), "current");
        assert!(!pending(&account(2, Some(1), true)), "deletion is not queue work of this kind");
        let mut paused = account(2, Some(1), false);
        paused.metadata.annotations = Some([("accountops.dev/paused".to_owned(), "true".to_owned())].into());
        assert!(!pending(&paused), "a paused edit waits for the pause to be lifted, not for a reconcile");
    }
}
