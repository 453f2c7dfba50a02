//! Long relay outages and permanent refusals end to end: the operator on the real apiserver
//! and PostgreSQL, a real aiosmtpd that is down or refuses. An outage longer than the old
//! attempt budget only delays invitations (`Retrying` with the last error); a relay refusing an
//! address for good fails that invitation once the refusal limit is reached.

use std::time::Duration;

use accountops::api::{Membership, MembershipPhase};
use accountops::store::testkit::TestDatabase;
use kube::api::Api;

use crate::harness::{self, TestEnv};
use crate::membership_e2e::MEMBERS;
use crate::store_pg::{self, PgDatabase};
use crate::support::eventually;
use crate::support::operator::Operator;
use crate::support::smtp::{Security, SmtpServer};

const RESYNC: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(90);
/// Two refusals, and retries every second: the old budget would be spent in seconds.
const FAST_RETRIES: [&str; 3] = ["--mail-max-attempts=2", "--mail-retry-base=1s", "--mail-retry-max=1s"];

fn operator(env: &TestEnv, db: &PgDatabase, smtp: &SmtpServer) -> Operator {
    let smtp_url = format!("--smtp-url={}", smtp.url());
    let mut flags = vec![smtp_url.as_str()];
    flags.extend(FAST_RETRIES);
    Operator::start_with(env, &db.url, &format!("test-{}", env.ns), RESYNC, &flags)
}

/// `(status, reason, message)` of the Membership's `InvitationDelivered` condition.
fn delivered(m: &Membership) -> Option<(String, String, String)> {
    let c = m.status.as_ref()?.conditions.0.iter().find(|c| c.type_ == "InvitationDelivered")?;
    Some((format!("{:?}", c.status), c.reason.clone(), c.message.clone()))
}

fn phase(m: &Membership) -> Option<MembershipPhase> {
    m.status.as_ref()?.phase
}

/// `(attempts, refusals, state)` of each invitation mail, oldest first.
async fn outbox(db: &PgDatabase) -> Vec<(i64, i64, String)> {
    sqlx::query_as(
        "SELECT attempts, refusals, state FROM mail_outbox WHERE related_table = 'invitations' ORDER BY created_at",
    )
    .fetch_all(db.store().pool())
    .await
    .expect("read the outbox")
}

#[tokio::test]
async fn a_relay_down_longer_than_the_old_attempt_budget_delays_invitations_but_never_fails_them() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    db.store().migrate().await.expect("migrate");
    let Some(mut smtp) = SmtpServer::start(Security::Plain).await else { return };
    smtp.stop();
    let _operator = operator(&env, &db, &smtp);
    env.apply(MEMBERS).await;
    let api: Api<Membership> = env.api();
    let retrying_seen = std::sync::atomic::AtomicUsize::new(0);
    // Five attempts each: past the refusal limit of 2, with no refusal among them.
    eventually("five failed attempts per invitation", WAIT, || async {
        for name in ["anna", "bob"] {
            let m = api.get(name).await.ok()?;
            assert_ne!(phase(&m), Some(MembershipPhase::Failed), "{name} failed during an outage: {:?}", m.status);
            if let Some((status, reason, message)) = delivered(&m)
                && reason == "Retrying"
            {
                assert_eq!(status, "False");
                assert!(message.contains("onnection refused"), "the last error is shown: {message}");
                retrying_seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let rows = outbox(&db).await;
        (rows.len() == 2 && rows.iter().all(|(attempts, _, _)| *attempts >= 5)).then_some(())
    })
    .await;
    assert!(retrying_seen.into_inner() > 0, "Retrying was shown while the relay was down");
    for (attempts, refusals, state) in outbox(&db).await {
        assert_eq!((refusals, state.as_str()), (0, "pending"), "{attempts} attempts, none a refusal");
    }

    smtp.start_again().await;
    for name in ["anna", "bob"] {
        let m = eventually(&format!("{name} delivered"), WAIT, || async {
            let m = api.get(name).await.ok()?;
            (delivered(&m)?.1 == "Delivered").then_some(m)
        })
        .await;
        assert_eq!(phase(&m), Some(MembershipPhase::Invited), "{name}: invited, never failed");
    }
    tokio::time::sleep(RESYNC * 2).await;
    let mut ids: Vec<String> =
        smtp.messages().iter().filter_map(|m| m.header("Message-ID").map(str::to_owned)).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((smtp.messages().len(), ids.len()), (2, 2), "each invitation delivered once");
}

const REFUSED: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Membership
metadata:
  name: carol
spec:
  organizationRef: {name: org}
  email: refuse-carol@example.com
  roles: [Admin]
"#;

#[tokio::test]
async fn an_address_the_relay_refuses_for_good_fails_its_invitation_after_the_refusal_limit() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let Some(smtp) = SmtpServer::start_with_policy(Security::Plain).await else { return };
    let _operator = operator(&env, &db, &smtp);
    env.apply(MEMBERS).await;
    env.apply(REFUSED).await;
    let api: Api<Membership> = env.api();
    let carol = eventually("carol failed", WAIT, || async {
        let m = api.get("carol").await.ok()?;
        (phase(&m)? == MembershipPhase::Failed).then_some(m)
    })
    .await;
    let (status, reason, message) = delivered(&carol).expect("InvitationDelivered");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "DeliveryFailed"));
    assert!(message.contains("550") && message.contains("2 delivery attempts"), "{message}");
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT refusals, state, dead_reason FROM mail_outbox WHERE recipient LIKE '%refuse-carol%'")
            .fetch_all(db.store().pool())
            .await
            .expect("read the outbox");
    assert_eq!(rows, [(2, "dead".to_owned(), Some("refused".to_owned()))]);
    // The others went through the same relay.
    for name in ["anna", "bob"] {
        eventually(&format!("{name} delivered"), WAIT, || async {
            (delivered(&api.get(name).await.ok()?)?.1 == "Delivered").then_some(())
        })
        .await;
    }
    assert_eq!(smtp.messages().len(), 2);
}
