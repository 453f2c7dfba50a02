//! Which sync record an object continues, decided by the ownership routing every kind uses
//! (`core::plan::route`), plus what a sync adds to it. Pure.
//!
//! | route says | the sync's record step |
//! |---|---|
//! | Create | `Create` (observe-only: `Hold(NothingToObserve)`) |
//! | Sync, own record | `Continue`; archived (by an older version that kept the owner): revived with `accountops.dev/adopt`, else released and `Create` |
//! | Sync, adopted (re-created object, or a released record asked for) | `Continue`, taken over, revived if archived |
//! | Sync, imported (`accountops.dev/external-id`) | `Continue`, taken over, revived if archived |
//! | Sync, a record of another account than `accountRef` | found by UID/name: released and `Create`; imported: `AccountMismatch` |
//! | AdoptionRequired (a live owner's archived record, not asked) | released and `Create` |
//! | ExternalNotFound | `Hold(ImportMissing)` (`NotFound`) |
//! | OwnedElsewhere, NotOffered, ExternalIdMismatch | `Hold(Refused)`, nothing written |
//! | Delete | `Release` (Orphan, observe-only) or `Archive` |
//! | Gone | `Gone` |
//!
//! Observe-only turns every record it would continue into `Observe` (nothing written).

use super::DesiredSync;
use super::observe::ObservedSync;
use crate::api::{DeletionPolicy, Reason};
use crate::core::flags::EXTERNAL_ID_ANNOTATION;
use crate::core::outcome::Kind;
use crate::core::plan::{self, Claim, Hold, Intent, Route, RowRef, Subject, Target, Work};
use crate::store::StoredOwner;
use crate::store::accounts::{Account, LifecycleState};
use crate::store::syncs::ProvisioningSync;

/// What happens to the object's sync record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Insert a new record of `account_id`, after releasing `release` (a stale one, or one of
    /// another account).
    Create { account_id: String, release: Option<String> },
    /// Continue record `id`: taken over from an earlier object or by import (`take`),
    /// unarchived (`revive`), its endpoint set to the spec's when it differs (`endpoint`).
    Continue { id: String, take: bool, revive: bool, endpoint: Option<String> },
    /// Observe-only: compare with the external system, write nothing.
    Observe { id: String },
    /// Deleting with `Orphan` (or observe-only): let go of the record, touch nothing else.
    Release { id: String },
    /// Deleting with `Delete`: archive and release the record (after deprovisioning its users,
    /// when the plan pushes); `synchronized`: it was synchronized once.
    Archive { id: String, synchronized: bool },
    /// Deleting, and this object has no record; `policy` as deletion goes (observe-only:
    /// `Orphan`).
    Gone { policy: DeletionPolicy },
    /// Nothing is written.
    Hold(SyncHold),
}

/// Why a sync writes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncHold {
    /// The Account is missing or not active yet.
    AccountNotReady,
    /// `accountops.dev/external-id` names no record.
    ImportMissing { id: String },
    /// The record `id` may not be taken (its owner keeps it).
    Refused { id: String, why: ImportRefusal },
    /// Observe-only, and there is no record to compare.
    NothingToObserve,
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
    /// This object already continues record `own`.
    OtherRecord { own: String },
    /// Any other hold of the ownership routing, as it words it.
    Routing { reason: Reason, message: String },
}

impl ImportRefusal {
    /// The condition reason.
    pub fn reason(&self) -> Reason {
        match self {
            ImportRefusal::OwnedElsewhere { .. } => Reason::OwnedElsewhere,
            ImportRefusal::NotOffered { .. } => Reason::NotOffered,
            ImportRefusal::OtherAccount { .. } => Reason::AccountMismatch,
            ImportRefusal::OtherRecord { .. } => Reason::ExternalIdMismatch,
            ImportRefusal::Routing { reason, .. } => *reason,
        }
    }

    /// What blocks, and what the user can do.
    pub fn message(&self, id: &str) -> String {
        let annotation = EXTERNAL_ID_ANNOTATION;
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
            ImportRefusal::OtherRecord { own } => format!(
                "this object already manages sync record {own}, but {annotation} names {id}; remove the \
                 annotation or set it to {own}"
            ),
            ImportRefusal::Routing { message, .. } => message.clone(),
        }
    }
}

fn row_ref(r: &ProvisioningSync) -> RowRef<'_> {
    let state = if r.archived_at.is_some() { LifecycleState::Archived } else { LifecycleState::Active };
    RowRef::new(&r.id, r.owner.as_ref(), state)
}

/// The record step for `desired` on what `observed` found (see the module table).
pub fn record(desired: &DesiredSync, observed: &ObservedSync) -> Record {
    let flags = &desired.flags;
    let policy = if flags.observe_only { DeletionPolicy::Orphan } else { desired.spec.deletion_policy };
    let intent = Intent::new((), desired.deleting, policy);
    let subject = Subject::new(&desired.owner, flags, &intent);
    let row = observed.row.as_ref();
    let external = observed.external.as_ref();
    let route = plan::route(subject, row.map(row_ref), external.map(|e| row_ref(e).offered(observed.offered)));
    if desired.deleting {
        return match route {
            Route::Delete { id, policy: DeletionPolicy::Orphan } => Record::Release { id },
            Route::Delete { id, policy: DeletionPolicy::Delete } => {
                let synchronized = [row, external].into_iter().flatten().any(|r| r.id == id && r.external_id.is_some());
                Record::Archive { id, synchronized }
            }
            // route() touches only a record this very object owns on deletion.
            Route::Gone | Route::Work(_) | Route::Hold(_) => Record::Gone { policy },
        };
    }
    let Some(account) = ready_account(observed) else { return Record::Hold(SyncHold::AccountNotReady) };
    let fresh = |release: Option<String>| {
        if flags.observe_only {
            Record::Hold(SyncHold::NothingToObserve)
        } else {
            Record::Create { account_id: account.id.clone(), release }
        }
    };
    let (target, claim) = match route {
        // A live owner's archived record of this name (an older version's deletion): let go.
        Route::Hold(Hold::AdoptionRequired { id, .. }) => return fresh(Some(id)),
        Route::Hold(hold) => return Record::Hold(held(hold)),
        Route::Work(Work::Create) => return fresh(None),
        Route::Work(Work::Sync { target, claim }) => (target, claim),
        // route() deletes only while the intent is Deleting.
        Route::Delete { .. } | Route::Gone => return fresh(None),
    };
    let found = match target {
        Target::Row => row,
        Target::External => external,
    };
    // route() only syncs a row it was given.
    let Some(r) = found else { return fresh(None) };
    let take = !matches!(claim, Claim::Own);
    if r.account_id != account.id {
        // The object named another Account before: that record is let go of, not continued;
        // an import of another account's record is refused.
        if take && target == Target::External {
            let why = ImportRefusal::OtherAccount { account_id: r.account_id.clone() };
            return Record::Hold(SyncHold::Refused { id: r.id.clone(), why });
        }
        return fresh(Some(r.id.clone()));
    }
    if flags.observe_only {
        return Record::Observe { id: r.id.clone() };
    }
    let archived = r.archived_at.is_some();
    // An own record archived by an older version (which kept the owner): revived when asked
    // (or imported), else a new one.
    if archived && !take && target == Target::Row && !flags.adopt {
        return fresh(Some(r.id.clone()));
    }
    let url = desired.spec.endpoint.url.as_str();
    let endpoint = (r.endpoint != url).then(|| url.to_owned());
    Record::Continue { id: r.id.clone(), take: take || archived, revive: archived, endpoint }
}

/// The account, when it is there and active.
pub fn ready_account(observed: &ObservedSync) -> Option<&Account> {
    observed.account.as_ref().filter(|a| a.state == LifecycleState::Active)
}

/// What a hold of the routing means for a sync.
fn held(hold: Hold) -> SyncHold {
    let refused = |id: String, why| SyncHold::Refused { id, why };
    match hold {
        Hold::ExternalNotFound { external_id } => SyncHold::ImportMissing { id: external_id },
        Hold::OwnedElsewhere { id, owner } => refused(id, ImportRefusal::OwnedElsewhere { owner }),
        Hold::NotOffered { id, previous, namespace } => {
            refused(id, ImportRefusal::NotOffered { previous: previous.map(|p| *p), namespace })
        }
        Hold::ExternalIdMismatch { id, external_id } => refused(external_id, ImportRefusal::OtherRecord { own: id }),
        // The routing holds nothing else for a record (no children or parents to wait for);
        // whatever it says is reported as it says it.
        other => {
            let id = plan::Plan::<()>::Hold(other.clone()).id().unwrap_or_default().to_owned();
            let kind = Kind::ProvisioningSync;
            refused(id, ImportRefusal::Routing { reason: other.reason(kind), message: other.message(kind) })
        }
    }
}
