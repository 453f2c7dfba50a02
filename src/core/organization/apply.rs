//! Carry out an [`OrganizationPlan`] on the caller's transaction.

use jiff::Timestamp;

use super::{GroupWrite, OrganizationPlan, OrganizationWrite, RoleWrite};
use crate::core::db;
use crate::core::error::CoreError;
use crate::core::outcome::{Kind, Outcome};
use crate::core::plan::Plan;
use crate::store::groups::{self, NewGroup};
use crate::store::organizations::{self, NewOrganization, OrganizationUpdate};
use crate::store::roles::{self, NewRole};
use crate::store::{Conn, ManagedTable, provider_codes};

pub(super) fn outcome(plan: &OrganizationPlan, created: Option<String>) -> Outcome {
    let id = created.or_else(|| plan.id().map(str::to_owned));
    let account_id = match plan {
        Plan::Create { write, .. } => Some(write.account_id.clone()),
        Plan::Update { write, .. } | Plan::TakeOver { write, .. } => write.as_ref().map(|w| w.account_id.clone()),
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
    db::lifecycle(conn, ManagedTable::Organizations, plan, now).await?;
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
        Plan::Update { id, write: Some(write), .. } | Plan::TakeOver { id, write: Some(write), .. } => {
            correct(conn, id, write, now).await?
        }
        // An archived provider's codes can no longer be redeemed.
        Plan::Archive { id } => {
            provider_codes::revoke_unused(conn, id, now).await?;
        }
        _ => {}
    }
    Ok(None)
}

/// The fields, provider codes, roles and groups of organization `id`, as `write` says.
async fn correct(conn: &mut Conn, id: &str, write: &OrganizationWrite, now: Timestamp) -> Result<(), CoreError> {
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
