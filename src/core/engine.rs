//! The reconcile protocol, written once for every kind and for both shells.
//!
//! ```text
//! reconcile_external:  observe(conn) ─► plan ─► external ─► nothing to write? ─► outcome
//!                                                              │ writes
//!                      begin ─► write_in(tx, answer) ─► commit (fence checked) ─► outcome
//! reconcile, SQLite:   reconcile_external with no external step
//! reconcile, Postgres: begin ─► write_in(tx) ─► wrote? commit (fence checked) : roll back ─► outcome
//! write_in(conn):      observe(conn) ─► plan ─► write(conn, answer) ─► outcome
//! ```
//!
//! On SQLite, and around an external call, `reconcile` reads first outside a transaction: a
//! SQLite transaction takes the database's one write lock (`BEGIN IMMEDIATE`), which a steady
//! object must not hold, and no transaction may stay open across a call to another system.
//! It then observes and plans again inside one, so the writes act on the rows the transaction
//! sees. On PostgreSQL a database-only kind observes inside its transaction from the start
//! (READ COMMITTED sees what a plain connection sees): a reconcile that writes reads once,
//! not twice, and one that writes nothing rolls back. `reconcile_in` runs in the caller's transaction: local mode runs a whole
//! manifest set in one transaction with a savepoint per object, and `plan` is that very run
//! rolled back, so a plan cannot differ from the apply that follows it.
//!
//! Most kinds write only the database ([`Reconcile`]). A kind that also calls an external
//! system ([`ReconcileExternal`]: ProvisioningSync's SCIM push) makes that call between its
//! plan and its writes, as Crossplane's ExternalClient does, holding no connection; what the
//! system answered goes into the writes and the outcome. `plan` skips the call
//! ([`reconcile_in_skipping_external`]: the answer is `None`) and the kind reports what the call
//! would do.

use std::future::Future;

use jiff::Timestamp;

use super::db;
use super::error::CoreError;
use super::outcome::Outcome;
use crate::store::{Backend, Conn, Store};

/// One kind's part of the protocol: what it reads, decides and writes. `observe` and `write`
/// do I/O on the connection they are given; `plan` and `outcome` are pure.
pub trait Reconcile: Sync {
    /// What the database holds for the object.
    type Observed: Send;
    /// What to do, with everything the outcome reports.
    type Planned: Send + Sync;
    /// What the writes produced (new IDs, tokens), for the outcome.
    type Written: Send;

    /// Read what `plan` needs. Reads only.
    fn observe<'a>(&'a self, conn: &'a mut Conn)
    -> impl Future<Output = Result<Self::Observed, CoreError>> + Send + 'a;

    /// Decide, from the rows alone and the time. Pure.
    fn plan(&self, observed: &Self::Observed, now: Timestamp) -> Self::Planned;

    /// Whether carrying out `planned` writes anything.
    fn writes(planned: &Self::Planned) -> bool;

    /// Carry out `planned` on `conn`, a transaction the caller commits.
    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        planned: &'a Self::Planned,
        now: Timestamp,
    ) -> impl Future<Output = Result<Self::Written, CoreError>> + Send + 'a;

    /// What happened (`written` is `None` when nothing was written). Pure.
    fn outcome(&self, planned: &Self::Planned, observed: &Self::Observed, written: Option<Self::Written>) -> Outcome;
}

/// A kind that calls an external system between its plan and its writes. `observe` and
/// `write` do I/O on the connection they are given, `external` on nothing else; `plan` and
/// `outcome` are pure.
pub trait ReconcileExternal: Sync {
    /// What the database holds for the object.
    type Observed: Send;
    /// What to do, the external call included.
    type Planned: Send + Sync;
    /// What the external system answered.
    type Answer: Send + Sync;
    /// What the writes produced.
    type Written: Send;
    /// What the reconcile reports.
    type Report: Send;

    /// Read what `plan` needs. Reads only.
    fn observe<'a>(&'a self, conn: &'a mut Conn)
    -> impl Future<Output = Result<Self::Observed, CoreError>> + Send + 'a;

    /// Decide, from the rows alone and the time. Pure.
    fn plan(&self, observed: &Self::Observed, now: Timestamp) -> Self::Planned;

    /// Call the external system as `planned` says (no database connection is held). A
    /// refusal or failure of the system is an answer, not an error.
    fn external<'a>(&'a self, planned: &'a Self::Planned) -> impl Future<Output = Self::Answer> + Send + 'a;

    /// Whether carrying out `planned` writes anything.
    fn writes(planned: &Self::Planned) -> bool;

    /// Carry out `planned` and record `answer` (`None`: the call was skipped) on `conn`, a
    /// transaction the caller commits.
    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        planned: &'a Self::Planned,
        answer: Option<&'a Self::Answer>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Self::Written, CoreError>> + Send + 'a;

    /// What happened (`written` is `None` when nothing was written). Pure.
    fn outcome(
        &self,
        planned: &Self::Planned,
        observed: &Self::Observed,
        answer: Option<&Self::Answer>,
        written: Option<Self::Written>,
    ) -> Self::Report;
}

/// Observe, plan, call the external system and, when the plan writes, write in one
/// transaction of its own.
pub async fn reconcile_external<K: ReconcileExternal>(
    store: &Store,
    kind: &K,
    now: Timestamp,
) -> Result<K::Report, CoreError> {
    let observed = {
        let mut conn = store.acquire().await?;
        kind.observe(&mut conn).await?
    };
    let planned = kind.plan(&observed, now);
    let answer = kind.external(&planned).await;
    if !K::writes(&planned) {
        return Ok(kind.outcome(&planned, &observed, Some(&answer), None));
    }
    let mut tx = store.begin().await?;
    // Plan again on what the transaction sees, so the writes act on current rows.
    let (report, _) = write_in(&mut tx, kind, Some(&answer), now).await?;
    db::commit(store, tx).await?;
    Ok(report)
}

/// Observe, plan and write on `conn`, inside the caller's transaction, without calling the
/// external system: local mode's `plan`.
pub async fn reconcile_in_skipping_external<K: ReconcileExternal>(
    conn: &mut Conn,
    kind: &K,
    now: Timestamp,
) -> Result<K::Report, CoreError> {
    Ok(write_in(conn, kind, None, now).await?.0)
}

/// Observe, plan and write with `answer` on `conn`, the caller's transaction; whether the
/// plan wrote.
async fn write_in<K: ReconcileExternal>(
    conn: &mut Conn,
    kind: &K,
    answer: Option<&K::Answer>,
    now: Timestamp,
) -> Result<(K::Report, bool), CoreError> {
    let observed = kind.observe(conn).await?;
    let planned = kind.plan(&observed, now);
    let written = if K::writes(&planned) { Some(kind.write(conn, &planned, answer, now).await?) } else { None };
    let wrote = written.is_some();
    Ok((kind.outcome(&planned, &observed, answer, written), wrote))
}

/// A [`Reconcile`] kind as a [`ReconcileExternal`] one whose external step does nothing, so
/// both go through the one protocol above.
struct DatabaseOnly<'k, K>(&'k K);

impl<K: Reconcile> ReconcileExternal for DatabaseOnly<'_, K> {
    type Observed = K::Observed;
    type Planned = K::Planned;
    type Answer = ();
    type Written = K::Written;
    type Report = Outcome;

    fn observe<'a>(&'a self, conn: &'a mut Conn) -> impl Future<Output = Result<K::Observed, CoreError>> + Send + 'a {
        self.0.observe(conn)
    }

    fn plan(&self, observed: &K::Observed, now: Timestamp) -> K::Planned {
        self.0.plan(observed, now)
    }

    fn external<'a>(&'a self, _: &'a K::Planned) -> impl Future<Output = ()> + Send + 'a {
        std::future::ready(())
    }

    fn writes(planned: &K::Planned) -> bool {
        K::writes(planned)
    }

    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        planned: &'a K::Planned,
        _: Option<&'a ()>,
        now: Timestamp,
    ) -> impl Future<Output = Result<K::Written, CoreError>> + Send + 'a {
        self.0.write(conn, planned, now)
    }

    fn outcome(
        &self,
        planned: &K::Planned,
        observed: &K::Observed,
        _: Option<&()>,
        written: Option<K::Written>,
    ) -> Outcome {
        self.0.outcome(planned, observed, written)
    }
}

/// Observe, plan and, when the plan writes, apply it in one transaction of its own (see the
/// module documentation for why the backends differ).
pub async fn reconcile<K: Reconcile>(store: &Store, kind: &K, now: Timestamp) -> Result<Outcome, CoreError> {
    match store.backend() {
        Backend::Sqlite => reconcile_external(store, &DatabaseOnly(kind), now).await,
        Backend::Postgres => {
            let mut tx = store.begin().await?;
            let (outcome, wrote) = write_in(&mut tx, &DatabaseOnly(kind), Some(&()), now).await?;
            if wrote {
                db::commit(store, tx).await?;
            } else {
                // Nothing written: as a read outside a transaction, no fence to check.
                db::roll_back(tx).await?;
            }
            Ok(outcome)
        }
    }
}

/// Observe, plan and apply on `conn`, inside the caller's transaction (which it commits or
/// rolls back).
pub async fn reconcile_in<K: Reconcile>(conn: &mut Conn, kind: &K, now: Timestamp) -> Result<Outcome, CoreError> {
    Ok(write_in(conn, &DatabaseOnly(kind), Some(&()), now).await?.0)
}
