//! Membership plans carried out on an in-memory SQLite database: rows, tokens and mails.

use crate::api::Reason;
use jiff::SignedDuration;

use super::plan_tests::MEMBERSHIP_YAML;
use super::*;
use crate::api::membership::MembershipPhase as ApiPhase;
use crate::core::account::{self, DesiredAccount};
use crate::core::error::InvitationError;
use crate::core::fixtures::*;
use crate::core::invitation::{self, Answer, Answered, InvitationKind};
use crate::core::organization::{self, DesiredOrganization};
use crate::core::outcome::Action;
use crate::core::tokens;
use crate::store::memberships::MembershipPhase;

fn mail_settings() -> MailSettings {
    MailSettings::new("accountops <noreply@example.com>", None, "https://platform.example.com/invitations/accept")
        .expect("valid settings")
}

fn desired_from(yaml: &str) -> DesiredMembership {
    let spec: MembershipSpec = serde_yaml::from_str(yaml).expect("a valid Membership spec");
    DesiredMembership::new(owner("anna", UID), spec, false, Flags::default())
}

/// `billing/acme` and `billing/eng` reconciled.
async fn organization_ready(store: &Store) {
    let a = DesiredAccount::new(owner("acme", "uid-acme"), account_spec(ACCOUNT_YAML), false, Flags::default());
    account::reconcile(store, &a, now()).await.expect("account");
    let o = DesiredOrganization::new(
        owner("eng", "uid-eng"),
        organization_spec(ORGANIZATION_YAML),
        false,
        Flags::default(),
    );
    organization::reconcile(store, &o, now()).await.expect("organization");
}

async fn run(store: &Store, d: &DesiredMembership, at: jiff::Timestamp) -> Outcome {
    reconcile(store, d, at, &mail_settings()).await.expect("reconciles")
}

async fn all_mail(store: &Store) -> Vec<Mail> {
    let mut conn = store.acquire().await.expect("conn");
    let mut mails = outbox::due(&mut conn, now() + SignedDuration::from_hours(24 * 365), 100).await.expect("due");
    mails.sort_by_key(|m| m.created_at);
    mails
}

/// The token in an invitation mail's accept link.
fn token_of(mail: &Mail) -> String {
    let (_, rest) = mail.body_text.split_once("?token=").expect("an accept link");
    rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).next().unwrap_or("").to_owned()
}

async fn accept(store: &Store, token: &str, at: jiff::Timestamp) -> Result<Answered, CoreError> {
    invitation::answer(store, InvitationKind::Membership, Answer::Accept, token, at).await
}

fn phase(outcome: &Outcome) -> ApiPhase {
    outcome.facts.membership().expect("membership facts").phase
}

#[tokio::test]
async fn an_invitation_is_one_transaction_with_exactly_one_mail_and_settles() {
    let store = memory_store().await;
    organization_ready(&store).await;
    let d = desired_from(MEMBERSHIP_YAML);
    let created = run(&store, &d, now()).await;
    assert_eq!(
        (created.action, created.reason, phase(&created)),
        (Action::Created, Reason::Invited, ApiPhase::Invited)
    );
    assert_eq!(created.requeue_at, Some(now() + SignedDuration::from_hours(7 * 24)));
    let facts = created.facts.membership().cloned().expect("facts");
    let id = facts.membership_id.clone().expect("a membership ID");
    let inv_facts = facts.invitation.clone().expect("invitation facts");
    assert_eq!(inv_facts.delivery, Delivery::Queued);
    assert!(inv_facts.message_id.as_deref().is_some_and(|m| m.starts_with("<membership_invitation.inv-")));
    assert_eq!(created.event(true).map(|e| e.reason), Some("Invited"));

    let mails = all_mail(&store).await;
    assert_eq!(mails.len(), 1, "exactly one mail");
    let mail = &mails[0];
    assert_eq!((mail.recipient.as_str(), mail.locale.as_str()), ("Anna.Nowak@Acme.example", "pl"));
    assert_eq!(mail.subject, "Zaproszenie do organizacji Acme Engineering");
    let token = token_of(mail);
    assert!(token.len() >= 43, "{token}");
    let mut conn = store.acquire().await.expect("conn");
    let invitation =
        invitations::find_open(&mut conn, &Subject::Membership(id.clone())).await.expect("read").expect("open");
    assert_eq!(invitation.token_hash, tokens::hash(&token), "only the hash is stored");
    assert_ne!(invitation.token_hash, token);
    let user = users::get(&mut conn, facts.user_id.as_deref().expect("user")).await.expect("user");
    assert!(!user.has_login);
    assert_eq!(memberships::get(&mut conn, &id).await.expect("row").phase, MembershipPhase::Invited);
    drop(conn);
    let status = format!("{created:?}");
    assert!(!status.contains(&token), "the outcome never holds the token");

    let again = run(&store, &d, now() + SignedDuration::from_hours(1)).await;
    assert_eq!((again.action, phase(&again)), (Action::Unchanged, ApiPhase::Invited));
    assert_eq!(all_mail(&store).await.len(), 1, "a second reconcile sends no second mail");
}

#[tokio::test]
async fn nothing_is_written_when_the_mail_cannot_be_queued() {
    let store = memory_store().await;
    organization_ready(&store).await;
    {
        let mut conn = store.acquire().await.expect("conn");
        sqlx::query("DROP TABLE mail_outbox").execute(&mut *conn).await.expect("drop");
    }
    let err = reconcile(&store, &desired_from(MEMBERSHIP_YAML), now(), &mail_settings()).await.expect_err("fails");
    assert!(err.chain().contains("mail_outbox"), "{}", err.chain());
    let mut conn = store.acquire().await.expect("conn");
    assert_eq!(users::find_by_email(&mut conn, "anna.nowak@acme.example").await.expect("read"), None, "rolled back");
}

#[tokio::test]
async fn a_token_is_accepted_once_and_the_membership_becomes_active() {
    let store = memory_store().await;
    organization_ready(&store).await;
    let d = desired_from(MEMBERSHIP_YAML);
    run(&store, &d, now()).await;
    let token = token_of(&all_mail(&store).await[0]);
    let later = now() + SignedDuration::from_hours(2);

    let err = accept(&store, "not-a-token", later).await.expect_err("unknown");
    assert!(matches!(err, CoreError::Invitation(InvitationError::UnknownToken)), "{err}");
    let link = format!("https://platform.example.com/invitations/accept?token={token}");
    let Answered::Membership { email, scope_name, user_id, .. } = accept(&store, &link, later).await.expect("accepted")
    else {
        panic!("a membership token accepts a membership");
    };
    assert_eq!((email.as_str(), scope_name.as_str()), ("Anna.Nowak@Acme.example", "Acme Engineering"));
    let again = accept(&store, &token, later).await.expect_err("used");
    assert!(matches!(again, CoreError::Invitation(InvitationError::AlreadyAccepted { .. })), "{again}");
    assert!(again.to_string().contains("already used"), "{again}");
    assert!(!again.to_string().contains(&token));

    let mut conn = store.acquire().await.expect("conn");
    assert!(users::get(&mut conn, &user_id).await.expect("user").has_login);
    drop(conn);
    let outcome = run(&store, &d, later).await;
    assert_eq!(
        (outcome.action, outcome.reason, phase(&outcome)),
        (Action::Unchanged, Reason::Active, ApiPhase::Active)
    );
    assert_eq!(outcome.requeue_at, None);
}

#[tokio::test]
async fn the_web_app_contract_is_reflected_on_the_next_reconcile() {
    let store = memory_store().await;
    organization_ready(&store).await;
    let d = desired_from(MEMBERSHIP_YAML);
    run(&store, &d, now()).await;
    let hash = tokens::hash(&token_of(&all_mail(&store).await[0]));
    let later = now() + SignedDuration::from_hours(2);
    {
        // Exactly what docs/database.md tells the web app to run, and nothing more.
        let mut conn = store.acquire().await.expect("conn");
        let at = crate::store::time::encode(later);
        let done = sqlx::query(
            "UPDATE invitations SET accepted_at = $2, updated_at = $2 WHERE token_hash = $1 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(&hash)
        .bind(&at)
        .execute(&mut *conn)
        .await
        .expect("update");
        assert_eq!(done.rows_affected(), 1);
    }
    let outcome = run(&store, &d, later).await;
    assert_eq!((outcome.action, phase(&outcome)), (Action::Updated, ApiPhase::Active));
    let fields: Vec<&str> = outcome.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["user.login", "phase"]);
    assert_eq!(outcome.event(false).map(|e| (e.reason, e.warning)), Some(("InvitationAccepted", false)));
    assert_eq!(run(&store, &d, later).await.action, Action::Unchanged);
}

#[tokio::test]
async fn expiry_then_a_resend_with_a_fresh_token() {
    let store = memory_store().await;
    organization_ready(&store).await;
    let d = desired_from(MEMBERSHIP_YAML);
    run(&store, &d, now()).await;
    let old = token_of(&all_mail(&store).await[0]);
    let expiry = now() + SignedDuration::from_hours(7 * 24);

    let expired = run(&store, &d, expiry).await;
    assert_eq!(
        (expired.action, expired.reason, expired.is_ready()),
        (Action::Updated, Reason::InvitationExpired, false)
    );
    let err = accept(&store, &old, expiry).await.expect_err("expired");
    assert!(matches!(err, CoreError::Invitation(InvitationError::Expired { .. })), "{err}");

    let resend = desired_from(&MEMBERSHIP_YAML.replace("lifetime: 7d", "lifetime: 1d, resendNonce: \"2\""));
    let resent = run(&store, &resend, expiry).await;
    assert_eq!((resent.action, resent.reason, phase(&resent)), (Action::Updated, Reason::Invited, ApiPhase::Invited));
    assert_eq!(resent.requeue_at, Some(expiry + SignedDuration::from_hours(24)));
    let mails = all_mail(&store).await;
    assert_eq!(mails.len(), 2, "one more mail");
    let new = token_of(&mails[1]);
    assert_ne!(new, old);
    let err = accept(&store, &old, expiry).await.expect_err("revoked");
    assert!(matches!(err, CoreError::Invitation(InvitationError::Revoked { .. })), "{err}");
    accept(&store, &new, expiry).await.expect("the fresh token works");
    assert_eq!(run(&store, &resend, expiry).await.action, Action::Unchanged);
    assert_eq!(all_mail(&store).await.len(), 2);
}

#[tokio::test]
async fn an_existing_login_gets_one_notice_and_a_contact_no_mail() {
    let store = memory_store().await;
    organization_ready(&store).await;
    {
        let mut conn = store.acquire().await.expect("conn");
        let new = users::NewUser {
            email: "anna.nowak@acme.EXAMPLE".into(),
            display_name: None,
            phone: None,
            has_login: true,
        };
        users::insert(&mut conn, &new, now()).await.expect("user");
    }
    let d = desired_from(MEMBERSHIP_YAML);
    let linked = run(&store, &d, now()).await;
    assert_eq!((linked.action, phase(&linked)), (Action::Created, ApiPhase::Active));
    assert_eq!(run(&store, &d, now()).await.action, Action::Unchanged);
    let mails = all_mail(&store).await;
    assert_eq!(mails.iter().map(|m| m.kind.as_str()).collect::<Vec<_>>(), ["existing_user_notice"]);
    let mut conn = store.acquire().await.expect("conn");
    let id = linked.facts.membership().and_then(|m| m.membership_id.clone()).expect("id");
    assert!(invitations::list_for(&mut conn, &Subject::Membership(id)).await.expect("list").is_empty());
    drop(conn);

    let mut contact = desired_from("organizationRef: {name: eng}\nemail: ewa@acme.example\nlogin: false\n");
    contact.owner = owner("ewa", "uid-ewa");
    let recorded = run(&store, &contact, now()).await;
    assert_eq!((recorded.action, recorded.reason), (Action::Created, Reason::Active));
    assert_eq!(all_mail(&store).await.len(), 1, "a contact gets no mail");
}

#[tokio::test]
async fn deletion_revokes_the_membership_and_its_token() {
    let store = memory_store().await;
    organization_ready(&store).await;
    let d = desired_from(MEMBERSHIP_YAML);
    let id = run(&store, &d, now()).await.id.expect("id");
    let token = token_of(&all_mail(&store).await[0]);
    let gone = DesiredMembership { intent: Intent::Deleting(DeletionPolicy::Delete), ..d.clone() };
    let revoked = run(&store, &gone, now()).await;
    assert_eq!((revoked.action, phase(&revoked)), (Action::Archived, ApiPhase::Revoked));
    let err = accept(&store, &token, now()).await.expect_err("unusable");
    assert!(matches!(err, CoreError::Invitation(InvitationError::Revoked { .. })), "{err}");
    let mut conn = store.acquire().await.expect("conn");
    let row = memberships::get(&mut conn, &id).await.expect("kept");
    assert_eq!(row.phase, MembershipPhase::Revoked);
    assert!(row.revoked_at.is_some() && row.owner.and_then(|o| o.uid).is_none());
    drop(conn);
    assert_eq!(run(&store, &gone, now()).await.action, Action::Gone);

    // Re-created, the person gets a new membership (the revoked one is history).
    let again = run(&store, &d, now()).await;
    assert_eq!(again.action, Action::Created);
    assert_ne!(again.id.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn a_missing_role_writes_nothing() {
    let store = memory_store().await;
    organization_ready(&store).await;
    let d = desired_from(&MEMBERSHIP_YAML.replace("[Engineer]", "[Ghost]"));
    let held = run(&store, &d, now()).await;
    assert_eq!((held.action, held.reason), (Action::NotFound, Reason::RoleNotFound));
    assert!(all_mail(&store).await.is_empty());
    let mut conn = store.acquire().await.expect("conn");
    assert_eq!(users::find_by_email(&mut conn, "anna.nowak@acme.example").await.expect("read"), None);
}
