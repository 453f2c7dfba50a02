//! `organization_groups`: user groups of an organization; unique per name.
//!
//! Groups follow the Organization spec: [`upsert`] makes the row match a declared group
//! (reviving it if it was archived), [`archive`] retires one the spec no longer lists. The
//! statements are shared with roles (`store::named`).

use jiff::Timestamp;

use super::Conn;
use super::error::StoreError;
use super::named::{Catalog, Named, Put};

pub const TABLE: &str = "organization_groups";

const GROUPS: Catalog = Catalog { table: TABLE, prefix: "grp", value: "description" };

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

impl From<Named<Option<String>>> for Group {
    fn from(g: Named<Option<String>>) -> Group {
        Group {
            id: g.id,
            organization_id: g.organization_id,
            name: g.name,
            description: g.value,
            archived_at: g.archived_at,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// Insert a group; a second group of the same name is a [`StoreError::UniqueViolation`].
pub async fn insert(conn: &mut Conn, new: &NewGroup, now: Timestamp) -> Result<Group, StoreError> {
    GROUPS.put(conn, Put::Insert, &new.organization_id, &new.name, &new.description, now).await.map(Group::from)
}

/// Make the group `name` of an organization exist, live, with this description.
/// `updated_at` moves only when something changed.
pub async fn upsert(conn: &mut Conn, new: &NewGroup, now: Timestamp) -> Result<Group, StoreError> {
    GROUPS.put(conn, Put::Upsert, &new.organization_id, &new.name, &new.description, now).await.map(Group::from)
}

/// The group `name` of an organization (live or archived), if any.
pub async fn find(conn: &mut Conn, organization_id: &str, name: &str) -> Result<Option<Group>, StoreError> {
    Ok(GROUPS.find(conn, organization_id, name).await?.map(Group::from))
}

/// Every group of an organization (archived ones too), by name.
pub async fn list(conn: &mut Conn, organization_id: &str) -> Result<Vec<Group>, StoreError> {
    Ok(GROUPS.list(conn, organization_id).await?.into_iter().map(Group::from).collect())
}

/// Replace the description of group `id`.
pub async fn update(conn: &mut Conn, id: &str, description: Option<&str>, now: Timestamp) -> Result<Group, StoreError> {
    GROUPS.update(conn, id, &description.map(str::to_owned), now).await.map(Group::from)
}

/// Retire group `id`. Idempotent: the first `archived_at` stays.
pub async fn archive(conn: &mut Conn, id: &str, now: Timestamp) -> Result<Group, StoreError> {
    GROUPS.archive::<Option<String>>(conn, id, now).await.map(Group::from)
}
