//! Health as GitOps tools read it, from statuses the real operator wrote: the examples plus a
//! refused import, a refused provider code, an Organization without its Account and a paused, edited Account, read
//! back from the apiserver as JSON and judged by kstatus's rules, the chart's Argo CD health
//! script (run by `lua5.4`) and the chart's Flux `healthCheckExprs` (evaluated as CEL).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness;
use crate::operator::ACCOUNT;
use crate::store_pg;
use crate::support::eventually;
use crate::support::gitops::{HealthCheckExpr, KStatus, argo_health, flux_status, kstatus};
use crate::support::operator::Operator;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/accountops");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
const RESYNC: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(90);
const KINDS: [&str; 5] = ["Account", "Organization", "Membership", "TenantLink", "ProvisioningSync"];

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

/// `(status, reason)` of a condition, `("", "")` when absent.
fn cond(obj: &Value, type_: &str) -> (String, String) {
    let text = |c: &Value, f: &str| c[f].as_str().unwrap_or_default().to_owned();
    condition(obj, type_).map(|c| (text(c, "status"), text(c, "reason"))).unwrap_or_default()
}

/// One object in one state, and what each tool must make of it.
struct Case {
    kind: &'static str,
    name: &'static str,
    /// The condition the operator must have written before the object is judged:
    /// `(type, status, one of the reasons)`, for the object's current generation unless paused.
    settled: (&'static str, &'static str, &'static [&'static str]),
    kstatus: KStatus,
    argo: &'static str,
}

const fn case(
    kind: &'static str,
    name: &'static str,
    settled: (&'static str, &'static str, &'static [&'static str]),
    kstatus: KStatus,
    argo: &'static str,
) -> Case {
    Case { kind, name, settled, kstatus, argo }
}

const CASES: &[Case] = &[
    case("Account", "acme-polska", ("Ready", "True", &["Available"]), KStatus::Current, "Healthy"),
    case("Organization", "acme-engineering", ("Ready", "True", &["Available"]), KStatus::Current, "Healthy"),
    case("Membership", "ewa-kaminska-contact", ("Ready", "True", &["Active"]), KStatus::Current, "Healthy"),
    // Invited, but no relay is configured: the mail waits in the outbox.
    case("Membership", "jan-nowak", ("InvitationDelivered", "False", &["Pending"]), KStatus::InProgress, "Progressing"),
    case(
        "TenantLink",
        "acme-engineering-appoints-northwind",
        ("Accepted", "True", &["Accepted"]),
        KStatus::Current,
        "Healthy",
    ),
    // The partner organization does not exist (yet): the link waits for it.
    case(
        "TenantLink",
        "acme-retail-invites-logistics-partner",
        ("Ready", "False", &["PartnerNotFound"]),
        KStatus::InProgress,
        "Progressing",
    ),
    // The SCIM system does not answer (then its breaker opens): the push is retried.
    case(
        "ProvisioningSync",
        "acme-provisioning",
        ("Ready", "False", &["Unreachable", "CircuitOpen"]),
        KStatus::InProgress,
        "Progressing",
    ),
    case("Organization", "orphan-team", ("Ready", "False", &["AccountNotReady"]), KStatus::InProgress, "Progressing"),
    // Names billing's row: refused, and only the user can resolve it.
    case("Account", "thief", ("Ready", "False", &["OwnedElsewhere"]), KStatus::Failed, "Degraded"),
    // A code no provider issued: refused until someone puts a real one into the Secret.
    case("TenantLink", "bogus-code-link", ("Ready", "False", &["CodeUnknown"]), KStatus::Failed, "Degraded"),
    // Paused, then edited: the edit is not observed until the pause is lifted.
    case("Account", "billing", ("Synced", "False", &["ReconcilePaused"]), KStatus::InProgress, "Suspended"),
];

/// A TenantLink of an example organization redeeming a code that was never issued.
const BOGUS_CODE_LINK: &str = r#"apiVersion: v1
kind: Secret
metadata: {name: bogus-code}
stringData: {code: "never-issued-0123456789abcdefghijklmnopqrstu"}
---
apiVersion: accountops.dev/v1alpha1
kind: TenantLink
metadata: {name: bogus-code-link}
spec:
  organizationRef: {name: acme-engineering}
  providerCode:
    secretRef: {name: bogus-code, key: code}
"#;

/// billing before the pause and after it is lifted.
const BILLING_READY: Case = case("Account", "billing", ("Ready", "True", &["Available"]), KStatus::Current, "Healthy");

/// The object as the apiserver returns it.
async fn get(env: &harness::TestEnv, kind: &str, name: &str) -> Option<Value> {
    let out = env.kubectl(["get", &format!("{}.accountops.dev", kind.to_lowercase()), name, "-o", "json"]).await;
    out.success().then(|| serde_json::from_str(&out.stdout).ok()).flatten()
}

async fn settled(env: &harness::TestEnv, case: &Case) -> Value {
    let (type_, status, reasons) = case.settled;
    let paused = reasons == ["ReconcilePaused"];
    eventually(&format!("{} {} {type_}={status} {reasons:?}", case.kind, case.name), WAIT, || async {
        let obj = get(env, case.kind, case.name).await?;
        let c = condition(&obj, type_)?;
        let current = paused || c["observedGeneration"] == obj["metadata"]["generation"];
        let reason = reasons.iter().any(|r| c["reason"] == *r);
        (current && c["status"] == status && reason).then_some(obj)
    })
    .await
}

fn flux_checks() -> Vec<HealthCheckExpr> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct File {
        health_check_exprs: Vec<HealthCheckExpr>,
    }
    let text = std::fs::read_to_string(Path::new(CHART).join("flux/health-check-exprs.yaml")).expect("exprs");
    serde_yaml::from_str::<File>(&text).expect("healthCheckExprs").health_check_exprs
}

#[test]
fn the_argo_snippet_holds_the_health_script_for_every_kind_and_flux_every_kind() {
    let script = std::fs::read_to_string(Path::new(CHART).join("argocd/health.lua")).expect("health.lua");
    let snippet = std::fs::read_to_string(Path::new(CHART).join("argocd/resource-customizations.yaml")).expect("yaml");
    let cm: Value = serde_yaml::from_str(&snippet).expect("a ConfigMap");
    assert_eq!((cm["kind"].as_str(), cm["metadata"]["name"].as_str()), (Some("ConfigMap"), Some("argocd-cm")));
    let data = cm["data"].as_object().expect("data");
    assert_eq!(data.len(), KINDS.len(), "{:?}", data.keys());
    for kind in KINDS {
        let key = format!("resource.customizations.health.accountops.dev_{kind}");
        assert_eq!(data.get(&key).and_then(Value::as_str), Some(script.as_str()), "{key} is health.lua verbatim");
    }
    let checks = flux_checks();
    let kinds: Vec<&str> = checks.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, KINDS);
    assert!(checks.iter().all(|c| c.api_version == "accountops.dev/v1alpha1"));
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let exprs = std::fs::read_to_string(Path::new(CHART).join("flux/health-check-exprs.yaml")).expect("exprs");
    let quoted = exprs.lines().skip_while(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n");
    assert!(readme.contains(&quoted), "the README quotes flux/health-check-exprs.yaml as it is");
}

#[tokio::test]
async fn kstatus_argo_cd_and_flux_read_the_operators_status_as_intended() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let _operator = Operator::start(&env, &db.url, &format!("test-{}", env.ns), RESYNC);
    env.kubectl(["apply", "-f", EXAMPLES]).await.ok();
    env.apply(ACCOUNT).await;
    let org = "apiVersion: accountops.dev/v1alpha1\nkind: Organization\nmetadata: {name: orphan-team}\nspec:\n  \
               accountRef: {name: no-such-account}\n  displayName: Orphans\n";
    env.apply(org).await;
    env.apply(BOGUS_CODE_LINK).await;
    let billing = settled(&env, &BILLING_READY).await;
    let id = billing["status"]["accountId"].as_str().expect("billing's ID").to_owned();
    let thief =
        ACCOUNT.replace("name: billing", &format!("name: thief\n  annotations:\n    accountops.dev/external-id: {id}"));
    env.apply(&thief).await;
    env.kubectl(["annotate", "account", "billing", "accountops.dev/paused=true"]).await.ok();
    let paused = case("Account", "billing", ("Synced", "False", &["ReconcilePaused"]), KStatus::Current, "");
    settled(&env, &paused).await;
    env.apply(&ACCOUNT.replace("city: Gdańsk", "city: Sopot")).await;
    // Give the operator time to see the edit: it must leave the generation unobserved.
    tokio::time::sleep(RESYNC * 2).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let script = PathBuf::from(CHART).join("argocd/health.lua");
    let checks = flux_checks();
    let mut verdicts = Vec::new();
    for case in CASES {
        let obj = settled(&env, case).await;
        let fixture = dir.path().join(format!("{}-{}.json", case.kind, case.name));
        std::fs::write(&fixture, serde_json::to_vec_pretty(&obj).expect("json")).expect("write the fixture");
        let check = checks.iter().find(|c| c.kind == case.kind).expect("a Flux check for the kind");
        let (argo, message) = argo_health(&script, &fixture);
        let seen = (kstatus(&obj), argo, flux_status(check, &obj));
        let label = format!(
            "{} {}: Ready={:?} Stalled={:?} Reconciling={:?} argo message {message:?}",
            case.kind,
            case.name,
            cond(&obj, "Ready"),
            cond(&obj, "Stalled"),
            cond(&obj, "Reconciling")
        );
        verdicts.push((label, seen, (case.kstatus, case.argo.to_owned(), case.kstatus)));
    }
    let wrong: Vec<_> = verdicts.iter().filter(|(_, seen, want)| seen != want).collect();
    assert!(wrong.is_empty(), "(kstatus, Argo CD, Flux) seen vs wanted: {wrong:#?}");

    let edited = get(&env, "Account", "billing").await.expect("billing");
    assert_eq!(edited["metadata"]["generation"], 2);
    assert_eq!(edited["status"]["observedGeneration"], 1, "a paused object's edit is not observed");
    env.kubectl(["annotate", "account", "billing", "accountops.dev/paused-"]).await.ok();
    let resumed = settled(&env, &BILLING_READY).await;
    assert_eq!(resumed["status"]["observedGeneration"], 2);
    assert_eq!(kstatus(&resumed), KStatus::Current);
}
