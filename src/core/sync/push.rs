//! Pushing the directory to the external system and correcting what drifted there.
//!
//! ```text
//! users:  for each desired user: find by externalId ─► Missing: create (409 adopts)
//!                                                   └► Changed: replace (If-Match)
//! ended:  users in the record no longer desired ─► held by another sync of the system: forgotten
//!                                               └► otherwise active:false (or DELETE), forgotten
//! groups: account group (every synced user) + one per org
//!         find by externalId ─► Missing: create │ Changed (name, member set): replace
//!         groups in the record no longer wanted (archived organization) ─► DELETE
//! gone:   (the sync deleted with deletionPolicy Delete) every user of the record not held by
//!         another sync ─► active:false (or DELETE); every group of the record ─► DELETE
//! ```
//! Every write is entered in the [`PushRecord`] as it succeeds, so a push that fails half-way
//! still records what it did. A correction counts as drift only when the system differs from
//! the record ([`pushed`](super::pushed)); a group whose members moved only because of users this
//! run created, recreated or deprovisioned is following those writes, not drifting.
//!
//! A sync recorded before the record existed (`legacy`) deprovisions as it used to: the members
//! of its account group that are no longer desired.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::plan::{Directory, Drift, classify_group, classify_user, scim_user};
use super::pushed::{PushRecord, group_drifted, user_drifted};
use crate::api::provisioning_sync::{Deprovision, SyncOptions};
use crate::scim::{Group, Member, PatchOperation, Resource as _, ScimClient, ScimError, User};

/// What a successful push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    /// The account group's SCIM ID.
    pub external_id: String,
    pub users: usize,
    pub groups: usize,
    /// Out-of-band changes corrected in this run.
    pub drift: u64,
    /// Users deactivated or deleted because their membership ended.
    pub deprovisioned: usize,
    /// Groups deleted because their organization is gone (or groups are no longer pushed).
    pub groups_deleted: usize,
    /// Observe-only: what a push would write, as (`users[e-mail]` or `groups[name]`, what);
    /// nothing was written.
    pub differences: Vec<(String, String)>,
}

/// Whether a push writes, or only reads and lists what it would write (observe-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Observe,
}

/// What a write would do, for observe-only.
fn describe(drift: &Drift) -> String {
    match drift {
        Drift::Missing => "missing".to_owned(),
        Drift::Changed(fields) => fields.join(", "),
        Drift::InSync => "in sync".to_owned(),
    }
}

/// Push `dir` (its first group is the account group) and return the counts; `record` is
/// updated with every write. `held_elsewhere`: users (our IDs) another sync of the same system
/// has pushed, never deprovisioned here. With [`Mode::Observe`] nothing is written: what would
/// be is listed in [`Pushed::differences`] (and `record` is left as it was).
pub async fn push(
    scim: &ScimClient,
    dir: &Directory,
    options: &SyncOptions,
    record: &mut PushRecord,
    legacy: bool,
    held_elsewhere: &BTreeSet<String>,
    mode: Mode,
) -> Result<Pushed, ScimError> {
    let write = mode == Mode::Write;
    let mut pushed = Pushed::default();
    // SCIM IDs whose place in groups moved because of this run's user writes.
    let mut settled: BTreeSet<String> = BTreeSet::new();
    // Our user ID → SCIM ID.
    let mut scim_ids: BTreeMap<String, String> = BTreeMap::new();
    if options.members_as_users {
        for desired in dir.users.values() {
            let observed = scim.find_one::<User>("externalId", &desired.user_id).await?;
            let drift = classify_user(desired, observed.as_ref());
            let before = record.users.get(&desired.user_id);
            if drift.needs_write() && user_drifted(before, &desired.user_id, observed.as_ref()) {
                pushed.drift += 1;
            }
            let earlier_id = before.map(|p| p.scim_id.clone());
            if !write {
                if drift.needs_write() {
                    pushed.differences.push((format!("users[{}]", desired.email), describe(&drift)));
                }
                if let Some(id) = observed.and_then(|u| u.id) {
                    scim_ids.insert(desired.user_id.clone(), id);
                }
                continue;
            }
            let id = match (observed, &drift) {
                (Some(user), Drift::InSync) => user.id,
                (Some(user), Drift::Changed(fields)) => {
                    tracing::info!(user = %desired.user_id, ?fields, "correcting a SCIM user");
                    let id = user.id.clone().unwrap_or_default();
                    scim.replace(&id, &scim_user(desired), user.version()).await?.id
                }
                (_, _) => scim.create(&scim_user(desired)).await?.0.id,
            };
            if let Some(id) = id {
                if drift == Drift::Missing {
                    settled.insert(id.clone());
                    settled.extend(earlier_id);
                }
                record.user_pushed(desired, &id);
                scim_ids.insert(desired.user_id.clone(), id);
            }
        }
        pushed.users = scim_ids.len();
    }
    // Users this sync pushed whose membership ended.
    let ended: Vec<(String, String)> = record
        .users
        .iter()
        .filter(|(user_id, _)| !dir.users.contains_key(*user_id))
        .map(|(user_id, p)| (user_id.clone(), p.scim_id.clone()))
        .collect();
    for (user_id, scim_id) in ended {
        if held_elsewhere.contains(&user_id) {
            tracing::info!(user = %user_id, "membership ended; the user stays, another sync of this system holds it");
        } else if !write {
            let email = record.users.get(&user_id).map(|u| u.email.clone()).unwrap_or_default();
            pushed.differences.push((format!("users[{email}]"), deprovision_verb(options.deprovision).to_owned()));
            continue;
        } else {
            deprovision(scim, &scim_id, options.deprovision).await?;
            pushed.deprovisioned += 1;
        }
        settled.insert(scim_id);
        record.users.remove(&user_id);
    }
    let mut account_group_id = None;
    for (index, group) in dir.groups.iter().enumerate() {
        let is_account = index == 0;
        if !is_account && !options.organizations_as_groups {
            continue;
        }
        let with_members = is_account || options.group_membership;
        let members: BTreeSet<String> = if with_members {
            group.members.iter().filter_map(|u| scim_ids.get(u).cloned()).collect()
        } else {
            BTreeSet::new()
        };
        let observed = scim.find_one::<Group>("externalId", &group.external_id).await?;
        if is_account && legacy {
            // No record yet: who was pushed earlier is who is in the account group.
            let previous: Vec<String> =
                observed.iter().flat_map(|g| g.members.iter().map(|m| m.value.clone())).collect();
            for id in previous.iter().filter(|id| !members.contains(*id)) {
                if !write {
                    let what = deprovision_verb(options.deprovision).to_owned();
                    pushed.differences.push((format!("users[{id}]"), what));
                    continue;
                }
                deprovision(scim, id, options.deprovision).await?;
                settled.insert(id.clone());
                pushed.deprovisioned += 1;
            }
        }
        let drift = classify_group(group, &members, observed.as_ref());
        let before = record.groups.get(&group.external_id);
        if drift.needs_write() && group_drifted(before, &group.external_id, observed.as_ref(), &settled) {
            pushed.drift += 1;
        }
        if !write {
            if drift.needs_write() {
                pushed.differences.push((format!("groups[{}]", group.display_name), describe(&drift)));
            }
            pushed.groups += 1;
            if is_account {
                account_group_id = observed.and_then(|g| g.id);
            }
            continue;
        }
        let wanted =
            Group::new(&group.external_id, &group.display_name, members.iter().map(|m| Member::user(m)).collect());
        let id = match (observed, drift) {
            (Some(g), Drift::InSync) => g.id,
            (Some(g), Drift::Changed(_)) => {
                let id = g.id.clone().unwrap_or_default();
                scim.replace(&id, &wanted, g.version()).await?.id
            }
            (_, _) => scim.create(&wanted).await?.0.id,
        };
        if let Some(id) = &id {
            record.group_pushed(group, id, &members);
        }
        pushed.groups += 1;
        if is_account {
            account_group_id = id;
        }
    }
    // Groups this sync pushed that are no longer wanted (an archived organization, or
    // organizationsAsGroups turned off): deleted, so nobody keeps access through them.
    let wanted: BTreeSet<&str> = dir
        .groups
        .iter()
        .enumerate()
        .filter(|(index, _)| *index == 0 || options.organizations_as_groups)
        .map(|(_, g)| g.external_id.as_str())
        .collect();
    let ended: Vec<(String, String)> = record
        .groups
        .iter()
        .filter(|(external_id, _)| !wanted.contains(external_id.as_str()))
        .map(|(external_id, g)| (external_id.clone(), g.scim_id.clone()))
        .collect();
    for (external_id, scim_id) in ended {
        if !write {
            let name = record.groups.get(&external_id).map(|g| g.display_name.clone()).unwrap_or_default();
            pushed.differences.push((format!("groups[{name}]"), "delete".to_owned()));
            continue;
        }
        tracing::info!(group = %external_id, "deleting a SCIM group that is no longer wanted");
        scim.delete::<Group>(&scim_id).await?;
        record.groups.remove(&external_id);
        pushed.groups_deleted += 1;
    }
    pushed.external_id = account_group_id.unwrap_or_default();
    Ok(pushed)
}

/// Deprovision every user this sync pushed that no other sync of the system holds: the users
/// of `record`, or, for a sync recorded before the record existed, the members of the account
/// group (`externalId` = `account_id`) and the directory's users found by `externalId`; then
/// delete the groups of `record`. Returns how many users were deactivated (or deleted).
pub async fn deprovision_all(
    scim: &ScimClient,
    record: Option<&PushRecord>,
    account_id: &str,
    dir: &Directory,
    how: Deprovision,
    held_elsewhere: &BTreeSet<String>,
) -> Result<usize, ScimError> {
    let mut scim_ids: BTreeSet<String> = BTreeSet::new();
    match record {
        Some(record) => {
            let ours = record.users.iter().filter(|(user_id, _)| !held_elsewhere.contains(*user_id));
            scim_ids.extend(ours.map(|(_, p)| p.scim_id.clone()));
        }
        None => {
            if let Some(group) = scim.find_one::<Group>("externalId", account_id).await? {
                scim_ids.extend(group.members.into_iter().map(|m| m.value));
            }
            for desired in dir.users.values().filter(|u| !held_elsewhere.contains(&u.user_id)) {
                if let Some(id) = scim.find_one::<User>("externalId", &desired.user_id).await?.and_then(|u| u.id) {
                    scim_ids.insert(id);
                }
            }
        }
    }
    for id in &scim_ids {
        deprovision(scim, id, how).await?;
    }
    // The groups it pushed go with it (a recorded sync only: an older one never said which).
    for group in record.iter().flat_map(|r| r.groups.values()) {
        scim.delete::<Group>(&group.scim_id).await?;
    }
    Ok(scim_ids.len())
}

fn deprovision_verb(how: Deprovision) -> &'static str {
    match how {
        Deprovision::Deactivate => "deactivate",
        Deprovision::Delete => "delete",
    }
}

async fn deprovision(scim: &ScimClient, scim_id: &str, how: Deprovision) -> Result<(), ScimError> {
    match how {
        Deprovision::Delete => scim.delete::<User>(scim_id).await,
        Deprovision::Deactivate => {
            match scim.patch::<User>(scim_id, &[PatchOperation::replace("active", json!(false))], None).await {
                Err(e) if e.status() == Some(404) => Ok(()),
                other => other.map(|_| ()),
            }
        }
    }
}
