//! Checks of tenant links, provider codes, provisioning syncs and assets.

use super::fixtures::*;
use crate::store::assets::{self, ActivateOutcome, InvoiceChoice, NewAsset};
use crate::store::ownership::{self, ManagedTable};
use crate::store::provider_codes::{self, NewProviderCode, RedeemOutcome};
use crate::store::syncs::{self, NewProvisioningSync, SyncResult, SyncStatus};
use crate::store::tenant_links::{
    self, LinkMode, LinkTerms, NewTenantLink, PartnerRole, SharingScope, TenantLinkPhase,
};
use crate::store::{Conn, Store};

fn terms() -> LinkTerms {
    LinkTerms {
        partner_role: Some(PartnerRole::ServiceProvider),
        admin_email: Some("admin@msp.example".into()),
        granted_roles: vec!["Admin".into()],
        sharing_scope: vec![SharingScope::Tickets, SharingScope::Assets],
    }
}

/// Two organizations (provider, tenant) under one account.
pub(super) async fn two_orgs(c: &mut Conn) -> (String, String) {
    let acct = account(c, None).await;
    let p = organization(c, &acct.id, "MSP").await;
    let t = organization(c, &acct.id, "Customer").await;
    (p.id, t.id)
}

pub(super) fn link(provider: &str, tenant: &str, mode: LinkMode) -> NewTenantLink {
    NewTenantLink {
        provider_organization_id: provider.into(),
        tenant_organization_id: tenant.into(),
        mode,
        terms: terms(),
        owner: None,
    }
}

pub async fn tenant_links_crud(store: &Store) {
    let mut c = conn(store).await;
    let (p, t) = two_orgs(&mut c).await;
    let l = tenant_links::insert(&mut c, &link(&p, &t, LinkMode::PartnerInvitation), at(1)).await.expect("insert");
    assert!(l.id.starts_with("tl-"), "{}", l.id);
    assert_eq!((l.phase, l.mode, l.terms.clone()), (TenantLinkPhase::Pending, LinkMode::PartnerInvitation, terms()));
    assert_eq!(tenant_links::get(&mut c, &l.id).await.expect("get"), l);
    let mut new_terms = terms();
    new_terms.sharing_scope = vec![SharingScope::Reports];
    new_terms.partner_role = Some(PartnerRole::Partner);
    let updated = tenant_links::update(&mut c, &l.id, &new_terms, at(2)).await.expect("update");
    assert_eq!((updated.terms.clone(), updated.updated_at), (new_terms, at(2)));
    let active = tenant_links::set_phase(&mut c, &l.id, TenantLinkPhase::Active, at(3)).await.expect("accept");
    assert_eq!((active.phase, active.accepted_at), (TenantLinkPhase::Active, Some(at(3))));
    let again = tenant_links::set_phase(&mut c, &l.id, TenantLinkPhase::Active, at(4)).await.expect("again");
    assert_eq!(again.accepted_at, Some(at(3)), "accepted_at keeps the first acceptance");
    for org in [&p, &t] {
        let listed = tenant_links::list_by_organization(&mut c, org).await.expect("list");
        assert_eq!(listed, vec![again.clone()]);
    }
    let revoked = tenant_links::revoke(&mut c, &l.id, at(5)).await.expect("revoke");
    assert_eq!((revoked.phase, revoked.revoked_at), (TenantLinkPhase::Revoked, Some(at(5))));
    assert!(
        tenant_links::set_phase(&mut c, &l.id, TenantLinkPhase::Active, at(6)).await.is_err(),
        "a revoked link stays revoked"
    );
}

pub async fn tenant_links_constraints(store: &Store) {
    let mut c = conn(store).await;
    let (p, t) = two_orgs(&mut c).await;
    let first = tenant_links::insert(&mut c, &link(&p, &t, LinkMode::ProviderCode), at(1)).await.expect("insert");
    let err = fails(tenant_links::insert(&mut c, &link(&p, &t, LinkMode::ProviderCode), at(2)).await);
    assert_unique(&err, "tenant_links", "provider_organization_id, tenant_organization_id", &format!("{p}, {t}"));
    tenant_links::insert(&mut c, &link(&t, &p, LinkMode::ProviderCode), at(2))
        .await
        .expect("the other direction is another link");
    tenant_links::set_phase(&mut c, &first.id, TenantLinkPhase::Rejected, at(3)).await.expect("reject");
    tenant_links::insert(&mut c, &link(&p, &t, LinkMode::ProviderCode), at(4))
        .await
        .expect("a rejected link frees the pair");

    let err = fails(tenant_links::insert(&mut c, &link(&p, &p, LinkMode::ProviderCode), at(5)).await);
    assert_check(&err, "tenant_links", "tenant_links_distinct");
    let (p2, t2) = two_orgs(&mut c).await;
    let mut no_admin = link(&p2, &t2, LinkMode::PartnerInvitation);
    no_admin.terms.admin_email = None;
    let err = fails(tenant_links::insert(&mut c, &no_admin, at(5)).await);
    assert_check(&err, "tenant_links", "tenant_links_partner");
}

pub async fn provider_codes_redeem_once(store: &Store) {
    let mut c = conn(store).await;
    let (p, t) = two_orgs(&mut c).await;
    let code = hash();
    let new = NewProviderCode { organization_id: p.clone(), code_hash: code.clone(), expires_at: at(100) };
    let pc = provider_codes::insert(&mut c, &new, at(1)).await.expect("insert");
    assert!(pc.id.starts_with("pc-") && pc.is_open(at(2)), "{pc:?}");
    assert_eq!(provider_codes::get(&mut c, &pc.id).await.expect("get"), pc);
    let err = fails(provider_codes::insert(&mut c, &new, at(1)).await);
    assert_unique(&err, "provider_codes", "code_hash", "(hidden)");

    let l1 = tenant_links::insert(&mut c, &link(&p, &t, LinkMode::ProviderCode), at(2)).await.expect("link");
    assert_eq!(
        provider_codes::redeem(&mut c, &hash(), &l1.id, at(3)).await.expect("unknown"),
        RedeemOutcome::UnknownCode
    );
    let RedeemOutcome::Redeemed(used) = provider_codes::redeem(&mut c, &code, &l1.id, at(3)).await.expect("redeem")
    else {
        panic!("an open code is redeemed");
    };
    assert_eq!((used.used_at, used.used_by_tenant_link_id.as_deref()), (Some(at(3)), Some(l1.id.as_str())));
    let (p2, t2) = two_orgs(&mut c).await;
    let l2 = tenant_links::insert(&mut c, &link(&p2, &t2, LinkMode::ProviderCode), at(4)).await.expect("link");
    assert!(matches!(
        provider_codes::redeem(&mut c, &code, &l2.id, at(4)).await.expect("twice"),
        RedeemOutcome::AlreadyUsed(_)
    ));
    assert_eq!(provider_codes::revoke(&mut c, &pc.id, at(5)).await.expect("revoke used").revoked_at, None);

    let expiring = NewProviderCode { organization_id: p.clone(), code_hash: hash(), expires_at: at(10) };
    provider_codes::insert(&mut c, &expiring, at(5)).await.expect("insert");
    assert!(matches!(
        provider_codes::redeem(&mut c, &expiring.code_hash, &l2.id, at(10)).await.expect("late"),
        RedeemOutcome::Expired(_)
    ));
    let revoked = NewProviderCode { organization_id: p.clone(), code_hash: hash(), expires_at: at(100) };
    let r = provider_codes::insert(&mut c, &revoked, at(6)).await.expect("insert");
    assert_eq!(provider_codes::revoke(&mut c, &r.id, at(7)).await.expect("revoke").revoked_at, Some(at(7)));
    assert!(matches!(
        provider_codes::redeem(&mut c, &revoked.code_hash, &l2.id, at(8)).await.expect("revoked"),
        RedeemOutcome::Revoked(_)
    ));
    let open = NewProviderCode { organization_id: p.clone(), code_hash: hash(), expires_at: at(100) };
    provider_codes::insert(&mut c, &open, at(8)).await.expect("insert");
    let err = fails(provider_codes::redeem(&mut c, &open.code_hash, "tl-nope", at(9)).await);
    assert_foreign_key(&err, "provider_codes", "used_by_tenant_link_id", "tl-nope");
    assert_eq!(provider_codes::list_by_organization(&mut c, &p).await.expect("list").len(), 4);
}

pub async fn provisioning_syncs_crud(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let new =
        NewProvisioningSync { account_id: acct.id.clone(), endpoint: "https://scim.example/v2".into(), owner: None };
    let s = syncs::insert(&mut c, &new, at(1)).await.expect("insert");
    assert!(s.id.starts_with("psync-"), "{}", s.id);
    assert_eq!((s.sync_status, s.external_id.clone(), s.last_sync_time), (SyncStatus::Unsynchronized, None, None));
    assert_eq!(syncs::get(&mut c, &s.id).await.expect("get"), s);
    let ok = SyncResult::Synchronized { external_id: "grp-42".into() };
    let synced = syncs::record_sync(&mut c, &s.id, &ok, at(2)).await.expect("record");
    assert_eq!(
        (synced.sync_status, synced.external_id.as_deref(), synced.last_sync_time),
        (SyncStatus::Synchronized, Some("grp-42"), Some(at(2)))
    );
    let failed = SyncResult::Failed { error: "HTTP 503 from SCIM server".into() };
    let err = syncs::record_sync(&mut c, &s.id, &failed, at(3)).await.expect("record");
    assert_eq!(
        (err.sync_status, err.external_id.as_deref(), err.last_sync_time),
        (SyncStatus::Error, Some("grp-42"), Some(at(2)))
    );
    assert_eq!(err.last_error.as_deref(), Some("HTTP 503 from SCIM server"));
    assert_eq!(err.pushed, None);
    let pushed = syncs::record_pushed(&mut c, &s.id, r#"{"users":{}}"#, at(3)).await.expect("pushed");
    assert_eq!(pushed.pushed.as_deref(), Some(r#"{"users":{}}"#));
    // Another sync of the same system (with a trailing slash) and one of another system.
    let twin = NewProvisioningSync { endpoint: "https://scim.example/v2/".into(), ..new.clone() };
    let twin = syncs::insert(&mut c, &twin, at(3)).await.expect("twin");
    let other = NewProvisioningSync { endpoint: "https://elsewhere.example/v2".into(), ..new.clone() };
    syncs::insert(&mut c, &other, at(3)).await.expect("other");
    let same_system = syncs::list_live_by_endpoint(&mut c, "https://scim.example/v2").await.expect("list");
    let mut found: Vec<&str> = same_system.iter().map(|r| r.id.as_str()).collect();
    found.sort_unstable();
    let mut expected = vec![s.id.as_str(), twin.id.as_str()];
    expected.sort_unstable();
    assert_eq!(found, expected);
    syncs::archive(&mut c, &twin.id, at(3)).await.expect("archive the twin");
    let live = syncs::list_live_by_endpoint(&mut c, "https://scim.example/v2/").await.expect("list");
    assert_eq!(live.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [s.id.as_str()], "archived syncs are not live");
    let same = syncs::update_endpoint(&mut c, &s.id, "https://scim.example/v2", at(4)).await.expect("same");
    assert_eq!((same.sync_status, same.updated_at, same.pushed.is_some()), (SyncStatus::Error, at(3), true));
    let moved = syncs::update_endpoint(&mut c, &s.id, "https://other.example/scim", at(5)).await.expect("move");
    assert_eq!(
        (moved.sync_status, moved.endpoint.as_str(), moved.pushed),
        (SyncStatus::Unsynchronized, "https://other.example/scim", None),
        "the record of another system is dropped"
    );
    let archived = syncs::archive(&mut c, &s.id, at(6)).await.expect("archive");
    assert_eq!(archived.archived_at, Some(at(6)));
    let back = syncs::unarchive(&mut c, &s.id, at(7)).await.expect("unarchive");
    assert_eq!((back.archived_at, back.updated_at), (None, at(7)));
    let archived = syncs::archive(&mut c, &s.id, at(6)).await.expect("archive again");
    let all = syncs::list_by_account(&mut c, &acct.id).await.expect("list");
    assert_eq!(all.len(), 3);
    assert_eq!(all.iter().find(|r| r.id == s.id), Some(&archived));

    // A released sync is found by the names of its last owner; a live one is not.
    let mine = owner("acme-scim", "uid-1");
    let owned = NewProvisioningSync { owner: Some(mine.clone()), ..new.clone() };
    let owned = syncs::insert(&mut c, &owned, at(8)).await.expect("owned");
    let (cluster, ns, name) = (mine.cluster.as_str(), mine.namespace.as_str(), mine.name.as_str());
    let found = syncs::find_released(&mut c, cluster, ns, name).await.expect("find released");
    assert_eq!(found, None, "still owned");
    ownership::release(&mut c, ManagedTable::ProvisioningSyncs, &owned.id, at(9)).await.expect("release");
    let found = syncs::find_released(&mut c, cluster, ns, name).await.expect("find released");
    assert_eq!(found.map(|r| r.id), Some(owned.id.clone()));

    // Retiring archives and releases in one go, once.
    let other = NewProvisioningSync { owner: Some(owner("other-scim", "uid-2")), ..new.clone() };
    let other = syncs::insert(&mut c, &other, at(10)).await.expect("other");
    let retired = syncs::retire(&mut c, &other.id, at(11)).await.expect("retire");
    assert_eq!((retired.archived_at, retired.owner.as_ref().and_then(|o| o.uid.clone())), (Some(at(11)), None));
    let again = syncs::retire(&mut c, &other.id, at(12)).await.expect("retire again");
    assert_eq!((again.archived_at, again.updated_at), (Some(at(11)), at(11)));
}

pub async fn assets_once_per_order(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let new =
        NewProvisioningSync { account_id: acct.id.clone(), endpoint: "https://scim.example/v2".into(), owner: None };
    let s = syncs::insert(&mut c, &new, at(1)).await.expect("sync");
    let code = hash();
    let order = NewAsset {
        sync_id: s.id.clone(),
        order_name: "migration-2025".into(),
        product: "Mailbox Migration".into(),
        quantity: 25,
        notification_email: "it@acme.example".into(),
        invoice: InvoiceChoice::DoNotInvoice,
        locale: "pl".into(),
        activation_code_hash: Some(code.clone()),
        activation_expires_at: Some(at(10)),
    };
    let a = assets::insert(&mut c, &order, at(2)).await.expect("insert");
    assert_eq!((a.activation_expires_at, a.activated_at), (Some(at(10)), None));
    assert!(a.id.starts_with("asset-"), "{}", a.id);
    assert_eq!((a.quantity, a.invoice, a.created_at), (25, InvoiceChoice::DoNotInvoice, at(2)));
    let err = fails(assets::insert(&mut c, &order, at(3)).await);
    assert_unique(&err, "assets", "sync_id, order_name", &format!("{}, migration-2025", s.id));
    assert_eq!(assets::find_by_order(&mut c, &s.id, "migration-2025").await.expect("find"), Some(a.clone()));
    let delivered = assets::record_delivery(&mut c, &a.id, Some("ext-1"), None, at(4)).await.expect("deliver");
    let delivered =
        assets::record_delivery(&mut c, &delivered.id, None, Some("<w@test>"), at(5)).await.expect("deliver");
    assert_eq!(
        (delivered.external_id.as_deref(), delivered.welcome_message_id.as_deref()),
        (Some("ext-1"), Some("<w@test>"))
    );
    // The activation code works once, before it expires, on a live asset.
    assert_eq!(assets::activate(&mut c, &"0".repeat(64), at(5)).await.expect("activate"), ActivateOutcome::UnknownCode);
    let ActivateOutcome::Activated(done) = assets::activate(&mut c, &code, at(5)).await.expect("activate") else {
        panic!("the open code activates")
    };
    assert_eq!(done.activated_at, Some(at(5)));
    assert!(matches!(
        assets::activate(&mut c, &code, at(6)).await.expect("again"),
        ActivateOutcome::AlreadyActivated(a) if a.activated_at == Some(at(5))
    ));
    let late = NewAsset { order_name: "late".into(), activation_code_hash: Some("b".repeat(64)), ..order.clone() };
    assets::insert(&mut c, &late, at(2)).await.expect("insert");
    assert!(matches!(
        assets::activate(&mut c, &"b".repeat(64), at(10)).await.expect("late"),
        ActivateOutcome::Expired(_)
    ));
    let gone = NewAsset { order_name: "gone".into(), activation_code_hash: Some("c".repeat(64)), ..order.clone() };
    let gone = assets::insert(&mut c, &gone, at(2)).await.expect("insert");
    assets::archive(&mut c, &gone.id, at(3)).await.expect("archive");
    assert!(matches!(
        assets::activate(&mut c, &"c".repeat(64), at(4)).await.expect("gone"),
        ActivateOutcome::Archived(_)
    ));
    let archived = assets::archive(&mut c, &a.id, at(6)).await.expect("archive");
    assert_eq!(archived.archived_at, Some(at(6)));
    let listed = assets::list_by_sync(&mut c, &s.id).await.expect("list");
    assert_eq!(listed.iter().find(|x| x.id == a.id), Some(&archived));
    let zero = NewAsset { order_name: "empty".into(), quantity: 0, ..order };
    let err = fails(assets::insert(&mut c, &zero, at(7)).await);
    assert_check(&err, "assets", "assets_quantity");
}

/// A provider's tenant list: active links only, with the tenant's members, the staff the link
/// placed and the account's syncs; paged; the status total of placed staff.
pub async fn tenants_of_a_provider(store: &Store) {
    use crate::store::memberships::{self, MembershipPhase, NewMembership, Scope};
    use crate::store::tenants;
    let mut c = conn(store).await;
    let (provider, tenant) = two_orgs(&mut c).await;
    assert!(tenants::page(&mut c, &provider, 10, 0).await.expect("page").is_empty(), "no links yet");
    let l = tenant_links::insert(&mut c, &link(&provider, &tenant, LinkMode::PartnerInvitation), at(2))
        .await
        .expect("link");
    assert!(tenants::page(&mut c, &provider, 10, 0).await.expect("page").is_empty(), "pending is no tenant");
    tenant_links::set_phase(&mut c, &l.id, TenantLinkPhase::Active, at(3)).await.expect("active");
    let mut ids = Vec::new();
    for email in ["own@customer.example", "tech@msp.example"] {
        let u = user(&mut c, email).await;
        let new = NewMembership {
            user_id: u.id,
            scope: Scope::Organization(tenant.clone()),
            settings: settings(&["Admin"]),
            phase: MembershipPhase::Active,
            owner: None,
        };
        ids.push(memberships::insert(&mut c, &new, at(4)).await.expect("membership").id);
    }
    memberships::mark_derived(&mut c, &ids[1], &l.id, memberships::Placement::Tenant, at(5)).await.expect("derived");
    let sync = NewProvisioningSync {
        account_id: crate::store::organizations::get(&mut c, &tenant).await.expect("org").account_id,
        endpoint: "https://scim.example/v2".into(),
        owner: None,
    };
    syncs::insert(&mut c, &sync, at(5)).await.expect("sync");
    let page = tenants::page(&mut c, &provider, 10, 0).await.expect("page");
    assert_eq!(page.len(), 1);
    let t = &page[0];
    assert_eq!((t.organization_id.as_str(), t.organization_name.as_str()), (tenant.as_str(), "Customer"));
    assert_eq!(
        (t.joined_at, t.mode, t.partner_role),
        (Some(at(3)), LinkMode::PartnerInvitation, Some(PartnerRole::ServiceProvider))
    );
    assert_eq!(t.granted_roles, ["Admin"]);
    assert_eq!((t.members, t.placed_by_provider, t.syncs, t.syncs_synchronized), (2, 1, 1, 0));
    assert_eq!(tenants::placed_total(&mut c, &provider).await.expect("total"), 1);
    assert!(tenants::page(&mut c, &provider, 10, 1).await.expect("page 2").is_empty(), "offset past the end");
    assert!(tenants::page(&mut c, &tenant, 10, 0).await.expect("page").is_empty(), "the tenant has no tenants");
    tenant_links::set_phase(&mut c, &l.id, TenantLinkPhase::Revoked, at(6)).await.expect("revoked");
    assert!(tenants::page(&mut c, &provider, 10, 0).await.expect("page").is_empty(), "a revoked link is gone");
    assert_eq!(tenants::placed_total(&mut c, &provider).await.expect("total"), 0);
}
