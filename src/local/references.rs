//! References between manifests: each must name an object of the right kind in the same
//! namespace, and roles and groups must be ones the organization defines.

use std::collections::{HashMap, HashSet};

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
    let mut problem =
        |file: &std::path::Path, line: usize, kind: &str, ns: &str, name: &str, field: &str, message: String| {
            let line =
                docs.iter().find(|d| d.file == file && d.line == line).map(|d| field_line(d, field)).unwrap_or(line);
            out.push(Problem {
                file: file.to_owned(),
                line,
                object: Some(format!("{kind}/{ns}/{name}")),
                field: Some(field.to_owned()),
                message,
            });
        };

    for o in &set.organizations {
        let account = &o.object.spec.account_ref.name;
        if !accounts.contains(&key(&o.namespace, account.as_str())) {
            problem(
                &o.file,
                o.line,
                "Organization",
                &o.namespace,
                &o.name,
                "spec.accountRef.name",
                format!(
                    "Account {:?} is not defined in namespace {:?} in these manifests",
                    account.as_str(),
                    o.namespace
                ),
            );
        }
    }
    for m in &set.memberships {
        let spec = &m.object.spec;
        if let Some(account) = &spec.account_ref
            && !accounts.contains(&key(&m.namespace, account.name.as_str()))
        {
            problem(
                &m.file,
                m.line,
                "Membership",
                &m.namespace,
                &m.name,
                "spec.accountRef.name",
                format!(
                    "Account {:?} is not defined in namespace {:?} in these manifests",
                    account.name.as_str(),
                    m.namespace
                ),
            );
        }
        let Some(org_ref) = &spec.organization_ref else { continue };
        let Some(org) = orgs.get(&key(&m.namespace, org_ref.name.as_str())) else {
            problem(
                &m.file,
                m.line,
                "Membership",
                &m.namespace,
                &m.name,
                "spec.organizationRef.name",
                format!(
                    "Organization {:?} is not defined in namespace {:?} in these manifests",
                    org_ref.name.as_str(),
                    m.namespace
                ),
            );
            continue;
        };
        let roles: HashSet<&str> = org.object.spec.roles.iter().map(|r| r.name.as_str()).collect();
        for (i, role) in spec.roles.iter().enumerate() {
            if !roles.contains(role.as_str()) {
                problem(
                    &m.file,
                    m.line,
                    "Membership",
                    &m.namespace,
                    &m.name,
                    &format!("spec.roles[{i}]"),
                    format!("role {role:?} is not one of Organization {:?}'s roles ({})", org.name, list(&roles)),
                );
            }
        }
        let groups: HashSet<&str> = org.object.spec.groups.iter().map(|g| g.name.as_str()).collect();
        for (i, group) in spec.groups.iter().enumerate() {
            if !groups.contains(group.as_str()) {
                problem(
                    &m.file,
                    m.line,
                    "Membership",
                    &m.namespace,
                    &m.name,
                    &format!("spec.groups[{i}]"),
                    format!("group {group:?} is not one of Organization {:?}'s groups ({})", org.name, list(&groups)),
                );
            }
        }
    }
    for t in &set.tenant_links {
        let spec = &t.object.spec;
        let Some(org) = orgs.get(&key(&t.namespace, spec.organization_ref.name.as_str())) else {
            problem(
                &t.file,
                t.line,
                "TenantLink",
                &t.namespace,
                &t.name,
                "spec.organizationRef.name",
                format!(
                    "Organization {:?} is not defined in namespace {:?} in these manifests",
                    spec.organization_ref.name.as_str(),
                    t.namespace
                ),
            );
            continue;
        };
        let roles: HashSet<&str> = org.object.spec.roles.iter().map(|r| r.name.as_str()).collect();
        for (i, role) in spec.granted_roles.iter().enumerate() {
            if !roles.contains(role.as_str()) {
                problem(
                    &t.file,
                    t.line,
                    "TenantLink",
                    &t.namespace,
                    &t.name,
                    &format!("spec.grantedRoles[{i}]"),
                    format!("role {role:?} is not one of Organization {:?}'s roles ({})", org.name, list(&roles)),
                );
            }
        }
        // With a provider code our organization is the tenant, so staff roles are ours to check.
        if spec.provider_code.is_some() {
            for (i, member) in spec.members.iter().enumerate() {
                if !roles.contains(member.role.as_str()) && !BUILTIN_TENANT_ROLES.contains(&member.role.as_str()) {
                    problem(
                        &t.file,
                        t.line,
                        "TenantLink",
                        &t.namespace,
                        &t.name,
                        &format!("spec.members[{i}].role"),
                        format!(
                            "role {:?} is neither Admin, Builder, Consumer nor one of Organization {:?}'s roles",
                            member.role, org.name
                        ),
                    );
                }
            }
        }
    }
    for p in &set.provisioning_syncs {
        let account = &p.object.spec.account_ref.name;
        if !accounts.contains(&key(&p.namespace, account.as_str())) {
            problem(
                &p.file,
                p.line,
                "ProvisioningSync",
                &p.namespace,
                &p.name,
                "spec.accountRef.name",
                format!(
                    "Account {:?} is not defined in namespace {:?} in these manifests",
                    account.as_str(),
                    p.namespace
                ),
            );
        }
    }
    out
}

fn list(names: &HashSet<&str>) -> String {
    if names.is_empty() {
        return "it defines none".into();
    }
    let mut v: Vec<&str> = names.iter().copied().collect();
    v.sort_unstable();
    v.join(", ")
}
