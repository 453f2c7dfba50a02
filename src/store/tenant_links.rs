//! `tenant_links`: a provider (or partner) organization linked to a tenant organization.
//!
//! A link is made by the tenant redeeming the provider's single-use code
//! (`provider_code`), or by inviting a partner by its organization ID, organization role and
//! admin e-mail (`partner_invitation`). At most one pending or active link joins the same
//! provider and tenant (partial unique index `tenant_links_live_key`).

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch::{self, by_id};
use super::ownership::{NewOwned, Owner, StoredOwner, owned_columns};
use super::revocable::revocable;
use super::row::{Cols, db_enum, enum_list_text, list_text};
use super::time;

pub const TABLE: &str = "tenant_links";

db_enum! {
    /// How the link was made.
    pub enum LinkMode {
        ProviderCode = "provider_code",
        PartnerInvitation = "partner_invitation",
    }
}

db_enum! {
    /// The organization role of an invited partner.
    pub enum PartnerRole {
        Partner = "partner",
        Customer = "customer",
        ServiceProvider = "service_provider",
    }
}

db_enum! {
    /// What the linked organizations share.
    pub enum SharingScope {
        Tickets = "tickets",
        Assets = "assets",
        Members = "members",
        Billing = "billing",
        Reports = "reports",
    }
}

db_enum! {
    /// Where a link is in its life.
    pub enum TenantLinkPhase {
        Pending = "pending",
        Active = "active",
        Rejected = "rejected",
        Expired = "expired",
        Revoked = "revoked",
    }
}

/// The fields a TenantLink spec declares and an update replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTerms {
    /// Required for `partner_invitation`.
    pub partner_role: Option<PartnerRole>,
    /// Where the partner invitation goes; required for `partner_invitation`.
    pub admin_email: Option<String>,
    pub granted_roles: Vec<String>,
    pub sharing_scope: Vec<SharingScope>,
}

/// A link to insert (phase `pending`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenantLink {
    pub provider_organization_id: String,
    pub tenant_organization_id: String,
    pub mode: LinkMode,
    pub terms: LinkTerms,
    pub owner: Option<Owner>,
}

/// A row of `tenant_links`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLink {
    pub id: String,
    pub provider_organization_id: String,
    pub tenant_organization_id: String,
    pub mode: LinkMode,
    pub terms: LinkTerms,
    pub phase: TenantLinkPhase,
    pub accepted_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub owner: Option<StoredOwner>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

owned_columns!(
    "id, provider_organization_id, tenant_organization_id, mode, partner_role, admin_email, \
     granted_roles, sharing_scope, phase, accepted_at, revoked_at"
);

fn decode(row: &AnyRow) -> Result<TenantLink, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(TenantLink {
        id: c.text("id")?,
        provider_organization_id: c.text("provider_organization_id")?,
        tenant_organization_id: c.text("tenant_organization_id")?,
        mode: c.parse("mode")?,
        terms: LinkTerms {
            partner_role: c.opt_parse("partner_role")?,
            admin_email: c.opt_text("admin_email")?,
            granted_roles: c.list("granted_roles")?,
            sharing_scope: c.enum_list("sharing_scope")?,
        },
        phase: c.parse("phase")?,
        accepted_at: c.opt_ts("accepted_at")?,
        revoked_at: c.opt_ts("revoked_at")?,
        owner: c.owner()?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Bind the terms, in the order insert and update name them (`partner_role` to `sharing_scope`).
fn bind_terms<'q>(q: fetch::Query<'q>, t: &'q LinkTerms) -> fetch::Query<'q> {
    q.bind(t.partner_role.map(PartnerRole::as_str))
        .bind(t.admin_email.as_deref())
        .bind(list_text(&t.granted_roles))
        .bind(enum_list_text(&t.sharing_scope))
}

/// Insert a pending link with a generated `tl-` ID.
pub async fn insert(conn: &mut Conn, new: &NewTenantLink, now: Timestamp) -> Result<TenantLink, StoreError> {
    let row = NewOwned::new(TABLE, "tl", new.owner.as_ref());
    let pair = format!("{}, {}", new.provider_organization_id, new.tenant_organization_id);
    let keys = row.keys(&[("provider_organization_id, tenant_organization_id", pair.as_str())]);
    let refs = [
        ("provider_organization_id", new.provider_organization_id.as_str()),
        ("tenant_organization_id", new.tenant_organization_id.as_str()),
    ];
    let op = row.op(&keys, &refs);
    let query = sqlx::query(concat!(
        "INSERT INTO tenant_links (id, provider_organization_id, tenant_organization_id, mode, \
         partner_role, admin_email, granted_roles, sharing_scope, phase, owner_cluster, \
         owner_namespace, owner_name, owner_uid, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, $12, $13, $13) \
         RETURNING ",
        columns!()
    ))
    .bind(&row.id)
    .bind(&new.provider_organization_id)
    .bind(&new.tenant_organization_id)
    .bind(new.mode.as_str());
    fetch::insert_owned(conn, bind_terms(query, &new.terms), new.owner.as_ref(), now, &op, decode).await
}

by_id!("tenant_links", TenantLink, "link");

/// Every link where the organization is provider or tenant (all phases), oldest first.
pub async fn list_by_organization(conn: &mut Conn, organization_id: &str) -> Result<Vec<TenantLink>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tenant_links WHERE provider_organization_id = $1 OR tenant_organization_id = $1 \
         ORDER BY created_at, id"
    ))
    .bind(organization_id);
    fetch::all(conn, query, &Op::new(TABLE, organization_id), "list by organization", decode).await
}

/// Replace the terms (partner role, admin e-mail, granted roles, sharing) of link `id`.
pub async fn update(conn: &mut Conn, id: &str, terms: &LinkTerms, now: Timestamp) -> Result<TenantLink, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE tenant_links SET partner_role = $2, admin_email = $3, granted_roles = $4, \
         sharing_scope = $5, updated_at = $6 WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id);
    let query = bind_terms(query, terms).bind(time::encode(now));
    fetch::existing(conn, query, &op, "update", decode).await
}

revocable! {
    table: "tenant_links",
    row: TenantLink,
    phase: TenantLinkPhase,
    also: "accepted_at = CASE WHEN $2 = 'active' THEN COALESCE(accepted_at, $3) ELSE accepted_at END, ",
    /// Move link `id` to `phase`. `Active` records `accepted_at` the first time; `Revoked`
    /// revokes. A revoked link stays revoked.
    set_phase;
    /// Revoke link `id` (phase `revoked`, `revoked_at`). Idempotent.
    revoke;
}
