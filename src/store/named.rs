//! Rows of an organization that are unique per name and carry one value: roles (their
//! permissions) and groups (their description). One set of statements serves both; `roles`
//! and `groups` give them their names and types.

use jiff::Timestamp;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::row::{Cols, list_text};
use super::time;

/// Which table, ID prefix and value column.
pub(super) struct Catalog {
    pub table: &'static str,
    pub prefix: &'static str,
    pub value: &'static str,
}

/// The value column's type.
pub(super) trait Value: Sized {
    fn decode(cols: &Cols<'_>, col: &'static str) -> Result<Self, StoreError>;
    fn encode(&self) -> Option<String>;
}

/// Permissions: a JSON list of strings.
impl Value for Vec<String> {
    fn decode(cols: &Cols<'_>, col: &'static str) -> Result<Self, StoreError> {
        cols.list(col)
    }
    fn encode(&self) -> Option<String> {
        Some(list_text(self))
    }
}

/// A description: text or NULL.
impl Value for Option<String> {
    fn decode(cols: &Cols<'_>, col: &'static str) -> Result<Self, StoreError> {
        cols.opt_text(col)
    }
    fn encode(&self) -> Option<String> {
        self.clone()
    }
}

/// What [`Catalog::put`] does with a row of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Put {
    /// Insert; a second row of the same name is a [`StoreError::UniqueViolation`].
    Insert,
    /// Make the row exist, live, with the value (reviving an archived one).
    Upsert,
}

/// A row of either table.
pub(super) struct Named<V> {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub value: V,
    pub archived_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Catalog {
    fn columns(&self) -> String {
        format!("id, organization_id, name, {}, archived_at, created_at, updated_at", self.value)
    }

    fn decode<V: Value>(&self, row: &AnyRow) -> Result<Named<V>, StoreError> {
        let c = Cols::new(row, self.table);
        Ok(Named {
            id: c.text("id")?,
            organization_id: c.text("organization_id")?,
            name: c.text("name")?,
            value: V::decode(&c, self.value)?,
            archived_at: c.opt_ts("archived_at")?,
            created_at: c.ts("created_at")?,
            updated_at: c.ts("updated_at")?,
        })
    }

    /// Insert the row `name` with `value` as `put` says; `updated_at` moves only when
    /// something changed.
    pub async fn put<V: Value>(
        &self,
        conn: &mut Conn,
        put: Put,
        organization_id: &str,
        name: &str,
        value: &V,
        now: Timestamp,
    ) -> Result<Named<V>, StoreError> {
        let id = super::new_id(self.prefix);
        let name_key = format!("{organization_id}, {name}");
        let keys = [("id", id.as_str()), ("organization_id, name", name_key.as_str())];
        let refs = [("organization_id", organization_id)];
        let op = Op::new(self.table, name).keys(&keys).refs(&refs);
        let (t, v) = (self.table, self.value);
        let (conflict, what) = match put {
            Put::Insert => (String::new(), "insert"),
            Put::Upsert => (
                format!(
                    " ON CONFLICT (organization_id, name) DO UPDATE SET {v} = excluded.{v}, archived_at = NULL, \
                     updated_at = CASE WHEN {t}.{v} IS NOT DISTINCT FROM excluded.{v} AND {t}.archived_at IS NULL \
                     THEN {t}.updated_at ELSE excluded.updated_at END"
                ),
                "upsert",
            ),
        };
        let sql = format!(
            "INSERT INTO {t} (id, organization_id, name, {v}, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5){conflict} RETURNING {}",
            self.columns()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(&id)
            .bind(organization_id)
            .bind(name)
            .bind(value.encode())
            .bind(time::encode(now))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| op.error(what, e))?;
        self.decode(&row)
    }

    /// The row `name` of an organization (live or archived), if any.
    pub async fn find<V: Value>(
        &self,
        conn: &mut Conn,
        organization_id: &str,
        name: &str,
    ) -> Result<Option<Named<V>>, StoreError> {
        let sql = format!("SELECT {} FROM {} WHERE organization_id = $1 AND name = $2", self.columns(), self.table);
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(organization_id)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| Op::new(self.table, name).error("read", e))?;
        row.as_ref().map(|r| self.decode(r)).transpose()
    }

    /// Every row of an organization (archived ones too), by name.
    pub async fn list<V: Value>(&self, conn: &mut Conn, organization_id: &str) -> Result<Vec<Named<V>>, StoreError> {
        let sql = format!("SELECT {} FROM {} WHERE organization_id = $1 ORDER BY name", self.columns(), self.table);
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(organization_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| Op::new(self.table, organization_id).error("list", e))?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    /// Replace the value of row `id`.
    pub async fn update<V: Value>(
        &self,
        conn: &mut Conn,
        id: &str,
        value: &V,
        now: Timestamp,
    ) -> Result<Named<V>, StoreError> {
        let op = Op::new(self.table, id);
        let sql = format!(
            "UPDATE {} SET {} = $2, updated_at = $3 WHERE id = $1 RETURNING {}",
            self.table,
            self.value,
            self.columns()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(value.encode())
            .bind(time::encode(now))
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| op.error("update", e))?;
        row.as_ref().map(|r| self.decode(r)).transpose()?.ok_or_else(|| op.not_found())
    }

    /// Retire row `id`. Idempotent: the first `archived_at` stays.
    pub async fn archive<V: Value>(&self, conn: &mut Conn, id: &str, now: Timestamp) -> Result<Named<V>, StoreError> {
        let op = Op::new(self.table, id);
        let sql = format!(
            "UPDATE {} SET archived_at = COALESCE(archived_at, $2), \
             updated_at = CASE WHEN archived_at IS NULL THEN $2 ELSE updated_at END \
             WHERE id = $1 RETURNING {}",
            self.table,
            self.columns()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(time::encode(now))
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| op.error("archive", e))?;
        row.as_ref().map(|r| self.decode(r)).transpose()?.ok_or_else(|| op.not_found())
    }
}
