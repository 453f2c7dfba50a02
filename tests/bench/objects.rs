//! The benchmark's object set: 1 Account, 50 Organizations and N Memberships (every other one
//! with a login, spread over the organizations), as JSON for the apiserver and as one YAML
//! stream for local mode.

use serde_json::{Value, json};

pub const ORGANIZATIONS: usize = 50;
pub const ACCOUNT: &str = "bench";

pub fn account() -> Value {
    json!({
        "apiVersion": "accountops.dev/v1alpha1",
        "kind": "Account",
        "metadata": {"name": ACCOUNT},
        "spec": {
            "legalName": "Bench Sp. z o.o.",
            "billingAddress": {"street": ["ul. Długa 1"], "city": "Gdańsk", "postalCode": "80-827", "country": "PL"},
            "billingEmail": "billing@bench.example",
            "currency": "PLN"
        }
    })
}

pub fn organization_name(i: usize) -> String {
    format!("org-{i:02}")
}

pub fn organization(i: usize) -> Value {
    json!({
        "apiVersion": "accountops.dev/v1alpha1",
        "kind": "Organization",
        "metadata": {"name": organization_name(i)},
        "spec": {
            "accountRef": {"name": ACCOUNT},
            "displayName": format!("Bench organization {i}"),
            "roles": [{"name": "Member", "permissions": ["tickets.read"]}],
            "groups": [{"name": "team"}]
        }
    })
}

pub fn membership_name(i: usize) -> String {
    format!("m-{i:06}")
}

/// Membership `i`: even ones sign in (an invitation and its mail), odd ones are contacts.
pub fn membership(i: usize) -> Value {
    json!({
        "apiVersion": "accountops.dev/v1alpha1",
        "kind": "Membership",
        "metadata": {"name": membership_name(i)},
        "spec": {
            "organizationRef": {"name": organization_name(i % ORGANIZATIONS)},
            "email": format!("member-{i}@bench.example"),
            "displayName": format!("Member {i}"),
            "roles": ["Member"],
            "groups": ["team"],
            "login": i.is_multiple_of(2),
            "notifications": ["Technical"]
        }
    })
}

/// The whole set for `n` memberships as one multi-document YAML stream.
pub fn yaml_stream(n: usize) -> String {
    let objects = std::iter::once(account()).chain((0..ORGANIZATIONS).map(organization)).chain((0..n).map(membership));
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&object).unwrap_or_default());
    }
    out
}
