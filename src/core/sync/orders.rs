//! Executing orders: one asset and one welcome mail per (sync, order), in the sync's
//! transaction, each order in a savepoint of it.
//!
//! The asset's `(sync_id, order_name)` is unique, so a second execution (a retried reconcile,
//! a restart, another replica) fails on the insert and its savepoint, with the mail, rolls
//! back. The activation code is generated here, put into the mail body and nowhere else; the
//! asset keeps its SHA-256 only, and when it expires ([`ACTIVATION_LIFETIME`]). The portal, or
//! `accountops asset activate`, redeems it once ([`activate`]).

use jiff::Timestamp;

use super::plan::OrderStep;
use crate::api::provisioning_sync::OrderSpec;
use crate::core::error::{ActivationError, CoreError};
use crate::core::tokens::Token;
use crate::mail::{MailContext, MailSettings, Template, compose};
use crate::store::assets::{self, ActivateOutcome, Asset, NewAsset};
use crate::store::outbox::{self, Related};
use crate::store::{Conn, Store, StoreError};

/// How long a welcome mail's activation code can be redeemed.
pub const ACTIVATION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// What the welcome mail says besides the code.
#[derive(Debug, Clone, Copy)]
pub struct WelcomeContext<'a> {
    pub portal_url: &'a str,
    /// The account's legal name.
    pub account_name: &'a str,
}

/// Execute every `Execute` step on `conn` (a transaction the caller commits); returns the
/// assets created now.
pub async fn execute(
    conn: &mut Conn,
    sync_id: &str,
    steps: &[OrderStep],
    welcome: WelcomeContext<'_>,
    mail: &MailSettings,
    now: Timestamp,
) -> Result<Vec<Asset>, CoreError> {
    let mut created = Vec::new();
    for step in steps {
        let OrderStep::Execute(order) = step else { continue };
        if let Some(asset) = execute_one(conn, sync_id, order, welcome, mail, now).await? {
            tracing::info!(sync = sync_id, order = %order.name, asset = %asset.id, "order executed");
            created.push(asset);
        }
    }
    Ok(created)
}

async fn execute_one(
    conn: &mut Conn,
    sync_id: &str,
    order: &OrderSpec,
    welcome: WelcomeContext<'_>,
    mail: &MailSettings,
    now: Timestamp,
) -> Result<Option<Asset>, CoreError> {
    if assets::find_by_order(conn, sync_id, &order.name).await?.is_some() {
        return Ok(None);
    }
    let code = Token::generate()?;
    let expires_at = crate::core::provider_code::expiry(now, ACTIVATION_LIFETIME);
    let new = NewAsset {
        sync_id: sync_id.to_owned(),
        order_name: order.name.clone(),
        product: order.product.clone(),
        quantity: i64::from(order.quantity),
        notification_email: order.notification_email.as_str().to_owned(),
        invoice: super::plan::stored_invoice(order.invoice),
        locale: order.locale.as_str().to_owned(),
        activation_code_hash: Some(code.hash()),
        activation_expires_at: Some(expires_at),
    };
    let mut tx = savepoint(conn).await?;
    let asset = match assets::insert(&mut tx, &new, now).await {
        Ok(asset) => asset,
        // Another reconcile executed it first: its asset and mail stand.
        Err(StoreError::UniqueViolation { .. }) => {
            tx.rollback()
                .await
                .map_err(|source| StoreError::Query { what: "roll back an order".to_owned(), source })?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let ctx = MailContext {
        organization_name: welcome.account_name.to_owned(),
        activation_code: Some(code.expose().to_owned()),
        // The mail says when the code stops working: the asset's activation_expires_at.
        expires_at: Some(expires_at),
        portal_url: Some(welcome.portal_url.to_owned()),
        product: Some(order.product.clone()),
        ..MailContext::default()
    };
    let related = Related { table: assets::TABLE.to_owned(), id: asset.id.clone() };
    let to = order.notification_email.as_str();
    let message = compose(mail, Template::Welcome, order.locale, to, &ctx, related, &asset.id);
    let queued = outbox::enqueue(&mut tx, &message, now).await?;
    let message_id = queued.mail().message_id.clone();
    let asset = assets::record_delivery(&mut tx, &asset.id, None, Some(&message_id), now).await?;
    tx.commit()
        .await
        .map_err(|source| StoreError::Query { what: "release an order's savepoint".to_owned(), source })?;
    Ok(Some(asset))
}

/// A savepoint of the caller's transaction, so a lost race for one order undoes only it.
async fn savepoint(conn: &mut Conn) -> Result<sqlx::Transaction<'_, sqlx::Any>, CoreError> {
    use sqlx::Connection;
    conn.begin()
        .await
        .map_err(|source| StoreError::Query { what: "open an order's savepoint".to_owned(), source }.into())
}

/// Redeem the activation code `code_text` (as the welcome mail shows it) at `now`: the asset's
/// `activated_at` is set once, before the code expires, on a live asset; anything else fails
/// with an [`ActivationError`] and changes nothing. The portal's contract is the same
/// statement (docs/database.md, "Activating an asset").
pub async fn activate(store: &Store, code_text: &str, now: Timestamp) -> Result<Asset, CoreError> {
    let hash = crate::core::tokens::hash(code_text.trim());
    let mut conn = store.acquire().await?;
    let refused = match assets::activate(&mut conn, &hash, now).await? {
        ActivateOutcome::Activated(asset) => return Ok(asset),
        ActivateOutcome::UnknownCode => ActivationError::UnknownCode,
        ActivateOutcome::AlreadyActivated(a) => {
            ActivationError::AlreadyActivated { at: text(a.activated_at), asset: a.id }
        }
        ActivateOutcome::Expired(a) => ActivationError::Expired { at: text(a.activation_expires_at), asset: a.id },
        ActivateOutcome::Archived(a) => ActivationError::Archived { at: text(a.archived_at), asset: a.id },
    };
    Err(refused.into())
}

fn text(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "an unknown time".to_owned(), |t| t.to_string())
}
