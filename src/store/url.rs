//! Which database a `--database` URL names, checked before any connection is tried.
//!
//! Accepted forms:
//!
//! | URL | opens |
//! |---|---|
//! | `postgres://user:pass@host:5432/db` (or `postgresql://`) | PostgreSQL |
//! | `sqlite://state.db`, `sqlite:state.db`, `sqlite:///abs/path.db` | a SQLite file, created with its directory if missing |
//! | `sqlite::memory:` | a private in-memory SQLite database (tests) |
//!
//! Anything else is a one-line [`StoreError::BadUrl`]; the password never appears in it
//! (every URL is shown through [`crate::redact::redact`]).
//!
//! PostgreSQL TLS (sqlx with rustls, the system's roots plus `sslrootcert`):
//!
//! | `sslmode` | connection |
//! |---|---|
//! | `disable` (`allow`) | plaintext |
//! | `prefer` (the default) | TLS when the server offers it, else plaintext; no verification |
//! | `require` | TLS or no connection; the certificate is not verified |
//! | `verify-ca` | TLS with a certificate signed by a trusted CA (`sslrootcert` or the system's) |
//! | `verify-full` | as `verify-ca`, and the certificate names the URL's host |
//!
//! `sslrootcert=PATH` (or `PGSSLROOTCERT`, which sqlx reads too, as `PGSSLMODE`) must be a
//! readable file; a missing one is a `BadUrl` here rather than an I/O error at connect time.

use std::path::PathBuf;

use super::error::StoreError;
use crate::redact::redact;

/// The database engine behind a [`Store`](super::Store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub backend: Backend,
    /// The URL handed to sqlx (SQLite files get `mode=rwc` so they are created).
    pub url: String,
    /// The URL as shown in messages.
    pub redacted: String,
    /// `sqlite::memory:`: one private database per pool, so the pool has one connection.
    pub memory: bool,
    /// The SQLite file, to create its directory.
    pub file: Option<PathBuf>,
}

const EXPECTED: &str = "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE, sqlite://PATH or sqlite::memory:";

pub(crate) fn parse(raw: &str) -> Result<Target, StoreError> {
    let url = raw.trim();
    let redacted = redact(url);
    let bad = |reason: String| StoreError::BadUrl { url: redacted.clone(), reason };
    if url.is_empty() {
        return Err(bad(format!("the URL is empty; {EXPECTED}")));
    }
    if url.chars().any(char::is_control) {
        return Err(bad("the URL contains control characters".to_owned()));
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(bad(format!("no scheme; {EXPECTED}")));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => {
            let Some(after) = rest.strip_prefix("//") else {
                return Err(bad(format!("a PostgreSQL URL starts with postgres://; {EXPECTED}")));
            };
            if after.is_empty() || after.starts_with('/') || after.starts_with('?') {
                return Err(bad("no host in the PostgreSQL URL".to_owned()));
            }
            postgres_checks(url).map_err(bad)?;
            // sqlx parses it again; this catches bad ports and escapes with a clear reason.
            url.parse::<sqlx::any::AnyConnectOptions>().map_err(|e| bad(format!("{e}")))?;
            Ok(Target {
                backend: Backend::Postgres,
                url: url.to_owned(),
                redacted: redacted.clone(),
                memory: false,
                file: None,
            })
        }
        "sqlite" => sqlite(url, rest, &redacted).map_err(bad),
        other => Err(bad(format!("unsupported scheme '{other}'; {EXPECTED}"))),
    }
}

/// What sqlx would misread or report late: an unescaped delimiter in the password, an unknown
/// `sslmode`, a CA file that cannot be read.
fn postgres_checks(raw: &str) -> Result<(), String> {
    const ESCAPE: &str =
        "percent-encode '@', ':', '/', '?' and '#' in the user name and password (%40 %3A %2F %3F %23)";
    let url = match url::Url::parse(raw) {
        Ok(url) => url,
        Err(e) if raw.contains('@') => return Err(format!("{e}; {ESCAPE}")),
        Err(e) => return Err(e.to_string()),
    };
    let after_host =
        url.path().contains('@') || url.query().is_some_and(|q| q.contains('@')) || url.fragment().is_some();
    if after_host {
        return Err(format!("an '@' or '#' after the host; {ESCAPE}"));
    }
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let mode = param("sslmode").or_else(|| std::env::var("PGSSLMODE").ok());
    let mode = mode.as_deref().unwrap_or("prefer");
    const MODES: [&str; 6] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
    if !MODES.contains(&mode) {
        return Err(format!("sslmode '{mode}' is none of {}", MODES.join(", ")));
    }
    let root = param("sslrootcert").or_else(|| std::env::var("PGSSLROOTCERT").ok());
    if let Some(root) = root.filter(|r| !r.trim_start().starts_with("-----BEGIN"))
        && !matches!(mode, "disable" | "allow")
        && let Err(e) = std::fs::File::open(&root)
    {
        return Err(format!("sslrootcert {root}: cannot read it: {e}"));
    }
    Ok(())
}

fn sqlite(url: &str, rest: &str, redacted: &str) -> Result<Target, String> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let params: Vec<(&str, &str)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let memory = path == ":memory:" || params.iter().any(|(k, v)| *k == "mode" && *v == "memory");
    if memory {
        return Ok(Target {
            backend: Backend::Sqlite,
            url: url.to_owned(),
            redacted: redacted.to_owned(),
            memory: true,
            file: None,
        });
    }
    if path.is_empty() {
        return Err(format!("no file path in the SQLite URL; {EXPECTED}"));
    }
    let mut url = url.to_owned();
    if !params.iter().any(|(k, _)| *k == "mode") {
        url.push(if query.is_some() { '&' } else { '?' });
        url.push_str("mode=rwc");
    }
    // Percent-escaped paths are left to sqlx; plain ones get their directory created.
    let file = (!path.contains('%')).then(|| PathBuf::from(path));
    Ok(Target { backend: Backend::Sqlite, url, redacted: redacted.to_owned(), memory: false, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> String {
        match parse(url) {
            Err(e @ StoreError::BadUrl { .. }) => e.to_string(),
            other => panic!("expected BadUrl for {url:?}, got {other:?}"),
        }
    }

    #[test]
    fn postgres_urls_are_accepted() {
        let t = parse("postgres://app:pw@db.example:5432/platform").unwrap();
        assert_eq!(t.backend, Backend::Postgres);
        assert_eq!(t.redacted, "postgres://app:***@db.example:5432/platform");
        assert!(parse("postgresql://app@localhost/platform").is_ok());
    }

    #[test]
    fn sqlite_files_are_created_if_missing() {
        let t = parse("sqlite://state/accountops.db").unwrap();
        assert_eq!(t.backend, Backend::Sqlite);
        assert_eq!(t.url, "sqlite://state/accountops.db?mode=rwc");
        assert_eq!(t.file, Some(PathBuf::from("state/accountops.db")));
        let t = parse("sqlite:///tmp/a.db?mode=ro").unwrap();
        assert_eq!(t.url, "sqlite:///tmp/a.db?mode=ro", "an explicit mode is kept");
        assert_eq!(t.file, Some(PathBuf::from("/tmp/a.db")));
        let t = parse("sqlite:a.db").unwrap();
        assert_eq!(t.file, Some(PathBuf::from("a.db")));
    }

    #[test]
    fn sqlite_memory_is_recognized() {
        assert!(parse("sqlite::memory:").unwrap().memory);
        assert!(parse("sqlite://?mode=memory").unwrap().memory);
    }

    #[test]
    fn bad_urls_give_one_line_reasons_without_passwords() {
        for (url, needle) in [
            ("", "empty"),
            ("   ", "empty"),
            ("state.db", "no scheme"),
            ("mysql://root:hunter2@db/x", "unsupported scheme 'mysql'"),
            ("postgres:db", "starts with postgres://"),
            ("postgres://", "no host"),
            ("postgres://u:hunter2@host:notaport/db", "invalid port number"),
            ("postgres://u:hunter#2@host/db", "percent-encode"),
            ("postgres://u:5432/hunter2@host/db", "an '@' or '#' after the host"),
            ("postgres://u:hunter2@host/db?sslmode=verify", "sslmode 'verify' is none of disable"),
            (
                "postgres://u:hunter2@host/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
                "sslrootcert /nonexistent/ca.crt: cannot read it",
            ),
            ("sqlite://", "no file path"),
            ("sqlite:", "no file path"),
        ] {
            let msg = reason(url);
            assert!(msg.contains(needle), "{url:?}: {msg}");
            assert!(!msg.contains('\n'), "{url:?}: {msg}");
            assert!(!msg.contains("hunter2"), "{url:?}: {msg}");
        }
    }
}
