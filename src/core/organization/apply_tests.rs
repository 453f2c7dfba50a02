//! Organization plans carried out on an in-memory SQLite database.

use super::*;
use crate::api::DeletionPolicy;
use crate::api::Reason;
use crate::core::account::{self, DesiredAccount};
use crate::core::fixtures::*;
use crate::core::outcome::Action;
use crate::core::plan::Intent;
use crate::store::accounts::LifecycleState;
use crate::store::memberships::{MembershipPhase, MembershipSettings, NewMembership, Scope};
use crate::store::users::{self, NewUser};

fn desired() -> DesiredOrganization {
    DesiredOrganization::new(owner("eng", UID), organization_spec(ORGANIZATION_YAML), false, Flags::default())
}

/// The same object, now being deleted with `policy`.
fn deleting(d: &DesiredOrganization, policy: DeletionPolicy) -> DesiredOrganization {
    DesiredOrganization { intent: Intent::Deleting(policy), ..d.clone() }
}

/// The Account object `billing/acme`, reconciled; returns its ID.
async fn account_ready(store: &Store) -> String {
    let d = DesiredAccount::new(owner("acme", "uid-acme"), account_spec(ACCOUNT_YAML), false, Flags::default());
    account::reconcile(store, &d, now()).await.expect("account reconciles").id.expect("an account ID")
}

fn live_names<T>(rows: &[T], name: fn(&T) -> (&str, bool)) -> Vec<String> {
    rows.iter().map(name).filter(|(_, live)| *live).map(|(n, _)| n.to_owned()).collect()
}

#[tokio::test]
async fn waits_for_the_account_then_creates_and_settles() {
    let store = memory_store().await;
    let d = desired();
    let waiting = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!((waiting.action, waiting.reason), (Action::Waiting, Reason::AccountNotReady));

    let account_id = account_ready(&store).await;
    let created = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!(created.action, Action::Created);
    assert_eq!(created.account_id.as_deref(), Some(account_id.as_str()));
    let id = created.id.expect("an organization ID");
    assert!(id.starts_with("org-"), "{id}");

    let mut conn = store.acquire().await.expect("a connection");
    let row = organizations::get(&mut conn, &id).await.expect("the row");
    assert_eq!((row.name.as_str(), row.account_id.as_str()), ("Acme Engineering", account_id.as_str()));
    let roles = roles::list(&mut conn, &id).await.expect("roles");
    assert_eq!(roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Admin", "Engineer"]);
    assert_eq!(roles[0].permissions, ["org.admin", "billing.read"]);
    assert_eq!(groups::list(&mut conn, &id).await.expect("groups").len(), 2);
    drop(conn);

    let again = reconcile(&store, &d, at("2025-03-02T00:00:00Z")).await.expect("reconciles");
    assert_eq!((again.action, again.id.as_deref()), (Action::Unchanged, Some(id.as_str())));
    assert_eq!(again.account_id.as_deref(), Some(account_id.as_str()));
}

#[tokio::test]
async fn an_update_rewrites_fields_and_retires_dropped_roles_and_groups() {
    let store = memory_store().await;
    account_ready(&store).await;
    let mut d = desired();
    let id = reconcile(&store, &d, now()).await.expect("reconciles").id.expect("an ID");

    d.intent = Intent::Present(organization_spec(
        r#"
accountRef: {name: acme}
displayName: Acme R&D
roles:
  - name: Admin
    permissions: [org.admin]
groups:
  - name: staff
    description: Everyone
"#,
    ));
    let later = at("2025-03-02T00:00:00Z");
    let outcome = reconcile(&store, &d, later).await.expect("reconciles");
    assert_eq!(outcome.action, Action::Updated);
    let fields: Vec<&str> = outcome.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        ["displayName", "roles[Admin].permissions", "roles[Engineer]", "groups[staff].description", "groups[oncall]"]
    );

    let mut conn = store.acquire().await.expect("a connection");
    assert_eq!(organizations::get(&mut conn, &id).await.expect("row").name, "Acme R&D");
    let roles = roles::list(&mut conn, &id).await.expect("roles");
    assert_eq!(live_names(&roles, |r| (r.name.as_str(), r.archived_at.is_none())), ["Admin"]);
    assert_eq!(roles.len(), 2, "the dropped role is archived, not deleted");
    let groups = groups::list(&mut conn, &id).await.expect("groups");
    assert_eq!(live_names(&groups, |g| (g.name.as_str(), g.archived_at.is_none())), ["staff"]);
    drop(conn);
    assert_eq!(reconcile(&store, &d, later).await.expect("reconciles").action, Action::Unchanged);
}

#[tokio::test]
async fn deletion_waits_for_memberships_then_archives() {
    let store = memory_store().await;
    account_ready(&store).await;
    let d = desired();
    let id = reconcile(&store, &d, now()).await.expect("reconciles").id.expect("an ID");
    let membership = {
        let mut conn = store.acquire().await.expect("a connection");
        let user = NewUser { email: "anna@acme.example".into(), display_name: None, phone: None, has_login: true };
        let user = users::insert(&mut conn, &user, now()).await.expect("a user");
        let settings = MembershipSettings { roles: vec![], groups: vec![], notifications: vec![], login: true };
        let new = NewMembership {
            user_id: user.id,
            scope: Scope::Organization(id.clone()),
            settings,
            phase: MembershipPhase::Pending,
            owner: None,
        };
        memberships::insert(&mut conn, &new, now()).await.expect("a membership")
    };

    let d = deleting(&d, DeletionPolicy::Delete);
    let blocked = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!((blocked.action, blocked.reason), (Action::DeletionBlocked, Reason::HasMemberships));
    assert_eq!(blocked.children.map(|c| c.count), Some(1));
    {
        let mut conn = store.acquire().await.expect("a connection");
        assert_eq!(organizations::get(&mut conn, &id).await.expect("row").state, LifecycleState::Active);
        memberships::revoke(&mut conn, &membership.id, now()).await.expect("revoked");
    }
    let done = reconcile(&store, &d, now()).await.expect("reconciles");
    assert_eq!(done.action, Action::Archived);
    let mut conn = store.acquire().await.expect("a connection");
    let row = organizations::get(&mut conn, &id).await.expect("row");
    assert_eq!(row.state, LifecycleState::Archived);
    assert_eq!(row.owner.and_then(|o| o.uid), None);
}

#[tokio::test]
async fn a_provider_turned_off_or_archived_has_its_codes_revoked() {
    use crate::core::provider_code;
    let store = memory_store().await;
    account_ready(&store).await;
    let with = |extra: &str| {
        let spec = organization_spec(&format!("{ORGANIZATION_YAML}{extra}"));
        DesiredOrganization::new(owner("eng", UID), spec, false, Flags::default())
    };
    let provider = with("serviceProvider: {enabled: true}\n");
    let id = reconcile(&store, &provider, now()).await.expect("reconciles").id.expect("id");
    let mut conn = store.acquire().await.expect("conn");
    assert!(organizations::get(&mut conn, &id).await.expect("row").service_provider);
    let (code, _) = provider_code::issue(&mut conn, &id, provider_code::DEFAULT_LIFETIME, now()).await.expect("code");
    drop(conn);

    let off = reconcile(&store, &with("serviceProvider: {enabled: false}\n"), now()).await.expect("reconciles");
    assert_eq!(off.action, Action::Updated);
    let mut conn = store.acquire().await.expect("conn");
    assert!(!organizations::get(&mut conn, &id).await.expect("row").service_provider, "enabled: false is no provider");
    let row = provider_codes::find_by_hash(&mut conn, &code.hash()).await.expect("read").expect("row");
    assert!(row.revoked_at.is_some(), "the open code was revoked");
    drop(conn);
    let again = reconcile(&store, &with("serviceProvider: {enabled: false}\n"), now()).await.expect("reconciles");
    assert_eq!(again.action, Action::Unchanged, "nothing left to revoke");

    // A provider deleted with its codes open: they go with it.
    let id = reconcile(&store, &provider, now()).await.expect("reconciles").id.expect("id");
    let mut conn = store.acquire().await.expect("conn");
    let (code, _) = provider_code::issue(&mut conn, &id, provider_code::DEFAULT_LIFETIME, now()).await.expect("code");
    drop(conn);
    let gone = reconcile(&store, &deleting(&provider, DeletionPolicy::Delete), now()).await.expect("reconciles");
    assert_eq!(gone.action, Action::Archived);
    let mut conn = store.acquire().await.expect("conn");
    let row = provider_codes::find_by_hash(&mut conn, &code.hash()).await.expect("read").expect("row");
    assert!(row.revoked_at.is_some(), "an archived provider's code was revoked");
}
