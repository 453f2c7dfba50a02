//! Every Membership plan, from a YAML spec and rows built in code. No database.

use crate::api::Reason;
use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::api::membership::MembershipPhase as ApiPhase;
use crate::core::fixtures::*;
use crate::core::outcome::{Action, Change, Kind};
use crate::core::plan::{Hold, ScopeItem};
use crate::store::invitations::Subject as InvitationSubject;
use crate::store::memberships::{MembershipPhase, NotificationLevel};
use crate::store::outbox::{MailState, Related};

pub(super) const MEMBERSHIP_YAML: &str = r#"
organizationRef: {name: eng}
email: Anna.Nowak@Acme.example
displayName: Anna Nowak
roles: [Engineer]
groups: [oncall]
notifications: [Technical, Security]
invitation: {locale: pl, lifetime: 7d}
"#;

fn spec(yaml: &str) -> MembershipSpec {
    serde_yaml::from_str(yaml).expect("a valid Membership spec")
}

fn desired_from(yaml: &str) -> DesiredMembership {
    DesiredMembership::new(owner("anna", UID), spec(yaml), false, Flags::default())
}

fn desired() -> DesiredMembership {
    desired_from(MEMBERSHIP_YAML)
}

fn organization(state: LifecycleState) -> ScopeRow {
    let row =
        organization_row("org-1", "acct-1", "Acme Engineering", Some(stored(&owner("eng", "uid-eng"), true)), state);
    ScopeRow::Organization {
        row,
        roles: vec![role("org-1", "Admin", &["org.admin"]), role("org-1", "Engineer", &["tickets.write"])],
        groups: vec![group("org-1", "oncall", None), group("org-1", "staff", None)],
    }
}

pub(super) fn user(has_login: bool) -> User {
    User {
        id: "usr-1".into(),
        email: "anna.nowak@acme.example".into(),
        email_normalized: "anna.nowak@acme.example".into(),
        display_name: Some("Anna Nowak".into()),
        phone: None,
        has_login,
        archived_at: None,
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

fn membership(phase: MembershipPhase) -> Membership {
    Membership {
        id: "mbr-1".into(),
        user_id: "usr-1".into(),
        scope: Scope::Organization("org-1".into()),
        settings: settings::desired(&spec(MEMBERSHIP_YAML)),
        phase,
        revoked_at: (phase == MembershipPhase::Revoked).then(|| at("2025-02-01T00:00:00Z")),
        owner: Some(stored(&owner("anna", UID), true)),
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

fn invitation(id: &str, expires_at: Timestamp, nonce: Option<&str>) -> Invitation {
    invitation_row(id, InvitationSubject::Membership("mbr-1".into()), expires_at, nonce)
}

fn mail(invitation: &str, state: MailState) -> Mail {
    Mail {
        id: "mail-1".into(),
        message_id: format!("<membership_invitation.{invitation}@example.com>"),
        kind: "membership_invitation".into(),
        recipient: "Anna.Nowak@Acme.example".into(),
        subject: "Zaproszenie".into(),
        body_text: String::new(),
        body_html: None,
        locale: "pl".into(),
        related: Some(Related { table: "invitations".into(), id: invitation.into() }),
        origin: None,
        namespace: None,
        state,
        attempts: if state == MailState::Dead { 8 } else { 0 },
        refusals: if state == MailState::Dead { 8 } else { 0 },
        next_attempt_at: at("2025-03-01T00:00:00Z"),
        last_error: (state == MailState::Dead).then(|| "550 no such user".to_owned()),
        dead_reason: (state == MailState::Dead).then_some(crate::store::outbox::DeadReason::Refused),
        claim: None,
        last_sender: None,
        sent_at: (state == MailState::Sent).then(|| at("2025-03-01T00:00:05Z")),
        created_at: at("2025-03-01T00:00:00Z"),
        updated_at: at("2025-03-01T00:00:00Z"),
    }
}

fn week() -> Timestamp {
    now() + SignedDuration::from_hours(7 * 24)
}

/// Anna, invited (open invitation delivered), as the spec says.
fn invited() -> ObservedMembership {
    ObservedMembership {
        scope: Some(organization(LifecycleState::Active)),
        user: Some(user(false)),
        row: Some(membership(MembershipPhase::Invited)),
        invitations: vec![invitation("inv-1", week(), None)],
        invitation_mail: Some(mail("inv-1", MailState::Sent)),
        ..Default::default()
    }
}

fn fresh() -> ObservedMembership {
    ObservedMembership { scope: Some(organization(LifecycleState::Active)), ..Default::default() }
}

fn update(plan: &MembershipPlan) -> (&MembershipWrite, Vec<&str>) {
    match &plan.plan {
        Plan::Update { id, write: Some(write), changes, .. } if id == "mbr-1" => {
            (write, changes.iter().map(|c| c.field.as_str()).collect())
        }
        other => panic!("expected an update of mbr-1, got {other:?}"),
    }
}

fn hold(plan: &MembershipPlan) -> &Hold {
    let Plan::Hold(hold) = &plan.plan else { panic!("expected a hold, got {:?}", plan.plan) };
    hold
}

#[test]
fn a_new_person_gets_a_user_a_membership_and_an_invitation() {
    let planned = plan(&desired(), &fresh(), now());
    let Plan::Create { owner: o, write, changes } = &planned.plan else { panic!("{planned:?}") };
    assert_eq!(o, &owner("anna", UID));
    let UserWrite::Insert(new) = &write.user else { panic!("{:?}", write.user) };
    assert_eq!((new.email.as_str(), new.has_login), ("Anna.Nowak@Acme.example", false));
    assert_eq!(write.scope, Scope::Organization("org-1".into()));
    assert_eq!(write.settings.roles, ["Engineer"]);
    assert_eq!(write.settings.notifications, [NotificationLevel::Technical, NotificationLevel::Security]);
    assert_eq!(write.phase, Some(MembershipPhase::Invited));
    let invite = write.invite.as_ref().expect("an invitation");
    assert_eq!((invite.locale, invite.expires_at, invite.resend_nonce.as_deref()), (Locale::Pl, week(), None));
    assert!(!write.notice && write.revoke_invitation.is_none());
    assert_eq!(write.mail.organization, "Acme Engineering");
    assert_eq!(write.mail.recipient_name.as_deref(), Some("Anna Nowak"));
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["email", "displayName", "roles", "groups", "notifications", "login", "phase", "invitation"]);
    assert_eq!(changes[7], Change::new("invitation", None, Some("new (pl, 7d)".into())));
    assert_eq!(planned.requeue_at, Some(week()), "re-queued exactly at expiry");
    assert_eq!((planned.facts.phase, planned.facts.milestone), (ApiPhase::Invited, Some(Milestone::Invited)));
    let shown = format!("{planned:?}");
    assert!(!shown.contains("token="), "a plan holds no token: {shown}");
}

#[test]
fn a_contact_is_active_at_once_without_invitation_or_mail() {
    let d = desired_from(&MEMBERSHIP_YAML.replace("roles: [Engineer]", "login: false\nroles: [Engineer]"));
    let planned = plan(&d, &fresh(), now());
    let Plan::Create { write, .. } = &planned.plan else { panic!("{planned:?}") };
    assert_eq!(write.phase, Some(MembershipPhase::Active));
    assert!(write.invite.is_none() && !write.notice);
    assert!(!write.settings.login);
    assert_eq!((planned.facts.phase, planned.facts.invitation.as_ref()), (ApiPhase::Active, None));
    assert_eq!(planned.requeue_at, None);
    let outcome = apply::outcome(&planned, None);
    assert_eq!((outcome.reason, outcome.is_ready()), (Reason::Active, true));
}

#[test]
fn an_address_with_a_login_is_linked_with_a_notice_not_a_second_invitation() {
    let observed = ObservedMembership { user: Some(user(true)), ..fresh() };
    let planned = plan(&desired(), &observed, now());
    let Plan::Create { write, changes, .. } = &planned.plan else { panic!("{planned:?}") };
    assert_eq!(write.user, UserWrite::Keep { id: "usr-1".into() });
    assert_eq!(write.phase, Some(MembershipPhase::Active));
    assert!(write.invite.is_none(), "no invitation");
    assert!(write.notice, "a notice instead");
    assert!(changes.contains(&Change::new("mail", None, Some("existing-user notice".into()))));
    assert_eq!((planned.facts.phase, planned.facts.milestone), (ApiPhase::Active, Some(Milestone::Linked)));

    let linked =
        ObservedMembership { row: Some(membership(MembershipPhase::Active)), notice_queued: true, ..observed.clone() };
    assert_eq!(plan(&desired(), &linked, now()).plan, Plan::NoOp { id: "mbr-1".into() }, "the notice goes once");
}

#[test]
fn a_known_address_without_a_login_is_invited_without_a_second_user() {
    let observed = ObservedMembership { user: Some(user(false)), ..fresh() };
    let planned = plan(&desired(), &observed, now());
    let Plan::Create { write, .. } = &planned.plan else { panic!("{planned:?}") };
    assert_eq!(write.user, UserWrite::Keep { id: "usr-1".into() });
    assert!(write.invite.is_some());
}

#[test]
fn waits_for_its_organization_or_account() {
    let planned = plan(&desired(), &ObservedMembership::default(), now());
    assert_eq!(hold(&planned).reason(Kind::Membership), "OrganizationNotReady");
    assert_eq!(planned.plan.action(), Action::Waiting);
    assert!(hold(&planned).message(Kind::Membership).contains("Organization eng"));
    let archived = ObservedMembership { scope: Some(organization(LifecycleState::Archived)), ..invited() };
    let planned = plan(&desired(), &archived, now());
    assert!(hold(&planned).message(Kind::Membership).contains("org-1 is archived"), "{planned:?}");

    let d = desired_from("accountRef: {name: acme}\nemail: a@b.example\nlogin: false\n");
    let planned = plan(&d, &ObservedMembership::default(), now());
    assert_eq!(hold(&planned).reason(Kind::Membership), "AccountNotReady");
    assert!(!planned.writes());
}

#[test]
fn a_role_the_organization_lacks_is_a_clear_hold_naming_what_exists() {
    let d = desired_from(&MEMBERSHIP_YAML.replace("[Engineer]", "[Engineer, Ghost]"));
    let planned = plan(&d, &invited(), now());
    let h = hold(&planned);
    assert_eq!(
        h,
        &Hold::NotInScope {
            what: ScopeItem::Role,
            missing: vec!["Ghost".into()],
            available: vec!["Admin".into(), "Engineer".into()],
            scope: "Organization eng".into(),
        }
    );
    assert_eq!(h.reason(Kind::Membership), "RoleNotFound");
    let message = h.message(Kind::Membership);
    assert!(
        message.contains("role Ghost is not defined in Organization eng (its roles: Admin, Engineer)"),
        "{message}"
    );
    assert_eq!(planned.plan.action(), Action::NotFound, "waits for a change, Synced=False");
    assert!(!planned.writes());
}

#[test]
fn a_group_the_organization_lacks_is_a_clear_hold() {
    let d = desired_from(&MEMBERSHIP_YAML.replace("[oncall]", "[oncall, nightshift]"));
    let planned = plan(&d, &fresh(), now());
    let h = hold(&planned);
    assert_eq!(h.reason(Kind::Membership), "GroupNotFound");
    assert!(h.message(Kind::Membership).contains("group nightshift"), "{}", h.message(Kind::Membership));
    let mut retired = fresh();
    if let Some(ScopeRow::Organization { groups, .. }) = retired.scope.as_mut() {
        groups[0].archived_at = Some(at("2025-02-01T00:00:00Z"));
    }
    assert_eq!(hold(&plan(&desired(), &retired, now())).reason(Kind::Membership), "GroupNotFound");
}

#[test]
fn an_account_membership_has_no_roles() {
    let d = desired_from("accountRef: {name: acme}\nemail: a@b.example\nroles: [Billing]\n");
    let account =
        account_row("acct-1", crate::core::account::details(&account_spec(ACCOUNT_YAML)), None, LifecycleState::Active);
    let observed = ObservedMembership { scope: Some(ScopeRow::Account(account)), ..Default::default() };
    let h = plan(&d, &observed, now()).plan;
    let Plan::Hold(h) = h else { panic!("{h:?}") };
    assert!(h.message(Kind::Membership).contains("(its roles: none)"), "{}", h.message(Kind::Membership));
}

#[test]
fn an_open_invitation_is_steady_and_requeued_at_its_expiry() {
    let planned = plan(&desired(), &invited(), now());
    assert_eq!(planned.plan, Plan::NoOp { id: "mbr-1".into() });
    assert_eq!(planned.requeue_at, Some(week()));
    let facts = &planned.facts;
    assert_eq!((facts.phase, facts.milestone), (ApiPhase::Invited, None));
    let inv = facts.invitation.as_ref().expect("the invitation");
    assert_eq!((inv.delivery.clone(), inv.attempts), (Delivery::Sent, 1));
    assert_eq!(inv.message_id.as_deref(), Some("<membership_invitation.inv-1@example.com>"));
    let outcome = apply::outcome(&planned, None);
    assert_eq!(
        (outcome.action, outcome.reason, outcome.requeue_at),
        (Action::Unchanged, Reason::Invited, Some(week()))
    );
}

#[test]
fn an_invitation_past_its_expiry_expires_the_membership() {
    let later = week() + SignedDuration::from_secs(1);
    let planned = plan(&desired(), &invited(), later);
    let (write, fields) = update(&planned);
    assert_eq!(fields, ["phase"]);
    assert_eq!(write.phase, Some(MembershipPhase::Expired));
    assert!(write.invite.is_none());
    let outcome = apply::outcome(&planned, None);
    assert_eq!((outcome.reason, outcome.is_ready(), outcome.requeue_at), (Reason::InvitationExpired, false, None));
    assert!(outcome.message.contains("resendNonce"), "{}", outcome.message);
    let event = outcome.event(false).expect("an event");
    assert_eq!((event.reason, event.warning), ("InvitationExpired", true));

    let expired = ObservedMembership { row: Some(membership(MembershipPhase::Expired)), ..invited() };
    let steady = plan(&desired(), &expired, later);
    assert_eq!(steady.plan, Plan::NoOp { id: "mbr-1".into() });
    assert!(!apply::outcome(&steady, None).is_ready(), "stays not ready until re-sent");
}

#[test]
fn a_new_resend_nonce_replaces_the_invitation() {
    let d = desired_from(&MEMBERSHIP_YAML.replace("lifetime: 7d", "lifetime: 72h, resendNonce: again"));
    let expired = ObservedMembership { row: Some(membership(MembershipPhase::Expired)), ..invited() };
    let later = week() + SignedDuration::from_hours(1);
    let planned = plan(&d, &expired, later);
    let (write, fields) = update(&planned);
    assert_eq!(fields, ["phase", "invitation"]);
    assert_eq!(write.revoke_invitation.as_deref(), Some("inv-1"));
    let invite = write.invite.as_ref().expect("a fresh invitation");
    assert_eq!(
        (invite.expires_at, invite.resend_nonce.as_deref()),
        (later + SignedDuration::from_hours(72), Some("again"))
    );
    let Plan::Update { changes, .. } = &planned.plan else { unreachable!() };
    assert_eq!(changes[1], Change::new("invitation", Some("expired".into()), Some("re-sent (pl, 72h)".into())));
    assert_eq!((planned.facts.phase, planned.facts.milestone), (ApiPhase::Invited, Some(Milestone::Resent)));

    // Once recorded on the new invitation, the same nonce is steady.
    let mut resent = invited();
    resent.invitations[0].resend_nonce = Some("again".into());
    assert_eq!(plan(&d, &resent, now()).plan, Plan::NoOp { id: "mbr-1".into() });
}

#[test]
fn no_more_than_the_daily_limit_of_invitations_is_issued() {
    let d = desired_from(&MEMBERSHIP_YAML.replace("lifetime: 7d", "lifetime: 7d, resendNonce: churn"))
        .with_invitations_per_day(3);
    let issued_at = |hours_ago: i64| now() - SignedDuration::from_hours(hours_ago);
    let with = |ages: &[i64]| {
        let mut o = invited();
        o.invitations = ages
            .iter()
            .enumerate()
            .map(|(n, age)| {
                let mut i = invitation(&format!("inv-{n}"), week(), Some("old"));
                i.created_at = issued_at(*age);
                if n + 1 < ages.len() {
                    i.revoked_at = Some(issued_at(*age - 1));
                }
                i
            })
            .collect();
        o
    };
    // Two in the last day: room for a third.
    let planned = plan(&d, &with(&[30, 10, 5]), now());
    assert!(update(&planned).0.invite.is_some(), "{:?}", planned.plan);
    // Three in the last day: the new nonce waits until the oldest of them is a day old.
    let planned = plan(&d, &with(&[30, 20, 10, 5]), now());
    let until = issued_at(20) + SignedDuration::from_hours(24);
    assert_eq!(planned.plan, Plan::Hold(Hold::ResendLimited { limit: 3, until }));
    assert_eq!(planned.requeue_at, Some(until), "looked at again when there is room, not before");
    assert_eq!((planned.plan.action(), planned.plan.writes()), (crate::core::Action::Waiting, false));
    let Plan::Hold(hold) = &planned.plan else { unreachable!() };
    assert_eq!(hold.reason(crate::core::Kind::Membership), "ResendLimited");
    assert!(hold.message(crate::core::Kind::Membership).contains("--invitation-resends-per-day"));
    // Once it is: issued.
    assert!(update(&plan(&d, &with(&[30, 20, 10, 5]), until + SignedDuration::from_secs(1))).0.invite.is_some());
    // A steady membership with many invitations behind it is not held (nothing to issue).
    let mut steady = with(&[3, 2, 1]);
    steady.invitations.last_mut().expect("one").resend_nonce = Some("churn".into());
    assert_eq!(plan(&d, &steady, now()).plan, Plan::NoOp { id: "mbr-1".into() });
    // The default is five a day; a limit below one is one.
    assert_eq!(desired().invitations_per_day, crate::core::membership::DEFAULT_INVITATIONS_PER_DAY);
    assert_eq!(desired().with_invitations_per_day(0).invitations_per_day, 1);
}

#[test]
fn acceptance_by_the_web_app_activates_and_grants_the_login() {
    let mut accepted = invited();
    accepted.invitations[0].accepted_at = Some(now());
    let planned = plan(&desired(), &accepted, now());
    let (write, fields) = update(&planned);
    assert_eq!(fields, ["user.login", "phase"]);
    assert_eq!(write.phase, Some(MembershipPhase::Active));
    let UserWrite::Update { update, .. } = &write.user else { panic!("{:?}", write.user) };
    assert!(update.has_login);
    assert_eq!((planned.facts.phase, planned.facts.milestone), (ApiPhase::Active, Some(Milestone::Accepted)));
    let outcome = apply::outcome(&planned, None);
    assert_eq!(outcome.event(false).map(|e| e.reason), Some("InvitationAccepted"));

    // After `invitation accept` (phase and login already set) nothing is left to do.
    let done =
        ObservedMembership { user: Some(user(true)), row: Some(membership(MembershipPhase::Active)), ..accepted };
    assert_eq!(plan(&desired(), &done, now()).plan, Plan::NoOp { id: "mbr-1".into() });
}

#[test]
fn a_dead_invitation_mail_fails_the_membership_until_re_sent() {
    let dead = ObservedMembership { invitation_mail: Some(mail("inv-1", MailState::Dead)), ..invited() };
    let planned = plan(&desired(), &dead, now());
    let (write, _) = update(&planned);
    assert_eq!(write.phase, Some(MembershipPhase::Failed));
    let outcome = apply::outcome(&planned, None);
    assert_eq!((outcome.reason, outcome.is_ready()), (Reason::InvitationFailed, false));
    assert!(outcome.message.contains("550 no such user"), "{}", outcome.message);
    let (status, reason, _) = planned.facts.invitation.as_ref().expect("invitation").delivered();
    assert_eq!((status, reason), (crate::api::ConditionStatus::False, Reason::DeliveryFailed));
}

#[test]
fn role_group_and_notification_changes_update_the_row() {
    let d = desired_from(
        &MEMBERSHIP_YAML
            .replace("roles: [Engineer]", "roles: [Admin, Engineer]")
            .replace("groups: [oncall]", "groups: [staff]")
            .replace("[Technical, Security]", "[Security, Technical]"),
    );
    let planned = plan(&d, &invited(), now());
    let (write, fields) = update(&planned);
    assert_eq!(fields, ["roles", "groups"], "notification order is no change");
    assert!(write.settings_changed && write.phase.is_none() && write.invite.is_none());
    assert_eq!(write.settings.roles, ["Admin", "Engineer"]);
    let Plan::Update { changes, .. } = &planned.plan else { unreachable!() };
    assert_eq!(
        changes[0],
        Change::new("roles", Some(r#"["Engineer"]"#.into()), Some(r#"["Admin","Engineer"]"#.into()))
    );
}

#[test]
fn switching_between_contact_and_login() {
    let contact = desired_from(&MEMBERSHIP_YAML.replace("roles: [Engineer]", "login: false\nroles: [Engineer]"));
    let planned = plan(&contact, &invited(), now());
    let (write, fields) = update(&planned);
    assert_eq!(fields, ["login", "phase", "invitation"]);
    assert_eq!(write.revoke_invitation.as_deref(), Some("inv-1"), "the link stops working");
    assert_eq!(write.phase, Some(MembershipPhase::Active));

    let mut was_contact = invited();
    was_contact.invitations.clear();
    was_contact.invitation_mail = None;
    if let Some(row) = was_contact.row.as_mut() {
        row.phase = MembershipPhase::Active;
        row.settings.login = false;
    }
    let planned = plan(&desired(), &was_contact, now());
    let (write, fields) = update(&planned);
    assert_eq!(fields, ["login", "phase", "invitation"]);
    assert!(write.invite.is_some());
    assert_eq!(planned.facts.milestone, Some(Milestone::Invited));
}

#[test]
fn the_person_follows_the_spec_until_they_sign_in() {
    let d = desired_from(&MEMBERSHIP_YAML.replace("Anna Nowak", "Anna Kowalska"));
    let planned = plan(&d, &invited(), now());
    let (write, fields) = update(&planned);
    assert_eq!(fields, ["displayName"]);
    assert!(
        matches!(&write.user, UserWrite::Update { update, .. } if update.display_name.as_deref() == Some("Anna Kowalska"))
    );

    let signed_in = ObservedMembership {
        user: Some(user(true)),
        row: Some(membership(MembershipPhase::Active)),
        notice_queued: true,
        ..invited()
    };
    let mut accepted = signed_in.clone();
    accepted.invitations[0].accepted_at = Some(now());
    assert_eq!(plan(&d, &accepted, now()).plan, Plan::NoOp { id: "mbr-1".into() }, "their profile is theirs");
}

#[test]
fn deletion_revokes_or_detaches() {
    let gone = |policy| DesiredMembership { intent: Intent::Deleting(policy), ..desired() };
    let planned = plan(&gone(DeletionPolicy::Delete), &invited(), now());
    assert_eq!(planned.plan, Plan::Archive { id: "mbr-1".into() });
    assert_eq!((planned.facts.phase, planned.facts.milestone), (ApiPhase::Revoked, Some(Milestone::Revoked)));
    assert_eq!(plan(&gone(DeletionPolicy::Orphan), &invited(), now()).plan, Plan::Orphan { id: "mbr-1".into() });
    assert_eq!(plan(&gone(DeletionPolicy::Delete), &ObservedMembership::default(), now()).plan, Plan::Gone);
    let mut observe_only = gone(DeletionPolicy::Delete);
    observe_only.flags.observe_only = true;
    assert_eq!(plan(&observe_only, &invited(), now()).plan, Plan::Release { id: "mbr-1".into() });
}

#[test]
fn ownership_rules_apply_to_the_persons_membership() {
    let mut elsewhere_owned = invited();
    if let Some(row) = elsewhere_owned.row.as_mut() {
        row.owner = Some(elsewhere());
    }
    let planned = plan(&desired(), &elsewhere_owned, now());
    assert_eq!(hold(&planned).reason(Kind::Membership), "OwnedElsewhere");

    let mut released = invited();
    if let Some(row) = released.row.as_mut() {
        row.owner = Some(stored(&owner("anna", "uid-old"), false));
    }
    assert_eq!(hold(&plan(&desired(), &released, now())).reason(Kind::Membership), "AdoptionRequired");
    let mut adopt = desired();
    adopt.flags.adopt = true;
    assert!(matches!(plan(&adopt, &released, now()).plan, Plan::TakeOver { how: crate::core::TakeOver::Adopt, .. }));

    let mut observe_only = desired();
    observe_only.flags.observe_only = true;
    assert_eq!(hold(&plan(&observe_only, &fresh(), now())), &Hold::Missing);
}

#[test]
fn an_edited_email_is_refused_not_moved() {
    let other = User { id: "usr-2".into(), email: "zofia@acme.example".into(), ..user(false) };
    let observed = ObservedMembership { user: Some(other), row_user: Some(user(false)), ..invited() };
    let h = hold(&plan(&desired(), &observed, now())).clone();
    assert_eq!(h.reason(Kind::Membership), "FieldImmutable");
    assert!(h.message(Kind::Membership).contains("email anna.nowak@acme.example"), "{}", h.message(Kind::Membership));
}

#[test]
fn a_membership_revoked_out_of_band_is_reinstated() {
    let mut revoked = invited();
    if let Some(row) = revoked.row.as_mut() {
        row.phase = MembershipPhase::Revoked;
        row.revoked_at = Some(now());
    }
    revoked.invitations[0].revoked_at = Some(now());
    let planned = plan(&desired(), &revoked, now());
    let Plan::Update { reactivate: true, write: Some(write), .. } = &planned.plan else { panic!("{planned:?}") };
    assert_eq!(write.phase, Some(MembershipPhase::Invited));
    assert!(write.invite.is_some(), "a fresh invitation: the old one was revoked");
}
