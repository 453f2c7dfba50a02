//! The attacker's manifests of `tenancy_e2e`, in local mode on one shared SQLite database: a
//! victim namespace applies its set, an attacker's set in another namespace (same cluster
//! identity) tries a partner invitation through its own address, imports of a row the victim
//! released and of a platform row, and a sync import of the victim's live record. `plan` and
//! `apply` refuse each with the operator's reason, nothing is written and nothing mailed.

use std::path::{Path, PathBuf};
use std::process::Command;

use accountops::store::{ManagedTable, Owner, Store, accounts, offers, syncs};
use serde_json::Value;

use crate::local::workspace::{Workspace, text};

const CLUSTER: &str = "laptop";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// `accountops COMMAND -f DIR -o json` on the workspace's database: (exit 0, report).
fn run(ws: &Workspace, dir: &Path, command: &str, extra: &[&str]) -> (bool, Value) {
    let url = ws.url();
    let mut args = vec![command, "-f", dir.to_str().expect("utf-8"), "--database", &url, "--cluster-id", CLUSTER];
    args.extend(["-o", "json"]);
    args.extend(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(&args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("the accountops binary runs");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{command} prints JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr)));
    (out.status.success(), report)
}

fn object<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    let objects = report["objects"].as_array().expect("objects");
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name}: {report:#}"))
}

fn set(ws: &Workspace, name: &str, documents: &[String]) -> PathBuf {
    let dir = ws.db().parent().expect("workspace").join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("set.yaml"), documents.join("---\n")).expect("write set");
    dir
}

fn account(namespace: &str, name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Account\nmetadata:\n  name: {name}\n  namespace: {namespace}\n\
         {annotations}spec:\n  legalName: {name} Ltd\n  billingAddress:\n    street: [Main Street 1]\n    \
         city: Leeds\n    postalCode: LS1 1AA\n    country: GB\n  billingEmail: billing@{name}.example.com\n  \
         currency: GBP\n"
    )
}

fn organization(namespace: &str, name: &str, account: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Organization\nmetadata:\n  name: {name}\n  namespace: {namespace}\n\
         spec:\n  accountRef:\n    name: {account}\n  displayName: {name}\n  roles:\n    - name: Admin\n      \
         permissions: [members.manage]\n"
    )
}

fn external(id: &str) -> String {
    format!("  annotations:\n    accountops.dev/external-id: \"{id}\"\n")
}

/// Every row of the managed tables and the outbox, as text, to compare before and after.
fn snapshot(url: &str) -> Vec<String> {
    runtime().block_on(async {
        let store = Store::connect(url).await.expect("connect");
        let mut all = Vec::new();
        for sql in [
            "SELECT 'accounts:' || id || ':' || COALESCE(owner_namespace, '-') || ':' || COALESCE(owner_uid, '-') \
             || ':' || state || ':' || legal_name FROM accounts",
            "SELECT 'syncs:' || id || ':' || account_id || ':' || COALESCE(owner_namespace, '-') || ':' \
             || COALESCE(owner_uid, '-') FROM provisioning_syncs",
            "SELECT 'links:' || id || ':' || provider_organization_id || ':' || tenant_organization_id FROM tenant_links",
            "SELECT 'members:' || id || ':' || organization_id FROM memberships WHERE organization_id IS NOT NULL",
            "SELECT 'mail:' || id || ':' || recipient FROM mail_outbox",
        ] {
            let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(store.pool()).await.expect(sql);
            all.extend(rows);
        }
        all.sort();
        store.close().await;
        all
    })
}

#[test]
fn local_mode_refuses_the_attackers_manifests_as_the_operator_does() {
    let ws = Workspace::new();
    let victim = set(
        &ws,
        "victim",
        &[
            account("victim", "victim", ""),
            organization("victim", "victim-org", "victim"),
            "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: boss\n  namespace: victim\n\
             spec:\n  organizationRef:\n    name: victim-org\n  email: boss@victim.example\n  roles: [Admin]\n  \
             login: false\n"
                .to_owned(),
            account("victim", "old", ""),
        ],
    );
    let (ok, applied) = run(&ws, &victim, "apply", &[]);
    assert!(ok, "{applied:#}");
    let victim_org = object(&applied, "Organization", "victim-org")["id"].as_str().expect("id").to_owned();
    let victim_account = object(&applied, "Account", "victim")["id"].as_str().expect("id").to_owned();
    let released = object(&applied, "Account", "old")["id"].as_str().expect("id").to_owned();
    // The victim lets go of `old` (pruned: archived and released by its namespace).
    std::fs::write(
        victim.join("set.yaml"),
        std::fs::read_to_string(victim.join("set.yaml"))
            .expect("read")
            .split("---\n")
            .take(3)
            .collect::<Vec<_>>()
            .join("---\n"),
    )
    .expect("write");
    let (ok, pruned) = run(&ws, &victim, "apply", &["--prune"]);
    assert!(ok, "{pruned:#}");
    // A platform row and a live sync record of the victim's account.
    let (webapp, live) = runtime().block_on(async {
        let store = Store::connect(&ws.url()).await.expect("connect");
        let mut conn = store.acquire().await.expect("conn");
        let now = jiff::Timestamp::now();
        let row = accounts::find(&mut conn, &victim_account).await.expect("read").expect("row");
        let new = accounts::NewAccount { details: row.details, owner: None };
        let webapp = accounts::insert(&mut conn, &new, now).await.expect("insert").id;
        let owner =
            Owner { cluster: CLUSTER.into(), namespace: "victim".into(), name: "sync".into(), uid: "uid-sync".into() };
        let record = syncs::NewProvisioningSync {
            account_id: victim_account.clone(),
            endpoint: "https://scim.victim.example/scim/v2".into(),
            owner: Some(owner),
        };
        let live = syncs::insert(&mut conn, &record, now).await.expect("insert").id;
        drop(conn);
        store.close().await;
        (webapp, live)
    });

    let attacker = set(
        &ws,
        "attacker",
        &[
            account("evil", "evil", ""),
            organization("evil", "evil-org", "evil"),
            format!(
                "apiVersion: accountops.dev/v1alpha1\nkind: TenantLink\nmetadata:\n  name: hijack\n  namespace: evil\n\
                 spec:\n  organizationRef:\n    name: evil-org\n  partnerInvitation:\n    organizationId: {victim_org}\n    \
                 organizationRole: Customer\n    adminEmail: mallory@evil.example\n  grantedRoles: [Admin]\n  members:\n    \
                 - email: mole@evil.example\n      role: Admin\n"
            ),
            account("evil", "grab-released", &external(&released)),
            account("evil", "grab-webapp", &external(&webapp)),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: scim-credentials\n  namespace: evil\n\
             type: accountops.dev/scim-credentials\nstringData:\n  token: attacker-token\n"
                .to_owned(),
            format!(
                "apiVersion: accountops.dev/v1alpha1\nkind: ProvisioningSync\nmetadata:\n  name: steal\n  namespace: evil\n\
                 {}spec:\n  accountRef:\n    name: evil\n  endpoint:\n    url: http://127.0.0.1:9/scim/v2\n    \
                 credentialsSecretRef:\n      name: scim-credentials\n  portalUrl: https://portal.evil.example/\n",
                external(&live)
            ),
        ],
    );
    let (_, first) = run(&ws, &attacker, "apply", &[]);
    let before = snapshot(&ws.url());
    let refusals = [
        ("TenantLink", "hijack", "AdminNotInPartner", "mallory@evil.example"),
        ("Account", "grab-released", "NotOffered", released.as_str()),
        ("Account", "grab-webapp", "NotOffered", webapp.as_str()),
        ("ProvisioningSync", "steal", "OwnedElsewhere", live.as_str()),
    ];
    for command in ["plan", "apply"] {
        let (ok, report) = run(&ws, &attacker, command, &[]);
        assert!(command == "plan" || !ok, "apply fails while objects are refused: {report:#}");
        for (kind, name, reason, named) in refusals {
            let o = object(&report, kind, name);
            assert_eq!((o["reason"].as_str(), o["ready"].as_bool()), (Some(reason), Some(false)), "{command}: {o:#}");
            assert!(o["message"].as_str().is_some_and(|m| m.contains(named)), "{command}: {o:#}");
        }
    }
    assert_eq!(snapshot(&ws.url()), before, "a second plan and apply wrote nothing");
    for (kind, name, reason, _) in refusals {
        assert_eq!(object(&first, kind, name)["reason"].as_str(), Some(reason));
    }
    // Nothing of the attacker's reached the victim: no link, no mail, no member, rows as they were.
    assert!(before.iter().all(|row| !row.contains("evil.example")), "no mail to the attacker: {before:#?}");
    assert!(!before.iter().any(|row| row.starts_with("links:") && row.contains(&victim_org)), "{before:#?}");
    let in_victim_org = before.iter().filter(|row| row.starts_with("members:") && row.ends_with(&victim_org)).count();
    assert_eq!(in_victim_org, 1, "only the victim's own administrator: {before:#?}");
    let live_record = before.iter().find(|row| row.starts_with(&format!("syncs:{live}:"))).expect("the record");
    assert!(live_record.ends_with(":victim:uid-sync"), "still the victim's: {live_record}");
    let (accounts_before, _) = crate::local::workspace::rows(&ws.url());
    let old = accounts_before.iter().find(|a| a.id == released).expect("released row");
    assert!(old.owner.as_ref().is_some_and(|o| o.namespace == "victim" && o.uid.is_none()), "{old:?}");
    // The platform offers its row to the attacker's namespace: then it is imported.
    runtime().block_on(async {
        let store = Store::connect(&ws.url()).await.expect("connect");
        let mut conn = store.acquire().await.expect("conn");
        offers::offer(&mut conn, ManagedTable::Accounts, &webapp, CLUSTER, "evil", jiff::Timestamp::now())
            .await
            .expect("offer");
        drop(conn);
        store.close().await;
    });
    let (_, report) = run(&ws, &attacker, "apply", &[]);
    assert_eq!(object(&report, "Account", "grab-webapp")["action"].as_str(), Some("Imported"), "{report:#}");
    assert_eq!(object(&report, "Account", "grab-released")["reason"].as_str(), Some("NotOffered"));
}
