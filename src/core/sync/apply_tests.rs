//! Orders carried out on an in-memory SQLite database: one asset and one mail per order.

use jiff::SignedDuration;

use super::orders::{WelcomeContext, execute};
use super::plan::{OrderStep, plan_orders};
use crate::api::provisioning_sync::OrderSpec;
use crate::core::account::{self, DesiredAccount};
use crate::core::fixtures::*;
use crate::core::flags::Flags;
use crate::core::tokens;
use crate::mail::MailSettings;
use crate::store::syncs::{self, NewProvisioningSync};
use crate::store::{Store, assets, outbox};

fn mail_settings() -> MailSettings {
    MailSettings::new("accountops <noreply@example.com>", None, "https://platform.example.com/invitations/accept")
        .expect("valid settings")
}

fn order(name: &str, product: &str) -> OrderSpec {
    serde_json::from_value(serde_json::json!({
        "name": name, "product": product, "quantity": 3, "notificationEmail": "ops@acme.example"
    }))
    .expect("order")
}

async fn sync_row(store: &Store) -> String {
    let a = DesiredAccount::new(owner("acme", "uid-acme"), account_spec(ACCOUNT_YAML), false, Flags::default());
    let outcome = account::reconcile(store, &a, now()).await.expect("account");
    let account_id = outcome.id.expect("account id");
    let mut conn = store.acquire().await.expect("conn");
    let new = NewProvisioningSync { account_id, endpoint: "http://scim.example/v2".to_owned(), owner: None };
    syncs::insert(&mut conn, &new, now()).await.expect("sync").id
}

const WELCOME: WelcomeContext<'static> =
    WelcomeContext { portal_url: "https://portal.example.com", account_name: "Acme Sp. z o.o." };

/// Execute `steps` in a transaction of their own, as the sync's writes do.
async fn execute_in_tx(store: &Store, sync: &str, steps: &[OrderStep]) -> Vec<crate::store::assets::Asset> {
    let mut tx = store.begin().await.expect("begin");
    let created = execute(&mut tx, sync, steps, WELCOME, &mail_settings(), now()).await.expect("execute");
    tx.commit().await.expect("commit");
    created
}

#[tokio::test]
async fn an_order_executes_once_with_one_welcome_mail() {
    let store = memory_store().await;
    let sync = sync_row(&store).await;
    let orders = [order("migration", "mailbox-migration")];
    for round in 0..3 {
        let existing = assets::list_by_sync(&mut store.acquire().await.expect("conn"), &sync).await.expect("assets");
        let steps = plan_orders(&orders, &existing);
        let created = execute_in_tx(&store, &sync, &steps).await;
        assert_eq!(created.len(), usize::from(round == 0), "round {round}");
    }
    // Even a stale plan (both replicas planned Execute) creates nothing more.
    let stale = [OrderStep::Execute(order("migration", "mailbox-migration"))];
    assert!(execute_in_tx(&store, &sync, &stale).await.is_empty());

    let mut conn = store.acquire().await.expect("conn");
    let all = assets::list_by_sync(&mut conn, &sync).await.expect("assets");
    assert_eq!(all.len(), 1);
    let asset = &all[0];
    assert_eq!((asset.product.as_str(), asset.quantity), ("mailbox-migration", 3));
    let mails = outbox::due(&mut conn, now() + SignedDuration::from_hours(1), 100).await.expect("due");
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(Some(&mail.message_id), asset.welcome_message_id.as_ref());
    assert!(mail.body_text.contains("https://portal.example.com"), "{}", mail.body_text);
    let code = mail
        .body_text
        .lines()
        .find_map(|l| l.strip_prefix("Activation code: "))
        .expect("an activation code line")
        .trim();
    assert_eq!(asset.activation_code_hash.as_deref(), Some(tokens::hash(code).as_str()), "only the hash is stored");
    // The mail says when the code expires: the asset's activation_expires_at, 30 days on.
    let expires = asset.activation_expires_at.expect("an expiry");
    assert_eq!(expires, now() + SignedDuration::from_hours(30 * 24));
    let shown = crate::mail::template::format_timestamp(expires, crate::api::Locale::En);
    assert!(mail.body_text.contains(&format!("expires {shown}.")), "{}", mail.body_text);
}

#[tokio::test]
async fn product_changes_are_refused_and_removed_orders_keep_their_asset() {
    let store = memory_store().await;
    let sync = sync_row(&store).await;
    let steps = plan_orders(&[order("a", "backup")], &[]);
    execute_in_tx(&store, &sync, &steps).await;
    let existing = assets::list_by_sync(&mut store.acquire().await.expect("conn"), &sync).await.expect("assets");

    let changed = plan_orders(&[order("a", "archive")], &existing);
    assert!(matches!(changed[0], OrderStep::Edited { .. }));
    assert!(execute_in_tx(&store, &sync, &changed).await.is_empty());

    let removed = plan_orders(&[], &existing);
    assert!(removed.is_empty());
    let after = assets::list_by_sync(&mut store.acquire().await.expect("conn"), &sync).await.expect("assets");
    assert_eq!(after, existing, "the asset stays, unchanged");
}
