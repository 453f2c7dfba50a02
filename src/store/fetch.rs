//! Running a query whose rows decode into one table's records.
//!
//! Every table module fetches, names the failed operation through its [`Op`] and decodes the
//! same way; these helpers hold that tail once, so a module writes only its SQL and binds.

use jiff::Timestamp;
use sqlx::any::{AnyArguments, AnyRow};

use super::Conn;
use super::error::{Op, StoreError};
use super::ownership::{Owner, owner_binds};
use super::row::Cols;
use super::time;

/// A query on the `Any` driver with its binds.
pub type Query<'q> = sqlx::query::Query<'q, sqlx::Any, AnyArguments>;

/// A table module's row decoder.
pub type Decode<T> = fn(&AnyRow) -> Result<T>;

type Result<T> = std::result::Result<T, StoreError>;

/// The one row `q` must return (an `INSERT … RETURNING`), decoded.
pub async fn one<T>(conn: &mut Conn, q: Query<'_>, op: &Op<'_>, what: &str, decode: Decode<T>) -> Result<T> {
    let row = q.fetch_one(&mut *conn).await.map_err(|e| op.error(what, e))?;
    decode(&row)
}

/// Insert the one row of an owned table: `q` binds every column before the owner's, these are
/// bound last, in the order all such inserts name them: owner cluster, namespace, name, UID,
/// then `now` (as `created_at` and `updated_at`).
pub async fn insert_owned<'q, T>(
    conn: &mut Conn,
    q: Query<'q>,
    owner: Option<&'q Owner>,
    now: Timestamp,
    op: &Op<'_>,
    decode: Decode<T>,
) -> Result<T> {
    let [cluster, namespace, name, uid] = owner_binds(owner);
    let q = q.bind(cluster).bind(namespace).bind(name).bind(uid).bind(time::encode(now));
    one(conn, q, op, "insert", decode).await
}

/// The row `q` returns, if any, decoded.
pub async fn optional<T>(
    conn: &mut Conn,
    q: Query<'_>,
    op: &Op<'_>,
    what: &str,
    decode: Decode<T>,
) -> Result<Option<T>> {
    let row = q.fetch_optional(&mut *conn).await.map_err(|e| op.error(what, e))?;
    row.as_ref().map(decode).transpose()
}

/// The row `q` returns (an `UPDATE … WHERE id = … RETURNING`), decoded; no row is
/// [`StoreError::NotFound`] for `op`.
pub async fn existing<T>(conn: &mut Conn, q: Query<'_>, op: &Op<'_>, what: &str, decode: Decode<T>) -> Result<T> {
    optional(conn, q, op, what, decode).await?.ok_or_else(|| op.not_found())
}

/// Every row `q` returns, decoded, in its order.
pub async fn all<T>(conn: &mut Conn, q: Query<'_>, op: &Op<'_>, what: &str, decode: Decode<T>) -> Result<Vec<T>> {
    let rows = q.fetch_all(&mut *conn).await.map_err(|e| op.error(what, e))?;
    rows.iter().map(decode).collect()
}

/// The `COUNT(*) AS n` that `q` selects.
pub async fn count(conn: &mut Conn, q: Query<'_>, op: &Op<'_>, what: &str) -> Result<i64> {
    let row = q.fetch_one(&mut *conn).await.map_err(|e| op.error(what, e))?;
    Cols::new(&row, op.table).int("n")
}

/// `find` (the row with this ID, if any) and `get` (the row, or [`StoreError::NotFound`]) for
/// a table module with `TABLE`, `columns!()` and `decode`: `by_id!("accounts", Account, "account")`.
macro_rules! by_id {
    ($table:literal, $row:ty, $what:literal) => {
        #[doc = concat!("The ", $what, " with this ID, if any.")]
        pub async fn find(
            conn: &mut $crate::store::Conn,
            id: &str,
        ) -> Result<Option<$row>, $crate::store::error::StoreError> {
            let query = sqlx::query(concat!("SELECT ", columns!(), " FROM ", $table, " WHERE id = $1")).bind(id);
            let op = $crate::store::error::Op::new(TABLE, id);
            $crate::store::fetch::optional(conn, query, &op, "read", decode).await
        }

        #[doc = concat!("The ", $what, " with this ID, or [`StoreError::NotFound`].")]
        pub async fn get(conn: &mut $crate::store::Conn, id: &str) -> Result<$row, $crate::store::error::StoreError> {
            find(conn, id).await?.ok_or_else(|| $crate::store::error::Op::new(TABLE, id).not_found())
        }
    };
}
pub(super) use by_id;

/// `pub async fn $name(conn, id, now)` for a table module with `TABLE`, `columns!()` and
/// `decode`: runs `$sql` (an `UPDATE … WHERE id = $1 … RETURNING columns!()`, `$2` the time)
/// and returns the row, or [`StoreError::NotFound`].
macro_rules! update_at {
    ($(#[$doc:meta])* $name:ident -> $row:ty, $what:literal, $sql:expr) => {
        $(#[$doc])*
        pub async fn $name(
            conn: &mut $crate::store::Conn,
            id: &str,
            now: jiff::Timestamp,
        ) -> Result<$row, $crate::store::error::StoreError> {
            let query = sqlx::query($sql).bind(id).bind($crate::store::time::encode(now));
            let op = $crate::store::error::Op::new(TABLE, id);
            $crate::store::fetch::existing(conn, query, &op, $what, decode).await
        }
    };
}
pub(super) use update_at;

/// `archive` for a table module with `TABLE`, `columns!()` and `decode` whose rows are retired
/// by `archived_at` alone: `archivable!("assets", Asset, "asset")`.
macro_rules! archivable {
    ($table:literal, $row:ty, $what:literal) => {
        $crate::store::fetch::update_at!(
            #[doc = concat!("Archive ", $what, " `id`. Idempotent: the first `archived_at` stays.")]
            archive -> $row,
            "archive",
            concat!(
                "UPDATE ",
                $table,
                " SET archived_at = COALESCE(archived_at, $2), \
                 updated_at = CASE WHEN archived_at IS NULL THEN $2 ELSE updated_at END \
                 WHERE id = $1 RETURNING ",
                columns!()
            )
        );
    };
}
pub(super) use archivable;
