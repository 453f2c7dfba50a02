//! References between manifests: each must name an object of the right kind in the same
//! namespace, and roles and groups must be ones the organization defines.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::manifest::{Document, field_line};
use super::validate::{BUILTIN_TENANT_ROLES, Item, ManifestSet, Problem};
use crate::api::Organization;

/// Every dangling reference in the set.
pub fn check(set: &ManifestSet, docs: &[Document]) -> Vec<Problem> {
    let key = |ns: &str, name: &str| format!("{ns}/{name}");
    let accounts: HashSet<String> = set.accounts.iter().map(|a| key(&a.namespace, &a.name)).collect();
    let orgs: HashMap<String, &Item<Organization>> =
        set.organizations.iter().map(|o| (key(&o.namespace, &o.name), o)).collect();
    let mut out = Vec::new();
    let mut problem = |at: &At<'_>, field: &str, message: String| {
        let line = docs
            .iter()
            .find(|d| d.file == at.file && d.line == at.line)
            .map(|d| field_line(d, field))
            .unwrap_or(at.line);
        out.push(Problem {
            file: at.file.to_owned(),
            line,
            object: Some(format!("{}/{}/{}", at.kind, at.namespace, at.name)),
            field: Some(field.to_owned()),
            message,
        });
    };

    for o in &set.organizations {
        let at = At::of(o, "Organization");
        let account = o.object.spec.account_ref.name.as_str();
        if !accounts.contains(&key(&o.namespace, account)) {
            problem(&at, "spec.accountRef.name", undefined("Account", account, &o.namespace));
        }
    }
    for m in &set.memberships {
        let (at, spec) = (At::of(m, "Membership"), &m.object.spec);
        if let Some(account) = &spec.account_ref
            && !accounts.contains(&key(&m.namespace, account.name.as_str()))
        {
            problem(&at, "spec.accountRef.name", undefined("Account", account.name.as_str(), &m.namespace));
        }
        let Some(org_ref) = &spec.organization_ref else { continue };
        let Some(org) = orgs.get(&key(&m.namespace, org_ref.name.as_str())) else {
            problem(&at, "spec.organizationRef.name", undefined("Organization", org_ref.name.as_str(), &m.namespace));
            continue;
        };
        let roles: HashSet<&str> = org.object.spec.roles.iter().map(|r| r.name.as_str()).collect();
        for (i, role) in spec.roles.iter().enumerate().filter(|(_, r)| !roles.contains(r.as_str())) {
            problem(&at, &format!("spec.roles[{i}]"), not_one_of("role", role, &org.name, &roles));
        }
        let groups: HashSet<&str> = org.object.spec.groups.iter().map(|g| g.name.as_str()).collect();
        for (i, group) in spec.groups.iter().enumerate().filter(|(_, g)| !groups.contains(g.as_str())) {
            problem(&at, &format!("spec.groups[{i}]"), not_one_of("group", group, &org.name, &groups));
        }
    }
    for t in &set.tenant_links {
        let (at, spec) = (At::of(t, "TenantLink"), &t.object.spec);
        let Some(org) = orgs.get(&key(&t.namespace, spec.organization_ref.name.as_str())) else {
            let message = undefined("Organization", spec.organization_ref.name.as_str(), &t.namespace);
            problem(&at, "spec.organizationRef.name", message);
            continue;
        };
        let roles: HashSet<&str> = org.object.spec.roles.iter().map(|r| r.name.as_str()).collect();
        for (i, role) in spec.granted_roles.iter().enumerate().filter(|(_, r)| !roles.contains(r.as_str())) {
            problem(&at, &format!("spec.grantedRoles[{i}]"), not_one_of("role", role, &org.name, &roles));
        }
        // With a provider code our organization is the tenant, so staff roles are ours to check.
        if spec.provider_code.is_some() {
            for (i, member) in spec.members.iter().enumerate() {
                if !roles.contains(member.role.as_str()) && !BUILTIN_TENANT_ROLES.contains(&member.role.as_str()) {
                    let message = format!(
                        "role {:?} is neither Admin, Builder, Consumer nor one of Organization {:?}'s roles",
                        member.role, org.name
                    );
                    problem(&at, &format!("spec.members[{i}].role"), message);
                }
            }
        }
    }
    for p in &set.provisioning_syncs {
        let account = p.object.spec.account_ref.name.as_str();
        if !accounts.contains(&key(&p.namespace, account)) {
            problem(
                &At::of(p, "ProvisioningSync"),
                "spec.accountRef.name",
                undefined("Account", account, &p.namespace),
            );
        }
    }
    out
}

/// The object a problem is about, and where it was read.
struct At<'a> {
    file: &'a Path,
    line: usize,
    kind: &'static str,
    namespace: &'a str,
    name: &'a str,
}

impl<'a> At<'a> {
    fn of<T>(item: &'a Item<T>, kind: &'static str) -> At<'a> {
        At { file: &item.file, line: item.line, kind, namespace: &item.namespace, name: &item.name }
    }
}

fn undefined(kind: &str, name: &str, namespace: &str) -> String {
    format!("{kind} {name:?} is not defined in namespace {namespace:?} in these manifests")
}

fn not_one_of(what: &str, value: &str, organization: &str, defined: &HashSet<&str>) -> String {
    format!("{what} {value:?} is not one of Organization {organization:?}'s {what}s ({})", list(defined))
}

fn list(names: &HashSet<&str>) -> String {
    if names.is_empty() {
        return "it defines none".into();
    }
    let mut v: Vec<&str> = names.iter().copied().collect();
    v.sort_unstable();
    v.join(", ")
}
