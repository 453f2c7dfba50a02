//! Activation codes in local mode: the example order's welcome mail carries a code that
//! `accountops asset activate` redeems once; the asset shows `activatedAt`; an executed order's
//! fields other than the product are immutable too.

use std::process::{Command, Output};

use crate::local::workspace::{CLOSED_SCIM_URL, Workspace, text};
use crate::provisioning_local::{EXAMPLE_TOKEN, Scim, activation_code, sync_of, welcome_mails};

fn activate(ws: &Workspace, code: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["asset", "activate", code, "--database", &ws.url()])
        .env_remove("DATABASE_URL")
        .output()
        .expect("the accountops binary runs")
}

fn apply_json(ws: &Workspace) -> (bool, serde_json::Value) {
    let out = ws.run("apply", &["-o", "json"]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    (out.status.success(), report)
}

#[test]
fn an_activation_code_works_once_and_the_asset_shows_when() {
    let Some(scim) = Scim::start() else { return };
    let ws = Workspace::with_examples();
    ws.edit("40-provisioning-sync.yaml", CLOSED_SCIM_URL, &scim.server.url());
    ws.edit("40-provisioning-sync.yaml", EXAMPLE_TOKEN, &scim.server.token);
    let (ok, first) = apply_json(&ws);
    assert!(ok, "{first:#}");
    assert!(sync_of(&first)["assets"][0].get("activatedAt").is_none(), "not activated yet");
    let welcome = welcome_mails(&ws);
    let code = activation_code(&welcome[0]);

    // Unknown codes change nothing.
    let unknown = activate(&ws, "not-a-code-anyone-was-given");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no asset has this activation code"), "{}", text(&unknown.stderr));

    let done = activate(&ws, &code);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let said = text(&done.stdout);
    assert!(said.starts_with("activated: asset asset-") && said.contains("USER-MIGRATION-BUNDLE"), "{said}");
    assert!(!said.contains(&code), "the code is not echoed");

    let again = activate(&ws, &code);
    assert_eq!(again.status.code(), Some(1));
    let err = text(&again.stderr);
    assert!(err.contains("was already activated at") && err.contains("works only once"), "{err}");

    let (ok, after) = apply_json(&ws);
    assert!(ok, "{after:#}");
    let at = sync_of(&after)["assets"][0]["activatedAt"].as_str().map(str::to_owned);
    assert!(at.as_deref().is_some_and(|t| t.ends_with('Z')), "activatedAt in status: {after:#}");
}

#[test]
fn an_executed_orders_quantity_or_invoice_cannot_change() {
    let Some(scim) = Scim::start() else { return };
    let ws = Workspace::with_examples();
    ws.edit("40-provisioning-sync.yaml", CLOSED_SCIM_URL, &scim.server.url());
    ws.edit("40-provisioning-sync.yaml", EXAMPLE_TOKEN, &scim.server.token);
    let (ok, report) = apply_json(&ws);
    assert!(ok, "{report:#}");
    ws.edit("40-provisioning-sync.yaml", "quantity: 25", "quantity: 30");
    ws.edit("40-provisioning-sync.yaml", "invoice: NextInvoice", "invoice: DoNotInvoice");
    let (ok, refused) = apply_json(&ws);
    assert!(!ok, "an immutable order fails the run: {refused:#}");
    let sync = sync_of(&refused);
    assert_eq!(sync["reason"], "OrderImmutable", "{sync:#}");
    let message = sync["message"].as_str().unwrap_or_default();
    for part in ["quantity \"25\" cannot become \"30\"", "invoice \"next_invoice\" cannot become \"do_not_invoice\""] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(welcome_mails(&ws).len(), 1, "no second order ran");
}
