//! `organization_groups`: user groups of an organization; unique per name.
//!
//! Groups follow the Organization spec: [`upsert`] makes the row match a declared group
//! (reviving it if it was archived), [`archive`] retires one the spec no longer lists.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::row::Cols;
use super::time;

pub const TABLE: &str = "organization_groups";

/// A group to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub organization_id: String,
    pub name: String,
    pub description: Option<String>,
}

/// A row of `organization_groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub description: Option<String>,
    pub archived_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! columns {
    () => {
        "id, organization_id, name, description, archived_at, created_at, updated_at"
    };
}

fn decode(row: &AnyRow) -> Result<Group, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(Group {
        id: c.text("id")?,
        organization_id: c.text("organization_id")?,
        name: c.text("name")?,
        description: c.opt_text("description")?,
        archived_at: c.opt_ts("archived_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Insert a group; a second group of the same name is a [`StoreError::UniqueViolation`].
pub async fn insert(conn: &mut Conn, new: &NewGroup, now: Timestamp) -> Result<Group, StoreError> {
    let id = super::new_id("grp");
    let name_key = format!("{}, {}", new.organization_id, new.name);
    let keys = [("id", id.as_str()), ("organization_id, name", name_key.as_str())];
    let refs = [("organization_id", new.organization_id.as_str())];
    let op = Op::new(TABLE, &id).keys(&keys).refs(&refs);
    let row = sqlx::query(concat!(
        "INSERT INTO organization_groups (id, organization_id, name, description, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(&new.organization_id)
    .bind(&new.name)
    .bind(new.description.as_deref())
    .bind(time::encode(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| op.error("insert", e))?;
    decode(&row)
}

/// Make the group `name` of an organization exist, live, with this description.
/// `updated_at` moves only when something changed.
pub async fn upsert(conn: &mut Conn, new: &NewGroup, now: Timestamp) -> Result<Group, StoreError> {
    let id = super::new_id("grp");
    let refs = [("organization_id", new.organization_id.as_str())];
    let op = Op::new(TABLE, &new.name).refs(&refs);
    let row = sqlx::query(concat!(
        "INSERT INTO organization_groups (id, organization_id, name, description, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (organization_id, name) DO UPDATE SET description = excluded.description, \
         archived_at = NULL, updated_at = CASE WHEN organization_groups.description IS NOT \
         DISTINCT FROM excluded.description AND organization_groups.archived_at IS NULL \
         THEN organization_groups.updated_at ELSE excluded.updated_at END RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(&new.organization_id)
    .bind(&new.name)
    .bind(new.description.as_deref())
    .bind(time::encode(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| op.error("upsert", e))?;
    decode(&row)
}

/// The group `name` of an organization (live or archived), if any.
pub async fn find(conn: &mut Conn, organization_id: &str, name: &str) -> Result<Option<Group>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM organization_groups WHERE organization_id = $1 AND name = $2"
    ))
    .bind(organization_id)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, name).error("read", e))?;
    row.as_ref().map(decode).transpose()
}

/// Every group of an organization (archived ones too), by name.
pub async fn list(conn: &mut Conn, organization_id: &str) -> Result<Vec<Group>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM organization_groups WHERE organization_id = $1 ORDER BY name"
    ))
    .bind(organization_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, organization_id).error("list", e))?;
    rows.iter().map(decode).collect()
}

/// Replace the description of group `id`.
pub async fn update(conn: &mut Conn, id: &str, description: Option<&str>, now: Timestamp) -> Result<Group, StoreError> {
    let op = Op::new(TABLE, id);
    let row = sqlx::query(concat!(
        "UPDATE organization_groups SET description = $2, updated_at = $3 WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(description)
    .bind(time::encode(now))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error("update", e))?;
    row.as_ref().map(decode).transpose()?.ok_or_else(|| op.not_found())
}

/// Retire group `id`. Idempotent: the first `archived_at` stays.
pub async fn archive(conn: &mut Conn, id: &str, now: Timestamp) -> Result<Group, StoreError> {
    let op = Op::new(TABLE, id);
    let row = sqlx::query(concat!(
        "UPDATE organization_groups SET archived_at = COALESCE(archived_at, $2), \
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
