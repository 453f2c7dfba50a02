//! `accounts`: a legal entity's billing details; groups organizations.

use jiff::Timestamp;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch::{self, by_id};
use super::ownership::{ManagedTable, NewOwned, Owner, StoredOwner, owned_columns};
use super::row::{Cols, db_enum};
use super::time;

pub const TABLE: &str = "accounts";

db_enum! {
    /// Lifecycle of accounts and organizations.
    pub enum LifecycleState {
        /// In use.
        Active = "active",
        /// Closed (deletionPolicy Delete); `archived_at` says when.
        Archived = "archived",
        /// Left in the platform, no longer managed (deletionPolicy Orphan).
        Orphaned = "orphaned",
    }
}

/// Where invoices go. `street` has one to three lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingAddress {
    pub street: Vec<String>,
    pub city: String,
    pub postal_code: String,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, upper case (`PL`).
    pub country: String,
}

/// The business fields of an account: what a spec declares and an update replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDetails {
    pub legal_name: String,
    pub billing_address: BillingAddress,
    pub tax_id: Option<String>,
    pub billing_email: String,
    /// ISO 4217, upper case (`EUR`).
    pub currency: String,
    /// Language tag of invoices (`en`, `pl`).
    pub invoice_language: String,
}

/// An account to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub details: AccountDetails,
    pub owner: Option<Owner>,
}

/// A row of `accounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub details: AccountDetails,
    pub state: LifecycleState,
    pub archived_at: Option<Timestamp>,
    pub owner: Option<StoredOwner>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

owned_columns!(
    "id, legal_name, street_line1, street_line2, street_line3, city, postal_code, region, country, \
     tax_id, billing_email, currency, invoice_language, state, archived_at"
);

fn decode(row: &AnyRow) -> Result<Account, StoreError> {
    let c = Cols::new(row, TABLE);
    let street = [Some(c.text("street_line1")?), c.opt_text("street_line2")?, c.opt_text("street_line3")?]
        .into_iter()
        .flatten()
        .collect();
    Ok(Account {
        id: c.text("id")?,
        details: AccountDetails {
            legal_name: c.text("legal_name")?,
            billing_address: BillingAddress {
                street,
                city: c.text("city")?,
                postal_code: c.text("postal_code")?,
                region: c.opt_text("region")?,
                country: c.text("country")?,
            },
            tax_id: c.opt_text("tax_id")?,
            billing_email: c.text("billing_email")?,
            currency: c.text("currency")?,
            invoice_language: c.text("invoice_language")?,
        },
        state: c.parse("state")?,
        archived_at: c.opt_ts("archived_at")?,
        owner: c.owner()?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

fn street_lines<'a>(op: &Op<'_>, d: &'a AccountDetails) -> Result<[Option<&'a str>; 3], StoreError> {
    let s = &d.billing_address.street;
    if s.is_empty() || s.len() > 3 {
        return Err(op.invalid(format!("a billing address has 1 to 3 street lines, not {}", s.len())));
    }
    Ok([0, 1, 2].map(|i| s.get(i).map(String::as_str)))
}

/// Bind the business fields, in the order insert and update name them (`legal_name` to
/// `invoice_language`, right after the ID).
fn bind_details<'q>(q: fetch::Query<'q>, op: &Op<'_>, d: &'q AccountDetails) -> Result<fetch::Query<'q>, StoreError> {
    let [s1, s2, s3] = street_lines(op, d)?;
    Ok(q.bind(&d.legal_name)
        .bind(s1)
        .bind(s2)
        .bind(s3)
        .bind(&d.billing_address.city)
        .bind(&d.billing_address.postal_code)
        .bind(d.billing_address.region.as_deref())
        .bind(&d.billing_address.country)
        .bind(d.tax_id.as_deref())
        .bind(&d.billing_email)
        .bind(&d.currency)
        .bind(&d.invoice_language))
}

/// Insert a new account with a generated `acct-` ID.
pub async fn insert(conn: &mut Conn, new: &NewAccount, now: Timestamp) -> Result<Account, StoreError> {
    let row = NewOwned::new(TABLE, "acct", new.owner.as_ref());
    let keys = row.keys(&[]);
    let op = row.op(&keys, &[]);
    let query = sqlx::query(concat!(
        "INSERT INTO accounts (id, legal_name, street_line1, street_line2, street_line3, city, \
         postal_code, region, country, tax_id, billing_email, currency, invoice_language, state, \
         owner_cluster, owner_namespace, owner_name, owner_uid, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'active', \
         $14, $15, $16, $17, $18, $18) RETURNING ",
        columns!()
    ))
    .bind(&row.id);
    let query = bind_details(query, &op, &new.details)?;
    fetch::insert_owned(conn, query, new.owner.as_ref(), now, &op, decode).await
}

by_id!("accounts", Account, "account");

/// Every account, oldest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<Account>, StoreError> {
    let query = sqlx::query(concat!("SELECT ", columns!(), " FROM accounts ORDER BY created_at, id"));
    fetch::all(conn, query, &Op::new(TABLE, "*"), "list", decode).await
}

/// Replace the business fields of account `id`.
pub async fn update(
    conn: &mut Conn,
    id: &str,
    details: &AccountDetails,
    now: Timestamp,
) -> Result<Account, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE accounts SET legal_name = $2, street_line1 = $3, street_line2 = $4, \
         street_line3 = $5, city = $6, postal_code = $7, region = $8, country = $9, tax_id = $10, \
         billing_email = $11, currency = $12, invoice_language = $13, updated_at = $14 \
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id);
    let query = bind_details(query, &op, details)?.bind(time::encode(now));
    fetch::existing(conn, query, &op, "update", decode).await
}

lifecycle! {
    table: ManagedTable::Accounts,
    row: Account,
    /// Close account `id` (state `archived`). Idempotent: the first `archived_at` stays.
    archive;
    /// Bring an archived or orphaned account back to `active`.
    reactivate;
    /// Leave account `id` in the platform unmanaged: state `orphaned` (unless archived) and the
    /// owner released.
    orphan;
}

/// `archive`, `reactivate` and `orphan` for the module of a [`ManagedTable`] with `get`: each
/// moves the row through [`set_lifecycle`] (orphaning also releases the owner) and returns it.
macro_rules! lifecycle {
    (
        table: $table:expr, row: $row:ty,
        $(#[$archive_doc:meta])* archive;
        $(#[$reactivate_doc:meta])* reactivate;
        $(#[$orphan_doc:meta])* orphan;
    ) => {
        $(#[$archive_doc])*
        pub async fn archive(conn: &mut Conn, id: &str, now: Timestamp) -> Result<$row, StoreError> {
            $crate::store::accounts::set_lifecycle(conn, $table, id, LifecycleState::Archived, now).await?;
            get(conn, id).await
        }

        $(#[$reactivate_doc])*
        pub async fn reactivate(conn: &mut Conn, id: &str, now: Timestamp) -> Result<$row, StoreError> {
            $crate::store::accounts::set_lifecycle(conn, $table, id, LifecycleState::Active, now).await?;
            get(conn, id).await
        }

        $(#[$orphan_doc])*
        pub async fn orphan(conn: &mut Conn, id: &str, now: Timestamp) -> Result<$row, StoreError> {
            $crate::store::accounts::set_lifecycle(conn, $table, id, LifecycleState::Orphaned, now).await?;
            $crate::store::ownership::release(conn, $table, id, now).await?;
            get(conn, id).await
        }
    };
}
pub(super) use lifecycle;

/// Move an account or organization to `state`. `archived_at` is set on the first archive
/// and cleared on reactivation; orphaning leaves an archived row archived. Idempotent.
pub(crate) async fn set_lifecycle(
    conn: &mut Conn,
    table: ManagedTable,
    id: &str,
    state: LifecycleState,
    now: Timestamp,
) -> Result<(), StoreError> {
    let t = table.table();
    let op = Op::new(t, id);
    let guard = match state {
        LifecycleState::Orphaned => " AND state <> 'archived'",
        _ => "",
    };
    let sql = format!(
        "UPDATE {t} SET state = $2, \
         archived_at = CASE WHEN $2 = 'archived' THEN COALESCE(archived_at, $3) ELSE NULL END, \
         updated_at = CASE WHEN state = $2 THEN updated_at ELSE $3 END \
         WHERE id = $1{guard}"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(state.as_str())
        .bind(time::encode(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| op.error(state.as_str(), e))?;
    Ok(())
}
