//! Carry out an [`OrganizationPlan`] in one transaction.

use jiff::Timestamp;

use super::{GroupWrite, OrganizationPlan, OrganizationWrite, RoleWrite};
use crate::core::db;
use crate::core::error::CoreError;
use crate::core::outcome::{Kind, Outcome};
use crate::core::plan::Plan;
use crate::store::groups::{self, NewGroup};
use crate::store::organizations::{self, NewOrganization, OrganizationUpdate};
use crate::store::roles::{self, NewRole};
use crate::store::{Conn, ManagedTable, Store, ownership, provider_codes};

/// Execute `plan` in one transaction (nothing is opened for a plan that writes nothing).
/// The outcome's `children` are left unset: [`reconcile`](super::reconcile) fills them in.
pub async fn apply(store: &Store, plan: &OrganizationPlan, now: Timestamp) -> Result<Outcome, CoreError> {
    if !plan.writes() {
        return Ok(outcome(plan, None));
    }
    let mut tx = store.begin().await?;
    let id = write(&mut tx, plan, now).await?;
    db::commit(store, tx).await?;
    Ok(outcome(plan, id))
}

pub(super) fn outcome(plan: &OrganizationPlan, created: Option<String>) -> Outcome {
    let id = created.or_else(|| plan.id().map(str::to_owned));
    let account_id = match plan {
        Plan::Create { write, .. } => Some(write.account_id.clone()),
        Plan::Update { write, .. } | Plan::Adopt { write, .. } | Plan::Import { write, .. } => {
            write.as_ref().map(|w| w.account_id.clone())
        }
        _ => None,
    };
    plan.outcome(Kind::Organization, id, account_id)
}

/// The writes of `plan` on `conn` (a transaction); returns the ID of a created row.
pub(super) async fn write(
    conn: &mut Conn,
    plan: &OrganizationPlan,
    now: Timestamp,
) -> Result<Option<String>, CoreError> {
    match plan {
        Plan::Create { owner, write, .. } => {
            let new = NewOrganization {
                account_id: write.account_id.clone(),
                name: write.name.clone(),
                service_provider: write.service_provider,
                owner: Some(owner.clone()),
            };
            let row = organizations::insert(conn, &new, now).await?;
            structure(conn, &row.id, write, now).await?;
            return Ok(Some(row.id));
        }
        Plan::Update { id, reactivate, write, .. } => correct(conn, id, *reactivate, write.as_ref(), now).await?,
        Plan::Adopt { id, owner, reactivate, write, .. } | Plan::Import { id, owner, reactivate, write, .. } => {
            ownership::adopt(conn, ManagedTable::Organizations, id, owner, now).await?;
            correct(conn, id, *reactivate, write.as_ref(), now).await?;
        }
        Plan::Archive { id } => {
            organizations::archive(conn, id, now).await?;
            // An archived provider's codes can no longer be redeemed.
            provider_codes::revoke_unused(conn, id, now).await?;
            // Let go, so the name is free for a new object and a re-created one must ask.
            ownership::release(conn, ManagedTable::Organizations, id, now).await?;
        }
        Plan::Orphan { id } => {
            organizations::orphan(conn, id, now).await?;
        }
        Plan::Release { id } => ownership::release(conn, ManagedTable::Organizations, id, now).await?,
        Plan::NoOp { .. } | Plan::Gone | Plan::Hold(_) => {}
    }
    Ok(None)
}

async fn correct(
    conn: &mut Conn,
    id: &str,
    reactivate: bool,
    write: Option<&OrganizationWrite>,
    now: Timestamp,
) -> Result<(), CoreError> {
    if reactivate {
        organizations::reactivate(conn, id, now).await?;
    }
    let Some(write) = write else { return Ok(()) };
    if write.fields {
        let update = OrganizationUpdate { name: write.name.clone(), service_provider: write.service_provider };
        organizations::update(conn, id, &update, now).await?;
    }
    if write.revoke_codes {
        provider_codes::revoke_unused(conn, id, now).await?;
    }
    structure(conn, id, write, now).await
}

/// The role and group writes of organization `id`.
async fn structure(conn: &mut Conn, id: &str, write: &OrganizationWrite, now: Timestamp) -> Result<(), CoreError> {
    for role in &write.roles {
        match role {
            RoleWrite::Upsert { name, permissions } => {
                let new =
                    NewRole { organization_id: id.to_owned(), name: name.clone(), permissions: permissions.clone() };
                roles::upsert(conn, &new, now).await?;
            }
            RoleWrite::Archive { id: role_id, .. } => {
                roles::archive(conn, role_id, now).await?;
            }
        }
    }
    for group in &write.groups {
        match group {
            GroupWrite::Upsert { name, description } => {
                let new =
                    NewGroup { organization_id: id.to_owned(), name: name.clone(), description: description.clone() };
                groups::upsert(conn, &new, now).await?;
            }
            GroupWrite::Archive { id: group_id, .. } => {
                groups::archive(conn, group_id, now).await?;
            }
        }
    }
    Ok(())
}
