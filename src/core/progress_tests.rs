//! Every action, membership phase, delivery state, link phase and SCIM failure placed as kstatus
//! reads it.

use super::*;
use crate::api::Reason;
use crate::core::fixtures::{at, now, outcome};
use crate::core::membership::InvitationFacts;
use crate::core::outcome::Kind;
use crate::core::sync::SyncFacts;
use crate::store::StoreError;

fn reconciling(reason: &'static str) -> Progress {
    let reason = Reason::parse(reason).expect("a reason");
    Progress::Reconciling { reason, message: format!("{reason} message") }
}

fn stalled(reason: &'static str) -> Progress {
    let reason = Reason::parse(reason).expect("a reason");
    Progress::Stalled { reason, message: format!("{reason} message") }
}

#[test]
fn every_action_is_current_reconciling_or_stalled() {
    let cases = [
        (Action::Created, Progress::Current),
        (Action::Updated, Progress::Current),
        (Action::Unchanged, Progress::Current),
        (Action::Adopted, Progress::Current),
        (Action::Imported, Progress::Current),
        (Action::Archived, Progress::Current),
        (Action::Orphaned, Progress::Current),
        (Action::Gone, Progress::Current),
        (Action::Waiting, reconciling("Conflict")),
        (Action::DeletionBlocked, reconciling("Conflict")),
        (Action::Conflict, stalled("Conflict")),
        (Action::AdoptionRequired, stalled("Conflict")),
        (Action::NotFound, stalled("Conflict")),
        (Action::DriftDetected, stalled("Conflict")),
        // Without sync facts nothing says the failure passes by itself.
        (Action::ExternalError, stalled("Conflict")),
    ];
    for (action, expected) in cases {
        assert_eq!(outcome(action, Reason::Conflict).progress(), expected, "{action}");
    }
}

#[test]
fn every_action_that_needs_the_user_stalls_unless_the_external_system_only_is_down() {
    for action in [Action::Conflict, Action::AdoptionRequired, Action::NotFound, Action::ExternalError] {
        assert!(action.needs_user());
        assert!(matches!(outcome(action, Reason::Conflict).progress(), Progress::Stalled { .. }), "{action}");
    }
}

fn sync_failure(category: &'static str, transient: bool) -> Outcome {
    let facts = SyncFacts {
        sync_status: crate::api::SyncStatus::Error,
        reason: SyncReason::External { category: Reason::parse(category).expect("a SCIM reason"), transient },
        message: format!("{category} message"),
        ..SyncFacts::new(String::new())
    };
    facts.into_outcome(false, std::time::Duration::from_secs(60), now())
}

#[test]
fn a_scim_system_that_refuses_stalls_and_one_that_is_down_is_retried() {
    let refused = sync_failure("Unauthorized", false);
    assert_eq!(refused.action, Action::ExternalError);
    assert_eq!(refused.progress(), stalled("Unauthorized"));
    for category in ["Unreachable", "Timeout", "ServerError", "RateLimited", "CircuitOpen"] {
        assert_eq!(sync_failure(category, true).progress(), reconciling(category), "{category}");
    }
    let held = SyncFacts {
        sync_status: crate::api::SyncStatus::Synchronized,
        reason: SyncReason::OrderImmutable,
        order_hold: Some("OrderImmutable message".to_owned()),
        ..SyncFacts::new(String::new())
    };
    assert_eq!(
        held.into_outcome(false, std::time::Duration::from_secs(60), now()).progress(),
        stalled("OrderImmutable")
    );
}

fn member(phase: MembershipPhase, delivery: Option<Delivery>) -> Outcome {
    let invitation = delivery.map(|delivery| InvitationFacts {
        expires_at: at("2025-03-08T09:30:00Z"),
        sent_at: Some(now()),
        attempts: 2,
        message_id: None,
        accepted_at: None,
        delivery,
    });
    let facts = MembershipFacts { phase, user_id: None, membership_id: None, invitation, milestone: None };
    Outcome {
        kind: Kind::Membership,
        facts: crate::core::facts::KindFacts::Membership(Box::new(facts)),
        ..outcome(Action::Unchanged, Reason::Available)
    }
}

#[test]
fn an_invitation_is_in_flight_until_its_mail_is_delivered() {
    let retrying = Delivery::Retrying { last_error: "421 busy".into(), next_attempt_at: at("2025-03-01T09:31:00Z") };
    let reason = |p: Progress| match p {
        Progress::Reconciling { reason, .. } => ("Reconciling", reason.as_str()),
        Progress::Stalled { reason, .. } => ("Stalled", reason.as_str()),
        Progress::Current => ("Current", ""),
    };
    let cases = [
        (MembershipPhase::Invited, Some(Delivery::Queued), ("Reconciling", "Pending")),
        (MembershipPhase::Invited, Some(retrying), ("Reconciling", "Retrying")),
        (MembershipPhase::Invited, Some(Delivery::Dead { last_error: "550".into() }), ("Stalled", "DeliveryFailed")),
        (MembershipPhase::Invited, Some(Delivery::Sent), ("Current", "")),
        (MembershipPhase::Invited, Some(Delivery::Unknown), ("Current", "")),
        (MembershipPhase::Invited, None, ("Current", "")),
        // Once accepted, an old mail's state no longer matters.
        (MembershipPhase::Active, Some(Delivery::Queued), ("Current", "")),
        (MembershipPhase::Revoked, None, ("Current", "")),
        (MembershipPhase::Pending, None, ("Reconciling", "Available")),
        (MembershipPhase::Expired, Some(Delivery::Sent), ("Stalled", "Available")),
        (MembershipPhase::Failed, Some(Delivery::Sent), ("Stalled", "Available")),
    ];
    for (phase, delivery, expected) in cases {
        let label = format!("{phase:?} {delivery:?}");
        assert_eq!(reason(member(phase, delivery).progress()), expected, "{label}");
    }
    match member(MembershipPhase::Invited, Some(Delivery::Dead { last_error: "550 no such user".into() })).progress() {
        Progress::Stalled { message, .. } => assert!(message.contains("550 no such user"), "{message}"),
        other => panic!("a dead mail stalls: {other:?}"),
    }
}

#[test]
fn a_link_waits_for_its_partner_and_stalls_once_refused() {
    let link = |phase| {
        let facts = TenantLinkFacts { phase, ..TenantLinkFacts::pending() };
        Outcome {
            kind: Kind::TenantLink,
            facts: crate::core::facts::KindFacts::TenantLink(Box::new(facts)),
            ..outcome(Action::Created, Reason::Conflict)
        }
    };
    assert_eq!(link(TenantLinkPhase::Active).progress(), Progress::Current);
    assert_eq!(link(TenantLinkPhase::Pending).progress(), reconciling("Conflict"));
    for phase in [TenantLinkPhase::Rejected, TenantLinkPhase::Expired, TenantLinkPhase::Revoked] {
        assert_eq!(link(phase).progress(), stalled("Conflict"), "{phase:?}");
    }
    // A refused code is a NotFound/Conflict outcome, whatever the facts say.
    let refused = Outcome { action: Action::NotFound, ..link(TenantLinkPhase::Pending) };
    assert_eq!(refused.progress(), stalled("Conflict"));
}

#[test]
fn transient_errors_are_retried_and_permanent_ones_stall() {
    let down =
        CoreError::from(StoreError::Connect { url: "postgres://db".to_owned(), source: sqlx::Error::PoolTimedOut });
    assert!(matches!(Progress::of_error(&down), Progress::Reconciling { reason: Reason::DatabaseUnavailable, .. }));
    let input = CoreError::Input { what: "Secret code".to_owned(), reason: "forbidden".to_owned() };
    assert!(matches!(Progress::of_error(&input), Progress::Reconciling { reason: Reason::InputUnavailable, .. }));
    let bad = CoreError::InvalidAnnotation { name: "accountops.dev/adopt".to_owned(), reason: "not a bool".to_owned() };
    match Progress::of_error(&bad) {
        Progress::Stalled { reason, message } => {
            assert_eq!(reason, "InvalidAnnotation");
            assert!(message.contains("accountops.dev/adopt"), "{message}");
        }
        other => panic!("a bad annotation stalls: {other:?}"),
    }
    let nul = CoreError::Unstorable { field: "spec.legalName".to_owned() };
    assert!(matches!(Progress::of_error(&nul), Progress::Stalled { reason: Reason::UnstorableValue, .. }));
}
