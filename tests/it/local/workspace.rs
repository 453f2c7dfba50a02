//! Helpers of the local-mode tests: a workspace with manifests and a SQLite file, the binary
//! run in it, and readers for its JSON and table output and for the database rows.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use accountops::store::Store;
use accountops::store::accounts::{self, Account};
use accountops::store::organizations::{self, Organization};
use serde_json::Value;

/// The SCIM endpoint of `examples/40-provisioning-sync.yaml`.
pub const EXAMPLE_SCIM_URL: &str = "https://provisioning.example.com/scim/v2";
/// Where [`Workspace::with_examples`] points it: the discard port, closed on loopback.
pub const CLOSED_SCIM_URL: &str = "http://127.0.0.1:9/scim/v2";

/// A working directory with a manifest folder `m/` and a database `state.db`.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let ws = Workspace { dir: tempfile::tempdir().expect("tempdir") };
        std::fs::create_dir(ws.manifests()).expect("manifest dir");
        ws
    }

    /// A workspace holding a copy of `examples/`. The example sync's SCIM system does not exist;
    /// it is pointed at a closed loopback port so it fails at once, whatever DNS does here.
    pub fn with_examples() -> Workspace {
        let ws = Workspace::new();
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for entry in std::fs::read_dir(examples).expect("examples") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, ws.manifests().join(path.file_name().expect("name"))).expect("copy example");
        }
        ws.edit("40-provisioning-sync.yaml", EXAMPLE_SCIM_URL, CLOSED_SCIM_URL);
        ws
    }

    /// The examples without `40-provisioning-sync.yaml`, for tests of the other kinds: its SCIM
    /// system does not exist, so it would show in every summary (`provisioning_local` covers it).
    pub fn with_examples_but_the_sync() -> Workspace {
        let ws = Workspace::with_examples();
        ws.remove("40-provisioning-sync.yaml");
        ws
    }

    pub fn manifests(&self) -> PathBuf {
        self.dir.path().join("m")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.db().display())
    }

    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.manifests().join(file), text).expect("write manifest");
    }

    pub fn remove(&self, file: &str) {
        std::fs::remove_file(self.manifests().join(file)).expect("remove manifest");
    }

    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.manifests().join(file);
        let text = std::fs::read_to_string(&path).expect("read manifest");
        assert!(text.contains(from), "{file} contains {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write manifest");
    }

    /// `accountops <command> -f m/ --database sqlite://… <extra>`, run in the workspace.
    pub fn run(&self, command: &str, extra: &[&str]) -> Output {
        let manifests = self.manifests();
        let url = self.url();
        let mut args = vec![command, "-f", manifests.to_str().expect("utf-8"), "--database", &url];
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_accountops"))
            .args(&args)
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL")
            .output()
            .expect("the accountops binary runs")
    }

    /// `run` with `-o json`, parsed.
    pub fn json(&self, command: &str, extra: &[&str]) -> (bool, Value) {
        let mut args = vec!["-o", "json"];
        args.extend(extra);
        let out = self.run(command, &args);
        let value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{command} prints JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr)));
        (out.status.success(), value)
    }

    /// Plan, then apply, with the same arguments; asserts the plan announced every action and
    /// field change the apply then made, and returns both. A ProvisioningSync whose external
    /// system failed in `apply` (`ExternalError`: the examples point at a system that does not
    /// exist) is left out: `plan` does not contact that system, so it plans the push it expects.
    pub fn plan_then_apply(&self, extra: &[&str]) -> (Value, (bool, Value)) {
        let (planned_ok, plan) = self.json("plan", extra);
        assert!(planned_ok, "plan succeeds: {plan:#}");
        let before = self.db().exists().then(|| rows(&self.url()));
        let (_, again) = self.json("plan", extra);
        assert_eq!(steps(&plan), steps(&again), "planning twice plans the same");
        if let Some(before) = before {
            assert_eq!(before, rows(&self.url()), "plan writes nothing");
        }
        let applied = self.json("apply", extra);
        let failed_outside: Vec<String> = steps(&applied.1)
            .into_iter()
            .filter(|(kind, _, action, _)| kind == "ProvisioningSync" && action == "ExternalError")
            .map(|(_, name, _, _)| name)
            .collect();
        let comparable = |report: &Value| {
            let mut all = steps(report);
            all.retain(|(_, name, _, _)| !failed_outside.contains(name));
            all
        };
        assert_eq!(comparable(&plan), comparable(&applied.1), "plan == apply\nplan: {plan:#}\napply: {:#}", applied.1);
        (plan, applied)
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Per reconciled object: kind, namespace/name, action and its field changes.
pub fn steps(report: &Value) -> Vec<(String, String, String, Vec<String>)> {
    let objects = report["objects"].as_array().expect("objects");
    objects
        .iter()
        .filter(|o| o["action"] != "Skipped")
        .map(|o| {
            let changes = o["changes"].as_array().map_or_else(Vec::new, |cs| {
                cs.iter().map(|c| format!("{}: {} → {}", c["field"], c["from"], c["to"])).collect()
            });
            let name = format!("{}/{}", o["namespace"].as_str().expect("ns"), o["name"].as_str().expect("name"));
            (
                o["kind"].as_str().expect("kind").to_owned(),
                name,
                o["action"].as_str().expect("action").to_owned(),
                changes,
            )
        })
        .collect()
}

/// The cells of the table row of one object: KIND, NAMESPACE/NAME, ID, ACTION, READY, REASON.
pub fn table_row<'a>(shown: &'a str, kind: &str, object: &str) -> Vec<&'a str> {
    let row = shown
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&kind) && cells.get(1) == Some(&object));
    let row = row.unwrap_or_else(|| panic!("a row for {kind} {object}: {shown}"));
    assert_eq!(row.len(), 6, "{row:?}");
    row
}

/// The action of one object in a JSON report.
pub fn action_of(report: &Value, kind: &str, name: &str) -> String {
    let objects = report["objects"].as_array().expect("objects");
    let o = objects.iter().find(|o| o["kind"] == kind && o["name"] == name).unwrap_or_else(|| panic!("{kind} {name}"));
    o["action"].as_str().expect("action").to_owned()
}

/// Every account and organization row, read through the store.
pub fn rows(url: &str) -> (Vec<Account>, Vec<Organization>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store = Store::connect(url).await.expect("connect");
        let mut conn = store.acquire().await.expect("connection");
        let mut accounts = accounts::list(&mut conn).await.expect("accounts");
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        let mut orgs = Vec::new();
        for a in &accounts {
            orgs.extend(organizations::list_by_account(&mut conn, &a.id).await.expect("organizations"));
        }
        orgs.sort_by(|a, b| a.id.cmp(&b.id));
        drop(conn);
        store.close().await;
        (accounts, orgs)
    })
}

pub fn account_named<'a>(accounts: &'a [Account], name: &str) -> &'a Account {
    accounts
        .iter()
        .find(|a| a.owner.as_ref().is_some_and(|o| o.name == name))
        .unwrap_or_else(|| panic!("an account row of {name}"))
}

pub fn org_named<'a>(orgs: &'a [Organization], name: &str) -> &'a Organization {
    orgs.iter().find(|o| o.owner.as_ref().is_some_and(|w| w.name == name)).unwrap_or_else(|| panic!("org row {name}"))
}

pub fn account(name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Account\nmetadata:\n  name: {name}\n{annotations}spec:\n  \
         legalName: {name} Ltd\n  billingAddress:\n    street: [Main Street 1]\n    city: Leeds\n    \
         postalCode: LS1 1AA\n    country: GB\n  billingEmail: billing@{name}.example.com\n  currency: GBP\n  \
         invoiceLanguage: en\n---\n"
    )
}

pub fn org(name: &str, account: &str, annotations: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Organization\nmetadata:\n  name: {name}\n{annotations}spec:\n  \
         accountRef:\n    name: {account}\n  displayName: {name} team\n  roles:\n    - name: Admin\n      \
         permissions: [members.manage]\n---\n"
    )
}
