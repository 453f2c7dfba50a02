//! Staff managed by the provider, in local mode on the examples: northwind-msp's
//! `serviceProvider.staff` waits while its technician has not accepted and the tenants' IDs are
//! placeholders, then places her in both tenants once they are filled in, shows her on each
//! tenant's link, refuses a role the link does not grant, and takes her out again when the
//! entry goes; `plan` shows each of these exactly as `apply` then does it.

use serde_json::Value;

use crate::local::workspace::{Workspace, text};
use crate::membership_local::{accept_with, mail_to, token_in};

const OLA: &str = "ola.kowalczyk@northwind.example.com";
const ACME_PLACEHOLDER: &str = "org-00000000-0000-4000-8000-00000000ac3e";
const FABRIKAM_PLACEHOLDER: &str = "org-00000000-0000-4000-8000-00000000fab1";

fn object<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    let all = report["objects"].as_array().expect("objects");
    all.iter().find(|o| o["kind"] == kind && o["name"] == name).unwrap_or_else(|| panic!("{kind}/{name}: {report:#}"))
}

/// `(tenantOrganizationId, reason)` of each of northwind-msp's staff entries.
fn staff(report: &Value) -> Vec<(String, String)> {
    let msp = object(report, "Organization", "northwind-msp");
    let entries = msp["staff"].as_array().unwrap_or_else(|| panic!("staff in {msp:#}"));
    entries
        .iter()
        .map(|e| {
            (e["tenantOrganizationId"].as_str().unwrap_or("").to_owned(), e["reason"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

fn provider_staff(report: &Value, link: &str) -> Value {
    object(report, "TenantLink", link)["providerStaff"].clone()
}

#[test]
fn the_provider_places_its_technician_in_its_tenants_from_its_own_organization() {
    let ws = Workspace::with_examples_but_the_sync();
    let (ok, first) = ws.json("apply", &[]);
    assert!(ok, "{first:#}");
    // Ola is invited, not yet a member; the Organization itself is fine.
    assert_eq!(object(&first, "Organization", "northwind-msp")["ready"], true);
    assert!(staff(&first).iter().all(|(_, reason)| reason == "NotProviderMember"), "{first:#}");
    let id = |name: &str| object(&first, "Organization", name)["id"].as_str().expect("id").to_owned();
    let (acme, fabrikam) = (id("acme-engineering"), id("fabrikam-operations"));
    assert_eq!(object(&first, "TenantLink", "fabrikam-appoints-northwind")["phase"], "Active", "{first:#}");

    let accepted = accept_with("invitation", &ws, &token_in(&mail_to(&ws, OLA)));
    assert!(accepted.status.success(), "{}", text(&accepted.stderr));
    // Still placeholders: no tenant of Northwind's has those IDs.
    let (_, waiting) = ws.json("apply", &[]);
    assert!(staff(&waiting).iter().all(|(_, reason)| reason == "NoActiveLink"), "{waiting:#}");
    let msg = object(&waiting, "Organization", "northwind-msp")["message"].as_str().expect("message").to_owned();
    assert!(msg.contains("staff not placed") && msg.contains(ACME_PLACEHOLDER), "{msg}");

    ws.edit("10-organizations.yaml", ACME_PLACEHOLDER, &acme);
    ws.edit("10-organizations.yaml", FABRIKAM_PLACEHOLDER, &fabrikam);
    let (plan, (ok, placed)) = ws.plan_then_apply(&[]);
    assert!(ok, "{placed:#}");
    let changes = object(&plan, "Organization", "northwind-msp")["changes"].to_string();
    assert!(changes.contains(&format!("serviceProvider.staff[{OLA}@{fabrikam}]")), "{changes}");
    assert_eq!(
        staff(&placed),
        vec![(fabrikam.clone(), "Placed".to_owned()), (acme.clone(), "Placed".to_owned())],
        "Dispatcher is granted by Fabrikam's link, Builder is built in"
    );
    // The tenants see her on their links (their own spec.members stay as they were).
    let shown = serde_json::json!([{"email": OLA, "role": "Dispatcher"}]);
    assert_eq!(provider_staff(&placed, "fabrikam-appoints-northwind"), shown, "{placed:#}");
    let acme_link = object(&placed, "TenantLink", "acme-engineering-appoints-northwind");
    assert_eq!(acme_link["providerStaff"], serde_json::json!([{"email": OLA, "role": "Builder"}]));
    assert_eq!(acme_link["members"].as_array().map(Vec::len), Some(2), "{acme_link:#}");
    let (_, again) = ws.json("apply", &[]);
    assert_eq!(object(&again, "Organization", "northwind-msp")["action"], "Unchanged", "{again:#}");

    // ACME's link grants Engineer, not Billing (a role ACME has): refused, and her row goes.
    ws.edit("10-organizations.yaml", "role: Builder", "role: Billing");
    let (_, (_, refused)) = ws.plan_then_apply(&[]);
    assert_eq!(staff(&refused)[1], (acme.clone(), "RoleNotGranted".to_owned()), "{refused:#}");
    assert_eq!(provider_staff(&refused, "acme-engineering-appoints-northwind"), serde_json::json!([]));
    // Granted by the link: placed again.
    ws.edit("10-organizations.yaml", "role: Billing", "role: Engineer");
    let (_, (_, granted)) = ws.plan_then_apply(&[]);
    assert_eq!(staff(&granted)[1], (acme.clone(), "Placed".to_owned()), "{granted:#}");
}
