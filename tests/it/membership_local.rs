//! Memberships in local mode, driven the way a user drives them: `apply -f examples/` invites by
//! mail into the file mailbox, `invitation accept TOKEN` (the token read from the `.eml`)
//! activates, a re-sent invitation replaces the token, `--prune` revokes, and `validate`
//! rejects a bad address. Checked through the output, the mailbox and the database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use accountops::store::Store;
use accountops::store::memberships::MembershipPhase;

use crate::local::workspace::{Workspace, account, action_of, org, table_row, text};

fn mailbox(ws: &Workspace) -> PathBuf {
    ws.db().parent().expect("workspace dir").join("mailbox")
}

/// The `.eml` files in the mailbox, sorted by name.
pub(crate) fn mails(ws: &Workspace) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(mailbox(ws)) else { return Vec::new() };
    let mut paths: Vec<PathBuf> =
        dir.map(|e| e.expect("entry").path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read_to_string(p).expect("read .eml")).collect()
}

/// The one mail to `address`.
pub(crate) fn mail_to(ws: &Workspace, address: &str) -> String {
    let to: Vec<String> = mails(ws).into_iter().filter(|m| m.contains(&format!("To: {address}"))).collect();
    assert_eq!(to.len(), 1, "one mail to {address}: {to:#?}");
    to.into_iter().next().unwrap_or_default()
}

/// Quoted-printable undone: soft line breaks joined, `=XX` decoded (ASCII is enough here).
pub(crate) fn unquote(eml: &str) -> String {
    let joined = eml.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::new();
    let mut rest = joined.as_str();
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
        match code {
            Some(b) if b.is_ascii() => {
                out.push(char::from(b));
                rest = &rest[i + 3..];
            }
            _ => {
                out.push('=');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The token of the accept link in an invitation mail.
pub(crate) fn token_in(eml: &str) -> String {
    let plain = unquote(eml);
    let (_, rest) = plain.split_once("/invitations/accept?token=").expect("an accept link");
    let token: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    assert!(token.len() >= 43, "a 256-bit token: {token}");
    token
}

fn accept(ws: &Workspace, token: &str) -> Output {
    accept_with("invitation", ws, token)
}

/// `accountops COMMAND accept TOKEN` on the workspace's database (`invitation` or `tenant-link`).
pub(crate) fn accept_with(command: &str, ws: &Workspace, token: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args([command, "accept", token, "--database", &ws.url()])
        .env_remove("DATABASE_URL")
        .output()
        .expect("the accountops binary runs")
}

/// Phase of the membership row owned by `name`, and the number of outbox rows.
fn phase_and_outbox(url: &str, name: &str) -> (String, i64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store = Store::connect(url).await.expect("connect");
        let mut conn = store.acquire().await.expect("connection");
        let phase: String =
            sqlx::query_scalar("SELECT phase FROM memberships WHERE owner_name = $1 AND owner_uid IS NOT NULL")
                .bind(name)
                .fetch_one(&mut *conn)
                .await
                .expect("membership row");
        let mails: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox").fetch_one(&mut *conn).await.expect("count");
        drop(conn);
        store.close().await;
        (phase, mails)
    })
}

#[test]
fn the_examples_invite_by_mail_once_and_a_token_activates_once() {
    let ws = Workspace::with_examples();
    let first = ws.run("apply", &[]);
    let shown = text(&first.stdout);
    assert!(first.status.success(), "{shown}{}", text(&first.stderr));
    for name in ["jan-nowak", "zofia-wroblewska", "priya-shah"] {
        assert_eq!(table_row(&shown, "Membership", &format!("default/{name}"))[3..], ["Created", "True", "Invited"]);
    }
    for name in ["ewa-kaminska-contact", "acme-finance"] {
        assert_eq!(table_row(&shown, "Membership", &format!("default/{name}"))[3..], ["Created", "True", "Active"]);
    }
    assert!(shown.contains("Mail: 5 delivered to ./mailbox."), "{shown}");

    assert_eq!(mails(&ws).len(), 5, "one mail per invitation, none for contacts");
    let jan = mail_to(&ws, "jan.nowak@acme.example.pl");
    assert!(jan.contains("Content-Language: pl"), "{jan}");
    assert!(unquote(&jan).contains("Twoje role: Admin."), "{jan}");
    let zofia = mail_to(&ws, "Zofia.Wroblewska@acme.example.pl");
    assert!(zofia.contains("Content-Language: pl"), "{zofia}");
    let priya = mail_to(&ws, "priya.shah@example.com");
    assert!(priya.contains("Content-Language: en"), "{priya}");
    assert!(priya.contains("Subject: Invitation to the organization ACME Retail"), "{priya}");
    assert!(!mails(&ws).iter().any(|m| m.contains("ewa.kaminska") || m.contains("ksiegowosc")));

    let again = ws.run("apply", &[]);
    let shown = text(&again.stdout);
    assert!(again.status.success(), "{shown}");
    assert!(shown.contains("No changes: 16 objects unchanged."), "{shown}");
    assert!(!shown.contains("Mail:"), "nothing new to deliver: {shown}");
    assert_eq!(mails(&ws).len(), 5, "a second apply sends no second mail");
    assert_eq!(phase_and_outbox(&ws.url(), "jan-nowak"), (MembershipPhase::Invited.to_string(), 5));

    let token = token_in(&jan);
    let accepted = accept(&ws, &token);
    assert!(accepted.status.success(), "{}", text(&accepted.stderr));
    assert_eq!(text(&accepted.stdout), "accepted: jan.nowak@acme.example.pl is now Active in ACME Engineering\n");
    let twice = accept(&ws, &token);
    assert_eq!(twice.status.code(), Some(1));
    let err = text(&twice.stderr);
    assert!(err.starts_with("error: ") && err.contains("already used") && err.lines().count() == 1, "{err}");
    assert!(!err.contains(&token) && !text(&twice.stdout).contains(&token), "the token is never printed");
    let unknown = accept(&ws, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no invitation has this token"), "{}", text(&unknown.stderr));
    // One token in 64 starts with '-': still a token, not a flag.
    let dashed = accept(&ws, "-qAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert!(text(&dashed.stderr).contains("no invitation has this token"), "{}", text(&dashed.stderr));

    let after = ws.run("apply", &[]);
    let shown = text(&after.stdout);
    assert_eq!(table_row(&shown, "Membership", "default/jan-nowak")[3..], ["Unchanged", "True", "Active"]);
    assert_eq!(table_row(&shown, "Membership", "default/zofia-wroblewska")[5], "Invited");
    assert_eq!(phase_and_outbox(&ws.url(), "jan-nowak"), (MembershipPhase::Active.to_string(), 5));
}

#[test]
fn plan_matches_apply_for_role_changes_and_a_resend_replaces_the_token() {
    let ws = Workspace::with_examples_but_the_sync();
    let (_, (ok, _)) = ws.plan_then_apply(&[]);
    assert!(ok);
    let old = token_in(&mail_to(&ws, "Zofia.Wroblewska@acme.example.pl"));

    ws.edit("20-memberships.yaml", "  roles: [Engineer]\n", "  roles: [Engineer, Billing]\n");
    ws.edit("20-memberships.yaml", "    lifetime: 72h\n", "    lifetime: 72h\n    resendNonce: \"2\"\n");
    let plan = ws.run("plan", &[]);
    let shown = text(&plan.stdout);
    assert!(shown.contains("~ Membership default/zofia-wroblewska (update) mbr-"), "{shown}");
    assert!(shown.contains("    roles: \"[\\\"Engineer\\\"]\" → \"[\\\"Engineer\\\",\\\"Billing\\\"]\"\n"), "{shown}");
    assert!(shown.contains("    invitation: \"open\" → \"re-sent (pl, 72h)\"\n"), "{shown}");
    assert!(shown.contains("Plan: 1 to update, 15 unchanged."), "{shown}");

    let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "{applied:#}");
    assert_eq!(action_of(&plan, "Membership", "zofia-wroblewska"), "Updated");
    assert_eq!(applied["mail"]["delivered"], 1, "{applied:#}");
    let zofia_json = applied["objects"].as_array().and_then(|o| o.iter().find(|o| o["name"] == "zofia-wroblewska"));
    let zofia_json = zofia_json.expect("zofia in the report");
    assert_eq!(zofia_json["phase"], "Invited");
    assert!(zofia_json["userId"].as_str().is_some_and(|u| u.starts_with("usr-")), "{zofia_json:#}");
    assert!(zofia_json["invitation"]["expiresAt"].is_string(), "{zofia_json:#}");
    assert!(!zofia_json.to_string().contains("token"), "{zofia_json:#}");
    let zofia: Vec<String> = mails(&ws).into_iter().filter(|m| m.contains("To: Zofia")).collect();
    assert_eq!(zofia.len(), 2, "the re-sent invitation is a new mail");
    let new = zofia.iter().map(|m| token_in(m)).find(|t| *t != old).expect("a new token");
    let stale = accept(&ws, &old);
    assert!(text(&stale.stderr).contains("revoked"), "{}", text(&stale.stderr));
    let fresh = accept(&ws, &new);
    assert!(fresh.status.success(), "{}", text(&fresh.stderr));
}

/// One person (one user row) in two organizations: renaming her in both manifests is one
/// correction of the user, made by the first Membership; the second reads the user as the run
/// left it (not as it was when the run began) and has nothing to change.
#[test]
fn a_later_membership_sees_the_user_an_earlier_one_of_the_run_corrected() {
    let ws = Workspace::new();
    let member = |name: &str, organization: &str, shown: &str| {
        format!(
            "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: {name}\nspec:\n  \
             organizationRef:\n    name: {organization}\n  email: ann@example.com\n  displayName: {shown}\n  \
             roles: [Admin]\n---\n"
        )
    };
    let set = |shown: &str| {
        [account("acme", ""), org("north", "acme", ""), org("south", "acme", ""), member("ann-north", "north", shown)]
            .concat()
            + &member("ann-south", "south", shown)
    };
    ws.write("set.yaml", &set("Ann"));
    assert!(ws.run("apply", &[]).status.success());
    let (_, (ok, again)) = ws.plan_then_apply(&[]);
    assert!(ok, "{again:#}");
    assert_eq!(action_of(&again, "Membership", "ann-south"), "Unchanged", "{again:#}");

    ws.write("set.yaml", &set("Ann Nowak"));
    let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "{applied:#}");
    assert_eq!(action_of(&plan, "Membership", "ann-north"), "Updated", "{plan:#}");
    assert_eq!(action_of(&plan, "Membership", "ann-south"), "Unchanged", "{plan:#}");
    let (_, (ok, after)) = ws.plan_then_apply(&[]);
    assert!(ok, "{after:#}");
    assert_eq!(action_of(&after, "Membership", "ann-north"), "Unchanged", "{after:#}");
}

#[test]
fn pruning_revokes_a_membership_and_its_invitation() {
    let ws = Workspace::with_examples();
    assert!(ws.run("apply", &[]).status.success());
    let token = token_in(&mail_to(&ws, "priya.shah@example.com"));
    let text_of = std::fs::read_to_string(ws.manifests().join("20-memberships.yaml")).expect("read");
    let without: Vec<&str> = text_of.split("\n---\n").filter(|doc| !doc.contains("name: priya-shah")).collect();
    ws.write("20-memberships.yaml", &without.join("\n---\n"));

    let listed = ws.run("apply", &[]);
    assert!(text(&listed.stdout).contains("no longer in the manifests: Membership default/priya-shah"));
    let (plan, (ok, applied)) = ws.plan_then_apply(&["--prune"]);
    assert!(ok, "{applied:#}");
    assert_eq!(action_of(&plan, "Membership", "priya-shah"), "Archived");
    let refused = accept(&ws, &token);
    assert!(text(&refused.stderr).contains("revoked"), "the link stops working: {}", text(&refused.stderr));
}

#[test]
fn validate_rejects_a_bad_address_before_anything_is_written() {
    let ws = Workspace::with_examples();
    ws.edit("20-memberships.yaml", "email: priya.shah@example.com", "email: priya.shah(at)example.com");
    let validate = Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["validate", "-f", ws.manifests().to_str().expect("utf-8")])
        .output()
        .expect("validate runs");
    assert_eq!(validate.status.code(), Some(1));
    let shown = text(&validate.stdout);
    assert!(shown.contains("Membership/default/priya-shah: spec.email"), "{shown}");
    let apply = ws.run("apply", &[]);
    assert_eq!(apply.status.code(), Some(1));
    assert!(!ws.db().exists() && !Path::new(&mailbox(&ws)).exists(), "nothing was written");
}
