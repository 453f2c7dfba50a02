//! Roles and groups of an organization: the spec's lists against the rows, by name.
//!
//! A name in the spec and not live in the database is added (reviving an archived row of
//! that name); a live row the spec no longer lists is archived, never deleted, so memberships
//! that named it keep their history. Permissions compare as sets: the CRD declares them a
//! set, so their order is not a difference.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::organization::{GroupSpec, RoleSpec};
use crate::core::outcome::Change;
use crate::store::groups::Group;
use crate::store::roles::Role;

/// A write to `organization_roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleWrite {
    /// Make the role live with these permissions (insert, revive or replace).
    Upsert { name: String, permissions: Vec<String> },
    /// Retire a live role the spec no longer lists.
    Archive { id: String, name: String },
}

/// A write to `organization_groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupWrite {
    /// Make the group live with this description (insert, revive or replace).
    Upsert { name: String, description: Option<String> },
    /// Retire a live group the spec no longer lists.
    Archive { id: String, name: String },
}

fn list_text(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

fn as_set(items: &[String]) -> BTreeSet<&str> {
    items.iter().map(String::as_str).collect()
}

/// Role writes and changes taking `have` (all rows, archived too) to `want`.
pub(super) fn roles(have: &[Role], want: &[RoleSpec]) -> (Vec<RoleWrite>, Vec<Change>) {
    let live: BTreeMap<&str, &Role> =
        have.iter().filter(|r| r.archived_at.is_none()).map(|r| (r.name.as_str(), r)).collect();
    let mut writes = Vec::new();
    let mut changes = Vec::new();
    let mut seen = BTreeSet::new();
    for role in want {
        // The CRD keys the list by name; a duplicate from a hand-written manifest is ignored.
        if !seen.insert(role.name.as_str()) {
            continue;
        }
        let upsert = || RoleWrite::Upsert { name: role.name.clone(), permissions: role.permissions.clone() };
        match live.get(role.name.as_str()) {
            None => {
                writes.push(upsert());
                changes.push(Change::new(format!("roles[{}]", role.name), None, Some(list_text(&role.permissions))));
            }
            Some(row) if as_set(&row.permissions) != as_set(&role.permissions) => {
                writes.push(upsert());
                changes.push(Change::new(
                    format!("roles[{}].permissions", role.name),
                    Some(list_text(&row.permissions)),
                    Some(list_text(&role.permissions)),
                ));
            }
            Some(_) => {}
        }
    }
    for (name, row) in &live {
        if !seen.contains(name) {
            writes.push(RoleWrite::Archive { id: row.id.clone(), name: row.name.clone() });
            changes.push(Change::new(format!("roles[{name}]"), Some(list_text(&row.permissions)), None));
        }
    }
    (writes, changes)
}

/// Group writes and changes taking `have` (all rows, archived too) to `want`.
pub(super) fn groups(have: &[Group], want: &[GroupSpec]) -> (Vec<GroupWrite>, Vec<Change>) {
    let live: BTreeMap<&str, &Group> =
        have.iter().filter(|g| g.archived_at.is_none()).map(|g| (g.name.as_str(), g)).collect();
    let mut writes = Vec::new();
    let mut changes = Vec::new();
    let mut seen = BTreeSet::new();
    for group in want {
        if !seen.insert(group.name.as_str()) {
            continue;
        }
        let upsert = || GroupWrite::Upsert { name: group.name.clone(), description: group.description.clone() };
        match live.get(group.name.as_str()) {
            None => {
                writes.push(upsert());
                let shown = group.description.clone().unwrap_or_default();
                changes.push(Change::new(format!("groups[{}]", group.name), None, Some(shown)));
            }
            Some(row) if row.description != group.description => {
                writes.push(upsert());
                changes.push(Change::new(
                    format!("groups[{}].description", group.name),
                    row.description.clone(),
                    group.description.clone(),
                ));
            }
            Some(_) => {}
        }
    }
    for (name, row) in &live {
        if !seen.contains(name) {
            writes.push(GroupWrite::Archive { id: row.id.clone(), name: row.name.clone() });
            changes.push(Change::new(
                format!("groups[{name}]"),
                Some(row.description.clone().unwrap_or_default()),
                None,
            ));
        }
    }
    (writes, changes)
}
