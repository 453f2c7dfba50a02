//! ProvisioningSyncs in local mode, driven the way a user drives them: `examples/` pointed at a
//! real SCIM server (scim2-server on loopback) and applied on SQLite with the file mailbox.
//! `plan` contacts nobody and announces what `apply` does; `apply` pushes the directory, runs
//! the order once with one welcome mail, deactivates a pruned member, recreates a user deleted
//! out of band, reports wrong credentials (exit 1) and a system that is down (waiting, exit 0),
//! and `--prune` archives the record. The activation code and the token are never printed.

use std::process::Output;
use std::sync::Arc;

use accountops::scim::{Credentials, EndpointGuard, Group, GuardSettings, RetryPolicy, ScimClient, ScimConfig, User};
use accountops::store::Store;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::local::workspace::{CLOSED_SCIM_URL, Workspace, action_of, table_row, text};
use crate::membership_local::{mails, unquote};
use crate::support::scim::{ScimServer, TlsFront};

pub(crate) const SYNC: &str = "acme-provisioning";
pub(crate) const EXAMPLE_TOKEN: &str = "replace-with-the-provisioning-system-bearer-token";
const NOTIFY: &str = "jan.nowak@acme.example.pl";

/// The SCIM side, read with the project's client on a runtime of the test's own.
pub(crate) struct Scim {
    rt: tokio::runtime::Runtime,
    pub(crate) server: ScimServer,
    client: ScimClient,
}

impl Scim {
    pub(crate) fn start() -> Option<Scim> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let server = rt.block_on(ScimServer::start())?;
        let mut config = ScimConfig::new(&server.url(), Credentials::Bearer(server.token.clone()));
        config.retry = RetryPolicy { attempts: 2, ..RetryPolicy::default() };
        let guard = Arc::new(EndpointGuard::new(&server.url(), GuardSettings::default()));
        let client = ScimClient::new(&config, guard).expect("client");
        Some(Scim { rt, server, client })
    }

    /// userName → active, of every SCIM user.
    fn users(&self) -> Vec<(String, Option<bool>)> {
        let all = self.rt.block_on(self.client.list::<User>(None, 50, 1000)).expect("list users");
        let mut out: Vec<(String, Option<bool>)> =
            all.into_iter().map(|u| (u.user_name.to_lowercase(), u.active)).collect();
        out.sort();
        out
    }

    /// displayName → member count, of every SCIM group.
    fn groups(&self) -> Vec<(String, usize)> {
        let all = self.rt.block_on(self.client.list::<Group>(None, 50, 1000)).expect("list groups");
        let mut out: Vec<(String, usize)> = all.into_iter().map(|g| (g.display_name, g.members.len())).collect();
        out.sort();
        out
    }

    fn delete_user(&self, user_name: &str) {
        let user = self.rt.block_on(self.client.find_one::<User>("userName", user_name)).expect("filter");
        let id = user.and_then(|u| u.id).expect("the user is there");
        self.rt.block_on(self.client.delete::<User>(&id)).expect("delete out of band");
    }
}

/// The sync's object in a JSON report.
pub(crate) fn sync_of(report: &Value) -> &Value {
    let objects = report["objects"].as_array().expect("objects");
    objects.iter().find(|o| o["kind"] == "ProvisioningSync").expect("the sync is reported")
}

/// The activation code in the welcome mail (Polish template).
pub(crate) fn activation_code(eml: &str) -> String {
    let plain = unquote(eml);
    let (_, rest) = plain.split_once("Kod aktywacyjny: ").expect("an activation code");
    let code: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    assert!(code.len() >= 20, "a random code: {code}");
    code
}

pub(crate) fn welcome_mails(ws: &Workspace) -> Vec<String> {
    mails(ws).into_iter().filter(|m| m.contains(&format!("To: {NOTIFY}")) && m.contains("Kod aktywacyjny")).collect()
}

/// Rows of a count query on the workspace's database.
fn count(ws: &Workspace, sql: &'static str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store = Store::connect(&ws.url()).await.expect("connect");
        let mut conn = store.acquire().await.expect("connection");
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *conn).await.expect(sql);
        drop(conn);
        store.close().await;
        n
    })
}

fn all_output(out: &Output) -> String {
    text(&out.stdout) + &text(&out.stderr)
}

#[test]
fn the_example_sync_pushes_once_runs_its_order_once_and_follows_the_manifests() {
    let Some(scim) = Scim::start() else { return };
    let ws = Workspace::with_examples();
    ws.edit("40-provisioning-sync.yaml", CLOSED_SCIM_URL, &scim.server.url());
    ws.edit("40-provisioning-sync.yaml", EXAMPLE_TOKEN, &scim.server.token);

    // plan == apply; the plan contacts nobody.
    let (plan, (applied_ok, applied)) = ws.plan_then_apply(&[]);
    assert_eq!(action_of(&plan, "ProvisioningSync", SYNC), "Created");
    let planned = sync_of(&plan);
    assert_eq!(planned["changes"][0]["field"], "orders[mailbox-migration-2026]", "{planned:#}");
    assert!(applied_ok, "{applied:#}");
    let synced = sync_of(&applied);
    assert_eq!((synced["action"].as_str(), synced["ready"].as_bool()), (Some("Created"), Some(true)), "{synced:#}");
    assert_eq!(synced["syncStatus"], "Synchronized");
    assert!(synced["externalId"].as_str().is_some_and(|id| !id.is_empty()), "{synced:#}");
    assert_eq!(synced["groupCount"], 3, "the account group and its two organizations: {synced:#}");
    assert_eq!(synced["assets"].as_array().map(Vec::len), Some(1), "{synced:#}");
    assert!(synced["assets"][0].get("activationCode").is_none(), "names and IDs only");
    // The plan, which contacted nobody, said what the push would hold.
    for counted in ["userCount", "groupCount"] {
        assert_eq!(planned[counted], synced[counted], "{counted}: {planned:#}");
    }

    // Login members of ACME's organizations are users; a contact without login is not.
    let users = scim.users();
    let names: Vec<&str> = users.iter().map(|(n, _)| n.as_str()).collect();
    for member in [NOTIFY, "zofia.wroblewska@acme.example.pl", "priya.shah@example.com"] {
        assert!(names.contains(&member), "{member} in {names:?}");
    }
    assert!(!names.contains(&"ewa.kaminska@acme.example.pl"), "a contact has no login: {names:?}");
    assert!(users.iter().all(|(_, active)| *active == Some(true)), "{users:?}");
    assert_eq!(synced["userCount"], users.len() as i64);
    let groups = scim.groups();
    let account_group = groups.iter().find(|(name, _)| name.starts_with("ACME Polska")).expect("the account group");
    assert_eq!(account_group.1, users.len(), "every synced user is in the account group: {groups:?}");
    assert!(groups.contains(&("ACME Retail".to_owned(), 1)), "priya: {groups:?}");

    // One welcome mail with the portal link and a code only its hash of is stored.
    let welcome = welcome_mails(&ws);
    assert_eq!(welcome.len(), 1, "{:#?}", mails(&ws));
    let code = activation_code(&welcome[0]);
    assert!(unquote(&welcome[0]).contains("https://portal.provisioning.example.com/activate"), "the portal link");
    let digest: String = Sha256::digest(code.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let stored = count(&ws, "SELECT COUNT(*) FROM assets WHERE activation_code_hash IS NOT NULL");
    assert_eq!(stored, 1);
    let hashes = {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let store = Store::connect(&ws.url()).await.expect("connect");
            let mut conn = store.acquire().await.expect("connection");
            let h: String = sqlx::query_scalar("SELECT activation_code_hash FROM assets")
                .fetch_one(&mut *conn)
                .await
                .expect("hash");
            drop(conn);
            store.close().await;
            h
        })
    };
    assert_eq!(hashes, digest, "only the code's SHA-256 is stored");

    // Again: nothing changes, no second asset or mail; the code and token are never printed.
    let again = ws.run("apply", &[]);
    assert!(again.status.success(), "{}", all_output(&again));
    let shown = text(&again.stdout);
    assert_eq!(table_row(&shown, "ProvisioningSync", &format!("default/{SYNC}"))[3], "Unchanged", "{shown}");
    assert_eq!(table_row(&shown, "Secret", "default/provisioning-scim-credentials")[3..], ["Read", "-", "Input"]);
    assert_eq!(welcome_mails(&ws).len(), 1, "the order ran once");
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM assets"), 1);
    for out in [&again, &ws.run("apply", &["-o", "json"]), &ws.run("plan", &[])] {
        let all = all_output(out);
        assert!(!all.contains(&code) && !all.contains(&scim.server.token), "no secrets printed: {all}");
    }

    // A member deleted in the external system is recreated and counted as drift.
    scim.delete_user("priya.shah@example.com");
    let (ok, report) = ws.json("apply", &[]);
    let synced = sync_of(&report);
    assert!(ok, "{report:#}");
    assert_eq!((synced["action"].as_str(), synced["driftCorrections"].as_u64()), (Some("Updated"), Some(1)));
    assert!(scim.users().iter().any(|(n, a)| n == "priya.shah@example.com" && *a == Some(true)));

    // A member pruned from the manifests is deactivated, not deleted.
    let members = std::fs::read_to_string(ws.manifests().join("20-memberships.yaml")).expect("read");
    let (before, after) = members.split_once("---\n# An authorized contact").expect("the contact follows priya");
    let without_priya = before.rsplit_once("---\napiVersion").map(|(head, _)| head).expect("priya's document");
    ws.write("20-memberships.yaml", &format!("{without_priya}---\n# An authorized contact{after}"));
    let pruned = ws.run("apply", &["--prune"]);
    assert!(pruned.status.success(), "{}", all_output(&pruned));
    let users = scim.users();
    assert!(users.contains(&("priya.shah@example.com".to_owned(), Some(false))), "deactivated: {users:?}");
    assert!(users.contains(&(NOTIFY.to_owned(), Some(true))), "{users:?}");

    // Wrong credentials: a clear reason, exit 1, the token never printed.
    ws.edit("40-provisioning-sync.yaml", &scim.server.token, "a-wrong-token");
    let refused = ws.run("apply", &[]);
    assert!(!refused.status.success(), "a refused sync fails apply: {}", all_output(&refused));
    let shown = text(&refused.stdout);
    assert_eq!(table_row(&shown, "ProvisioningSync", &format!("default/{SYNC}"))[4..], ["False", "Unauthorized"]);
    assert!(!all_output(&refused).contains("a-wrong-token"), "{shown}");
    ws.edit("40-provisioning-sync.yaml", "a-wrong-token", &scim.server.token);

    // Removing the sync and pruning archives its record; assets stay, the system is left alone.
    ws.remove("40-provisioning-sync.yaml");
    let (ok, report) = ws.json("apply", &["--prune"]);
    assert!(ok, "{report:#}");
    let gone = sync_of(&report);
    assert_eq!((gone["action"].as_str(), gone["pruned"].as_bool()), (Some("Archived"), Some(true)), "{gone:#}");
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM provisioning_syncs WHERE archived_at IS NOT NULL"), 1);
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM assets"), 1, "assets are kept");
    assert!(scim.users().iter().any(|(n, a)| n == NOTIFY && *a == Some(true)), "the external system is left");
}

#[test]
fn a_system_that_is_down_waits_and_the_next_apply_syncs() {
    let Some(mut scim) = Scim::start() else { return };
    let ws = Workspace::with_examples();
    ws.edit("40-provisioning-sync.yaml", CLOSED_SCIM_URL, &scim.server.url());
    ws.edit("40-provisioning-sync.yaml", EXAMPLE_TOKEN, &scim.server.token);
    scim.server.stop();

    let down = ws.run("apply", &[]);
    assert!(down.status.success(), "an unreachable system does not fail apply: {}", all_output(&down));
    let shown = text(&down.stdout);
    assert_eq!(table_row(&shown, "ProvisioningSync", &format!("default/{SYNC}"))[4..], ["False", "Unreachable"]);
    assert!(shown.contains("1 Unreachable"), "counted as waiting: {shown}");
    assert!(welcome_mails(&ws).is_empty(), "no order runs before the first sync");
    let (_, report) = ws.json("apply", &[]);
    assert_eq!(sync_of(&report)["ordersPending"], serde_json::json!(["mailbox-migration-2026"]), "{report:#}");

    scim.rt.block_on(scim.server.start_again());
    let (ok, report) = ws.json("apply", &[]);
    assert!(ok, "{report:#}");
    let synced = sync_of(&report);
    assert_eq!((synced["syncStatus"].as_str(), synced["ready"].as_bool()), (Some("Synchronized"), Some(true)));
    assert_eq!(welcome_mails(&ws).len(), 1, "the order runs once the account is synced");
    assert_eq!(synced["ordersPending"], serde_json::json!([]));
}

#[test]
fn a_missing_credentials_secret_waits_and_a_missing_key_is_an_error() {
    let ws = Workspace::with_examples();
    let sync = std::fs::read_to_string(ws.manifests().join("40-provisioning-sync.yaml")).expect("read");
    let (_, without_secret) = sync.split_once("---\n").expect("the Secret comes first");
    ws.write("40-provisioning-sync.yaml", without_secret);
    let out = ws.run("apply", &[]);
    assert!(out.status.success(), "waiting for a Secret does not fail apply: {}", all_output(&out));
    let shown = text(&out.stdout);
    let row = table_row(&shown, "ProvisioningSync", &format!("default/{SYNC}"));
    assert_eq!(row[3..], ["Waiting", "False", "CredentialsSecretNotFound"], "{shown}");
    assert!(shown.contains("Secret provisioning-scim-credentials with the SCIM credentials does not exist in default"));

    ws.write("40-provisioning-sync.yaml", &sync.replace("  token: ", "  tokn: "));
    let out = ws.run("apply", &[]);
    assert!(!out.status.success(), "a Secret without its key fails apply");
    let shown = text(&out.stdout);
    assert!(
        shown.contains(
            "reading Secret provisioning-scim-credentials: key token is missing or empty (auth Bearer needs it)"
        ),
        "{shown}"
    );
    let planned = ws.run("plan", &[]);
    assert!(!planned.status.success(), "plan reports it too: {}", all_output(&planned));
}

#[test]
fn a_sync_over_tls_trusts_the_ca_secret_of_the_set() {
    let Some(scim) = Scim::start() else { return };
    let front = scim.rt.block_on(TlsFront::start(&scim.server));
    let ws = Workspace::with_examples();
    ws.edit("40-provisioning-sync.yaml", CLOSED_SCIM_URL, &front.url());
    ws.edit("40-provisioning-sync.yaml", EXAMPLE_TOKEN, &scim.server.token);

    // Without the CA: a TLS error someone must fix, so apply fails.
    let refused = ws.run("apply", &[]);
    assert!(!refused.status.success(), "{}", all_output(&refused));
    let shown = text(&refused.stdout);
    assert_eq!(
        table_row(&shown, "ProvisioningSync", &format!("default/{SYNC}"))[3..],
        ["ExternalError", "False", "TlsError"]
    );

    // The CA in a Secret of the set, named by caSecretRef.
    let pem = String::from_utf8(front.ca_pem.clone()).expect("PEM is text");
    let indented: String = pem.lines().map(|l| format!("    {l}\n")).collect();
    ws.write(
        "45-scim-ca.yaml",
        &format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: scim-ca\nstringData:\n  ca.crt: |\n{indented}"),
    );
    ws.edit(
        "40-provisioning-sync.yaml",
        "    auth: Bearer\n",
        "    auth: Bearer\n    caSecretRef:\n      name: scim-ca\n",
    );
    let (ok, report) = ws.json("apply", &[]);
    assert!(ok, "{report:#}");
    let synced = sync_of(&report);
    assert_eq!(
        (synced["syncStatus"].as_str(), synced["ready"].as_bool()),
        (Some("Synchronized"), Some(true)),
        "{synced:#}"
    );
    assert!(scim.users().iter().any(|(n, a)| n == NOTIFY && *a == Some(true)), "pushed over TLS");
}
