//! Running the operator as a platform team does: health and readiness probes, Prometheus
//! metrics, and leader election between two replicas (both ready, one leading).

use std::time::Duration;

use accountops::api::Account;
use kube::api::Api;

use crate::harness;
use crate::membership_e2e::MEMBERS;
use crate::operator::{ACCOUNT, wait_ready};
use crate::store_pg;
use crate::support::eventually;
use crate::support::http;
use crate::support::operator::Operator;
use crate::support::proxy::Proxy;
use crate::support::smtp::{Security, SmtpServer};

const RESYNC: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn health_readiness_and_metrics_are_served() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let operator = Operator::start(&env, &db.url, &format!("test-{}", env.ns), RESYNC);
    let addr = operator.health;
    eventually("/healthz", WAIT, || async { (http::get(addr, "/healthz").await?.0 == 200).then_some(()) }).await;
    eventually("/readyz", WAIT, || async { (http::get(addr, "/readyz").await?.0 == 200).then_some(()) }).await;

    let accounts: Api<Account> = env.api();
    env.apply(ACCOUNT).await;
    wait_ready(&accounts, "billing", "True", None).await;
    let (status, metrics) = http::get(addr, "/metrics").await.expect("metrics answer");
    assert_eq!(status, 200);
    for series in [
        r#"accountops_reconciles_total{kind="Account",result="success"}"#,
        r#"accountops_reconcile_duration_seconds_bucket{le="0.005",kind="Account"}"#,
        r#"accountops_reconciles_in_flight{kind="Account"} 0"#,
        "accountops_database_errors_total 0",
        "accountops_outbox_pending 0",
        "accountops_leader 1",
        r#"accountops_queue_depth{kind="Account"} 0"#,
        r#"accountops_objects{kind="Account"} 1"#,
        r#"accountops_objects_not_ready{kind="Account"} 0"#,
        r#"accountops_objects_not_synced{kind="Account"} 0"#,
        r#"accountops_objects_paused{kind="Account"} 0"#,
        r#"accountops_objects{kind="Membership"} 0"#,
        concat!(r#"accountops_build_info{version=""#, env!("CARGO_PKG_VERSION")),
        "# TYPE accountops_mail_delivery_failures counter",
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
    assert_eq!(http::get(addr, "/nothing").await.map(|r| r.0), Some(404));

    // The gauges count what is not Ready and what is paused, not only zeros.
    env.apply(ORPHAN).await;
    env.kubectl(["annotate", "account", "billing", "accountops.dev/paused=true"]).await.ok();
    let counted = [
        r#"accountops_objects{kind="Organization"} 1"#,
        r#"accountops_objects_not_ready{kind="Organization"} 1"#,
        r#"accountops_objects_paused{kind="Account"} 1"#,
    ];
    eventually("the gauges to count the orphan and the paused account", WAIT, || async {
        let (_, metrics) = http::get(addr, "/metrics").await?;
        counted.iter().all(|series| metrics.contains(series)).then_some(())
    })
    .await;
}

/// An Organization whose Account does not exist: never Ready.
const ORPHAN: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata:
  name: orphan
spec:
  accountRef:
    name: nowhere
  displayName: Orphan
"#;

#[tokio::test]
async fn readyz_fails_while_the_database_is_unreachable() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let host_port = db.url.split('@').nth(1).and_then(|r| r.split('/').next()).expect("host:port");
    let target = tokio::net::lookup_host(host_port).await.expect("resolve").next().expect("address");
    let mut proxy = Proxy::start(target).await;
    let url = db.url.replace(&format!(":{}/", target.port()), &format!(":{}/", proxy.addr.port()));
    let operator = Operator::start(&env, &url, &format!("test-{}", env.ns), RESYNC);
    let addr = operator.health;
    eventually("ready", WAIT, || async { (http::get(addr, "/readyz").await?.0 == 200).then_some(()) }).await;
    let accounts: Api<Account> = env.api();
    env.apply(ACCOUNT).await;
    wait_ready(&accounts, "billing", "True", None).await;
    proxy.cut();
    let body = eventually("not ready", WAIT, || async {
        let (status, body) = http::get(addr, "/readyz").await?;
        (status == 503).then_some(body)
    })
    .await;
    assert!(body.contains("database not reachable"), "{body}");
    assert_eq!(http::get(addr, "/healthz").await.map(|r| r.0), Some(200), "alive while the database is down");
    let errors = r#"accountops_reconcile_errors_total{kind="Account",category="database_unavailable"}"#;
    eventually("database errors counted", WAIT, || async {
        let (_, metrics) = http::get(addr, "/metrics").await?;
        (metrics.contains(errors) && !metrics.contains("accountops_database_errors_total 0")).then_some(())
    })
    .await;
    proxy.restore().await;
    eventually("ready again", WAIT, || async { (http::get(addr, "/readyz").await?.0 == 200).then_some(()) }).await;
}

fn reconciles(log: &str) -> usize {
    log.lines().filter(|l| l.contains("reconciled")).count()
}

#[tokio::test]
async fn two_replicas_one_leads_and_a_standby_takes_over() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let Some(smtp) = SmtpServer::start(Security::Plain).await else { return };
    let cluster = format!("test-{}", env.ns);
    let lease_ns = format!("--lease-namespace={}", env.ns);
    let smtp_url = format!("--smtp-url={}", smtp.url());
    let flags = ["--leader-election", lease_ns.as_str(), "--lease-duration=4s", smtp_url.as_str()];
    let mut first = Operator::start_with(&env, &db.url, &cluster, RESYNC, &flags);
    eventually("the first replica leads", WAIT, || async {
        (http::get(first.health, "/leader").await?.0 == 200).then_some(())
    })
    .await;
    let second = Operator::start_with(&env, &db.url, &cluster, RESYNC, &flags);
    // Readiness is not leadership: the standby is ready (it can take over), so a Deployment of
    // two replicas is Available; only /leader and the leader gauge tell them apart.
    let standby = eventually("the second replica ready as a standby", WAIT, || async {
        let (status, body) = http::get(second.health, "/readyz").await?;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(standby, "ready (standby)\n");
    let ready = http::get(first.health, "/readyz").await.expect("leader answers");
    assert_eq!(ready, (200, "ready (leader)\n".to_owned()));
    let (status, body) = http::get(second.health, "/leader").await.expect("standby answers");
    assert_eq!((status, body.as_str()), (503, "standby: another replica holds the leader lease\n"));
    let gauge = |metrics: String, value: u8| metrics.contains(&format!("accountops_leader {value}"));
    assert!(gauge(http::get(first.health, "/metrics").await.expect("metrics").1, 1));
    assert!(gauge(http::get(second.health, "/metrics").await.expect("metrics").1, 0));

    let accounts: Api<Account> = env.api();
    env.apply(ACCOUNT).await;
    env.apply(MEMBERS).await;
    wait_ready(&accounts, "billing", "True", None).await;
    eventually("two invitation mails", WAIT, || async { (smtp.messages().len() >= 2).then_some(()) }).await;
    assert!(reconciles(&first.log()) > 0);
    assert_eq!(reconciles(&second.log()), 0, "the standby reconciles nothing: {}", second.log());

    // The leader dies without releasing the lease; the standby takes over once it expires.
    let pattern = format!("health-addr={}", first.health);
    let killed = std::process::Command::new("pkill").args(["-KILL", "-f", &pattern]).status().expect("pkill");
    assert!(killed.success(), "the leader was killed");
    eventually("the standby to lead", Duration::from_secs(30), || async {
        (http::get(second.health, "/leader").await?.0 == 200).then_some(())
    })
    .await;
    env.apply(&ACCOUNT.replace("city: Gdańsk", "city: Sopot")).await;
    eventually("the new leader to reconcile", WAIT, || async { (reconciles(&second.log()) > 0).then_some(()) }).await;
    first.stop();

    // A leader stopped with SIGTERM releases the lease at once.
    let mut second = second;
    let third = Operator::start_with(&env, &db.url, &cluster, RESYNC, &flags);
    tokio::time::sleep(Duration::from_secs(1)).await;
    second.stop();
    assert!(second.log().contains("released the leader lease"), "{}", second.log());
    eventually("the third replica to lead", Duration::from_secs(20), || async {
        (http::get(third.health, "/leader").await?.0 == 200).then_some(())
    })
    .await;
    tokio::time::sleep(RESYNC * 2).await;
    assert_eq!(smtp.messages().len(), 2, "no invitation was sent twice across three leaders");
}

#[tokio::test]
async fn json_logs_carry_a_reconcile_id_and_the_object_flat_on_every_reconcile_line_and_never_the_password() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let operator = Operator::start_with(&env, &db.url, &format!("test-{}", env.ns), RESYNC, &["--log-format=json"]);
    let accounts: Api<Account> = env.api();
    env.apply(ACCOUNT).await;
    wait_ready(&accounts, "billing", "True", None).await;
    // Two reconciles (the first and a resync), each saying "reconciled" once.
    let log = eventually("two reconciles logged", WAIT, || async {
        let log = operator.log();
        (log.matches(r#""message":"reconciled""#).count() >= 2).then_some(log)
    })
    .await;
    let mut ids_of_reconciled = Vec::new();
    let mut reconcile_lines = 0;
    for line in log.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON log line ({e}): {line}"));
        let in_reconcile = value["target"] == "accountops::operator::reconcile";
        if !in_reconcile && value.get("reconcile_id").is_none() {
            continue;
        }
        // Flat, top-level fields on every line inside a reconcile, whatever module logged it.
        let id = value["reconcile_id"].as_str().unwrap_or_else(|| panic!("a reconcile_id: {line}"));
        assert_eq!(id.len(), 12, "{line}");
        assert_eq!(value["kind"], "Account", "{line}");
        assert_eq!(value["namespace"], env.ns.as_str(), "{line}");
        assert_eq!(value["name"], "billing", "{line}");
        assert!(value.get("span").is_none(), "nothing nested: {line}");
        if value["message"] == "reconciled" {
            ids_of_reconciled.push(id.to_owned());
        }
        reconcile_lines += 1;
    }
    assert!(reconcile_lines >= 2);
    let distinct: std::collections::HashSet<_> = ids_of_reconciled.iter().collect();
    assert_eq!(distinct.len(), ids_of_reconciled.len(), "one ID per reconcile: {ids_of_reconciled:?}");
    let password_in_url = db.url.split('@').next().unwrap_or_default().to_owned();
    assert!(!log.contains(&password_in_url), "the database password never appears in logs");
}
