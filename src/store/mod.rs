//! The platform database: the rows accountops reconciles, on PostgreSQL or SQLite.
//!
//! ```text
//!  accounts ◄─ organizations ◄─ organization_roles, organization_groups
//!     ▲  ▲        ▲  ▲  ▲
//!     │  │        │  │  └─ provider_codes ─(used_by)─► tenant_links
//!     │  │        │  └──── tenant_links (provider_organization_id, tenant_organization_id)
//!     │  │        └─────── memberships ─► users      (organization_id XOR account_id)
//!     │  └──────────────── memberships
//!     └─ provisioning_syncs ◄─ assets
//!  invitations ─► memberships | tenant_links          (one of them, by kind)
//!  mail_outbox                                         (written in the same transaction)
//! ```
//!
//! | table | module | managed (owner columns) | archived by |
//! |---|---|---|---|
//! | accounts | [`accounts`] | yes | state `archived` + `archived_at` |
//! | organizations | [`organizations`] | yes | state `archived` + `archived_at` |
//! | organization_roles, organization_groups | [`roles`], [`groups`] | via organization | `archived_at` |
//! | users | [`users`] | no (shared by memberships) | `archived_at` |
//! | memberships | [`memberships`] | yes | phase `revoked` + `revoked_at` |
//! | invitations | [`invitations`] | via membership / tenant link | `revoked_at` |
//! | tenant_links | [`tenant_links`] | yes | phase `revoked` + `revoked_at` |
//! | provider_codes | [`provider_codes`] | via organization | `revoked_at` |
//! | provisioning_syncs | [`syncs`] | yes | `archived_at` |
//! | assets | [`assets`] | via sync | `archived_at` |
//! | mail_outbox | [`outbox`] | no | state `sent` / `dead` |
//! | hash_keys | [`keys`] | no | never (a deleted key is made anew) |
//! | import_offers | [`offers`] | no (the web app writes it) | deleted by the web app |
//!
//! Choices, and why:
//!
//! * **One driver, portable SQL.** The store uses sqlx's `Any` driver over one pool, so
//!   every query is written once with `$1`-style placeholders (sqlx-sqlite binds `$N` to
//!   argument N; PostgreSQL does natively) and tested on both engines. DDL differs, so each
//!   backend has its own embedded migrations with the same tables, columns and constraint
//!   names ([`migrate`]). `Any` carries only text, integers, floats, booleans and blobs,
//!   which shapes the column types below.
//! * **IDs** are generated here: `<prefix>-<uuid v4>` (`acct-`, `org-`, `usr-`, ...), so a
//!   shared organization ID says what it is.
//! * **Timestamps** are fixed-width RFC 3339 UTC text with microseconds ([`time`]): sortable
//!   as text, readable in `psql`, castable to `timestamptz`. Callers pass `now` in, so the
//!   engine decides the time and tests are deterministic.
//! * **Lists** (roles, permissions, notification levels) are JSON arrays of strings in TEXT.
//! * **Nothing is deleted.** Archive, revoke and release set a state and a timestamp.
//! * **Composable writes.** Every data function takes `&mut Conn`, so the engine writes a
//!   row and its outbox mail in one transaction: `let mut tx = store.begin().await?;
//!   accounts::insert(&mut tx, ..).await?; outbox::enqueue(&mut tx, ..).await?;
//!   tx.commit().await?`. On PostgreSQL a failed statement aborts the transaction: roll
//!   back after an error rather than carrying on.
//! * **Errors** are one enum, [`StoreError`], naming table, row and key.
//! * **One tail per query shape.** A table module writes its SQL and binds; `fetch` runs it,
//!   names a failure by the module's `Op` and decodes (`by_id!` makes `find`/`get`,
//!   `update_at!` a statement on one row at a time, `archivable!` the archive of assets and
//!   syncs), and the macros `revocable!` (memberships, tenant links), `single_use!`
//!   (invitations, provider codes) and `lifecycle!` (accounts, organizations) generate the
//!   phase, revocation and lifecycle moves those tables share. The owned tables end their
//!   columns with the owner's and the timestamps (`owned_columns!`) and name a row being
//!   inserted by its owner (`ownership::NewOwned`).
//! * **Fencing.** A store carries a [`Fence`] (open unless leader election closes it): core
//!   commits and the dispatcher call [`Store::check_fence`] first, so a leader whose lease may
//!   have expired writes nothing more ([`fence`]).
//! * **`sqlite::memory:`** is one private database per connection, so its pool has exactly
//!   one connection: do not hold a transaction while using the store elsewhere (tests only).
//!
//! `docs/database.md` is the contract for the platform's web app.

pub mod accounts;
pub mod assets;
pub mod changes;
pub mod error;
pub mod fence;
mod fetch;
pub mod footprint;
pub mod groups;
pub mod invitations;
pub mod keys;
pub mod memberships;
pub mod migrate;
mod named;
pub mod offers;
pub mod organizations;
pub mod outbox;
pub mod ownership;
pub mod provider_codes;
mod revocable;
pub mod roles;
pub(crate) mod row;
pub mod syncs;
pub mod tenant_links;
pub mod tenants;
#[doc(hidden)]
pub mod testkit;
pub mod time;
pub mod url;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrate;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Executor};

pub use error::StoreError;
pub use fence::{Fence, Fenced};
pub use migrate::MigrationReport;
pub use ownership::{Adoption, ManagedTable, OwnedRow, Owner, StoredOwner};
pub use row::DbEnum;
pub use url::Backend;

/// A connection (pooled or inside a transaction); every data function takes `&mut Conn`.
pub type Conn = sqlx::AnyConnection;
/// A transaction; `&mut tx` derefs to [`Conn`]. Dropped without `commit()`, it rolls back.
pub type Tx = sqlx::Transaction<'static, Any>;

/// How long an operation waits for a pooled connection (and a SQLite lock).
// Short, so an unreachable database shows in conditions within seconds (reconciles retry).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-connection SQLite settings (sqlx sets the first two by default; stated here as the
/// contract). A writer waits up to 30 s for another's transaction (local mode and an operator
/// may share one file) before giving up with "database is locked". Savepoint journals stay in
/// memory: local mode runs thousands of savepoints in one transaction, and a journal file
/// cost several writes per savepoint.
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000; PRAGMA temp_store = MEMORY;";

/// How the connection pool is sized and bounded (`accountops run --database-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections at most; `None`: sqlx's default for PostgreSQL (10), 4 for an SQLite file.
    pub max_connections: Option<u32>,
    /// How long a caller waits for a free connection before failing (transient: retried).
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout` of every connection; `None`: the server's.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings { max_connections: None, acquire_timeout: ACQUIRE_TIMEOUT, statement_timeout: None }
    }
}
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// A new platform ID: `<prefix>-<uuid v4>`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// A handle to the platform database: cheap to clone, shares one pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: Arc<str>,
    /// Until when this process may write (leader election); shared by every clone.
    fence: Fence,
}

impl Store {
    /// Open the database at `url` (see [`url`] for the forms) and check it answers.
    ///
    /// SQLite files are created with their directory if missing and put in WAL mode; every
    /// SQLite connection enforces foreign keys and waits up to 5 s on a lock. Does not
    /// migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &PoolSettings::default()).await
    }

    /// Like [`Store::connect`], with the pool sized and bounded by `settings`.
    pub async fn connect_with(url: &str, settings: &PoolSettings) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let target = url::parse(url)?;
        let connect_err = |source| StoreError::Connect { url: target.redacted.clone(), source };
        if let Some(dir) = target.file.as_ref().and_then(|f| f.parent())
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| connect_err(sqlx::Error::Io(e)))?;
        }
        let options: AnyConnectOptions = target
            .url
            .parse()
            .map_err(|e: sqlx::Error| StoreError::BadUrl { url: target.redacted.clone(), reason: e.to_string() })?;
        let mut pool = AnyPoolOptions::new().acquire_timeout(settings.acquire_timeout);
        if let (Backend::Postgres, Some(timeout)) = (target.backend, settings.statement_timeout) {
            let set = format!("SET statement_timeout = {}", timeout.as_millis().max(1));
            pool = pool.after_connect(move |conn, _| {
                let set = set.clone();
                Box::pin(async move {
                    conn.execute(sqlx::AssertSqlSafe(set)).await?;
                    Ok(())
                })
            });
        }
        if target.backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            });
        }
        let pool = if target.memory {
            // Each connection to `sqlite::memory:` is its own database: keep exactly one.
            pool.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(connect_err)?
        } else {
            // One direct attempt first: the pool retries refused connections until its
            // timeout and then reports only "timed out"; this reports the real cause now.
            let probe = sqlx::AnyConnection::connect_with(&options).await.map_err(connect_err)?;
            probe.close().await.map_err(connect_err)?;
            match (settings.max_connections, target.backend) {
                (Some(max), _) => pool = pool.max_connections(max.max(1)),
                (None, Backend::Sqlite) => pool = pool.max_connections(4),
                (None, Backend::Postgres) => {}
            }
            pool.connect_with(options).await.map_err(connect_err)?
        };
        if target.backend == Backend::Sqlite && !target.memory {
            // WAL is a property of the file: set once, kept by every later connection.
            pool.execute("PRAGMA journal_mode = WAL").await.map_err(connect_err)?;
        }
        Ok(Store { pool, backend: target.backend, url: target.redacted.into(), fence: Fence::open() })
    }

    /// Apply the embedded migrations that are not applied yet. Harmless to run again, and
    /// safe from several replicas at once (PostgreSQL advisory lock).
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let mut conn = self.acquire().await?;
        // Lock before touching `_sqlx_migrations`: creating it is itself racy on PostgreSQL.
        let result = match conn.lock().await {
            Ok(()) => {
                let result = self.migrate_locked(&mut conn).await;
                match conn.unlock().await {
                    Ok(()) => result,
                    Err(e) => result.and(Err(e)),
                }
            }
            Err(e) => Err(e),
        };
        result.map_err(|source| {
            // Never hand a connection that may still hold the lock back to the pool.
            conn.close_on_drop();
            StoreError::Migrate { url: self.url.to_string(), source }
        })
    }

    async fn migrate_locked(&self, conn: &mut Conn) -> Result<MigrationReport, sqlx::migrate::MigrateError> {
        conn.ensure_migrations_table(MIGRATIONS_TABLE).await?;
        let before = conn.list_applied_migrations(MIGRATIONS_TABLE).await?;
        let mut migrator = migrate::migrator(self.backend);
        migrator.set_locking(false);
        migrator.run(&mut *conn).await?;
        let after = conn.list_applied_migrations(MIGRATIONS_TABLE).await?;
        let applied = after.iter().map(|m| m.version).filter(|v| !before.iter().any(|b| b.version == *v)).collect();
        Ok(MigrationReport { applied, version: after.iter().map(|m| m.version).max().unwrap_or(0) })
    }

    /// Start a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so two writers queue on the busy timeout instead of failing on lock upgrade.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let tx = match self.backend {
            Backend::Postgres => self.pool.begin().await,
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
        };
        tx.map_err(|source| StoreError::Query { what: "begin transaction".to_owned(), source })
    }

    /// A pooled connection for reads or single-statement writes (each commits at once).
    pub async fn acquire(&self) -> Result<PoolConnection<Any>, StoreError> {
        self.pool
            .acquire()
            .await
            .map_err(|source| StoreError::Query { what: "acquire a database connection".to_owned(), source })
    }

    /// This store, writing under `fence` (leader election); clones made later share it.
    pub fn with_fence(mut self, fence: Fence) -> Store {
        self.fence = fence;
        self
    }

    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// `Ok` while this process may write and send: call right before a commit or a send.
    /// [`StoreError::Fenced`] (transient) once a leader's lease may have expired.
    pub fn check_fence(&self) -> Result<(), StoreError> {
        self.fence.check().map_err(StoreError::Fenced)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL with its password hidden, for logs and messages.
    pub fn redacted_url(&self) -> &str {
        &self.url
    }

    /// The underlying pool, for health checks and metrics.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Close every connection; later operations fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
pub(crate) mod tests;
