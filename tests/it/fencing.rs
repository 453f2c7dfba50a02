//! Fencing: a leader cut off from the apiserver (a frozen TCP proxy between it and the real
//! apiserver; PostgreSQL and SMTP stay up) stops writing rows and sending mail before the
//! standby takes over, and every mail still goes out once.
//!
//! Who wrote when is taken from the database itself: each replica connects with its own
//! `application_name`, and a trigger the test installs records every write to `accounts` with
//! the server's clock. The standby's takeover time is the Lease's `acquireTime` (the same
//! machine's clock).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use accountops::api::Account;
use accountops::store::outbox::{self, NewMail, Origin};
use accountops::store::testkit::TestDatabase;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;

use crate::harness::{self, Credential};
use crate::operator::{ACCOUNT, wait_ready};
use crate::store_pg;
use crate::support::operator::Operator;
use crate::support::proxy::Proxy;
use crate::support::smtp::{Security, SmtpServer};
use crate::support::{eventually, http};

const RESYNC: Duration = Duration::from_secs(1);
const WAIT: Duration = Duration::from_secs(60);
const LEASE: &str = "accountops-leader";

const AUDIT: &str = r#"
CREATE TABLE write_audit (app TEXT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION audit_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO write_audit (app) VALUES (current_setting('application_name'));
  RETURN NULL;
END $$;
CREATE TRIGGER accounts_audit AFTER INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION audit_write();
"#;

fn with_app(url: &str, app: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={app}")
}

/// The last write `app` made to `accounts`, in seconds since the epoch (server clock).
async fn last_write(db: &store_pg::PgDatabase, app: &str) -> Option<f64> {
    sqlx::query_scalar("SELECT EXTRACT(EPOCH FROM MAX(at))::DOUBLE PRECISION FROM write_audit WHERE app = $1")
        .bind(app)
        .fetch_one(db.store().pool())
        .await
        .expect("read the audit")
}

fn seconds(t: jiff::Timestamp) -> f64 {
    t.as_microsecond() as f64 / 1e6
}

#[tokio::test]
async fn a_leader_cut_off_from_the_apiserver_stops_writing_and_sending_before_the_standby_takes_over() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let Some(smtp) = SmtpServer::start(Security::Plain).await else { return };
    db.store().migrate().await.expect("migrate");
    sqlx::raw_sql(sqlx::AssertSqlSafe(AUDIT)).execute(db.store().pool()).await.expect("install the audit trigger");

    // The leader reaches the apiserver through a proxy the test freezes.
    let apiserver = env.plane.server.trim_start_matches("https://").to_owned();
    let target = tokio::net::lookup_host(&apiserver).await.expect("resolve").next().expect("address");
    let mut proxy = Proxy::start(target).await;
    let kubeconfig = tempfile::NamedTempFile::new().expect("kubeconfig");
    let admin = std::fs::read_to_string(env.plane.kubeconfig()).expect("admin kubeconfig");
    std::fs::write(kubeconfig.path(), admin.replace(&env.plane.server, &format!("https://{}", proxy.addr)))
        .expect("write kubeconfig");
    let through_proxy = Credential { user: env.plane.admin.user.clone(), kubeconfig: kubeconfig.path().to_owned() };

    let cluster = format!("test-{}", env.ns);
    let (lease_ns, smtp_url) = (format!("--lease-namespace={}", env.ns), format!("--smtp-url={}", smtp.url()));
    let flags =
        ["--leader-election", lease_ns.as_str(), "--lease-duration=4s", smtp_url.as_str(), "--mail-claim-lease=3s"];
    let leader = Operator::start_as(&env, &through_proxy, &with_app(&db.url, "op-a"), &cluster, RESYNC, &flags);
    eventually("the first replica leads", WAIT, || async {
        (http::get(leader.health, "/leader").await?.0 == 200).then_some(())
    })
    .await;
    let standby = Operator::start_with(&env, &with_app(&db.url, "op-b"), &cluster, RESYNC, &flags);
    eventually("the standby is ready", WAIT, || async {
        (http::get(standby.health, "/readyz").await?.0 == 200).then_some(())
    })
    .await;
    let leases: Api<Lease> = env.api();
    let holder_a = leases.get(LEASE).await.expect("lease").spec.and_then(|s| s.holder_identity).expect("a holder");
    let accounts: Api<Account> = env.api();
    env.apply(ACCOUNT).await;
    wait_ready(&accounts, "billing", "True", None).await;
    let account_id: String =
        sqlx::query_scalar("SELECT id FROM accounts").fetch_one(db.store().pool()).await.expect("the account row");
    assert!(last_write(&db, "op-a").await.is_some(), "the leader wrote the account");

    // Until the standby has led for a while: drift in the row, mail queued by the cluster.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop, cluster) = (db.store().clone(), stop.clone(), cluster.clone());
        tokio::spawn(async move {
            let mut queued = Vec::new();
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let mut c = store.acquire().await.expect("conn");
                sqlx::query("UPDATE accounts SET legal_name = $1 WHERE id = $2")
                    .bind(format!("Drift {n}"))
                    .bind(&account_id)
                    .execute(&mut *c)
                    .await
                    .expect("drift");
                let mail = NewMail {
                    message_id: format!("<fence-{n}@test.example>"),
                    kind: "welcome".into(),
                    recipient: format!("user{n}@example.com"),
                    subject: "Welcome".into(),
                    body_text: "Hello".into(),
                    body_html: None,
                    locale: "en".into(),
                    related: None,
                    origin: Origin::Operator(cluster.clone()),
                    namespace: Some("team".into()),
                };
                outbox::enqueue(&mut c, &mail, accountops::store::time::now()).await.expect("enqueue");
                queued.push(mail.message_id);
                drop(c);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            queued
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.freeze();
    eventually("the standby takes over", WAIT, || async {
        (http::get(standby.health, "/leader").await?.0 == 200).then_some(())
    })
    .await;
    eventually("the new leader corrects drift", WAIT, || async { last_write(&db, "op-b").await }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    let queued = writer.await.expect("writer");

    let lease = leases.get(LEASE).await.expect("lease").spec.expect("spec");
    assert_ne!(lease.holder_identity.as_deref(), Some(holder_a.as_str()), "the standby holds the lease");
    let taken_over = seconds(lease.acquire_time.expect("acquireTime").0);
    let last_a = last_write(&db, "op-a").await.expect("the old leader's writes");
    assert!(last_a < taken_over, "the old leader wrote {:.3}s after the standby took over", last_a - taken_over);

    let sent = eventually("every queued mail sent", WAIT, || async {
        let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT message_id, state, sent_at, claimed_by FROM mail_outbox WHERE message_id LIKE '<fence-%'",
        )
        .fetch_all(db.store().pool())
        .await
        .ok()?;
        (rows.len() == queued.len() && rows.iter().all(|r| r.1 == "sent")).then_some(rows)
    })
    .await;
    let mut by_leader = BTreeMap::<bool, usize>::new();
    for (id, _, sent_at, sender) in &sent {
        let by_a = sender.as_deref().is_some_and(|s| s.contains(&format!("/{holder_a}#")));
        *by_leader.entry(by_a).or_default() += 1;
        if by_a {
            let at: jiff::Timestamp = sent_at.as_deref().expect("sent_at").parse().expect("timestamp");
            assert!(seconds(at) < taken_over, "{id} sent by the old leader after the takeover");
        }
    }
    assert!(by_leader.get(&false).copied().unwrap_or(0) > 0, "the new leader sent the rest: {by_leader:?}");
    let mut received: Vec<String> =
        smtp.messages().iter().filter_map(|m| m.header("Message-ID").map(str::to_owned)).collect();
    received.retain(|id| id.starts_with("<fence-"));
    received.sort();
    let mut expected = queued.clone();
    expected.sort();
    assert_eq!(received, expected, "every mail exactly once");
}
