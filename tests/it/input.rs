//! Input the database or the apiserver cannot take is refused up front, and `validate` agrees
//! with the real apiserver about it: lifetimes at their bounds, annotation sizes, namespace
//! names, and strings PostgreSQL cannot store when they get past both (the core's own guard,
//! on a real PostgreSQL, in local mode and through the real operator).
//!
//! The refusals themselves (a NUL in a string of each kind, lifetimes below and above their
//! bounds, bad names, label and annotation keys) are fixtures in `tests/fixtures/invalid/`,
//! which `cli` and `apiserver` run through `validate` and the apiserver alike.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use accountops::api::{Account, AccountSpec};
use accountops::local::engine::{self, Mode, Options, Status};
use accountops::local::validate::{Item, ManifestSet};
use accountops::mail::MailSettings;
use accountops::store::accounts;
use accountops::store::testkit::TestDatabase;
use kube::api::Api;

use crate::harness;
use crate::store_pg;
use crate::support::eventually;
use crate::support::operator::Operator;

fn validate(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["validate", "-f"])
        .arg(file)
        .output()
        .expect("the accountops binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write manifest");
    path
}

const ACCOUNT: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Account
metadata:
  name: acme
ANNOTATIONS
spec:
  legalName: ACME
  billingAddress: {street: ["ul. Prosta 1"], city: Warszawa, postalCode: "00-001", country: PL}
  billingEmail: billing@acme.example.pl
  currency: PLN
"#;

/// Every lifetime and interval at its shortest and its longest: accepted by both.
fn at_the_bounds() -> String {
    let mut yaml = ACCOUNT.replace("ANNOTATIONS\n", "");
    yaml += "---\napiVersion: v1\nkind: Secret\nmetadata: {name: scim}\nstringData: {token: t}\n";
    for (suffix, code, invitation, resync) in [("shortest", "15m", "1h", "1m"), ("longest", "30d", "30d", "24h")] {
        yaml += &format!(
            r#"---
apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata: {{name: msp-{suffix}}}
spec:
  accountRef: {{name: acme}}
  displayName: MSP
  serviceProvider: {{codeLifetime: {code}}}
---
apiVersion: accountops.dev/v1alpha1
kind: Membership
metadata: {{name: anna-{suffix}}}
spec:
  organizationRef: {{name: msp-{suffix}}}
  email: anna@acme.example.pl
  invitation: {{lifetime: {invitation}}}
---
apiVersion: accountops.dev/v1alpha1
kind: TenantLink
metadata: {{name: partner-{suffix}}}
spec:
  organizationRef: {{name: msp-{suffix}}}
  partnerInvitation:
    organizationId: org-123
    organizationRole: Partner
    adminEmail: admin@partner.example.com
    lifetime: {invitation}
---
apiVersion: accountops.dev/v1alpha1
kind: ProvisioningSync
metadata: {{name: sync-{suffix}}}
spec:
  accountRef: {{name: acme}}
  endpoint:
    url: https://scim.example.com/v2
    credentialsSecretRef: {{name: scim}}
  portalUrl: https://portal.example.com
  resyncInterval: {resync}
"#
        );
    }
    yaml
}

#[tokio::test]
async fn lifetimes_at_their_bounds_are_accepted_by_validate_and_the_apiserver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(&dir, "bounds.yaml", &at_the_bounds());
    let out = validate(&file);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("9 objects in 10 documents: valid"), "{}", text(&out.stdout));
    let Some(env) = harness::test_env().await else { return };
    let applied = env.kubectl_cmd().args(["apply", "--dry-run=server", "-f"]).arg(&file).run().await.ok();
    assert_eq!(applied.stdout.matches("(server dry run)").count(), 10, "{}", applied.stdout);
}

const TOO_LONG: &str = "metadata.annotations: Too long: may not be more than 262144 bytes";

/// An Account whose one annotation makes the annotations `total` bytes (key included).
fn annotated(total: usize) -> String {
    let key = "example.com/notes";
    let value = "x".repeat(total - key.len());
    ACCOUNT.replace("ANNOTATIONS", &format!("  annotations:\n    {key}: {value}"))
}

#[tokio::test]
async fn annotations_over_256_kib_are_refused_by_validate_and_the_apiserver_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = harness::test_env().await;
    let create = |file: &PathBuf| {
        // `create` stores the annotations as given (`apply` would copy them into another).
        env.as_ref().map(|env| env.kubectl_cmd().args(["create", "--dry-run=server", "-f"]).arg(file).run())
    };
    for (name, total) in [("at-limit", 262_144), ("one-over", 262_145), ("300k", 300_000), ("10m", 10_000_000)] {
        let file = write(&dir, &format!("{name}.yaml"), &annotated(total));
        let out = validate(&file);
        let shown = text(&out.stdout);
        let refused = total > 262_144;
        assert_eq!(!out.status.success(), refused, "{name}: {}", &shown[..shown.len().min(500)]);
        if refused {
            let line = shown.lines().find(|l| l.contains(TOO_LONG)).unwrap_or_else(|| panic!("{name}: {shown:.500}"));
            assert!(line.contains(&format!("{name}.yaml:5: Account/default/acme: ")), "{line:.300}");
        }
        let Some(run) = create(&file) else { continue };
        let server = run.await;
        assert_eq!(!server.success(), refused, "{name}: the apiserver agrees: {:.500}", server.stderr);
        // Past the apiserver's 3 MiB request limit the body itself is refused, before metadata.
        if refused && total < 3 * 1024 * 1024 {
            assert!(server.stderr.contains(TOO_LONG), "{name}: {:.500}", server.stderr);
        }
    }
}

#[tokio::test]
async fn namespace_names_are_checked_as_the_apiserver_checks_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let label = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'";
    let long = "n".repeat(64);
    let cases =
        [("Team_A", label), ("team.a", "must not contain dots"), (long.as_str(), "must be no more than 63 bytes")];
    for (namespace, message) in cases {
        let yaml = ACCOUNT.replace("ANNOTATIONS", &format!("  namespace: {namespace}"));
        let out = validate(&write(&dir, "ns.yaml", &yaml));
        let shown = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{namespace}: {shown}");
        let expected =
            format!(": Account/{namespace}/acme: metadata.namespace: Invalid value: \"{namespace}\": {message}");
        assert!(shown.contains(&expected), "{namespace}: {shown}");
        let Some(env) = harness::test_env().await else { continue };
        let server = env.plane.kubectl().args(["create", "namespace", namespace, "--dry-run=server"]).run().await;
        assert!(!server.success(), "{namespace}: the apiserver refuses it too");
        assert!(server.stderr.contains(message), "{namespace}: {}", server.stderr);
    }
    let fine = ACCOUNT.replace("ANNOTATIONS", &format!("  namespace: {}", "n".repeat(63)));
    assert!(validate(&write(&dir, "ns.yaml", &fine)).status.success(), "63 characters are fine");
}

fn nul_account(legal_name: &str) -> Item<Account> {
    let spec: AccountSpec = serde_json::from_value(serde_json::json!({
        "legalName": legal_name,
        "billingAddress": {"street": ["ul. Prosta 1"], "city": "Warszawa", "postalCode": "00-001", "country": "PL"},
        "billingEmail": "billing@acme.example.pl",
        "currency": "PLN",
    }))
    .expect("a spec built in code, past validate and the CRD");
    Item {
        file: PathBuf::from("built-in-code.yaml"),
        line: 1,
        namespace: "default".to_owned(),
        name: "acme".to_owned(),
        object: Account::new("acme", spec),
    }
}

#[tokio::test]
async fn a_spec_past_validate_and_the_crd_is_refused_by_the_core_on_postgres_writing_nothing() {
    let Some(db) = store_pg::fresh().await else { return };
    db.store().migrate().await.expect("migrate");
    let options = Options {
        cluster_id: "local".to_owned(),
        prune: false,
        mail: MailSettings::new("accountops <noreply@localhost>", None, "http://localhost/accept").expect("mail"),
        scim: Default::default(),
    };
    for mode in [Mode::Plan, Mode::Apply] {
        let set = ManifestSet { accounts: vec![nul_account("ACME\u{0} Polska")], ..Default::default() };
        let report = engine::run(db.store(), &set, &options, mode, jiff::Timestamp::now()).await.expect("runs");
        match &report.entries[0].status {
            Status::Failed(accountops::core::Failure { reason, message, transient }) => {
                assert!(!*transient, "{mode:?}: a NUL waits for the manifest to change");
                assert_eq!(*reason, "UnstorableValue", "{mode:?}: {message}");
                assert_eq!(
                    message, "spec.legalName: contains U+0000 (NUL), which the platform database cannot store",
                    "{mode:?}"
                );
            }
            other => panic!("{mode:?}: refused, not {other:?}"),
        }
        assert!(report.entries[0].fails(), "{mode:?}: apply exits 1 on it");
        let mut conn = db.store().acquire().await.expect("connection");
        assert!(accounts::list(&mut conn).await.expect("list").is_empty(), "{mode:?}: nothing written");
    }
    // The same account without the NUL is created: the refusal above was the guard's.
    let set = ManifestSet { accounts: vec![nul_account("ACME Polska")], ..Default::default() };
    let report = engine::run(db.store(), &set, &options, Mode::Apply, jiff::Timestamp::now()).await.expect("runs");
    assert!(matches!(&report.entries[0].status, Status::Done(o) if o.is_ready()), "{:?}", report.entries[0].status);
}

/// The CRDs cover the spec; an engine annotation is in no schema, so a NUL in the external ID
/// reaches the operator, which refuses it by name, writes no row and waits for a change.
#[tokio::test]
async fn the_operator_refuses_an_unstorable_engine_annotation_and_writes_nothing() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let cluster = format!("test-{}", env.ns);
    let _operator = Operator::start(&env, &db.url, &cluster, Duration::from_secs(2));
    let yaml = ACCOUNT.replace("ANNOTATIONS", "  annotations:\n    accountops.dev/external-id: \"acct-\\0\"");
    env.apply(&yaml).await;
    let accounts_api: Api<Account> = env.api();
    let synced = eventually("Synced=False UnstorableValue", Duration::from_secs(60), || async {
        let account = accounts_api.get("acme").await.ok()?;
        let status = account.status?;
        let synced = status.conditions.get("Synced")?.clone();
        (synced.reason == "UnstorableValue").then_some(synced)
    })
    .await;
    assert_eq!(
        synced.message,
        "metadata.annotations[accountops.dev/external-id]: contains U+0000 (NUL), which the platform database cannot store"
    );
    let mut conn = db.store().acquire().await.expect("connection");
    assert!(accounts::list(&mut conn).await.expect("list").is_empty(), "nothing written");
    drop(conn);
    // It does not spin: two resyncs later the status was not written again.
    let written = accounts_api.get("acme").await.expect("account").metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = accounts_api.get("acme").await.expect("account").metadata.resource_version;
    assert_eq!(written, later, "the refusal is written once, not at every resync");
    // Fixing the object is what it waits for (apply drops the annotation it applied before).
    env.apply(&ACCOUNT.replace("ANNOTATIONS\n", "")).await;
    crate::operator::wait_ready(&accounts_api, "acme", "True", None).await;
}
