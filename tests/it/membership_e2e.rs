//! Memberships end to end: the operator on the real apiserver and PostgreSQL, invitation mails
//! through a real SMTP server (aiosmtpd), acceptance with the CLI, an SMTP outage and a crash
//! between the database commit and the send.

use std::process::Command;
use std::time::Duration;

use accountops::api::{Membership, MembershipPhase};
use kube::api::Api;

use crate::harness::{self, TestEnv};
use crate::store_pg::{self, PgDatabase};
use crate::support::eventually;
use crate::support::operator::Operator;
use crate::support::smtp::{ParsedMail, Security, SmtpServer};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
const RESYNC: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(90);

async fn setup() -> Option<(TestEnv, PgDatabase, SmtpServer)> {
    let env = harness::test_env().await?;
    let db = store_pg::fresh().await?;
    let smtp = SmtpServer::start(Security::Plain).await?;
    Some((env, db, smtp))
}

fn operator(env: &TestEnv, db: &PgDatabase, smtp: &SmtpServer) -> Operator {
    let smtp_url = format!("--smtp-url={}", smtp.url());
    Operator::start_with(env, &db.url, &format!("test-{}", env.ns), RESYNC, &[smtp_url.as_str()])
}

async fn phase(api: &Api<Membership>, name: &str) -> Option<MembershipPhase> {
    api.get_opt(name).await.ok()??.status?.phase
}

async fn wait_phase(api: &Api<Membership>, name: &str, want: MembershipPhase) {
    eventually(&format!("{name} {want:?}"), WAIT, || async { (phase(api, name).await? == want).then_some(()) }).await;
}

fn delivered(m: &Membership) -> Option<(String, String)> {
    let c = m.status.as_ref()?.conditions.0.iter().find(|c| c.type_ == "InvitationDelivered")?;
    Some((format!("{:?}", c.status), c.reason.clone()))
}

fn to(mail: &ParsedMail) -> String {
    mail.header("To").unwrap_or_default().to_lowercase()
}

pub(crate) fn token_in(mail: &ParsedMail) -> String {
    let text = mail.text.clone().unwrap_or_default();
    let (_, rest) = text.split_once("?token=").expect("an accept link");
    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

fn accept(db: &PgDatabase, token: &str) -> std::process::Output {
    accept_with("invitation", db, token)
}

/// `accountops COMMAND accept TOKEN` against `db` (`invitation` or `tenant-link`).
pub(crate) fn accept_with(command: &str, db: &PgDatabase, token: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args([command, "accept", token, "--database", &db.url])
        .env_remove("DATABASE_URL")
        .output()
        .expect("accountops runs")
}

#[tokio::test]
async fn invitations_are_mailed_once_in_their_locale_and_acceptance_shows_within_seconds() {
    let Some((env, db, smtp)) = setup().await else { return };
    let _operator = operator(&env, &db, &smtp);
    env.kubectl(["apply", "-f", EXAMPLES]).await.ok();
    let api: Api<Membership> = env.api();
    for name in ["jan-nowak", "zofia-wroblewska", "priya-shah"] {
        wait_phase(&api, name, MembershipPhase::Invited).await;
    }
    for name in ["ewa-kaminska-contact", "acme-finance"] {
        wait_phase(&api, name, MembershipPhase::Active).await;
    }
    let jan = eventually("Jan's invitation delivered", WAIT, || async {
        let m = api.get("jan-nowak").await.ok()?;
        (delivered(&m)? == ("True".to_owned(), "Delivered".to_owned())).then_some(m)
    })
    .await;
    // Jan, Zofia, Priya, Fabrikam's administrator and Northwind's technician.
    let mails = eventually("five invitation mails", WAIT, || async {
        let mails = smtp.messages();
        (mails.len() >= 5).then_some(mails)
    })
    .await;
    assert_eq!(mails.len(), 5, "contacts get no mail: {:?}", mails.iter().map(to).collect::<Vec<_>>());
    let jan_mail = mails.iter().find(|m| to(m).contains("jan.nowak@acme.example.pl")).expect("Jan's mail");
    assert!(
        jan_mail.header("Subject").unwrap_or_default().contains("Zaproszenie"),
        "Polish: {:?}",
        jan_mail.header("Subject")
    );
    let priya = mails.iter().find(|m| to(m).contains("priya.shah@example.com")).expect("Priya's mail");
    assert!(
        priya.header("Subject").unwrap_or_default().to_lowercase().contains("invit"),
        "English: {:?}",
        priya.header("Subject")
    );
    let status = jan.status.as_ref().expect("status");
    let invitation = status.invitation.as_ref().expect("invitation status");
    assert_eq!(invitation.message_id.as_deref(), jan_mail.header("Message-ID"), "status names the mail sent");
    let token = token_in(jan_mail);
    let status_text = serde_json::to_string(&jan.status).expect("json");
    assert!(!status_text.contains(&token), "the token never appears in status");

    let first = accept(&db, &token);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    wait_phase(&api, "jan-nowak", MembershipPhase::Active).await;
    let second = accept(&db, &token);
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already"), "{}", String::from_utf8_lossy(&second.stderr));

    // Resyncs send nothing again.
    tokio::time::sleep(RESYNC * 3).await;
    assert_eq!(smtp.messages().len(), 5, "exactly one mail per invitation");
    let events = env.kubectl(["get", "events", "-o", "custom-columns=NOTE:.note,MESSAGE:.message"]).await.stdout;
    assert!(!events.contains(&token), "the token never appears in Events");
}

pub const MEMBERS: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Account
metadata:
  name: acct
spec:
  legalName: Test sp. z o.o.
  billingAddress: {street: ["ul. Krótka 2"], city: Łódź, postalCode: "90-001", country: PL}
  billingEmail: billing@example.pl
  currency: PLN
---
apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata:
  name: org
spec:
  accountRef: {name: acct}
  displayName: Zespół Łódź
  roles: [{name: Admin}]
---
apiVersion: accountops.dev/v1alpha1
kind: Membership
metadata:
  name: anna
spec:
  organizationRef: {name: org}
  email: anna@example.pl
  displayName: Anna Żak
  roles: [Admin]
  invitation: {locale: pl}
---
apiVersion: accountops.dev/v1alpha1
kind: Membership
metadata:
  name: bob
spec:
  organizationRef: {name: org}
  email: bob@example.com
  roles: [Admin]
"#;

#[tokio::test]
async fn smtp_outage_keeps_invitations_pending_then_delivers_each_once() {
    let Some((env, db, mut smtp)) = setup().await else { return };
    smtp.stop();
    let _operator = operator(&env, &db, &smtp);
    env.apply(MEMBERS).await;
    let api: Api<Membership> = env.api();
    for name in ["anna", "bob"] {
        let (status, reason) = eventually(&format!("{name}: delivery retrying"), WAIT, || async {
            let m = api.get(name).await.ok()?;
            let d = delivered(&m)?;
            (d.1 == "Retrying").then_some(d)
        })
        .await;
        assert_eq!((status.as_str(), reason.as_str()), ("False", "Retrying"));
        assert_eq!(phase(&api, name).await, Some(MembershipPhase::Invited));
    }
    smtp.start_again().await;
    for name in ["anna", "bob"] {
        eventually(&format!("{name}: delivered"), WAIT, || async {
            let m = api.get(name).await.ok()?;
            (delivered(&m)?.1 == "Delivered").then_some(())
        })
        .await;
    }
    tokio::time::sleep(RESYNC * 2).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "each invitation delivered once: {:?}", mails.iter().map(to).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_crash_after_the_commit_and_before_the_send_loses_and_doubles_nothing() {
    let Some((env, db, smtp)) = setup().await else { return };
    // The crashed process's claim must run out before its successor sends the mail.
    let flags = [format!("--smtp-url={}", smtp.url()), "--mail-claim-lease=3s".to_owned()];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut operator = Operator::start_with(&env, &db.url, &format!("test-{}", env.ns), RESYNC, &flags);
    operator.restart_with_env(&["ACCOUNTOPS_FAILPOINT=after-commit-before-send"]);
    env.apply(MEMBERS).await;
    let deadline = std::time::Instant::now() + WAIT;
    while !operator.exited() {
        assert!(std::time::Instant::now() < deadline, "the operator did not reach the failpoint:\n{}", operator.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(smtp.messages().is_empty(), "nothing was sent before the crash");
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'pending'")
        .fetch_one(accountops::store::testkit::TestDatabase::store(&db).pool())
        .await
        .expect("count");
    assert!(queued >= 1, "the committed mail waits in the outbox");

    operator.restart();
    let mails = eventually("both invitations delivered after the restart", WAIT, || async {
        let mails = smtp.messages();
        (mails.len() >= 2).then_some(mails)
    })
    .await;
    tokio::time::sleep(RESYNC * 2).await;
    assert_eq!(smtp.messages().len(), 2, "not twice: {:?}", mails.iter().map(to).collect::<Vec<_>>());
    let mut ids: Vec<String> =
        smtp.messages().iter().filter_map(|m| m.header("Message-ID").map(str::to_owned)).collect();
    ids.dedup();
    assert_eq!(ids.len(), 2);
}

fn ready_reason(m: &Membership) -> Option<(String, String)> {
    let c = m.status.as_ref()?.conditions.0.iter().find(|c| c.type_ == "Ready")?;
    Some((format!("{:?}", c.status), c.reason.clone()))
}

#[tokio::test]
async fn an_invitation_expires_on_time_and_a_new_nonce_resends_it() {
    let Some((env, db, smtp)) = setup().await else { return };
    let _operator = operator(&env, &db, &smtp);
    let short = MEMBERS.replace("invitation: {locale: pl}", "invitation: {locale: pl, lifetime: 1h}");
    env.apply(&short).await;
    let api: Api<Membership> = env.api();
    wait_phase(&api, "anna", MembershipPhase::Invited).await;
    // A spec's shortest lifetime is an hour; the row is shortened to 6s instead, which the
    // operator sees as it sees an acceptance by the web app.
    let in_6s = "to_char((now() + interval '6 seconds') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    let shorten = format!(
        "UPDATE invitations SET expires_at = {in_6s}, updated_at = to_char(now() AT TIME ZONE 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') WHERE accepted_at IS NULL AND revoked_at IS NULL \
         AND membership_id = (SELECT id FROM memberships WHERE owner_name = 'anna')"
    );
    let shortened = sqlx::query(sqlx::AssertSqlSafe(shorten))
        .execute(accountops::store::testkit::TestDatabase::store(&db).pool())
        .await
        .expect("update");
    assert_eq!(shortened.rows_affected(), 1);
    // Expiry is noticed when it passes (the object is re-queued for it), not at a resync.
    wait_phase(&api, "anna", MembershipPhase::Expired).await;
    let expired = api.get("anna").await.expect("anna");
    assert_eq!(ready_reason(&expired), Some(("False".to_owned(), "InvitationExpired".to_owned())));
    let first = eventually("the first mail", WAIT, || async {
        smtp.messages().into_iter().find(|m| to(m).contains("anna@example.pl"))
    })
    .await;
    let old_token = token_in(&first);

    env.apply(&short.replace("lifetime: 1h}", "lifetime: 7d, resendNonce: again}")).await;
    wait_phase(&api, "anna", MembershipPhase::Invited).await;
    let mails = eventually("a second mail to Anna", WAIT, || async {
        let mails: Vec<ParsedMail> =
            smtp.messages().into_iter().filter(|m| to(m).contains("anna@example.pl")).collect();
        (mails.len() == 2).then_some(mails)
    })
    .await;
    let new_token = mails.iter().map(token_in).find(|t| *t != old_token).expect("a fresh token");
    assert!(!accept(&db, &old_token).status.success(), "the expired token stays unusable");
    assert!(accept(&db, &new_token).status.success(), "the fresh token works");
    wait_phase(&api, "anna", MembershipPhase::Active).await;
}

#[tokio::test]
async fn a_role_missing_from_the_organization_waits_for_it() {
    let Some((env, db, smtp)) = setup().await else { return };
    let _operator = operator(&env, &db, &smtp);
    env.apply(&MEMBERS.replace("  roles: [Admin]\n  invitation", "  roles: [Admin, Auditor]\n  invitation")).await;
    let api: Api<Membership> = env.api();
    let waiting = eventually("RoleNotFound", WAIT, || async {
        let m = api.get("anna").await.ok()?;
        (ready_reason(&m)?.1 == "RoleNotFound").then_some(m)
    })
    .await;
    let message = waiting
        .status
        .as_ref()
        .and_then(|s| s.conditions.0.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.clone());
    assert!(message.unwrap_or_default().contains("Auditor"), "names the missing role");
    assert!(smtp.messages().iter().all(|m| !to(m).contains("anna@")), "no invitation while the role is missing");
    // Adding the role to the organization lets the membership go on by itself.
    env.apply(
        &MEMBERS
            .replace("roles: [{name: Admin}]", "roles: [{name: Admin}, {name: Auditor}]")
            .replace("  roles: [Admin]\n  invitation", "  roles: [Admin, Auditor]\n  invitation"),
    )
    .await;
    wait_phase(&api, "anna", MembershipPhase::Invited).await;
}

#[tokio::test]
async fn an_address_with_a_login_is_linked_with_a_notice_not_a_second_invitation() {
    let Some((env, db, smtp)) = setup().await else { return };
    let _operator = operator(&env, &db, &smtp);
    env.apply(MEMBERS).await;
    let api: Api<Membership> = env.api();
    wait_phase(&api, "bob", MembershipPhase::Invited).await;
    let invitation = eventually("Bob's invitation", WAIT, || async {
        smtp.messages().into_iter().find(|m| to(m).contains("bob@example.com"))
    })
    .await;
    assert!(accept(&db, &token_in(&invitation)).status.success());
    wait_phase(&api, "bob", MembershipPhase::Active).await;

    // Bob joins a second organization: he already signs in, so no second login is created.
    let second = "apiVersion: accountops.dev/v1alpha1\nkind: Organization\nmetadata:\n  name: org2\nspec:\n  accountRef: {name: acct}\n  displayName: Second\n  roles: [{name: Admin}]\n---\napiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: bob-second\nspec:\n  organizationRef: {name: org2}\n  email: BOB@example.com\n  roles: [Admin]\n";
    env.apply(second).await;
    wait_phase(&api, "bob-second", MembershipPhase::Active).await;
    let bob_mails = eventually("the notice", WAIT, || async {
        let mails: Vec<ParsedMail> =
            smtp.messages().into_iter().filter(|m| to(m).contains("bob@example.com")).collect();
        (mails.len() == 2).then_some(mails)
    })
    .await;
    assert!(
        bob_mails.iter().filter(|m| m.text.as_deref().unwrap_or_default().contains("?token=")).count() == 1,
        "one invitation, one notice"
    );
    let first_user = api.get("bob").await.ok().and_then(|m| m.status?.user_id);
    let second_user = api.get("bob-second").await.ok().and_then(|m| m.status?.user_id);
    assert_eq!(first_user, second_user, "one user per address, case-insensitively");
}

#[tokio::test]
async fn deleting_a_membership_revokes_it_and_its_open_invitation() {
    let Some((env, db, smtp)) = setup().await else { return };
    let _operator = operator(&env, &db, &smtp);
    env.apply(MEMBERS).await;
    let api: Api<Membership> = env.api();
    wait_phase(&api, "bob", MembershipPhase::Invited).await;
    let id = api.get("bob").await.ok().and_then(|m| m.status?.membership_id).expect("membership id");
    let invitation = eventually("Bob's invitation", WAIT, || async {
        smtp.messages().into_iter().find(|m| to(m).contains("bob@example.com"))
    })
    .await;
    env.kubectl(["delete", "membership", "bob", "--timeout=60s"]).await.ok();
    let out = accept(&db, &token_in(&invitation));
    assert_eq!(out.status.code(), Some(1), "the token is unusable after deletion");
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"), "{}", String::from_utf8_lossy(&out.stderr));
    let store = accountops::store::testkit::TestDatabase::store(&db);
    let mut conn = store.acquire().await.expect("conn");
    let row = accountops::store::memberships::get(&mut conn, &id).await.expect("the row is kept");
    assert!(row.revoked_at.is_some(), "revoked with a timestamp: {row:?}");
}

#[tokio::test]
async fn churning_the_resend_nonce_sends_no_more_than_the_daily_limit() {
    let Some((env, db, smtp)) = setup().await else { return };
    let smtp_url = format!("--smtp-url={}", smtp.url());
    let _operator = Operator::start_with(
        &env,
        &db.url,
        &format!("test-{}", env.ns),
        RESYNC,
        &[smtp_url.as_str(), "--invitation-resends-per-day=2"],
    );
    let api: Api<Membership> = env.api();
    let nonce =
        |n: u32| MEMBERS.replace("invitation: {locale: pl}", &format!("invitation: {{locale: pl, resendNonce: n{n}}}"));
    let to_anna = || smtp.messages().into_iter().filter(|m| to(m).contains("anna@example.pl")).count();
    env.apply(&nonce(0)).await;
    wait_phase(&api, "anna", MembershipPhase::Invited).await;
    eventually("the first invitation", WAIT, || async { (to_anna() == 1).then_some(()) }).await;
    env.apply(&nonce(1)).await;
    eventually("the second invitation", WAIT, || async { (to_anna() == 2).then_some(()) }).await;
    // The third change in a day waits; so do the ones after it.
    for n in 2..5 {
        env.apply(&nonce(n)).await;
        eventually(&format!("nonce n{n} held"), WAIT, || async {
            let m = api.get("anna").await.ok()?;
            let held = ready_reason(&m)? == ("False".to_owned(), "ResendLimited".to_owned());
            (held && m.metadata.generation == m.status.as_ref()?.observed_generation).then_some(())
        })
        .await;
    }
    let m = api.get("anna").await.expect("anna");
    let message =
        m.status.as_ref().and_then(|s| s.conditions.0.iter().find(|c| c.type_ == "Ready")).map(|c| c.message.clone());
    assert!(message.as_deref().is_some_and(|m| m.contains("--invitation-resends-per-day")), "{message:?}");
    // Bob, whose spec did not change, is not held back by Anna's limit.
    wait_phase(&api, "bob", MembershipPhase::Invited).await;
    let store = accountops::store::testkit::TestDatabase::store(&db);
    let issued: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invitations WHERE membership_id = (SELECT id FROM memberships WHERE owner_name = 'anna')",
    )
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert_eq!((issued, to_anna()), (2, 2), "two invitations and two mails, not five");
}
