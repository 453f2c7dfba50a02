//! Pushing the directory to the external system and correcting what drifted there.
//!
//! ```text
//! users:  for each desired user: find by externalId ─► Missing: create (409 adopts)
//!                                                   └► Changed: replace (If-Match)
//! groups: account group (every synced user: our record of who was pushed) + one per org
//!         find by externalId ─► Missing: create │ Changed (name, member set): replace
//! ended:  members of the account group no longer desired ─► active:false (or DELETE)
//! gone:   (the sync deleted with deletionPolicy Delete) every member of the account group
//!         and every user of the directory found by externalId ─► active:false (or DELETE)
//! ```
//! A correction counts as drift only when the system was in sync before (`was_synced`), and a
//! group whose members differ only by users this run created or deprovisioned is following
//! our change, not drift.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::plan::{Directory, Drift, classify_group, classify_user, scim_user};
use crate::api::provisioning_sync::{Deprovision, SyncOptions};
use crate::provisioning::{Group, Member, PatchOperation, Resource as _, ScimClient, ScimError, User};

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
}

/// Push `dir` (its first group is the account group) and return the counts.
pub async fn push(
    scim: &ScimClient,
    dir: &Directory,
    options: &SyncOptions,
    was_synced: bool,
) -> Result<Pushed, ScimError> {
    let mut pushed = Pushed::default();
    let count_drift = |drift: &Drift, pushed: &mut Pushed| {
        if was_synced && drift.needs_write() {
            pushed.drift += 1;
        }
    };
    // SCIM IDs this run created or deprovisioned.
    let mut ours: BTreeSet<String> = BTreeSet::new();
    // Our user ID → SCIM ID.
    let mut scim_ids: BTreeMap<String, String> = BTreeMap::new();
    if options.members_as_users {
        for desired in dir.users.values() {
            let observed = scim.find_one::<User>("externalId", &desired.user_id).await?;
            let drift = classify_user(desired, observed.as_ref());
            count_drift(&drift, &mut pushed);
            let created = drift == Drift::Missing;
            let id = match (observed, drift) {
                (Some(user), Drift::InSync) => user.id,
                (Some(user), Drift::Changed(fields)) => {
                    tracing::info!(user = %desired.user_id, ?fields, "correcting a SCIM user");
                    let id = user.id.clone().unwrap_or_default();
                    scim.replace(&id, &scim_user(desired), user.version()).await?.id
                }
                (_, _) => scim.create(&scim_user(desired)).await?.0.id,
            };
            if let Some(id) = id {
                if created {
                    ours.insert(id.clone());
                }
                scim_ids.insert(desired.user_id.clone(), id);
            }
        }
        pushed.users = scim_ids.len();
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
        if is_account {
            // Before correcting the account group: who was pushed earlier and is no longer wanted.
            let previous: Vec<String> =
                observed.iter().flat_map(|g| g.members.iter().map(|m| m.value.clone())).collect();
            for id in previous.iter().filter(|id| !members.contains(*id)) {
                deprovision(scim, id, options.deprovision).await?;
                ours.insert(id.clone());
                pushed.deprovisioned += 1;
            }
        }
        let drift = classify_group(group, &members, observed.as_ref());
        if !observed.as_ref().is_some_and(|g| follows_our_change(&drift, g, &members, &ours)) {
            count_drift(&drift, &mut pushed);
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
        pushed.groups += 1;
        if is_account {
            account_group_id = id;
        }
    }
    pushed.external_id = account_group_id.unwrap_or_default();
    Ok(pushed)
}

/// Only the members differ, and only by users in `ours` (created or deprovisioned in this run).
fn follows_our_change(drift: &Drift, observed: &Group, members: &BTreeSet<String>, ours: &BTreeSet<String>) -> bool {
    let Drift::Changed(fields) = drift else { return false };
    let have: BTreeSet<String> = observed.members.iter().map(|m| m.value.clone()).collect();
    fields.as_slice() == ["members"] && have.symmetric_difference(members).all(|id| ours.contains(id))
}

/// Deprovision every user this sync pushed: the members of the account group (`externalId`
/// = `account_id`) and, in case that group drifted, the directory's users found by
/// `externalId`. Returns how many users were deactivated (or deleted).
pub async fn deprovision_all(
    scim: &ScimClient,
    account_id: &str,
    dir: &Directory,
    how: Deprovision,
) -> Result<usize, ScimError> {
    let mut scim_ids: BTreeSet<String> = BTreeSet::new();
    if let Some(group) = scim.find_one::<Group>("externalId", account_id).await? {
        scim_ids.extend(group.members.into_iter().map(|m| m.value));
    }
    for desired in dir.users.values() {
        if let Some(id) = scim.find_one::<User>("externalId", &desired.user_id).await?.and_then(|u| u.id) {
            scim_ids.insert(id);
        }
    }
    for id in &scim_ids {
        deprovision(scim, id, how).await?;
    }
    Ok(scim_ids.len())
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
