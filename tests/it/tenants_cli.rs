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
    assert_eq!(msp["links"]["tenantCount"], 1, "{msp:#}");
    assert_eq!(msp["links"]["staffPlaced"], 2, "{msp:#}");
    assert_eq!(msp["links"]["tenantIds"], serde_json::json!([tenant_id(objects)]), "{msp:#}");
    let acme = objects.iter().find(|o| o["kind"] == "Organization" && o["name"] == "acme-engineering").expect("acme");
    assert_eq!(acme["links"]["providerCount"], 1, "{acme:#}");

    let json = tenants(&ws, &[&provider, "-o", "json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let list: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["organizationId"], tenant.as_str());
    assert_eq!(list[0]["mode"], "provider_code");
    assert_eq!(list[0]["grantedRoles"], serde_json::json!(["Engineer"]));
    assert_eq!(list[0]["placedByProvider"], 2, "the link's two technicians: {list:#?}");
    assert!(list[0]["members"].as_i64().is_some_and(|n| n >= 2), "{list:#?}");

    let table = text(&tenants(&ws, &[&provider]).stdout);
    assert!(table.starts_with("TENANT") && table.contains(&tenant), "{table}");
    let page2 = tenants(&ws, &[&provider, "--offset", "1", "-o", "json"]);
    assert_eq!(text(&page2.stdout).trim(), "[]");
    let none = tenants(&ws, &["org-unknown", "-o", "json"]);
    assert!(none.status.success());
    assert_eq!(text(&none.stdout).trim(), "[]");
    let bad = tenants(&ws, &[&provider, "--limit", "0"]);
    assert_eq!(bad.status.code(), Some(2), "clap refuses a zero page");
    assert!(text(&bad.stderr).contains("--limit"), "{}", text(&bad.stderr));
}
