//! Carry out an [`AccountPlan`] in one transaction.

use jiff::Timestamp;

use super::AccountPlan;
use crate::core::db;
use crate::core::error::CoreError;
use crate::core::outcome::{Kind, Outcome};
use crate::core::plan::Plan;
use crate::store::accounts::{self, NewAccount};
use crate::store::{Conn, ManagedTable, Store, ownership};

/// Execute `plan` in one transaction (nothing is opened for a plan that writes nothing).
/// The outcome's `children` are left unset: [`reconcile`](super::reconcile) fills them in.
pub async fn apply(store: &Store, plan: &AccountPlan, now: Timestamp) -> Result<Outcome, CoreError> {
    if !plan.writes() {
        return Ok(outcome(plan, None));
    }
    let mut tx = store.begin().await?;
    let id = write(&mut tx, plan, now).await?;
    db::commit(store, tx).await?;
    Ok(outcome(plan, id))
}

pub(super) fn outcome(plan: &AccountPlan, created: Option<String>) -> Outcome {
    let id = created.or_else(|| plan.id().map(str::to_owned));
    plan.outcome(Kind::Account, id, None)
}

/// The writes of `plan` on `conn` (a transaction); returns the ID of a created row.
pub(super) async fn write(conn: &mut Conn, plan: &AccountPlan, now: Timestamp) -> Result<Option<String>, CoreError> {
    match plan {
        Plan::Create { owner, write, .. } => {
            let new = NewAccount { details: write.clone(), owner: Some(owner.clone()) };
            let row = accounts::insert(conn, &new, now).await?;
            return Ok(Some(row.id));
        }
        Plan::Update { id, reactivate, write, .. } => correct(conn, id, *reactivate, write.as_ref(), now).await?,
        Plan::Adopt { id, owner, reactivate, write, .. } | Plan::Import { id, owner, reactivate, write, .. } => {
            ownership::adopt(conn, ManagedTable::Accounts, id, owner, now).await?;
            correct(conn, id, *reactivate, write.as_ref(), now).await?;
        }
        Plan::Archive { id } => {
            accounts::archive(conn, id, now).await?;
            // Let go, so the name is free for a new object and a re-created one must ask.
            ownership::release(conn, ManagedTable::Accounts, id, now).await?;
        }
        Plan::Orphan { id } => {
            accounts::orphan(conn, id, now).await?;
        }
        Plan::Release { id } => ownership::release(conn, ManagedTable::Accounts, id, now).await?,
        Plan::NoOp { .. } | Plan::Gone | Plan::Hold(_) => {}
    }
    Ok(None)
}

async fn correct(
    conn: &mut Conn,
    id: &str,
    reactivate: bool,
    write: Option<&accounts::AccountDetails>,
    now: Timestamp,
) -> Result<(), CoreError> {
    if reactivate {
        accounts::reactivate(conn, id, now).await?;
    }
    if let Some(details) = write {
        accounts::update(conn, id, details, now).await?;
    }
    Ok(())
}
