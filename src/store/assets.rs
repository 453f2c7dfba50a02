//! `assets`: what executing an order of a provisioning sync created, exactly once.
//!
//! `(sync_id, order_name)` is unique, so an order executed twice (a retried reconcile, two
//! replicas) cannot create a second asset or a second welcome mail: the insert fails with
//! [`StoreError::UniqueViolation`] and the transaction that would have queued the mail rolls
//! back with it.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch::{self, archivable, by_id};
use super::row::{Cols, db_enum};
use super::time;

pub const TABLE: &str = "assets";

db_enum! {
    /// How the order is invoiced.
    pub enum InvoiceChoice {
        Immediately = "immediately",
        NextInvoice = "next_invoice",
        DoNotInvoice = "do_not_invoice",
    }
}

/// An asset to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAsset {
    pub sync_id: String,
    pub order_name: String,
    pub product: String,
    /// At least 1.
    pub quantity: i64,
    /// Where the welcome mail goes.
    pub notification_email: String,
    pub invoice: InvoiceChoice,
    /// Language of the welcome mail.
    pub locale: String,
    /// Lower-case hex SHA-256 of the activation code sent in the welcome mail.
    pub activation_code_hash: Option<String>,
    /// Until when the activation code can be redeemed.
    pub activation_expires_at: Option<Timestamp>,
}

/// A row of `assets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: String,
    pub sync_id: String,
    pub order_name: String,
    pub product: String,
    pub quantity: i64,
    pub notification_email: String,
    pub invoice: InvoiceChoice,
    pub locale: String,
    pub activation_code_hash: Option<String>,
    /// Until when the code can be redeemed (`None`: executed before codes expired).
    pub activation_expires_at: Option<Timestamp>,
    /// When the code was redeemed (by the portal or `accountops asset activate`).
    pub activated_at: Option<Timestamp>,
    /// The asset's ID in the external system, once known.
    pub external_id: Option<String>,
    /// The outbox `message_id` of the welcome mail.
    pub welcome_message_id: Option<String>,
    pub archived_at: Option<Timestamp>,
    /// When the order was executed.
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! columns {
    () => {
        "id, sync_id, order_name, product, quantity, notification_email, invoice, locale, \
         activation_code_hash, activation_expires_at, activated_at, external_id, \
         welcome_message_id, archived_at, created_at, updated_at"
    };
}

/// The portal's redeeming statement (docs/database.md, "Activating an asset"): `$1` the code's
/// hash, `$2` now.
macro_rules! redeem {
    () => {
        "UPDATE assets SET activated_at = $2, updated_at = $2 \
         WHERE activation_code_hash = $1 AND activated_at IS NULL AND archived_at IS NULL \
         AND (activation_expires_at IS NULL OR activation_expires_at > $2)"
    };
}

fn decode(row: &AnyRow) -> Result<Asset, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(Asset {
        id: c.text("id")?,
        sync_id: c.text("sync_id")?,
        order_name: c.text("order_name")?,
        product: c.text("product")?,
        quantity: c.int("quantity")?,
        notification_email: c.text("notification_email")?,
        invoice: c.parse("invoice")?,
        locale: c.text("locale")?,
        activation_code_hash: c.opt_text("activation_code_hash")?,
        activation_expires_at: c.opt_ts("activation_expires_at")?,
        activated_at: c.opt_ts("activated_at")?,
        external_id: c.opt_text("external_id")?,
        welcome_message_id: c.opt_text("welcome_message_id")?,
        archived_at: c.opt_ts("archived_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// What [`activate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivateOutcome {
    /// Activated now.
    Activated(Asset),
    /// Activated before (a code works once).
    AlreadyActivated(Asset),
    /// The code expired unused.
    Expired(Asset),
    /// The asset was archived (its sync deleted) before the code was used.
    Archived(Asset),
    /// No asset has this code.
    UnknownCode,
}

/// Redeem the activation code with hash `code_hash` at `now`: one conditional update, so a
/// code works once even when two redeem it at the same moment.
pub async fn activate(conn: &mut Conn, code_hash: &str, now: Timestamp) -> Result<ActivateOutcome, StoreError> {
    let op = Op::new(TABLE, "(by activation code)");
    let redeem = sqlx::query(concat!(redeem!(), " RETURNING ", columns!())).bind(code_hash).bind(time::encode(now));
    if let Some(asset) = fetch::optional(conn, redeem, &op, "activate", decode).await? {
        return Ok(ActivateOutcome::Activated(asset));
    }
    let read =
        sqlx::query(concat!("SELECT ", columns!(), " FROM assets WHERE activation_code_hash = $1")).bind(code_hash);
    let Some(asset) = fetch::optional(conn, read, &op, "read", decode).await? else {
        return Ok(ActivateOutcome::UnknownCode);
    };
    Ok(if asset.activated_at.is_some() {
        ActivateOutcome::AlreadyActivated(asset)
    } else if asset.archived_at.is_some() {
        ActivateOutcome::Archived(asset)
    } else {
        ActivateOutcome::Expired(asset)
    })
}

/// Record an executed order as an asset with a generated `asset-` ID.
pub async fn insert(conn: &mut Conn, new: &NewAsset, now: Timestamp) -> Result<Asset, StoreError> {
    let id = super::new_id("asset");
    let order_key = format!("{}, {}", new.sync_id, new.order_name);
    let keys = [("id", id.as_str()), ("sync_id, order_name", order_key.as_str())];
    let refs = [("sync_id", new.sync_id.as_str())];
    let op = Op::new(TABLE, &id).keys(&keys).refs(&refs);
    let query = sqlx::query(concat!(
        "INSERT INTO assets (id, sync_id, order_name, product, quantity, notification_email, \
         invoice, locale, activation_code_hash, activation_expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(&new.sync_id)
    .bind(&new.order_name)
    .bind(&new.product)
    .bind(new.quantity)
    .bind(&new.notification_email)
    .bind(new.invoice.as_str())
    .bind(&new.locale)
    .bind(new.activation_code_hash.as_deref())
    .bind(new.activation_expires_at.map(time::encode))
    .bind(time::encode(now));
    fetch::one(conn, query, &op, "insert", decode).await
}

by_id!("assets", Asset, "asset");

/// The asset an order of a sync created, if it was executed.
pub async fn find_by_order(conn: &mut Conn, sync_id: &str, order_name: &str) -> Result<Option<Asset>, StoreError> {
    let query = sqlx::query(concat!("SELECT ", columns!(), " FROM assets WHERE sync_id = $1 AND order_name = $2"))
        .bind(sync_id)
        .bind(order_name);
    fetch::optional(conn, query, &Op::new(TABLE, order_name), "read by order", decode).await
}

/// Every asset of a sync (archived too), in execution order.
pub async fn list_by_sync(conn: &mut Conn, sync_id: &str) -> Result<Vec<Asset>, StoreError> {
    let query = sqlx::query(concat!("SELECT ", columns!(), " FROM assets WHERE sync_id = $1 ORDER BY created_at, id"))
        .bind(sync_id);
    fetch::all(conn, query, &Op::new(TABLE, sync_id), "list by sync", decode).await
}

/// Record the external ID and/or welcome mail of asset `id` (`None` keeps the stored value).
pub async fn record_delivery(
    conn: &mut Conn,
    id: &str,
    external_id: Option<&str>,
    welcome_message_id: Option<&str>,
    now: Timestamp,
) -> Result<Asset, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE assets SET external_id = COALESCE($2, external_id), \
         welcome_message_id = COALESCE($3, welcome_message_id), updated_at = $4 \
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(external_id)
    .bind(welcome_message_id)
    .bind(time::encode(now));
    fetch::existing(conn, query, &op, "record delivery of", decode).await
}

archivable!("assets", Asset, "asset");

#[cfg(test)]
mod tests {
    /// docs/database.md gives the portal this very statement (named parameters for `$n`).
    #[test]
    fn the_documented_activation_is_the_one_run() {
        use crate::store::tests::{documented_sql, squashed};
        let documented = documented_sql("## Activating an asset").replace(":hash", "$1").replace(":now", "$2");
        assert_eq!(documented.trim_end_matches(';'), squashed(redeem!()));
    }
}
