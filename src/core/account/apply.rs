//! Carry out an [`AccountPlan`] on the caller's transaction.

use jiff::Timestamp;

use super::AccountPlan;
use crate::core::db;
use crate::core::error::CoreError;
use crate::core::outcome::{Kind, Outcome};
use crate::core::plan::Plan;
use crate::store::accounts::{self, NewAccount};
use crate::store::{Conn, ManagedTable};

pub(super) fn outcome(plan: &AccountPlan, created: Option<String>) -> Outcome {
    let id = created.or_else(|| plan.id().map(str::to_owned));
    plan.outcome(Kind::Account, id, None)
}

/// The writes of `plan` on `conn` (a transaction); returns the ID of a created row.
pub(super) async fn write(conn: &mut Conn, plan: &AccountPlan, now: Timestamp) -> Result<Option<String>, CoreError> {
    db::lifecycle(conn, ManagedTable::Accounts, plan, now).await?;
    match plan {
        Plan::Create { owner, write, .. } => {
            let new = NewAccount { details: write.clone(), owner: Some(owner.clone()) };
            let row = accounts::insert(conn, &new, now).await?;
            return Ok(Some(row.id));
        }
        Plan::Update { id, write: Some(details), .. } | Plan::TakeOver { id, write: Some(details), .. } => {
            accounts::update(conn, id, details, now).await?;
        }
        _ => {}
    }
    Ok(None)
}
