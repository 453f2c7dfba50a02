//! The database `plan` and `apply` work on, and whether local mode may migrate it.
//!
//! ```text
//! url ─► connect ─► footprint: schema version, anyone else's rows or mail?
//!   plan   never migrates: no schema yet → an empty in-memory database instead;
//!          a schema older than this binary → refused (apply or `accountops migrate` first)
//!   apply  its own database (no schema yet, or only local mode's rows and mail under this
//!          --cluster-id) → migrated; anyone else's → migrated only with --migrate, otherwise
//!          used as it is when current and refused when older
//! ```
//!
//! A database shared with an operator is the operator's to upgrade: a local `apply` pointed at
//! it must not change its schema under a running operator of another version.

use super::engine::Mode;
use crate::store::{Store, StoreError, footprint};

/// What was found in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Applied schema version (0: none).
    pub version: i64,
    /// The newest version this binary knows.
    pub latest: i64,
    /// Who else uses it (`None`: local mode's own).
    pub other: Option<String>,
}

/// What to do with the database before running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Run on it as it is.
    UseAsIs,
    /// Apply the embedded migrations first.
    Migrate,
    /// Plan against an empty in-memory database instead (nothing to read yet).
    PlanAgainstEmpty,
}

/// Why local mode does not run on a database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("--migrate is for apply: plan never changes the database, its schema included")]
    PlanWithMigrate,
    #[error(
        "plan never migrates: the schema of {url} is at version {at} and this accountops needs {needs}; \
         run `accountops apply` (or `accountops migrate`) first"
    )]
    PlanOnOldSchema { url: String, at: i64, needs: i64 },
    #[error(
        "{url} is not local mode's own database (it holds {who}): apply does not upgrade its schema \
         (version {at}, this accountops needs {needs}) without --migrate; or run `accountops migrate`"
    )]
    NotOwned { url: String, who: String, at: i64, needs: i64 },
}

/// The step for `mode` on what was `found`; `allow` is `--migrate`.
pub fn decide(mode: Mode, found: &Found, allow: bool, url: &str) -> Result<Step, Refusal> {
    let behind = found.version < found.latest;
    match mode {
        Mode::Plan if allow => Err(Refusal::PlanWithMigrate),
        Mode::Plan if found.version == 0 => Ok(Step::PlanAgainstEmpty),
        Mode::Plan if behind => {
            Err(Refusal::PlanOnOldSchema { url: url.to_owned(), at: found.version, needs: found.latest })
        }
        Mode::Plan => Ok(Step::UseAsIs),
        Mode::Apply if !behind => Ok(Step::UseAsIs),
        Mode::Apply => match &found.other {
            None => Ok(Step::Migrate),
            Some(_) if allow => Ok(Step::Migrate),
            Some(who) => {
                Err(Refusal::NotOwned { url: url.to_owned(), who: who.clone(), at: found.version, needs: found.latest })
            }
        },
    }
}

/// Connect to `url` and make it ready for `mode` (see the module documentation).
pub async fn open(url: &str, mode: Mode, cluster: &str, allow_migrate: bool) -> anyhow::Result<Store> {
    use anyhow::Context as _;
    let store = Store::connect(url).await.context("opening the database")?;
    // A private in-memory database is nobody else's: set it up.
    if url.starts_with("sqlite::memory:") && !allow_migrate {
        store.migrate().await.context("setting up the in-memory database")?;
        return Ok(store);
    }
    let found = look(&store, cluster).await.context("reading the database's schema version and owners")?;
    match decide(mode, &found, allow_migrate, store.redacted_url())? {
        Step::UseAsIs => {
            if found.version > found.latest {
                eprintln!(
                    "note: the schema of {} is at version {}, newer than this accountops ({})",
                    store.redacted_url(),
                    found.version,
                    found.latest
                );
            }
            Ok(store)
        }
        Step::Migrate => {
            store.migrate().await.context("migrating the database")?;
            Ok(store)
        }
        Step::PlanAgainstEmpty => {
            eprintln!("note: {} has no schema yet; planning against an empty database", store.redacted_url());
            store.close().await;
            let empty = Store::connect("sqlite::memory:").await.context("opening an empty database")?;
            empty.migrate().await.context("setting up the in-memory database")?;
            Ok(empty)
        }
    }
}

async fn look(store: &Store, cluster: &str) -> Result<Found, StoreError> {
    Ok(Found {
        version: footprint::schema_version(store).await?,
        latest: footprint::latest_version(),
        other: footprint::other_user(store, cluster).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(version: i64, other: Option<&str>) -> Found {
        Found { version, latest: 6, other: other.map(str::to_owned) }
    }

    const URL: &str = "postgres://app:***@db/platform";

    #[test]
    fn plan_never_migrates() {
        for allow in [false, true] {
            for other in [None, Some("accounts owned by cluster k8s-1")] {
                for version in [0, 4, 6, 7] {
                    let step = decide(Mode::Plan, &found(version, other), allow, URL);
                    assert_ne!(step, Ok(Step::Migrate), "{version} {other:?} {allow}");
                }
            }
        }
        assert_eq!(decide(Mode::Plan, &found(6, None), true, URL), Err(Refusal::PlanWithMigrate));
        assert_eq!(decide(Mode::Plan, &found(0, None), false, URL), Ok(Step::PlanAgainstEmpty));
        assert_eq!(decide(Mode::Plan, &found(6, Some("x")), false, URL), Ok(Step::UseAsIs));
        let old = decide(Mode::Plan, &found(4, None), false, URL).unwrap_err();
        assert_eq!(old, Refusal::PlanOnOldSchema { url: URL.into(), at: 4, needs: 6 });
        assert!(old.to_string().contains("plan never migrates") && old.to_string().contains("version 4"), "{old}");
    }

    #[test]
    fn apply_migrates_its_own_database_and_anyone_elses_only_when_asked() {
        assert_eq!(decide(Mode::Apply, &found(0, None), false, URL), Ok(Step::Migrate), "a new database");
        assert_eq!(decide(Mode::Apply, &found(4, None), false, URL), Ok(Step::Migrate), "its own, older");
        assert_eq!(decide(Mode::Apply, &found(6, Some("x")), false, URL), Ok(Step::UseAsIs), "current: used as it is");
        assert_eq!(decide(Mode::Apply, &found(7, Some("x")), true, URL), Ok(Step::UseAsIs), "newer: never downgraded");
        assert_eq!(decide(Mode::Apply, &found(4, Some("x")), true, URL), Ok(Step::Migrate), "--migrate");
        let refused = decide(Mode::Apply, &found(4, Some("accounts owned by cluster k8s-1")), false, URL).unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains("not local mode's own") && text.contains("cluster k8s-1") && text.contains("--migrate"),
            "{text}"
        );
        assert!(text.contains(URL) && !text.contains("app:s3cret"), "{text}");
    }
}
