//! A service provider's tenants, one row each, for the provider's tenant management view: what
//! `accountops tenants` prints and the query docs/database.md gives the web app ("A provider's
//! tenants"). Paged, so a provider with hundreds of tenants is read a page at a time; the
//! Organization's status carries only totals.
//!
//! ```text
//! tenant_links (provider, active) ─► organizations (tenant) ─► accounts
//!        │ per link: live memberships of the tenant, those the link placed (tenant_link_id),
//!        └ live syncs of the tenant's account and how many are synchronized
//! ```

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::row::Cols;
use super::tenant_links::{LinkMode, PartnerRole};

const TABLE: &str = "tenant_links";

/// One tenant of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub link_id: String,
    pub organization_id: String,
    pub organization_name: String,
    pub account_id: String,
    pub account_name: String,
    /// When the link became active.
    pub joined_at: Option<Timestamp>,
    /// How the tenant appointed the provider, and the partner role of an invitation.
    pub mode: LinkMode,
    pub partner_role: Option<PartnerRole>,
    /// The tenant roles the link grants the provider's staff.
    pub granted_roles: Vec<String>,
    /// Live memberships of the tenant organization.
    pub members: i64,
    /// Of those, the provider's staff this link placed.
    pub placed_by_provider: i64,
    /// Live ProvisioningSyncs of the tenant's account, and how many are synchronized.
    pub syncs: i64,
    pub syncs_synchronized: i64,
}

/// The SQL docs/database.md documents (keep the two equal).
pub const TENANTS_SQL: &str = "SELECT l.id AS link_id, t.id AS organization_id, t.name AS organization_name, \
     a.id AS account_id, a.legal_name AS account_name, l.accepted_at, l.mode, l.partner_role, l.granted_roles, \
     (SELECT COUNT(*) FROM memberships m WHERE m.organization_id = t.id AND m.revoked_at IS NULL) AS members, \
     (SELECT COUNT(*) FROM memberships m WHERE m.tenant_link_id = l.id AND m.revoked_at IS NULL) AS placed, \
     (SELECT COUNT(*) FROM provisioning_syncs s WHERE s.account_id = a.id AND s.archived_at IS NULL) AS syncs, \
     (SELECT COUNT(*) FROM provisioning_syncs s WHERE s.account_id = a.id AND s.archived_at IS NULL \
        AND s.sync_status = 'synchronized') AS synced \
     FROM tenant_links l \
     JOIN organizations t ON t.id = l.tenant_organization_id \
     JOIN accounts a ON a.id = t.account_id \
     WHERE l.provider_organization_id = $1 AND l.phase = 'active' \
     ORDER BY l.accepted_at, l.id LIMIT $2 OFFSET $3";

fn decode(row: &AnyRow) -> Result<Tenant, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(Tenant {
        link_id: c.text("link_id")?,
        organization_id: c.text("organization_id")?,
        organization_name: c.text("organization_name")?,
        account_id: c.text("account_id")?,
        account_name: c.text("account_name")?,
        joined_at: c.opt_ts("accepted_at")?,
        mode: c.parse("mode")?,
        partner_role: c.opt_parse("partner_role")?,
        granted_roles: c.list("granted_roles")?,
        members: c.int("members")?,
        placed_by_provider: c.int("placed")?,
        syncs: c.int("syncs")?,
        syncs_synchronized: c.int("synced")?,
    })
}

/// The active tenants of provider organization `provider_id`, oldest link first, `limit` from
/// `offset`.
pub async fn page(conn: &mut Conn, provider_id: &str, limit: u32, offset: u64) -> Result<Vec<Tenant>, StoreError> {
    let query = sqlx::query(TENANTS_SQL)
        .bind(provider_id)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX));
    super::fetch::all(conn, query, &Op::new(TABLE, provider_id), "list tenants of", decode).await
}

/// How many of its staff provider `provider_id` has placed in its tenants (live derived
/// memberships of its active links): a total for the Organization's status.
pub async fn placed_total(conn: &mut Conn, provider_id: &str) -> Result<i64, StoreError> {
    let query = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships m JOIN tenant_links l ON l.id = m.tenant_link_id \
         WHERE l.provider_organization_id = $1 AND l.phase = 'active' AND m.revoked_at IS NULL",
    )
    .bind(provider_id);
    super::fetch::count(conn, query, &Op::new(TABLE, provider_id), "count staff placed by").await
}

#[cfg(test)]
mod tests {
    /// docs/database.md gives the web app this very statement.
    #[test]
    fn the_documented_query_is_the_one_run() {
        use crate::store::tests::{documented_sql, squashed};
        assert_eq!(documented_sql("## A provider's tenants"), squashed(super::TENANTS_SQL));
    }
}
