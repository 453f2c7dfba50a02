//! A kind's status as a pure function of what a reconcile found, the same in both shells:
//!
//! ```text
//!  previous status ─┐
//!  Outcome ─────────┼─► KindStatus::next ─► new status ─► operator: server-side apply on /status
//!  generation, now ─┘     │                              local:    `-o json` ("status")
//!                         ├─ Ready, Synced, Stalled, Reconciling (conditions.rs)
//!                         └─ the kind's own fields and conditions (absorb, one file per kind)
//!  previous + Failure ────► KindStatus::failed   (Synced=False, Ready Unknown/False)
//!  previous ──────────────► KindStatus::paused   (Synced=False/ReconcilePaused, generation kept)
//! ```
//!
//! Nothing here does I/O: the operator adds only what needs Kubernetes or another query after
//! the run (an Organization's provider-code Secret and link summary, `Managed::enrich`).
//! Each kind's own condition types and their reasons live in that kind's file.

mod account;
mod membership;
mod organization;
mod sync;
mod tenant_link;

#[cfg(test)]
mod tests;

use jiff::Timestamp;

pub use membership::INVITATION_DELIVERED;
pub use sync::ORDERS_EXECUTED;
pub use tenant_link::ACCEPTED;

use super::conditions::{error_conditions, paused_conditions, set_condition};
use super::error::Failure;
use super::outcome::{Kind, Outcome};
use crate::api::{
    AccountStatus, Condition, ConditionStatus, Conditions, MembershipStatus, OrganizationStatus,
    ProvisioningSyncStatus, Reason, TenantLinkStatus,
};

/// At most this many platform IDs are listed in a status; counts carry the rest.
const LISTED_IDS: usize = 50;

/// A kind's status, computed from the previous one and a reconcile's result.
pub trait KindStatus: Clone + Default + PartialEq {
    /// Condition types the kind sets itself in [`KindStatus::absorb`] (after Ready and Synced);
    /// an error or a pause leaves them as they are.
    const OWN_CONDITIONS: &'static [&'static str] = &[];

    fn conditions(&self) -> &[Condition];
    fn observed_generation(&self) -> Option<i64>;
    /// Replace the conditions and the observed generation.
    fn put_conditions(&mut self, conditions: Conditions, generation: Option<i64>);

    /// The kind's own fields and conditions for an outcome (the common conditions are set).
    fn absorb(&mut self, outcome: &Outcome, now: Timestamp);

    /// The status after a successful reconcile.
    fn next(previous: &Self, outcome: &Outcome, generation: Option<i64>, now: Timestamp) -> Self {
        let mut status =
            with_conditions(previous, outcome.conditions(previous.conditions(), generation, now), generation);
        status.absorb(outcome, now);
        status
    }

    /// The status after a failed reconcile: the kind's fields stay what they were.
    fn failed(previous: &Self, failure: &Failure, generation: Option<i64>, now: Timestamp) -> Self {
        with_conditions(previous, error_conditions(failure, previous.conditions(), generation, now), generation)
    }

    /// The status of a paused object: not reconciled, so the generation observed stays the one
    /// the status had (kstatus then shows an edit made while paused as in progress).
    fn paused(previous: &Self, now: Timestamp) -> Self {
        let observed = previous.observed_generation();
        with_conditions(previous, paused_conditions(previous.conditions(), observed, now), observed)
    }
}

/// The accessors every status has the same way.
macro_rules! condition_accessors {
    () => {
        fn conditions(&self) -> &[crate::api::Condition] {
            &self.conditions.0
        }
        fn observed_generation(&self) -> Option<i64> {
            self.observed_generation
        }
        fn put_conditions(&mut self, conditions: crate::api::Conditions, generation: Option<i64>) {
            self.conditions = conditions;
            self.observed_generation = generation;
        }
    };
}
use condition_accessors;

/// `previous` with the common `conditions` and `generation`; the kind's own conditions stay.
fn with_conditions<S: KindStatus>(previous: &S, conditions: Vec<Condition>, generation: Option<i64>) -> S {
    let mut status = previous.clone();
    status.put_conditions(merge_own(previous.conditions(), conditions, S::OWN_CONDITIONS), generation);
    status
}

/// `next` (Ready, Synced and the rest), except the `own` types, which stay as `current` has them.
fn merge_own(current: &[Condition], next: Vec<Condition>, own: &[&str]) -> Conditions {
    let mut all: Vec<Condition> = next.into_iter().filter(|c| !own.contains(&c.type_.as_str())).collect();
    all.extend(current.iter().filter(|c| own.contains(&c.type_.as_str())).cloned());
    Conditions(all)
}

/// Set a kind's own condition `type_` to `(status, reason, message)`, keeping its transition
/// time when the status did not change.
fn put_condition(
    conditions: &mut Conditions,
    type_: &str,
    (status, reason, message): (ConditionStatus, Reason, String),
    generation: Option<i64>,
    now: Timestamp,
) {
    let previous = conditions.0.clone();
    set_condition(&mut conditions.0, &previous, type_, status, reason, message, generation, now);
}

fn listed(ids: &[String]) -> Vec<String> {
    ids.iter().take(LISTED_IDS).cloned().collect()
}

fn count(n: u64) -> Option<i32> {
    Some(i32::try_from(n).unwrap_or(i32::MAX))
}

/// What became of an object in a local run, for the status it shows.
#[derive(Debug, Clone, Copy)]
pub enum Ran<'a> {
    Done(&'a Outcome),
    Failed(&'a Failure),
    Paused,
}

/// The status a run gives an object that had none, as JSON (local mode's `-o json`): the very
/// functions the operator applies, with no previous status and no generation.
pub fn first_status_json(kind: Kind, ran: Ran<'_>, now: Timestamp) -> serde_json::Value {
    fn of<S: KindStatus + serde::Serialize>(ran: Ran<'_>, now: Timestamp) -> serde_json::Value {
        let none = S::default();
        let status = match ran {
            Ran::Done(outcome) => S::next(&none, outcome, None, now),
            Ran::Failed(failure) => S::failed(&none, failure, None, now),
            Ran::Paused => S::paused(&none, now),
        };
        serde_json::to_value(status).unwrap_or_default()
    }
    match kind {
        Kind::Account => of::<AccountStatus>(ran, now),
        Kind::Organization => of::<OrganizationStatus>(ran, now),
        Kind::Membership => of::<MembershipStatus>(ran, now),
        Kind::TenantLink => of::<TenantLinkStatus>(ran, now),
        Kind::ProvisioningSync => of::<ProvisioningSyncStatus>(ran, now),
    }
}
