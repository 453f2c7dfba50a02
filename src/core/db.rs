//! Small database steps the kinds share (ProvisioningSync too): the fenced commit, whether an
//! import is offered, the row an observation focuses on, a released owner of this name, and
//! the ownership and lifecycle writes of Account and Organization.

use jiff::Timestamp;

use super::plan::Plan;
use crate::store::accounts::{LifecycleState, set_lifecycle};
use crate::store::{Conn, ManagedTable, Store, StoreError, StoredOwner, Tx, ownership};

/// Commit, naming the step when it fails. Not once `store`'s fence is closed (a leader whose
/// lease may have expired): the transaction rolls back and the error is transient.
pub(crate) async fn commit(store: &Store, tx: Tx) -> Result<(), StoreError> {
    store.check_fence()?;
    tx.commit().await.map_err(|source| StoreError::Query { what: "commit transaction".to_owned(), source })
}

/// Roll back a transaction that wrote nothing.
pub(crate) async fn roll_back(tx: Tx) -> Result<(), StoreError> {
    tx.rollback().await.map_err(|source| StoreError::Query { what: "roll back transaction".to_owned(), source })
}

/// The focus of an observation: the row deletion touches (found through the UID), or the row
/// a sync works on (the external one when the annotation is set).
pub(crate) fn focus<'a, R>(
    deleting: bool,
    importing: bool,
    row: Option<&'a R>,
    external: Option<&'a R>,
) -> Option<&'a R> {
    match (deleting, importing) {
        (false, true) => external,
        _ => row,
    }
}

/// Whether the row `external` (named by the external-id annotation, owned by `owner`) is
/// offered to `me`'s namespace. Asked only when the answer matters: a row with a live owner,
/// or one this namespace released, is decided without the grant.
pub(crate) async fn offered(
    conn: &mut crate::store::Conn,
    table: crate::store::ManagedTable,
    external: Option<(&str, Option<&StoredOwner>)>,
    me: &crate::store::Owner,
) -> Result<bool, StoreError> {
    let Some((id, owner)) = external else { return Ok(false) };
    if !super::plan::needs_offer(owner, me) {
        return Ok(false);
    }
    crate::store::offers::is_offered(conn, table, id, &me.cluster, &me.namespace).await
}

/// The writes of `plan` that the tables with a lifecycle state (accounts, organizations) make
/// the same way: a takeover adopts the row; `reactivate` brings it back to `active`; `Delete`
/// archives it and lets go, so the name is free for a new object and a re-created one must
/// ask; `Orphan` orphans it and lets go; observe-only deletion only lets go. Inserting and the
/// kind's own fields are the caller's.
pub(crate) async fn lifecycle<W>(
    conn: &mut Conn,
    table: ManagedTable,
    plan: &Plan<W>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (id, state) = match plan {
        Plan::TakeOver { id, owner, reactivate, .. } => {
            ownership::adopt(conn, table, id, owner, now).await?;
            (id, reactivate.then_some(LifecycleState::Active))
        }
        Plan::Update { id, reactivate, .. } => (id, reactivate.then_some(LifecycleState::Active)),
        Plan::Archive { id } => (id, Some(LifecycleState::Archived)),
        Plan::Orphan { id } => (id, Some(LifecycleState::Orphaned)),
        Plan::Release { id } => (id, None),
        Plan::Create { .. } | Plan::NoOp { .. } | Plan::Gone | Plan::Hold(_) => return Ok(()),
    };
    if let Some(state) = state {
        set_lifecycle(conn, table, id, state, now).await?;
    }
    if matches!(plan, Plan::Archive { .. } | Plan::Orphan { .. } | Plan::Release { .. }) {
        ownership::release(conn, table, id, now).await?;
    }
    Ok(())
}
