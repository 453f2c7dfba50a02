//! Typed store errors that say which row and why.
//!
//! Database errors are classified by their SQLSTATE (PostgreSQL `23505`, `23503`, `23514`,
//! `23502`) or extended result code (SQLite `2067`/`1555`, `787`, `275`, `1299`); sqlx exposes
//! both as [`sqlx::error::ErrorKind`]. The statement that failed knows its table, the row ID it
//! was writing and the values of its unique keys, so the message names all three on both
//! backends, even though SQLite's own messages carry no values.

use sqlx::error::{DatabaseError, ErrorKind};

/// Every way a store operation fails. One line each; no secrets (URLs are redacted).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--database` URL is not one the store can open.
    #[error("invalid database URL '{url}': {reason}")]
    BadUrl { url: String, reason: String },

    /// The server (or file) could not be reached or refused the login.
    #[error("cannot connect to database {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    /// An embedded migration could not be applied.
    #[error("database migration failed on {url}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A unique key is already used by another row.
    #[error("{table} {id}: {key} '{value}' is already taken by another row")]
    UniqueViolation { table: &'static str, id: String, key: String, value: String },

    /// The row refers to a row that does not exist.
    #[error("{table} {id}: refers to a missing row ({reference})")]
    ForeignKey { table: &'static str, id: String, reference: String },

    /// A CHECK constraint (state values, formats, exactly-one-of rules) rejected the row.
    #[error("{table} {id}: violates constraint {constraint}")]
    Check { table: &'static str, id: String, constraint: String },

    /// A required column was NULL.
    #[error("{table} {id}: column {column} must not be null")]
    NotNull { table: &'static str, id: String, column: String },

    /// No row has this ID (or key).
    #[error("{table} {id} not found")]
    NotFound { table: &'static str, id: String },

    /// The row belongs to another Kubernetes object; the store never takes it over silently.
    #[error("{table} {id} is owned by {owner}, not by {claimant}")]
    OwnedElsewhere { table: &'static str, id: String, owner: String, claimant: String },

    /// The input cannot be stored as given (checked before the database sees it).
    #[error("{table} {id}: {reason}")]
    Invalid { table: &'static str, id: String, reason: String },

    /// A stored value does not have the documented shape (someone wrote it by hand?).
    #[error("{table} {id}: column {column} {reason}")]
    Decode { table: &'static str, id: String, column: &'static str, reason: String },

    /// This replica may not write now: it is not (or may no longer be) the leader.
    #[error("{0}")]
    Fenced(super::fence::Fenced),

    /// Any other database failure, with what the store was doing.
    #[error("{what} failed")]
    Query {
        what: String,
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    /// A short, stable label for metrics and Events.
    pub fn category(&self) -> &'static str {
        match self {
            StoreError::BadUrl { .. } => "bad_url",
            StoreError::Connect { .. } => "connect",
            StoreError::Migrate { .. } => "migrate",
            StoreError::UniqueViolation { .. } => "unique_violation",
            StoreError::ForeignKey { .. } => "foreign_key",
            StoreError::Check { .. } => "check_violation",
            StoreError::NotNull { .. } => "not_null",
            StoreError::NotFound { .. } => "not_found",
            StoreError::OwnedElsewhere { .. } => "owned_elsewhere",
            StoreError::Invalid { .. } => "invalid",
            StoreError::Decode { .. } => "decode",
            StoreError::Fenced(_) => "fenced",
            StoreError::Query { .. } => "query",
        }
    }

    /// The message with its causes, `a: b: c`, for logs (a failed TLS handshake says why only
    /// in a cause).
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }

    /// True when retrying later may succeed (database down, busy, serialization failure);
    /// false when the input or the stored data must change first.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect { .. } | StoreError::Fenced(_) => true,
            StoreError::Query { source, .. } => transient_sqlx(source),
            StoreError::Migrate { source: sqlx::migrate::MigrateError::Execute(e), .. } => transient_sqlx(e),
            _ => false,
        }
    }
}

fn transient_sqlx(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            // PostgreSQL: serialization failure, deadlock, admin shutdown, cannot connect now.
            Some("40001" | "40P01" | "57P01" | "57P03")
            // SQLite: SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
            | Some("5" | "6" | "261" | "262" | "517" | "773")
        ),
        _ => false,
    }
}

/// What a statement was doing, so a failure can name the row and the key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op<'a> {
    pub table: &'static str,
    /// The ID of the row being written (or the lookup key for reads).
    pub id: &'a str,
    /// Unique keys of the row as `(columns, value)`, columns as the database names them
    /// (`"email_normalized"`, `"user_id, organization_id"`).
    pub keys: &'a [(&'static str, &'a str)],
    /// Foreign keys of the row as `(column, value)`.
    pub refs: &'a [(&'static str, &'a str)],
}

impl<'a> Op<'a> {
    pub fn new(table: &'static str, id: &'a str) -> Self {
        Op { table, id, keys: &[], refs: &[] }
    }

    pub fn keys(mut self, keys: &'a [(&'static str, &'a str)]) -> Self {
        self.keys = keys;
        self
    }

    pub fn refs(mut self, refs: &'a [(&'static str, &'a str)]) -> Self {
        self.refs = refs;
        self
    }

    pub fn not_found(&self) -> StoreError {
        StoreError::NotFound { table: self.table, id: self.id.to_owned() }
    }

    pub fn invalid(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Invalid { table: self.table, id: self.id.to_owned(), reason: reason.into() }
    }

    /// Classify a failed statement; `what` names the action ("insert", "archive").
    pub fn error(&self, what: &str, err: sqlx::Error) -> StoreError {
        let sqlx::Error::Database(db) = &err else {
            return self.query(what, err);
        };
        let id = self.id.to_owned();
        let table = self.table;
        match db.kind() {
            ErrorKind::UniqueViolation => {
                let (key, detail_value) = unique_key(db.as_ref());
                let value = self
                    .keys
                    .iter()
                    .find(|(cols, _)| *cols == key)
                    .map(|(_, v)| (*v).to_owned())
                    .or(detail_value)
                    .unwrap_or_else(|| if key == "id" { id.clone() } else { String::new() });
                StoreError::UniqueViolation { table, id, key, value }
            }
            ErrorKind::ForeignKeyViolation => {
                StoreError::ForeignKey { table, id, reference: self.reference(db.as_ref()) }
            }
            ErrorKind::CheckViolation => StoreError::Check { table, id, constraint: constraint_name(db.as_ref()) },
            ErrorKind::NotNullViolation => StoreError::NotNull { table, id, column: not_null_column(db.as_ref()) },
            _ => self.query(what, err),
        }
    }

    fn query(&self, what: &str, source: sqlx::Error) -> StoreError {
        StoreError::Query { what: format!("{what} {} {}", self.table, self.id), source }
    }

    /// PostgreSQL names the missing key in its detail; SQLite says only "FOREIGN KEY
    /// constraint failed", so list the references the row carries.
    fn reference(&self, db: &dyn DatabaseError) -> String {
        if let Some(detail) = pg_detail(db) {
            // Key (account_id)=(acct-1) is not present in table "accounts".
            if let Some((cols, vals)) = key_detail(detail) {
                let table = detail.split("table \"").nth(1).and_then(|t| t.split('"').next()).unwrap_or("?");
                return format!("{cols}={vals} not in {table}");
            }
        }
        let refs: Vec<String> = self.refs.iter().map(|(c, v)| format!("{c}={v}")).collect();
        match refs.len() {
            0 => "a referenced row does not exist".to_owned(),
            1 => format!("{} does not exist", refs[0]),
            _ => format!("one of {} does not exist", refs.join(", ")),
        }
    }
}

fn pg_detail(db: &dyn DatabaseError) -> Option<&str> {
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().and_then(|pg| pg.detail())
}

/// `Key (a, b)=(x, y) already exists.` → `("a, b", "x, y")`.
fn key_detail(detail: &str) -> Option<(&str, &str)> {
    let rest = detail.strip_prefix("Key (")?;
    let (cols, rest) = rest.split_once(")=(")?;
    let end = rest.rfind(')')?;
    Some((cols, &rest[..end]))
}

/// The columns of the violated unique key (and, on PostgreSQL, their values).
fn unique_key(db: &dyn DatabaseError) -> (String, Option<String>) {
    if let Some((cols, vals)) = pg_detail(db).and_then(key_detail) {
        return (cols.to_owned(), Some(vals.to_owned()));
    }
    // SQLite: "UNIQUE constraint failed: memberships.user_id, memberships.organization_id"
    (sqlite_columns(db.message()), None)
}

fn sqlite_columns(message: &str) -> String {
    let Some((_, list)) = message.split_once("failed: ") else {
        return message.to_owned();
    };
    list.split(", ").map(|c| c.rsplit_once('.').map_or(c, |(_, col)| col)).collect::<Vec<_>>().join(", ")
}

fn constraint_name(db: &dyn DatabaseError) -> String {
    if let Some(name) = db.constraint() {
        return name.to_owned();
    }
    // SQLite: "CHECK constraint failed: accounts_state"
    let msg = db.message();
    msg.split_once("failed: ").map_or(msg, |(_, name)| name).to_owned()
}

fn not_null_column(db: &dyn DatabaseError) -> String {
    if let Some(col) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().and_then(|pg| pg.column()) {
        return col.to_owned();
    }
    sqlite_columns(db.message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_detail_parses_postgres_detail() {
        assert_eq!(
            key_detail("Key (user_id, organization_id)=(usr-1, org-2) already exists."),
            Some(("user_id, organization_id", "usr-1, org-2"))
        );
        assert_eq!(key_detail("something else"), None);
    }

    #[test]
    fn sqlite_messages_give_column_lists() {
        assert_eq!(
            sqlite_columns("UNIQUE constraint failed: memberships.user_id, memberships.organization_id"),
            "user_id, organization_id"
        );
        assert_eq!(sqlite_columns("NOT NULL constraint failed: accounts.legal_name"), "legal_name");
    }

    #[test]
    fn categories_are_distinct_labels() {
        let e = StoreError::NotFound { table: "accounts", id: "acct-1".into() };
        assert_eq!(e.category(), "not_found");
        assert_eq!(e.to_string(), "accounts acct-1 not found");
        assert!(!e.is_transient());
    }
}
