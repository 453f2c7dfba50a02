//! `organization_roles`: named sets of permissions in an organization; unique per name.
//!
//! Roles follow the Organization spec: [`upsert`] makes the row match a declared role
//! (reviving it if it was archived), [`archive`] retires one the spec no longer lists.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::row::{Cols, list_text};
use super::time;

pub const TABLE: &str = "organization_roles";

/// A role to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    pub organization_id: String,
    pub name: String,
    pub permissions: Vec<String>,
}

/// A row of `organization_roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub archived_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! columns {
    () => {
        "id, organization_id, name, permissions, archived_at, created_at, updated_at"
    };
}

fn decode(row: &AnyRow) -> Result<Role, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(Role {
        id: c.text("id")?,
        organization_id: c.text("organization_id")?,
        name: c.text("name")?,
        permissions: c.list("permissions")?,
        archived_at: c.opt_ts("archived_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Insert a role; a second role of the same name is a [`StoreError::UniqueViolation`].
pub async fn insert(conn: &mut Conn, new: &NewRole, now: Timestamp) -> Result<Role, StoreError> {
    let id = super::new_id("role");
    let name_key = format!("{}, {}", new.organization_id, new.name);
    let keys = [("id", id.as_str()), ("organization_id, name", name_key.as_str())];
    let refs = [("organization_id", new.organization_id.as_str())];
    let op = Op::new(TABLE, &id).keys(&keys).refs(&refs);
    let row = sqlx::query(concat!(
        "INSERT INTO organization_roles (id, organization_id, name, permissions, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(&new.organization_id)
    .bind(&new.name)
    .bind(list_text(&new.permissions))
    .bind(time::encode(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| op.error("insert", e))?;
    decode(&row)
}

/// Make the role `name` of an organization exist, live, with these permissions.
/// `updated_at` moves only when something changed.
pub async fn upsert(conn: &mut Conn, new: &NewRole, now: Timestamp) -> Result<Role, StoreError> {
    let id = super::new_id("role");
    let refs = [("organization_id", new.organization_id.as_str())];
    let op = Op::new(TABLE, &new.name).refs(&refs);
    let row = sqlx::query(concat!(
        "INSERT INTO organization_roles (id, organization_id, name, permissions, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (organization_id, name) DO UPDATE SET permissions = excluded.permissions, \
         archived_at = NULL, updated_at = CASE WHEN organization_roles.permissions = \
         excluded.permissions AND organization_roles.archived_at IS NULL \
         THEN organization_roles.updated_at ELSE excluded.updated_at END RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(&new.organization_id)
    .bind(&new.name)
    .bind(list_text(&new.permissions))
    .bind(time::encode(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| op.error("upsert", e))?;
    decode(&row)
}

/// The role `name` of an organization (live or archived), if any.
pub async fn find(conn: &mut Conn, organization_id: &str, name: &str) -> Result<Option<Role>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM organization_roles WHERE organization_id = $1 AND name = $2"
    ))
    .bind(organization_id)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, name).error("read", e))?;
    row.as_ref().map(decode).transpose()
}

/// Every role of an organization (archived ones too), by name.
pub async fn list(conn: &mut Conn, organization_id: &str) -> Result<Vec<Role>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM organization_roles WHERE organization_id = $1 ORDER BY name"
    ))
    .bind(organization_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, organization_id).error("list", e))?;
    rows.iter().map(decode).collect()
}

/// Replace the permissions of role `id`.
pub async fn update(conn: &mut Conn, id: &str, permissions: &[String], now: Timestamp) -> Result<Role, StoreError> {
    let op = Op::new(TABLE, id);
    let row = sqlx::query(concat!(
        "UPDATE organization_roles SET permissions = $2, updated_at = $3 WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(list_text(permissions))
    .bind(time::encode(now))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error("update", e))?;
    row.as_ref().map(decode).transpose()?.ok_or_else(|| op.not_found())
}

/// Retire role `id`. Idempotent: the first `archived_at` stays.
pub async fn archive(conn: &mut Conn, id: &str, now: Timestamp) -> Result<Role, StoreError> {
    let op = Op::new(TABLE, id);
    let row = sqlx::query(concat!(
        "UPDATE organization_roles SET archived_at = COALESCE(archived_at, $2), \
         updated_at = CASE WHEN archived_at IS NULL THEN $2 ELSE updated_at END \
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(time::encode(now))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error("archive", e))?;
    row.as_ref().map(decode).transpose()?.ok_or_else(|| op.not_found())
}
