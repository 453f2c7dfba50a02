//! TenantLinks in local mode, driven the way a user drives them: `apply -f examples/` appoints
//! the service provider with a code the provider issues in the run (no cluster, so no Secret),
//! a code handed over in a Secret of another manifest set works once, a partner invitation to
//! an organization that exists goes out by mail and `tenant-link accept TOKEN` activates it,
//! and `--prune` revokes a removed link before its organization goes. Checked through the
//! output, the mailbox and the database; a code or a token is never printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use accountops::core::provider_code;
use accountops::store::Store;
use serde_json::Value;

use crate::local::workspace::{Workspace, account, action_of, org, org_named, rows, table_row, text};
use crate::membership_local::{mail_to, mails, token_in};

const LINK: &str = "acme-engineering-appoints-northwind";
const PARTNER: &str = "acme-retail-invites-logistics-partner";
const UNKNOWN_PARTNER: &str = "org-3f6e2c9a-5b1d-4e8f-9a27-c0d4b8e1f5a3";

/// One scalar of a query with one text parameter.
fn scalar(url: &str, sql: &'static str, bind: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store = Store::connect(url).await.expect("connect");
        let mut conn = store.acquire().await.expect("connection");
        let n: i64 = sqlx::query_scalar(sql).bind(bind.to_owned()).fetch_one(&mut *conn).await.expect(sql);
        drop(conn);
        store.close().await;
        n
    })
}

/// Live memberships the link owned by `name` derived (provider staff in the tenant).
fn staff(url: &str, name: &str) -> i64 {
    scalar(
        url,
        "SELECT COUNT(*) FROM memberships m JOIN tenant_links l ON m.tenant_link_id = l.id \
         WHERE l.owner_name = $1 AND m.revoked_at IS NULL AND m.organization_id = l.tenant_organization_id",
        name,
    )
}

/// Issue a code for the organization row `org_id`, as the operator would into its Secret.
fn issue_code(url: &str, org_id: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store = Store::connect(url).await.expect("connect");
        let mut conn = store.acquire().await.expect("connection");
        let now = jiff::Timestamp::now();
        let (token, _) =
            provider_code::issue(&mut conn, org_id, provider_code::DEFAULT_LIFETIME, now).await.expect("issue");
        drop(conn);
        store.close().await;
        token.expose().to_owned()
    })
}

/// `accountops COMMAND -f DIR` on the workspace's database under another cluster ID.
fn run_set(ws: &Workspace, dir: &Path, cluster: &str, command: &str, extra: &[&str]) -> Output {
    let url = ws.url();
    let mut args = vec![command, "-f", dir.to_str().expect("utf-8"), "--database", &url, "--cluster-id", cluster];
    args.extend(extra);
    Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(&args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("the accountops binary runs")
}

/// A tenant account and organization, a Secret with `code` and a link redeeming it.
fn tenant_set(ws: &Workspace, name: &str, code: &str) -> PathBuf {
    let dir = ws.db().parent().expect("workspace").join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    let link = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: northwind-code\nstringData:\n  code: \"{code}\"\n---\n\
         apiVersion: accountops.dev/v1alpha1\nkind: TenantLink\nmetadata:\n  name: {name}-appoints-northwind\n\
         spec:\n  organizationRef:\n    name: {name}-ops\n  providerCode:\n    secretRef:\n      \
         name: northwind-code\n      key: code\n  grantedRoles: [Admin]\n"
    );
    let text = account(name, "") + &org(&format!("{name}-ops"), name, "") + &link;
    std::fs::write(dir.join("set.yaml"), text).expect("write set");
    dir
}

fn object<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    let objects = report["objects"].as_array().expect("objects");
    objects.iter().find(|o| o["kind"] == kind && o["name"] == name).unwrap_or_else(|| panic!("{kind} {name}"))
}

/// The examples' files without the documents that name any of `names`.
fn drop_documents(ws: &Workspace, file: &str, names: &[&str]) {
    let text = std::fs::read_to_string(ws.manifests().join(file)).expect("read");
    let kept: Vec<&str> =
        text.split("\n---\n").filter(|doc| !names.iter().any(|n| doc.contains(&format!("\n  name: {n}\n")))).collect();
    ws.write(file, &kept.join("\n---\n"));
}

#[test]
fn the_examples_appoint_the_provider_with_a_code_issued_in_the_run() {
    let ws = Workspace::with_examples_but_the_sync();
    let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "exit 0 although the partner invitation waits: {applied:#}");
    assert_eq!(action_of(&plan, "TenantLink", LINK), "Created");
    assert_eq!(action_of(&plan, "TenantLink", PARTNER), "Waiting");
    // One code per link that redeems one: ACME Engineering's and Fabrikam's (35-new-tenant.yaml).
    let issued = serde_json::json!(["default/northwind-msp", "default/northwind-msp"]);
    assert_eq!(plan["providerCodesIssued"], issued, "{plan:#}");
    assert_eq!(applied["providerCodesIssued"], plan["providerCodesIssued"]);

    let link = object(&applied, "TenantLink", LINK);
    assert_eq!((link["phase"].as_str(), link["ready"].as_bool()), (Some("Active"), Some(true)), "{link:#}");
    assert_eq!(link["counterpartOrganizationName"], "Northwind MSP");
    assert_eq!(link["members"], serde_json::json!(["tech.lead@northwind.example.com", "oncall@northwind.example.com"]));
    let partner = object(&applied, "TenantLink", PARTNER);
    assert_eq!(partner["reason"], "PartnerNotFound");
    assert!(partner["message"].as_str().is_some_and(|m| m.contains(UNKNOWN_PARTNER)), "{partner:#}");

    // The provider staff are members of acme-engineering, through the link.
    let (_, orgs) = rows(&ws.url());
    let engineering = org_named(&orgs, "acme-engineering");
    assert_eq!(staff(&ws.url(), LINK), 2);
    let in_engineering = scalar(
        &ws.url(),
        "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND tenant_link_id IS NOT NULL",
        &engineering.id,
    );
    assert_eq!(in_engineering, 2);
    // One code per link (ACME's and Fabrikam's), each used; only hashes are stored, printed nowhere.
    let northwind = org_named(&orgs, "northwind-msp");
    let codes = "SELECT COUNT(*) FROM provider_codes WHERE organization_id = $1 AND used_at IS NOT NULL";
    assert_eq!(scalar(&ws.url(), codes, &northwind.id), 2);

    let again = ws.run("apply", &[]);
    let shown = text(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{shown}");
    assert!(shown.contains("\nNo changes: 16 objects unchanged.\n"), "{shown}");
    assert!(!shown.contains("provider code issued"), "the link exists; no code is needed: {shown}");
    assert_eq!(table_row(&shown, "TenantLink", &format!("default/{LINK}"))[3..], ["Unchanged", "True", "Active"]);
    assert_eq!(
        table_row(&shown, "TenantLink", &format!("default/{PARTNER}"))[3..],
        ["Waiting", "False", "PartnerNotFound"]
    );
    assert!(shown.contains("1 waiting for something outside this run (1 PartnerNotFound)"), "{shown}");
    let all = "SELECT COUNT(*) FROM provider_codes WHERE organization_id = $1";
    assert_eq!(scalar(&ws.url(), all, &northwind.id), 2, "no code issued for nothing");
    assert_eq!(staff(&ws.url(), LINK), 2);
}

#[test]
fn a_code_from_a_secret_works_once_across_manifest_sets() {
    let ws = Workspace::with_examples();
    assert!(ws.run("apply", &[]).status.success());
    let (_, orgs) = rows(&ws.url());
    let code = issue_code(&ws.url(), &org_named(&orgs, "northwind-msp").id);

    let beta = tenant_set(&ws, "beta", &code);
    let first = run_set(&ws, &beta, "beta", "apply", &["-o", "json"]);
    let report: Value = serde_json::from_slice(&first.stdout).expect("JSON");
    assert_eq!(first.status.code(), Some(0), "{report:#}");
    let link = object(&report, "TenantLink", "beta-appoints-northwind");
    assert_eq!((link["action"].as_str(), link["phase"].as_str()), (Some("Created"), Some("Active")), "{link:#}");
    assert_eq!(report["providerCodesIssued"], serde_json::json!([]), "the Secret's code, not a new one");

    let gamma = tenant_set(&ws, "gamma", &code);
    let plan = run_set(&ws, &gamma, "gamma", "plan", &["-o", "json"]);
    let planned: Value = serde_json::from_slice(&plan.stdout).expect("JSON");
    assert_eq!(action_of(&planned, "TenantLink", "gamma-appoints-northwind"), "Conflict");
    let second = run_set(&ws, &gamma, "gamma", "apply", &[]);
    let shown = text(&second.stdout);
    assert_eq!(second.status.code(), Some(1), "a used code fails apply: {shown}");
    let row = table_row(&shown, "TenantLink", "default/gamma-appoints-northwind");
    assert_eq!(row[2..], ["-", "Conflict", "False", "CodeAlreadyUsed"]);
    assert!(shown.contains("1 not ready (1 Conflict)"), "{shown}");
    for out in [&first, &plan, &second] {
        assert!(!text(&out.stdout).contains(&code) && !text(&out.stderr).contains(&code), "the code is never shown");
    }
    assert_eq!(staff(&ws.url(), "gamma-appoints-northwind"), 0);
}

/// The examples applied, then the partner invitation pointed at northwind-msp (with a member
/// of its staff and its administrator) and applied: returns the plan and the apply report.
fn invite_northwind(ws: &Workspace) -> (Value, (bool, Value)) {
    let (ok, first) = ws.json("apply", &[]);
    assert!(ok, "{first:#}");
    let northwind = object(&first, "Organization", "northwind-msp")["id"].as_str().expect("an ID").to_owned();
    ws.edit("30-tenant-links.yaml", UNKNOWN_PARTNER, &northwind);
    ws.edit(
        "30-tenant-links.yaml",
        "  grantedRoles: [Viewer]",
        "  grantedRoles: [Viewer]\n  members:\n    - email: dispatch@northwind.example.com\n      role: Consumer",
    );
    // The invitation goes only to an administrator of the partner: make the address one.
    ws.write(
        "25-partner-admin.yaml",
        "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: northwind-partner-admin\n\
         spec:\n  organizationRef:\n    name: northwind-msp\n  email: admin@logistics-partner.example.com\n  \
         roles: [Admin]\n  login: false\n",
    );
    ws.plan_then_apply(&[])
}

/// `accountops tenant-link accept TOKEN` on the workspace's database.
fn accept(ws: &Workspace, token: &str) -> Output {
    crate::membership_local::accept_with("tenant-link", ws, token)
}

/// The partner administrator's mails, oldest first.
fn partner_mails(ws: &Workspace) -> Vec<String> {
    mails(ws).into_iter().filter(|m| m.contains("To: admin@logistics-partner.example.com")).collect()
}

#[test]
fn a_partner_invitation_is_mailed_accepted_and_then_active() {
    let ws = Workspace::with_examples_but_the_sync();
    let (plan, (ok, applied)) = invite_northwind(&ws);
    assert!(ok, "an invitation awaiting acceptance does not fail apply: {applied:#}");
    assert_eq!(action_of(&plan, "TenantLink", PARTNER), "Created");
    let partner = object(&applied, "TenantLink", PARTNER);
    assert_eq!((partner["phase"].as_str(), partner["reason"].as_str()), (Some("Pending"), Some("AwaitingAcceptance")));
    assert_eq!(partner["ready"], false);
    assert_eq!(applied["mail"]["delivered"], 1, "{applied:#}");
    let mail = mail_to(&ws, "admin@logistics-partner.example.com");
    let token = token_in(&mail);
    assert_eq!(mails(&ws).len(), 6, "five membership invitations and this one");

    let accept = accept(&ws, &token);
    let said = text(&accept.stdout);
    assert!(accept.status.success(), "{said}{}", text(&accept.stderr));
    assert!(said.starts_with("accepted: ") && !said.contains(&token), "{said}");

    let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "{applied:#}");
    assert_eq!(action_of(&plan, "TenantLink", PARTNER), "Updated", "the partner's staff join: {plan:#}");
    let partner = object(&applied, "TenantLink", PARTNER);
    assert_eq!((partner["phase"].as_str(), partner["ready"].as_bool()), (Some("Active"), Some(true)));
    assert_eq!(partner["members"], serde_json::json!(["dispatch@northwind.example.com"]));
    assert_eq!(staff(&ws.url(), PARTNER), 1);
    let again = ws.run("apply", &[]);
    let shown = text(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{shown}");
    assert!(shown.contains("No changes: 18 objects unchanged."), "{shown}");
    assert!(!shown.contains("waiting"), "{shown}");
}

#[test]
fn a_new_resend_nonce_mails_a_second_partner_invitation_and_the_first_token_is_refused() {
    let ws = Workspace::with_examples_but_the_sync();
    let (_, (ok, applied)) = invite_northwind(&ws);
    assert!(ok, "{applied:#}");
    let partner = object(&applied, "TenantLink", PARTNER);
    assert!(partner["invitationExpiresAt"].is_string(), "{partner:#}");
    assert_eq!(partner["invitation"]["expiresAt"], partner["invitationExpiresAt"], "{partner:#}");
    let first = token_in(&partner_mails(&ws)[0]);

    ws.edit("30-tenant-links.yaml", "    lifetime: 7d\n", "    lifetime: 7d\n    resendNonce: \"2\"\n");
    let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "{applied:#}");
    assert_eq!(action_of(&plan, "TenantLink", PARTNER), "Updated", "{plan:#}");
    let sent = partner_mails(&ws);
    assert_eq!(sent.len(), 2, "a second invitation mail");
    // The mailbox's file names do not keep the order: the new mail is the one without `first`.
    let tokens: Vec<String> = sent.iter().map(|m| token_in(m)).filter(|t| *t != first).collect();
    assert_eq!(tokens.len(), 1, "the second mail has a new token");
    let second = &tokens[0];
    let refused = accept(&ws, &first);
    assert!(!refused.status.success(), "the first token stops working");
    assert!(text(&refused.stderr).contains("revoked"), "{}", text(&refused.stderr));
    let accepted = accept(&ws, second);
    assert!(accepted.status.success(), "{}", text(&accepted.stderr));
    let (_, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "{applied:#}");
    let partner = object(&applied, "TenantLink", PARTNER);
    assert_eq!((partner["phase"].as_str(), &partner["invitationExpiresAt"]), (Some("Active"), &Value::Null));
    let again = ws.json("apply", &[]).1;
    assert_eq!(action_of(&again, "TenantLink", PARTNER), "Unchanged", "the same nonce sends nothing more");
    assert_eq!(partner_mails(&ws).len(), 2);
}

#[test]
fn pruning_revokes_a_removed_link_before_its_organization_goes() {
    let ws = Workspace::with_examples();
    assert!(ws.run("apply", &[]).status.success());
    assert_eq!(staff(&ws.url(), LINK), 2);

    // acme-engineering leaves with its members and the link that made northwind its provider;
    // the link's staff are members there too, so the link must be revoked first.
    drop_documents(&ws, "30-tenant-links.yaml", &[LINK]);
    drop_documents(&ws, "20-memberships.yaml", &["jan-nowak", "zofia-wroblewska", "ewa-kaminska-contact"]);
    drop_documents(&ws, "10-organizations.yaml", &["acme-engineering"]);
    let listed = ws.run("apply", &[]);
    let shown = text(&listed.stdout);
    assert!(listed.status.success(), "{shown}");
    assert!(shown.contains(&format!("no longer in the manifests: TenantLink default/{LINK}, Membership")), "{shown}");
    assert_eq!(staff(&ws.url(), LINK), 2, "nothing is revoked without --prune");

    let (plan, (ok, applied)) = ws.plan_then_apply(&["--prune"]);
    assert!(ok, "{applied:#}");
    for (kind, name) in [("TenantLink", LINK), ("Membership", "jan-nowak"), ("Organization", "acme-engineering")] {
        assert_eq!(action_of(&plan, kind, name), "Archived", "{plan:#}");
    }
    let kinds: Vec<&str> = applied["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter(|o| o["pruned"] == true)
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["TenantLink", "Membership", "Membership", "Membership", "Organization"]);
    assert_eq!(staff(&ws.url(), LINK), 0, "the provider staff left with the link");
    let revoked = "SELECT COUNT(*) FROM tenant_links WHERE owner_name = $1 AND revoked_at IS NOT NULL";
    assert_eq!(scalar(&ws.url(), revoked, LINK), 1, "revoked, and kept");
    let again = ws.run("apply", &["--prune"]);
    let shown = text(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{shown}");
    assert!(shown.contains("No changes: 11 objects unchanged."), "{shown}");
}
