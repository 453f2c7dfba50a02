//! `accountops trace`: the real binary in local mode (examples applied to SQLite, then traced),
//! and as the kubectl plugin the real kubectl runs against the test control plane, with the
//! operator reconciling, so the statuses shown are the operator's.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use accountops::api::{Account, Organization, TenantLink};
use kube::api::{Api, Patch, PatchParams};

use crate::harness::{self, Cmd, CmdOutput, TestEnv};
use crate::operator::wait_ready;
use crate::store_pg;
use crate::support::eventually;
use crate::support::operator::Operator;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
const LINK: &str = "acme-engineering-appoints-northwind";

fn accountops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accountops")).args(args).output().expect("the accountops binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The cells of the table row whose NAME starts with `name`, the tree drawing left out (the
/// printer's unit tests check it).
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.trim_start_matches(['│', '├', '└', '─', ' ']).starts_with(name))
        .unwrap_or_else(|| panic!("no row {name:?} in\n{table}"));
    let drawn = line.len() - line.trim_start_matches(['│', '├', '└', '─', ' ']).len();
    line[drawn..].split("   ").map(str::trim).filter(|c| !c.is_empty()).collect()
}

#[test]
fn local_mode_traces_what_plan_sees_and_refuses_unknown_kinds_and_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let mailbox = dir.path().join("mailbox");
    let applied =
        accountops(&["apply", "-f", EXAMPLES, "--database", &db, "--mailbox", mailbox.to_str().expect("utf-8")]);
    assert!(applied.status.success(), "{}{}", text(&applied.stdout), text(&applied.stderr));

    let out = accountops(&["trace", "ACCOUNT/acme-polska", "-f", EXAMPLES, "--database", &db]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{table}{}", text(&out.stderr));
    assert!(table.starts_with("NAME "), "{table}");
    assert_eq!(
        table.lines().next().map(|h| h.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["NAME", "READY", "SYNCED", "REASON", "AGE"])
    );
    assert_eq!(row(&table, "Account/acme-polska"), ["Account/acme-polska (default)", "True", "True", "Available", "-"]);
    assert_eq!(row(&table, "Organization/acme-engineering")[1..4], ["True", "True", "Available"]);
    assert_eq!(
        row(&table, "Membership/acme-finance")[1..3],
        ["True", "True"],
        "account-level member under the account"
    );
    assert_eq!(row(&table, "Organization/northwind-msp")[0], "Organization/northwind-msp (counterpart)");
    // As `plan` shows it: the sync is planned, its SCIM system not contacted.
    assert_eq!(row(&table, "ProvisioningSync/acme-provisioning")[1..4], ["True", "True", "Available"]);
    assert!(!table.contains("northwind-services"), "another account's objects are not in the tree: {table}");

    // A Membership's path, from standard input, as JSON with its platform IDs.
    let examples: String = ["00-accounts.yaml", "10-organizations.yaml", "20-memberships.yaml"]
        .iter()
        .map(|f| format!("---\n{}", std::fs::read_to_string(Path::new(EXAMPLES).join(f)).expect("example")))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["trace", "mbr/jan-nowak", "-f", "-", "--database", &db, "-o", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(examples.as_bytes()).expect("written");
    let out = child.wait_with_output().expect("exits");
    assert!(out.status.success(), "{}", text(&out.stdout));
    let tree: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((tree["kind"].as_str(), tree["name"].as_str()), (Some("Account"), Some("acme-polska")));
    assert!(tree["id"].as_str().is_some_and(|id| id.starts_with("acct-")), "{tree:#}");
    let org = &tree["children"][0];
    assert_eq!(org["name"], "acme-engineering");
    assert_eq!(org["children"].as_array().map(Vec::len), Some(1), "the path only: {tree:#}");
    let member = &org["children"][0];
    assert_eq!((member["kind"].as_str(), member["ready"].as_str()), (Some("Membership"), Some("True")));
    assert!(member["ids"]["userId"].as_str().is_some(), "{member:#}");

    let missing = accountops(&["trace", "org/nope", "-f", EXAMPLES, "--database", &db, "-n", "default"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(text(&missing.stderr), "error: Organization \"nope\" not found in namespace \"default\"\n");
    let unknown = accountops(&["trace", "pods/nope", "-f", EXAMPLES]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).starts_with("error: unknown kind \"pods\": use one of Account (acct),"),
        "{}",
        text(&unknown.stderr)
    );
    let invalid = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/invalid");
    let refused = accountops(&["trace", "acct/acme-polska", "-f", invalid, "--database", &db]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("problem(s) (see above)") && stderr.contains("invalid/"),
        "problems as validate prints them: {stderr}"
    );
    let shapeless = accountops(&["trace", "acme-polska", "-f", EXAMPLES]);
    assert_eq!(shapeless.status.code(), Some(1));
    assert!(text(&shapeless.stderr).contains("\"acme-polska\" is not KIND/NAME"), "{}", text(&shapeless.stderr));
}

/// A directory holding only `kubectl-accountops`, a link to the test binary, as a user installs it.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_accountops"), dir.path().join("kubectl-accountops")).expect("link");
    dir
}

/// The real kubectl with the plugin directory first on its PATH, as `kubeconfig`'s user.
async fn kubectl_plugin(env: &TestEnv, plugins: &Path, kubeconfig: &Path, args: &[&str]) -> CmdOutput {
    let path = format!("{}:{}", plugins.display(), std::env::var("PATH").unwrap_or_default());
    Cmd::new(&env.plane.assets.kubectl).env("PATH", path).env("KUBECONFIG", kubeconfig).args(args).run().await
}

#[tokio::test]
async fn kubectl_accountops_trace_shows_the_operators_statuses() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let _operator = Operator::start(&env, &db.url, &format!("test-{}", env.ns), Duration::from_secs(2));
    env.kubectl(["apply", "-f", EXAMPLES]).await.ok();
    let accounts: Api<Account> = env.api();
    let orgs: Api<Organization> = env.api();
    wait_ready(&accounts, "acme-polska", "True", Some("Available")).await;
    wait_ready(&orgs, "acme-engineering", "True", Some("Available")).await;
    let msp = wait_ready(&orgs, "northwind-msp", "True", Some("Available")).await;
    let msp_id = msp.status.and_then(|s| s.organization_id).expect("northwind-msp's ID");
    let links: Api<TenantLink> = env.api();
    eventually("the link's counterpart", Duration::from_secs(60), || async {
        links.get(LINK).await.ok()?.status?.counterpart_organization_id
    })
    .await;

    let plugins = plugin_dir();
    let admin = env.plane.kubeconfig();
    let ns = env.ns.as_str();
    let out = kubectl_plugin(&env, plugins.path(), admin, &["accountops", "trace", "account/acme-polska", "-n", ns])
        .await
        .ok();
    let table = out.stdout.as_str();
    assert_eq!(
        row(table, "Account/acme-polska")[..4],
        [format!("Account/acme-polska ({ns})").as_str(), "True", "True", "Available"]
    );
    assert_eq!(row(table, "Organization/acme-engineering")[1..4], ["True", "True", "Available"]);
    assert_eq!(
        row(table, "Organization/northwind-msp")[..4],
        ["Organization/northwind-msp (counterpart)", "True", "True", "Available"]
    );
    let age = row(table, "Account/acme-polska")[4];
    assert!(age.ends_with('s') || age.ends_with('m'), "an age like kubectl's: {age}");

    let wide = kubectl_plugin(&env, plugins.path(), admin, &["accountops", "trace", "tl/", "-n", ns]).await.failed();
    assert!(wide.stderr.contains("is not KIND/NAME"), "{wide:?}");
    let wide = kubectl_plugin(
        &env,
        plugins.path(),
        admin,
        &["accountops", "trace", &format!("tl/{LINK}"), "-n", ns, "-o", "wide"],
    )
    .await
    .ok();
    assert!(row(&wide.stdout, "Organization/northwind-msp").contains(&msp_id.as_str()), "{}", wide.stdout);

    // --kubeconfig and --context, without the plugin.
    let admin_path = admin.to_str().expect("utf-8");
    let chosen = accountops(&["trace", "acct/acme-polska", "-n", ns, "--kubeconfig", admin_path, "--context", "test"]);
    assert!(chosen.status.success(), "{}", text(&chosen.stderr));
    let wrong = accountops(&["trace", "acct/acme-polska", "-n", ns, "--kubeconfig", admin_path, "--context", "nope"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("nope"), "names the context: {}", text(&wrong.stderr));

    let help = kubectl_plugin(&env, plugins.path(), admin, &["accountops", "trace", "--help"]).await.ok();
    assert!(help.stdout.contains("Usage: kubectl accountops trace"), "{}", help.stdout);
    let missing =
        kubectl_plugin(&env, plugins.path(), admin, &["accountops", "trace", "org/nope", "-n", ns]).await.failed();
    assert!(missing.stderr.contains(&format!("Organization \"nope\" not found in namespace \"{ns}\"")), "{missing:?}");
}

/// A Role that lets its ServiceAccount read the five kinds in one namespace, except Memberships.
fn reader_role(name: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {name}\nrules:\n- apiGroups: [accountops.dev]\n  \
         resources: [accounts, organizations, tenantlinks, provisioningsyncs]\n  verbs: [get, list]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {name}\nroleRef:\n  \
         apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: {name}\nsubjects:\n- kind: ServiceAccount\n  name: {name}\n"
    )
}

#[tokio::test]
async fn what_the_caller_cannot_list_is_shown_forbidden_not_an_error() {
    let Some(env) = harness::test_env().await else { return };
    // A namespace no operator watches: the link's status is written by hand, naming an
    // organization of another namespace as its counterpart.
    let Some(other) = harness::test_env().await else { return };
    let counterpart = "org-elsewhere-1";
    other
        .apply("apiVersion: accountops.dev/v1alpha1\nkind: Organization\nmetadata:\n  name: provider\nspec:\n  accountRef:\n    name: elsewhere\n  displayName: Provider\n")
        .await;
    let id = serde_json::json!({"status": {"organizationId": counterpart}});
    other
        .api::<Organization>()
        .patch_status("provider", &PatchParams::default(), &Patch::Merge(id))
        .await
        .expect("org status");
    env.apply(
        "apiVersion: accountops.dev/v1alpha1\nkind: TenantLink\nmetadata:\n  name: cross\nspec:\n  organizationRef:\n    \
         name: tenant\n  providerCode:\n    secretRef:\n      name: code\n      key: code\n"
    )
    .await;
    env.api::<TenantLink>()
        .patch_status(
            "cross",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"counterpartOrganizationId": counterpart}})),
        )
        .await
        .expect("link status");
    let reader = env.service_account("trace-reader").await;
    env.apply(&reader_role("trace-reader")).await;

    let plugins = plugin_dir();
    let as_reader = kubectl_plugin(
        &env,
        plugins.path(),
        &reader.kubeconfig,
        &["accountops", "trace", "tl/cross", "-n", &env.ns, "-o", "wide"],
    )
    .await
    .ok();
    let table = as_reader.stdout.as_str();
    assert_eq!(
        row(table, "Organization/tenant")[..4],
        [format!("Organization/tenant ({})", env.ns).as_str(), "-", "-", "NotFound"]
    );
    let hidden = row(table, &format!("Organization/{counterpart}"));
    assert_eq!(hidden[..4], [format!("Organization/{counterpart} (counterpart)").as_str(), "-", "-", "Forbidden"]);
    assert!(hidden[hidden.len() - 1].contains("forbidden"), "the apiserver's message: {table}");

    // As admin the same counterpart is found in the other namespace.
    let as_admin = kubectl_plugin(
        &env,
        plugins.path(),
        env.plane.kubeconfig(),
        &["accountops", "trace", "tl/cross", "-n", &env.ns],
    )
    .await
    .ok();
    let found = format!("Organization/provider (counterpart in {})", other.ns);
    assert_eq!(row(&as_admin.stdout, "Organization/provider")[0], found, "{}", as_admin.stdout);

    // A kind the reader may not list is a node in the tree; the traced kind itself is an error.
    env.apply(crate::operator::ACCOUNT).await;
    let account = kubectl_plugin(
        &env,
        plugins.path(),
        &reader.kubeconfig,
        &["accountops", "trace", "acct/billing", "-n", &env.ns],
    )
    .await
    .ok();
    assert_eq!(row(&account.stdout, "Membership/*")[..4], ["Membership/*", "-", "-", "Forbidden"]);
    let member =
        kubectl_plugin(&env, plugins.path(), &reader.kubeconfig, &["accountops", "trace", "mbr/x", "-n", &env.ns])
            .await
            .failed();
    assert!(member.stderr.contains(&format!("cannot list memberships in namespace \"{}\"", env.ns)), "{member:?}");
}
