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
    Organization, OrganizationStatus, ProvisioningSync, ProvisioningSyncStatus, TenantLink, TenantLinkStatus,
};
use crate::core::account::DesiredAccount;
use crate::core::membership::DesiredMembership;
use crate::core::organization::DesiredOrganization;
use crate::core::provisioning::DesiredSync;
use crate::core::tenant_link::DesiredTenantLink;
use crate::core::{CoreError, Flags, Kind, Outcome, account, membership, organization, set_condition};
use crate::core::{provider_code, provisioning, tenant_link};
use crate::store::Owner;

/// The condition a Membership reports its invitation mail on.
pub const INVITATION_DELIVERED: &str = "InvitationDelivered";

/// At most this many platform IDs are listed in a status; counts carry the rest.
const LISTED_IDS: usize = 50;

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
    fn reconcile(
        &self,
        ctx: &Context,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
    ) -> impl Future<Output = Result<Outcome, CoreError>> + Send;

    /// After a successful reconcile of a live object: status fields that need more than the
    /// outcome (a provider's code Secret, link counts).
    fn enrich(
        &self,
        _ctx: &Context,
        _outcome: &Outcome,
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

/// `next` (Ready, Synced and the rest), except the `own` types, which stay as `current` has them.
fn merge_own(current: &Conditions, next: Vec<Condition>, own: &[&str]) -> Conditions {
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

    async fn reconcile(
        &self,
        ctx: &Context,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
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

    async fn reconcile(
        &self,
        ctx: &Context,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
        let desired = DesiredOrganization::new(owner, self.spec.clone(), deleting, flags);
        organization::reconcile(&ctx.store, &desired, now).await
    }

    async fn enrich(
        &self,
        ctx: &Context,
        outcome: &Outcome,
        status: &mut OrganizationStatus,
        now: Timestamp,
    ) -> Result<(), CoreError> {
        let Some(org_id) = outcome.id.as_deref().filter(|_| outcome.is_ready()) else { return Ok(()) };
        if let Some(provider) = self.spec.service_provider.as_ref().filter(|p| p.enabled) {
            let lifetime = provider.code_lifetime.to_duration().unwrap_or(provider_code::DEFAULT_LIFETIME);
            status.provider_code_secret = Some(super::provider::ensure_code(ctx, self, org_id, lifetime, now).await?);
        } else {
            status.provider_code_secret = None;
        }
        let mut conn = ctx.store.acquire().await?;
        let summary = tenant_link::link_summary(&mut conn, org_id).await?;
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
    }
}

impl Managed for Membership {
    type Status = MembershipStatus;
    const KIND: Kind = Kind::Membership;
    const OWN_CONDITIONS: &'static [&'static str] = &[INVITATION_DELIVERED];

    status_accessors!(MembershipStatus);

    async fn reconcile(
        &self,
        ctx: &Context,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
        let desired = DesiredMembership::new(owner, self.spec.clone(), deleting, flags);
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
fn put_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    (status, reason, message): (ConditionStatus, &str, String),
    generation: Option<i64>,
    now: Timestamp,
) {
    let previous = conditions.clone();
    set_condition(conditions, &previous, type_, status, reason, message, generation, now);
}

/// Whether the object's current generation still waits for a reconcile.
pub fn pending<K: Managed>(obj: &K) -> bool {
    let observed = obj.status().and_then(K::observed_generation);
    obj.meta().deletion_timestamp.is_none() && observed != obj.meta().generation
}

/// The condition a TenantLink reports acceptance on.
pub const ACCEPTED: &str = "Accepted";

impl Managed for TenantLink {
    type Status = TenantLinkStatus;
    const KIND: Kind = Kind::TenantLink;
    const OWN_CONDITIONS: &'static [&'static str] = &[ACCEPTED];

    status_accessors!(TenantLinkStatus);

    async fn reconcile(
        &self,
        ctx: &Context,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
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
        let desired = DesiredTenantLink::new(owner, self.spec.clone(), deleting, flags, code.as_deref());
        tenant_link::reconcile(&ctx.store, &desired, now, &ctx.mail_settings).await
    }

    fn absorb(status: &mut TenantLinkStatus, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.tenant_link.as_deref() else { return };
        status.phase = Some(facts.phase);
        status.link_id.clone_from(&facts.link_id);
        status.counterpart_organization_id.clone_from(&facts.counterpart_organization_id);
        status.counterpart_organization_name.clone_from(&facts.counterpart_organization_name);
        status.accepted_at = facts.accepted_at_text();
        let accepted = if facts.accepted() {
            (ConditionStatus::True, "Accepted", "the link is active".to_owned())
        } else {
            (ConditionStatus::False, outcome.reason, outcome.message.clone())
        };
        put_condition(&mut status.conditions.0, ACCEPTED, accepted, status.observed_generation, now);
    }
}

/// `OrdersExecuted`: False while an executed order's product is changed (`OrderImmutable`) or
/// orders wait for the first successful sync (`OrdersPending`), True once every order ran.
fn orders_condition(facts: &provisioning::SyncFacts) -> (ConditionStatus, &'static str, String) {
    if let Some(hold) = &facts.order_hold {
        return (ConditionStatus::False, "OrderImmutable", hold.clone());
    }
    if !facts.orders_pending.is_empty() {
        let message = format!(
            "{} wait for the account to be synchronized: {}",
            facts.orders_pending.len(),
            facts.orders_pending.join(", ")
        );
        return (ConditionStatus::False, "OrdersPending", message);
    }
    (ConditionStatus::True, "OrdersExecuted", format!("{} assets created by orders", facts.assets.len()))
}

/// The credentials of `spec.endpoint.credentialsSecretRef` and the hash of the Secret's
/// content, `None` when the Secret does not exist (see [`provisioning::credentials`]).
async fn scim_credentials(
    ctx: &Context,
    sync: &ProvisioningSync,
    namespace: &str,
) -> Result<Option<(crate::provisioning::Credentials, String)>, CoreError> {
    let name = sync.spec.endpoint.credentials_secret_ref.name.as_str();
    let read = super::secrets::read(&ctx.client, namespace, name).await;
    let data = read.map_err(|e| CoreError::Input { what: format!("Secret {name}"), reason: e.to_string() })?;
    data.map(|data| provisioning::credentials::from_secret(&sync.spec, &data)).transpose()
}

/// The condition a ProvisioningSync reports its orders on.
pub const ORDERS_EXECUTED: &str = "OrdersExecuted";

impl Managed for ProvisioningSync {
    type Status = ProvisioningSyncStatus;
    const KIND: Kind = Kind::ProvisioningSync;
    const OWN_CONDITIONS: &'static [&'static str] = &[ORDERS_EXECUTED];

    status_accessors!(ProvisioningSyncStatus);

    async fn reconcile(
        &self,
        ctx: &Context,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
        let resync = provisioning::credentials::resync_interval(&self.spec);
        // Credentials and the CA are read from this object's own namespace only.
        let (credentials, credentials_hash) = match scim_credentials(ctx, self, &owner.namespace).await? {
            Some(found) => found,
            // Deletion goes on without them: an Orphan needs none, a Delete reports the error.
            None if deleting => (crate::provisioning::Credentials::Bearer(String::new()), String::new()),
            None => return Ok(provisioning::credentials::secret_missing(&self.spec, &owner.namespace, resync, now)),
        };
        let ca_pem = match &self.spec.endpoint.ca_secret_ref {
            Some(ca) => super::secrets::read(&ctx.client, &owner.namespace, ca.name.as_str())
                .await
                .map_err(|e| CoreError::Input { what: format!("Secret {}", ca.name), reason: e.to_string() })?
                .and_then(|mut data| data.remove("ca.crt")),
            None => None,
        };
        let desired =
            DesiredSync { owner, spec: self.spec.clone(), deleting, flags, credentials, credentials_hash, ca_pem };
        let facts = provisioning::reconcile(&ctx.store, &ctx.scim_guards, &desired, &ctx.mail_settings, now).await?;
        Ok(facts.into_outcome(deleting, resync, now))
    }

    fn absorb(status: &mut ProvisioningSyncStatus, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.provisioning.as_deref() else { return };
        if !facts.deletion_finished && outcome.action != crate::core::Action::DeletionBlocked {
            let orders = orders_condition(facts);
            put_condition(&mut status.conditions.0, ORDERS_EXECUTED, orders, status.observed_generation, now);
        }
        status.sync_status = Some(facts.sync_status);
        if facts.external_id.is_some() {
            status.external_id.clone_from(&facts.external_id);
        }
        if let Some(at) = facts.last_sync_time {
            status.last_sync_time = Some(at.to_string());
        }
        if facts.user_count.is_some() {
            status.user_count = facts.user_count;
        }
        if facts.group_count.is_some() {
            status.group_count = facts.group_count;
        }
        let corrected = i64::try_from(facts.drift_corrections).unwrap_or(i64::MAX);
        if corrected > 0 || status.drift_corrections.is_none() {
            status.drift_corrections = Some(status.drift_corrections.unwrap_or(0).saturating_add(corrected));
        }
        if !facts.credentials_hash.is_empty() {
            status.credentials_hash = Some(facts.credentials_hash.clone());
        }
        if facts.sync_id.is_some() && (facts.external_id.is_some() || !facts.assets.is_empty()) {
            status.assets.clone_from(&facts.assets);
        }
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
    fn a_sync_status_adds_up_drift_and_keeps_what_a_failed_run_did_not_see() {
        use crate::api::provisioning_sync::{AssetRef, SyncStatus};
        use crate::core::provisioning::SyncFacts;
        let now: Timestamp = "2026-11-22T12:00:00Z".parse().expect("timestamp");
        let facts = SyncFacts {
            sync_status: SyncStatus::Synchronized,
            created: false,
            sync_id: Some("psync-1".to_owned()),
            external_id: Some("scim-1".to_owned()),
            user_count: Some(3),
            group_count: Some(2),
            drift_corrections: 2,
            last_sync_time: Some(now),
            credentials_hash: "a".repeat(64),
            assets: vec![AssetRef {
                order: "starter".to_owned(),
                asset_id: "asset-1".to_owned(),
                executed_at: now.to_string(),
            }],
            executed: Vec::new(),
            orders_pending: Vec::new(),
            reason: "Synchronized",
            message: String::new(),
            order_hold: None,
            deletion_finished: false,
        };
        let mut status = ProvisioningSyncStatus { drift_corrections: Some(5), ..Default::default() };
        let synced = facts.clone().into_outcome(false, std::time::Duration::from_secs(60), now);
        ProvisioningSync::absorb(&mut status, &synced, now);
        assert_eq!(status.sync_status, Some(SyncStatus::Synchronized));
        assert_eq!(
            (status.external_id.as_deref(), status.user_count, status.group_count),
            (Some("scim-1"), Some(3), Some(2))
        );
        assert_eq!(status.drift_corrections, Some(7));
        assert_eq!(status.last_sync_time.as_deref(), Some("2026-11-22T12:00:00Z"));
        assert_eq!(status.assets.len(), 1);
        let orders = |status: &ProvisioningSyncStatus| {
            let c = status.conditions.0.iter().find(|c| c.type_ == ORDERS_EXECUTED).expect("OrdersExecuted");
            (c.status, c.reason.clone(), c.message.clone())
        };
        assert_eq!(
            orders(&status),
            (ConditionStatus::True, "OrdersExecuted".into(), "1 assets created by orders".into())
        );
        let held =
            SyncFacts { order_hold: Some("order starter was executed for product \"a\"".into()), ..facts.clone() };
        let mut status_held = status.clone();
        ProvisioningSync::absorb(
            &mut status_held,
            &held.into_outcome(false, std::time::Duration::from_secs(60), now),
            now,
        );
        assert_eq!(orders(&status_held).0, ConditionStatus::False);
        assert_eq!(orders(&status_held).1, "OrderImmutable");
        let waiting = SyncFacts { orders_pending: vec!["a".into(), "b".into()], ..facts.clone() };
        let mut status_waiting = ProvisioningSyncStatus::default();
        ProvisioningSync::absorb(
            &mut status_waiting,
            &waiting.into_outcome(false, std::time::Duration::from_secs(60), now),
            now,
        );
        assert_eq!(
            orders(&status_waiting),
            (ConditionStatus::False, "OrdersPending".into(), "2 wait for the account to be synchronized: a, b".into())
        );
        let failed = SyncFacts {
            sync_status: SyncStatus::Error,
            external_id: None,
            user_count: None,
            group_count: None,
            drift_corrections: 0,
            assets: Vec::new(),
            reason: "Unauthorized",
            ..facts
        }
        .into_outcome(false, std::time::Duration::from_secs(60), now);
        ProvisioningSync::absorb(&mut status, &failed, now);
        assert_eq!(status.sync_status, Some(SyncStatus::Error));
        assert_eq!((status.external_id.as_deref(), status.user_count), (Some("scim-1"), Some(3)));
        assert_eq!((status.drift_corrections, status.assets.len()), (Some(7), 1));
    }

    #[test]
    fn an_object_is_pending_until_its_generation_is_observed() {
        assert!(pending(&account(1, None, false)), "never reconciled");
        assert!(pending(&account(2, Some(1), false)), "spec changed since");
        assert!(!pending(&account(2, Some(2), false)), "current");
        assert!(!pending(&account(2, Some(1), true)), "deletion is not queue work of this kind");
    }
}
