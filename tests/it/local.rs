//! Local mode driven the way a user drives it: `accountops plan|apply -f DIR` against a SQLite
//! file in a temporary directory, checked through the output and through the store itself.
//!
//! "Plan shows exactly what apply then does" is checked object by object: the action and the
//! field changes of `plan -o json` must equal those of the `apply -o json` that follows, on a
//! fresh database, after an edit, while pruning and when a deletion is blocked.

pub(crate) mod workspace;

use std::path::Path;
use std::process::Command;

use accountops::store::accounts::LifecycleState;

use workspace::{Workspace, account, account_named, action_of, org, org_named, rows, steps, table_row, text};

#[test]
fn apply_on_the_examples_creates_then_changes_nothing_the_second_time() {
    let ws = Workspace::with_examples();
    let first = ws.run("apply", &[]);
    let shown = text(&first.stdout);
    assert!(first.status.success(), "{shown}{}", text(&first.stderr));
    assert!(shown.starts_with("KIND "), "a table: {shown}");
    assert_eq!(table_row(&shown, "Account", "default/acme-polska")[3..], ["Created", "True", "Available"]);
    assert_eq!(table_row(&shown, "Organization", "default/northwind-msp")[3..], ["Created", "True", "Available"]);
    assert_eq!(table_row(&shown, "Membership", "default/jan-nowak")[3..], ["Created", "True", "Invited"]);
    assert!(shown.contains("\n16 created.\n"), "{shown}");
    let partner = table_row(&shown, "TenantLink", "default/acme-retail-invites-logistics-partner");
    assert_eq!(partner[3..], ["Waiting", "False", "PartnerNotFound"], "waits, and apply still exits 0");
    // The example's SCIM system does not exist: the sync is recorded and waits for it.
    let sync = table_row(&shown, "ProvisioningSync", "default/acme-provisioning");
    assert_eq!(sync[3..], ["ExternalError", "False", "Unreachable"], "{shown}");
    assert!(shown.contains("2 waiting for something outside this run (1 PartnerNotFound, 1 Unreachable)"), "{shown}");
    assert!(shown.contains("\n1 Secret read as input, never written.\n"), "{shown}");
    let (accounts, orgs) = rows(&ws.url());
    assert_eq!((accounts.len(), orgs.len()), (3, 4));
    let acme = account_named(&accounts, "acme-polska");
    assert!(shown.contains(&acme.id), "the table shows the IDs: {shown}");
    assert_eq!(acme.details.billing_address.city, "Kraków");
    let owner = acme.owner.as_ref().expect("owned");
    assert_eq!((owner.cluster.as_str(), owner.namespace.as_str()), ("local", "default"));
    assert_eq!(org_named(&orgs, "acme-engineering").account_id, acme.id);
    assert!(org_named(&orgs, "northwind-msp").service_provider);

    let second = ws.run("apply", &[]);
    let shown = text(&second.stdout);
    assert!(second.status.success(), "{shown}");
    assert!(shown.contains("\nNo changes: 16 objects unchanged.\n"), "{shown}");
    assert!(!shown.contains("Created") && !shown.contains("Updated"), "{shown}");
    assert_eq!(rows(&ws.url()), (accounts, orgs), "the second apply wrote nothing: same rows, IDs and timestamps");
}

#[test]
fn plan_shows_exactly_what_apply_then_does_and_plan_alone_writes_nothing() {
    let ws = Workspace::with_examples();
    let plan = ws.run("plan", &[]);
    let shown = text(&plan.stdout);
    assert!(plan.status.success(), "{shown}{}", text(&plan.stderr));
    assert!(!ws.db().exists(), "planning against a database that does not exist creates no file");
    assert!(shown.contains("+ Account default/acme-polska (create)\n"), "{shown}");
    assert!(shown.contains("    billingAddress.city: (none) → \"Kraków\"\n"), "{shown}");
    assert!(shown.contains("+ Organization default/acme-engineering (create) in account (new)\n"), "{shown}");
    assert!(shown.contains("+ Membership default/jan-nowak (create)\n"), "{shown}");
    assert!(shown.contains("\nPlan: 17 to create.\n"), "{shown}");
    assert!(shown.contains("\n+ ProvisioningSync default/acme-provisioning (create)\n"), "{shown}");
    assert!(shown.contains("    orders[mailbox-migration-2026]: (none) → \"executed\"\n"), "{shown}");
    // The rest is about the platform side; the sync's plan and apply are in provisioning_local.
    ws.remove("40-provisioning-sync.yaml");

    // Fresh database: Organizations are planned under Accounts the same run creates.
    let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "{applied:#}");
    assert_eq!(action_of(&plan, "Organization", "acme-retail"), "Created");
    let retail = |report: &serde_json::Value| {
        let all = report["objects"].as_array().expect("objects");
        all.iter().find(|o| o["kind"] == "Organization" && o["name"] == "acme-retail").expect("acme-retail").clone()
    };
    assert_eq!(retail(&plan)["accountId"], "(new)");
    assert_eq!(retail(&applied)["accountId"], applied["objects"][0]["id"]);

    // An edit of the billing details: exactly those fields, in the plan and then in apply.
    ws.edit("00-accounts.yaml", "city: Kraków", "city: Gdańsk");
    ws.edit("00-accounts.yaml", "legalName: \"ACME Polska", "legalName: \"ACME Polska Nowa");
    let before = rows(&ws.url());
    let plan = ws.run("plan", &[]);
    let shown = text(&plan.stdout);
    assert!(plan.status.success(), "{shown}");
    let acme = &account_named(&before.0, "acme-polska").id;
    let block = format!(
        "~ Account default/acme-polska (update) {acme}\n    legalName: \"ACME Polska Spółka z ograniczoną \
         odpowiedzialnością\" → \"ACME Polska Nowa Spółka z ograniczoną odpowiedzialnością\"\n    \
         billingAddress.city: \"Kraków\" → \"Gdańsk\"\n\n"
    );
    assert!(shown.contains(&block), "{shown}");
    assert!(shown.contains("\nPlan: 1 to update, 15 unchanged.\n"), "{shown}");
    assert_eq!(rows(&ws.url()), before, "plan writes nothing");

    let (plan, (ok, _)) = ws.plan_then_apply(&[]);
    assert!(ok);
    // The examples' partner invitation waits for a partner that does not exist: no change.
    let changed: Vec<_> =
        steps(&plan).into_iter().filter(|s| !["Unchanged", "Waiting"].contains(&s.2.as_str())).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].1, "default/acme-polska");
    let fields: Vec<&str> = changed[0].3.iter().map(|c| c.split(':').next().unwrap_or_default()).collect();
    assert_eq!(fields, ["\"legalName\"", "\"billingAddress.city\""]);
    let after = rows(&ws.url());
    let row = account_named(&after.0, "acme-polska");
    assert_eq!(row.details.billing_address.city, "Gdańsk");
    assert_eq!(row.id, *acme, "updated in place");
    assert_eq!(after.1, before.1, "organizations untouched");

    let again = ws.run("apply", &[]);
    assert!(text(&again.stdout).contains("No changes: 16 objects unchanged."), "{}", text(&again.stdout));
}

#[test]
fn apply_prints_the_fields_it_changed() {
    let ws = Workspace::new();
    ws.write("a.yaml", &(account("alpha", "") + &org("alpha-ops", "alpha", "")));
    assert!(ws.run("apply", &[]).status.success());
    ws.edit("a.yaml", "city: Leeds", "city: York");
    let out = ws.run("apply", &[]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}");
    let (accounts, _) = rows(&ws.url());
    let id = &account_named(&accounts, "alpha").id;
    assert!(
        shown.contains(&format!(
            "~ Account default/alpha {id} (Updated):\n    billingAddress.city: \"Leeds\" → \"York\"\n"
        )),
        "{shown}"
    );
    assert!(shown.contains("\n1 updated, 1 unchanged.\n"), "{shown}");
}

#[test]
fn prune_archives_what_left_the_manifests_organizations_before_their_account() {
    let ws = Workspace::new();
    ws.write("a.yaml", &(account("alpha", "") + &org("alpha-ops", "alpha", "") + &org("alpha-lab", "alpha", "")));
    ws.write("b.yaml", &(account("beta", "") + &org("beta-ops", "beta", "")));
    assert!(ws.run("apply", &[]).status.success());
    let (accounts, orgs) = rows(&ws.url());
    assert_eq!((accounts.len(), orgs.len()), (2, 3));

    // beta and its organization, and alpha-lab, leave the manifests.
    ws.remove("b.yaml");
    ws.write("a.yaml", &(account("alpha", "") + &org("alpha-ops", "alpha", "")));
    let out = ws.run("apply", &[]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("No changes: 2 objects unchanged."), "{shown}");
    assert!(
        shown.contains(
            "Owned by local mode but no longer in the manifests: Organization default/alpha-lab, \
             Organization default/beta-ops, Account default/beta; --prune archives them."
        ),
        "{shown}"
    );
    assert_eq!(rows(&ws.url()), (accounts.clone(), orgs.clone()), "nothing is archived without --prune");

    let plan = ws.run("plan", &["--prune"]);
    let shown = text(&plan.stdout);
    let beta = account_named(&accounts, "beta");
    assert!(shown.contains(&format!("- Account default/beta (archive, no manifest) {}\n", beta.id)), "{shown}");
    assert!(shown.contains("\nPlan: 3 to archive, 2 unchanged.\n"), "{shown}");

    // beta can go only because beta-ops is archived first in the same run; the plan knows it.
    let (plan, (ok, applied)) = ws.plan_then_apply(&["--prune"]);
    assert!(ok, "{applied:#}");
    for (kind, name) in [("Organization", "alpha-lab"), ("Organization", "beta-ops"), ("Account", "beta")] {
        assert_eq!(action_of(&plan, kind, name), "Archived");
    }
    let (after_accounts, after_orgs) = rows(&ws.url());
    assert_eq!((after_accounts.len(), after_orgs.len()), (2, 3), "archived rows are kept");
    for (state, owner, name) in after_orgs
        .iter()
        .map(|o| (o.state, o.owner.clone(), o.name.as_str()))
        .chain(after_accounts.iter().map(|a| (a.state, a.owner.clone(), a.details.legal_name.as_str())))
    {
        let owner = owner.expect("the last owner's names are kept");
        let gone = ["alpha-lab", "beta-ops", "beta"].contains(&owner.name.as_str());
        let expected = if gone { LifecycleState::Archived } else { LifecycleState::Active };
        assert_eq!(state, expected, "{name}");
        assert_eq!(owner.uid.is_none(), gone, "archived rows are released: {name}");
    }
    let again = ws.run("apply", &["--prune"]);
    assert!(text(&again.stdout).contains("No changes: 2 objects unchanged."), "{}", text(&again.stdout));
}

#[test]
fn an_account_whose_organization_stays_is_not_pruned_but_blocked() {
    let ws = Workspace::new();
    ws.write("a.yaml", &(account("alpha", "") + &account("beta", "") + &org("ops", "alpha", "")));
    assert!(ws.run("apply", &[]).status.success());
    let (accounts, orgs) = rows(&ws.url());

    // ops stays in the set but names beta now; alpha leaves. ops keeps its row under alpha
    // (the account of an organization never changes), so alpha cannot be archived.
    ws.write("a.yaml", &(account("beta", "") + &org("ops", "beta", "")));
    let (plan, (ok, applied)) = ws.plan_then_apply(&["--prune"]);
    assert!(!ok, "a conflict and a blocked deletion fail apply: {applied:#}");
    assert_eq!(action_of(&plan, "Organization", "ops"), "Conflict");
    assert_eq!(action_of(&plan, "Account", "alpha"), "DeletionBlocked");
    let out = ws.run("apply", &["--prune"]);
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let alpha = account_named(&accounts, "alpha");
    let ops = org_named(&orgs, "ops");
    let row = table_row(&shown, "Account", "default/alpha");
    assert_eq!(row[2..], [alpha.id.as_str(), "DeletionBlocked", "False", "HasOrganizations"]);
    assert!(
        shown.contains(&format!("! Account default/alpha: account {} still has 1 organizations", alpha.id)),
        "{shown}"
    );
    assert!(shown.contains(&ops.id), "the message names the organization: {shown}");
    assert!(shown.contains("2 not ready (1 Conflict, 1 DeletionBlocked)"), "{shown}");
    let (after_accounts, _) = rows(&ws.url());
    let kept = account_named(&after_accounts, "alpha");
    assert_eq!(kept.state, LifecycleState::Active);
    assert!(kept.owner.as_ref().is_some_and(|o| o.uid.is_some()), "still managed, so a later run retries");
}

#[test]
fn an_object_waiting_for_something_outside_the_run_does_not_fail_apply() {
    let ws = Workspace::new();
    let paused = "  annotations:\n    accountops.dev/paused: \"true\"\n";
    ws.write("a.yaml", &(account("alpha", paused) + &org("ops", "alpha", "")));
    let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "exit 0: everything this run can apply was applied: {applied:#}");
    assert_eq!(action_of(&plan, "Organization", "ops"), "Waiting");
    let out = ws.run("apply", &[]);
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert_eq!(table_row(&shown, "Organization", "default/ops")[3..], ["Waiting", "False", "AccountNotReady"]);
    assert!(shown.contains("\n1 waiting for something outside this run (1 AccountNotReady): see the reasons above.\n"));
    assert!(!shown.contains("not ready"), "{shown}");
}

#[test]
fn bad_manifests_print_the_validate_errors_and_touch_nothing() {
    let ws = Workspace::with_examples();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    for name in ["bad-country.yaml", "missing-required.yaml"] {
        std::fs::copy(fixtures.join(name), ws.manifests().join(name)).expect("copy fixture");
    }
    let validate = Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["validate", "-f", ws.manifests().to_str().expect("utf-8")])
        .output()
        .expect("validate runs");
    assert!(!validate.status.success());
    assert!(text(&validate.stdout).contains("bad-country.yaml:"), "{}", text(&validate.stdout));
    for command in ["plan", "apply"] {
        for extra in [&[][..], &["--prune"]] {
            let out = ws.run(command, extra);
            assert_eq!(out.status.code(), Some(1), "{command}");
            assert_eq!(text(&out.stdout), text(&validate.stdout), "{command} prints what validate prints");
            assert_eq!(text(&out.stderr), text(&validate.stderr), "{command}");
            assert!(!ws.db().exists(), "{command} created no database");
        }
    }
}

#[test]
fn a_bad_annotation_is_reported_with_its_object_and_touches_nothing() {
    let ws = Workspace::new();
    let bad = "  annotations:\n    accountops.dev/adopt: \"yes\"\n";
    ws.write("a.yaml", &(account("alpha", bad) + &org("ops", "alpha", "")));
    for command in ["plan", "apply"] {
        let out = ws.run(command, &[]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let shown = text(&out.stdout);
        assert!(
            shown.contains(
                "a.yaml:5: Account/default/alpha: metadata.annotations: annotation accountops.dev/adopt: \
                 must be \"true\" or \"false\", not \"yes\""
            ),
            "{command}: {shown}"
        );
        assert!(text(&out.stderr).contains("1 problem(s) found"), "{command}");
        assert!(!ws.db().exists(), "{command} created no database");
    }
}

#[test]
fn a_paused_object_is_neither_planned_nor_applied() {
    let ws = Workspace::new();
    let paused = "  annotations:\n    accountops.dev/paused: \"true\"\n";
    ws.write("a.yaml", &(account("alpha", "") + &org("ops", "alpha", paused) + &org("lab", "alpha", "")));
    let plan = ws.run("plan", &[]);
    assert!(
        text(&plan.stdout).contains("= Organization default/ops (paused: not planned)\n"),
        "{}",
        text(&plan.stdout)
    );
    let (_, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "a paused object does not fail the run: {applied:#}");
    assert_eq!(action_of(&applied, "Organization", "ops"), "Skipped");
    // `-o json` shows the status the operator would write for it: Synced=False, ReconcilePaused.
    let objects = applied["objects"].as_array().expect("objects");
    let ops = objects.iter().find(|o| o["kind"] == "Organization" && o["name"] == "ops").expect("ops");
    let conditions: Vec<(&str, &str, &str)> = ops["status"]["conditions"]
        .as_array()
        .unwrap_or_else(|| panic!("a paused entry carries its status: {ops:#}"))
        .iter()
        .map(|c| {
            (c["type"].as_str().unwrap_or(""), c["status"].as_str().unwrap_or(""), c["reason"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(conditions, [("Ready", "Unknown", "ReconcilePaused"), ("Synced", "False", "ReconcilePaused")]);
    let (_, orgs) = rows(&ws.url());
    assert_eq!(orgs.len(), 1, "only lab has a row");
    assert_eq!(orgs[0].owner.as_ref().map(|o| o.name.as_str()), Some("lab"));
}

#[test]
fn re_adopting_after_a_prune_is_planned_as_it_is_applied() {
    const ADOPT: &str = "  annotations:\n    accountops.dev/adopt: \"true\"\n";
    // The plan must see the organization row an account it only adopts in this run holds.
    for (org_annotations, org_action) in [("", "AdoptionRequired"), (ADOPT, "Adopted")] {
        let ws = Workspace::new();
        ws.write("a.yaml", &(account("alpha", "") + &org("ops", "alpha", "")));
        assert!(ws.run("apply", &[]).status.success());
        let (accounts, orgs) = rows(&ws.url());
        ws.remove("a.yaml");
        assert!(ws.run("apply", &["--prune"]).status.success());

        ws.write("a.yaml", &(account("alpha", ADOPT) + &org("ops", "alpha", org_annotations)));
        let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
        assert_eq!(ok, org_action == "Adopted", "{applied:#}");
        assert_eq!(action_of(&plan, "Account", "alpha"), "Adopted");
        assert_eq!(action_of(&plan, "Organization", "ops"), org_action);
        let state_only = ["\"state\": \"archived\" → \"active\""];
        assert_eq!(steps(&plan)[1].3, if org_action == "Adopted" { &state_only[..] } else { &[] });
        let (after_accounts, after_orgs) = rows(&ws.url());
        assert_eq!(after_accounts[0].id, accounts[0].id, "the same account, not a new one");
        assert_eq!(after_accounts[0].state, LifecycleState::Active);
        assert_eq!(after_orgs[0].id, orgs[0].id);
        let org_state = if org_action == "Adopted" { LifecycleState::Active } else { LifecycleState::Archived };
        assert_eq!(after_orgs[0].state, org_state);
    }
}

#[test]
fn plan_equals_apply_for_a_generated_set_of_a_thousand_objects() {
    use crate::local::workspace::{account as account_doc, org as org_doc, steps};
    let ws = Workspace::new();
    let membership = |n: usize, renamed: bool| {
        let name = if renamed { format!("\n  displayName: Person {n}") } else { String::new() };
        format!(
            "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: member-{n}\nspec:\n  \
             organizationRef:\n    name: org-{}\n  email: person-{n}@example.com\n  roles: [Admin]\n  login: {}{name}\n---\n",
            n % 45,
            n.is_multiple_of(2)
        )
    };
    let write = |renamed: &dyn Fn(usize) -> bool| {
        let mut text = String::new();
        (0..5).for_each(|a| text += &account_doc(&format!("acct-{a}"), ""));
        (0..45).for_each(|o| text += &org_doc(&format!("org-{o}"), &format!("acct-{}", o % 5), ""));
        (0..950).for_each(|m| text += &membership(m, renamed(m)));
        ws.write("set.yaml", &text);
    };
    write(&|_| false);
    let (plan, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "{applied:#}");
    let planned = steps(&plan);
    assert_eq!(planned.len(), 1000);
    assert!(planned.iter().all(|(_, _, action, _)| action == "Created"), "a fresh database: everything is created");
    // Applied, the same set plans nothing.
    let (again, _) = ws.plan_then_apply(&[]);
    assert!(steps(&again).iter().all(|(_, _, action, _)| action == "Unchanged"), "{again:#}");
    // Fifty members get a display name: plan and apply agree again, object by object.
    write(&|m| m.is_multiple_of(19));
    let (changed, (ok, applied)) = ws.plan_then_apply(&[]);
    assert!(ok, "{applied:#}");
    let updated = steps(&changed).iter().filter(|(_, _, action, _)| action == "Updated").count();
    assert_eq!(updated, 50, "{changed:#}");
}
