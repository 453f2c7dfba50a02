//! Deleting a ProvisioningSync.
//!
//! ```text
//! Orphan ─────────────────────────────────────────────► release ─► finished (external system
//!                                                                            and record kept)
//! Delete ─► no record / archived / never pushed ───────► archive + release ─► finished
//!        └► pushed before ─► deprovision_all (active:false, or DELETE with deprovision: Delete;
//!                            the groups it pushed are deleted)
//!                 ├─ ok ───────────────────────────────► archive + release ─► finished
//!                 ├─ failed, was Synchronized ─────────► Error, record kept, finalizer kept
//!                 │                                      (retried; force-orphan gives up)
//!                 └─ failed, never Synchronized ───────► archive + release ─► finished (best effort)
//! ```
//! Assets are always kept.

use super::SyncReason;
use jiff::Timestamp;

use super::pushed::PushRecord;
use super::{DesiredSync, SyncFacts, client, directory, held_by_other_syncs, push};
use crate::api::DeletionPolicy;
use crate::api::provisioning_sync::{Deprovision, SyncStatus};
use crate::core::error::CoreError;
use crate::core::flags::FORCE_ORPHAN_ANNOTATION;
use crate::scim::Guards;
use crate::store::Store;
use crate::store::ownership::{self, ManagedTable};
use crate::store::syncs::{self, ProvisioningSync, SyncResult, SyncStatus as RowStatus};

/// Finish the deletion of `desired` (its `provisioning_syncs` row is `row`).
pub(super) async fn finish(
    store: &Store,
    guards: &Guards,
    desired: &DesiredSync,
    row: Option<ProvisioningSync>,
    mut facts: SyncFacts,
    now: Timestamp,
) -> Result<SyncFacts, CoreError> {
    let spec = &desired.spec;
    if spec.deletion_policy != DeletionPolicy::Delete || desired.flags.observe_only {
        // Released, so a re-created object starts afresh unless it asks to adopt the record.
        if let Some(row) = &row {
            let mut conn = store.acquire().await?;
            ownership::release(&mut conn, ManagedTable::ProvisioningSyncs, &row.id, now).await?;
            facts.sync_id = Some(row.id.clone());
        }
        facts.reason = SyncReason::Orphaned;
        facts.message = "deleted; the external system and the sync record are left as they are".to_owned();
        facts.deletion_finished = true;
        return Ok(facts);
    }
    facts.reason = SyncReason::Archived;
    facts.deletion_finished = true;
    let Some(row) = row else {
        facts.message = "deleted; nothing was recorded for this sync".to_owned();
        return Ok(facts);
    };
    facts.sync_id = Some(row.id.clone());
    let pushed_before = row.sync_status != RowStatus::Unsynchronized;
    let verb = match spec.options.deprovision {
        Deprovision::Deactivate => "deactivated",
        Deprovision::Delete => "deleted",
    };
    facts.message = "deleted; the sync record is archived (assets are kept)".to_owned();
    let record = PushRecord::parse(row.pushed.as_deref());
    if row.archived_at.is_none() && pushed_before && (record.is_some() || spec.options.members_as_users) {
        let (dir, held_elsewhere) = {
            let mut conn = store.acquire().await?;
            (directory(&mut conn, &row.account_id, "").await?, held_by_other_syncs(&mut conn, &row).await?)
        };
        let done = match client(desired, guards) {
            Ok(scim) => {
                let how = spec.options.deprovision;
                push::deprovision_all(&scim, record.as_ref(), &row.account_id, &dir, how, &held_elsewhere).await
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(users) => {
                tracing::info!(sync = %row.id, users, "synced users {verb} before archiving the sync");
                facts.message = format!("deleted; {users} synced users {verb}, the sync record is archived");
            }
            Err(e) if row.external_id.is_none() => {
                // Never synchronized: whatever a failed first run pushed is not worth blocking on.
                tracing::warn!(sync = %row.id, category = e.category(), error = %e, "deprovisioning skipped");
                facts.message = format!("deleted; the sync record is archived (never synchronized; {e})");
            }
            Err(e) => {
                tracing::warn!(sync = %row.id, category = e.category(), error = %e, "deprovisioning failed");
                let mut conn = store.acquire().await?;
                let failed = SyncResult::Failed { error: e.to_string() };
                let recorded = syncs::record_sync(&mut conn, &row.id, &failed, now).await?;
                facts.sync_status = SyncStatus::Error;
                facts.external_id = recorded.external_id;
                facts.last_sync_time = recorded.last_sync_time;
                facts.reason = SyncReason::external(&e);
                facts.message = format!(
                    "the synced users could not be {verb} before deletion (retried; annotate \
                     {FORCE_ORPHAN_ANNOTATION}=true to leave them): {e}"
                );
                facts.deletion_finished = false;
                return Ok(facts);
            }
        }
    }
    // Archived and released in one go: a re-created object of the same name makes a new record
    // (or, with accountops.dev/adopt, revives this one).
    let mut conn = store.acquire().await?;
    syncs::retire(&mut conn, &row.id, now).await?;
    Ok(facts)
}
