//! What the operator shell needs to know per kind: how to hand an object to the core, and
//! what needs Kubernetes after the run (`enrich`). The status itself is
//! [`crate::core::status`]'s pure function of the outcome.

use std::fmt::Debug;
use std::future::Future;

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::Context;
use crate::api::{
    Account, AccountStatus, DeletionPolicy, Membership, MembershipStatus, Organization, OrganizationStatus, TenantLink,
    TenantLinkStatus,
};
use crate::core::account::DesiredAccount;
use crate::core::membership::DesiredMembership;
use crate::core::organization::DesiredOrganization;
use crate::core::status::KindStatus;
use crate::core::tenant_link::DesiredTenantLink;
use crate::core::{CoreError, Flags, Kind, Outcome, account, membership, organization};
use crate::core::{provider_code, tenant_link};
use crate::store::Owner;

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
    type Status: KindStatus + Debug + Serialize + Send + Sync;

    const KIND: Kind;

    fn status(&self) -> Option<&Self::Status>;
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
}

/// The accessors every kind has the same way: its status and deletion policy.
macro_rules! status_accessors {
    ($status:ty) => {
        fn status(&self) -> Option<&$status> {
            self.status.as_ref()
        }
        fn deletion_policy(&self) -> DeletionPolicy {
            self.spec.deletion_policy
        }
    };
}
pub(super) use status_accessors;

impl Managed for Account {
    type Status = AccountStatus;
    const KIND: Kind = Kind::Account;

    status_accessors!(AccountStatus);

    async fn reconcile(&self, ctx: &Context, req: Request) -> Result<Outcome, CoreError> {
        let Request { owner, deleting, flags, now } = req;
        let desired = DesiredAccount::new(owner, self.spec.clone(), deleting, flags);
        account::reconcile(&ctx.store, &desired, now).await
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
}

impl Managed for Membership {
    type Status = MembershipStatus;
    const KIND: Kind = Kind::Membership;

    status_accessors!(MembershipStatus);

    async fn reconcile(&self, ctx: &Context, req: Request) -> Result<Outcome, CoreError> {
        let Request { owner, deleting, flags, now } = req;
        let desired = DesiredMembership::new(owner, self.spec.clone(), deleting, flags)
            .with_invitations_per_day(ctx.invitations_per_day);
        membership::reconcile(&ctx.store, &desired, now, &ctx.mail_settings).await
    }
}

/// Whether the object's current generation still waits for a reconcile. A paused object
/// does not: its generation stays unobserved on purpose until the pause is lifted.
pub fn pending<K: Managed>(obj: &K) -> bool {
    let observed = obj.status().and_then(KindStatus::observed_generation);
    let annotations = obj.meta().annotations.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()));
    let paused = Flags::from_annotations(annotations).is_ok_and(|f| f.paused);
    obj.meta().deletion_timestamp.is_none() && !paused && observed != obj.meta().generation
}

impl Managed for TenantLink {
    type Status = TenantLinkStatus;
    const KIND: Kind = Kind::TenantLink;

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
