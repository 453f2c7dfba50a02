//! Migrations embedded in the binary, one directory per backend.
//!
//! `migrations/postgres/NNNN_name.sql` and `migrations/sqlite/NNNN_name.sql` must come in
//! pairs with the same version and name, describing the same tables and columns (a unit test
//! checks the pairing). They are embedded with `include_str!` (sqlx's `migrate!` macro needs
//! its `macros` feature) and applied by sqlx's migrator, which records them in
//! `_sqlx_migrations`, takes an advisory lock on PostgreSQL so replicas starting together
//! apply each migration once, skips what is already applied and refuses an applied
//! migration whose text has changed.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::url::Backend;

/// `(version, name, PostgreSQL SQL, SQLite SQL)`.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "platform",
        include_str!("migrations/postgres/0001_platform.sql"),
        include_str!("migrations/sqlite/0001_platform.sql"),
    ),
    (
        2,
        "invitation_resend_nonce",
        include_str!("migrations/postgres/0002_invitation_resend_nonce.sql"),
        include_str!("migrations/sqlite/0002_invitation_resend_nonce.sql"),
    ),
    (
        3,
        "derived_memberships",
        include_str!("migrations/postgres/0003_derived_memberships.sql"),
        include_str!("migrations/sqlite/0003_derived_memberships.sql"),
    ),
    (
        4,
        "pushed_directory",
        include_str!("migrations/postgres/0004_pushed_directory.sql"),
        include_str!("migrations/sqlite/0004_pushed_directory.sql"),
    ),
    (
        5,
        "change_cursor",
        include_str!("migrations/postgres/0005_change_cursor.sql"),
        include_str!("migrations/sqlite/0005_change_cursor.sql"),
    ),
    (
        6,
        "outbox_claims",
        include_str!("migrations/postgres/0006_outbox_claims.sql"),
        include_str!("migrations/sqlite/0006_outbox_claims.sql"),
    ),
    (
        7,
        "hash_keys",
        include_str!("migrations/postgres/0007_hash_keys.sql"),
        include_str!("migrations/sqlite/0007_hash_keys.sql"),
    ),
    (
        8,
        "import_offers",
        include_str!("migrations/postgres/0008_import_offers.sql"),
        include_str!("migrations/sqlite/0008_import_offers.sql"),
    ),
    (
        9,
        "asset_activation",
        include_str!("migrations/postgres/0009_asset_activation.sql"),
        include_str!("migrations/sqlite/0009_asset_activation.sql"),
    ),
    (
        10,
        "staff_placement",
        include_str!("migrations/postgres/0010_staff_placement.sql"),
        include_str!("migrations/sqlite/0010_staff_placement.sql"),
    ),
    (
        11,
        "released_owner_index",
        include_str!("migrations/postgres/0011_released_owner_index.sql"),
        include_str!("migrations/sqlite/0011_released_owner_index.sql"),
    ),
    (
        12,
        "invitation_subject_index",
        include_str!("migrations/postgres/0012_invitation_subject_index.sql"),
        include_str!("migrations/sqlite/0012_invitation_subject_index.sql"),
    ),
];

/// The versions of every embedded migration, in order.
pub fn versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|m| m.0).collect()
}

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}

pub(crate) fn migrator(backend: Backend) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|&(version, name, pg, lite)| {
            let sql = match backend {
                Backend::Postgres => pg,
                Backend::Sqlite => lite,
            };
            Migration::new(version, Cow::Borrowed(name), MigrationType::Simple, sql.into_sql_str(), false)
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Apply the embedded migrations up to `version` only: a database as an older binary left it
/// (tests of what a newer binary does with it).
#[doc(hidden)]
pub async fn migrate_up_to(store: &super::Store, version: i64) -> Result<(), super::StoreError> {
    let all = migrator(store.backend());
    let older: Vec<Migration> = all.iter().filter(|m| m.version <= version).cloned().collect();
    let mut conn = store.acquire().await?;
    Migrator::with_migrations(older)
        .run(&mut *conn)
        .await
        .map_err(|source| super::StoreError::Migrate { url: store.redacted_url().to_owned(), source })
}

/// What [`Store::migrate`](super::Store::migrate) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run (empty when the schema was current).
    pub applied: Vec<i64>,
    /// The schema version now in the database.
    pub version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table and column names, in order, from CREATE TABLE statements.
    fn shape(sql: &str) -> Vec<String> {
        let mut out = Vec::new();
        for line in sql.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("ALTER TABLE ") {
                out.push(format!("alter {}", rest.trim_end_matches(';')));
            } else if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                out.push(format!("table {}", rest.trim_end_matches(" (")));
            } else if let Some(rest) = line.strip_prefix("CREATE ") {
                if rest.contains("INDEX") {
                    out.push(line.split(" ON ").next().unwrap_or(line).to_owned());
                }
            } else if let Some(name) = line.strip_prefix("CONSTRAINT ") {
                out.push(format!("constraint {}", name.split(' ').next().unwrap_or("")));
            } else if !line.starts_with("--") && !line.is_empty() && !line.starts_with(')') {
                let first = line.split_whitespace().next().unwrap_or("");
                if first.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()) && !first.is_empty()
                {
                    out.push(format!("column {first}"));
                }
            }
        }
        out
    }

    #[test]
    fn backends_define_the_same_schema() {
        for (version, name, pg, lite) in MIGRATIONS {
            let (pg, lite) = (shape(pg), shape(lite));
            assert!(!pg.is_empty(), "migration {version} looks empty");
            // SQLite adds 0/1 checks for its INTEGER booleans; everything else matches.
            let lite: Vec<String> = lite.into_iter().filter(|l| !l.ends_with("_flag")).collect();
            assert_eq!(pg, lite, "migration {version}_{name} differs between backends");
        }
    }

    #[test]
    fn versions_are_increasing() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.0).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(latest_version(), *versions.last().unwrap_or(&0));
    }
}
