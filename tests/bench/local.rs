//! The local half of the benchmark: `accountops apply` of the object set into SQLite (first
//! run, unchanged re-run) and `plan` after it, against a raw-SQL floor measured in the same
//! run: the very rows apply wrote, inserted into a fresh database as plain `INSERT`
//! statements in one transaction.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accountops::store::Store;
use anyhow::{Context as _, bail};
use sqlx::Row;

use crate::objects;

pub struct Figures {
    pub n: usize,
    pub first: Duration,
    pub unchanged: Duration,
    pub plan: Duration,
    pub floor: Duration,
    pub rows: usize,
}

pub async fn run(n: usize) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let manifests = dir.path().join("objects.yaml");
    std::fs::write(&manifests, objects::yaml_stream(n))?;
    let db = dir.path().join("local.db");
    let url = format!("sqlite://{}", db.display());
    let mailbox = dir.path().join("mailbox");
    let apply = |verb: &str| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_accountops"))
            .args([verb, "-f"])
            .arg(&manifests)
            .arg(format!("--database={url}"))
            .arg("--mailbox")
            .arg(&mailbox)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        let took = started.elapsed();
        // apply exits 2 when an object ended in an error; anything else but 0 is a failure.
        if !out.status.success() {
            bail!("accountops {verb} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        }
        Ok(took)
    };
    eprintln!("bench: local apply of {n} Memberships (first run)");
    let first = apply("apply")?;
    eprintln!("bench: local apply, unchanged");
    let unchanged = apply("apply")?;
    eprintln!("bench: local plan");
    let plan = apply("plan")?;
    eprintln!("bench: raw-SQL floor");
    let (floor, rows) = floor(&db, &dir.path().join("floor.db")).await?;
    Ok(Figures { n, first, unchanged, plan, floor, rows })
}

/// Reads every row of `source` as an `INSERT` statement (SQLite's `quote()`), then times
/// executing them in one transaction on a freshly migrated database at `target`.
async fn floor(source: &Path, target: &Path) -> anyhow::Result<(Duration, usize)> {
    let from = Store::connect(&format!("sqlite://{}", source.display())).await?;
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE '_sqlx%' ORDER BY rowid",
    )
    .fetch_all(from.pool())
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>("name"))
    .collect::<Result<_, _>>()?;
    let mut statements = Vec::new();
    for table in &tables {
        let columns: Vec<String> =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{table}')")))
                .fetch_all(from.pool())
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("name"))
                .collect::<Result<_, _>>()?;
        let values = columns.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || ',' || ");
        let names = columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(",");
        let select = format!(
            "SELECT 'INSERT OR IGNORE INTO \"{table}\" ({names}) VALUES (' || {values} || ')' AS stmt FROM \"{table}\""
        );
        for row in sqlx::query(sqlx::AssertSqlSafe(select)).fetch_all(from.pool()).await? {
            statements.push(row.try_get::<String, _>("stmt")?);
        }
    }
    from.close().await;

    let to = Store::connect(&format!("sqlite://{}", target.display())).await?;
    to.migrate().await.context("migrating the floor database")?;
    let started = Instant::now();
    let mut tx = to.pool().begin().await?;
    for statement in &statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone())).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let took = started.elapsed();
    to.close().await;
    Ok((took, statements.len()))
}
