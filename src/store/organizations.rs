//! `organizations`: named organizations under an account; their ID is the one partners use.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::accounts::{LifecycleState, lifecycle};
use super::error::{Op, StoreError};
use super::fetch::{self, by_id};
use super::ownership::{ManagedTable, NewOwned, Owner, StoredOwner, owned_columns};
use super::row::Cols;
use super::time;

pub const TABLE: &str = "organizations";

/// An organization to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrganization {
    pub account_id: String,
    pub name: String,
    /// May issue provider codes and manage tenant organizations.
    pub service_provider: bool,
    pub owner: Option<Owner>,
}

/// The fields an update replaces (the account never changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationUpdate {
    pub name: String,
    pub service_provider: bool,
}

/// A row of `organizations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// `org-<uuid>`: the shareable organization ID.
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub service_provider: bool,
    pub state: LifecycleState,
    pub archived_at: Option<Timestamp>,
    pub owner: Option<StoredOwner>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

owned_columns!("id, account_id, name, service_provider, state, archived_at");

fn decode(row: &AnyRow) -> Result<Organization, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(Organization {
        id: c.text("id")?,
        account_id: c.text("account_id")?,
        name: c.text("name")?,
        service_provider: c.flag("service_provider")?,
        state: c.parse("state")?,
        archived_at: c.opt_ts("archived_at")?,
        owner: c.owner()?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Insert a new organization with a generated `org-` ID.
pub async fn insert(conn: &mut Conn, new: &NewOrganization, now: Timestamp) -> Result<Organization, StoreError> {
    let row = NewOwned::new(TABLE, "org", new.owner.as_ref());
    let keys = row.keys(&[]);
    let refs = [("account_id", new.account_id.as_str())];
    let op = row.op(&keys, &refs);
    let query = sqlx::query(concat!(
        "INSERT INTO organizations (id, account_id, name, service_provider, state, \
         owner_cluster, owner_namespace, owner_name, owner_uid, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $9) RETURNING ",
        columns!()
    ))
    .bind(&row.id)
    .bind(&new.account_id)
    .bind(&new.name)
    .bind(new.service_provider);
    fetch::insert_owned(conn, query, new.owner.as_ref(), now, &op, decode).await
}

by_id!("organizations", Organization, "organization");

/// The organizations of an account (all states), oldest first.
pub async fn list_by_account(conn: &mut Conn, account_id: &str) -> Result<Vec<Organization>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM organizations WHERE account_id = $1 ORDER BY created_at, id"
    ))
    .bind(account_id);
    fetch::all(conn, query, &Op::new(TABLE, account_id), "list by account", decode).await
}

/// How many organizations of an account are not archived (an account with live
/// organizations must not be archived).
pub async fn count_live_by_account(conn: &mut Conn, account_id: &str) -> Result<i64, StoreError> {
    let query = sqlx::query("SELECT COUNT(*) AS n FROM organizations WHERE account_id = $1 AND state <> 'archived'")
        .bind(account_id);
    fetch::count(conn, query, &Op::new(TABLE, account_id), "count by account").await
}

/// Replace the name and provider flag of organization `id`.
pub async fn update(
    conn: &mut Conn,
    id: &str,
    update: &OrganizationUpdate,
    now: Timestamp,
) -> Result<Organization, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE organizations SET name = $2, service_provider = $3, updated_at = $4 \
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(&update.name)
    .bind(update.service_provider)
    .bind(time::encode(now));
    fetch::existing(conn, query, &op, "update", decode).await
}

lifecycle! {
    table: ManagedTable::Organizations,
    row: Organization,
    /// Close organization `id` (state `archived`). Idempotent.
    archive;
    /// Bring an archived or orphaned organization back to `active`.
    reactivate;
    /// Leave organization `id` unmanaged: state `orphaned` (unless archived), owner released.
    orphan;
}
