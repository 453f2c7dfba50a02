//! Who has used a database: its schema version, and whether anyone but one cluster identity
//! owns rows or queued mails in it. Local mode reads this before deciding to migrate, without
//! writing anything (a database it does not own is someone else's to upgrade).

use sqlx::Row;

use super::error::StoreError;
use super::outbox::Origin;
use super::{Backend, Store, migrate};

/// The tables whose rows name an owner cluster.
const MANAGED: &[&str] = &["accounts", "organizations", "memberships", "tenant_links", "provisioning_syncs"];

/// The version of the newest applied migration; 0 for a database without the schema.
pub async fn schema_version(store: &Store) -> Result<i64, StoreError> {
    let mut conn = store.acquire().await?;
    let query = |what: &str| {
        let what = what.to_owned();
        move |source| StoreError::Query { what, source }
    };
    let exists = match store.backend() {
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
                              WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
        Backend::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    };
    let n: i64 = sqlx::query(exists)
        .fetch_one(&mut *conn)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(query("look for the schema"))?;
    if n == 0 {
        return Ok(0);
    }
    let version: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
        .and_then(|r| r.try_get("v"))
        .map_err(query("read the schema version"))?;
    Ok(version.unwrap_or(0))
}

/// Someone other than `cluster` in local mode using the database, if any: a cluster owning
/// rows (`cluster k8s-…`), rows nobody manages (the platform's own), or mail another shell
/// queued. `None` when every owned row and queued mail is local mode's under `cluster` (or
/// there is no schema at all).
pub async fn other_user(store: &Store, cluster: &str) -> Result<Option<String>, StoreError> {
    let version = schema_version(store).await?;
    if version == 0 {
        return Ok(None);
    }
    let mut conn = store.acquire().await?;
    for table in MANAGED {
        let sql =
            format!("SELECT owner_cluster FROM {table} WHERE owner_cluster IS NULL OR owner_cluster <> $1 LIMIT 1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cluster)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|source| StoreError::Query { what: format!("look for other owners in {table}"), source })?;
        if let Some(row) = row {
            let owner: Option<String> = row.try_get("owner_cluster").unwrap_or(None);
            return Ok(Some(match owner {
                Some(other) => format!("{table} owned by cluster {other}"),
                None => format!("{table} nobody manages (the platform's own)"),
            }));
        }
    }
    if version >= 6 {
        let row = sqlx::query("SELECT origin FROM mail_outbox WHERE origin IS NULL OR origin <> $1 LIMIT 1")
            .bind(Origin::Local(cluster.to_owned()).as_db())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|source| StoreError::Query { what: "look for other senders' mail".to_owned(), source })?;
        if let Some(row) = row {
            let origin: Option<String> = row.try_get("origin").unwrap_or(None);
            return Ok(Some(format!("mail queued by {}", origin.as_deref().unwrap_or("an operator"))));
        }
    }
    Ok(None)
}

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    migrate::latest_version()
}

/// IDs of the rows created at exactly `now` (every write of one local run carries the run's
/// time): what a rolled-back `plan` created, so it can show them as not created yet.
pub async fn created_at(
    conn: &mut super::Conn,
    now: jiff::Timestamp,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut ids = std::collections::HashSet::new();
    for table in MANAGED.iter().chain(&["users", "provider_codes", "invitations", "assets"]) {
        let sql = format!("SELECT id FROM {table} WHERE created_at = $1");
        let found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(super::time::encode(now))
            .fetch_all(&mut *conn)
            .await
            .map_err(|source| StoreError::Query { what: format!("list rows of {table} created now"), source })?;
        ids.extend(found);
    }
    Ok(ids)
}
