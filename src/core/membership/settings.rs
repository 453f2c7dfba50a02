//! The pure pieces of a Membership plan that compare fields: the scope's roles and groups, the
//! membership's settings, and the person's `users` row.
//!
//! Lists compare as sets (the CRD declares them sets, so their order is not a difference) and
//! are written in the spec's order without duplicates. The person's display name and phone
//! follow the spec while the person has no login; once they sign in, their profile is theirs
//! and the spec only fills in what is empty, so two Memberships of one person in different
//! organizations never fight over it.

use std::collections::BTreeSet;

use super::ScopeRow;
use crate::api::MembershipSpec;
use crate::api::membership::NotificationLevel as SpecLevel;
use crate::core::outcome::Change;
use crate::core::plan::{Hold, ScopeItem};
use crate::store::memberships::{Membership, MembershipSettings, NotificationLevel};
use crate::store::users::{NewUser, User, UserUpdate};

use super::UserWrite;

/// `items` in order, without repeats.
fn dedup(items: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.iter().filter(|i| seen.insert(i.as_str())).cloned().collect()
}

fn list_text(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

fn as_set(items: &[String]) -> BTreeSet<&str> {
    items.iter().map(String::as_str).collect()
}

fn level(l: SpecLevel) -> NotificationLevel {
    match l {
        SpecLevel::Billing => NotificationLevel::Billing,
        SpecLevel::Technical => NotificationLevel::Technical,
        SpecLevel::Security => NotificationLevel::Security,
        SpecLevel::Announcements => NotificationLevel::Announcements,
    }
}

/// The spec's spelling of a stored level (`Billing`), for changes people read.
fn level_name(l: NotificationLevel) -> String {
    match l {
        NotificationLevel::Billing => "Billing",
        NotificationLevel::Technical => "Technical",
        NotificationLevel::Security => "Security",
        NotificationLevel::Announcements => "Announcements",
    }
    .to_owned()
}

/// The roles, then the groups, the spec names that the scope does not have (a hold that waits
/// for either object to change).
pub(super) fn missing_in_scope(spec: &MembershipSpec, scope: &ScopeRow, scope_label: &str) -> Option<Hold> {
    let (roles, groups): (Vec<&str>, Vec<&str>) = match scope {
        ScopeRow::Organization { roles, groups, .. } => (
            roles.iter().filter(|r| r.archived_at.is_none()).map(|r| r.name.as_str()).collect(),
            groups.iter().filter(|g| g.archived_at.is_none()).map(|g| g.name.as_str()).collect(),
        ),
        // An account has no role or group list: account-level members hold notifications only.
        ScopeRow::Account(_) => (Vec::new(), Vec::new()),
    };
    for (what, wanted, have) in [(ScopeItem::Role, &spec.roles, roles), (ScopeItem::Group, &spec.groups, groups)] {
        let missing: Vec<String> = dedup(wanted).into_iter().filter(|w| !have.contains(&w.as_str())).collect();
        if !missing.is_empty() {
            return Some(Hold::NotInScope {
                what,
                missing,
                available: have.into_iter().map(str::to_owned).collect(),
                scope: scope_label.to_owned(),
            });
        }
    }
    None
}

/// The stored form of the spec's roles, groups, notification levels and login flag.
pub(super) fn desired(spec: &MembershipSpec) -> MembershipSettings {
    let mut seen = BTreeSet::new();
    let notifications = spec.notifications.iter().copied().filter(|l| seen.insert(*l)).map(level).collect();
    MembershipSettings { roles: dedup(&spec.roles), groups: dedup(&spec.groups), notifications, login: spec.login }
}

/// The settings fields that differ (`have` is `None` for a new row, listing what is set).
pub(super) fn changes(have: Option<&MembershipSettings>, want: &MembershipSettings) -> Vec<Change> {
    let levels = |s: &MembershipSettings| s.notifications.iter().copied().map(level_name).collect::<Vec<_>>();
    let mut out = Vec::new();
    for (field, from, to) in [
        ("roles", have.map(|h| h.roles.clone()), want.roles.clone()),
        ("groups", have.map(|h| h.groups.clone()), want.groups.clone()),
        ("notifications", have.map(levels), levels(want)),
    ] {
        let same = match &from {
            Some(from) => as_set(from) == as_set(&to),
            None => to.is_empty(),
        };
        if !same {
            out.push(Change::new(field, from.map(|f| list_text(&f)), Some(list_text(&to))));
        }
    }
    let flag = |b: bool| if b { "true" } else { "false" }.to_owned();
    if have.is_none_or(|h| h.login != want.login) {
        out.push(Change::new("login", have.map(|h| flag(h.login)), Some(flag(want.login))));
    }
    out
}

/// The user write for the spec's person, and what it changes. `grant_login`: the person
/// accepted an invitation, so the user gets its login.
pub(super) fn user(spec: &MembershipSpec, user: Option<&User>, grant_login: bool) -> (UserWrite, Vec<Change>) {
    let Some(u) = user else {
        let new = NewUser {
            email: spec.email.as_str().trim().to_owned(),
            display_name: spec.display_name.clone(),
            phone: spec.phone.clone(),
            has_login: grant_login,
        };
        let mut changes = vec![Change::new("email", None, Some(new.email.clone()))];
        changes.extend(new.display_name.clone().map(|n| Change::new("displayName", None, Some(n))));
        changes.extend(new.phone.clone().map(|p| Change::new("phone", None, Some(p))));
        return (UserWrite::Insert(new), changes);
    };
    // Before the person signs in, the spec is the source of their name and phone.
    let follow = |have: &Option<String>, want: &Option<String>| match want {
        Some(w) if have.is_none() || (!u.has_login && have.as_ref() != Some(w)) => Some(w.clone()),
        _ => None,
    };
    let mut changes = Vec::new();
    let mut update =
        UserUpdate { display_name: u.display_name.clone(), phone: u.phone.clone(), has_login: u.has_login };
    if let Some(name) = follow(&u.display_name, &spec.display_name) {
        changes.push(Change::new("displayName", u.display_name.clone(), Some(name.clone())));
        update.display_name = Some(name);
    }
    if let Some(phone) = follow(&u.phone, &spec.phone) {
        changes.push(Change::new("phone", u.phone.clone(), Some(phone.clone())));
        update.phone = Some(phone);
    }
    if grant_login && !u.has_login {
        changes.push(Change::new("user.login", Some("false".to_owned()), Some("true".to_owned())));
        update.has_login = true;
    }
    let reactivate = u.archived_at.is_some();
    if reactivate {
        changes.push(Change::new("user", Some("archived".to_owned()), Some("active".to_owned())));
    }
    if changes.is_empty() {
        (UserWrite::Keep { id: u.id.clone() }, changes)
    } else {
        (UserWrite::Update { id: u.id.clone(), update, reactivate }, changes)
    }
}

/// The e-mail of a membership's user differs from the spec's, or its scope from the spec's.
pub(super) fn immutable(
    row: &Membership,
    scope: &ScopeRow,
    user: Option<&User>,
    row_user: Option<&User>,
    spec: &MembershipSpec,
) -> Option<Hold> {
    let wanted = scope.scope();
    if row.scope != wanted {
        let describe = |s: &crate::store::memberships::Scope| match s {
            crate::store::memberships::Scope::Organization(id) => format!("organization {id}"),
            crate::store::memberships::Scope::Account(id) => format!("account {id}"),
        };
        let field = if spec.organization_ref.is_some() { "organizationRef" } else { "accountRef" };
        return Some(Hold::Immutable {
            id: row.id.clone(),
            field,
            actual: describe(&row.scope),
            expected: describe(&wanted),
        });
    }
    if user.is_none_or(|u| u.id != row.user_id) {
        let actual = row_user.map_or_else(|| format!("user {}", row.user_id), |u| u.email.clone());
        return Some(Hold::Immutable {
            id: row.id.clone(),
            field: "email",
            actual,
            expected: spec.email.as_str().to_owned(),
        });
    }
    None
}
