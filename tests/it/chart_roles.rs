//! The chart's ClusterRoles for people, installed on the real apiserver with ClusterRole
//! aggregation running (kube-controller-manager's controller): a tenant bound to the built-in
//! `edit` in one namespace manages the five kinds there, not elsewhere, and never writes their
//! status; one bound to `view` reads them and writes nothing.

use std::time::Duration;

use serde_json::Value;

use crate::chart::{KINDS, can_i, chart, granted};
use crate::harness::{self, TestEnv};
use crate::support::eventually;

/// Waits until the built-in ClusterRole `role` holds `verb` on every kind (aggregated by the
/// controller logging to `log`).
async fn aggregated(env: &TestEnv, role: &str, verb: &str, log: &str) {
    eventually(
        &format!("the built-in {role} to aggregate {verb} on the five kinds (log: {log})"),
        Duration::from_secs(60),
        || async {
            let out = env.kubectl(["get", "clusterrole", role, "-o", "json"]).await.ok();
            let role: Value = serde_json::from_str(&out.stdout).expect("ClusterRole JSON");
            let rules = if role["rules"].is_array() { role["rules"].clone() } else { Value::Array(Vec::new()) };
            let resources = granted(&rules, verb);
            KINDS.iter().all(|kind| resources.contains(kind)).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_tenant_with_edit_in_one_namespace_manages_the_kinds_there_and_never_their_status() {
    let Some(env) = harness::test_env().await else { return };
    let log = env.plane.run_role_aggregation();
    let out = env.helm().args(["install", "accountops"]).arg(chart()).run().await.ok();
    assert!(out.stdout.contains("STATUS: deployed"), "{out:?}");
    aggregated(&env, "edit", "create", &log).await;
    aggregated(&env, "view", "list", &log).await;

    // Users of this test only, so no other test's binding can lend them anything.
    let (editor, viewer) = (format!("editor-{}", env.ns), format!("viewer-{}", env.ns));
    let (alice, bob) = (env.plane.user(&editor, None), env.plane.user(&viewer, None));
    env.kubectl(["create", "rolebinding", "tenant-edit", "--clusterrole=edit", &format!("--user={editor}")]).await.ok();
    env.kubectl(["create", "rolebinding", "tenant-view", "--clusterrole=view", &format!("--user={viewer}")]).await.ok();

    for allowed in [
        &["create", "memberships.accountops.dev"][..],
        &["update", "accounts.accountops.dev"],
        &["patch", "tenantlinks.accountops.dev"],
        &["delete", "provisioningsyncs.accountops.dev"],
        &["list", "organizations.accountops.dev"],
    ] {
        assert!(can_i(&env, &alice, allowed).await, "edit may {allowed:?}");
    }
    for refused in [
        &["create", "memberships.accountops.dev", "--namespace=default"][..],
        &["list", "accounts.accountops.dev", "--all-namespaces"],
        &["patch", "memberships.accountops.dev", "--subresource=status"],
        &["update", "accounts.accountops.dev", "--subresource=status"],
        &["update", "tenantlinks.accountops.dev", "--subresource=finalizers"],
    ] {
        assert!(!can_i(&env, &alice, refused).await, "edit must not {refused:?}");
    }
    assert!(can_i(&env, &bob, &["watch", "memberships.accountops.dev"]).await, "view reads");
    for refused in [&["create", "memberships.accountops.dev"][..], &["delete", "accounts.accountops.dev"]] {
        assert!(!can_i(&env, &bob, refused).await, "view must not {refused:?}");
    }

    // Not only can-i: the tenant creates a real Account, and its status patch is refused.
    let account = std::fs::read_to_string(format!("{}/examples/00-accounts.yaml", env!("CARGO_MANIFEST_DIR")))
        .expect("examples/00-accounts.yaml");
    let first = account.split("\n---").next().expect("one Account");
    env.kubectl_as(&alice).args(["create", "-f", "-"]).stdin(first).run().await.ok();
    let name = "acme-polska";
    env.kubectl(["get", "account", name]).await.ok();
    let status = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Faked","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    let out = env
        .kubectl_as(&alice)
        .args(["patch", "account", name, "--subresource=status", "--type=merge", "-p", status])
        .run()
        .await
        .failed();
    assert!(out.stderr.contains("forbidden") && out.stderr.contains("accounts/status"), "{out:?}");

    // Cluster-scoped objects outlive the namespace on the shared plane.
    env.helm().args(["uninstall", "accountops", "--wait"]).run().await.ok();
}
