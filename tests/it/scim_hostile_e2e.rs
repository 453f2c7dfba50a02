//! The operator against hostile SCIM servers (`tests/tools/hostile_scim.py`): a body without
//! end, a declared 10 GiB body, silence, a 500 with a long page, a redirect. Each sync ends in a
//! clear error category, and the operator's peak memory (`VmHWM`, counted, not timed) stays far
//! below what one unbounded body would have cost (256 MiB streamed per request) and below the
//! chart's 256 MiB limit.

use std::time::Duration;

use accountops::api::{ProvisioningSync, SyncStatus};
use kube::api::Api;

use crate::harness;
use crate::store_pg;
use crate::support::eventually;
use crate::support::hostile::HostileServer;
use crate::support::operator::Operator;

const WAIT: Duration = Duration::from_secs(90);
/// Half the chart's limit and far below one 256 MiB body; a debug build of the operator
/// peaks at some 50 MiB here.
const PEAK_MEMORY_KIB: u64 = 128 << 10;

const OBJECTS: &str = r#"apiVersion: v1
kind: Secret
metadata: {name: scim-credentials}
type: accountops.dev/scim-credentials
stringData: {token: hostile-test-token}
---
apiVersion: accountops.dev/v1alpha1
kind: Account
metadata: {name: acct}
spec:
  legalName: Hostile GmbH
  billingAddress: {street: ["Hafenstraße 1"], city: Hamburg, postalCode: "20457", country: DE}
  billingEmail: billing@example.de
  currency: EUR
"#;

fn sync(mode: &str, url: &str) -> String {
    format!(
        "---\napiVersion: accountops.dev/v1alpha1\nkind: ProvisioningSync\nmetadata: {{name: {mode}}}\nspec:\n  \
         accountRef: {{name: acct}}\n  endpoint:\n    url: {url}\n    credentialsSecretRef: {{name: scim-credentials}}\n  \
         resyncInterval: 10m\n  portalUrl: https://portal.example.com/start\n"
    )
}

#[tokio::test]
async fn hostile_scim_servers_fail_their_syncs_clearly_and_the_operator_stays_small() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let server = HostileServer::start().await;
    let operator = Operator::start_with(
        &env,
        &db.url,
        &format!("test-{}", env.ns),
        Duration::from_secs(5),
        // A breaker that stays closed: each sync shows its own server's answer, not CircuitOpen.
        &["--scim-timeout=2s", "--scim-max-response-bytes=1Mi", "--scim-breaker-failures=1000"],
    );
    let modes = [
        ("huge", "ResponseTooLarge"),
        ("declared", "ResponseTooLarge"),
        ("silent", "Timeout"),
        ("error", "ServerError"),
        ("redirect", "RedirectNotFollowed"),
    ];
    let mut objects = OBJECTS.to_owned();
    for (mode, _) in modes {
        objects.push_str(&sync(mode, &server.url(mode)));
    }
    env.apply(&objects).await;
    let api: Api<ProvisioningSync> = env.api();
    for (mode, reason) in modes {
        let failed = eventually(&format!("{mode}: {reason}"), WAIT, || async {
            let s = api.get(mode).await.ok()?;
            let status = s.status.clone()?;
            let ready = status.conditions.0.iter().find(|c| c.type_ == "Ready")?.clone();
            (ready.reason == reason && status.sync_status == Some(SyncStatus::Error)).then_some(ready)
        })
        .await;
        assert!(!failed.message.contains("CALL-ME"), "{mode}: the server's page is not repeated: {}", failed.message);
        assert!(failed.message.len() < 300, "{mode}: {}", failed.message);
    }
    assert!(server.requests_to("target").is_empty(), "the redirect was not followed: {:?}", server.requests());
    let bodies = server.requests_to("huge").len() + server.requests_to("declared").len();
    assert!(bodies >= 2, "both large bodies were asked for: {:?}", server.requests());
    let peak = operator.peak_memory_kib().expect("the operator's VmHWM");
    assert!(peak < PEAK_MEMORY_KIB, "peak memory {peak} KiB after {bodies} huge answers\n{}", operator.log());
    eprintln!("operator peak memory: {peak} KiB after {bodies} huge answers");
}
