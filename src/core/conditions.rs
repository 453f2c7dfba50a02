//! `Ready` and `Synced` in the Crossplane convention, computed from an outcome or an error.
//!
//! * `Ready`: the platform row is there, owned by this object and current. `True` with
//!   reason `Available`; `False` with the reason that stops it (`AccountNotReady`,
//!   `HasOrganizations`, `OwnedElsewhere`, `DriftDetected`, `Deleting`, …); `Unknown` when the
//!   database could not be asked.
//! * `Synced`: the last reconcile succeeded (`ReconcileSuccess`), or why not (the error's
//!   reason and message, `Paused`, or the reason of an outcome only the user can resolve).
//!
//! `lastTransitionTime` moves only when a condition's status changes, and every field is a
//! function of the outcome, so a steady state computes the same list and needs no write.
//! Conditions of other types in `previous` are kept as they are.

use jiff::Timestamp;

use super::error::CoreError;
use super::flags::PAUSED_ANNOTATION;
use super::outcome::Outcome;
use crate::api::{Condition, ConditionStatus};

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";

pub const REASON_AVAILABLE: &str = "Available";
pub const REASON_DELETING: &str = "Deleting";
pub const REASON_RECONCILE_SUCCESS: &str = "ReconcileSuccess";
pub const REASON_PAUSED: &str = "Paused";

/// A condition before timestamps and generation are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Next {
    type_: &'static str,
    status: ConditionStatus,
    reason: &'static str,
    message: String,
}

impl Outcome {
    /// `Ready` and `Synced` for this outcome, merged into `previous`.
    pub fn conditions(&self, previous: &[Condition], generation: Option<i64>, now: Timestamp) -> Vec<Condition> {
        let ready = Next {
            type_: READY,
            status: if self.is_ready() { ConditionStatus::True } else { ConditionStatus::False },
            reason: self.reason,
            message: self.message.clone(),
        };
        let synced = if self.action.needs_user() {
            Next { type_: SYNCED, status: ConditionStatus::False, reason: self.reason, message: self.message.clone() }
        } else {
            Next {
                type_: SYNCED,
                status: ConditionStatus::True,
                reason: REASON_RECONCILE_SUCCESS,
                message: String::new(),
            }
        };
        merge(previous, [Some(ready), Some(synced)], generation, now)
    }
}

/// The conditions after a failed reconcile: `Synced=False` with the error, and `Ready`
/// `Unknown` (transient: the database could not be asked) or `False` (permanent), never
/// left `True` while reconciles fail.
pub fn error_conditions(
    err: &CoreError,
    previous: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let message = err.chain();
    let ready_status = if err.is_transient() { ConditionStatus::Unknown } else { ConditionStatus::False };
    let ready = Next { type_: READY, status: ready_status, reason: err.reason(), message: message.clone() };
    let synced = Next { type_: SYNCED, status: ConditionStatus::False, reason: err.reason(), message };
    merge(previous, [Some(ready), Some(synced)], generation, now)
}

/// The conditions of a paused object: `Synced=False`, reason `Paused`; `Ready` stays what it
/// was (it was not looked at), or `Unknown` when there was none.
pub fn paused_conditions(previous: &[Condition], generation: Option<i64>, now: Timestamp) -> Vec<Condition> {
    let synced = Next {
        type_: SYNCED,
        status: ConditionStatus::False,
        reason: REASON_PAUSED,
        message: format!("reconciliation is paused by the annotation {PAUSED_ANNOTATION}"),
    };
    let ready = previous.iter().all(|c| c.type_ != READY).then(|| Next {
        type_: READY,
        status: ConditionStatus::Unknown,
        reason: REASON_PAUSED,
        message: "not reconciled yet: paused".to_owned(),
    });
    merge(previous, [ready, Some(synced)], generation, now)
}

/// Sets one more condition type (e.g. `InvitationDelivered`) in `conditions`, keeping its
/// `lastTransitionTime` from `previous` while its status stays the same.
#[allow(clippy::too_many_arguments)]
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    previous: &[Condition],
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) {
    let last_transition_time = match previous.iter().find(|c| c.type_ == type_) {
        Some(b) if b.status == status => b.last_transition_time.clone(),
        _ => transition_time(now),
    };
    let condition = Condition {
        type_: type_.to_owned(),
        status,
        reason: reason.to_owned(),
        message,
        last_transition_time,
        observed_generation: generation,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
}

/// `metav1.Time` text: RFC 3339, whole seconds, UTC.
fn transition_time(now: Timestamp) -> String {
    Timestamp::from_second(now.as_second()).unwrap_or(now).to_string()
}

/// Ready and Synced first (when given or present before), then the other types as they were.
fn merge(previous: &[Condition], next: [Option<Next>; 2], generation: Option<i64>, now: Timestamp) -> Vec<Condition> {
    let mut out = Vec::with_capacity(previous.len() + 2);
    for type_ in [READY, SYNCED] {
        let before = previous.iter().find(|c| c.type_ == type_);
        match next.iter().flatten().find(|n| n.type_ == type_) {
            Some(n) => {
                let last_transition_time = match before {
                    Some(b) if b.status == n.status => b.last_transition_time.clone(),
                    _ => transition_time(now),
                };
                out.push(Condition {
                    type_: n.type_.to_owned(),
                    status: n.status,
                    reason: n.reason.to_owned(),
                    message: n.message.clone(),
                    last_transition_time,
                    observed_generation: generation,
                });
            }
            None => out.extend(before.cloned()),
        }
    }
    out.extend(previous.iter().filter(|c| c.type_ != READY && c.type_ != SYNCED).cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::outcome::{Action, Kind};
    use crate::store::StoreError;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    #[test]
    fn an_extra_condition_keeps_its_transition_time_while_its_status_holds() {
        let t0 = at("2026-01-01T00:00:00Z");
        let t1 = at("2026-01-02T00:00:00Z");
        let mut first = Vec::new();
        set_condition(
            &mut first,
            &[],
            "InvitationDelivered",
            ConditionStatus::False,
            "Pending",
            "queued".into(),
            Some(1),
            t0,
        );
        let mut second = first.clone();
        set_condition(
            &mut second,
            &first,
            "InvitationDelivered",
            ConditionStatus::False,
            "Retrying",
            "again".into(),
            Some(1),
            t1,
        );
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].last_transition_time, first[0].last_transition_time);
        assert_eq!(second[0].reason, "Retrying");
        let mut third = second.clone();
        set_condition(
            &mut third,
            &second,
            "InvitationDelivered",
            ConditionStatus::True,
            "Delivered",
            "ok".into(),
            Some(2),
            t1,
        );
        assert_eq!(third[0].last_transition_time, "2026-01-02T00:00:00Z");
        assert_eq!(third[0].observed_generation, Some(2));
    }

    fn outcome(action: Action, reason: &'static str) -> Outcome {
        Outcome {
            kind: Kind::Account,
            action,
            id: Some("acct-1".to_owned()),
            account_id: Some("acct-1".to_owned()),
            changes: vec![],
            children: None,
            reason,
            message: format!("{reason} message"),
            requeue_at: None,
            membership: None,
            tenant_link: None,
            provisioning: None,
        }
    }

    fn get<'a>(conditions: &'a [Condition], type_: &str) -> &'a Condition {
        conditions.iter().find(|c| c.type_ == type_).expect("condition present")
    }

    #[test]
    fn ready_outcome_is_ready_and_synced() {
        let now = at("2025-03-01T09:30:00.123456Z");
        let c = outcome(Action::Created, REASON_AVAILABLE).conditions(&[], Some(3), now);
        assert_eq!(c.len(), 2);
        let ready = get(&c, READY);
        assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::True, "Available"));
        assert_eq!(ready.last_transition_time, "2025-03-01T09:30:00Z");
        assert_eq!(ready.observed_generation, Some(3));
        let synced = get(&c, SYNCED);
        assert_eq!((synced.status, synced.reason.as_str()), (ConditionStatus::True, "ReconcileSuccess"));
    }

    #[test]
    fn transition_time_is_kept_while_status_holds_and_moves_when_it_flips() {
        let t0 = at("2025-03-01T09:30:00Z");
        let t1 = at("2025-03-01T10:00:00Z");
        let first = outcome(Action::Created, REASON_AVAILABLE).conditions(&[], Some(1), t0);
        let again = outcome(Action::Unchanged, REASON_AVAILABLE).conditions(&first, Some(1), t1);
        assert_eq!(first, again, "steady state computes identical conditions");
        let blocked = outcome(Action::DeletionBlocked, "HasOrganizations").conditions(&again, Some(2), t1);
        let ready = get(&blocked, READY);
        assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::False, "HasOrganizations"));
        assert_eq!(ready.last_transition_time, "2025-03-01T10:00:00Z");
        let synced = get(&blocked, SYNCED);
        assert_eq!(synced.status, ConditionStatus::True, "a blocked deletion is a successful reconcile");
        assert_eq!(synced.last_transition_time, "2025-03-01T09:30:00Z");
        assert_eq!(synced.observed_generation, Some(2));
    }

    #[test]
    fn outcomes_only_the_user_can_resolve_are_not_synced() {
        let c = outcome(Action::Conflict, "OwnedElsewhere").conditions(&[], None, at("2025-03-01T09:30:00Z"));
        for type_ in [READY, SYNCED] {
            let cond = get(&c, type_);
            assert_eq!((cond.status, cond.reason.as_str()), (ConditionStatus::False, "OwnedElsewhere"));
            assert_eq!(cond.message, "OwnedElsewhere message");
        }
    }

    #[test]
    fn errors_never_leave_ready_true() {
        let t0 = at("2025-03-01T09:30:00Z");
        let ok = outcome(Action::Unchanged, REASON_AVAILABLE).conditions(&[], Some(1), t0);
        let down =
            CoreError::from(StoreError::Connect { url: "postgres://db".to_owned(), source: sqlx::Error::PoolTimedOut });
        let c = error_conditions(&down, &ok, Some(1), at("2025-03-01T09:31:00Z"));
        let ready = get(&c, READY);
        assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::Unknown, "DatabaseUnavailable"));
        let synced = get(&c, SYNCED);
        assert_eq!((synced.status, synced.reason.as_str()), (ConditionStatus::False, "DatabaseUnavailable"));
        assert!(synced.message.contains("cannot connect"), "{}", synced.message);
        assert_eq!(synced.last_transition_time, "2025-03-01T09:31:00Z");

        let bad = CoreError::InvalidAnnotation { name: "accountops.dev/adopt".to_owned(), reason: "no".to_owned() };
        assert_eq!(get(&error_conditions(&bad, &ok, Some(1), t0), READY).status, ConditionStatus::False);
    }

    #[test]
    fn pause_keeps_ready_and_other_conditions() {
        let t0 = at("2025-03-01T09:30:00Z");
        let mut before = outcome(Action::Unchanged, REASON_AVAILABLE).conditions(&[], Some(1), t0);
        before.push(Condition {
            type_: "InvitationDelivered".to_owned(),
            status: ConditionStatus::True,
            reason: "Sent".to_owned(),
            message: String::new(),
            last_transition_time: "2025-01-01T00:00:00Z".to_owned(),
            observed_generation: Some(1),
        });
        let c = paused_conditions(&before, Some(2), at("2025-03-02T00:00:00Z"));
        assert_eq!(get(&c, READY), get(&before, READY));
        let synced = get(&c, SYNCED);
        assert_eq!((synced.status, synced.reason.as_str()), (ConditionStatus::False, "Paused"));
        assert_eq!(c[2].type_, "InvitationDelivered");
        let fresh = paused_conditions(&[], None, t0);
        assert_eq!(get(&fresh, READY).status, ConditionStatus::Unknown);
    }
}
