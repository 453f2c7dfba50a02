//! Checks of the store itself: migrations, placeholders, time, transactions, errors.

use sqlx::Row;

use super::fixtures::*;
use crate::store::accounts;
use crate::store::assets::{self, InvoiceChoice, NewAsset};
use crate::store::invitations::{self, NewInvitation, Subject};
use crate::store::memberships::{self, MembershipPhase, NewMembership, Scope};
use crate::store::migrate::latest_version;
use crate::store::outbox::{self, NewMail};
use crate::store::provider_codes::{self, NewProviderCode};
use crate::store::syncs::{self, NewProvisioningSync};
use crate::store::tenant_links::{self, LinkMode, LinkTerms, NewTenantLink};
use crate::store::{Store, organizations, roles, time, users};

/// Running the migrations again applies nothing and keeps the data.
pub async fn migrate_twice(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    drop(c);
    for _ in 0..2 {
        let report = store.migrate().await.expect("migrate again");
        assert!(report.applied.is_empty(), "{report:?}");
        assert_eq!(report.version, latest_version());
    }
    let mut c = conn(store).await;
    assert_eq!(accounts::get(&mut c, &acct.id).await.expect("still there"), acct);
}

/// `$N` binds argument N on both engines, also out of order and repeated.
pub async fn placeholders_bind_by_number(store: &Store) {
    let mut c = conn(store).await;
    let row = sqlx::query("SELECT $2 AS second, $1 AS first, $1 AS again")
        .bind("one")
        .bind("two")
        .fetch_one(&mut *c)
        .await
        .expect("select parameters");
    let get = |col: &str| row.try_get::<String, _>(col).expect("text column");
    assert_eq!((get("first"), get("second"), get("again")), ("one".into(), "two".into(), "one".into()));
}

/// Timestamps come back exactly (microseconds) and sort as time.
pub async fn timestamps_round_trip(store: &Store) {
    let mut c = conn(store).await;
    let now = time::now();
    let acct =
        accounts::insert(&mut c, &accounts::NewAccount { details: account_details("Clock Ltd"), owner: None }, now)
            .await
            .expect("insert");
    assert_eq!(acct.created_at, now);
    assert_eq!(accounts::get(&mut c, &acct.id).await.expect("get").updated_at, now);
    let raw: String = sqlx::query("SELECT created_at FROM accounts WHERE id = $1")
        .bind(&acct.id)
        .fetch_one(&mut *c)
        .await
        .expect("raw select")
        .try_get("created_at")
        .expect("text");
    assert_eq!(raw, time::encode(now));
    assert_eq!(raw.len(), 27, "{raw}");
    // A hand-written timestamp in another shape is refused by the schema.
    let err = sqlx::query("UPDATE accounts SET updated_at = '2025-01-01 00:00:00' WHERE id = $1")
        .bind(&acct.id)
        .execute(&mut *c)
        .await
        .expect_err("a timestamp without T, fraction and Z is refused");
    assert!(err.to_string().contains("accounts_updated_at_utc"), "{err}");
}

/// A row and its mail commit together or not at all.
pub async fn transaction_commits_or_rolls_back_together(store: &Store) {
    let mail = |id: &str| NewMail {
        message_id: format!("<{id}@accountops.test>"),
        kind: "welcome".to_owned(),
        recipient: "ann@example.com".to_owned(),
        subject: "Welcome".to_owned(),
        body_text: "Hello".to_owned(),
        body_html: None,
        locale: "en".to_owned(),
        related: None,
        origin: outbox::Origin::Local("local".to_owned()),
        namespace: None,
    };
    let mut tx = store.begin().await.expect("begin");
    let dropped = account(&mut tx, None).await;
    outbox::enqueue(&mut tx, &mail("dropped"), at(0)).await.expect("enqueue");
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    let kept = account(&mut tx, None).await;
    outbox::enqueue(&mut tx, &mail("kept"), at(0)).await.expect("enqueue");
    tx.commit().await.expect("commit");

    let mut c = conn(store).await;
    assert!(accounts::find(&mut c, &dropped.id).await.expect("find").is_none());
    assert!(outbox::find_by_message_id(&mut c, "<dropped@accountops.test>").await.expect("find").is_none());
    assert_eq!(accounts::get(&mut c, &kept.id).await.expect("get"), kept);
    assert!(outbox::find_by_message_id(&mut c, "<kept@accountops.test>").await.expect("find").is_some());
}

/// Updating, archiving or reading a missing row says which table and ID.
pub async fn missing_rows_are_not_found(store: &Store) {
    let mut c = conn(store).await;
    let now = at(5);
    let e = fails(accounts::get(&mut c, "acct-missing").await);
    assert_not_found(&e, "accounts", "acct-missing");
    assert_eq!(e.to_string(), "accounts acct-missing not found");
    assert_eq!(e.category(), "not_found");
    let e = fails(accounts::update(&mut c, "acct-missing", &account_details("X"), now).await);
    assert_not_found(&e, "accounts", "acct-missing");
    let e = fails(accounts::archive(&mut c, "acct-missing", now).await);
    assert_not_found(&e, "accounts", "acct-missing");
    let e = fails(organizations::archive(&mut c, "org-missing", now).await);
    assert_not_found(&e, "organizations", "org-missing");
    let e = fails(roles::archive(&mut c, "role-missing", now).await);
    assert_not_found(&e, "organization_roles", "role-missing");
    let e = fails(users::archive(&mut c, "usr-missing", now).await);
    assert_not_found(&e, "users", "usr-missing");
    let e = fails(memberships::revoke(&mut c, "mbr-missing", now).await);
    assert_not_found(&e, "memberships", "mbr-missing");
    let e = fails(invitations::revoke(&mut c, "inv-missing", now).await);
    assert_not_found(&e, "invitations", "inv-missing");
    let e = fails(tenant_links::revoke(&mut c, "tl-missing", now).await);
    assert_not_found(&e, "tenant_links", "tl-missing");
    let e = fails(provider_codes::revoke(&mut c, "pc-missing", now).await);
    assert_not_found(&e, "provider_codes", "pc-missing");
    let e = fails(syncs::archive(&mut c, "psync-missing", now).await);
    assert_not_found(&e, "provisioning_syncs", "psync-missing");
    let e = fails(assets::archive(&mut c, "asset-missing", now).await);
    assert_not_found(&e, "assets", "asset-missing");
    let e = fails(outbox::get(&mut c, "mail-missing").await);
    assert_not_found(&e, "mail_outbox", "mail-missing");
    assert_eq!(outbox::mark_sent(&mut c, "mail-missing", "s", now).await.expect("no claim, no write"), None);
}

/// A reference to a missing row is a typed error naming the reference, in every table.
pub async fn foreign_keys_are_typed(store: &Store) {
    let mut c = conn(store).await;
    let now = at(3);
    let e = fails(
        organizations::insert(
            &mut c,
            &organizations::NewOrganization {
                account_id: "acct-nope".into(),
                name: "Ghost".into(),
                service_provider: false,
                owner: None,
            },
            now,
        )
        .await,
    );
    assert_foreign_key(&e, "organizations", "account_id", "acct-nope");
    let acct = account(&mut c, None).await;
    let e = fails(
        memberships::insert(
            &mut c,
            &NewMembership {
                user_id: "usr-nope".into(),
                scope: Scope::Account(acct.id.clone()),
                settings: settings(&[]),
                phase: MembershipPhase::Pending,
                owner: None,
            },
            now,
        )
        .await,
    );
    assert_foreign_key(&e, "memberships", "user_id", "usr-nope");
    let e = fails(
        invitations::insert(
            &mut c,
            &NewInvitation {
                subject: Subject::Membership("mbr-nope".into()),
                email: "a@b.example".into(),
                token_hash: hash(),
                locale: "en".into(),
                expires_at: at(100),
                resend_nonce: None,
            },
            now,
        )
        .await,
    );
    assert_foreign_key(&e, "invitations", "membership_id", "mbr-nope");
    let e = fails(
        tenant_links::insert(
            &mut c,
            &NewTenantLink {
                provider_organization_id: "org-p".into(),
                tenant_organization_id: "org-t".into(),
                mode: LinkMode::ProviderCode,
                terms: LinkTerms {
                    partner_role: None,
                    admin_email: None,
                    granted_roles: vec![],
                    sharing_scope: vec![],
                },
                owner: None,
            },
            now,
        )
        .await,
    );
    assert_foreign_key(&e, "tenant_links", "organization_id", "org-");
    let e = fails(
        provider_codes::insert(
            &mut c,
            &NewProviderCode { organization_id: "org-nope".into(), code_hash: hash(), expires_at: at(100) },
            now,
        )
        .await,
    );
    assert_foreign_key(&e, "provider_codes", "organization_id", "org-nope");
    let e = fails(
        syncs::insert(
            &mut c,
            &NewProvisioningSync {
                account_id: "acct-nope".into(),
                endpoint: "https://scim.example/v2".into(),
                owner: None,
            },
            now,
        )
        .await,
    );
    assert_foreign_key(&e, "provisioning_syncs", "account_id", "acct-nope");
    let e = fails(
        assets::insert(
            &mut c,
            &NewAsset {
                sync_id: "psync-nope".into(),
                order_name: "o1".into(),
                product: "Migration Bundle".into(),
                quantity: 1,
                notification_email: "it@acme.example".into(),
                invoice: InvoiceChoice::NextInvoice,
                locale: "en".into(),
                activation_code_hash: None,
                activation_expires_at: None,
            },
            now,
        )
        .await,
    );
    assert_foreign_key(&e, "assets", "sync_id", "psync-nope");
}

/// A hash key is created by the first caller and the same for every later one; keys of other
/// names differ, and a key that is not 64 hex digits is refused by the database.
pub async fn hash_keys_are_created_once(store: &Store) {
    use crate::store::keys::{self, CREDENTIALS_HASH};
    let now = time::now();
    let first = keys::get_or_create(&mut *conn(store).await, CREDENTIALS_HASH, now).await.expect("create");
    let again = keys::get_or_create(&mut *conn(store).await, CREDENTIALS_HASH, now).await.expect("read");
    assert_eq!(first, again);
    let other = keys::get_or_create(&mut *conn(store).await, "other", now).await.expect("another key");
    assert_ne!(first, other);
    let bad = sqlx::query("INSERT INTO hash_keys (name, key_hex, created_at) VALUES ('bad', 'XYZ', $1)")
        .bind(time::encode(now))
        .execute(&mut *conn(store).await)
        .await;
    assert!(bad.is_err(), "a key that is not 64 hex digits is refused");
}
