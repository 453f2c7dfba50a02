//! What a sync reads before it pushes, and local mode's `plan` and `--prune` of a sync.
//!
//! `plan` never contacts the external system (it writes nowhere, and a plan that depended on
//! another system being up would not be a plan of this run's manifests): it reports what
//! `apply` does if the push succeeds — the sync record to create, the orders to execute, an
//! `OrderImmutable` hold — and the same holds as `apply` for the account and the credentials.
//! Corrections `apply` then makes in the external system are reported by `apply`.

use super::SyncReason;
use std::time::Duration;

use jiff::Timestamp;

use super::{MAX_ASSETS_IN_STATUS, SyncFacts, plan};
use crate::api::provisioning_sync::{AssetRef, ProvisioningSyncSpec, SyncStatus};
use crate::core::error::CoreError;
use crate::core::flags::Flags;
use crate::core::outcome::Outcome;
use crate::store::Conn;
use crate::store::StoredOwner;
use crate::store::accounts::{self, Account, LifecycleState};
use crate::store::assets::{self, Asset};
use crate::store::ownership::{self, ManagedTable, Owner};
use crate::store::syncs::{self, ProvisioningSync};

/// How the object comes by its sync record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Claim {
    /// No record: one is created.
    #[default]
    Create,
    /// The record this object (its UID) owns.
    Own,
    /// A live record of the same namespace/name under another UID: the object was re-created
    /// while its record stayed (a restored cluster, a lost object); taken over as it is.
    ReAdopt,
    /// A released record of the same namespace/name (deleted or orphaned before), taken back
    /// because the object asks (`accountops.dev/adopt`); revived if archived.
    Revive,
    /// A record archived by an older version that kept its owner: released, then a new one is
    /// created.
    ReleaseStale { id: String },
    /// The record `accountops.dev/external-id` names, taken over (never from another live
    /// object: that is a conflict); revived if archived.
    Import,
    /// `accountops.dev/external-id` names no record.
    ImportMissing { id: String },
    /// `accountops.dev/external-id` names a record this object may not take (nothing is
    /// written, the record's owner keeps it).
    ImportRefused { id: String, why: ImportRefusal },
}

/// Why a sync may not import the record `accountops.dev/external-id` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportRefusal {
    /// Another live object owns it; a live owner is never released by someone else.
    OwnedElsewhere { owner: StoredOwner },
    /// No live owner, but this namespace did not release it and it is not offered here.
    NotOffered { previous: Option<StoredOwner>, namespace: String },
    /// The record pushes another account than `spec.accountRef` names.
    OtherAccount { account_id: String },
}

impl ImportRefusal {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            ImportRefusal::OwnedElsewhere { .. } => "OwnedElsewhere",
            ImportRefusal::NotOffered { .. } => "NotOffered",
            ImportRefusal::OtherAccount { .. } => "AccountMismatch",
        }
    }

    /// What blocks, and what the user can do.
    pub fn message(&self, id: &str) -> String {
        let annotation = crate::core::flags::EXTERNAL_ID_ANNOTATION;
        match self {
            ImportRefusal::OwnedElsewhere { owner } => format!(
                "{annotation} names sync record {id}, which is managed by ProvisioningSync {}/{} in cluster {}; \
                 it is never taken over",
                owner.namespace, owner.name, owner.cluster
            ),
            ImportRefusal::NotOffered { previous, namespace } => {
                let by = previous.as_ref().map_or_else(
                    || "is managed by no object".to_owned(),
                    |p| {
                        format!(
                            "was last managed by ProvisioningSync {}/{} in cluster {}",
                            p.namespace, p.name, p.cluster
                        )
                    },
                );
                format!(
                    "{annotation} names sync record {id}, which {by}; an import takes only a record this namespace \
                     released or one the platform offered to namespace {namespace} (import_offers, see \
                     docs/database.md); nothing was written"
                )
            }
            ImportRefusal::OtherAccount { account_id } => format!(
                "{annotation} names sync record {id}, which pushes account {account_id}, not the account \
                 spec.accountRef names; a sync imports only a record of its own account"
            ),
        }
    }
}

/// The rows a sync starts from.
#[derive(Debug, Clone, Default)]
pub struct ObservedSync {
    /// The Account named by `spec.accountRef`, in the sync's namespace and cluster.
    pub account: Option<Account>,
    /// The record the sync continues (see [`Claim`]); `None` when one is created.
    pub row: Option<ProvisioningSync>,
    pub claim: Claim,
    /// The assets of that record.
    pub assets: Vec<Asset>,
}

/// Read the account, the sync record (found as [`Claim`] says) and its assets.
pub async fn observe(
    conn: &mut Conn,
    owner: &Owner,
    spec: &ProvisioningSyncSpec,
    flags: &Flags,
) -> Result<ObservedSync, CoreError> {
    let adopt = flags.adopt;
    let account_name = spec.account_ref.name.as_str();
    let account =
        match ownership::find_by_owner(conn, ManagedTable::Accounts, &owner.cluster, &owner.namespace, account_name)
            .await?
        {
            Some(found) => accounts::find(conn, &found.id).await?,
            None => None,
        };
    let by_uid = match ownership::find_by_uid(conn, ManagedTable::ProvisioningSyncs, &owner.uid).await? {
        Some(found) => syncs::find(conn, &found.id).await?,
        None => None,
    };
    let by_names = match ownership::find_by_owner(
        conn,
        ManagedTable::ProvisioningSyncs,
        &owner.cluster,
        &owner.namespace,
        &owner.name,
    )
    .await?
    {
        Some(found) => syncs::find(conn, &found.id).await?,
        None => None,
    };
    let released =
        if adopt { syncs::find_released(conn, &owner.cluster, &owner.namespace, &owner.name).await? } else { None };
    let imported = match &flags.external_id {
        Some(id) => Some((id.clone(), syncs::find(conn, id).await?)),
        None => None,
    };
    let ext = imported.as_ref().and_then(|(id, row)| row.as_ref().map(|r| (id.as_str(), r.owner.as_ref())));
    let offered = crate::core::db::offered(conn, ManagedTable::ProvisioningSyncs, ext, owner).await?;
    let (mut claim, mut row) = claim(by_uid, by_names, released, adopt, imported, owner, offered);
    // A sync imports only a record of its own account.
    if let (Claim::Import, Some(found), Some(account)) = (&claim, &row, &account)
        && found.account_id != account.id
    {
        let why = ImportRefusal::OtherAccount { account_id: found.account_id.clone() };
        claim = Claim::ImportRefused { id: found.id.clone(), why };
        row = None;
    }
    let assets = match &row {
        Some(row) => assets::list_by_sync(conn, &row.id).await?,
        None => Vec::new(),
    };
    Ok(ObservedSync { account, row, claim, assets })
}

/// Which record the object continues: its own, the one `external-id` names, one of the same
/// namespace/name left live by a re-created object, or (asked to adopt) a released one;
/// otherwise a new one. `imported`: the external-id and the record found under it; `offered`:
/// the platform offered that record to `me`'s namespace. Pure.
pub fn claim(
    by_uid: Option<ProvisioningSync>,
    by_names: Option<ProvisioningSync>,
    released: Option<ProvisioningSync>,
    adopt: bool,
    imported: Option<(String, Option<ProvisioningSync>)>,
    me: &Owner,
    offered: bool,
) -> (Claim, Option<ProvisioningSync>) {
    match (&by_uid, imported) {
        (Some(row), _) if row.archived_at.is_none() => return (Claim::Own, by_uid),
        (_, Some((id, Some(row)))) => {
            return match import_refusal(row.owner.as_ref(), me, offered) {
                None => (Claim::Import, Some(row)),
                Some(why) => (Claim::ImportRefused { id, why }, None),
            };
        }
        (_, Some((id, None))) => return (Claim::ImportMissing { id }, None),
        _ => {}
    }
    match (by_uid, by_names) {
        // Our own record, archived by a deletion that kept the owner (older versions).
        (Some(row), _) if adopt => (Claim::Revive, Some(row)),
        (Some(row), _) => (Claim::ReleaseStale { id: row.id }, None),
        (None, Some(row)) if row.archived_at.is_none() => (Claim::ReAdopt, Some(row)),
        (None, Some(row)) if adopt => (Claim::Revive, Some(row)),
        (None, Some(row)) => (Claim::ReleaseStale { id: row.id }, None),
        (None, None) => match released {
            Some(row) if adopt => (Claim::Revive, Some(row)),
            _ => (Claim::Create, None),
        },
    }
}

/// Why `me` may not import a record owned by `owner`: the same rule as every kind's import
/// (`core::plan::route`): a live owner keeps its record unless it is this object re-created;
/// a released one is taken only by its own namespace or with an offer.
fn import_refusal(owner: Option<&StoredOwner>, me: &Owner, offered: bool) -> Option<ImportRefusal> {
    match owner {
        Some(o) if o.uid.as_deref() == Some(me.uid.as_str()) || (o.is_live() && o.same_object_name(me)) => None,
        Some(o) if o.is_live() => Some(ImportRefusal::OwnedElsewhere { owner: o.clone() }),
        _ if crate::core::plan::import_granted(owner, me, offered) => None,
        previous => Some(ImportRefusal::NotOffered { previous: previous.cloned(), namespace: me.namespace.clone() }),
    }
}

/// A refused or missing import: the reason and message, nothing written.
pub(super) fn import_hold(facts: &mut SyncFacts, claim: &Claim) -> bool {
    match claim {
        Claim::ImportMissing { id } => import_missing(facts, id),
        Claim::ImportRefused { id, why } => {
            facts.refusal = Some(why.clone());
            facts.reason = SyncReason::ImportRefused(why.reason());
            facts.message = why.message(id);
        }
        _ => return false,
    }
    true
}

/// The account, when it is there and active.
pub fn ready_account(observed: &ObservedSync) -> Option<&Account> {
    observed.account.as_ref().filter(|a| a.state == LifecycleState::Active)
}

/// The outcome `apply` reports when the push succeeds; see the module documentation.
pub fn preview(spec: &ProvisioningSyncSpec, observed: &ObservedSync, resync: Duration, now: Timestamp) -> Outcome {
    let mut facts = SyncFacts::new(String::new());
    let Some(account) = ready_account(observed) else {
        facts.message = format!("Account {} is not ready", spec.account_ref.name.as_str());
        return facts.into_outcome(false, resync, now);
    };
    if import_hold(&mut facts, &observed.claim) {
        return facts.into_outcome(false, resync, now);
    }
    // A record of another account is not continued (see `claim_record`).
    let row = observed.row.as_ref().filter(|r| r.account_id == account.id);
    let assets: &[Asset] = if row.is_some() { &observed.assets } else { &[] };
    facts.created = row.is_none();
    facts.sync_id = row.map(|r| r.id.clone());
    facts.sync_status = SyncStatus::Synchronized;
    facts.reason = SyncReason::Synchronized;
    facts.message = format!("the account is pushed to {}", spec.endpoint.url);
    let steps = plan::plan_orders(&spec.orders, assets);
    facts.order_hold = plan::immutable_message(&steps);
    if facts.order_hold.is_some() {
        facts.reason = SyncReason::OrderImmutable;
    }
    facts.executed = steps
        .iter()
        .filter_map(|s| match s {
            plan::OrderStep::Execute(order) => Some(order.name.clone()),
            _ => None,
        })
        .collect();
    facts.assets = asset_refs(assets);
    facts.orders_pending = pending_orders(spec, assets);
    facts.into_outcome(false, resync, now)
}

/// `plan` of an observe-only sync: `NotFound` without a record; with one, the comparison is
/// `apply`'s (it reads the external system, `plan` does not) and no order runs either way.
pub fn preview_observe_only(
    spec: &ProvisioningSyncSpec,
    observed: &ObservedSync,
    resync: Duration,
    now: Timestamp,
) -> Outcome {
    let mut facts = SyncFacts::new(String::new());
    let Some(account) = ready_account(observed) else {
        facts.message = format!("Account {} is not ready", spec.account_ref.name.as_str());
        return facts.into_outcome(false, resync, now);
    };
    if import_hold(&mut facts, &observed.claim) {
        return facts.into_outcome(false, resync, now);
    }
    match observed.row.as_ref().filter(|r| r.account_id == account.id) {
        None => no_record_to_observe(&mut facts),
        Some(row) => {
            facts.sync_id = Some(row.id.clone());
            facts.observed_only = Some(Vec::new());
            facts.sync_status = SyncStatus::Synchronized;
            facts.reason = SyncReason::Synchronized;
            facts.message = "observe-only: apply compares the external system and writes nothing".to_owned();
            facts.assets = asset_refs(&observed.assets);
            facts.orders_pending = pending_orders(spec, &observed.assets);
        }
    }
    facts.into_outcome(false, resync, now)
}

/// `accountops.dev/external-id` names no record: nothing is created in its place.
pub(super) fn import_missing(facts: &mut SyncFacts, id: &str) {
    facts.reason = SyncReason::NotFound;
    facts.message = format!("no sync record {id} to import ({})", crate::core::flags::EXTERNAL_ID_ANNOTATION);
}

/// Observe-only without a record: nothing to compare, and none is created.
pub(super) fn no_record_to_observe(facts: &mut SyncFacts) {
    facts.reason = SyncReason::NotFound;
    facts.message = format!(
        "no sync record exists for this object (observe-only); remove {} to create one",
        crate::core::flags::OBSERVE_ONLY_ANNOTATION
    );
}

/// The orders of `spec` without an asset among `assets`.
pub fn pending_orders(spec: &ProvisioningSyncSpec, assets: &[Asset]) -> Vec<String> {
    let done: std::collections::BTreeSet<&str> = assets.iter().map(|a| a.order_name.as_str()).collect();
    spec.orders.iter().filter(|o| !done.contains(o.name.as_str())).map(|o| o.name.clone()).collect()
}

/// The assets as status lists them (bounded; names and IDs only).
pub fn asset_refs(assets: &[Asset]) -> Vec<AssetRef> {
    assets
        .iter()
        .take(MAX_ASSETS_IN_STATUS)
        .map(|a| AssetRef {
            order: a.order_name.clone(),
            asset_id: a.id.clone(),
            executed_at: a.created_at.to_string(),
            activated_at: a.activated_at.map(|t| t.to_string()),
        })
        .collect()
}

/// The live record `--prune` archives for a sync whose manifest is gone.
pub async fn pruned_record(conn: &mut Conn, owner: &Owner) -> Result<Option<ProvisioningSync>, CoreError> {
    Ok(match ownership::find_by_uid(conn, ManagedTable::ProvisioningSyncs, &owner.uid).await? {
        Some(found) => syncs::find(conn, &found.id).await?.filter(|r| r.archived_at.is_none()),
        None => None,
    })
}

/// What `--prune` does with `row`: archives and releases it, keeps its assets, and leaves the
/// external system as it is (the options and credentials that would say how to deprovision
/// went with the manifest).
pub fn prune_outcome(row: Option<&ProvisioningSync>, now: Timestamp) -> Outcome {
    let mut facts = SyncFacts::new(String::new());
    facts.deletion_finished = true;
    facts.reason = SyncReason::Archived;
    facts.sync_id = row.map(|r| r.id.clone());
    facts.message = match row {
        Some(_) => "no manifest; the sync record is archived (assets kept), the external system is left as it is",
        None => "no manifest; nothing was recorded for this sync",
    }
    .to_owned();
    facts.into_outcome(true, Duration::ZERO, now)
}

/// `apply --prune` of a sync whose manifest is gone; see [`prune_outcome`].
pub async fn prune(conn: &mut Conn, owner: &Owner, now: Timestamp) -> Result<Outcome, CoreError> {
    let row = pruned_record(conn, owner).await?;
    if let Some(row) = &row {
        syncs::retire(conn, &row.id, now).await?;
    }
    Ok(prune_outcome(row.as_ref(), now))
}
