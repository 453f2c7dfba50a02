//! Checks of ownership: lookup, re-adoption, release and refusal to take over.

use super::fixtures::*;
use crate::store::accounts::{self, LifecycleState};
use crate::store::memberships::{self, MembershipPhase, NewMembership, Scope};
use crate::store::organizations::{self, NewOrganization};
use crate::store::ownership::{self, Adoption, ManagedTable};
use crate::store::syncs::{self, NewProvisioningSync};
use crate::store::tenant_links::{self, LinkMode, LinkTerms, NewTenantLink};
use crate::store::{Store, StoreError};

pub async fn ownership_readoption(store: &Store) {
    let mut c = conn(store).await;
    let a = owner("acme", "uid-1");
    let acct = account(&mut c, Some(a.clone())).await;
    let stored = acct.owner.clone().expect("owner recorded");
    assert_eq!((stored.name.as_str(), stored.uid.as_deref()), ("acme", Some("uid-1")));
    let by_owner = ownership::find_by_owner(&mut c, ManagedTable::Accounts, &a.cluster, &a.namespace, "acme")
        .await
        .expect("find")
        .expect("found by owner");
    assert_eq!(by_owner.id, acct.id);
    let by_uid = ownership::find_by_uid(&mut c, ManagedTable::Accounts, "uid-1").await.expect("find");
    assert_eq!(by_uid.map(|r| r.id), Some(acct.id.clone()));
    let adoption = ownership::adopt(&mut c, ManagedTable::Accounts, &acct.id, &a, at(1)).await.expect("adopt");
    assert_eq!(adoption, Adoption::Unchanged);

    // The object is re-created (restored cluster): same name, new UID.
    let restored = owner("acme", "uid-2");
    let adoption =
        ownership::adopt(&mut c, ManagedTable::Accounts, &acct.id, &restored, at(2)).await.expect("re-adopt");
    assert_eq!(adoption, Adoption::ReAdopted { previous_uid: "uid-1".into() });
    assert_eq!(ownership::find_by_uid(&mut c, ManagedTable::Accounts, "uid-1").await.expect("find"), None);
    let now_owned = accounts::get(&mut c, &acct.id).await.expect("get");
    assert_eq!(now_owned.owner.and_then(|o| o.uid).as_deref(), Some("uid-2"));
    assert_eq!(now_owned.updated_at, at(2));
    let listed = ownership::list_owned(&mut c, ManagedTable::Accounts, "test-cluster").await.expect("list");
    assert_eq!(listed.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![acct.id.clone()]);

    // deletionPolicy Orphan: the row stays, unmanaged; another object may import it.
    let orphan = accounts::orphan(&mut c, &acct.id, at(3)).await.expect("orphan");
    assert_eq!(orphan.state, LifecycleState::Orphaned);
    assert_eq!(orphan.owner.as_ref().map(|o| o.is_live()), Some(false));
    assert_eq!(
        ownership::find_by_owner(&mut c, ManagedTable::Accounts, "test-cluster", "team-a", "acme").await.expect("find"),
        None
    );
    let importer = owner("imported-acme", "uid-3");
    let adoption = ownership::adopt(&mut c, ManagedTable::Accounts, &acct.id, &importer, at(4)).await.expect("import");
    assert!(matches!(adoption, Adoption::Adopted { previous: Some(_) }), "{adoption:?}");
    let imported = accounts::get(&mut c, &acct.id).await.expect("get");
    assert_eq!(imported.state, LifecycleState::Active, "adoption ends the orphaned state");
    assert_eq!(imported.owner.map(|o| o.name), Some("imported-acme".into()));

    // A hand-made row nobody owned is adopted too.
    let loose = account(&mut c, None).await;
    assert_eq!(ownership::owner_of(&mut c, ManagedTable::Accounts, &loose.id).await.expect("owner"), None);
    let adoption = ownership::adopt(&mut c, ManagedTable::Accounts, &loose.id, &owner("loose", "uid-4"), at(5))
        .await
        .expect("adopt");
    assert_eq!(adoption, Adoption::Adopted { previous: None });
    let err =
        fails(ownership::adopt(&mut c, ManagedTable::Accounts, "acct-missing", &owner("x", "uid-5"), at(5)).await);
    assert_not_found(&err, "accounts", "acct-missing");
}

pub async fn ownership_never_taken_silently(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let first = owner("eng", "uid-10");
    let new = NewOrganization {
        account_id: acct.id.clone(),
        name: "Engineering".into(),
        service_provider: false,
        owner: Some(first.clone()),
    };
    let org = organizations::insert(&mut c, &new, at(1)).await.expect("insert");
    let thief = owner("eng-copy", "uid-11");
    let err = fails(ownership::adopt(&mut c, ManagedTable::Organizations, &org.id, &thief, at(2)).await);
    match &err {
        StoreError::OwnedElsewhere { table, id, owner, claimant } => {
            assert_eq!((*table, id.as_str()), ("organizations", org.id.as_str()));
            assert!(owner.contains("team-a/eng") && owner.contains("uid-10"), "{owner}");
            assert!(claimant.contains("eng-copy"), "{claimant}");
        }
        other => panic!("expected OwnedElsewhere, got {other:?}"),
    }
    assert_eq!(err.category(), "owned_elsewhere");
    let other_cluster = crate::store::Owner { cluster: "other".into(), ..first.clone() };
    let err = fails(ownership::adopt(&mut c, ManagedTable::Organizations, &org.id, &other_cluster, at(2)).await);
    assert!(matches!(err, StoreError::OwnedElsewhere { .. }), "another cluster is another owner: {err:?}");
    let unchanged = organizations::get(&mut c, &org.id).await.expect("get");
    assert_eq!(unchanged, org, "a refused adoption changes nothing");

    // Released, the row may be claimed by another object.
    ownership::release(&mut c, ManagedTable::Organizations, &org.id, at(3)).await.expect("release");
    ownership::release(&mut c, ManagedTable::Organizations, &org.id, at(4)).await.expect("release is idempotent");
    let adoption = ownership::adopt(&mut c, ManagedTable::Organizations, &org.id, &thief, at(5)).await.expect("adopt");
    assert!(matches!(adoption, Adoption::Adopted { .. }), "{adoption:?}");
}

pub async fn ownership_one_live_owner(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let o = owner("sync", "uid-20");
    let new = NewProvisioningSync {
        account_id: acct.id.clone(),
        endpoint: "https://scim.example/v2".into(),
        owner: Some(o.clone()),
    };
    syncs::insert(&mut c, &new, at(1)).await.expect("insert");
    let same_uid = NewProvisioningSync { owner: Some(owner("sync-2", "uid-20")), ..new.clone() };
    let err = fails(syncs::insert(&mut c, &same_uid, at(2)).await);
    assert_unique(&err, "provisioning_syncs", "owner_uid", "uid-20");
    let renamed_uid = NewProvisioningSync { owner: Some(owner("sync", "uid-21")), ..new.clone() };
    let err = fails(syncs::insert(&mut c, &renamed_uid, at(2)).await);
    assert_unique(&err, "provisioning_syncs", "owner_cluster, owner_namespace, owner_name", "test-cluster/team-a/sync");

    // Each managed table records and finds its owner.
    let org = organization(&mut c, &acct.id, "Engineering").await;
    let other = organization(&mut c, &acct.id, "Support").await;
    let u = user(&mut c, "ann@example.com").await;
    let m = memberships::insert(
        &mut c,
        &NewMembership {
            user_id: u.id.clone(),
            scope: Scope::Organization(org.id.clone()),
            settings: settings(&[]),
            phase: MembershipPhase::Pending,
            owner: Some(owner("ann", "uid-30")),
        },
        at(3),
    )
    .await
    .expect("membership");
    let terms = LinkTerms { partner_role: None, admin_email: None, granted_roles: vec![], sharing_scope: vec![] };
    let l = tenant_links::insert(
        &mut c,
        &NewTenantLink {
            provider_organization_id: org.id.clone(),
            tenant_organization_id: other.id.clone(),
            mode: LinkMode::ProviderCode,
            terms,
            owner: Some(owner("msp", "uid-31")),
        },
        at(3),
    )
    .await
    .expect("link");
    for (table, uid, id) in [(ManagedTable::Memberships, "uid-30", &m.id), (ManagedTable::TenantLinks, "uid-31", &l.id)]
    {
        let found = ownership::find_by_uid(&mut c, table, uid).await.expect("find");
        assert_eq!(found.map(|r| r.id), Some(id.clone()), "{table:?}");
    }
    assert_eq!(ManagedTable::from_kind("TenantLink"), Some(ManagedTable::TenantLinks));
}
