//! ProvisioningSync end to end: the operator on the real apiserver with PostgreSQL syncs an
//! Account to scim2-server, executes its order once across resyncs and a restart (welcome mail
//! through aiosmtpd), follows a rotated credentials Secret, and on `kubectl delete` deactivates
//! its users before the finalizer goes. The activation code and the token stay out of the
//! object, its Events and the operator's log.

use std::sync::Arc;
use std::time::Duration;

use accountops::api::{ProvisioningSync, SyncStatus};
use accountops::scim::{Credentials, EndpointGuard, Group, GuardSettings, ScimClient, ScimConfig, User};
use kube::api::Api;

use crate::harness;
use crate::store_pg;
use crate::support::operator::Operator;
use crate::support::scim::ScimServer;
use crate::support::smtp::{Security, SmtpServer};
use crate::support::{eventually, http};

const RESYNC: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(90);

pub(crate) const OBJECTS: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Account
metadata: {name: acct}
spec:
  legalName: Sync GmbH
  billingAddress: {street: ["Hafenstraße 1"], city: Hamburg, postalCode: "20457", country: DE}
  billingEmail: billing@example.de
  currency: EUR
---
apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata: {name: org}
spec:
  accountRef: {name: acct}
  displayName: Engineering
  roles: [{name: Admin}]
---
apiVersion: accountops.dev/v1alpha1
kind: Membership
metadata: {name: anna}
spec:
  organizationRef: {name: org}
  email: anna@example.de
  displayName: Anna Berg
  roles: [Admin]
---
apiVersion: accountops.dev/v1alpha1
kind: ProvisioningSync
metadata: {name: acct-scim}
spec:
  accountRef: {name: acct}
  endpoint:
    url: SCIM_URL
    credentialsSecretRef: {name: scim-credentials}
  resyncInterval: 1m
  portalUrl: https://portal.example.com/start
  orders:
    - {name: starter, product: starter-pack, quantity: 2, notificationEmail: orders@example.de}
"#;

pub(crate) fn secret(token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: scim-credentials}}\ntype: accountops.dev/scim-credentials\n\
         stringData: {{token: \"{token}\"}}\n"
    )
}

fn ready(sync: &ProvisioningSync) -> Option<(String, String)> {
    let c = sync.status.as_ref()?.conditions.0.iter().find(|c| c.type_ == "Ready")?;
    Some((format!("{:?}", c.status), c.reason.clone()))
}

/// Waits for `syncStatus` `want` with Ready reason `reason` and `users` users (when given).
async fn wait_sync(
    api: &Api<ProvisioningSync>,
    want: SyncStatus,
    reason: &str,
    users: Option<i32>,
) -> ProvisioningSync {
    eventually(&format!("acct-scim {want:?} {reason} {users:?}"), WAIT, || async {
        let s = api.get("acct-scim").await.ok()?;
        let status = s.status.as_ref()?;
        let matches = status.sync_status == Some(want)
            && status.conditions.0.iter().any(|c| c.type_ == "Ready" && c.reason == reason)
            && (users.is_none() || status.user_count == users);
        matches.then_some(s)
    })
    .await
}

#[tokio::test]
async fn a_sync_pushes_the_account_executes_its_order_once_and_follows_rotated_credentials() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let Some(scim) = ScimServer::start().await else { return };
    let Some(smtp) = SmtpServer::start(Security::Plain).await else { return };
    let smtp_url = format!("--smtp-url={}", smtp.url());
    let mut operator = Operator::start_with(&env, &db.url, &format!("test-{}", env.ns), RESYNC, &[smtp_url.as_str()]);

    env.apply(&secret(&scim.token)).await;
    env.apply(&OBJECTS.replace("SCIM_URL", &scim.url())).await;
    let api: Api<ProvisioningSync> = env.api();
    // The first sync may run before the membership exists; its watch brings the user in.
    let synced = wait_sync(&api, SyncStatus::Synchronized, "Available", Some(1)).await;
    let status = synced.status.clone().expect("status");
    assert!(status.external_id.is_some(), "{status:?}\n{}", operator.log());
    assert_eq!(status.group_count, Some(2), "account and organization groups: {status:?}");
    assert!(status.last_sync_time.is_some(), "{status:?}");
    assert_eq!(status.credentials_hash.as_deref().map(str::len), Some(64), "{status:?}");
    assert_eq!(ready(&synced), Some(("True".to_owned(), "Available".to_owned())));
    let asset = eventually("the asset in status", WAIT, || async {
        let s = api.get("acct-scim").await.ok()?;
        s.status?.assets.into_iter().find(|a| a.order == "starter")
    })
    .await;
    let welcome = |smtp: &SmtpServer| {
        smtp.messages()
            .into_iter()
            .filter(|m| m.header("To").is_some_and(|to| to.contains("orders@example.de")))
            .count()
    };
    eventually("the welcome mail", WAIT, || async { (welcome(&smtp) == 1).then_some(()) }).await;
    eventually("OrdersExecuted=True", WAIT, || async {
        let conditions = api.get("acct-scim").await.ok()?.status?.conditions.0;
        let c = conditions.into_iter().find(|c| c.type_ == "OrdersExecuted")?;
        (format!("{:?}", c.status) == "True" && c.reason == "OrdersExecuted").then_some(())
    })
    .await;
    // The activation code is in the mail and nowhere else: not in the object, its Events or the log.
    let mail = smtp.messages().into_iter().find(|m| m.header("To").is_some_and(|to| to.contains("orders@example.de")));
    let body = mail.and_then(|m| m.text).expect("a text part");
    let code = body.lines().find_map(|l| l.strip_prefix("Activation code: ")).expect("a code").trim().to_owned();
    assert!(code.len() >= 20, "{body}");
    let events = env.kubectl(["get", "events", "-o", "json"]).await.ok().stdout;
    assert!(events.contains("acct-scim"), "the sync has Events: {events}");
    let object = env.kubectl(["get", "psync", "acct-scim", "-o", "yaml"]).await.ok().stdout;
    for (what, text) in [("Events", &events), ("the object", &object), ("the log", &operator.log())] {
        assert!(!text.contains(&code), "the activation code leaked into {what}");
        assert!(!text.contains(&scim.token), "the SCIM token leaked into {what}");
    }

    // The customer redeems the code (as the portal does) and the sync's status shows it. (This
    // operator resyncs every 2 s; that the change poll finds activations is checked by the store
    // testkit's changes_report_owners_of_syncs_with_activated_assets.)
    let activated = std::process::Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["asset", "activate", &code, "--database", &db.url])
        .env_remove("DATABASE_URL")
        .output()
        .expect("accountops runs");
    assert!(activated.status.success(), "{}", String::from_utf8_lossy(&activated.stderr));
    eventually("activatedAt in status", Duration::from_secs(20), || async {
        let s = api.get("acct-scim").await.ok()?.status?;
        s.assets.first()?.activated_at.clone()
    })
    .await;

    // /metrics counts the requests to the SCIM system, whose breaker is closed.
    let endpoint = scim.url();
    let (_, metrics) = http::get(operator.health, "/metrics").await.expect("metrics answer");
    let answered = format!("accountops_scim_requests_total{{endpoint=\"{endpoint}\",outcome=\"answered\"}} ");
    let count = metrics.lines().find_map(|l| l.strip_prefix(answered.as_str())).and_then(|n| n.parse::<u64>().ok());
    assert!(count.is_some_and(|n| n > 0), "{answered}N in\n{metrics}");
    assert!(metrics.contains(&format!("accountops_scim_circuit_open{{endpoint=\"{endpoint}\"}} 0")), "{metrics}");

    // A wrong token: a clear reason, then the right one again.
    env.apply(&secret("wrong-token")).await;
    let failed = wait_sync(&api, SyncStatus::Error, "Unauthorized", None).await;
    let yaml = serde_json::to_string(&failed).expect("json");
    assert!(!yaml.contains("wrong-token") && !yaml.contains(&scim.token), "no credentials in the object");
    env.apply(&secret(&scim.token)).await;
    let back = wait_sync(&api, SyncStatus::Synchronized, "Available", Some(1)).await;
    let assets = back.status.clone().expect("status").assets;
    assert_eq!(assets.len(), 1, "{assets:?}");
    assert_eq!(assets[0].asset_id, asset.asset_id);
    // Several resyncs and an operator restart later, still exactly one asset and one welcome mail.
    tokio::time::sleep(Duration::from_secs(4)).await;
    operator.restart();
    let before = back.metadata.resource_version.clone();
    eventually("a resync after the restart", WAIT, || async {
        let s = api.get("acct-scim").await.ok()?;
        let again =
            s.metadata.resource_version != before && s.status.as_ref()?.sync_status == Some(SyncStatus::Synchronized);
        again.then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let assets = api.get("acct-scim").await.expect("the sync").status.expect("status").assets;
    assert_eq!((assets.len(), assets[0].asset_id.as_str()), (1, asset.asset_id.as_str()), "{assets:?}");
    assert_eq!(welcome(&smtp), 1, "{}", operator.log());

    // An executed order's quantity is as immutable as its product: refused, nothing ordered
    // again, and accepted once the edit is undone.
    let objects = OBJECTS.replace("SCIM_URL", &scim.url());
    env.apply(&objects.replace("quantity: 2", "quantity: 3")).await;
    let refused = eventually("OrderImmutable for the edited quantity", WAIT, || async {
        let s = api.get("acct-scim").await.ok()?;
        let conditions = &s.status.as_ref()?.conditions.0;
        conditions.iter().any(|c| c.type_ == "OrdersExecuted" && c.reason == "OrderImmutable").then_some(s)
    })
    .await;
    let message = refused.status.as_ref().and_then(|s| s.conditions.0.iter().find(|c| c.reason == "OrderImmutable"));
    assert!(message.is_some_and(|c| c.message.contains("starter")), "names the order: {:?}", refused.status);
    env.apply(&objects).await;
    let undone = wait_sync(&api, SyncStatus::Synchronized, "Available", Some(1)).await;
    assert_eq!(undone.status.expect("status").assets.len(), 1, "still one asset");
    assert_eq!(welcome(&smtp), 1, "no second welcome mail");

    // kubectl delete (deletionPolicy Delete): Anna is deactivated in the SCIM system before the
    // finalizer goes, the groups are deleted, the asset stays.
    let deleted = env.kubectl(["delete", "psync", "acct-scim", "--wait=true", "--timeout=60s"]).await;
    assert!(deleted.status.success(), "{}{}\n{}", deleted.stdout, deleted.stderr, operator.log());
    let scim_client = {
        let config = ScimConfig::new(&scim.url(), Credentials::Bearer(scim.token.clone()));
        ScimClient::new(&config, Arc::new(EndpointGuard::new(&scim.url(), GuardSettings::default()))).expect("client")
    };
    let anna = scim_client.find_one::<User>("userName", "anna@example.de").await.expect("filter").expect("kept");
    assert_eq!(anna.active, Some(false), "deactivated, not deleted");
    assert!(scim_client.list::<Group>(None, 50, 100).await.expect("groups").is_empty(), "its groups are deleted");
    let store = accountops::store::Store::connect(&db.url).await.expect("connect");
    let mut conn = store.acquire().await.expect("connection");
    let archived: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provisioning_syncs WHERE archived_at IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .expect("count");
    let assets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assets").fetch_one(&mut *conn).await.expect("count");
    assert_eq!((archived, assets), (1, 1), "the record is archived, the asset kept");
}
