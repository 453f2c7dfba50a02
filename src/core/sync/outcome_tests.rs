//! What a shell reports for the facts of a sync.

use crate::api::Reason;
use std::time::Duration;

use jiff::Timestamp;

use super::{SyncFacts, SyncReason};
use crate::api::provisioning_sync::SyncStatus;
use crate::core::Action;
use crate::scim::ScimError;

/// The reason named `text`; a SCIM category is the reason of a real [`ScimError`] of that
/// category, so whether it passes on its own comes from the error type.
fn reason_of(text: &'static str) -> SyncReason {
    match text {
        "AccountNotReady" => SyncReason::AccountNotReady,
        "Synchronized" => SyncReason::Synchronized,
        "DriftDetected" => SyncReason::DriftDetected,
        "OrderImmutable" => SyncReason::OrderImmutable,
        "NotFound" => SyncReason::NotFound,
        "Orphaned" => SyncReason::Orphaned,
        "Archived" => SyncReason::Archived,
        category => {
            let e = scim_error(category);
            assert_eq!(e.category(), category, "a SCIM error of category {category}");
            SyncReason::external(&e)
        }
    }
}

fn scim_error(category: &str) -> ScimError {
    let (method, path) = ("PUT", "/Users/1".to_owned());
    let status =
        |status| ScimError::Status { method, path: path.clone(), status, scim_type: None, detail: String::new() };
    match category {
        "Unauthorized" => status(401),
        "NotFound" => status(404),
        "RateLimited" => status(429),
        "ServerError" => status(503),
        "Unreachable" => ScimError::Transport { method, path, reason: "refused".to_owned() },
        "Timeout" => ScimError::Timeout { method, path, after: Duration::from_secs(1) },
        "CircuitOpen" => ScimError::CircuitOpen {
            endpoint: "https://scim.example".to_owned(),
            failures: 5,
            retry_in: Duration::ZERO,
        },
        _ => ScimError::Config(category.to_owned()),
    }
}

fn facts(sync_status: SyncStatus, reason: &'static str) -> SyncFacts {
    SyncFacts {
        sync_status,
        sync_id: Some("psync-1".to_owned()),
        reason: reason_of(reason),
        message: "m".to_owned(),
        ..SyncFacts::new("0".repeat(64))
    }
}

fn now() -> Timestamp {
    "2026-11-22T12:00:00Z".parse().expect("timestamp")
}

const RESYNC: Duration = Duration::from_secs(600);

#[test]
fn a_synchronized_sync_is_ready_and_updated_only_when_it_wrote() {
    let quiet = facts(SyncStatus::Synchronized, "Synchronized").into_outcome(false, RESYNC, now());
    assert_eq!(quiet.action, Action::Unchanged);
    assert!(quiet.is_ready());
    assert_eq!(quiet.requeue_at, Some(now() + jiff::SignedDuration::from_secs(600)));
    let mut ordered = facts(SyncStatus::Synchronized, "Synchronized");
    ordered.executed = vec!["starter".to_owned()];
    ordered.drift_corrections = 2;
    let outcome = ordered.into_outcome(false, RESYNC, now());
    assert_eq!(outcome.action, Action::Updated);
    let fields: Vec<&str> = outcome.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["orders[starter]", "externalSystem"]);
}

#[test]
fn errors_holds_and_waits_are_not_ready_and_say_why() {
    let waiting = facts(SyncStatus::UnSynchronized, "AccountNotReady").into_outcome(false, RESYNC, now());
    assert_eq!((waiting.action, waiting.reason), (Action::Waiting, Reason::AccountNotReady));
    let created = SyncFacts { created: true, ..facts(SyncStatus::Synchronized, "Synchronized") };
    assert_eq!(created.into_outcome(false, RESYNC, now()).action, Action::Created, "a new record");
    let unauthorized = facts(SyncStatus::Error, "Unauthorized");
    assert!(!unauthorized.waits_for_external_system(), "someone must fix the credentials");
    for transient in ["Unreachable", "Timeout", "CircuitOpen", "ServerError", "RateLimited"] {
        assert!(facts(SyncStatus::Error, transient).waits_for_external_system(), "{transient}");
    }
    assert!(!facts(SyncStatus::Synchronized, "Synchronized").waits_for_external_system());
    // A 404 from a replace or patch is the system's answer, not the import-missing NotFound.
    let gone = facts(SyncStatus::Error, "NotFound");
    let gone = SyncFacts { reason: SyncReason::external(&scim_error("NotFound")), ..gone };
    assert!(!gone.waits_for_external_system());
    let o = gone.into_outcome(false, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::ExternalError, Reason::NotFound));
    let failed = unauthorized.into_outcome(false, RESYNC, now());
    assert_eq!((failed.action, failed.reason), (Action::ExternalError, Reason::Unauthorized));
    let conditions = failed.conditions(&[], Some(1), now());
    let status = |t: &str| conditions.iter().find(|c| c.type_ == t).map(|c| c.status);
    assert_eq!(status("Ready"), Some(crate::api::ConditionStatus::False), "{conditions:?}");
    assert_eq!(status("Synced"), Some(crate::api::ConditionStatus::False), "{conditions:?}");
    assert_eq!(status("Stalled"), Some(crate::api::ConditionStatus::True), "refused credentials need the user");
    assert_eq!(failed.event(false).map(|e| (e.reason, e.warning)), Some(("Unauthorized", true)));
    assert!(!failed.is_ready());
    let mut held = facts(SyncStatus::Synchronized, "OrderImmutable");
    held.order_hold = Some("order starter already executed".to_owned());
    let held = held.into_outcome(false, RESYNC, now());
    assert_eq!((held.action, held.reason), (Action::Conflict, Reason::OrderImmutable));
    assert_eq!(held.message, "order starter already executed");
}

#[test]
fn deletion_finishes_as_archived_or_orphaned_and_otherwise_waits() {
    let mut archived = facts(SyncStatus::UnSynchronized, "Archived");
    archived.deletion_finished = true;
    assert_eq!(archived.into_outcome(true, RESYNC, now()).action, Action::Archived);
    let mut orphaned = facts(SyncStatus::UnSynchronized, "Orphaned");
    orphaned.deletion_finished = true;
    assert_eq!(orphaned.into_outcome(true, RESYNC, now()).action, Action::Orphaned);
    let blocked = facts(SyncStatus::Error, "Unreachable").into_outcome(true, RESYNC, now());
    assert_eq!((blocked.action, blocked.requeue_at), (Action::DeletionBlocked, None));
}

#[test]
fn observe_only_reports_differences_or_a_missing_record_and_corrects_nothing() {
    let mut differs = facts(SyncStatus::UnSynchronized, "DriftDetected");
    differs.observed_only = Some(vec![("users[ann@example.com]".to_owned(), "displayName".to_owned())]);
    let o = differs.into_outcome(false, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::DriftDetected, Reason::DriftDetected));
    assert!(!o.is_ready());
    assert_eq!(o.changes[0].field, "externalSystem.users[ann@example.com]");
    let mut same = facts(SyncStatus::Synchronized, "Synchronized");
    same.observed_only = Some(Vec::new());
    assert_eq!(same.into_outcome(false, RESYNC, now()).action, Action::Unchanged);
    let mut none = facts(SyncStatus::UnSynchronized, "NotFound");
    none.observed_only = Some(Vec::new());
    none.sync_id = None;
    assert_eq!(none.into_outcome(false, RESYNC, now()).action, Action::NotFound);
    // A read that failed is an external error, observe-only or not.
    let failed = facts(SyncStatus::Error, "Unreachable");
    assert_eq!(failed.into_outcome(false, RESYNC, now()).action, Action::ExternalError);
}
