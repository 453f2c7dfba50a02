//! The store on a real PostgreSQL server: the same conformance suite as SQLite, plus what only
//! a server shows (login failures, concurrent migrations, the web app's SQL contract).
//!
//! `ACCOUNTOPS_TEST_POSTGRES_URL` is an admin URL (a role with CREATEDB), as printed by
//! `tests/tools/postgres.sh`. Every test creates its own database with a random name and
//! drops it afterwards, even when the test fails. Without the variable tests print
//! "skipping" and pass; with `CI=true` they fail instead.

use accountops::store::invitations::{self, NewInvitation, Subject};
use accountops::store::memberships::{self, MembershipPhase, NewMembership, Scope};
use accountops::store::testkit::{TestDatabase, fixtures};
use accountops::store::{Store, StoreError};
use sqlx::{AssertSqlSafe, Row};

const ENV: &str = "ACCOUNTOPS_TEST_POSTGRES_URL";

/// A fresh database on the test server; dropped (with its connections) on drop.
pub(crate) struct PgDatabase {
    store: Store,
    pub(crate) url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase for PgDatabase {
    fn store(&self) -> &Store {
        &self.store
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // No async drop: drop the database from a private runtime on its own thread, which
        // also works while the test's runtime unwinds from a failed assertion.
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let admin = Store::connect(&admin).await.map_err(|e| format!("{e:#}"))?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(AssertSqlSafe(sql)).execute(admin.pool()).await.map_err(|e| e.to_string())?;
                admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

/// The admin URL, or `None` (skip) when it is not configured outside CI.
fn admin_url() -> Option<String> {
    match std::env::var(ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{ENV} must be set in CI: run tests/tools/postgres.sh and export its URL")
        }
        _ => {
            eprintln!("skipping: {ENV} not set");
            None
        }
    }
}

/// `postgres://u:p@h:5432/admin?x=y` with the database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[host_start..].find('/') {
        Some(slash) => &base[..host_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A fresh, empty database (not migrated).
pub(crate) async fn fresh() -> Option<PgDatabase> {
    let admin_url = admin_url()?;
    let name = format!("accountops_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Store::connect(&admin_url).await.unwrap_or_else(|e| panic!("{ENV} does not connect: {e:#}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    admin.close().await;
    let url = with_database(&admin_url, &name);
    let store = Store::connect(&url).await.unwrap_or_else(|e| panic!("connect to {name}: {e:#}"));
    Some(PgDatabase { store, url, admin_url, name })
}

/// A fresh, migrated database: what every conformance check starts from.
async fn open() -> Option<PgDatabase> {
    let db = fresh().await?;
    let report = db.store.migrate().await.expect("migrate");
    assert_eq!(report.applied, every_migration());
    Some(db)
}

/// The versions of every embedded migration, in order.
fn every_migration() -> Vec<i64> {
    accountops::store::migrate::versions()
}

mod conformance {
    accountops::store_conformance_tests!(super::open);
}

/// The core's ownership matrix (`core::ownership_matrix`), on this server.
mod ownership_matrix {
    accountops::ownership_matrix_tests!(super::super::open);
}

/// `postgres://user:old@host/db` with another password.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (userinfo, host) = rest.split_once('@').unwrap_or_else(|| panic!("{ENV} needs user:password@"));
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    format!("{scheme}://{user}:{password}@{host}")
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(with_database("postgres://u:p@h:5432/postgres", "t1"), "postgres://u:p@h:5432/t1");
    assert_eq!(with_database("postgres://u:p@h/postgres?sslmode=disable", "t1"), "postgres://u:p@h/t1?sslmode=disable");
    assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
    assert_eq!(with_password("postgres://u:p@h/db", "x"), "postgres://u:x@h/db");
}

#[tokio::test]
async fn wrong_password_is_a_one_line_connect_error() {
    let Some(db) = fresh().await else { return };
    let bad = with_password(&db.url, "wrong-hunter2");
    let err = Store::connect(&bad).await.expect_err("wrong password");
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    let full = format!("{:#}", anyhow::Error::new(err));
    assert!(!full.contains("hunter2"), "{full}");
    assert!(!full.contains('\n'), "{full}");
    assert!(full.contains("password") || full.contains("authentication"), "{full}");
}

#[tokio::test]
async fn replicas_migrating_together_apply_once() {
    let Some(db) = fresh().await else { return };
    let second = Store::connect(&db.url).await.expect("second replica");
    let (a, b) = tokio::join!(db.store.migrate(), second.migrate());
    let (a, b) = (a.expect("first"), b.expect("second"));
    let mut applied = [a.applied, b.applied].concat();
    applied.sort();
    assert_eq!(applied, every_migration(), "each migration is applied by exactly one replica");
    second.close().await;
}

/// The web app accepts an invitation with the documented statement; the store sees it, and
/// timestamps cast to `timestamptz` as docs/database.md promises.
#[tokio::test]
async fn web_app_contract_statements_work() {
    let Some(db) = open().await else { return };
    let mut c = db.store.acquire().await.expect("conn");
    let acct = fixtures::account(&mut c, None).await;
    let org = fixtures::organization(&mut c, &acct.id, "Engineering").await;
    let u = fixtures::user(&mut c, "ann@example.com").await;
    let m = memberships::insert(
        &mut c,
        &NewMembership {
            user_id: u.id.clone(),
            scope: Scope::Organization(org.id.clone()),
            settings: fixtures::settings(&["Engineer"]),
            phase: MembershipPhase::Invited,
            owner: None,
        },
        fixtures::at(1),
    )
    .await
    .expect("membership");
    let token_hash = fixtures::hash();
    let expires = accountops::store::time::now() + jiff::SignedDuration::from_hours(24);
    let inv = invitations::insert(
        &mut c,
        &NewInvitation {
            subject: Subject::Membership(m.id.clone()),
            email: u.email.clone(),
            token_hash: token_hash.clone(),
            locale: "en".into(),
            expires_at: expires,
            resend_nonce: None,
        },
        fixtures::at(2),
    )
    .await
    .expect("invitation");
    let accepted = sqlx::query(
        "UPDATE invitations SET accepted_at = to_char(now() AT TIME ZONE 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), updated_at = to_char(now() AT TIME ZONE 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') WHERE token_hash = $1 AND accepted_at IS NULL \
         AND revoked_at IS NULL AND expires_at > to_char(now() AT TIME ZONE 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
    .bind(&token_hash)
    .execute(&mut *c)
    .await
    .expect("the documented accept statement runs");
    assert_eq!(accepted.rows_affected(), 1);
    let seen = invitations::get(&mut c, &inv.id).await.expect("get");
    assert!(seen.accepted_at.is_some(), "{seen:?}");
    let row = sqlx::query(
        "SELECT (accepted_at::timestamptz <= now()) AS past, \
         (created_at::timestamptz = '2025-01-01T00:00:02.000123Z'::timestamptz) AS exact \
         FROM invitations WHERE id = $1",
    )
    .bind(&inv.id)
    .fetch_one(&mut *c)
    .await
    .expect("cast to timestamptz");
    assert!(row.try_get::<bool, _>("past").expect("bool"));
    assert!(row.try_get::<bool, _>("exact").expect("bool"));
}
