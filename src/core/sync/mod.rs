//! ProvisioningSync: an Account pushed to an external provisioning system over SCIM 2.0, and
//! its orders executed exactly once, on the one reconcile protocol (`core::engine`,
//! [`ReconcileExternal`]):
//!
//! ```text
//! DesiredSync{owner, spec, deleting, flags, credentials, credentials_hash}
//!   observe  (observe.rs) Account ─► directory (organizations, login members, users);
//!                         records by UID / namespace/name / released / external-id; the focused
//!                         record's assets and last push
//!   plan     (plan.rs, record.rs; pure) Record (core::plan::route) + Push (the Directory) + order steps
//!   external (external.rs) the SCIM call: push, observe-only read, or deprovisioning; no
//!                         connection held; skipped by local mode's `plan`
//!   write    (write.rs; one transaction) record create/adopt/import/revive/release/archive,
//!                         what was pushed and how it ended, orders (asset + welcome mail)
//!   outcome  (facts.rs; pure) SyncFacts (status: syncStatus, externalId, counts, assets, holds)
//! ```
//! Deletion (deletion.rs) goes the same way. The shell reads the credentials Secret and
//! passes [`Credentials`] and the SHA-256 of its content; the token never reaches a fact, a log
//! or an error.

pub mod credentials;
pub mod deletion;
pub mod external;
pub mod facts;
pub mod observe;
pub mod orders;
pub mod plan;
pub mod push;
pub mod pushed;
pub mod reason;
pub mod record;
pub mod write;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod outcome_tests;
#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod record_tests;

pub use reason::SyncReason;

use std::future::Future;

use jiff::{SignedDuration, Timestamp};

use self::external::Answer;
use self::observe::ObservedSync;
use self::plan::SyncPlan;
use self::write::Written;
use crate::api::Reason;
use crate::api::provisioning_sync::{AssetRef, ProvisioningSyncSpec, SyncStatus};
use crate::core::engine::{self, ReconcileExternal};
use crate::core::error::CoreError;
use crate::core::flags::Flags;
use crate::core::outcome::{Action, Change, Kind, Outcome};
use crate::mail::MailSettings;
use crate::scim::{Credentials, Guards};
use crate::store::ownership::Owner;
use crate::store::{Conn, Store};

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
    pub refusal: Option<record::ImportRefusal>,
}

/// A sync's resync interval (10 minutes when unparsable).
pub fn resync_interval(spec: &ProvisioningSyncSpec) -> std::time::Duration {
    spec.resync_interval.to_duration().unwrap_or(std::time::Duration::from_secs(600))
}

/// Observe, plan, call the external system, and write in one transaction.
pub async fn reconcile(
    store: &Store,
    guards: &Guards,
    desired: &DesiredSync,
    mail: &MailSettings,
    now: Timestamp,
) -> Result<SyncFacts, CoreError> {
    // A fenced leader neither pushes nor writes.
    store.check_fence()?;
    engine::reconcile_external(store, &SyncKind::new(desired, guards, mail), now).await
}

/// Local mode's `plan`: observe, plan and write on `conn` (a transaction the caller rolls
/// back) without contacting the external system; the facts say what `apply` does once the
/// push succeeds.
pub async fn reconcile_in_skipping_external(
    conn: &mut Conn,
    guards: &Guards,
    desired: &DesiredSync,
    mail: &MailSettings,
    now: Timestamp,
) -> Result<SyncFacts, CoreError> {
    engine::reconcile_in_skipping_external(conn, &SyncKind::new(desired, guards, mail), now).await
}

/// A sync's part of the protocol.
struct SyncKind<'a> {
    desired: &'a DesiredSync,
    guards: &'a Guards,
    /// Welcome mails go out as the sync's namespace's.
    mail: MailSettings,
}

impl<'a> SyncKind<'a> {
    fn new(desired: &'a DesiredSync, guards: &'a Guards, mail: &MailSettings) -> SyncKind<'a> {
        SyncKind { desired, guards, mail: mail.for_namespace(&desired.owner.namespace) }
    }
}

impl ReconcileExternal for SyncKind<'_> {
    type Observed = ObservedSync;
    type Planned = SyncPlan;
    type Answer = Answer;
    type Written = Written;
    type Report = SyncFacts;

    fn observe<'a>(&'a self, conn: &'a mut Conn) -> impl Future<Output = Result<ObservedSync, CoreError>> + Send + 'a {
        observe::observe(conn, self.desired)
    }

    fn plan(&self, observed: &ObservedSync, _now: Timestamp) -> SyncPlan {
        plan::plan(self.desired, observed)
    }

    fn external<'a>(&'a self, planned: &'a SyncPlan) -> impl Future<Output = Answer> + Send + 'a {
        external::call(self.desired, self.guards, &planned.push)
    }

    fn writes(planned: &SyncPlan) -> bool {
        use self::record::Record;
        match planned.record {
            Record::Create { .. } | Record::Continue { .. } | Record::Release { .. } | Record::Archive { .. } => true,
            Record::Observe { .. } | Record::Gone { .. } | Record::Hold(_) => false,
        }
    }

    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        planned: &'a SyncPlan,
        answer: Option<&'a Answer>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Written, CoreError>> + Send + 'a {
        write::write(conn, self.desired, &self.mail, planned, answer, now)
    }

    fn outcome(
        &self,
        planned: &SyncPlan,
        observed: &ObservedSync,
        answer: Option<&Answer>,
        written: Option<Written>,
    ) -> SyncFacts {
        facts::facts(self.desired, planned, observed, answer, written)
    }
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
            reason: if action.is_ready() { Reason::Available } else { self.reason.reason() },
            message,
            requeue_at,
            facts: crate::core::facts::KindFacts::Sync(Box::new(self)),
        }
    }
}
