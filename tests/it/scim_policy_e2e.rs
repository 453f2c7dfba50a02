//! The operator on the real apiserver refuses what an attacker with edit rights in one
//! namespace could aim a ProvisioningSync at, and still syncs an allowed endpoint:
//!
//! | sync | refused with |
//! |---|---|
//! | credentials from a service account token Secret | `CredentialsNotOptedIn`, nothing sent |
//! | credentials from an Opaque Secret | `CredentialsNotOptedIn`, nothing sent |
//! | the metadata address 169.254.169.254 | `EndpointNotAllowed` (link-local), no connection |
//! | `http://` to a public address | `EndpointNotAllowed` (plain http) |
//! | `localhost`, which resolves to a denied range | `EndpointNotAllowed` at the resolver |
//! | a URL with a password in it | `InvalidConfig`; the password nowhere in output |
//!
//! The operator runs with `--scim-deny-cidr=127.0.0.1/32,::1/128`; scim2-server and the
//! recording server listen on 127.0.0.2. A refusal is written once: the status stays as it is
//! over later resyncs.

use std::collections::BTreeMap;
use std::time::Duration;

use accountops::api::{ProvisioningSync, SyncStatus};
use accountops::core::sync::credentials::content_hash;
use accountops::store::Store;
use accountops::store::keys::{self, CREDENTIALS_HASH};
use kube::api::Api;

use crate::harness;
use crate::store_pg;
use crate::support::hostile::HostileServer;
use crate::support::operator::Operator;
use crate::support::scim::ScimServer;
use crate::support::{eventually, http};

const WAIT: Duration = Duration::from_secs(60);
const URL_PASSWORD: &str = "s3cret-in-the-url";

const ACCOUNT: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Account
metadata: {name: acct}
spec:
  legalName: Policy GmbH
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
"#;

fn secrets(token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: scim-credentials}}\ntype: accountops.dev/scim-credentials\n\
         stringData: {{token: \"{token}\"}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: app-database}}\ntype: Opaque\n\
         stringData: {{token: the-apps-password}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: deployer-token\n  \
         annotations: {{kubernetes.io/service-account.name: default}}\ntype: kubernetes.io/service-account-token\n\
         stringData: {{token: the-deployers-token}}\n"
    )
}

fn sync(name: &str, url: &str, secret: &str) -> String {
    format!(
        "---\napiVersion: accountops.dev/v1alpha1\nkind: ProvisioningSync\nmetadata: {{name: {name}}}\nspec:\n  \
         accountRef: {{name: acct}}\n  endpoint:\n    url: {url}\n    credentialsSecretRef: {{name: {secret}}}\n  \
         resyncInterval: 1m\n  portalUrl: https://portal.example.com/start\n"
    )
}

/// `(Ready status, reason, message)` of a sync once its Ready reason is `reason`.
async fn wait_reason(api: &Api<ProvisioningSync>, name: &str, reason: &str) -> ProvisioningSync {
    eventually(&format!("{name} Ready reason {reason}"), WAIT, || async {
        let s = api.get(name).await.ok()?;
        let ready = s.status.as_ref()?.conditions.0.iter().find(|c| c.type_ == "Ready")?.clone();
        (ready.reason == reason).then_some(s)
    })
    .await
}

fn ready_message(sync: &ProvisioningSync) -> String {
    let status = sync.status.as_ref().expect("status");
    status.conditions.0.iter().find(|c| c.type_ == "Ready").map(|c| c.message.clone()).unwrap_or_default()
}

#[tokio::test]
async fn the_operator_refuses_confused_deputies_and_forbidden_endpoints_and_syncs_an_allowed_one() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let Some(scim) = ScimServer::start_on([127, 0, 0, 2]).await else { return };
    let recorder = HostileServer::start_on([127, 0, 0, 2]).await;
    let mut operator = Operator::start_with(
        &env,
        &db.url,
        &format!("test-{}", env.ns),
        Duration::from_secs(2),
        &["--scim-deny-cidr=127.0.0.1/32,::1/128"],
    );
    env.apply(&secrets(&scim.token)).await;
    let mut objects = ACCOUNT.to_owned();
    for (name, url, secret) in [
        ("allowed", scim.url(), "scim-credentials"),
        ("steal-deployer-token", recorder.url("sa-token"), "deployer-token"),
        ("steal-app-password", recorder.url("opaque"), "app-database"),
        ("metadata", "http://169.254.169.254/latest/scim/v2".to_owned(), "scim-credentials"),
        ("plain-http", "http://203.0.113.10/scim/v2".to_owned(), "scim-credentials"),
        ("rebound", format!("http://localhost:{}/rebound/v2", recorder.addr.port()), "scim-credentials"),
        ("password-in-url", format!("http://sync:{URL_PASSWORD}@{}/v2", scim.addr), "scim-credentials"),
    ] {
        objects.push_str(&sync(name, &url, secret));
    }
    env.apply(&objects).await;
    let api: Api<ProvisioningSync> = env.api();

    // The allowed endpoint syncs (the account group and, once the organization is there, its
    // group); its credentials hash is keyed with the database's key.
    let allowed = eventually("allowed synced with the organization's group", WAIT, || async {
        let s = wait_reason(&api, "allowed", "Available").await;
        (s.status.as_ref()?.group_count == Some(2)).then_some(s)
    })
    .await;
    let status = allowed.status.clone().expect("status");
    assert_eq!((status.sync_status, status.group_count), (Some(SyncStatus::Synchronized), Some(2)), "{status:?}");
    let store = Store::connect(&db.url).await.expect("connect");
    let key = keys::get_or_create(&mut store.acquire().await.expect("conn"), CREDENTIALS_HASH, jiff::Timestamp::now())
        .await
        .expect("the operator's key");
    let data: BTreeMap<String, Vec<u8>> = [("token".to_owned(), scim.token.clone().into_bytes())].into();
    assert_eq!(status.credentials_hash, Some(content_hash(&data, &key)), "HMAC under the database's key");

    for (name, reason, says) in [
        ("steal-deployer-token", "CredentialsNotOptedIn", "Secret deployer-token in"),
        (
            "steal-app-password",
            "CredentialsNotOptedIn",
            "has type Opaque; only a Secret of type accountops.dev/scim-credentials",
        ),
        ("metadata", "EndpointNotAllowed", "169.254.169.254 is link-local"),
        ("plain-http", "EndpointNotAllowed", "http:// to 203.0.113.10, which is not loopback"),
        ("rebound", "EndpointNotAllowed", "denied by --scim-deny-cidr"),
        ("password-in-url", "InvalidConfig", "base URL must be http(s) without credentials in it"),
    ] {
        let refused = wait_reason(&api, name, reason).await;
        let message = ready_message(&refused);
        assert!(message.contains(says), "{name}: {message}\n{}", operator.log());
        let synced =
            refused.status.as_ref().expect("status").conditions.0.iter().find(|c| c.type_ == "Synced").cloned();
        assert_eq!(
            synced.map(|c| (format!("{:?}", c.status), c.reason)),
            Some(("False".into(), reason.into())),
            "{name}"
        );
    }
    assert!(
        ready_message(&api.get("steal-deployer-token").await.expect("sync")).contains("is a service account token"),
        "the service account token is named as such"
    );
    assert!(recorder.requests().is_empty(), "nothing reached the recording server: {:?}", recorder.requests());

    // Written once: later resyncs leave the refusals' status as it is.
    let versions = |syncs: Vec<ProvisioningSync>| -> Vec<(String, Option<String>)> {
        syncs.into_iter().map(|s| (s.metadata.name.unwrap_or_default(), s.metadata.resource_version)).collect()
    };
    let refused_names = ["steal-deployer-token", "steal-app-password", "metadata", "plain-http", "rebound"];
    let mut before = Vec::new();
    for name in refused_names {
        before.push(api.get(name).await.expect("sync"));
    }
    let before = versions(before);
    tokio::time::sleep(Duration::from_secs(7)).await;
    let mut after = Vec::new();
    for name in refused_names {
        after.push(api.get(name).await.expect("sync"));
    }
    assert_eq!(versions(after), before, "no status write without a change\n{}", operator.log());
    assert!(recorder.requests().is_empty(), "{:?}", recorder.requests());

    // No secret in the objects, their Events, the log or the metrics.
    let events = env.kubectl(["get", "events", "-o", "json"]).await.ok().stdout;
    assert!(events.contains("CredentialsNotOptedIn") && events.contains("EndpointNotAllowed"), "{events}");
    // The specs hold what their authors wrote (the URL with its password); statuses nothing.
    let statuses: Vec<String> = api
        .list(&Default::default())
        .await
        .expect("syncs")
        .items
        .into_iter()
        .map(|s| serde_json::to_string(&s.status).expect("json"))
        .collect();
    let statuses = statuses.join("\n");
    let (_, metrics) = http::get(operator.health, "/metrics").await.expect("metrics");
    assert!(metrics.contains("accountops_scim_requests_total"), "{metrics}");
    for (what, text) in [("Events", &events), ("statuses", &statuses), ("log", &operator.log()), ("metrics", &metrics)]
    {
        for secret in ["the-apps-password", "the-deployers-token", scim.token.as_str(), URL_PASSWORD] {
            assert!(!text.contains(secret), "{secret} leaked into {what}");
        }
    }
    operator.stop();
}
