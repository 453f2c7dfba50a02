//! `provider_codes`: single-use codes a service provider gives a customer to appoint it.
//!
//! Only the code's hash is stored (lower-case hex SHA-256). Redeeming is one conditional
//! update, so two tenants racing for the same code cannot both win: the loser gets
//! [`RedeemOutcome::AlreadyUsed`].

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch::{self, by_id};
use super::revocable::single_use;
use super::row::Cols;
use super::time;

pub const TABLE: &str = "provider_codes";

/// A code to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProviderCode {
    /// The service-provider organization issuing the code.
    pub organization_id: String,
    /// Lower-case hex SHA-256 of the code (64 characters).
    pub code_hash: String,
    pub expires_at: Timestamp,
}

/// A row of `provider_codes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCode {
    pub id: String,
    pub organization_id: String,
    pub code_hash: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    /// The tenant link the code created.
    pub used_by_tenant_link_id: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ProviderCode {
    /// Unused, not revoked and not expired at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.used_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}

/// What [`redeem`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// Redeemed now by the given tenant link.
    Redeemed(ProviderCode),
    AlreadyUsed(ProviderCode),
    Revoked(ProviderCode),
    Expired(ProviderCode),
    /// No code has this hash.
    UnknownCode,
}

macro_rules! columns {
    () => {
        "id, organization_id, code_hash, expires_at, used_at, used_by_tenant_link_id, \
         revoked_at, created_at, updated_at"
    };
}

fn decode(row: &AnyRow) -> Result<ProviderCode, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(ProviderCode {
        id: c.text("id")?,
        organization_id: c.text("organization_id")?,
        code_hash: c.text("code_hash")?,
        expires_at: c.ts("expires_at")?,
        used_at: c.opt_ts("used_at")?,
        used_by_tenant_link_id: c.opt_text("used_by_tenant_link_id")?,
        revoked_at: c.opt_ts("revoked_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Insert a code with a generated `pc-` ID.
pub async fn insert(conn: &mut Conn, new: &NewProviderCode, now: Timestamp) -> Result<ProviderCode, StoreError> {
    let id = super::new_id("pc");
    let keys = [("id", id.as_str()), ("code_hash", "(hidden)")];
    let refs = [("organization_id", new.organization_id.as_str())];
    let op = Op::new(TABLE, &id).keys(&keys).refs(&refs);
    let row = sqlx::query(concat!(
        "INSERT INTO provider_codes (id, organization_id, code_hash, expires_at, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(&new.organization_id)
    .bind(&new.code_hash)
    .bind(time::encode(new.expires_at))
    .bind(time::encode(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match op.error("insert", e) {
        // PostgreSQL's detail would quote the hash; keep it out of messages.
        StoreError::UniqueViolation { table, id, key, .. } if key == "code_hash" => {
            StoreError::UniqueViolation { table, id, key, value: "(hidden)".to_owned() }
        }
        other => other,
    })?;
    decode(&row)
}

by_id!("provider_codes", ProviderCode, "code");

/// The code with this hash, if any.
pub async fn find_by_hash(conn: &mut Conn, code_hash: &str) -> Result<Option<ProviderCode>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM provider_codes WHERE code_hash = $1"))
        .bind(code_hash)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, "(by hash)").error("read", e))?;
    row.as_ref().map(decode).transpose()
}

/// Every code an organization issued, newest first.
pub async fn list_by_organization(conn: &mut Conn, organization_id: &str) -> Result<Vec<ProviderCode>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM provider_codes WHERE organization_id = $1 ORDER BY created_at DESC, id"
    ))
    .bind(organization_id);
    fetch::all(conn, query, &Op::new(TABLE, organization_id), "list", decode).await
}

/// The organization's codes neither used nor revoked (expired ones included), newest first:
/// what withdrawing its codes must revoke.
pub async fn list_unused(conn: &mut Conn, organization_id: &str) -> Result<Vec<ProviderCode>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM provider_codes WHERE organization_id = $1 AND used_at IS NULL AND revoked_at IS NULL \
         ORDER BY created_at DESC, id"
    ))
    .bind(organization_id);
    super::fetch::all(conn, query, &Op::new(TABLE, organization_id), "list", decode).await
}

/// How many of the organization's codes are neither used nor revoked: what an Organization
/// observes on every reconcile, so a count (on `provider_codes_organization_idx`), not rows.
pub async fn count_unused(conn: &mut Conn, organization_id: &str) -> Result<i64, StoreError> {
    let query = sqlx::query(
        "SELECT COUNT(*) AS n FROM provider_codes \
         WHERE organization_id = $1 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(organization_id);
    super::fetch::count(conn, query, &Op::new(TABLE, organization_id), "count unused").await
}

/// Revoke every unused code of the organization (expired ones too: it stops being a provider)
/// in one statement; returns how many.
pub async fn revoke_unused(conn: &mut Conn, organization_id: &str, now: Timestamp) -> Result<u64, StoreError> {
    let sql = "UPDATE provider_codes SET revoked_at = $2, updated_at = $2 \
               WHERE organization_id = $1 AND used_at IS NULL AND revoked_at IS NULL";
    revoke_where(conn, sql, organization_id, now).await
}

/// Revoke the organization's codes open at `now` (a code that expired unused stays expired, so
/// a tenant holding it hears `CodeExpired`); returns how many.
pub async fn revoke_open(conn: &mut Conn, organization_id: &str, now: Timestamp) -> Result<u64, StoreError> {
    let sql = "UPDATE provider_codes SET revoked_at = $2, updated_at = $2 \
               WHERE organization_id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2";
    revoke_where(conn, sql, organization_id, now).await
}

async fn revoke_where(
    conn: &mut Conn,
    sql: &'static str,
    organization_id: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let done = sqlx::query(sql)
        .bind(organization_id)
        .bind(time::encode(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, organization_id).error("revoke", e))?;
    Ok(done.rows_affected())
}

/// Redeem the code with this hash for `tenant_link_id`, if it is open at `now`.
pub async fn redeem(
    conn: &mut Conn,
    code_hash: &str,
    tenant_link_id: &str,
    now: Timestamp,
) -> Result<RedeemOutcome, StoreError> {
    let refs = [("used_by_tenant_link_id", tenant_link_id)];
    let op = Op::new(TABLE, "(by hash)").refs(&refs);
    let row = sqlx::query(concat!(
        "UPDATE provider_codes SET used_at = $3, used_by_tenant_link_id = $2, updated_at = $3 \
         WHERE code_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3 \
         RETURNING ",
        columns!()
    ))
    .bind(code_hash)
    .bind(tenant_link_id)
    .bind(time::encode(now))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error("redeem", e))?;
    if let Some(row) = row {
        return Ok(RedeemOutcome::Redeemed(decode(&row)?));
    }
    let Some(code) = find_by_hash(conn, code_hash).await? else {
        return Ok(RedeemOutcome::UnknownCode);
    };
    Ok(if code.used_at.is_some() {
        RedeemOutcome::AlreadyUsed(code)
    } else if code.revoked_at.is_some() {
        RedeemOutcome::Revoked(code)
    } else {
        RedeemOutcome::Expired(code)
    })
}

single_use! {
    table: "provider_codes",
    row: ProviderCode,
    used: "used_at",
    /// Revoke code `id` unless it was used. Idempotent.
    revoke;
}
