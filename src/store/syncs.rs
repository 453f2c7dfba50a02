//! `provisioning_syncs`: an account synchronized with an external provisioning system.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch::{self, archivable, by_id};
use super::ownership::{NewOwned, Owner, StoredOwner, owned_columns};
use super::row::{Cols, db_enum};
use super::time;

pub const TABLE: &str = "provisioning_syncs";

db_enum! {
    /// Whether the external system matches the account.
    pub enum SyncStatus {
        Unsynchronized = "unsynchronized",
        Synchronized = "synchronized",
        Error = "error",
    }
}

/// A sync to insert (status `unsynchronized`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProvisioningSync {
    pub account_id: String,
    /// The SCIM base URL.
    pub endpoint: String,
    pub owner: Option<Owner>,
}

/// The result of one sync run, as [`record_sync`] stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResult {
    /// In sync; the account's ID in the external system.
    Synchronized { external_id: String },
    /// The run failed; the previous external ID and sync time stay.
    Failed { error: String },
}

/// A row of `provisioning_syncs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningSync {
    pub id: String,
    pub account_id: String,
    pub endpoint: String,
    pub sync_status: SyncStatus,
    pub external_id: Option<String>,
    /// When the last successful sync finished.
    pub last_sync_time: Option<Timestamp>,
    /// Why the last run failed (cleared by a successful one).
    pub last_error: Option<String>,
    pub archived_at: Option<Timestamp>,
    /// What the last push wrote to the external system (JSON, see `core::sync::pushed`).
    pub pushed: Option<String>,
    pub owner: Option<StoredOwner>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

owned_columns!("id, account_id, endpoint, sync_status, external_id, last_sync_time, last_error, archived_at, pushed");

fn decode(row: &AnyRow) -> Result<ProvisioningSync, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(ProvisioningSync {
        id: c.text("id")?,
        account_id: c.text("account_id")?,
        endpoint: c.text("endpoint")?,
        sync_status: c.parse("sync_status")?,
        external_id: c.opt_text("external_id")?,
        last_sync_time: c.opt_ts("last_sync_time")?,
        last_error: c.opt_text("last_error")?,
        archived_at: c.opt_ts("archived_at")?,
        pushed: c.opt_text("pushed")?,
        owner: c.owner()?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Insert a sync with a generated `psync-` ID.
pub async fn insert(
    conn: &mut Conn,
    new: &NewProvisioningSync,
    now: Timestamp,
) -> Result<ProvisioningSync, StoreError> {
    let row = NewOwned::new(TABLE, "psync", new.owner.as_ref());
    let keys = row.keys(&[]);
    let refs = [("account_id", new.account_id.as_str())];
    let op = row.op(&keys, &refs);
    let query = sqlx::query(concat!(
        "INSERT INTO provisioning_syncs (id, account_id, endpoint, sync_status, owner_cluster, \
         owner_namespace, owner_name, owner_uid, created_at, updated_at) \
         VALUES ($1, $2, $3, 'unsynchronized', $4, $5, $6, $7, $8, $8) RETURNING ",
        columns!()
    ))
    .bind(&row.id)
    .bind(&new.account_id)
    .bind(&new.endpoint);
    fetch::insert_owned(conn, query, new.owner.as_ref(), now, &op, decode).await
}

by_id!("provisioning_syncs", ProvisioningSync, "sync");

/// Every sync of an account (archived too), oldest first.
pub async fn list_by_account(conn: &mut Conn, account_id: &str) -> Result<Vec<ProvisioningSync>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM provisioning_syncs WHERE account_id = $1 ORDER BY created_at, id"
    ))
    .bind(account_id);
    fetch::all(conn, query, &Op::new(TABLE, account_id), "list by account", decode).await
}

/// The newest sync last managed by the object `namespace/name` of `cluster` that no object
/// owns now (released by deletionPolicy Orphan or Delete), if any.
pub async fn find_released(
    conn: &mut Conn,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<ProvisioningSync>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM provisioning_syncs WHERE owner_uid IS NULL AND owner_cluster = $1 AND owner_namespace = $2 \
         AND owner_name = $3 ORDER BY updated_at DESC, id DESC LIMIT 1"
    ))
    .bind(cluster)
    .bind(namespace)
    .bind(name);
    fetch::optional(conn, query, &Op::new(TABLE, name), "find released", decode).await
}

/// Archive sync `id` and let go of it (`owner_uid` cleared, the names kept as a record), in
/// one statement: a re-created object of the same name then makes a new record unless it asks
/// to adopt this one. Idempotent: the first `archived_at` stays.
pub async fn retire(conn: &mut Conn, id: &str, now: Timestamp) -> Result<ProvisioningSync, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE provisioning_syncs SET archived_at = COALESCE(archived_at, $2), owner_uid = NULL, \
         updated_at = CASE WHEN archived_at IS NULL OR owner_uid IS NOT NULL THEN $2 ELSE updated_at END \
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(time::encode(now));
    fetch::existing(conn, query, &op, "retire", decode).await
}

/// Bring archived sync `id` back (`archived_at` cleared). Idempotent.
pub async fn unarchive(conn: &mut Conn, id: &str, now: Timestamp) -> Result<ProvisioningSync, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE provisioning_syncs SET archived_at = NULL, \
         updated_at = CASE WHEN archived_at IS NULL THEN updated_at ELSE $2 END WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(time::encode(now));
    fetch::existing(conn, query, &op, "unarchive", decode).await
}

/// The live (not archived) syncs pushing to `endpoint` (trailing `/` ignored), oldest first.
pub async fn list_live_by_endpoint(conn: &mut Conn, endpoint: &str) -> Result<Vec<ProvisioningSync>, StoreError> {
    let base = endpoint.trim_end_matches('/');
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM provisioning_syncs WHERE archived_at IS NULL AND (endpoint = $1 OR endpoint = $2) \
         ORDER BY created_at, id"
    ))
    .bind(base)
    .bind(format!("{base}/"));
    fetch::all(conn, query, &Op::new(TABLE, base), "list by endpoint", decode).await
}

/// Record what a push wrote to the external system (`pushed`, JSON).
pub async fn record_pushed(
    conn: &mut Conn,
    id: &str,
    pushed: &str,
    now: Timestamp,
) -> Result<ProvisioningSync, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE provisioning_syncs SET pushed = $2, updated_at = $3 WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(pushed)
    .bind(time::encode(now));
    fetch::existing(conn, query, &op, "record the push of", decode).await
}

/// Point sync `id` at another endpoint; its status goes back to `unsynchronized` and the
/// record of what was pushed is dropped (it describes the other system) when the endpoint
/// changes.
pub async fn update_endpoint(
    conn: &mut Conn,
    id: &str,
    endpoint: &str,
    now: Timestamp,
) -> Result<ProvisioningSync, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE provisioning_syncs SET \
         sync_status = CASE WHEN endpoint = $2 THEN sync_status ELSE 'unsynchronized' END, \
         pushed = CASE WHEN endpoint = $2 THEN pushed ELSE NULL END, \
         updated_at = CASE WHEN endpoint = $2 THEN updated_at ELSE $3 END, \
         endpoint = $2 WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(endpoint)
    .bind(time::encode(now));
    fetch::existing(conn, query, &op, "update", decode).await
}

/// Store the result of a sync run finished at `now`.
pub async fn record_sync(
    conn: &mut Conn,
    id: &str,
    result: &SyncResult,
    now: Timestamp,
) -> Result<ProvisioningSync, StoreError> {
    let op = Op::new(TABLE, id);
    let ts = time::encode(now);
    let query = match result {
        SyncResult::Synchronized { external_id } => sqlx::query(concat!(
            "UPDATE provisioning_syncs SET sync_status = 'synchronized', external_id = $2, \
             last_sync_time = $3, last_error = NULL, updated_at = $3 WHERE id = $1 RETURNING ",
            columns!()
        ))
        .bind(id)
        .bind(external_id.as_str())
        .bind(ts),
        SyncResult::Failed { error } => sqlx::query(concat!(
            "UPDATE provisioning_syncs SET sync_status = 'error', last_error = $2, \
             updated_at = $3 WHERE id = $1 RETURNING ",
            columns!()
        ))
        .bind(id)
        .bind(error.as_str())
        .bind(ts),
    };
    let row = query.fetch_optional(&mut *conn).await.map_err(|e| op.error("record sync of", e))?;
    row.as_ref().map(decode).transpose()?.ok_or_else(|| op.not_found())
}

archivable!("provisioning_syncs", ProvisioningSync, "sync");
