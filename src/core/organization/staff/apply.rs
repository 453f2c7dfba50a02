//! The staff writes, in the Organization's transaction.

use jiff::Timestamp;

use super::{StaffOp, StaffPlan};
use crate::core::error::CoreError;
use crate::core::tenant_link::{place, staff_settings};
use crate::store::Conn;
use crate::store::memberships::{self, Placement};

/// Add, re-role and revoke the memberships we place. Staff get no invitation mail: they are
/// members of the provider already, and the tenant's Active link is its consent.
pub async fn write(conn: &mut Conn, plan: &StaffPlan, now: Timestamp) -> Result<(), CoreError> {
    for op in &plan.ops {
        match op {
            StaffOp::Add { link_id, tenant_organization_id, user_id, role, .. } => {
                place(conn, user_id, tenant_organization_id, link_id, role, Placement::Provider, now).await?;
            }
            StaffOp::Role { membership_id, role, .. } => {
                memberships::update(conn, membership_id, &staff_settings(role), now).await?;
            }
            StaffOp::Revoke { membership_id, .. } => {
                memberships::revoke(conn, membership_id, now).await?;
            }
        }
    }
    Ok(())
}
