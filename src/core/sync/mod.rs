//! ProvisioningSync: an Account pushed to an external provisioning system over SCIM 2.0, and
//! its orders executed exactly once.
//!
//! ```text
//! DesiredSync{owner, spec, deleting, credentials, credentials_hash}
//!   ├─ store: Account (by accountRef) ─► organizations ─► login memberships (Invited/Active) ─► users
//!   │         provisioning_syncs row (found by owner, else inserted)
//!   ├─ plan::Directory ─► push::push (SCIM client; drift corrected and counted) ─► record_sync
//!   └─ orders (only once synchronized): plan_orders ─► orders::execute (asset + welcome mail, one tx)
//!                     ─► SyncFacts (status: syncStatus, externalId, counts, assets, holds)
//! deleting: Orphan ─► nothing touched │ Delete ─► deletion::finish: deprovision the synced users
//!           in the external system, then archive the record (assets are always kept)
//! ```
//! The shell reads the credentials Secret and passes [`Credentials`] and the SHA-256 of its
//! content; the token never reaches a fact, a log or an error.

pub mod credentials;
mod deletion;
pub mod orders;
pub mod plan;
pub mod preview;
pub mod push;
pub mod pushed;
pub mod reason;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod outcome_tests;
#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod preview_tests;

pub use reason::SyncReason;
use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use self::plan::{DesiredGroup, DesiredUser, Directory};
use self::pushed::PushRecord;
use crate::api::provisioning_sync::{AssetRef, ProvisioningSyncSpec, SyncStatus};
use crate::core::error::CoreError;
use crate::core::flags::Flags;
use crate::core::outcome::{Action, Change, Kind, Outcome};
use crate::mail::MailSettings;
use crate::scim::{Credentials, Guards, ScimClient, ScimConfig, ScimError};
use crate::store::accounts::LifecycleState;
use crate::store::memberships::{self, MembershipPhase, Scope};
use crate::store::ownership::{self, ManagedTable, Owner};
use crate::store::syncs::{self, NewProvisioningSync, ProvisioningSync as ProvisioningSyncRow, SyncResult};
use crate::store::{Conn, Store, assets, organizations, users};

/// At most this many assets are listed in status.
pub const MAX_ASSETS_IN_STATUS: usize = 100;

/// A ProvisioningSync object as the core needs it.
#[derive(Debug, Clone)]
pub struct DesiredSync {
    pub owner: Owner,
    pub spec: ProvisioningSyncSpec,
    pub deleting: bool,
    pub flags: Flags,
    /// From the Secret `spec.endpoint.credentialsSecretRef` (never logged).
    pub credentials: Credentials,
    /// SHA-256 (hex) of the Secret's content, for status.
    pub credentials_hash: String,
    /// `ca.crt` of `spec.endpoint.caSecretRef`.
    pub ca_pem: Option<Vec<u8>>,
}

/// What a reconcile found and did: everything the status is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFacts {
    pub sync_status: SyncStatus,
    /// The sync record was inserted by this run.
    pub created: bool,
    /// The `provisioning_syncs` row.
    pub sync_id: Option<String>,
    /// The account group's SCIM ID.
    pub external_id: Option<String>,
    pub user_count: Option<i32>,
    pub group_count: Option<i32>,
    /// Corrections of out-of-band changes in this run (the shell adds them to status).
    pub drift_corrections: u64,
    pub last_sync_time: Option<Timestamp>,
    pub credentials_hash: String,
    pub assets: Vec<AssetRef>,
    /// Orders executed in this run.
    pub executed: Vec<String>,
    /// Orders of the spec that have no asset yet (they wait for the first successful sync).
    pub orders_pending: Vec<String>,
    /// `Ready`/`Synced` reason: `Synchronized`, `AccountNotReady`, a SCIM error category
    /// (`Unauthorized`, `Unreachable`, `CircuitOpen`, ...), `OrderImmutable`, `Orphaned`, `Archived`.
    pub reason: SyncReason,
    pub message: String,
    /// The `OrderImmutable` message, when an executed order was edited.
    pub order_hold: Option<String>,
    /// Deletion is finished; the shell may drop its finalizer.
    pub deletion_finished: bool,
    /// Observe-only: what a push would write (`users[…]`/`groups[…]`, what); `Some` and empty
    /// when nothing differs.
    pub observed_only: Option<Vec<(String, String)>>,
    /// The external-id annotation names a record this object may not import.
    pub refusal: Option<preview::ImportRefusal>,
}

/// A sync's resync interval (10 minutes when unparsable).
pub fn resync_interval(spec: &ProvisioningSyncSpec) -> std::time::Duration {
    spec.resync_interval.to_duration().unwrap_or(std::time::Duration::from_secs(600))
}

/// Observe, push to SCIM, record the result, execute new orders.
pub async fn reconcile(
    store: &Store,
    guards: &Guards,
    desired: &DesiredSync,
    mail: &MailSettings,
    now: Timestamp,
) -> Result<SyncFacts, CoreError> {
    let spec = &desired.spec;
    let mail = &mail.for_namespace(&desired.owner.namespace);
    let mut facts = SyncFacts::new(desired.credentials_hash.clone());
    store.check_fence()?;
    let mut conn = store.acquire().await?;
    let me = &desired.owner;
    let observed = preview::observe(&mut conn, me, spec, &desired.flags).await?;
    if desired.deleting {
        drop(conn);
        let ours = observed.row.filter(|_| matches!(observed.claim, preview::Claim::Own | preview::Claim::ReAdopt));
        return deletion::finish(store, guards, desired, ours, facts, now).await;
    }
    let Some(account) = preview::ready_account(&observed) else {
        facts.message = format!("Account {} is not ready", spec.account_ref.name.as_str());
        return Ok(facts);
    };
    if preview::import_hold(&mut facts, &observed.claim) {
        return Ok(facts);
    }
    if desired.flags.observe_only {
        drop(conn);
        return observe_only(store, guards, desired, &observed, &account.id, facts).await;
    }
    let (row, created) = claim_record(&mut conn, desired, &observed, &account.id, now).await?;
    facts.created = created;
    facts.sync_id = Some(row.id.clone());
    let inputs = PushInputs::read(&mut conn, &row, &account.id, &account.details.legal_name).await?;
    drop(conn);

    let mut record = inputs.before.clone().unwrap_or_default();
    let pushed = inputs.push(desired, guards, &mut record, push::Mode::Write).await;
    store.check_fence()?;
    let mut conn = store.acquire().await?;
    // Whatever was written, even by a push that failed half-way, is recorded.
    if inputs.before.as_ref() != Some(&record) {
        syncs::record_pushed(&mut conn, &row.id, &record.to_json(), now).await?;
    }
    let recorded = match &pushed {
        Ok(p) => {
            let result = SyncResult::Synchronized { external_id: p.external_id.clone() };
            syncs::record_sync(&mut conn, &row.id, &result, now).await?
        }
        Err(e) => {
            tracing::warn!(sync = %row.id, category = e.category(), error = %e, "SCIM sync failed");
            syncs::record_sync(&mut conn, &row.id, &SyncResult::Failed { error: e.to_string() }, now).await?
        }
    };
    facts.external_id = recorded.external_id.clone();
    facts.last_sync_time = recorded.last_sync_time;
    match pushed {
        Ok(p) => {
            facts.sync_status = SyncStatus::Synchronized;
            facts.user_count = i32::try_from(p.users).ok();
            facts.group_count = i32::try_from(p.groups).ok();
            facts.drift_corrections = p.drift;
            facts.reason = SyncReason::Synchronized;
            facts.message = format!("{} users and {} groups in sync", p.users, p.groups);
        }
        Err(e) => {
            facts.sync_status = SyncStatus::Error;
            facts.reason = SyncReason::external(&e);
            facts.message = e.to_string();
        }
    }
    // Orders run once the account is known to the external system.
    if recorded.external_id.is_some() {
        let existing = assets::list_by_sync(&mut conn, &row.id).await?;
        drop(conn);
        let steps = plan::plan_orders(&spec.orders, &existing);
        facts.order_hold = plan::immutable_message(&steps);
        let welcome =
            orders::WelcomeContext { portal_url: &spec.portal_url, account_name: &account.details.legal_name };
        let created = orders::execute(store, &row.id, &steps, welcome, mail, now).await?;
        facts.executed = created.iter().map(|a| a.order_name.clone()).collect();
        if facts.order_hold.is_some() && facts.sync_status == SyncStatus::Synchronized {
            facts.reason = SyncReason::OrderImmutable;
        }
        let mut conn = store.acquire().await?;
        let all = assets::list_by_sync(&mut conn, &row.id).await?;
        facts.orders_pending = preview::pending_orders(spec, &all);
        facts.assets = preview::asset_refs(&all);
    } else {
        facts.orders_pending = preview::pending_orders(spec, &[]);
    }
    Ok(facts)
}

/// `accountops.dev/observe-only`: compare the external system with the platform and list what a
/// push would write, writing nothing anywhere (no record, no orders, no SCIM writes).
async fn observe_only(
    store: &Store,
    guards: &Guards,
    desired: &DesiredSync,
    observed: &preview::ObservedSync,
    account_id: &str,
    mut facts: SyncFacts,
) -> Result<SyncFacts, CoreError> {
    let spec = &desired.spec;
    let row = observed.row.as_ref().filter(|r| r.account_id == account_id);
    let Some(row) = row else {
        preview::no_record_to_observe(&mut facts);
        return Ok(facts);
    };
    facts.sync_id = Some(row.id.clone());
    facts.external_id = row.external_id.clone();
    facts.last_sync_time = row.last_sync_time;
    facts.assets = preview::asset_refs(&observed.assets);
    facts.orders_pending = preview::pending_orders(spec, &observed.assets);
    let inputs = {
        let mut conn = store.acquire().await?;
        PushInputs::read(&mut conn, row, account_id, "").await?
    };
    let mut record = inputs.before.clone().unwrap_or_default();
    let read = inputs.push(desired, guards, &mut record, push::Mode::Observe).await;
    match read {
        Ok(p) => {
            let differs = !p.differences.is_empty();
            facts.sync_status = if differs { SyncStatus::UnSynchronized } else { SyncStatus::Synchronized };
            facts.user_count = i32::try_from(p.users).ok();
            facts.group_count = i32::try_from(p.groups).ok();
            facts.reason = if differs { SyncReason::DriftDetected } else { SyncReason::Synchronized };
            facts.message = format!(
                "the external system differs from the platform in {} places (observe-only, not corrected)",
                p.differences.len()
            );
            facts.observed_only = Some(p.differences);
        }
        Err(e) => {
            facts.sync_status = SyncStatus::Error;
            facts.reason = SyncReason::external(&e);
            facts.message = e.to_string();
        }
    }
    Ok(facts)
}

/// The record this run continues, as `observed.claim` says: this object's own, taken over from
/// a re-created object, revived, or a new one (releasing a stale one first). A record of
/// another account (the object named another Account before) is released and a new one made.
/// Its endpoint follows the spec. Also says whether the record was created now.
async fn claim_record(
    conn: &mut Conn,
    desired: &DesiredSync,
    observed: &preview::ObservedSync,
    account_id: &str,
    now: Timestamp,
) -> Result<(ProvisioningSyncRow, bool), CoreError> {
    use preview::Claim;
    let me = &desired.owner;
    let endpoint = desired.spec.endpoint.url.as_str();
    let mut row = observed.row.clone().filter(|r| r.account_id == account_id);
    if let Some(other) = observed.row.as_ref().filter(|r| r.account_id != account_id) {
        tracing::info!(sync = %other.id, "the record belongs to another account; starting a new one");
        ownership::release(conn, ManagedTable::ProvisioningSyncs, &other.id, now).await?;
    }
    if let Claim::ReleaseStale { id } = &observed.claim {
        ownership::release(conn, ManagedTable::ProvisioningSyncs, id, now).await?;
    }
    if let Some(found) = &row {
        match observed.claim {
            Claim::ReAdopt | Claim::Revive | Claim::Import => {
                if found.archived_at.is_some() {
                    syncs::unarchive(conn, &found.id, now).await?;
                }
                let how = ownership::adopt(conn, ManagedTable::ProvisioningSyncs, &found.id, me, now).await?;
                tracing::info!(sync = %found.id, ?how, "sync record taken over by a re-created object");
                row = Some(syncs::get(conn, &found.id).await?);
            }
            Claim::Own
            | Claim::Create
            | Claim::ReleaseStale { .. }
            | Claim::ImportMissing { .. }
            | Claim::ImportRefused { .. } => {}
        }
    }
    Ok(match row {
        Some(row) if row.endpoint == endpoint => (row, false),
        Some(row) => (syncs::update_endpoint(conn, &row.id, endpoint, now).await?, false),
        None => {
            let new = NewProvisioningSync {
                account_id: account_id.to_owned(),
                endpoint: endpoint.to_owned(),
                owner: Some(me.clone()),
            };
            (syncs::insert(conn, &new, now).await?, true)
        }
    })
}

/// What a push of `row` starts from.
struct PushInputs {
    dir: Directory,
    /// The record of the last push; `None` when there is none (yet).
    before: Option<PushRecord>,
    /// Synced before the record existed (see [`sync`]).
    legacy: bool,
    /// Users other syncs of the system hold; only read when a recorded user left the directory,
    /// the one case that needs them, so a steady resync does not scan every sync of the system.
    held_elsewhere: BTreeSet<String>,
}

impl PushInputs {
    async fn read(
        conn: &mut Conn,
        row: &ProvisioningSyncRow,
        account_id: &str,
        account_name: &str,
    ) -> Result<PushInputs, CoreError> {
        let dir = directory(conn, account_id, account_name).await?;
        let before = PushRecord::parse(row.pushed.as_deref());
        let legacy = before.is_none() && row.last_sync_time.is_some();
        let someone_left = before.as_ref().is_some_and(|r| r.users.keys().any(|u| !dir.users.contains_key(u)));
        let held_elsewhere = if someone_left { held_by_other_syncs(conn, row).await? } else { BTreeSet::new() };
        Ok(PushInputs { dir, before, legacy, held_elsewhere })
    }

    async fn push(
        &self,
        desired: &DesiredSync,
        guards: &Guards,
        record: &mut PushRecord,
        mode: push::Mode,
    ) -> Result<push::Pushed, ScimError> {
        let scim = client(desired, guards)?;
        push::push(&scim, &self.dir, &desired.spec.options, record, self.legacy, &self.held_elsewhere, mode).await
    }
}

/// The users (our IDs) other live syncs of the same external system have pushed.
async fn held_by_other_syncs(conn: &mut Conn, row: &ProvisioningSyncRow) -> Result<BTreeSet<String>, CoreError> {
    let others = syncs::list_live_by_endpoint(conn, &row.endpoint).await?;
    let records: Vec<PushRecord> =
        others.iter().filter(|o| o.id != row.id).filter_map(|o| PushRecord::parse(o.pushed.as_deref())).collect();
    Ok(pushed::held_elsewhere(&records))
}

/// The SCIM client for the sync's endpoint, sharing the endpoint's guard.
fn client(desired: &DesiredSync, guards: &Guards) -> Result<ScimClient, ScimError> {
    let endpoint = &desired.spec.endpoint;
    let mut config = ScimConfig::new(&endpoint.url, desired.credentials.clone());
    config.insecure_skip_tls_verify = endpoint.insecure_skip_tls_verify;
    config.ca_pem = desired.ca_pem.clone();
    ScimClient::new(&config, guards.for_endpoint(&endpoint.url))
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

impl SyncFacts {
    /// Nothing known yet: unsynchronized, waiting for the account.
    pub fn new(credentials_hash: String) -> SyncFacts {
        SyncFacts {
            sync_status: SyncStatus::UnSynchronized,
            created: false,
            sync_id: None,
            external_id: None,
            user_count: None,
            group_count: None,
            drift_corrections: 0,
            last_sync_time: None,
            credentials_hash,
            assets: Vec::new(),
            executed: Vec::new(),
            orders_pending: Vec::new(),
            reason: SyncReason::AccountNotReady,
            message: String::new(),
            order_hold: None,
            deletion_finished: false,
            observed_only: None,
            refusal: None,
        }
    }

    /// The push failed for a reason that passes without anyone acting: the external system
    /// did not answer (or not in time), answered 5xx or 429, or its circuit is open. Local mode's `apply` counts
    /// such a sync as waiting for something outside the run, as it does a missing parent.
    pub fn waits_for_external_system(&self) -> bool {
        self.sync_status == SyncStatus::Error
            && !self.deletion_finished
            && matches!(self.reason, SyncReason::External { transient: true, .. })
    }

    /// The outcome a shell reports: `Unchanged`/`Updated` (orders executed or drift corrected)
    /// when synchronized, `Waiting` for the account, `ExternalError` with the SCIM error
    /// category, `Conflict` with `OrderImmutable`, `Archived`/`Orphaned` once deletion finished and `DeletionBlocked`
    /// while it waits. A live sync is looked at again after `resync`.
    pub fn into_outcome(self, deleting: bool, resync: std::time::Duration, now: Timestamp) -> Outcome {
        let action = if self.deletion_finished {
            if self.reason == SyncReason::Orphaned { Action::Orphaned } else { Action::Archived }
        } else if deleting {
            Action::DeletionBlocked
        } else if self.reason == SyncReason::AccountNotReady {
            Action::Waiting
        } else if self.reason == SyncReason::NotFound {
            Action::NotFound
        } else if self.refusal.is_some() {
            Action::Conflict
        } else if let Some(differences) = &self.observed_only {
            if differences.is_empty() { Action::Unchanged } else { Action::DriftDetected }
        } else if self.sync_status != SyncStatus::Synchronized {
            Action::ExternalError
        } else if self.order_hold.is_some() {
            Action::Conflict
        } else if self.created {
            Action::Created
        } else if !self.executed.is_empty() || self.drift_corrections > 0 {
            Action::Updated
        } else {
            Action::Unchanged
        };
        let mut changes: Vec<Change> = self
            .executed
            .iter()
            .map(|o| Change::new(format!("orders[{o}]"), None, Some("executed".to_owned())))
            .collect();
        if self.drift_corrections > 0 {
            changes.push(Change::new("externalSystem", None, Some(format!("{} corrections", self.drift_corrections))));
        }
        for (what, how) in self.observed_only.iter().flatten() {
            changes.push(Change::new(format!("externalSystem.{what}"), None, Some(how.clone())));
        }
        let message = match &self.order_hold {
            Some(hold) if self.reason == SyncReason::OrderImmutable => hold.clone(),
            _ => self.message.clone(),
        };
        let requeue_at =
            (!deleting).then(|| SignedDuration::try_from(resync).ok().and_then(|d| now.checked_add(d).ok())).flatten();
        Outcome {
            kind: Kind::ProvisioningSync,
            action,
            id: self.sync_id.clone(),
            account_id: None,
            changes,
            children: None,
            reason: if action.is_ready() { crate::core::conditions::REASON_AVAILABLE } else { self.reason.as_str() },
            message,
            requeue_at,
            membership: None,
            tenant_link: None,
            provisioning: Some(Box::new(self)),
            links: None,
            staff: None,
        }
    }
}
