//! Reading typed values out of `AnyRow`s, the same way on both backends.
//!
//! The `Any` driver hands back what each engine stores: PostgreSQL `BOOLEAN` arrives as a
//! bool, SQLite's `INTEGER` 0/1 as an integer, so [`Cols::flag`] accepts both. Lists are JSON
//! arrays of strings in TEXT columns; enumerations are lower-case snake-case TEXT.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::error::StoreError;
use super::ownership::StoredOwner;
use super::time;

/// A value stored as one of a fixed set of lower-case strings.
pub trait DbEnum: Sized + Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The stored text.
    fn as_str(self) -> &'static str;
    /// The value for stored text.
    fn from_db(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == text)
    }
}

/// Declare an enum stored as text: `db_enum! { pub enum Phase { Active = "active", .. } }`.
macro_rules! db_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $crate::store::row::DbEnum for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl $name {
            /// The stored text.
            pub fn as_str(self) -> &'static str {
                <Self as $crate::store::row::DbEnum>::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use db_enum;

/// A JSON array of strings, as stored in list columns.
pub(crate) fn list_text<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::from(items.iter().map(|s| s.as_ref().to_owned()).collect::<Vec<String>>()).to_string()
}

/// A JSON array of enumeration values.
pub(crate) fn enum_list_text<E: DbEnum>(items: &[E]) -> String {
    list_text(&items.iter().map(|e| e.as_str()).collect::<Vec<_>>())
}

/// Column reader for one row of one table; failures name the table, row and column.
pub(crate) struct Cols<'r> {
    row: &'r AnyRow,
    table: &'static str,
    id: String,
}

impl<'r> Cols<'r> {
    pub fn new(row: &'r AnyRow, table: &'static str) -> Self {
        let id = row.try_get::<String, _>("id").unwrap_or_else(|_| "?".to_owned());
        Cols { row, table, id }
    }

    fn fail(&self, column: &'static str, reason: impl Into<String>) -> StoreError {
        StoreError::Decode { table: self.table, id: self.id.clone(), column, reason: reason.into() }
    }

    pub fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError> {
        self.row.try_get::<Option<String>, _>(col).map_err(|e| self.fail(col, format!("is not text: {e}")))
    }

    pub fn text(&self, col: &'static str) -> Result<String, StoreError> {
        self.opt_text(col)?.ok_or_else(|| self.fail(col, "is NULL"))
    }

    pub fn int(&self, col: &'static str) -> Result<i64, StoreError> {
        self.row.try_get::<i64, _>(col).map_err(|e| self.fail(col, format!("is not an integer: {e}")))
    }

    /// PostgreSQL BOOLEAN or SQLite INTEGER 0/1.
    pub fn flag(&self, col: &'static str) -> Result<bool, StoreError> {
        if let Ok(b) = self.row.try_get::<bool, _>(col) {
            return Ok(b);
        }
        match self.row.try_get::<i64, _>(col) {
            Ok(0) => Ok(false),
            Ok(1) => Ok(true),
            Ok(n) => Err(self.fail(col, format!("holds {n}, not a boolean"))),
            Err(e) => Err(self.fail(col, format!("is not a boolean: {e}"))),
        }
    }

    pub fn opt_ts(&self, col: &'static str) -> Result<Option<Timestamp>, StoreError> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(text) => time::decode(&text).map(Some).map_err(|r| self.fail(col, r)),
        }
    }

    pub fn ts(&self, col: &'static str) -> Result<Timestamp, StoreError> {
        self.opt_ts(col)?.ok_or_else(|| self.fail(col, "is NULL"))
    }

    pub fn list(&self, col: &'static str) -> Result<Vec<String>, StoreError> {
        let text = self.text(col)?;
        serde_json::from_str(&text).map_err(|e| self.fail(col, format!("is not a JSON list of strings ({e})")))
    }

    pub fn enum_list<E: DbEnum>(&self, col: &'static str) -> Result<Vec<E>, StoreError> {
        self.list(col)?
            .iter()
            .map(|s| E::from_db(s).ok_or_else(|| self.fail(col, format!("holds unknown value {s:?}"))))
            .collect()
    }

    pub fn parse<E: DbEnum>(&self, col: &'static str) -> Result<E, StoreError> {
        let text = self.text(col)?;
        E::from_db(&text).ok_or_else(|| self.fail(col, format!("holds unknown value {text:?}")))
    }

    pub fn opt_parse<E: DbEnum>(&self, col: &'static str) -> Result<Option<E>, StoreError> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(text) => {
                E::from_db(&text).map(Some).ok_or_else(|| self.fail(col, format!("holds unknown value {text:?}")))
            }
        }
    }

    /// The four owner columns of a managed table.
    pub fn owner(&self) -> Result<Option<StoredOwner>, StoreError> {
        let cluster = self.opt_text("owner_cluster")?;
        let namespace = self.opt_text("owner_namespace")?;
        let name = self.opt_text("owner_name")?;
        let uid = self.opt_text("owner_uid")?;
        match (cluster, namespace, name) {
            (Some(cluster), Some(namespace), Some(name)) => Ok(Some(StoredOwner { cluster, namespace, name, uid })),
            (None, None, None) if uid.is_none() => Ok(None),
            _ => Err(self.fail("owner_name", "owner columns are only partly set")),
        }
    }
}
