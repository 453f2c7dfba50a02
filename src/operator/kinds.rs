//! What the operator shell needs to know per kind: how to hand an object to the core and how
//! to turn the outcome back into that kind's status.

use std::fmt::Debug;
use std::future::Future;

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    Account, AccountStatus, Condition, Conditions, DeletionPolicy, Membership, MembershipStatus, Organization,
    OrganizationStatus,
};
use crate::core::account::DesiredAccount;
use crate::core::membership::DesiredMembership;
use crate::core::organization::DesiredOrganization;
use crate::core::{CoreError, Flags, Kind, Outcome, account, membership, organization, set_condition};
use crate::mail::MailSettings;
use crate::store::{Owner, Store};

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

    fn status(&self) -> Option<&Self::Status>;
    fn conditions(status: &Self::Status) -> &[Condition];
    fn observed_generation(status: &Self::Status) -> Option<i64>;
    fn set_conditions(status: &mut Self::Status, conditions: Vec<Condition>, generation: Option<i64>);
    fn deletion_policy(&self) -> DeletionPolicy;

    /// Observe, plan and apply through the core.
    fn reconcile(
        &self,
        store: &Store,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
        mail: &MailSettings,
    ) -> impl Future<Output = Result<Outcome, CoreError>> + Send;

    /// The kind-specific status fields an outcome reports (Ready and Synced are set separately).
    fn absorb(status: &mut Self::Status, outcome: &Outcome, now: Timestamp);
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

    fn status(&self) -> Option<&AccountStatus> {
        self.status.as_ref()
    }
    fn observed_generation(status: &AccountStatus) -> Option<i64> {
        status.observed_generation
    }
    fn conditions(status: &AccountStatus) -> &[Condition] {
        &status.conditions.0
    }
    fn set_conditions(status: &mut AccountStatus, conditions: Vec<Condition>, generation: Option<i64>) {
        status.conditions = Conditions(conditions);
        status.observed_generation = generation;
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy
    }

    async fn reconcile(
        &self,
        store: &Store,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
        _mail: &MailSettings,
    ) -> Result<Outcome, CoreError> {
        let desired = DesiredAccount::new(owner, self.spec.clone(), deleting, flags);
        account::reconcile(store, &desired, now).await
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

    fn status(&self) -> Option<&OrganizationStatus> {
        self.status.as_ref()
    }
    fn observed_generation(status: &OrganizationStatus) -> Option<i64> {
        status.observed_generation
    }
    fn conditions(status: &OrganizationStatus) -> &[Condition] {
        &status.conditions.0
    }
    fn set_conditions(status: &mut OrganizationStatus, conditions: Vec<Condition>, generation: Option<i64>) {
        status.conditions = Conditions(conditions);
        status.observed_generation = generation;
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy
    }

    async fn reconcile(
        &self,
        store: &Store,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
        _mail: &MailSettings,
    ) -> Result<Outcome, CoreError> {
        let desired = DesiredOrganization::new(owner, self.spec.clone(), deleting, flags);
        organization::reconcile(store, &desired, now).await
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

    fn status(&self) -> Option<&MembershipStatus> {
        self.status.as_ref()
    }
    fn observed_generation(status: &MembershipStatus) -> Option<i64> {
        status.observed_generation
    }
    fn conditions(status: &MembershipStatus) -> &[Condition] {
        &status.conditions.0
    }
    fn set_conditions(status: &mut MembershipStatus, conditions: Vec<Condition>, generation: Option<i64>) {
        // InvitationDelivered is set by `absorb`, after Ready and Synced; keep it.
        let delivered: Vec<Condition> =
            status.conditions.0.iter().filter(|c| c.type_ == INVITATION_DELIVERED).cloned().collect();
        let mut all: Vec<Condition> = conditions.into_iter().filter(|c| c.type_ != INVITATION_DELIVERED).collect();
        all.extend(delivered);
        status.conditions = Conditions(all);
        status.observed_generation = generation;
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy
    }

    async fn reconcile(
        &self,
        store: &Store,
        owner: Owner,
        deleting: bool,
        flags: Flags,
        now: Timestamp,
        mail: &MailSettings,
    ) -> Result<Outcome, CoreError> {
        let desired = DesiredMembership::new(owner, self.spec.clone(), deleting, flags);
        membership::reconcile(store, &desired, now, mail).await
    }

    fn absorb(status: &mut MembershipStatus, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.membership.as_deref() else { return };
        let previous = status.conditions.0.clone();
        facts.fill(status);
        if let Some(invitation) = &facts.invitation {
            let (condition, reason, message) = invitation.delivered();
            let generation = status.observed_generation;
            set_condition(
                &mut status.conditions.0,
                &previous,
                INVITATION_DELIVERED,
                condition,
                reason,
                message,
                generation,
                now,
            );
        }
    }
}

/// Whether the object's current generation still waits for a reconcile.
pub fn pending<K: Managed>(obj: &K) -> bool {
    let observed = obj.status().and_then(K::observed_generation);
    obj.meta().deletion_timestamp.is_none() && observed != obj.meta().generation
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
    }
}
