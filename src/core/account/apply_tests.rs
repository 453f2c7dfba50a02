//! Account plans carried out on an in-memory SQLite database.

use super::*;
use crate::api::DeletionPolicy;
use crate::api::Reason;
use crate::core::fixtures::*;
use crate::core::outcome::{Action, Change};
use crate::core::plan::Intent;
use crate::store::accounts::NewAccount;
use crate::store::organizations::NewOrganization;
use crate::store::{Store, StoredOwner};

fn spec() -> AccountSpec {
    account_spec(ACCOUNT_YAML)
}

fn desired(uid: &str) -> DesiredAccount {
    DesiredAccount::new(owner("acme", uid), spec(), false, Flags::default())
}

/// The same object, now being deleted with `policy`.
fn deleting(d: &DesiredAccount, policy: DeletionPolicy) -> DesiredAccount {
    DesiredAccount { intent: Intent::Deleting(policy), ..d.clone() }
}

async fn row(store: &Store, id: &str) -> Account {
    let mut conn = store.acquire().await.expect("a connection");
    accounts::get(&mut conn, id).await.expect("the row exists")
}

async fn insert(store: &Store, owner: Option<Owner>) -> Account {
    let mut conn = store.acquire().await.expect("a connection");
    let mut details = details(&account_spec(ACCOUNT_YAML));
    details.legal_name = "ACME (imported)".into();
    accounts::insert(&mut conn, &NewAccount { details, owner }, at("2025-01-01T00:00:00Z")).await.expect("inserted")
}

/// `plan` written in a transaction of its own, committed only when every write succeeds.
async fn apply(store: &Store, plan: &AccountPlan, now: jiff::Timestamp) -> Result<Outcome, CoreError> {
    let mut tx = store.begin().await?;
    let id = super::apply::write(&mut tx, plan, now).await?;
    tx.commit().await.map_err(|source| crate::store::StoreError::Query { what: "commit".into(), source })?;
    Ok(super::apply::outcome(plan, id))
}

async fn created(store: &Store, d: &DesiredAccount) -> String {
    let outcome = reconcile(store, d, now()).await.expect("reconciles");
    assert_eq!(outcome.action, Action::Created);
    outcome.id.expect("an account ID")
}

#[tokio::test]
async fn create_then_replan_is_a_noop() {
    let store = memory_store().await;
    let d = desired(UID);
    // Through observe → plan → write, step by step.
    let observed = {
        let mut conn = store.acquire().await.expect("a connection");
        observe(&mut conn, &d).await.expect("observes")
    };
    let outcome = apply(&store, &plan(&d, &observed), now()).await.expect("applies");
    assert_eq!(outcome.action, Action::Created);
    let id = outcome.id.clone().expect("an account ID");
    assert!(id.starts_with("acct-"), "{id}");
    let stored_row = row(&store, &id).await;
    assert_eq!(stored_row.details, details(&spec()));
    assert_eq!(stored_row.owner, Some(stored(&d.owner, true)));

    let later = at("2025-03-02T00:00:00Z");
    let again = reconcile(&store, &d, later).await.expect("reconciles");
    assert_eq!((again.action, again.id.as_deref()), (Action::Unchanged, Some(id.as_str())));
    assert_eq!(again.children.map(|c| c.count), Some(0));
    assert_eq!(row(&store, &id).await.updated_at, now(), "a no-op writes nothing");
}

#[tokio::test]
async fn an_update_changes_the_row_and_drift_is_corrected() {
    let store = memory_store().await;
    let mut d = desired(UID);
    let id = created(&store, &d).await;

    let mut edited = spec();
    edited.billing_address.city = "Kraków".into();
    d.intent = Intent::Present(edited);
    let later = at("2025-03-02T00:00:00Z");
    let outcome = reconcile(&store, &d, later).await.expect("reconciles");
    assert_eq!(outcome.action, Action::Updated);
    assert_eq!(outcome.changes, [Change::new("billingAddress.city", Some("Warszawa".into()), Some("Kraków".into()))]);
    let updated = row(&store, &id).await;
    assert_eq!((updated.details.billing_address.city.as_str(), updated.updated_at), ("Kraków", later));

    // Someone edits the database; the next reconcile puts the spec back.
    {
        let mut conn = store.acquire().await.expect("a connection");
        let mut edited = updated.details.clone();
        edited.billing_email = "someone@else.example".into();
        accounts::update(&mut conn, &id, &edited, later).await.expect("out-of-band edit");
    }
    let fixed = reconcile(&store, &d, later).await.expect("reconciles");
    assert_eq!(fixed.action, Action::Updated);
    assert_eq!(fixed.changes[0].field, "billingEmail");
    assert_eq!(row(&store, &id).await.details.billing_email, "billing@acme.example");
}

#[tokio::test]
async fn archive_keeps_the_row_closed_and_released() {
    let store = memory_store().await;
    let d = desired(UID);
    let id = created(&store, &d).await;
    let d = deleting(&d, DeletionPolicy::Delete);
    let later = at("2025-03-02T00:00:00Z");
    let outcome = reconcile(&store, &d, later).await.expect("reconciles");
    assert_eq!((outcome.action, outcome.id.as_deref()), (Action::Archived, Some(id.as_str())));
    let archived = row(&store, &id).await;
    assert_eq!(archived.state, LifecycleState::Archived);
    assert_eq!(archived.archived_at, Some(later));
    assert_eq!(archived.details, details(&spec()), "business data is kept");
    assert_eq!(archived.owner, Some(stored(&d.owner, false)), "released, the names kept as a record");
    // The finalizer may be retried: the second pass finds nothing to do.
    assert_eq!(reconcile(&store, &d, later).await.expect("reconciles").action, Action::Gone);
}

#[tokio::test]
async fn deletion_waits_for_account_level_memberships() {
    use crate::core::membership::{self, DesiredMembership};
    let store = memory_store().await;
    let d = desired(UID);
    let id = created(&store, &d).await;
    let spec: crate::api::MembershipSpec =
        serde_yaml::from_str("accountRef: {name: acme}\nemail: billing.contact@acme.example\nlogin: false\n")
            .expect("spec");
    let member = DesiredMembership::new(owner("contact", "uid-contact"), spec, false, Flags::default());
    let mail = crate::mail::MailSettings::default();
    assert!(membership::reconcile(&store, &member, now(), &mail).await.expect("member").is_ready());
    let d = deleting(&d, DeletionPolicy::Delete);
    let outcome = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!((outcome.action, outcome.reason), (Action::DeletionBlocked, Reason::HasMemberships));
    assert!(outcome.message.contains("account-level memberships"), "{}", outcome.message);
    assert_eq!(row(&store, &id).await.state, LifecycleState::Active, "no archived account with an active member");
    let gone = DesiredMembership { intent: Intent::Deleting(DeletionPolicy::Delete), ..member };
    membership::reconcile(&store, &gone, now(), &mail).await.expect("member deleted");
    assert_eq!(reconcile(&store, &d, now()).await.expect("reconciles").action, Action::Archived);
}

#[tokio::test]
async fn deletion_waits_for_organizations() {
    let store = memory_store().await;
    let d = desired(UID);
    let id = created(&store, &d).await;
    let org = {
        let mut conn = store.acquire().await.expect("a connection");
        let new = NewOrganization { account_id: id.clone(), name: "Eng".into(), service_provider: false, owner: None };
        organizations::insert(&mut conn, &new, now()).await.expect("an organization")
    };
    let d = deleting(&d, DeletionPolicy::Delete);
    let outcome = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!((outcome.action, outcome.reason), (Action::DeletionBlocked, Reason::HasOrganizations));
    assert_eq!(outcome.children.map(|c| c.ids), Some(vec![org.id.clone()]));
    assert_eq!(row(&store, &id).await.state, LifecycleState::Active);
    {
        let mut conn = store.acquire().await.expect("a connection");
        organizations::archive(&mut conn, &org.id, now()).await.expect("archived");
    }
    assert_eq!(reconcile(&store, &d, now()).await.expect("reconciles").action, Action::Archived);
}

#[tokio::test]
async fn orphan_clears_the_owner_and_leaves_the_row() {
    let store = memory_store().await;
    let d = desired(UID);
    let id = created(&store, &d).await;
    let d = deleting(&d, DeletionPolicy::Orphan);
    assert_eq!(reconcile(&store, &d, now()).await.expect("reconciles").action, Action::Orphaned);
    let left = row(&store, &id).await;
    assert_eq!(left.state, LifecycleState::Orphaned);
    assert_eq!(left.owner.and_then(|o| o.uid), None);
    assert_eq!(left.details, details(&spec()));
}

#[tokio::test]
async fn import_adopts_an_unowned_row_once_offered() {
    let store = memory_store().await;
    let existing = insert(&store, None).await;
    let mut d = desired(UID);
    d.flags.external_id = Some(existing.id.clone());
    let refused = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!((refused.action, refused.reason), (Action::Conflict, Reason::NotOffered));
    assert_eq!(row(&store, &existing.id).await, existing, "nothing written without an offer");
    let mut conn = store.acquire().await.expect("conn");
    let (cluster, namespace) = (d.owner.cluster.clone(), d.owner.namespace.clone());
    crate::store::offers::offer(&mut conn, ManagedTable::Accounts, &existing.id, "another-cluster", &namespace, now())
        .await
        .expect("offer");
    crate::store::offers::offer(&mut conn, ManagedTable::Accounts, &existing.id, &cluster, "another-namespace", now())
        .await
        .expect("offer");
    drop(conn);
    let refused = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!(refused.reason, "NotOffered", "an offer to another cluster or namespace is not one to this");
    let mut conn = store.acquire().await.expect("conn");
    crate::store::offers::offer(&mut conn, ManagedTable::Accounts, &existing.id, &cluster, &namespace, now())
        .await
        .expect("offer");
    drop(conn);
    let outcome = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!((outcome.action, outcome.id.as_deref()), (Action::Imported, Some(existing.id.as_str())));
    let imported = row(&store, &existing.id).await;
    assert_eq!(imported.owner, Some(stored(&d.owner, true)));
    assert_eq!(imported.details.legal_name, "Acme Sp. z o.o.", "the spec is applied on import");
    assert_eq!(reconcile(&store, &d, now()).await.expect("reconciles").action, Action::Unchanged);
}

#[tokio::test]
async fn a_conflict_writes_nothing() {
    let store = memory_store().await;
    let other = Owner { namespace: "sales".into(), name: "globex".into(), uid: "uid-globex".into(), ..owner("x", "x") };
    let theirs = insert(&store, Some(other.clone())).await;
    let mut d = desired(UID);
    d.flags.external_id = Some(theirs.id.clone());
    d.flags.adopt = true;
    let outcome = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!((outcome.action, outcome.reason), (Action::Conflict, Reason::OwnedElsewhere));
    assert!(outcome.message.contains("sales/globex"), "{}", outcome.message);
    assert_eq!(row(&store, &theirs.id).await, theirs, "not a column changed");
    assert_eq!(accounts::list(&mut store.acquire().await.expect("conn")).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_recreated_object_adopts_its_archived_row_only_when_asked() {
    let store = memory_store().await;
    let first = desired(UID);
    let id = created(&store, &first).await;
    assert_eq!(
        reconcile(&store, &deleting(&first, DeletionPolicy::Delete), now()).await.expect("reconciles").action,
        Action::Archived
    );

    let mut second = desired("uid-2");
    let outcome = reconcile(&store, &second, now()).await.expect("reconciles");
    assert_eq!((outcome.action, outcome.id.as_deref()), (Action::AdoptionRequired, Some(id.as_str())));
    assert_eq!(row(&store, &id).await.state, LifecycleState::Archived);

    second.flags.adopt = true;
    let outcome = reconcile(&store, &second, now()).await.expect("reconciles");
    assert_eq!((outcome.action, outcome.id.as_deref()), (Action::Adopted, Some(id.as_str())));
    let back = row(&store, &id).await;
    assert_eq!((back.state, back.archived_at), (LifecycleState::Active, None));
    assert_eq!(back.owner, Some(stored(&second.owner, true)));
}

#[tokio::test]
async fn a_failed_write_rolls_back_the_whole_plan() {
    let store = memory_store().await;
    let existing = insert(&store, None).await;
    let mut bad = details(&account_spec(ACCOUNT_YAML));
    bad.billing_address.street.clear(); // the store refuses an address without a street line
    let plan = AccountPlan::TakeOver {
        how: crate::core::TakeOver::Import,
        id: existing.id.clone(),
        owner: owner("acme", UID),
        previous: None,
        reactivate: false,
        write: Some(bad),
        changes: vec![],
    };
    let err = apply(&store, &plan, now()).await.expect_err("the update fails");
    assert!(!err.is_transient(), "{err}");
    let after = row(&store, &existing.id).await;
    assert_eq!(after.owner, None::<StoredOwner>, "the adoption before the failure was rolled back");
}
