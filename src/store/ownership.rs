//! Which Kubernetes object owns a managed row, and taking rows over safely.
//!
//! Managed tables (accounts, organizations, memberships, tenant_links, provisioning_syncs)
//! carry `owner_cluster`, `owner_namespace`, `owner_name` and `owner_uid`:
//!
//! * all four set: the row is owned by that object (a live owner);
//! * `owner_uid` NULL, the others set: the owner let go of it (deletionPolicy Orphan, or
//!   archived); the names stay as a record of who managed it last;
//! * all NULL: an imported or hand-made platform row nobody manages.
//!
//! At most one row per table has a given live owner (unique indexes on `owner_uid` and on
//! `(owner_cluster, owner_namespace, owner_name)` where `owner_uid IS NOT NULL`).
//!
//! [`adopt`] never silently takes a row from another live owner: that is
//! [`StoreError::OwnedElsewhere`]. The same cluster/namespace/name with a new UID (the object
//! was re-created, or the cluster restored from a backup) re-adopts the row instead of making
//! a duplicate.

use jiff::Timestamp;
use sqlx::AssertSqlSafe;

use super::Conn;
use super::error::{Op, StoreError};
use super::row::Cols;
use super::time;

/// The Kubernetes object claiming a row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The operator's cluster identity (configuration; stable across restarts).
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    /// `metadata.uid` of the object.
    pub uid: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{} (uid {})", self.cluster, self.namespace, self.name, self.uid)
    }
}

/// The owner columns of a row as stored; `uid` is `None` once the owner let go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredOwner {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

impl StoredOwner {
    /// Whether an object still owns the row.
    pub fn is_live(&self) -> bool {
        self.uid.is_some()
    }

    /// Same cluster, namespace and name as `owner` (the UID may differ).
    pub fn same_object_name(&self, owner: &Owner) -> bool {
        self.cluster == owner.cluster && self.namespace == owner.namespace && self.name == owner.name
    }
}

impl std::fmt::Display for StoredOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.cluster, self.namespace, self.name)?;
        match &self.uid {
            Some(uid) => write!(f, " (uid {uid})"),
            None => write!(f, " (released)"),
        }
    }
}

/// The tables whose rows are owned by Kubernetes objects, one per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManagedTable {
    Accounts,
    Organizations,
    Memberships,
    TenantLinks,
    ProvisioningSyncs,
}

impl ManagedTable {
    pub const ALL: [ManagedTable; 5] = [
        ManagedTable::Accounts,
        ManagedTable::Organizations,
        ManagedTable::Memberships,
        ManagedTable::TenantLinks,
        ManagedTable::ProvisioningSyncs,
    ];

    pub fn table(self) -> &'static str {
        match self {
            ManagedTable::Accounts => "accounts",
            ManagedTable::Organizations => "organizations",
            ManagedTable::Memberships => "memberships",
            ManagedTable::TenantLinks => "tenant_links",
            ManagedTable::ProvisioningSyncs => "provisioning_syncs",
        }
    }

    /// The resource kind whose objects own rows of this table.
    pub fn kind(self) -> &'static str {
        match self {
            ManagedTable::Accounts => "Account",
            ManagedTable::Organizations => "Organization",
            ManagedTable::Memberships => "Membership",
            ManagedTable::TenantLinks => "TenantLink",
            ManagedTable::ProvisioningSyncs => "ProvisioningSync",
        }
    }

    pub fn from_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.kind() == kind)
    }

    /// Tables with an `orphaned` state go back to `active` when adopted.
    fn has_orphaned_state(self) -> bool {
        matches!(self, ManagedTable::Accounts | ManagedTable::Organizations)
    }
}

/// A row found through its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRow {
    pub id: String,
    pub owner: StoredOwner,
}

/// What [`adopt`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoption {
    /// The object already owned the row.
    Unchanged,
    /// The row had no live owner (imported, orphaned or released) and now has this one.
    Adopted { previous: Option<StoredOwner> },
    /// Same cluster/namespace/name, new UID: the object was re-created.
    ReAdopted { previous_uid: String },
}

const OWNER_COLS: &str = "id, owner_cluster, owner_namespace, owner_name, owner_uid";

fn owned_row(row: &sqlx::any::AnyRow, table: &'static str) -> Result<Option<OwnedRow>, StoreError> {
    let cols = Cols::new(row, table);
    Ok(cols.owner()?.map(|owner| OwnedRow { id: cols.text("id").unwrap_or_default(), owner }))
}

/// The row of `table` live-owned by the object `namespace/name` in `cluster`.
pub async fn find_by_owner(
    conn: &mut Conn,
    table: ManagedTable,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<OwnedRow>, StoreError> {
    let t = table.table();
    let sql = format!(
        "SELECT {OWNER_COLS} FROM {t} WHERE owner_cluster = $1 AND owner_namespace = $2 \
         AND owner_name = $3 AND owner_uid IS NOT NULL"
    );
    let key = format!("{cluster}/{namespace}/{name}");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(cluster)
        .bind(namespace)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| Op::new(t, &key).error("find by owner", e))?;
    match row {
        Some(row) => owned_row(&row, t),
        None => Ok(None),
    }
}

/// The row of `table` owned by the object with this UID.
pub async fn find_by_uid(conn: &mut Conn, table: ManagedTable, uid: &str) -> Result<Option<OwnedRow>, StoreError> {
    let t = table.table();
    let sql = format!("SELECT {OWNER_COLS} FROM {t} WHERE owner_uid = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(uid)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| Op::new(t, uid).error("find by owner uid", e))?;
    match row {
        Some(row) => owned_row(&row, t),
        None => Ok(None),
    }
}

/// Every row of `table` live-owned by objects of `cluster` (for resync and clean-up).
pub async fn list_owned(conn: &mut Conn, table: ManagedTable, cluster: &str) -> Result<Vec<OwnedRow>, StoreError> {
    let t = table.table();
    let sql = format!(
        "SELECT {OWNER_COLS} FROM {t} WHERE owner_cluster = $1 AND owner_uid IS NOT NULL \
         ORDER BY owner_namespace, owner_name"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(cluster)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Op::new(t, cluster).error("list owned rows", e))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.extend(owned_row(row, t)?);
    }
    Ok(out)
}

/// The owner columns of row `id` (`None`: nobody ever owned it).
pub async fn owner_of(conn: &mut Conn, table: ManagedTable, id: &str) -> Result<Option<StoredOwner>, StoreError> {
    let t = table.table();
    let op = Op::new(t, id);
    let sql = format!("SELECT {OWNER_COLS} FROM {t} WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| op.error("read owner of", e))?
        .ok_or_else(|| op.not_found())?;
    Cols::new(&row, t).owner()
}

/// Make `owner` the owner of row `id`: see the module documentation for the rules.
pub async fn adopt(
    conn: &mut Conn,
    table: ManagedTable,
    id: &str,
    owner: &Owner,
    now: Timestamp,
) -> Result<Adoption, StoreError> {
    let t = table.table();
    let op = Op::new(t, id);
    let current = owner_of(conn, table, id).await?;
    let outcome = match &current {
        Some(cur) if cur.is_live() && !cur.same_object_name(owner) => {
            return Err(owned_elsewhere(t, id, cur, owner));
        }
        Some(cur) if cur.uid.as_deref() == Some(owner.uid.as_str()) => {
            return Ok(Adoption::Unchanged);
        }
        Some(StoredOwner { uid: Some(prev), .. }) => Adoption::ReAdopted { previous_uid: prev.clone() },
        _ => Adoption::Adopted { previous: current.clone() },
    };
    let state = if table.has_orphaned_state() {
        ", state = CASE WHEN state = 'orphaned' THEN 'active' ELSE state END"
    } else {
        ""
    };
    // The guard repeats the decision so a concurrent adopter cannot be overwritten.
    let sql = format!(
        "UPDATE {t} SET owner_cluster = $2, owner_namespace = $3, owner_name = $4, \
         owner_uid = $5, updated_at = $6{state} WHERE id = $1 AND (owner_uid IS NULL OR \
         (owner_cluster = $2 AND owner_namespace = $3 AND owner_name = $4))"
    );
    let names = format!("{}/{}/{}", owner.cluster, owner.namespace, owner.name);
    let keys = [("owner_uid", owner.uid.as_str()), (OWNER_NAMES, names.as_str())];
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(&owner.cluster)
        .bind(&owner.namespace)
        .bind(&owner.name)
        .bind(&owner.uid)
        .bind(time::encode(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| op.keys(&keys).error("adopt", e))?;
    if done.rows_affected() == 0 {
        // Someone else took it between the read and the write.
        return match owner_of(conn, table, id).await? {
            Some(cur) => Err(owned_elsewhere(t, id, &cur, owner)),
            None => Err(op.not_found()),
        };
    }
    Ok(outcome)
}

/// Let go of row `id`: clear `owner_uid`, keep the names as a record. Idempotent.
pub async fn release(conn: &mut Conn, table: ManagedTable, id: &str, now: Timestamp) -> Result<(), StoreError> {
    let t = table.table();
    let op = Op::new(t, id);
    let sql = format!(
        "UPDATE {t} SET owner_uid = NULL, updated_at = CASE WHEN owner_uid IS NULL \
         THEN updated_at ELSE $2 END WHERE id = $1"
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(time::encode(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| op.error("release", e))?;
    if done.rows_affected() == 0 {
        return Err(op.not_found());
    }
    Ok(())
}

fn owned_elsewhere(table: &'static str, id: &str, cur: &StoredOwner, claimant: &Owner) -> StoreError {
    StoreError::OwnedElsewhere { table, id: id.to_owned(), owner: cur.to_string(), claimant: claimant.to_string() }
}

/// `columns!()` (what a table module's statements select) for an owned table: its own
/// columns, then the owner's four and the two timestamps, which every owned table ends with.
macro_rules! owned_columns {
    ($own:literal) => {
        macro_rules! columns {
            () => {
                concat!($own, ", owner_cluster, owner_namespace, owner_name, owner_uid, created_at, updated_at")
            };
        }
    };
}
pub(super) use owned_columns;

/// The unique key of a live owner's names, as the database names its columns.
pub(crate) const OWNER_NAMES: &str = "owner_cluster, owner_namespace, owner_name";

/// A row about to be inserted into an owned table: its new ID, and what errors name it by.
/// Errors name it by the object that owns it, not by the ID made for this attempt, so a
/// failure that repeats says the same thing each time (a status message that changed on every
/// attempt would trigger the next one at once).
pub(crate) struct NewOwned<'o> {
    table: &'static str,
    pub id: String,
    /// The owner's UID and `cluster/namespace/name`, for unique-violation messages.
    uid: &'o str,
    names: String,
    shown: String,
}

impl<'o> NewOwned<'o> {
    /// A new `prefix-…` ID for a row of `table` that `owner` will own.
    pub fn new(table: &'static str, prefix: &str, owner: Option<&'o Owner>) -> Self {
        let (uid, names, shown) = match owner {
            Some(o) => (
                o.uid.as_str(),
                format!("{}/{}/{}", o.cluster, o.namespace, o.name),
                format!("(new, for {}/{})", o.namespace, o.name),
            ),
            None => ("", String::new(), "(new)".to_owned()),
        };
        NewOwned { table, id: super::new_id(prefix), uid, names, shown }
    }

    /// The row's unique keys: its ID, the table's own `more`, and the owner's.
    pub fn keys<'a>(&'a self, more: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
        let mut keys = vec![("id", self.id.as_str())];
        keys.extend_from_slice(more);
        keys.extend([("owner_uid", self.uid), (OWNER_NAMES, self.names.as_str())]);
        keys
    }

    /// What the insert names a failure with: these `keys` (from [`NewOwned::keys`]) and `refs`.
    pub fn op<'a>(&'a self, keys: &'a [(&'static str, &'a str)], refs: &'a [(&'static str, &'a str)]) -> Op<'a> {
        Op::new(self.table, &self.shown).keys(keys).refs(refs)
    }
}

/// Bind values for the four owner columns of an insert.
pub(crate) fn owner_binds(owner: Option<&Owner>) -> [Option<&str>; 4] {
    match owner {
        Some(o) => [Some(o.cluster.as_str()), Some(o.namespace.as_str()), Some(o.name.as_str()), Some(o.uid.as_str())],
        None => [None; 4],
    }
}
