//! Checks of accounts, organizations, roles and groups.

use super::fixtures::*;
use crate::store::accounts::{self, LifecycleState, NewAccount};
use crate::store::groups::{self, NewGroup};
use crate::store::organizations::{self, OrganizationUpdate};
use crate::store::roles::{self, NewRole};
use crate::store::{Store, StoreError};

pub async fn accounts_crud(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    assert!(acct.id.starts_with("acct-"), "{}", acct.id);
    assert_eq!(acct.state, LifecycleState::Active);
    assert_eq!(acct.details, account_details("Acme sp. z o.o."));
    assert_eq!((acct.created_at, acct.updated_at, acct.archived_at), (at(0), at(0), None));
    assert_eq!(accounts::get(&mut c, &acct.id).await.expect("get"), acct);
    assert_eq!(accounts::list(&mut c).await.expect("list"), vec![acct.clone()]);

    let mut details = account_details("Acme S.A.");
    details.billing_address.street = vec!["Main St 1".into()];
    details.billing_address.region = None;
    details.tax_id = None;
    let updated = accounts::update(&mut c, &acct.id, &details, at(10)).await.expect("update");
    assert_eq!(updated.details, details);
    assert_eq!((updated.created_at, updated.updated_at), (at(0), at(10)));
    assert_eq!(accounts::get(&mut c, &acct.id).await.expect("get"), updated);

    let archived = accounts::archive(&mut c, &acct.id, at(20)).await.expect("archive");
    assert_eq!((archived.state, archived.archived_at), (LifecycleState::Archived, Some(at(20))));
    let again = accounts::archive(&mut c, &acct.id, at(30)).await.expect("archive again");
    assert_eq!(again, archived, "archiving twice keeps the first time");
    let orphan = accounts::orphan(&mut c, &acct.id, at(35)).await.expect("orphan");
    assert_eq!(orphan.state, LifecycleState::Archived, "an archived account stays archived");
    let back = accounts::reactivate(&mut c, &acct.id, at(40)).await.expect("reactivate");
    assert_eq!((back.state, back.archived_at), (LifecycleState::Active, None));
    assert_eq!(accounts::list(&mut c).await.expect("list").len(), 1, "nothing is deleted");

    let mut four = account_details("Too Long Address");
    four.billing_address.street = vec!["a".into(), "b".into(), "c".into(), "d".into()];
    let new = NewAccount { details: four, owner: None };
    let err = fails(accounts::insert(&mut c, &new, at(1)).await);
    assert!(matches!(err, StoreError::Invalid { table: "accounts", .. }), "{err:?}");
    assert!(err.to_string().contains("1 to 3 street lines"), "{err}");
}

pub async fn accounts_constraints(store: &Store) {
    let mut c = conn(store).await;
    let mut d = account_details("Lower Case Country");
    d.billing_address.country = "pl".into();
    let err = fails(accounts::insert(&mut c, &NewAccount { details: d, owner: None }, at(0)).await);
    assert_check(&err, "accounts", "accounts_country_alpha2");
    let mut d = account_details("Bad Currency");
    d.currency = "ZŁ".into();
    let err = fails(accounts::insert(&mut c, &NewAccount { details: d, owner: None }, at(0)).await);
    assert_check(&err, "accounts", "accounts_currency_iso4217");
    let acct = account(&mut c, None).await;
    let mut d = account_details("Acme");
    d.billing_address.country = "POL".into();
    let err = fails(accounts::update(&mut c, &acct.id, &d, at(1)).await);
    assert_check(&err, "accounts", "accounts_country_alpha2");
    assert!(err.to_string().contains(&acct.id), "the message names the row: {err}");
}

pub async fn organizations_crud(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let org = organization(&mut c, &acct.id, "Engineering").await;
    assert!(org.id.starts_with("org-"), "{}", org.id);
    assert_eq!((org.account_id.as_str(), org.name.as_str()), (acct.id.as_str(), "Engineering"));
    assert!(!org.service_provider);
    assert_eq!(organizations::get(&mut c, &org.id).await.expect("get"), org);
    let second = organization(&mut c, &acct.id, "Support").await;
    let mut listed = organizations::list_by_account(&mut c, &acct.id).await.expect("list");
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![org.clone(), second.clone()];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, expected);
    assert_eq!(organizations::count_live_by_account(&mut c, &acct.id).await.expect("count"), 2);

    let update = OrganizationUpdate { name: "Platform".into(), service_provider: true };
    let updated = organizations::update(&mut c, &org.id, &update, at(5)).await.expect("update");
    assert_eq!((updated.name.as_str(), updated.service_provider, updated.updated_at), ("Platform", true, at(5)));
    assert_eq!(organizations::get(&mut c, &org.id).await.expect("get"), updated);

    let archived = organizations::archive(&mut c, &second.id, at(6)).await.expect("archive");
    assert_eq!((archived.state, archived.archived_at), (LifecycleState::Archived, Some(at(6))));
    assert_eq!(organizations::count_live_by_account(&mut c, &acct.id).await.expect("count"), 1);
    let orphan = organizations::orphan(&mut c, &org.id, at(7)).await.expect("orphan");
    assert_eq!(orphan.state, LifecycleState::Orphaned);
    let back = organizations::reactivate(&mut c, &org.id, at(8)).await.expect("reactivate");
    assert_eq!(back.state, LifecycleState::Active);
}

pub async fn roles_crud_and_unique_names(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let org = organization(&mut c, &acct.id, "Engineering").await;
    let new = NewRole {
        organization_id: org.id.clone(),
        name: "Engineer".into(),
        permissions: vec!["tickets.read".into(), "tickets.write".into()],
    };
    let role = roles::insert(&mut c, &new, at(1)).await.expect("insert");
    assert!(role.id.starts_with("role-"), "{}", role.id);
    assert_eq!((role.name.as_str(), role.permissions.clone()), ("Engineer", new.permissions.clone()));
    let err = fails(roles::insert(&mut c, &new, at(2)).await);
    assert_unique(&err, "organization_roles", "organization_id, name", &format!("{}, Engineer", org.id));

    let perms = vec!["tickets.read".to_owned()];
    let updated = roles::update(&mut c, &role.id, &perms, at(3)).await.expect("update");
    assert_eq!((updated.permissions.clone(), updated.updated_at), (perms.clone(), at(3)));
    let archived = roles::archive(&mut c, &role.id, at(4)).await.expect("archive");
    assert_eq!(archived.archived_at, Some(at(4)));

    // upsert revives the archived role in place and keeps its ID.
    let revived = roles::upsert(&mut c, &new, at(5)).await.expect("upsert");
    assert_eq!((revived.id.as_str(), revived.archived_at), (role.id.as_str(), None));
    assert_eq!((revived.permissions.clone(), revived.updated_at), (new.permissions.clone(), at(5)));
    let same = roles::upsert(&mut c, &new, at(6)).await.expect("upsert unchanged");
    assert_eq!(same.updated_at, at(5), "an unchanged upsert does not touch updated_at");
    let admin = NewRole { name: "Admin".into(), ..new.clone() };
    let admin = roles::upsert(&mut c, &admin, at(7)).await.expect("upsert new");
    let names: Vec<String> = roles::list(&mut c, &org.id).await.expect("list").into_iter().map(|r| r.name).collect();
    assert_eq!(names, vec!["Admin", "Engineer"]);
    assert_eq!(roles::find(&mut c, &org.id, "Admin").await.expect("find"), Some(admin));
    assert_eq!(roles::find(&mut c, &org.id, "Nobody").await.expect("find"), None);
}

pub async fn groups_crud_and_unique_names(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let org = organization(&mut c, &acct.id, "Engineering").await;
    let new =
        NewGroup { organization_id: org.id.clone(), name: "Helpdesk".into(), description: Some("First line".into()) };
    let group = groups::insert(&mut c, &new, at(1)).await.expect("insert");
    assert!(group.id.starts_with("grp-"), "{}", group.id);
    let err = fails(groups::insert(&mut c, &new, at(2)).await);
    assert_unique(&err, "organization_groups", "organization_id, name", &format!("{}, Helpdesk", org.id));
    let updated = groups::update(&mut c, &group.id, None, at(3)).await.expect("update");
    assert_eq!(updated.description, None);
    let archived = groups::archive(&mut c, &group.id, at(4)).await.expect("archive");
    assert_eq!(archived.archived_at, Some(at(4)));
    let revived = groups::upsert(&mut c, &new, at(5)).await.expect("upsert");
    assert_eq!((revived.id.as_str(), revived.archived_at), (group.id.as_str(), None));
    assert_eq!(revived.description.as_deref(), Some("First line"));
    let same = groups::upsert(&mut c, &new, at(6)).await.expect("upsert unchanged");
    assert_eq!(same.updated_at, at(5));
    // No description (NULL) twice is no change either.
    let quiet = NewGroup { name: "Quiet".into(), description: None, ..new.clone() };
    let first = groups::upsert(&mut c, &quiet, at(7)).await.expect("upsert without description");
    let again = groups::upsert(&mut c, &quiet, at(8)).await.expect("upsert unchanged");
    assert_eq!((again.id.as_str(), again.updated_at), (first.id.as_str(), at(7)), "NULL = NULL here");
    assert_eq!(groups::list(&mut c, &org.id).await.expect("list"), vec![same, again]);
}
