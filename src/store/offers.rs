//! `import_offers`: the grant that lets a namespace import a row it did not release itself.
//!
//! The platform's web app writes an offer (table, row, cluster, namespace); an object of that
//! namespace may then take the row over with `accountops.dev/external-id`. accountops only
//! reads offers (`offer` exists for administrators' scripts and the tests). The ownership
//! rule that uses them is `core::plan::route`; docs/database.md is the contract.

use jiff::Timestamp;

use super::Conn;
use super::error::{Op, StoreError};
use super::ownership::ManagedTable;
use super::time;

pub const TABLE: &str = "import_offers";

/// Whether `table`'s row `id` is offered to `namespace` of `cluster`.
pub async fn is_offered(
    conn: &mut Conn,
    table: ManagedTable,
    id: &str,
    cluster: &str,
    namespace: &str,
) -> Result<bool, StoreError> {
    // COUNT(*) is a 64-bit integer on both engines (the Any driver decodes no narrower one).
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM import_offers WHERE table_name = $1 AND row_id = $2 AND cluster = $3 AND namespace = $4",
    )
    .bind(table.table())
    .bind(id)
    .bind(cluster)
    .bind(namespace)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, id).error("read offer of", e))?;
    Ok(found > 0)
}

/// Offer `table`'s row `id` to `namespace` of `cluster` (idempotent).
pub async fn offer(
    conn: &mut Conn,
    table: ManagedTable,
    id: &str,
    cluster: &str,
    namespace: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO import_offers (table_name, row_id, cluster, namespace, offered_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (table_name, row_id, cluster, namespace) DO NOTHING",
    )
    .bind(table.table())
    .bind(id)
    .bind(cluster)
    .bind(namespace)
    .bind(time::encode(now))
    .execute(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, id).error("offer", e))?;
    Ok(())
}
