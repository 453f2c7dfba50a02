//! The reconcile protocol, written once for every kind that writes only the database
//! (Account, Organization, Membership, TenantLink) and for both shells.
//!
//! ```text
//! reconcile(store):    observe(conn) ─► plan ─► nothing to write? ─► outcome
//!                                                   │ writes
//!                      begin ─► reconcile_in(tx) ─► commit (fence checked) ─► outcome
//! reconcile_in(conn):  observe(conn) ─► plan ─► write(conn) ─► outcome
//! ```
//!
//! `reconcile` reads first outside a transaction so a steady object costs no write
//! transaction, then observes and plans again inside one, so the writes act on the rows the
//! transaction sees. `reconcile_in` runs in the caller's transaction: local mode runs a whole
//! manifest set in one transaction with a savepoint per object, and `plan` is that very run
//! rolled back, so a plan cannot differ from the apply that follows it.

use std::future::Future;

use jiff::Timestamp;

use super::db;
use super::error::CoreError;
use super::outcome::Outcome;
use crate::store::{Conn, Store};

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

/// Observe, plan and, when the plan writes, apply it in one transaction of its own.
pub async fn reconcile<K: Reconcile>(store: &Store, kind: &K, now: Timestamp) -> Result<Outcome, CoreError> {
    let observed = {
        let mut conn = store.acquire().await?;
        kind.observe(&mut conn).await?
    };
    let planned = kind.plan(&observed, now);
    if !K::writes(&planned) {
        return Ok(kind.outcome(&planned, &observed, None));
    }
    let mut tx = store.begin().await?;
    // Plan again on what the transaction sees, so the writes act on current rows.
    let outcome = reconcile_in(&mut tx, kind, now).await?;
    db::commit(store, tx).await?;
    Ok(outcome)
}

/// Observe, plan and apply on `conn`, inside the caller's transaction (which it commits or
/// rolls back).
pub async fn reconcile_in<K: Reconcile>(conn: &mut Conn, kind: &K, now: Timestamp) -> Result<Outcome, CoreError> {
    let observed = kind.observe(conn).await?;
    let planned = kind.plan(&observed, now);
    let written = if K::writes(&planned) { Some(kind.write(conn, &planned, now).await?) } else { None };
    Ok(kind.outcome(&planned, &observed, written))
}
