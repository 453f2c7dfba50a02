//! The sync's outcome, pure: the facts its status is made from, out of the plan, what the
//! external system answered (`None`: `plan` skipped the call and reports what `apply` does
//! once the push succeeds) and what the writes left.

use super::external::Answer;
use super::observe::ObservedSync;
use super::plan::{Push, SyncPlan, immutable_message, to_push};
use super::record::{Record, SyncHold};
use super::write::Written;
use super::{DesiredSync, MAX_ASSETS_IN_STATUS, SyncFacts, SyncReason};
use crate::api::DeletionPolicy;
use crate::api::provisioning_sync::{AssetRef, Deprovision, ProvisioningSyncSpec, SyncStatus};
use crate::core::flags::{EXTERNAL_ID_ANNOTATION, FORCE_ORPHAN_ANNOTATION, OBSERVE_ONLY_ANNOTATION};
use crate::scim::ScimError;
use crate::store::assets::Asset;

/// What a reconcile of `desired` found and did.
pub fn facts(
    desired: &DesiredSync,
    planned: &SyncPlan,
    observed: &ObservedSync,
    answer: Option<&Answer>,
    written: Option<Written>,
) -> SyncFacts {
    let spec = &desired.spec;
    let mut facts = SyncFacts::new(desired.credentials_hash.clone());
    let written = written.unwrap_or_default();
    match &planned.record {
        Record::Hold(hold) => held(&mut facts, spec, hold),
        Record::Observe { id } => observe_only(&mut facts, spec, observed, id, answer),
        Record::Create { .. } | Record::Continue { .. } => pushed(&mut facts, spec, planned, answer, written),
        Record::Release { id } => orphaned(&mut facts, Some(id)),
        Record::Gone { policy: DeletionPolicy::Orphan } => orphaned(&mut facts, None),
        Record::Gone { policy: DeletionPolicy::Delete } => {
            facts.reason = SyncReason::Archived;
            facts.deletion_finished = true;
            facts.message = "deleted; nothing was recorded for this sync".to_owned();
        }
        Record::Archive { id, synchronized } => archived(&mut facts, spec, id, *synchronized, answer, written),
    }
    facts
}

fn held(facts: &mut SyncFacts, spec: &ProvisioningSyncSpec, hold: &SyncHold) {
    match hold {
        SyncHold::AccountNotReady => {
            facts.message = format!("Account {} is not ready", spec.account_ref.name.as_str());
        }
        SyncHold::ImportMissing { id } => {
            facts.reason = SyncReason::NotFound;
            facts.message = format!("no sync record {id} to import ({EXTERNAL_ID_ANNOTATION})");
        }
        SyncHold::Refused { id, why } => {
            facts.refusal = Some(why.clone());
            facts.reason = SyncReason::ImportRefused(why.reason());
            facts.message = why.message(id);
        }
        SyncHold::NothingToObserve => {
            facts.reason = SyncReason::NotFound;
            facts.message = format!(
                "no sync record exists for this object (observe-only); remove {OBSERVE_ONLY_ANNOTATION} to create one"
            );
        }
    }
}

/// Observe-only: what the external system's read found; nothing was written anywhere.
fn observe_only(
    facts: &mut SyncFacts,
    spec: &ProvisioningSyncSpec,
    observed: &ObservedSync,
    id: &str,
    answer: Option<&Answer>,
) {
    let focus = observed.focus.as_ref().filter(|f| f.row.id == id);
    let assets = focus.map(|f| f.assets.as_slice()).unwrap_or_default();
    facts.sync_id = Some(id.to_owned());
    facts.external_id = focus.and_then(|f| f.row.external_id.clone());
    facts.last_sync_time = focus.and_then(|f| f.row.last_sync_time);
    facts.assets = asset_refs(assets);
    facts.orders_pending = pending_orders(spec, assets);
    match answer {
        Some(Answer::Observed(Ok(p))) => {
            let differs = !p.differences.is_empty();
            facts.sync_status = if differs { SyncStatus::UnSynchronized } else { SyncStatus::Synchronized };
            facts.user_count = i32::try_from(p.users).ok();
            facts.group_count = i32::try_from(p.groups).ok();
            facts.reason = if differs { SyncReason::DriftDetected } else { SyncReason::Synchronized };
            facts.message = format!(
                "the external system differs from the platform in {} places (observe-only, not corrected)",
                p.differences.len()
            );
            facts.observed_only = Some(p.differences.clone());
        }
        Some(Answer::Observed(Err(e))) => failed(facts, e),
        // `plan`: the comparison is apply's (it reads the external system, plan does not).
        None | Some(_) => {
            facts.observed_only = Some(Vec::new());
            facts.sync_status = SyncStatus::Synchronized;
            facts.reason = SyncReason::Synchronized;
            facts.message = "observe-only: apply compares the external system and writes nothing".to_owned();
        }
    }
}

/// A push and the orders after it.
fn pushed(
    facts: &mut SyncFacts,
    spec: &ProvisioningSyncSpec,
    planned: &SyncPlan,
    answer: Option<&Answer>,
    written: Written,
) {
    facts.created = written.created;
    if let Some(row) = &written.row {
        facts.sync_id = Some(row.id.clone());
        facts.external_id = row.external_id.clone();
        facts.last_sync_time = row.last_sync_time;
    }
    match answer {
        Some(Answer::Pushed { result: Ok(p), .. }) => {
            facts.sync_status = SyncStatus::Synchronized;
            facts.user_count = i32::try_from(p.users).ok();
            facts.group_count = i32::try_from(p.groups).ok();
            facts.drift_corrections = p.drift;
            facts.reason = SyncReason::Synchronized;
            facts.message = format!("{} users and {} groups in sync", p.users, p.groups);
        }
        Some(Answer::Pushed { result: Err(e), .. }) => failed(facts, e),
        // `plan`: what would be pushed, the system not contacted.
        None | Some(_) => {
            facts.sync_status = SyncStatus::Synchronized;
            facts.reason = SyncReason::Synchronized;
            if let Push::Write(input) = &planned.push {
                let (users, groups) = to_push(&input.dir, &spec.options);
                facts.user_count = i32::try_from(users).ok();
                facts.group_count = i32::try_from(groups).ok();
                facts.message = format!(
                    "{users} users and {groups} groups are pushed to {} (plan: not contacted)",
                    spec.endpoint.url
                );
            }
        }
    }
    if !written.orders_ran {
        facts.orders_pending = pending_orders(spec, &[]);
        return;
    }
    facts.order_hold = immutable_message(&planned.orders);
    facts.executed = written.executed.iter().map(|a| a.order_name.clone()).collect();
    if facts.order_hold.is_some() && facts.sync_status == SyncStatus::Synchronized {
        facts.reason = SyncReason::OrderImmutable;
    }
    facts.orders_pending = pending_orders(spec, &written.assets);
    facts.assets = asset_refs(&written.assets);
}

fn failed(facts: &mut SyncFacts, e: &ScimError) {
    facts.sync_status = SyncStatus::Error;
    facts.reason = SyncReason::external(e);
    facts.message = e.to_string();
}

fn orphaned(facts: &mut SyncFacts, id: Option<&String>) {
    facts.sync_id = id.cloned();
    facts.reason = SyncReason::Orphaned;
    facts.message = "deleted; the external system and the sync record are left as they are".to_owned();
    facts.deletion_finished = true;
}

/// Deletion with `deletionPolicy: Delete` (see `deletion`).
fn archived(
    facts: &mut SyncFacts,
    spec: &ProvisioningSyncSpec,
    id: &str,
    synchronized: bool,
    answer: Option<&Answer>,
    written: Written,
) {
    facts.sync_id = Some(id.to_owned());
    facts.reason = SyncReason::Archived;
    facts.deletion_finished = true;
    facts.message = "deleted; the sync record is archived (assets are kept)".to_owned();
    let verb = match spec.options.deprovision {
        Deprovision::Deactivate => "deactivated",
        Deprovision::Delete => "deleted",
    };
    match answer {
        Some(Answer::Deprovisioned(Ok(users))) => {
            facts.message = format!("deleted; {users} synced users {verb}, the sync record is archived");
        }
        Some(Answer::Deprovisioned(Err(e))) if synchronized => {
            if let Some(row) = &written.row {
                facts.external_id = row.external_id.clone();
                facts.last_sync_time = row.last_sync_time;
            }
            facts.sync_status = SyncStatus::Error;
            facts.reason = SyncReason::external(e);
            facts.message = format!(
                "the synced users could not be {verb} before deletion (retried; annotate \
                 {FORCE_ORPHAN_ANNOTATION}=true to leave them): {e}"
            );
            facts.deletion_finished = false;
        }
        Some(Answer::Deprovisioned(Err(e))) => {
            // Never synchronized: whatever a failed first run pushed is not worth blocking on.
            facts.message = format!("deleted; the sync record is archived (never synchronized; {e})");
        }
        None | Some(_) => {}
    }
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
