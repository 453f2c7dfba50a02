//! `accountops run` end to end: the real binary against a real kube-apiserver + etcd and a
//! real PostgreSQL database, driven with kubectl the way a platform team drives it.

use std::time::Duration;

use accountops::api::{Account, Organization};
use accountops::store::accounts::{self, LifecycleState};
use accountops::store::testkit::TestDatabase;
use accountops::store::{ManagedTable, Store, organizations, ownership};
use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};

use crate::harness::{self, TestEnv};
use crate::store_pg::{self, PgDatabase};
use crate::support::eventually;
use crate::support::operator::Operator;
use crate::support::proxy::Proxy;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
const RESYNC: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(60);

struct Setup {
    env: TestEnv,
    db: PgDatabase,
    operator: Operator,
    cluster: String,
}

async fn setup() -> Option<Setup> {
    let env = harness::test_env().await?;
    let db = store_pg::fresh().await?;
    let cluster = format!("test-{}", env.ns);
    let operator = Operator::start(&env, &db.url, &cluster, RESYNC);
    Some(Setup { env, db, operator, cluster })
}

fn condition<'a>(conditions: &'a [accountops::api::Condition], type_: &str) -> Option<&'a accountops::api::Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Waits until the object's Ready condition has `status` (and `reason`, when given) for its
/// current generation; returns the object.
pub async fn wait_ready<K>(api: &Api<K>, name: &str, status: &str, reason: Option<&str>) -> K
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + HasConditions,
{
    eventually(&format!("{name} Ready={status} {reason:?}"), WAIT, || async {
        let obj = api.get_opt(name).await.ok()??;
        let ready = condition(obj.conditions(), "Ready")?;
        let current = ready.observed_generation == obj.meta().generation;
        let matches = format!("{:?}", ready.status) == status && reason.is_none_or(|r| ready.reason == r);
        (current && matches).then_some(obj)
    })
    .await
}

pub trait HasConditions {
    fn conditions(&self) -> &[accountops::api::Condition];
}
impl HasConditions for Account {
    fn conditions(&self) -> &[accountops::api::Condition] {
        self.status.as_ref().map(|s| s.conditions.0.as_slice()).unwrap_or_default()
    }
}
impl HasConditions for Organization {
    fn conditions(&self) -> &[accountops::api::Condition] {
        self.status.as_ref().map(|s| s.conditions.0.as_slice()).unwrap_or_default()
    }
}

async fn owned_id(store: &Store, table: ManagedTable, cluster: &str, ns: &str, name: &str) -> Option<String> {
    let mut conn = store.acquire().await.expect("connection");
    ownership::find_by_owner(&mut conn, table, cluster, ns, name).await.expect("lookup").map(|r| r.id)
}

async fn account_row(store: &Store, id: &str) -> accounts::Account {
    let mut conn = store.acquire().await.expect("connection");
    accounts::get(&mut conn, id).await.expect("account row")
}

async fn events(env: &TestEnv, name: &str) -> String {
    env.kubectl([
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
        "-o",
        "custom-columns=REASON:.reason,NOTE:.note,MESSAGE:.message",
    ])
    .await
    .stdout
}

#[tokio::test]
async fn examples_become_ready_with_the_ids_of_their_rows() {
    let Some(s) = setup().await else { return };
    s.env.kubectl(["apply", "-f", EXAMPLES]).await.ok();
    let accounts: Api<Account> = s.env.api();
    let orgs: Api<Organization> = s.env.api();
    for name in ["acme-polska", "northwind-services"] {
        let account = wait_ready(&accounts, name, "True", Some("Available")).await;
        let id = owned_id(s.db.store(), ManagedTable::Accounts, &s.cluster, &s.env.ns, name).await.expect("row");
        let status = account.status.expect("status");
        assert_eq!(status.account_id.as_deref(), Some(id.as_str()));
        assert_eq!(condition(&status.conditions.0, "Synced").map(|c| c.reason.as_str()), Some("ReconcileSuccess"));
    }
    for name in ["acme-engineering", "acme-retail", "northwind-msp"] {
        let org = wait_ready(&orgs, name, "True", Some("Available")).await;
        let id = owned_id(s.db.store(), ManagedTable::Organizations, &s.cluster, &s.env.ns, name).await.expect("row");
        let status = org.status.expect("status");
        assert_eq!(status.organization_id.as_deref(), Some(id.as_str()));
        let account_name = org.spec.account_ref.name.as_str();
        let account_id = owned_id(s.db.store(), ManagedTable::Accounts, &s.cluster, &s.env.ns, account_name).await;
        assert_eq!(status.account_id, account_id);
    }
    let acme = wait_ready(&accounts, "acme-polska", "True", None).await;
    assert_eq!(acme.status.as_ref().and_then(|s| s.organization_count), Some(2), "{acme:?}");
    let row = account_row(s.db.store(), acme.status.as_ref().and_then(|s| s.account_id.as_deref()).expect("id")).await;
    assert_eq!(row.details.legal_name, "ACME Polska Spółka z ograniczoną odpowiedzialnością");
    assert_eq!(row.details.billing_address.city, "Kraków");
    let listed = s.env.kubectl(["get", "accounts"]).await.ok();
    assert!(listed.stdout.contains("acct-"), "IDs in kubectl get: {}", listed.stdout);
    assert!(events(&s.env, "acme-polska").await.contains("Created"));
}

pub const ACCOUNT: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Account
metadata:
  name: billing
spec:
  legalName: Firma Testowa sp. z o.o.
  billingAddress:
    street: ["ul. Długa 1"]
    city: Gdańsk
    postalCode: "80-827"
    country: PL
  billingEmail: faktury@example.pl
  currency: PLN
"#;

const ORG: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata:
  name: NAME
spec:
  accountRef:
    name: billing
  displayName: Team NAME
  deletionPolicy: POLICY
"#;

fn org(name: &str, policy: &str) -> String {
    ORG.replace("NAME", name).replace("POLICY", policy)
}

#[tokio::test]
async fn billing_edits_update_the_row_and_drift_is_corrected_within_a_resync() {
    let Some(s) = setup().await else { return };
    let accounts: Api<Account> = s.env.api();
    s.env.apply(ACCOUNT).await;
    let account = wait_ready(&accounts, "billing", "True", None).await;
    let id = account.status.and_then(|st| st.account_id).expect("id");

    s.env.apply(&ACCOUNT.replace("city: Gdańsk", "city: Sopot").replace("Firma Testowa", "Firma Nowa")).await;
    eventually("the edit in the row", WAIT, || async {
        let row = account_row(s.db.store(), &id).await;
        (row.details.billing_address.city == "Sopot" && row.details.legal_name == "Firma Nowa sp. z o.o.").then_some(())
    })
    .await;
    wait_ready(&accounts, "billing", "True", None).await;
    assert!(events(&s.env, "billing").await.contains("Updated"));

    // Someone edits the platform database directly.
    sqlx::query("UPDATE accounts SET legal_name = 'Edited Out Of Band' WHERE id = $1")
        .bind(&id)
        .execute(s.db.store().pool())
        .await
        .expect("out-of-band edit");
    eventually("the drift corrected", RESYNC * 10, || async {
        (account_row(s.db.store(), &id).await.details.legal_name == "Firma Nowa sp. z o.o.").then_some(())
    })
    .await;
    eventually("a DriftCorrected event", WAIT, || async {
        events(&s.env, "billing").await.contains("DriftCorrected").then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_account_with_organizations_stays_terminating_until_they_are_gone() {
    let Some(s) = setup().await else { return };
    let accounts: Api<Account> = s.env.api();
    s.env.apply(ACCOUNT).await;
    s.env.apply(&org("one", "Delete")).await;
    s.env.apply(&org("two", "Orphan")).await;
    let orgs: Api<Organization> = s.env.api();
    let one = wait_ready(&orgs, "one", "True", None).await.status.and_then(|st| st.organization_id).expect("id");
    let two = wait_ready(&orgs, "two", "True", None).await.status.and_then(|st| st.organization_id).expect("id");
    let account_id =
        wait_ready(&accounts, "billing", "True", None).await.status.and_then(|st| st.account_id).expect("id");

    s.env.kubectl(["delete", "account", "billing", "--wait=false"]).await.ok();
    let blocked = wait_ready(&accounts, "billing", "False", Some("HasOrganizations")).await;
    assert!(blocked.meta().deletion_timestamp.is_some());
    let message = condition(blocked.conditions(), "Ready").map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains(&one) || message.contains('2'), "the message says what blocks it: {message}");
    assert!(events(&s.env, "billing").await.contains("DeletionBlocked"));

    // Delete archives; Orphan leaves the row as it was, detached.
    s.env.kubectl(["delete", "organization", "one", "two", "--wait=true", "--timeout=60s"]).await.ok();
    let mut conn = s.db.store().acquire().await.expect("conn");
    let archived = organizations::get(&mut conn, &one).await.expect("row kept");
    assert_eq!(archived.state, LifecycleState::Archived);
    assert!(archived.archived_at.is_some());
    let orphaned = organizations::get(&mut conn, &two).await.expect("row kept");
    assert_eq!(orphaned.state, LifecycleState::Orphaned);
    assert!(orphaned.owner.as_ref().is_none_or(|o| o.uid.is_none()), "detached: {orphaned:?}");
    drop(conn);

    // The orphaned organization is the platform's now; the account still groups it, so the
    // account stays until someone archives that organization.
    sqlx::query(
        "UPDATE organizations SET state = 'archived', archived_at = '2026-01-01T00:00:00.000000Z' WHERE id = $1",
    )
    .bind(&two)
    .execute(s.db.store().pool())
    .await
    .expect("archive the orphan");
    eventually("the account to be gone", WAIT, || async {
        accounts.get_opt("billing").await.ok()?.is_none().then_some(())
    })
    .await;
    let row = account_row(s.db.store(), &account_id).await;
    assert_eq!(row.state, LifecycleState::Archived, "billing data kept, archived");
}

#[tokio::test]
async fn a_restart_creates_no_duplicates_and_steady_state_writes_nothing() {
    let Some(mut s) = setup().await else { return };
    s.env.apply(ACCOUNT).await;
    s.env.apply(&org("team", "Delete")).await;
    let accounts: Api<Account> = s.env.api();
    let orgs: Api<Organization> = s.env.api();
    wait_ready(&accounts, "billing", "True", None).await;
    wait_ready(&orgs, "team", "True", None).await;
    // Let the first resyncs settle the org count on the account.
    tokio::time::sleep(RESYNC * 2).await;
    let versions = |list: Vec<String>| list;
    let snapshot = || async {
        let a: Vec<String> = accounts
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .iter()
            .map(|o| o.resource_version().unwrap_or_default())
            .collect();
        let o: Vec<String> = orgs
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .iter()
            .map(|o| o.resource_version().unwrap_or_default())
            .collect();
        versions([a, o].concat())
    };
    let before = snapshot().await;
    tokio::time::sleep(RESYNC * 2 + Duration::from_millis(500)).await;
    assert_eq!(snapshot().await, before, "no status writes over two resync periods");

    s.operator.restart();
    tokio::time::sleep(RESYNC * 2 + Duration::from_secs(2)).await;
    assert_eq!(snapshot().await, before, "a restarted operator writes no status");
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(s.db.store().pool()).await.expect("count");
    assert_eq!(count, 1, "no duplicate rows after a restart");
    assert!(s.operator.log().contains("reconciled"), "the restarted operator did reconcile");
}

#[tokio::test]
async fn database_outage_shows_in_conditions_and_recovers_by_itself() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let target = db.url.split('@').nth(1).and_then(|rest| rest.split('/').next()).expect("host:port in url");
    let target = tokio::net::lookup_host(target).await.expect("resolve").next().expect("address");
    let mut proxy = Proxy::start(target).await;
    let via_proxy = db.url.replace(&format!("{}", target.port()), &proxy.addr.port().to_string());
    let cluster = format!("test-{}", env.ns);
    let _operator = Operator::start(&env, &via_proxy, &cluster, RESYNC);
    let accounts: Api<Account> = env.api();
    env.apply(ACCOUNT).await;
    wait_ready(&accounts, "billing", "True", None).await;

    proxy.cut();
    env.apply(&ACCOUNT.replace("city: Gdańsk", "city: Gdynia")).await;
    let down = eventually("DatabaseUnavailable", WAIT, || async {
        let a = accounts.get("billing").await.ok()?;
        let synced = condition(a.conditions(), "Synced")?.clone();
        (synced.reason == "DatabaseUnavailable").then_some(a)
    })
    .await;
    let ready = condition(down.conditions(), "Ready").expect("ready");
    assert_ne!(format!("{:?}", ready.status), "True", "never Ready=True while reconciles fail");

    proxy.restore().await;
    wait_ready(&accounts, "billing", "True", Some("Available")).await;
    let id = owned_id(db.store(), ManagedTable::Accounts, &cluster, &env.ns, "billing").await.expect("row");
    eventually("the edit applied after recovery", WAIT, || async {
        (account_row(db.store(), &id).await.details.billing_address.city == "Gdynia").then_some(())
    })
    .await;
}

#[tokio::test]
async fn pause_skips_reconciles_but_never_blocks_deletion() {
    let Some(s) = setup().await else { return };
    let accounts: Api<Account> = s.env.api();
    s.env.apply(ACCOUNT).await;
    let id = wait_ready(&accounts, "billing", "True", None).await.status.and_then(|st| st.account_id).expect("id");
    s.env.kubectl(["annotate", "account", "billing", "accountops.dev/paused=true"]).await.ok();
    eventually("Synced=False ReconcilePaused", WAIT, || async {
        let a = accounts.get("billing").await.ok()?;
        (condition(a.conditions(), "Synced")?.reason == "ReconcilePaused").then_some(())
    })
    .await;
    s.env.apply(&ACCOUNT.replace("city: Gdańsk", "city: Paused City")).await;
    tokio::time::sleep(RESYNC * 2).await;
    assert_eq!(account_row(s.db.store(), &id).await.details.billing_address.city, "Gdańsk", "paused: not applied");

    s.env.kubectl(["delete", "account", "billing", "--timeout=60s"]).await.ok();
    assert_eq!(account_row(s.db.store(), &id).await.state, LifecycleState::Archived);
}

#[tokio::test]
async fn observe_only_reports_drift_without_correcting_it() {
    let Some(s) = setup().await else { return };
    let accounts: Api<Account> = s.env.api();
    s.env.apply(ACCOUNT).await;
    let id = wait_ready(&accounts, "billing", "True", None).await.status.and_then(|st| st.account_id).expect("id");
    s.env.kubectl(["annotate", "account", "billing", "accountops.dev/observe-only=true"]).await.ok();
    sqlx::query("UPDATE accounts SET currency = 'EUR' WHERE id = $1")
        .bind(&id)
        .execute(s.db.store().pool())
        .await
        .expect("edit");
    let drifted = wait_ready(&accounts, "billing", "False", Some("DriftDetected")).await;
    let message = condition(drifted.conditions(), "Ready").map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("currency"), "names the drifted field: {message}");
    tokio::time::sleep(RESYNC * 2).await;
    assert_eq!(account_row(s.db.store(), &id).await.details.currency, "EUR", "observe-only corrects nothing");
}

#[tokio::test]
async fn force_orphan_lets_deletion_finish_while_the_database_is_down() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let target = db.url.split('@').nth(1).and_then(|rest| rest.split('/').next()).expect("host:port");
    let target = tokio::net::lookup_host(target).await.expect("resolve").next().expect("address");
    let mut proxy = Proxy::start(target).await;
    let via_proxy = db.url.replace(&format!("{}", target.port()), &proxy.addr.port().to_string());
    let _operator = Operator::start(&env, &via_proxy, &format!("test-{}", env.ns), RESYNC);
    let accounts: Api<Account> = env.api();
    env.apply(ACCOUNT).await;
    wait_ready(&accounts, "billing", "True", None).await;

    proxy.cut();
    env.kubectl(["delete", "account", "billing", "--wait=false"]).await.ok();
    eventually("deletion stuck on the database", WAIT, || async {
        let a = accounts.get("billing").await.ok()?;
        (condition(a.conditions(), "Synced")?.reason == "DatabaseUnavailable").then_some(())
    })
    .await;
    env.kubectl(["annotate", "account", "billing", "accountops.dev/force-orphan=true"]).await.ok();
    eventually("the account to be gone", WAIT, || async {
        accounts.get_opt("billing").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(events(&env, "billing").await.contains("ForceOrphaned"));
}

#[tokio::test]
async fn a_row_owned_by_another_object_is_never_taken_over() {
    let Some(s) = setup().await else { return };
    let accounts: Api<Account> = s.env.api();
    s.env.apply(ACCOUNT).await;
    let id = wait_ready(&accounts, "billing", "True", None).await.status.and_then(|st| st.account_id).expect("id");
    let thief =
        ACCOUNT.replace("name: billing", &format!("name: thief\n  annotations:\n    accountops.dev/external-id: {id}"));
    s.env.apply(&thief).await;
    let refused = wait_ready(&accounts, "thief", "False", Some("OwnedElsewhere")).await;
    let message = condition(refused.conditions(), "Ready").map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("billing"), "names the owner: {message}");
    let owner = owned_id(s.db.store(), ManagedTable::Accounts, &s.cluster, &s.env.ns, "billing").await;
    assert_eq!(owner.as_deref(), Some(id.as_str()), "still owned by billing");
}

#[tokio::test]
async fn an_account_with_account_level_members_stays_terminating_until_they_are_gone() {
    let Some(s) = setup().await else { return };
    let accounts: Api<Account> = s.env.api();
    s.env.apply(ACCOUNT).await;
    let id = wait_ready(&accounts, "billing", "True", None).await.status.and_then(|st| st.account_id).expect("id");
    s.env
        .apply(
            "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata: {name: billing-contact}\nspec:\n  \
             accountRef: {name: billing}\n  email: contact@billing.example\n  login: false\n",
        )
        .await;
    let members: Api<accountops::api::Membership> = s.env.api();
    eventually("the account-level member", WAIT, || async {
        let m = members.get("billing-contact").await.ok()?;
        (m.status.as_ref()?.phase? == accountops::api::MembershipPhase::Active).then_some(())
    })
    .await;
    s.env.kubectl(["delete", "account", "billing", "--wait=false"]).await.ok();
    let blocked = wait_ready(&accounts, "billing", "False", Some("HasMemberships")).await;
    assert!(blocked.meta().deletion_timestamp.is_some());
    let mut conn = s.db.store().acquire().await.expect("conn");
    let row = accountops::store::accounts::get(&mut conn, &id).await.expect("row");
    assert_eq!(row.state, LifecycleState::Active, "not archived under an active member");
    drop(conn);
    s.env.kubectl(["delete", "membership", "billing-contact", "--timeout=60s"]).await.ok();
    eventually("the account to be gone", WAIT, || async {
        accounts.get_opt("billing").await.ok()?.is_none().then_some(())
    })
    .await;
    let mut conn = s.db.store().acquire().await.expect("conn");
    assert_eq!(accountops::store::accounts::get(&mut conn, &id).await.expect("row").state, LifecycleState::Archived);
}

/// `(reconcile failures logged for `name`, distinct resourceVersions seen)` over `span`.
async fn churn(s: &Setup, name: &str, span: Duration) -> (usize, usize) {
    let orgs: Api<Organization> = s.env.api();
    let failures = |log: String| log.lines().filter(|l| l.contains("will retry") && l.contains(name)).count();
    let before = failures(s.operator.log());
    let mut versions = std::collections::BTreeSet::new();
    let started = std::time::Instant::now();
    while started.elapsed() < span {
        if let Ok(o) = orgs.get(name).await {
            versions.extend(o.metadata.resource_version);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (failures(s.operator.log()) - before, versions.len())
}

#[tokio::test]
async fn a_persistent_database_error_backs_off_and_writes_status_once() {
    let Some(s) = setup().await else { return };
    let accounts: Api<Account> = s.env.api();
    s.env.apply(ACCOUNT).await;
    wait_ready(&accounts, "billing", "True", None).await;
    // PostgreSQL refuses every new organization, as a constraint the operator cannot know would.
    for sql in [
        "CREATE FUNCTION refuse_organizations() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'organizations are frozen by the test'; END $$",
        "CREATE TRIGGER refuse_organizations BEFORE INSERT ON organizations FOR EACH ROW \
         EXECUTE FUNCTION refuse_organizations()",
    ] {
        sqlx::query(sql).execute(s.db.store().pool()).await.expect(sql);
    }
    s.env.apply(&org("frozen", "Delete")).await;
    let orgs: Api<Organization> = s.env.api();
    eventually("the refusal on the object", WAIT, || async {
        let o = orgs.get("frozen").await.ok()?;
        let synced = condition(o.conditions(), "Synced")?;
        (format!("{:?}", synced.status) == "False").then_some(())
    })
    .await;
    // Backoff 1, 2, 4, 8, 16 s: a handful of attempts in 20 s, and the status written once
    // (the same failure says the same thing every time, so nothing re-triggers a reconcile).
    let (attempts, versions) = churn(&s, "frozen", Duration::from_secs(20)).await;
    assert!(attempts <= 6, "{attempts} reconciles in 20 s: the backoff does not hold");
    assert!(versions <= 2, "{versions} status versions in 20 s for one unchanging failure");
    let o = orgs.get("frozen").await.expect("org");
    let message = condition(o.conditions(), "Synced").map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("frozen by the test") && message.contains("frozen"), "{message}");
}
