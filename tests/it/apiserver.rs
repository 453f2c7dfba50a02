//! The CRDs on a real kube-apiserver: they install, the examples pass server-side validation,
//! bad manifests are refused with the messages our schema and CEL rules define, and kubectl
//! shows our printer columns and descriptions.

use std::time::{Duration, Instant};

use crate::cli::invalid_fixtures;
use crate::harness;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

#[tokio::test]
async fn crds_are_established() {
    let Some(env) = harness::test_env().await else { return };
    let out = env
        .kubectl(["get", "crd", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Established\")].status}{\"\\n\"}{end}"])
        .await
        .ok();
    for name in ["accounts", "organizations", "memberships", "tenantlinks", "provisioningsyncs"] {
        assert!(out.stdout.contains(&format!("{name}.accountops.dev=True")), "{name} established: {}", out.stdout);
    }
}

#[tokio::test]
async fn every_example_passes_server_side_dry_run() {
    let Some(env) = harness::test_env().await else { return };
    let out = env.kubectl(["apply", "--dry-run=server", "-f", EXAMPLES]).await.ok();
    assert_eq!(out.stdout.matches("(server dry run)").count(), 19, "{}", out.stdout);
}

#[tokio::test]
async fn invalid_manifests_are_refused_with_our_messages() {
    let Some(env) = harness::test_env().await else { return };
    for (file, field, message) in invalid_fixtures() {
        let out = env.kubectl_cmd().args(["apply", "--dry-run=server", "-f"]).arg(&file).run().await;
        assert!(!out.success(), "{} must be refused: {out:?}", file.display());
        assert!(out.stderr.contains(&message), "{}: expected {message:?}: {}", file.display(), out.stderr);
        if !field.is_empty() {
            assert!(out.stderr.contains(&field), "{}: names {field}: {}", file.display(), out.stderr);
        }
    }
}

const ORG: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata:
  name: immutable-org
spec:
  accountRef:
    name: ACCOUNT
  displayName: Immutable
"#;

#[tokio::test]
async fn references_are_immutable_once_set() {
    let Some(env) = harness::test_env().await else { return };
    env.apply(&ORG.replace("ACCOUNT", "first")).await;
    let out = env.kubectl_cmd().args(["apply", "-f", "-"]).stdin(ORG.replace("ACCOUNT", "second")).run().await.failed();
    assert!(out.stderr.contains("accountRef is immutable"), "{}", out.stderr);

    let member = |email: &str| {
        format!(
            "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: m\nspec:\n  organizationRef:\n    name: immutable-org\n  email: {email}\n"
        )
    };
    env.apply(&member("anna@example.pl")).await;
    let out = env.kubectl_cmd().args(["apply", "-f", "-"]).stdin(member("other@example.pl")).run().await.failed();
    assert!(out.stderr.contains("email is immutable"), "{}", out.stderr);

    let scope = "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: m\nspec:\n  accountRef:\n    name: acct\n  email: anna@example.pl\n";
    let out = env.kubectl_cmd().args(["replace", "-f", "-"]).stdin(scope).run().await.failed();
    assert!(out.stderr.contains("is immutable"), "{}", out.stderr);
}

#[tokio::test]
async fn kubectl_get_accountops_shows_the_printer_columns() {
    let Some(env) = harness::test_env().await else { return };
    env.kubectl(["apply", "-f", EXAMPLES]).await.ok();
    let out = env.kubectl(["get", "accountops"]).await.ok();
    for header in
        ["LEGAL NAME", "COUNTRY", "DISPLAY NAME", "ACCOUNT", "EMAIL", "PHASE", "COUNTERPART", "SYNC", "READY", "AGE"]
    {
        assert!(out.stdout.contains(header), "column {header} in\n{}", out.stdout);
    }
    for row in [
        "account.accountops.dev/acme-polska",
        "organization.accountops.dev/northwind-msp",
        "membership.accountops.dev/jan-nowak",
        "tenantlink.accountops.dev/acme-retail-invites-logistics-partner",
        "provisioningsync.accountops.dev/acme-provisioning",
    ] {
        assert!(out.stdout.contains(row), "{row} in\n{}", out.stdout);
    }
    assert!(
        out.stdout.contains("ACME Polska Spółka z ograniczoną odpowiedzialnością"),
        "non-ASCII survives: {}",
        out.stdout
    );
    let short = env.kubectl(["get", "acct,org,mbr,tl,psync", "-o", "name"]).await.ok();
    assert_eq!(short.stdout.lines().count(), 18, "{}", short.stdout);
}

#[tokio::test]
async fn kubectl_explain_teaches_the_api() {
    let Some(env) = harness::test_env().await else { return };
    // The OpenAPI document is republished shortly after a CRD is established.
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = env.kubectl(["explain", "membership.spec"]).await;
        if out.success() || Instant::now() > deadline {
            break out.ok();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for text in ["login", "an authorized contact", "notifications", "organizationRef", "Immutable"] {
        assert!(out.stdout.contains(text), "{text} in\n{}", out.stdout);
    }
    let field = env.kubectl(["explain", "account.spec.billingAddress.country"]).await.ok();
    assert!(field.stdout.contains("ISO 3166-1 alpha-2 country code"), "{}", field.stdout);
}

/// The cell under `header` in the row of `name`, in the `kubectl get` table of `kind` (one
/// table per kind; a cell starts where its header starts, counted in characters).
fn cell(output: &str, kind: &str, name: &str, header: &str) -> Option<String> {
    let table: Vec<&str> = output
        .split("\n\n")
        .find(|t| t.lines().nth(1).is_some_and(|row| row.starts_with(&format!("{kind}.accountops.dev/"))))?
        .lines()
        .collect();
    let at = table[0].find(&format!("{header} ")).or_else(|| table[0].rfind(header))?;
    let start = table[0][..at].chars().count();
    let row = table.iter().find(|r| r.starts_with(&format!("{kind}.accountops.dev/{name} ")))?;
    let rest: String = row.chars().skip(start).collect();
    rest.split_whitespace().next().map(str::to_owned)
}

#[tokio::test]
async fn kubectl_get_shows_synced_and_with_wide_the_reason_of_every_kind() {
    let Some(env) = harness::test_env().await else { return };
    env.kubectl(["apply", "-f", EXAMPLES]).await.ok();
    let objects = [
        ("account", "acme-polska", "HasOrganizations"),
        ("organization", "acme-retail", "AccountNotReady"),
        ("membership", "jan-nowak", "RoleNotFound"),
        ("tenantlink", "acme-retail-invites-logistics-partner", "PartnerNotFound"),
        ("provisioningsync", "acme-provisioning", "ExternalError"),
    ];
    // Status as the operator writes it: Ready False with a reason, Synced True.
    for (kind, name, reason) in objects {
        let condition = |type_: &str, status: &str, reason: &str| {
            serde_json::json!({"type": type_, "status": status, "reason": reason, "message": "m",
                               "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1})
        };
        let patch = serde_json::json!({"status": {"conditions": [
            condition("Ready", "False", reason),
            condition("Synced", "True", "ReconcileSuccess"),
        ]}});
        env.kubectl(["patch", kind, name, "--subresource=status", "--type=merge", "-p", &patch.to_string()]).await.ok();
    }
    let kinds = "accounts,organizations,memberships,tenantlinks,provisioningsyncs";
    let plain = env.kubectl(["get", kinds]).await.ok().stdout;
    let wide = env.kubectl(["get", kinds, "-o", "wide"]).await.ok().stdout;
    for (kind, name, reason) in objects {
        assert_eq!(cell(&plain, kind, name, "SYNCED").as_deref(), Some("True"), "{kind} SYNCED in\n{plain}");
        assert_eq!(cell(&plain, kind, name, "READY").as_deref(), Some("False"), "{kind} READY in\n{plain}");
        assert_eq!(cell(&plain, kind, name, "REASON"), None, "{kind}: REASON only with -o wide:\n{plain}");
        assert_eq!(cell(&wide, kind, name, "SYNCED").as_deref(), Some("True"), "{kind} in\n{wide}");
        assert_eq!(cell(&wide, kind, name, "REASON").as_deref(), Some(reason), "{kind} REASON in\n{wide}");
    }
}
