//! `Ready` and `Synced` in the Crossplane convention, `Stalled` and `Reconciling` in kstatus's,
//! computed from an outcome or an error.
//!
//! * `Ready`: the platform row is there, owned by this object and current. `True` with
//!   reason `Available`; `False` with the reason that stops it (`AccountNotReady`,
//!   `HasOrganizations`, `OwnedElsewhere`, `DriftDetected`, `Deleting`, …); `Unknown` when the
//!   database could not be asked.
//! * `Synced`: the last reconcile succeeded (`ReconcileSuccess`), or why not (the error's
//!   reason and message, `ReconcilePaused`, or the reason of an outcome only the user can
//!   resolve).
//! * `Stalled` / `Reconciling`: present, `True`, only while the object is stalled or work is
//!   in flight ([`Progress`]); removed once it converges, as kstatus expects of
//!   "abnormal-true" conditions.
//!
//! A paused object is not reconciled, so neither `status.observedGeneration` nor its
//! conditions' `observedGeneration` move: an edit made while paused shows as not yet observed
//! (kstatus: in progress) until the pause is lifted.
//!
//! `lastTransitionTime` moves only when a condition's status changes, and every field is a
//! function of the outcome, so a steady state computes the same list and needs no write.
//! Conditions of other types in `previous` are kept as they are.

use jiff::Timestamp;

use super::error::Failure;
use super::flags::PAUSED_ANNOTATION;
use super::outcome::Outcome;
use super::progress::Progress;
use crate::api::{Condition, ConditionStatus, Reason};

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";
/// kstatus: the object cannot make progress without a change by the user.
pub const STALLED: &str = "Stalled";
/// kstatus: the controller is working to reach the desired state.
pub const RECONCILING: &str = "Reconciling";

/// The condition types this module computes, in the order a status lists them.
const MANAGED: [&str; 4] = [READY, SYNCED, STALLED, RECONCILING];

/// A condition before timestamps and generation are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Next {
    type_: &'static str,
    status: ConditionStatus,
    reason: Reason,
    message: String,
}

/// What to do with one managed condition type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// Set it (keeping its transition time while its status holds).
    Set(Next),
    /// Leave it as `previous` has it (or absent).
    Keep,
    /// Remove it.
    Clear,
}

/// `Stalled` and `Reconciling` for a progress: the one that applies is set `True`, the other
/// removed.
fn progress_slots(progress: Progress) -> [Slot; 2] {
    let set = |type_, reason, message| Slot::Set(Next { type_, status: ConditionStatus::True, reason, message });
    match progress {
        Progress::Current => [Slot::Clear, Slot::Clear],
        Progress::Stalled { reason, message } => [set(STALLED, reason, message), Slot::Clear],
        Progress::Reconciling { reason, message } => [Slot::Clear, set(RECONCILING, reason, message)],
    }
}

impl Outcome {
    /// `Ready`, `Synced`, `Stalled` and `Reconciling` for this outcome, merged into `previous`.
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
                reason: Reason::ReconcileSuccess,
                message: String::new(),
            }
        };
        let [stalled, reconciling] = progress_slots(self.progress());
        merge(previous, [Slot::Set(ready), Slot::Set(synced), stalled, reconciling], generation, now)
    }
}

/// The conditions after a failed reconcile: `Synced=False` with the error, and `Ready`
/// `Unknown` (transient: the database could not be asked) or `False` (permanent), never
/// left `True` while reconciles fail; `Reconciling` while it is retried, `Stalled` when only
/// a change of the object helps.
pub fn error_conditions(
    failure: &Failure,
    previous: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let (reason, message) = (failure.reason, failure.message.clone());
    let ready_status = if failure.transient { ConditionStatus::Unknown } else { ConditionStatus::False };
    let ready = Next { type_: READY, status: ready_status, reason, message: message.clone() };
    let synced = Next { type_: SYNCED, status: ConditionStatus::False, reason, message };
    let [stalled, reconciling] = progress_slots(Progress::of_failure(failure));
    merge(previous, [Slot::Set(ready), Slot::Set(synced), stalled, reconciling], generation, now)
}

/// The conditions of a paused object: `Synced=False`, reason `ReconcilePaused`; `Ready` stays
/// what it was (it was not looked at), or `Unknown` when there was none; no `Stalled` or
/// `Reconciling` (the controller does nothing). `observed` is the generation the status
/// showed before (`status.observedGeneration`), not the object's: a paused object was not
/// reconciled, so nothing says its current generation was observed.
pub fn paused_conditions(previous: &[Condition], observed: Option<i64>, now: Timestamp) -> Vec<Condition> {
    let synced = Next {
        type_: SYNCED,
        status: ConditionStatus::False,
        reason: Reason::ReconcilePaused,
        message: format!("reconciliation is paused by the annotation {PAUSED_ANNOTATION}"),
    };
    let ready = match previous.iter().any(|c| c.type_ == READY) {
        true => Slot::Keep,
        false => Slot::Set(Next {
            type_: READY,
            status: ConditionStatus::Unknown,
            reason: Reason::ReconcilePaused,
            message: "not reconciled yet: paused".to_owned(),
        }),
    };
    merge(previous, [ready, Slot::Set(synced), Slot::Clear, Slot::Clear], observed, now)
}

/// Sets one more condition type (e.g. `InvitationDelivered`) in `conditions`, keeping its
/// `lastTransitionTime` from `previous` while its status stays the same.
#[allow(clippy::too_many_arguments)]
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    previous: &[Condition],
    type_: &str,
    status: ConditionStatus,
    reason: Reason,
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
        reason: reason.into(),
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

/// The managed types first (when set, or kept from `previous`), then the other types as they
/// were.
fn merge(previous: &[Condition], slots: [Slot; 4], generation: Option<i64>, now: Timestamp) -> Vec<Condition> {
    let mut out = Vec::with_capacity(previous.len() + 2);
    for (type_, slot) in MANAGED.into_iter().zip(slots) {
        let before = previous.iter().find(|c| c.type_ == type_);
        match slot {
            Slot::Set(n) => {
                let last_transition_time = match before {
                    Some(b) if b.status == n.status => b.last_transition_time.clone(),
                    _ => transition_time(now),
                };
                out.push(Condition {
                    type_: n.type_.to_owned(),
                    status: n.status,
                    reason: n.reason.into(),
                    message: n.message,
                    last_transition_time,
                    observed_generation: generation,
                });
            }
            Slot::Keep => out.extend(before.cloned()),
            Slot::Clear => {}
        }
    }
    out.extend(previous.iter().filter(|c| !MANAGED.contains(&c.type_.as_str())).cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::CoreError;
    use crate::core::fixtures::{at, outcome};
    use crate::core::outcome::Action;
    use crate::store::StoreError;

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
            Reason::Pending,
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
            Reason::Retrying,
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
            Reason::Delivered,
            "ok".into(),
            Some(2),
            t1,
        );
        assert_eq!(third[0].last_transition_time, "2026-01-02T00:00:00Z");
        assert_eq!(third[0].observed_generation, Some(2));
    }

    fn get<'a>(conditions: &'a [Condition], type_: &str) -> &'a Condition {
        conditions.iter().find(|c| c.type_ == type_).expect("condition present")
    }

    #[test]
    fn ready_outcome_is_ready_and_synced() {
        let now = at("2025-03-01T09:30:00.123456Z");
        let c = outcome(Action::Created, Reason::Available).conditions(&[], Some(3), now);
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
        let first = outcome(Action::Created, Reason::Available).conditions(&[], Some(1), t0);
        let again = outcome(Action::Unchanged, Reason::Available).conditions(&first, Some(1), t1);
        assert_eq!(first, again, "steady state computes identical conditions");
        let blocked = outcome(Action::DeletionBlocked, Reason::HasOrganizations).conditions(&again, Some(2), t1);
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
        let c = outcome(Action::Conflict, Reason::OwnedElsewhere).conditions(&[], None, at("2025-03-01T09:30:00Z"));
        for type_ in [READY, SYNCED] {
            let cond = get(&c, type_);
            assert_eq!((cond.status, cond.reason.as_str()), (ConditionStatus::False, "OwnedElsewhere"));
            assert_eq!(cond.message, "OwnedElsewhere message");
        }
    }

    #[test]
    fn errors_never_leave_ready_true() {
        let t0 = at("2025-03-01T09:30:00Z");
        let ok = outcome(Action::Unchanged, Reason::Available).conditions(&[], Some(1), t0);
        let down =
            CoreError::from(StoreError::Connect { url: "postgres://db".to_owned(), source: sqlx::Error::PoolTimedOut });
        let c = error_conditions(&down.failure(), &ok, Some(1), at("2025-03-01T09:31:00Z"));
        let ready = get(&c, READY);
        assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::Unknown, "DatabaseUnavailable"));
        let synced = get(&c, SYNCED);
        assert_eq!((synced.status, synced.reason.as_str()), (ConditionStatus::False, "DatabaseUnavailable"));
        assert!(synced.message.contains("cannot connect"), "{}", synced.message);
        assert_eq!(synced.last_transition_time, "2025-03-01T09:31:00Z");

        let bad = CoreError::InvalidAnnotation { name: "accountops.dev/adopt".to_owned(), reason: "no".to_owned() };
        assert_eq!(get(&error_conditions(&bad.failure(), &ok, Some(1), t0), READY).status, ConditionStatus::False);
    }

    #[test]
    fn pause_keeps_ready_and_other_conditions() {
        let t0 = at("2025-03-01T09:30:00Z");
        let mut before = outcome(Action::Unchanged, Reason::Available).conditions(&[], Some(1), t0);
        before.push(Condition {
            type_: "InvitationDelivered".to_owned(),
            status: ConditionStatus::True,
            reason: "Sent".to_owned(),
            message: String::new(),
            last_transition_time: "2025-01-01T00:00:00Z".to_owned(),
            observed_generation: Some(1),
        });
        // Generation 2 was never reconciled: the status still says it observed 1.
        let c = paused_conditions(&before, Some(1), at("2025-03-02T00:00:00Z"));
        assert_eq!(get(&c, READY), get(&before, READY));
        let synced = get(&c, SYNCED);
        assert_eq!((synced.status, synced.reason.as_str()), (ConditionStatus::False, "ReconcilePaused"));
        assert_eq!(synced.observed_generation, Some(1), "a paused object's generation is not observed");
        assert_eq!(c[2].type_, "InvitationDelivered");
        let fresh = paused_conditions(&[], None, t0);
        assert_eq!(get(&fresh, READY).status, ConditionStatus::Unknown);
        assert_eq!(get(&fresh, READY).observed_generation, None);
    }

    #[test]
    fn a_pause_clears_stalled_and_reconciling_and_repeats_without_a_write() {
        let t0 = at("2025-03-01T09:30:00Z");
        let stuck = outcome(Action::Conflict, Reason::OwnedElsewhere).conditions(&[], Some(1), t0);
        assert!(stuck.iter().any(|c| c.type_ == STALLED));
        let paused = paused_conditions(&stuck, Some(1), at("2025-03-01T10:00:00Z"));
        assert!(paused.iter().all(|c| c.type_ != STALLED && c.type_ != RECONCILING), "{paused:?}");
        let again = paused_conditions(&paused, Some(1), at("2025-03-01T11:00:00Z"));
        assert_eq!(paused, again, "a paused object's status is computed the same every time");
    }

    #[test]
    fn stalled_is_set_only_while_the_user_must_act() {
        let t0 = at("2025-03-01T09:30:00Z");
        let stuck = outcome(Action::Conflict, Reason::OwnedElsewhere).conditions(&[], Some(1), t0);
        let stalled = get(&stuck, STALLED);
        assert_eq!((stalled.status, stalled.reason.as_str()), (ConditionStatus::True, "OwnedElsewhere"));
        assert_eq!(
            (stalled.observed_generation, stalled.last_transition_time.as_str()),
            (Some(1), "2025-03-01T09:30:00Z")
        );
        assert!(stuck.iter().all(|c| c.type_ != RECONCILING));
        let still =
            outcome(Action::Conflict, Reason::OwnedElsewhere).conditions(&stuck, Some(1), at("2025-03-01T10:00:00Z"));
        assert_eq!(stuck, still, "steady state computes identical conditions");
        let fixed =
            outcome(Action::Imported, Reason::Available).conditions(&still, Some(2), at("2025-03-01T11:00:00Z"));
        assert_eq!(fixed.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>(), [READY, SYNCED]);
    }

    #[test]
    fn reconciling_is_set_while_waiting_and_removed_once_converged() {
        let t0 = at("2025-03-01T09:30:00Z");
        let waiting = outcome(Action::Waiting, Reason::AccountNotReady).conditions(&[], Some(1), t0);
        let reconciling = get(&waiting, RECONCILING);
        assert_eq!((reconciling.status, reconciling.reason.as_str()), (ConditionStatus::True, "AccountNotReady"));
        assert!(waiting.iter().all(|c| c.type_ != STALLED));
        assert_eq!(get(&waiting, SYNCED).status, ConditionStatus::True, "waiting is a successful reconcile");
        let later =
            outcome(Action::Waiting, Reason::AccountNotReady).conditions(&waiting, Some(1), at("2025-03-01T10:00:00Z"));
        assert_eq!(waiting, later, "steady state computes identical conditions");
        let done = outcome(Action::Created, Reason::Available).conditions(&later, Some(1), at("2025-03-01T10:01:00Z"));
        assert!(done.iter().all(|c| c.type_ != RECONCILING), "{done:?}");
        assert_eq!(get(&done, READY).last_transition_time, "2025-03-01T10:01:00Z");
    }

    #[test]
    fn errors_set_reconciling_when_retried_and_stalled_when_permanent() {
        let t0 = at("2025-03-01T09:30:00Z");
        let down =
            CoreError::from(StoreError::Connect { url: "postgres://db".to_owned(), source: sqlx::Error::PoolTimedOut });
        let retried = error_conditions(&down.failure(), &[], Some(1), t0);
        assert_eq!(get(&retried, RECONCILING).reason, "DatabaseUnavailable");
        assert!(retried.iter().all(|c| c.type_ != STALLED));
        let bad = CoreError::Unstorable { field: "spec.legalName".to_owned() };
        let permanent = error_conditions(&bad.failure(), &retried, Some(2), t0);
        let stalled = get(&permanent, STALLED);
        assert_eq!((stalled.status, stalled.reason.as_str()), (ConditionStatus::True, "UnstorableValue"));
        assert!(stalled.message.contains("spec.legalName"), "{}", stalled.message);
        assert!(permanent.iter().all(|c| c.type_ != RECONCILING));
    }
}
