//! The status functions per kind: a table of outcomes and the conditions and fields each
//! gives, transition times kept while a status holds, and generation handling.

use super::*;
use crate::api::Reason;
use crate::api::{AccountStatus, ConditionStatus, MembershipStatus, OrganizationStatus, TenantLinkStatus};
use crate::core::CoreError;
use crate::core::conditions::{READY, RECONCILING, STALLED, SYNCED};
use crate::core::facts::{KindFacts, OrganizationFacts};
use crate::core::fixtures::{at, outcome};
use crate::core::invitation::{Delivery, InvitationFacts};
use crate::core::membership::MembershipFacts;
use crate::core::organization::staff::{StaffEntry, StaffFacts, StaffReason};
use crate::core::tenant_link::TenantLinkFacts;
use crate::core::{Action, Children};
use crate::store::StoreError;

mod sync;

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-02T00:00:00Z";

/// `(type, status, reason)` of a condition.
type Line<'a> = (&'a str, ConditionStatus, &'a str);

/// `(type, status, reason)` of each condition, in order.
fn summary(conditions: &[Condition]) -> Vec<Line<'_>> {
    conditions.iter().map(|c| (c.type_.as_str(), c.status, c.reason.as_str())).collect()
}

fn get<'a>(conditions: &'a [Condition], type_: &str) -> &'a Condition {
    conditions.iter().find(|c| c.type_ == type_).unwrap_or_else(|| panic!("{type_} in {conditions:?}"))
}

fn of(kind: Kind, action: Action, reason: &'static str) -> Outcome {
    Outcome { kind, ..outcome(action, Reason::parse(reason).expect("a reason")) }
}

#[test]
fn every_action_gives_its_common_conditions() {
    use ConditionStatus::{False, True};
    let table: [(Action, &str, Vec<Line>); 9] = [
        (Action::Created, "Available", vec![(READY, True, "Available"), (SYNCED, True, "ReconcileSuccess")]),
        (Action::Unchanged, "Available", vec![(READY, True, "Available"), (SYNCED, True, "ReconcileSuccess")]),
        (Action::Imported, "Available", vec![(READY, True, "Available"), (SYNCED, True, "ReconcileSuccess")]),
        (
            Action::Waiting,
            "AccountNotReady",
            vec![
                (READY, False, "AccountNotReady"),
                (SYNCED, True, "ReconcileSuccess"),
                (RECONCILING, True, "AccountNotReady"),
            ],
        ),
        (
            Action::Conflict,
            "OwnedElsewhere",
            vec![
                (READY, False, "OwnedElsewhere"),
                (SYNCED, False, "OwnedElsewhere"),
                (STALLED, True, "OwnedElsewhere"),
            ],
        ),
        (
            Action::AdoptionRequired,
            "AdoptionRequired",
            vec![
                (READY, False, "AdoptionRequired"),
                (SYNCED, False, "AdoptionRequired"),
                (STALLED, True, "AdoptionRequired"),
            ],
        ),
        (
            Action::NotFound,
            "NotFound",
            vec![(READY, False, "NotFound"), (SYNCED, False, "NotFound"), (STALLED, True, "NotFound")],
        ),
        (
            Action::DriftDetected,
            "DriftDetected",
            vec![(READY, False, "DriftDetected"), (SYNCED, True, "ReconcileSuccess"), (STALLED, True, "DriftDetected")],
        ),
        (
            Action::DeletionBlocked,
            "HasOrganizations",
            vec![
                (READY, False, "HasOrganizations"),
                (SYNCED, True, "ReconcileSuccess"),
                (RECONCILING, True, "HasOrganizations"),
            ],
        ),
    ];
    for (action, reason, expected) in table {
        let status = AccountStatus::next(
            &AccountStatus::default(),
            &outcome(action, Reason::parse(reason).expect("a reason")),
            Some(4),
            at(T0),
        );
        assert_eq!(summary(&status.conditions.0), expected, "{action}");
        assert_eq!(status.observed_generation, Some(4), "{action}");
        assert!(status.conditions.0.iter().all(|c| c.observed_generation == Some(4)), "{action}");
    }
}

#[test]
fn a_steady_state_computes_the_same_status_and_a_flip_moves_only_its_condition() {
    let first =
        AccountStatus::next(&AccountStatus::default(), &outcome(Action::Created, Reason::Available), Some(1), at(T0));
    let again = AccountStatus::next(&first, &outcome(Action::Unchanged, Reason::Available), Some(1), at(T1));
    assert_eq!(first, again, "nothing to write in a steady state");
    let blocked =
        AccountStatus::next(&again, &outcome(Action::DeletionBlocked, Reason::HasOrganizations), Some(1), at(T1));
    assert_eq!(get(&blocked.conditions.0, READY).last_transition_time, T1);
    assert_eq!(get(&blocked.conditions.0, SYNCED).last_transition_time, T0, "Synced stayed True");
}

#[test]
fn the_generation_is_the_objects_after_a_run_and_the_old_one_while_paused() {
    let ran =
        AccountStatus::next(&AccountStatus::default(), &outcome(Action::Created, Reason::Available), Some(2), at(T0));
    let paused = AccountStatus::paused(&ran, at(T1));
    assert_eq!(paused.observed_generation, Some(2), "a paused edit is not observed");
    assert_eq!(get(&paused.conditions.0, READY), get(&ran.conditions.0, READY), "Ready was not looked at");
    assert_eq!(get(&paused.conditions.0, SYNCED).reason, "ReconcilePaused");
    assert_eq!(paused.account_id, ran.account_id, "fields stay");
    assert_eq!(AccountStatus::paused(&paused, at(T1)), paused, "a pause repeats without a write");
    let fresh = AccountStatus::paused(&AccountStatus::default(), at(T0));
    assert_eq!((fresh.observed_generation, get(&fresh.conditions.0, READY).status), (None, ConditionStatus::Unknown));
    let resumed = AccountStatus::next(&paused, &outcome(Action::Updated, Reason::Available), Some(3), at(T1));
    assert_eq!(resumed.observed_generation, Some(3));
    assert_eq!(get(&resumed.conditions.0, SYNCED).observed_generation, Some(3));
}

#[test]
fn an_error_sets_synced_false_and_keeps_the_fields_and_the_kinds_own_conditions() {
    let ran = MembershipStatus::next(&MembershipStatus::default(), &invited(Delivery::Sent), Some(1), at(T0));
    let down =
        CoreError::from(StoreError::Connect { url: "postgres://db".to_owned(), source: sqlx::Error::PoolTimedOut });
    let failed = MembershipStatus::failed(&ran, &down.failure(), Some(2), at(T1));
    assert_eq!(
        summary(&failed.conditions.0),
        [
            (READY, ConditionStatus::Unknown, "DatabaseUnavailable"),
            (SYNCED, ConditionStatus::False, "DatabaseUnavailable"),
            (RECONCILING, ConditionStatus::True, "DatabaseUnavailable"),
            (INVITATION_DELIVERED, ConditionStatus::True, "Delivered"),
        ]
    );
    assert_eq!(failed.observed_generation, Some(2));
    assert_eq!((failed.phase, failed.user_id.as_deref()), (ran.phase, Some("usr-1")));
    assert_eq!(get(&failed.conditions.0, INVITATION_DELIVERED), get(&ran.conditions.0, INVITATION_DELIVERED));
}

#[test]
fn an_account_lists_its_id_and_at_most_fifty_organizations() {
    let ids: Vec<String> = (0..60).map(|i| format!("org-{i}")).collect();
    let children = Children { count: 60, ids, memberships: false };
    let ran = Outcome { children: Some(children), ..outcome(Action::Unchanged, Reason::Available) };
    let status = AccountStatus::next(&AccountStatus::default(), &ran, Some(1), at(T0));
    assert_eq!(
        (status.account_id.as_deref(), status.organization_count, status.organizations.len()),
        (Some("acct-1"), Some(60), 50)
    );
    let unknown = Outcome { id: None, ..outcome(Action::Waiting, Reason::AccountNotReady) };
    let kept = AccountStatus::next(&status, &unknown, Some(1), at(T1));
    assert_eq!((kept.account_id, kept.organization_count), (status.account_id, Some(60)), "not seen: kept");
}

fn organization(staff: StaffFacts, links: crate::api::organization::LinkSummary) -> KindFacts {
    KindFacts::Organization(OrganizationFacts { staff: Some(Box::new(staff)), links: Some(Box::new(links)) })
}

fn staff(reason: StaffReason) -> StaffFacts {
    let entry = StaffEntry {
        email: "ola@example.com".into(),
        tenant_organization_id: "org-t".into(),
        role: "Builder".into(),
        reason,
        message: String::new(),
    };
    StaffFacts { entries: vec![entry], written: 0 }
}

#[test]
fn an_organization_reports_ids_members_staff_when_ready_and_links_when_looked_up() {
    let links = crate::api::organization::LinkSummary { tenant_count: 2, ..Default::default() };
    let ran = Outcome {
        id: Some("org-1".into()),
        children: Some(Children { count: 3, ..Default::default() }),
        facts: organization(staff(StaffReason::Placed), links.clone()),
        ..of(Kind::Organization, Action::Created, "Available")
    };
    let status = OrganizationStatus::next(&OrganizationStatus::default(), &ran, Some(1), at(T0));
    assert_eq!(
        (status.organization_id.as_deref(), status.account_id.as_deref(), status.member_count),
        (Some("org-1"), Some("acct-1"), Some(3))
    );
    assert_eq!((status.staff.len(), status.staff[0].placed), (1, true));
    assert_eq!(status.links, Some(links));
    let waiting = Outcome {
        facts: organization(staff(StaffReason::NoActiveLink), Default::default()),
        ..of(Kind::Organization, Action::Waiting, "AccountNotReady")
    };
    let later = OrganizationStatus::next(&status, &waiting, Some(1), at(T1));
    assert!(later.staff[0].placed, "staff is reported from a ready run only");
    assert_eq!(later.links, None, "no active links: no summary");
    let no_lookup =
        OrganizationStatus::next(&status, &of(Kind::Organization, Action::Unchanged, "Available"), None, at(T1));
    assert_eq!(no_lookup.links, status.links, "the operator's enrich sets links itself");
}

fn invitation(delivery: Delivery) -> InvitationFacts {
    InvitationFacts {
        expires_at: at("2026-01-08T00:00:00Z"),
        sent_at: matches!(delivery, Delivery::Sent).then(|| at(T0)),
        attempts: 1,
        message_id: None,
        accepted_at: None,
        delivery,
    }
}

fn invited(delivery: Delivery) -> Outcome {
    let facts = MembershipFacts {
        phase: crate::api::membership::MembershipPhase::Invited,
        user_id: Some("usr-1".into()),
        membership_id: Some("mbr-1".into()),
        invitation: Some(invitation(delivery)),
        milestone: None,
    };
    Outcome { facts: KindFacts::Membership(Box::new(facts)), ..of(Kind::Membership, Action::Created, "Available") }
}

#[test]
fn a_membership_shows_its_phase_ids_invitation_and_delivery() {
    let queued = MembershipStatus::next(&MembershipStatus::default(), &invited(Delivery::Queued), Some(1), at(T0));
    assert_eq!((queued.user_id.as_deref(), queued.membership_id.as_deref()), (Some("usr-1"), Some("mbr-1")));
    assert_eq!(queued.invitation.as_ref().and_then(|i| i.expires_at.as_deref()), Some("2026-01-08T00:00:00Z"));
    let delivered = get(&queued.conditions.0, INVITATION_DELIVERED);
    assert_eq!((delivered.status, delivered.reason.as_str()), (ConditionStatus::False, "Pending"));
    assert_eq!(queued.conditions.0.last().map(|c| c.type_.as_str()), Some(INVITATION_DELIVERED), "own types last");
    let retry = Delivery::Retrying { last_error: "421".into(), next_attempt_at: at(T1) };
    let retrying = MembershipStatus::next(&queued, &invited(retry), Some(1), at(T1));
    let c = get(&retrying.conditions.0, INVITATION_DELIVERED);
    assert_eq!((c.reason.as_str(), c.last_transition_time.as_str()), ("Retrying", T0), "still False: time kept");
    let sent = MembershipStatus::next(&retrying, &invited(Delivery::Sent), Some(2), at(T1));
    let c = get(&sent.conditions.0, INVITATION_DELIVERED);
    assert_eq!(
        (c.status, c.last_transition_time.as_str(), c.observed_generation),
        (ConditionStatus::True, T1, Some(2))
    );
    let contact = Outcome { facts: KindFacts::None, ..of(Kind::Membership, Action::Unchanged, "Available") };
    assert_eq!(MembershipStatus::next(&sent, &contact, Some(2), at(T1)).phase, sent.phase, "no facts: fields kept");
}

fn link(phase: crate::api::tenant_link::TenantLinkPhase, delivery: Option<Delivery>) -> Outcome {
    let facts = TenantLinkFacts {
        phase,
        link_id: Some("tl-1".into()),
        counterpart_organization_id: Some("org-p".into()),
        counterpart_organization_name: Some("Northwind".into()),
        accepted_at: None,
        invitation_expires_at: delivery.is_some().then(|| at("2026-01-08T00:00:00Z")),
        invitation: delivery.map(invitation),
        members: vec!["ola@example.com".into()],
        provider_staff: Vec::new(),
    };
    let reason = if facts.is_active() { "Available" } else { "AwaitingAcceptance" };
    Outcome {
        facts: KindFacts::TenantLink(Box::new(facts)),
        message: "waiting for the partner".into(),
        ..of(Kind::TenantLink, Action::Created, reason)
    }
}

#[test]
fn a_tenant_link_is_accepted_once_active_and_reports_its_invitation() {
    use crate::api::tenant_link::TenantLinkPhase::{Active, Pending};
    let pending =
        TenantLinkStatus::next(&TenantLinkStatus::default(), &link(Pending, Some(Delivery::Sent)), Some(1), at(T0));
    assert_eq!(
        summary(&pending.conditions.0),
        [
            (READY, ConditionStatus::False, "AwaitingAcceptance"),
            (SYNCED, ConditionStatus::True, "ReconcileSuccess"),
            (RECONCILING, ConditionStatus::True, "AwaitingAcceptance"),
            (INVITATION_DELIVERED, ConditionStatus::True, "Delivered"),
            (ACCEPTED, ConditionStatus::False, "AwaitingAcceptance"),
        ]
    );
    assert_eq!(get(&pending.conditions.0, ACCEPTED).message, "waiting for the partner");
    assert_eq!(pending.invitation_expires_at.as_deref(), Some("2026-01-08T00:00:00Z"));
    assert_eq!((pending.link_id.as_deref(), pending.members.len()), (Some("tl-1"), 1));
    let active = TenantLinkStatus::next(&pending, &link(Active, None), Some(1), at(T1));
    let accepted = get(&active.conditions.0, ACCEPTED);
    assert_eq!((accepted.status, accepted.reason.as_str()), (ConditionStatus::True, "Accepted"));
    assert_eq!(accepted.last_transition_time, T1);
    assert_eq!(active.invitation_expires_at, None, "answered: no expiry shown");
    assert_eq!(get(&active.conditions.0, INVITATION_DELIVERED).status, ConditionStatus::True, "kept as it was");
    assert_eq!(TenantLinkStatus::next(&active, &link(Active, None), Some(1), at(T1)), active);
}

#[test]
fn local_mode_shows_the_status_a_first_reconcile_writes() {
    let shown = first_status_json(Kind::Membership, Ran::Done(&invited(Delivery::Queued)), at(T0));
    let expected = MembershipStatus::next(&MembershipStatus::default(), &invited(Delivery::Queued), None, at(T0));
    assert_eq!(shown, serde_json::to_value(&expected).expect("JSON"));
    assert_eq!(shown["phase"], "Invited");
    assert!(shown.get("observedGeneration").is_none(), "local objects have no generation");
    let account = first_status_json(Kind::Account, Ran::Done(&outcome(Action::Created, Reason::Available)), at(T0));
    assert_eq!(account["accountId"], "acct-1");
}

#[test]
fn local_mode_shows_the_status_of_a_failed_and_a_paused_object() {
    let down =
        CoreError::from(StoreError::Connect { url: "postgres://db".to_owned(), source: sqlx::Error::PoolTimedOut });
    let failed = first_status_json(Kind::TenantLink, Ran::Failed(&down.failure()), at(T0));
    let expected = TenantLinkStatus::failed(&TenantLinkStatus::default(), &down.failure(), None, at(T0));
    assert_eq!(failed, serde_json::to_value(&expected).expect("JSON"));
    let reasons: Vec<(&str, &str, &str)> = failed["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .map(|c| {
            (c["type"].as_str().unwrap_or(""), c["status"].as_str().unwrap_or(""), c["reason"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("Ready", "Unknown", "DatabaseUnavailable"),
            ("Synced", "False", "DatabaseUnavailable"),
            ("Reconciling", "True", "DatabaseUnavailable")
        ]
    );
    let paused = first_status_json(Kind::ProvisioningSync, Ran::Paused, at(T0));
    assert_eq!(paused["conditions"][0]["type"], "Ready");
    assert_eq!(paused["conditions"][0]["status"], "Unknown");
    assert_eq!(paused["conditions"][1]["reason"], "ReconcilePaused");
    assert!(paused.get("observedGeneration").is_none(), "nothing observed while paused");
}
