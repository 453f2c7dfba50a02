//! `accountops tenants PROVIDER_ID`: the examples' service provider sees the tenant that
//! redeemed its code, with the staff it placed, in a table and as JSON; unknown IDs list nothing;
//! `apply -o json` shows the totals its status.links would.

use std::process::{Command, Output};

use crate::local::workspace::{Workspace, text};

fn tenants(ws: &Workspace, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accountops"))
        .arg("tenants")
        .args(args)
        .args(["--database", &ws.url()])
        .env_remove("DATABASE_URL")
        .output()
        .expect("the accountops binary runs")
}

fn tenant_id(objects: &[serde_json::Value]) -> String {
    let o = objects.iter().find(|o| o["kind"] == "Organization" && o["name"] == "acme-engineering").expect("acme");
    o["id"].as_str().expect("id").to_owned()
}

#[test]
fn a_provider_lists_its_tenants_with_the_staff_it_placed() {
    let ws = Workspace::with_examples();
    let out = ws.run("apply", &["-o", "json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    let objects = report["objects"].as_array().expect("objects");
    let id_of = |name: &str| -> String {
        let o = objects.iter().find(|o| o["kind"] == "Organization" && o["name"] == name).expect(name);
        o["id"].as_str().unwrap_or_else(|| panic!("{o:#}")).to_owned()
    };
    let (provider, tenant) = (id_of("northwind-msp"), id_of("acme-engineering"));
    // The provider's row says what its status.links would: totals, not the list.
    let msp = objects.iter().find(|o| o["kind"] == "Organization" && o["name"] == "northwind-msp").expect("msp");
    // ACME Engineering and the brand-new tenant Fabrikam (examples/35-new-tenant.yaml).
    assert_eq!(msp["links"]["tenantCount"], 2, "{msp:#}");
    assert_eq!(msp["links"]["staffPlaced"], 2, "{msp:#}");
    let ids = msp["links"]["tenantIds"].as_array().expect("tenant IDs");
    assert!(ids.contains(&serde_json::json!(tenant_id(objects))) && ids.len() == 2, "{msp:#}");
    let acme = objects.iter().find(|o| o["kind"] == "Organization" && o["name"] == "acme-engineering").expect("acme");
    assert_eq!(acme["links"]["providerCount"], 1, "{acme:#}");

    let json = tenants(&ws, &[&provider, "-o", "json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let list: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 2, "{list:#?}");
    let acme = list.iter().find(|t| t["organizationId"] == tenant.as_str()).expect("ACME Engineering listed");
    assert_eq!(acme["mode"], "provider_code");
    assert_eq!(acme["grantedRoles"], serde_json::json!(["Engineer"]));
    assert_eq!(acme["placedByProvider"], 2, "the link's two technicians: {list:#?}");
    assert!(acme["members"].as_i64().is_some_and(|n| n >= 2), "{list:#?}");

    let table = text(&tenants(&ws, &[&provider]).stdout);
    assert!(table.starts_with("TENANT") && table.contains(&tenant), "{table}");
    let page3 = tenants(&ws, &[&provider, "--offset", "2", "-o", "json"]);
    assert_eq!(text(&page3.stdout).trim(), "[]");
    let none = tenants(&ws, &["org-unknown", "-o", "json"]);
    assert!(none.status.success());
    assert_eq!(text(&none.stdout).trim(), "[]");
    let bad = tenants(&ws, &[&provider, "--limit", "0"]);
    assert_eq!(bad.status.code(), Some(2), "clap refuses a zero page");
    assert!(text(&bad.stderr).contains("--limit"), "{}", text(&bad.stderr));
}
