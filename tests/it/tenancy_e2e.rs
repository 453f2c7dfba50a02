//! Tenants on one cluster and one PostgreSQL database, each namespace with its own operator
//! (namespace mode, one cluster identity): an attacker with edit rights in its own namespace
//! tries to reach the victim namespace's organization, rows and sync records. Each attempt is
//! refused on the attacker's object with its reason, writes nothing and mails nothing, and the
//! victim's rows stay as they were.

use std::time::Duration;

use accountops::api::{Account, Organization, ProvisioningSync, TenantLink};
use accountops::store::testkit::TestDatabase;
use accountops::store::{ManagedTable, Owner, Store, accounts, offers, syncs};
use kube::api::Api;
use kube::core::NamespaceResourceScope;

use crate::harness::{self, TestEnv};
use crate::store_pg::{self, PgDatabase};
use crate::support::eventually;
use crate::support::operator::Operator;
use crate::support::smtp::{Security, SmtpServer};
use crate::tenant_link_e2e::{partner_admin, wait_member_ready};

const RESYNC: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(90);
/// Both operators record this cluster identity: the namespace is the only boundary.
const CLUSTER: &str = "shared-cluster";

fn account(name: &str, annotations: &str, policy: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Account\nmetadata:\n  name: {name}\n{annotations}spec:\n  \
         legalName: {name} GmbH\n  billingAddress: {{street: [\"Hafenstraße 1\"], city: Hamburg, postalCode: \"20457\", \
         country: DE}}\n  billingEmail: billing@{name}.example\n  currency: EUR\n  deletionPolicy: {policy}\n"
    )
}

fn organization(name: &str, account: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Organization\nmetadata: {{name: {name}}}\nspec:\n  \
         accountRef: {{name: {account}}}\n  displayName: {name}\n  roles: [{{name: Admin, permissions: [members.manage]}}]\n"
    )
}

fn annotation(key: &str, value: &str) -> String {
    format!("  annotations:\n    {key}: \"{value}\"\n")
}

struct Tenants {
    victim: TestEnv,
    attacker: TestEnv,
    db: PgDatabase,
    smtp: SmtpServer,
    _operators: (Operator, Operator),
}

async fn tenants() -> Option<Tenants> {
    let victim = harness::test_env().await?;
    let attacker = harness::test_env().await?;
    let db = store_pg::fresh().await?;
    db.store().migrate().await.expect("migrate");
    let smtp = SmtpServer::start(Security::Plain).await?;
    let smtp_url = format!("--smtp-url={}", smtp.url());
    let a = Operator::start_with(&victim, &db.url, CLUSTER, RESYNC, &[smtp_url.as_str()]);
    let b = Operator::start_with(&attacker, &db.url, CLUSTER, RESYNC, &[smtp_url.as_str()]);
    Some(Tenants { victim, attacker, db, smtp, _operators: (a, b) })
}

/// `(status, reason, message)` of the Ready condition once its reason is `want`.
async fn wait_ready<K>(env: &TestEnv, name: &str, want: &str) -> (String, String)
where
    K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + serde::Serialize,
{
    let api: Api<K> = env.api();
    eventually(&format!("{name} Ready reason {want}"), WAIT, || async {
        let object = serde_json::to_value(api.get(name).await.ok()?).ok()?;
        let conditions = object["status"]["conditions"].as_array()?.clone();
        let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
        let said = (ready["status"].as_str()?.to_owned(), ready["message"].as_str()?.to_owned());
        (ready["reason"] == want).then_some(said)
    })
    .await
}

async fn count(store: &Store, sql: &'static str, bind: &str) -> i64 {
    sqlx::query_scalar(sql).bind(bind.to_owned()).fetch_one(store.pool()).await.expect(sql)
}

async fn organization_id(env: &TestEnv, name: &str) -> String {
    let api: Api<Organization> = env.api();
    eventually(&format!("{name}'s ID"), WAIT, || async { api.get(name).await.ok()?.status?.organization_id }).await
}

async fn account_id(env: &TestEnv, name: &str) -> String {
    let api: Api<Account> = env.api();
    eventually(&format!("{name}'s ID"), WAIT, || async {
        let a = api.get(name).await.ok()?;
        let ready = a.status.as_ref()?.conditions.0.iter().any(|c| c.type_ == "Ready" && c.reason == "Available");
        ready.then_some(a.status?.account_id).flatten()
    })
    .await
}

#[tokio::test]
async fn a_partner_invitation_never_reaches_another_tenants_organization_through_an_address_of_the_attacker() {
    let Some(t) = tenants().await else { return };
    t.victim.apply(&(account("victim", "", "Delete") + "---\n" + &organization("victim-org", "victim"))).await;
    t.victim.apply(&partner_admin("victim-org", "boss@victim.example")).await;
    wait_member_ready(&t.victim, "victim-org-admin").await;
    let victim_org = organization_id(&t.victim, "victim-org").await;
    t.attacker.apply(&(account("evil", "", "Delete") + "---\n" + &organization("evil-org", "evil"))).await;
    organization_id(&t.attacker, "evil-org").await;
    for (name, role) in [("hijack-customer", "Customer"), ("hijack-partner", "Partner")] {
        let link = format!(
            "apiVersion: accountops.dev/v1alpha1\nkind: TenantLink\nmetadata: {{name: {name}}}\nspec:\n  \
             organizationRef: {{name: evil-org}}\n  partnerInvitation:\n    organizationId: {victim_org}\n    \
             organizationRole: {role}\n    adminEmail: mallory@evil.example\n  grantedRoles: [Admin]\n  \
             members:\n    - {{email: mole@evil.example, role: Admin}}\n"
        );
        t.attacker.apply(&link).await;
        let (status, message) = wait_ready::<TenantLink>(&t.attacker, name, "AdminNotInPartner").await;
        assert_eq!(status, "False");
        assert!(message.contains("mallory@evil.example") && message.contains(&victim_org), "{message}");
    }
    // Refused before anything is written: no link, no invitation, no mail, no member placed.
    let store = t.db.store();
    let links = "SELECT COUNT(*) FROM tenant_links WHERE provider_organization_id = $1 OR tenant_organization_id = $1";
    assert_eq!(count(store, links, &victim_org).await, 0);
    assert_eq!(count(store, "SELECT COUNT(*) FROM mail_outbox WHERE recipient LIKE $1", "%evil.example%").await, 0);
    assert_eq!(count(store, "SELECT COUNT(*) FROM invitations WHERE email LIKE $1", "%evil.example%").await, 0);
    let members = "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND revoked_at IS NULL";
    assert_eq!(count(store, members, &victim_org).await, 1, "only the victim's own administrator");
    assert!(t.smtp.messages().iter().all(|m| !m.header("To").unwrap_or_default().contains("evil.example")));
}

#[tokio::test]
async fn an_import_takes_only_what_the_namespace_released_or_was_offered() {
    let Some(t) = tenants().await else { return };
    let store = t.db.store();
    // The victim lets go of an account (deletionPolicy Orphan): the row stays, released.
    t.victim.apply(&account("released", "", "Orphan")).await;
    let released = account_id(&t.victim, "released").await;
    t.victim.kubectl(["delete", "account", "released", "--timeout=60s"]).await.ok();
    let before = {
        let mut conn = store.acquire().await.expect("conn");
        accounts::find(&mut conn, &released).await.expect("read").expect("the row stays")
    };
    assert!(before.owner.as_ref().is_some_and(|o| o.uid.is_none() && o.namespace == t.victim.ns), "{before:?}");
    // A platform row nobody manages (the web app's).
    let webapp = {
        let mut conn = store.acquire().await.expect("conn");
        let new = accounts::NewAccount { details: before.details.clone(), owner: None };
        accounts::insert(&mut conn, &new, jiff::Timestamp::now()).await.expect("insert")
    };
    for (name, id) in [("grab-released", &released), ("grab-webapp", &webapp.id)] {
        let external = annotation("accountops.dev/external-id", id);
        t.attacker.apply(&account(name, &external, "Delete")).await;
        let (status, message) = wait_ready::<Account>(&t.attacker, name, "NotOffered").await;
        assert_eq!(status, "False");
        assert!(message.contains(id.as_str()) && message.contains("import_offers"), "{message}");
    }
    let mut conn = store.acquire().await.expect("conn");
    assert_eq!(
        accounts::find(&mut conn, &released).await.expect("read"),
        Some(before),
        "the victim's row is untouched"
    );
    assert_eq!(accounts::find(&mut conn, &webapp.id).await.expect("read"), Some(webapp.clone()));
    // The platform offers its row to the attacker's namespace: now it may be imported.
    offers::offer(&mut conn, ManagedTable::Accounts, &webapp.id, CLUSTER, &t.attacker.ns, jiff::Timestamp::now())
        .await
        .expect("offer");
    drop(conn);
    wait_ready::<Account>(&t.attacker, "grab-webapp", "Available").await;
    // And the victim's own namespace takes back what it released, without any offer.
    t.victim.apply(&account("again", &annotation("accountops.dev/external-id", &released), "Delete")).await;
    wait_ready::<Account>(&t.victim, "again", "Available").await;
}

#[tokio::test]
async fn a_sync_never_imports_another_tenants_record() {
    let Some(t) = tenants().await else { return };
    let store = t.db.store();
    t.victim.apply(&account("victim", "", "Delete")).await;
    let victim_account = account_id(&t.victim, "victim").await;
    t.attacker.apply(&account("evil", "", "Delete")).await;
    account_id(&t.attacker, "evil").await;
    // The victim's live sync record, and one of the victim's account offered to the attacker.
    let victim_owner = Owner {
        cluster: CLUSTER.into(),
        namespace: t.victim.ns.clone(),
        name: "victim-sync".into(),
        uid: "uid-victim-sync".into(),
    };
    let (live, offered) = {
        let mut conn = store.acquire().await.expect("conn");
        let now = jiff::Timestamp::now();
        let new = |owner| syncs::NewProvisioningSync {
            account_id: victim_account.clone(),
            endpoint: "https://scim.victim.example/scim/v2".into(),
            owner,
        };
        let live = syncs::insert(&mut conn, &new(Some(victim_owner.clone())), now).await.expect("insert");
        let offered = syncs::insert(&mut conn, &new(None), now).await.expect("insert");
        offers::offer(&mut conn, ManagedTable::ProvisioningSyncs, &offered.id, CLUSTER, &t.attacker.ns, now)
            .await
            .expect("offer");
        (live, offered)
    };
    t.attacker
        .apply(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: scim-credentials}\ntype: accountops.dev/scim-credentials\n\
             stringData: {token: attacker-token}\n",
        )
        .await;
    for (name, id, reason) in
        [("steal-live", &live.id, "OwnedElsewhere"), ("steal-offered", &offered.id, "AccountMismatch")]
    {
        let sync = format!(
            "apiVersion: accountops.dev/v1alpha1\nkind: ProvisioningSync\nmetadata:\n  name: {name}\n{}spec:\n  \
             accountRef: {{name: evil}}\n  endpoint:\n    url: http://127.0.0.1:9/scim/v2\n    \
             credentialsSecretRef: {{name: scim-credentials}}\n  resyncInterval: 1m\n  portalUrl: https://portal.evil.example/\n",
            annotation("accountops.dev/external-id", id)
        );
        t.attacker.apply(&sync).await;
        let (status, message) = wait_ready::<ProvisioningSync>(&t.attacker, name, reason).await;
        assert_eq!(status, "False");
        assert!(message.contains(id.as_str()), "{message}");
    }
    // The victim's records are as they were: still owned, still the victim's account.
    let mut conn = store.acquire().await.expect("conn");
    assert_eq!(syncs::find(&mut conn, &live.id).await.expect("read"), Some(live));
    assert_eq!(syncs::find(&mut conn, &offered.id).await.expect("read"), Some(offered));
    let created = "SELECT COUNT(*) FROM provisioning_syncs WHERE owner_namespace = $1";
    assert_eq!(count(store, created, &t.attacker.ns).await, 0, "no record of the attacker's either");
}
