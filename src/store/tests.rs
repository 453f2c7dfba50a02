//! The conformance suite on SQLite (a file and `sqlite::memory:`), plus connection tests.
//! The same suite runs on PostgreSQL in `tests/it/store_pg.rs`; the core's ownership matrix
//! (`core::ownership_matrix`) opens its databases here too.

use sqlx::Row;

use super::testkit::TestDatabase;
use super::{Backend, Store, StoreError};

pub(crate) struct SqliteFile {
    store: Store,
    _dir: tempfile::TempDir,
}

impl TestDatabase for SqliteFile {
    fn store(&self) -> &Store {
        &self.store
    }
}

pub(crate) struct Memory(Store);

impl TestDatabase for Memory {
    fn store(&self) -> &Store {
        &self.0
    }
}

pub(crate) async fn open_file() -> Option<SqliteFile> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}/state/accountops.db", dir.path().display());
    let store = Store::connect(&url).await.expect("open SQLite file");
    store.migrate().await.expect("migrate");
    Some(SqliteFile { store, _dir: dir })
}

pub(crate) async fn open_memory() -> Option<Memory> {
    let store = Store::connect("sqlite::memory:").await.expect("open memory");
    store.migrate().await.expect("migrate");
    Some(Memory(store))
}

mod sqlite_file {
    crate::store_conformance_tests!(super::open_file);
}

mod sqlite_memory {
    crate::store_conformance_tests!(super::open_memory);
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("nested/dir/state.db");
    let store = Store::connect(&format!("sqlite://{}", path.display())).await.expect("open");
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.exists(), "the file and its directories are created");
    let report = store.migrate().await.expect("migrate");
    assert_eq!(report.applied, crate::store::migrate::versions());
    let mut conn = store.acquire().await.expect("conn");
    let mode: String =
        sqlx::query("PRAGMA journal_mode").fetch_one(&mut *conn).await.expect("pragma").try_get(0).expect("text");
    assert_eq!(mode, "wal");
    let fk: i64 =
        sqlx::query("PRAGMA foreign_keys").fetch_one(&mut *conn).await.expect("pragma").try_get(0).expect("int");
    assert_eq!(fk, 1);
    drop(conn);
    store.close().await;
    // Reopening finds the schema in place.
    let again = Store::connect(&format!("sqlite:{}", path.display())).await.expect("reopen");
    assert!(again.migrate().await.expect("migrate").applied.is_empty());
}

#[tokio::test]
async fn bad_urls_fail_in_one_line() {
    for url in ["", "mysql://root:hunter2@db/x", "postgres://", "file.db"] {
        let err = Store::connect(url).await.expect_err(url);
        assert!(matches!(err, StoreError::BadUrl { .. }), "{url}: {err:?}");
        let msg = err.to_string();
        assert!(!msg.contains('\n') && !msg.contains("hunter2"), "{msg}");
        assert_eq!(err.category(), "bad_url");
    }
}

#[tokio::test]
async fn unreachable_server_is_a_connect_error_without_password() {
    // Port 1 on loopback refuses at once; the probe reports it instead of a pool timeout.
    let err =
        Store::connect("postgres://app:hunter2@127.0.0.1:1/platform").await.expect_err("nothing listens on port 1");
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    let full = format!("{:#}", anyhow::Error::new(err));
    assert!(!full.contains("hunter2") && !full.contains('\n'), "{full}");
    assert!(full.contains("app:***@127.0.0.1:1"), "{full}");
}

#[tokio::test]
async fn sqlite_directory_that_cannot_be_created_is_a_connect_error() {
    let file = tempfile::NamedTempFile::new().expect("file");
    // A path "inside" a regular file cannot be created.
    let url = format!("sqlite://{}/sub/state.db", file.path().display());
    let err = Store::connect(&url).await.expect_err("not a directory");
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
}

/// The first SQL block of the docs/database.md section `heading`, whitespace squashed.
pub(crate) fn documented_sql(heading: &str) -> String {
    let docs = include_str!("../../docs/database.md");
    let section = docs.split(heading).nth(1).unwrap_or_else(|| panic!("the section {heading}"));
    let sql = section.split("```sql").nth(1).and_then(|s| s.split("```").next()).expect("its SQL");
    squashed(sql)
}

/// `sql` with every run of whitespace one space.
pub(crate) fn squashed(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}
