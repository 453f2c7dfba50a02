//! What a sync reads before it plans: the account, the records its ownership may route to,
//! and, for the record it would continue, its assets and what its last push wrote.
//!
//! ```text
//! Account (accountRef, this namespace) ─► directory: organizations ─► login memberships ─► users
//! record: by UID, else by namespace/name (live owner), else (adopt asked) the last released one
//! external-id ─► the record it names, and whether it is offered here
//! focus (the external record when importing, else the one above) ─► assets, PushRecord,
//!        users other syncs of the system hold (only read when a pushed user left)
//! ```
//! Reads only; which record the sync continues is the plan's decision ([`super::plan`]).

use std::collections::{BTreeMap, BTreeSet};

use super::DesiredSync;
use super::plan::{DesiredGroup, DesiredUser, Directory};
use super::pushed::{self, PushRecord};
use crate::core::db;
use crate::core::error::CoreError;
use crate::store::accounts::{self, Account, LifecycleState};
use crate::store::assets::{self, Asset};
use crate::store::memberships::{self, MembershipPhase, Scope};
use crate::store::ownership::{self, ManagedTable};
use crate::store::syncs::{self, ProvisioningSync};
use crate::store::{Conn, organizations, users};

/// The rows a sync starts from.
#[derive(Debug, Clone, Default)]
pub struct ObservedSync {
    /// The Account named by `spec.accountRef`, in the sync's namespace and cluster.
    pub account: Option<Account>,
    /// The record found through this object's UID, else its namespace/name (a live owner),
    /// else, when the object asks to adopt, the last one released under its name.
    pub row: Option<ProvisioningSync>,
    /// The record `accountops.dev/external-id` names.
    pub external: Option<ProvisioningSync>,
    /// The platform offered `external` to this namespace (`import_offers`).
    pub offered: bool,
    /// What the focused record (the one the sync would continue) holds.
    pub focus: Option<Focus>,
    /// What the account's push should make the external system hold: the account when it is
    /// active, the record's account while deleting. `None` when there is nothing to push.
    pub directory: Option<Directory>,
}

/// The record a sync would continue, with what its pushes and orders left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focus {
    pub row: ProvisioningSync,
    pub assets: Vec<Asset>,
    /// The record of the last push; `None` when there is none (yet).
    pub before: Option<PushRecord>,
    /// Synced before the record of pushes existed (see `push`).
    pub legacy: bool,
    /// Users other syncs of the system hold; only read when a pushed user left the directory
    /// (or the sync is deleted), the cases that need them, so a steady resync does not scan
    /// every sync of the system.
    pub held_elsewhere: BTreeSet<String>,
}

/// Read what the plan of `desired` needs.
pub async fn observe(conn: &mut Conn, desired: &DesiredSync) -> Result<ObservedSync, CoreError> {
    let me = &desired.owner;
    let table = ManagedTable::ProvisioningSyncs;
    let account_name = desired.spec.account_ref.name.as_str();
    let account =
        match ownership::find_by_owner(conn, ManagedTable::Accounts, &me.cluster, &me.namespace, account_name).await? {
            Some(found) => accounts::find(conn, &found.id).await?,
            None => None,
        };
    let owned = match ownership::find_by_uid(conn, table, &me.uid).await? {
        Some(found) => Some(found),
        None => ownership::find_by_owner(conn, table, &me.cluster, &me.namespace, &me.name).await?,
    };
    let row = match owned {
        Some(found) => syncs::find(conn, &found.id).await?,
        // A released record comes back only when asked: without the annotation a re-created
        // object starts a new record (and its orders run again).
        None if desired.flags.adopt && !desired.deleting => {
            syncs::find_released(conn, &me.cluster, &me.namespace, &me.name).await?
        }
        None => None,
    };
    let external = match desired.flags.external_id.as_deref() {
        None => None,
        Some(id) if row.as_ref().is_some_and(|r| r.id == id) => row.clone(),
        Some(id) => syncs::find(conn, id).await?,
    };
    let ext = external.as_ref().map(|e| (e.id.as_str(), e.owner.as_ref()));
    let offered = db::offered(conn, table, ext, me).await?;
    let importing = desired.flags.external_id.is_some();
    let focused = db::focus(desired.deleting, importing, row.as_ref(), external.as_ref()).cloned();
    let ready = account.as_ref().filter(|a| a.state == LifecycleState::Active);
    let directory = match (&focused, ready) {
        (Some(r), _) if desired.deleting => Some(directory(conn, &r.account_id, "").await?),
        (_, Some(a)) if !desired.deleting => Some(directory(conn, &a.id, &a.details.legal_name).await?),
        _ => None,
    };
    let focus = match focused {
        // Only a record of the named account is continued (see `plan`).
        Some(r) if desired.deleting || ready.is_some_and(|a| a.id == r.account_id) => {
            Some(read_focus(conn, r, directory.as_ref(), desired.deleting).await?)
        }
        _ => None,
    };
    Ok(ObservedSync { account, row, external, offered, focus, directory })
}

async fn read_focus(
    conn: &mut Conn,
    row: ProvisioningSync,
    dir: Option<&Directory>,
    deleting: bool,
) -> Result<Focus, CoreError> {
    let assets = assets::list_by_sync(conn, &row.id).await?;
    let before = PushRecord::parse(row.pushed.as_deref());
    let legacy = before.is_none() && row.last_sync_time.is_some();
    let someone_left =
        before.as_ref().is_some_and(|r| r.users.keys().any(|u| !dir.is_some_and(|d| d.users.contains_key(u))));
    let held_elsewhere =
        if deleting || someone_left { held_by_other_syncs(conn, &row).await? } else { BTreeSet::new() };
    Ok(Focus { row, assets, before, legacy, held_elsewhere })
}

/// The users (our IDs) other live syncs of the same external system have pushed.
async fn held_by_other_syncs(conn: &mut Conn, row: &ProvisioningSync) -> Result<BTreeSet<String>, CoreError> {
    let others = syncs::list_live_by_endpoint(conn, &row.endpoint).await?;
    let records: Vec<PushRecord> =
        others.iter().filter(|o| o.id != row.id).filter_map(|o| PushRecord::parse(o.pushed.as_deref())).collect();
    Ok(pushed::held_elsewhere(&records))
}

/// The account group (all login members) and one group per active organization; login
/// members are those with an `Invited` or `Active` membership that signs in.
pub async fn directory(conn: &mut Conn, account_id: &str, account_name: &str) -> Result<Directory, CoreError> {
    let mut users_by_id: BTreeMap<String, DesiredUser> = BTreeMap::new();
    let mut groups = vec![DesiredGroup {
        external_id: account_id.to_owned(),
        display_name: account_name.to_owned(),
        members: Default::default(),
    }];
    for org in organizations::list_by_account(conn, account_id).await? {
        if org.state != LifecycleState::Active {
            continue;
        }
        let mut group =
            DesiredGroup { external_id: org.id.clone(), display_name: org.name.clone(), members: Default::default() };
        for m in memberships::list_by_scope(conn, &Scope::Organization(org.id.clone())).await? {
            let live = matches!(m.phase, MembershipPhase::Invited | MembershipPhase::Active);
            if !live || !m.settings.login {
                continue;
            }
            let Some(user) = users::find(conn, &m.user_id).await? else { continue };
            if user.archived_at.is_some() {
                continue;
            }
            group.members.insert(user.id.clone());
            users_by_id.entry(user.id.clone()).or_insert(DesiredUser {
                user_id: user.id,
                email: user.email,
                display_name: user.display_name,
            });
        }
        groups.push(group);
    }
    groups[0].members = users_by_id.keys().cloned().collect();
    Ok(Directory { users: users_by_id, groups })
}
