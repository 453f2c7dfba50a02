//! Deleting a ProvisioningSync, and local mode's `--prune` of one whose manifest is gone.
//!
//! ```text
//! Orphan (or observe-only) ────────────────────────────► Release ─► finished (external system
//!                                                                            and record kept)
//! Delete ─► no record / archived / never pushed ───────► Archive ─► finished
//!        └► pushed before ─► Push::Deprovision (active:false, or DELETE with deprovision:
//!                            Delete; the groups it pushed are deleted)
//!                 ├─ ok ───────────────────────────────► Archive ─► finished
//!                 ├─ failed, was Synchronized ─────────► Error recorded, record and finalizer
//!                 │                                      kept (retried; force-orphan gives up)
//!                 └─ failed, never Synchronized ───────► Archive ─► finished (best effort)
//! ```
//! The plan (`record`, `plan`), the call (`external`), the writes (`write`) and the facts
//! (`facts`) are the sync's own steps of the one protocol; only a record this very object owns
//! is touched. Assets are always kept.

use std::time::Duration;

use jiff::Timestamp;

use super::{SyncFacts, SyncReason};
use crate::core::error::CoreError;
use crate::core::outcome::Outcome;
use crate::store::Conn;
use crate::store::ownership::{self, ManagedTable, Owner};
use crate::store::syncs::{self, ProvisioningSync};

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
