//! `organization_roles`: named sets of permissions in an organization; unique per name.
//!
//! Roles follow the Organization spec: [`upsert`] makes the row match a declared role
//! (reviving it if it was archived), [`archive`] retires one the spec no longer lists. The
//! statements are shared with groups (`store::named`).

use jiff::Timestamp;

use super::Conn;
use super::error::StoreError;
use super::named::{Catalog, Named, Put};

pub const TABLE: &str = "organization_roles";

const ROLES: Catalog = Catalog { table: TABLE, prefix: "role", value: "permissions" };

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

impl From<Named<Vec<String>>> for Role {
    fn from(r: Named<Vec<String>>) -> Role {
        Role {
            id: r.id,
            organization_id: r.organization_id,
            name: r.name,
            permissions: r.value,
            archived_at: r.archived_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Insert a role; a second role of the same name is a [`StoreError::UniqueViolation`].
pub async fn insert(conn: &mut Conn, new: &NewRole, now: Timestamp) -> Result<Role, StoreError> {
    ROLES.put(conn, Put::Insert, &new.organization_id, &new.name, &new.permissions, now).await.map(Role::from)
}

/// Make the role `name` of an organization exist, live, with these permissions.
/// `updated_at` moves only when something changed.
pub async fn upsert(conn: &mut Conn, new: &NewRole, now: Timestamp) -> Result<Role, StoreError> {
    ROLES.put(conn, Put::Upsert, &new.organization_id, &new.name, &new.permissions, now).await.map(Role::from)
}

/// The role `name` of an organization (live or archived), if any.
pub async fn find(conn: &mut Conn, organization_id: &str, name: &str) -> Result<Option<Role>, StoreError> {
    Ok(ROLES.find(conn, organization_id, name).await?.map(Role::from))
}

/// Every role of an organization (archived ones too), by name.
pub async fn list(conn: &mut Conn, organization_id: &str) -> Result<Vec<Role>, StoreError> {
    Ok(ROLES.list(conn, organization_id).await?.into_iter().map(Role::from).collect())
}

/// Replace the permissions of role `id`.
pub async fn update(conn: &mut Conn, id: &str, permissions: &[String], now: Timestamp) -> Result<Role, StoreError> {
    ROLES.update(conn, id, &permissions.to_vec(), now).await.map(Role::from)
}

/// Retire role `id`. Idempotent: the first `archived_at` stays.
pub async fn archive(conn: &mut Conn, id: &str, now: Timestamp) -> Result<Role, StoreError> {
    ROLES.archive::<Vec<String>>(conn, id, now).await.map(Role::from)
}
