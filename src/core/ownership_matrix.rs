//! The ownership matrix, run against every kind: one list of cases, one driver per kind, each
//! case through the core engine on SQLite (a file and `sqlite::memory:`, below) and PostgreSQL
//! (`tests/it/store_pg.rs`), the way `store::testkit` runs one list of checks on every backend.
//!
//! ```text
//! case (create, re-adopt, orphan, re-create, import, observe-only, other namespaces)
//!   └─► Driver::reconcile(object) ─► engine (a sync: its SCIM call skipped, the writes committed)
//!         ─► Outcome ─► asserted with the row's owner and the kind's Expect
//! ```
//!
//! A case knows objects only by namespace, name, UID, annotations and deletion; each driver
//! turns that into its kind's desired state with one fixed spec, so every kind answers the
//! same questions. Where a kind answers differently on purpose (ProvisioningSync: see
//! [`SyncKind`]) its [`Expect`] says so, and the case asserts that instead. The parents every
//! kind may reference (Account `acme` and Organization `eng` in `billing` and in `sales`, a
//! partner organization with an administrator) exist first.
//!
//! Public only so the integration-test crate can reach it; not part of the API.

use std::future::Future;

use jiff::Timestamp;
use sqlx::AssertSqlSafe;

use super::account::DesiredAccount;
use super::fixtures::*;
use super::membership::DesiredMembership;
use super::organization::DesiredOrganization;
use super::outcome::Action;
use super::sync::{self, DesiredSync};
use super::tenant_link::DesiredTenantLink;
use super::{CoreError, Flags, Outcome, account, db, engine, membership, organization, tenant_link};
use crate::api::provisioning_sync::ProvisioningSyncSpec;
use crate::api::{DeletionPolicy, MembershipSpec, Reason, TenantLinkSpec};
use crate::mail::MailSettings;
use crate::scim::{Credentials, Guards};
use crate::store::{ManagedTable, Owner, Store, StoredOwner, offers, ownership};

/// The namespace across the tenant boundary.
const OTHER_NAMESPACE: &str = "sales";

/// An object as a case sees it: who it is, its annotations, and whether it is being deleted.
#[derive(Debug, Clone)]
pub struct Object {
    owner: Owner,
    flags: Flags,
    deleting: Option<DeletionPolicy>,
}

impl Object {
    /// `billing/<name>` with `uid`.
    fn new(name: &str, uid: &str) -> Object {
        Object { owner: owner(name, uid), flags: Flags::default(), deleting: None }
    }

    /// The same object in the other namespace.
    fn across(mut self) -> Object {
        self.owner.namespace = OTHER_NAMESPACE.to_owned();
        self
    }

    fn adopting(mut self) -> Object {
        self.flags.adopt = true;
        self
    }

    fn importing(mut self, id: &str) -> Object {
        self.flags.external_id = Some(id.to_owned());
        self
    }

    fn observing(mut self) -> Object {
        self.flags.observe_only = true;
        self
    }

    fn deleting(&self, policy: DeletionPolicy) -> Object {
        Object { deleting: Some(policy), ..self.clone() }
    }
}

/// What a kind reports where kinds differ on purpose; the database-only kinds all report
/// [`Expect::DATABASE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The action of an object that takes over a row of its name (a lost status, or a
    /// re-created object with `accountops.dev/adopt`).
    pub adopted: Action,
    /// The action of an object that imports a row (`accountops.dev/external-id`).
    pub imported: Action,
    /// What a re-created object without `accountops.dev/adopt` does while its predecessor's
    /// released row is there.
    pub recreated: Recreated,
    /// The action of deleting an object that owns no row (any more).
    pub deleted_again: Action,
}

impl Expect {
    /// What the database-only kinds report: `core::plan`'s actions as they are.
    pub const DATABASE: Expect = Expect {
        adopted: Action::Adopted,
        imported: Action::Imported,
        recreated: Recreated::AdoptionRequired,
        deleted_again: Action::Gone,
    };
}

/// What a re-created object without the adopt annotation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recreated {
    /// Holds with `AdoptionRequired`, naming the row, and writes nothing.
    AdoptionRequired,
    /// Leaves the released row as it is and creates a new one.
    StartsAfresh,
}

/// One kind: its table, how an [`Object`] becomes its desired state, and where it differs.
pub trait Driver {
    const TABLE: ManagedTable;
    const EXPECT: Expect = Expect::DATABASE;

    /// Reconcile `object` through the engine.
    fn try_reconcile(
        store: &Store,
        object: &Object,
        now: Timestamp,
    ) -> impl Future<Output = Result<Outcome, CoreError>>;
}

/// [`Driver::try_reconcile`], which must succeed.
async fn reconcile<D: Driver>(store: &Store, object: &Object, now: Timestamp) -> Outcome {
    D::try_reconcile(store, object, now).await.expect("reconciles")
}

/// `object`'s intent: `(owner, deleting, flags)`, as every kind's `new` wants it.
fn parts(object: &Object) -> (Owner, bool, Flags) {
    (object.owner.clone(), object.deleting.is_some(), object.flags.clone())
}

pub struct AccountKind;

impl Driver for AccountKind {
    const TABLE: ManagedTable = ManagedTable::Accounts;

    async fn try_reconcile(store: &Store, object: &Object, now: Timestamp) -> Result<Outcome, CoreError> {
        let (owner, deleting, flags) = parts(object);
        let mut spec = account_spec(ACCOUNT_YAML);
        spec.deletion_policy = object.deleting.unwrap_or(spec.deletion_policy);
        let desired = DesiredAccount::new(owner, spec, deleting, flags);
        engine::reconcile(store, &desired, now).await
    }
}

pub struct OrganizationKind;

impl Driver for OrganizationKind {
    const TABLE: ManagedTable = ManagedTable::Organizations;

    async fn try_reconcile(store: &Store, object: &Object, now: Timestamp) -> Result<Outcome, CoreError> {
        let (owner, deleting, flags) = parts(object);
        let mut spec = organization_spec(ORGANIZATION_YAML);
        spec.deletion_policy = object.deleting.unwrap_or(spec.deletion_policy);
        let desired = DesiredOrganization::new(owner, spec, deleting, flags);
        engine::reconcile(store, &desired, now).await
    }
}

pub struct MembershipKind;

impl Driver for MembershipKind {
    const TABLE: ManagedTable = ManagedTable::Memberships;

    async fn try_reconcile(store: &Store, object: &Object, now: Timestamp) -> Result<Outcome, CoreError> {
        let (owner, deleting, flags) = parts(object);
        // An authorized contact: active at once, no invitation to answer.
        let yaml = "email: pat@acme.example\norganizationRef: {name: eng}\nroles: [Engineer]\nlogin: false\n";
        let mut spec: MembershipSpec = serde_yaml::from_str(yaml).expect("a Membership spec");
        spec.deletion_policy = object.deleting.unwrap_or(spec.deletion_policy);
        let desired = DesiredMembership::new(owner, spec, deleting, flags);
        membership::reconcile(store, &desired, now, &MailSettings::default()).await
    }
}

pub struct TenantLinkKind;

impl Driver for TenantLinkKind {
    const TABLE: ManagedTable = ManagedTable::TenantLinks;

    async fn try_reconcile(store: &Store, object: &Object, now: Timestamp) -> Result<Outcome, CoreError> {
        let (owner, deleting, flags) = parts(object);
        let partner = partner_id(store).await;
        let yaml = format!(
            "organizationRef: {{name: eng}}\npartnerInvitation: {{organizationId: {partner}, \
             organizationRole: ServiceProvider, adminEmail: admin@partner.example}}\n"
        );
        let mut spec: TenantLinkSpec = serde_yaml::from_str(&yaml).expect("a TenantLink spec");
        spec.deletion_policy = object.deleting.unwrap_or(spec.deletion_policy);
        let desired = DesiredTenantLink::new(owner, spec, deleting, flags, None);
        tenant_link::reconcile(store, &desired, now, &MailSettings::default()).await
    }
}

/// ProvisioningSync, reconciled through the engine's skip-external path
/// ([`sync::reconcile_in_skipping_external`], local mode's `plan`) on a transaction that is
/// committed: the matrix covers the database ownership routing, which runs the same with or
/// without the SCIM call; the push itself is covered against real SCIM servers by
/// `tests/it/scim*.rs`. Skipped, the facts assume the push succeeded, so a new record reports
/// `Created` as a pushed one does.
///
/// Its [`Expect`] differs from the database-only kinds' on purpose (the table at the top of
/// `core/sync/record.rs`, and [`SyncFacts::into_outcome`](super::sync::SyncFacts::into_outcome)):
/// - a sync's outcome has no Adopted or Imported action: a record taken over reports what its
///   push and orders did, `Unchanged` here (the spec has no orders);
/// - a re-created sync without `accountops.dev/adopt` starts a new record (whose orders run
///   again, README "ProvisioningSync") and leaves the old one released, where the other kinds
///   hold with `AdoptionRequired`;
/// - a deletion that finds no record reports how deletion finished (`Orphaned` here), never
///   `Gone`.
pub struct SyncKind;

impl Driver for SyncKind {
    const TABLE: ManagedTable = ManagedTable::ProvisioningSyncs;
    const EXPECT: Expect = Expect {
        adopted: Action::Unchanged,
        imported: Action::Unchanged,
        recreated: Recreated::StartsAfresh,
        deleted_again: Action::Orphaned,
    };

    async fn try_reconcile(store: &Store, object: &Object, now: Timestamp) -> Result<Outcome, CoreError> {
        let (owner, deleting, flags) = parts(object);
        let yaml = "accountRef: {name: acme}\nendpoint: {url: 'https://scim.example/v2', auth: Bearer, \
                    credentialsSecretRef: {name: creds}}\nportalUrl: https://portal.example\n";
        let mut spec: ProvisioningSyncSpec = serde_yaml::from_str(yaml).expect("a ProvisioningSync spec");
        spec.deletion_policy = object.deleting.unwrap_or(spec.deletion_policy);
        let credentials = Credentials::Bearer("token".into());
        let desired =
            DesiredSync { owner, spec, deleting, flags, credentials, credentials_hash: "hash".into(), ca_pem: None };
        let mut tx = store.begin().await?;
        let facts =
            sync::reconcile_in_skipping_external(&mut tx, &Guards::default(), &desired, &MailSettings::default(), now)
                .await?;
        db::commit(store, tx).await?;
        Ok(facts.into_outcome(deleting, sync::resync_interval(&desired.spec), now))
    }
}

/// The parents: Account `acme` and Organization `eng` in both namespaces, and the partner
/// organization `partner` in `billing` with `admin@partner.example` as its administrator.
pub async fn parents(store: &Store) {
    for namespace in [NAMESPACE, OTHER_NAMESPACE] {
        let at =
            |name: &str| Owner { namespace: namespace.to_owned(), ..owner(name, &format!("uid-{namespace}-{name}")) };
        let a = DesiredAccount::new(at("acme"), account_spec(ACCOUNT_YAML), false, Flags::default());
        assert!(account::reconcile(store, &a, now()).await.expect("account").is_ready());
        let o = DesiredOrganization::new(at("eng"), organization_spec(ORGANIZATION_YAML), false, Flags::default());
        assert!(organization::reconcile(store, &o, now()).await.expect("organization").is_ready());
    }
    let partner =
        "accountRef: {name: acme}\ndisplayName: Partner\nroles: [{name: Admin, permissions: [tenants.manage]}]\n";
    let p =
        DesiredOrganization::new(owner("partner", "uid-partner"), organization_spec(partner), false, Flags::default());
    assert!(organization::reconcile(store, &p, now()).await.expect("partner").is_ready());
    let yaml = "email: admin@partner.example\norganizationRef: {name: partner}\nroles: [Admin]\nlogin: false\n";
    let spec: MembershipSpec = serde_yaml::from_str(yaml).expect("spec");
    let admin = DesiredMembership::new(owner("partner-admin", "uid-partner-admin"), spec, false, Flags::default());
    let out = membership::reconcile(store, &admin, now(), &MailSettings::default()).await.expect("admin");
    assert!(out.is_ready(), "{out:?}");
}

/// The partner organization's ID.
async fn partner_id(store: &Store) -> String {
    let mut conn = store.acquire().await.expect("a connection");
    let table = ManagedTable::Organizations;
    let found = ownership::find_by_uid(&mut conn, table, "uid-partner").await.expect("reads");
    found.expect("the partner organization").id
}

async fn owner_of<D: Driver>(store: &Store, id: &str) -> Option<StoredOwner> {
    let mut conn = store.acquire().await.expect("a connection");
    ownership::owner_of(&mut conn, D::TABLE, id).await.expect("reads the owner")
}

/// How many rows the kind's table holds.
async fn rows<D: Driver>(store: &Store) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {}", D::TABLE.table());
    let n: (i64,) = sqlx::query_as(AssertSqlSafe(sql)).fetch_one(store.pool()).await.expect("counts");
    n.0
}

/// `object` reconciled once, which creates its row; the row's ID.
async fn created<D: Driver>(store: &Store, object: &Object) -> String {
    let out = reconcile::<D>(store, object, now()).await;
    assert_eq!(out.action, Action::Created, "{out:?}");
    out.id.expect("the created row's ID")
}

/// What `object` did, as `(action, row ID)`.
async fn did<D: Driver>(store: &Store, object: &Object) -> (Action, Option<String>) {
    let out = reconcile::<D>(store, object, now()).await;
    (out.action, out.id)
}

/// Row `id` made a platform row no object ever owned (as the platform's web app makes them).
async fn disown<D: Driver>(store: &Store, id: &str) {
    let sql = format!(
        "UPDATE {} SET owner_cluster = NULL, owner_namespace = NULL, owner_name = NULL, owner_uid = NULL \
         WHERE id = $1",
        D::TABLE.table()
    );
    sqlx::query(AssertSqlSafe(sql)).bind(id).execute(store.pool()).await.expect("disowned");
}

async fn offer<D: Driver>(store: &Store, id: &str, namespace: &str) {
    let mut conn = store.acquire().await.expect("a connection");
    offers::offer(&mut conn, D::TABLE, id, CLUSTER, namespace, now()).await.expect("offered");
}

/// A new object owns the row it creates, and a second pass changes nothing.
pub async fn create_owns_the_row<D: Driver>(store: &Store) {
    let subject = Object::new("subject", UID);
    let id = created::<D>(store, &subject).await;
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&subject.owner, true)));
    assert_eq!(did::<D>(store, &subject).await, (Action::Unchanged, Some(id)));
}

/// The same name with a new UID while the row is live (a lost status, a restored cluster)
/// takes the row back as it is: no duplicate.
pub async fn a_lost_status_adopts_the_live_row<D: Driver>(store: &Store) {
    let id = created::<D>(store, &Object::new("subject", UID)).await;
    let before = rows::<D>(store).await;
    let restored = Object::new("subject", "uid-restored");
    assert_eq!(did::<D>(store, &restored).await, (D::EXPECT.adopted, Some(id.clone())));
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&restored.owner, true)));
    assert_eq!(rows::<D>(store).await, before, "no second row");
}

/// `deletionPolicy: Orphan` lets go of the row and keeps it; deleting again finds nothing.
pub async fn orphan_on_delete_keeps_the_row<D: Driver>(store: &Store) {
    let subject = Object::new("subject", UID);
    let id = created::<D>(store, &subject).await;
    let orphan = subject.deleting(DeletionPolicy::Orphan);
    assert_eq!(did::<D>(store, &orphan).await, (Action::Orphaned, Some(id.clone())));
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&subject.owner, false)), "the names kept as a record");
    assert_eq!(did::<D>(store, &orphan).await, (D::EXPECT.deleted_again, None));
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&subject.owner, false)), "untouched");
}

/// An object re-created with a new UID takes over the row its predecessor let go of only
/// with the adopt annotation; without it the row stays released, and the kind either writes
/// nothing (`AdoptionRequired`) or starts a new row ([`Expect::recreated`]).
pub async fn a_recreated_object_adopts_only_when_asked<D: Driver>(store: &Store) {
    let first = Object::new("subject", UID);
    let id = created::<D>(store, &first).await;
    assert_eq!(did::<D>(store, &first.deleting(DeletionPolicy::Orphan)).await.0, Action::Orphaned);
    let second = Object::new("subject", "uid-second").adopting();
    assert_eq!(did::<D>(store, &second).await, (D::EXPECT.adopted, Some(id.clone())));
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&second.owner, true)));
    assert_eq!(did::<D>(store, &second.deleting(DeletionPolicy::Orphan)).await.0, Action::Orphaned);
    let third = Object::new("subject", "uid-third");
    let before = rows::<D>(store).await;
    let (action, found) = did::<D>(store, &third).await;
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&second.owner, false)), "still released");
    match D::EXPECT.recreated {
        Recreated::AdoptionRequired => {
            assert_eq!((action, found), (Action::AdoptionRequired, Some(id.clone())));
            assert_eq!(rows::<D>(store).await, before, "nothing written");
            let third = third.adopting();
            assert_eq!(did::<D>(store, &third).await, (D::EXPECT.adopted, Some(id.clone())));
            assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&third.owner, true)));
        }
        Recreated::StartsAfresh => {
            assert_eq!(action, Action::Created);
            let fresh = found.expect("the new row's ID");
            assert_ne!(fresh, id, "a new row, not the released one");
            assert_eq!(owner_of::<D>(store, &fresh).await, Some(stored(&third.owner, true)));
            assert_eq!(rows::<D>(store).await, before + 1);
        }
    }
}

/// The external-id annotation imports a platform row only once the platform offered it to
/// this namespace; an offer to another namespace is not one to this.
pub async fn import_takes_an_offered_platform_row<D: Driver>(store: &Store) {
    let id = created::<D>(store, &Object::new("seed", "uid-seed")).await;
    disown::<D>(store, &id).await;
    let importer = Object::new("subject", UID).importing(&id);
    let refused = reconcile::<D>(store, &importer, now()).await;
    assert_eq!((refused.action, refused.reason), (Action::Conflict, Reason::NotOffered), "{refused:?}");
    offer::<D>(store, &id, OTHER_NAMESPACE).await;
    assert_eq!(did::<D>(store, &importer).await.0, Action::Conflict, "offered to another namespace");
    assert_eq!(owner_of::<D>(store, &id).await, None, "nothing written");
    offer::<D>(store, &id, NAMESPACE).await;
    assert_eq!(did::<D>(store, &importer).await, (D::EXPECT.imported, Some(id.clone())));
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&importer.owner, true)));
    assert_eq!(did::<D>(store, &importer).await, (Action::Unchanged, Some(id)));
}

/// A row an object of this namespace let go of is imported without an offer.
pub async fn import_takes_a_row_this_namespace_released<D: Driver>(store: &Store) {
    let seed = Object::new("seed", "uid-seed");
    let id = created::<D>(store, &seed).await;
    assert_eq!(did::<D>(store, &seed.deleting(DeletionPolicy::Orphan)).await.0, Action::Orphaned);
    let importer = Object::new("subject", UID).importing(&id);
    assert_eq!(did::<D>(store, &importer).await, (D::EXPECT.imported, Some(id.clone())));
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&importer.owner, true)));
}

/// Observe-only creates nothing, corrects nothing, and on deletion only lets go.
pub async fn observe_only_writes_nothing<D: Driver>(store: &Store) {
    let watcher = Object::new("subject", UID).observing();
    let before = rows::<D>(store).await;
    let missing = reconcile::<D>(store, &watcher, now()).await;
    assert_eq!((missing.action, missing.reason), (Action::NotFound, Reason::NotFound), "{missing:?}");
    assert_eq!(rows::<D>(store).await, before, "nothing created");
    let id = created::<D>(store, &Object::new("subject", UID)).await;
    assert_eq!(did::<D>(store, &watcher).await, (Action::Unchanged, Some(id.clone())));
    assert_eq!(did::<D>(store, &watcher.deleting(DeletionPolicy::Delete)).await, (Action::Orphaned, Some(id.clone())));
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&watcher.owner, false)), "released, not archived");
}

/// A row an object of another namespace owns is never taken, not even with the adopt and
/// external-id annotations together. The reason is asserted: a sync would also be refused
/// for the other namespace's Account (`AccountMismatch`), which must not be what stops it.
pub async fn another_namespace_never_takes_an_owned_row<D: Driver>(store: &Store) {
    let theirs = Object::new("subject", UID);
    let id = created::<D>(store, &theirs).await;
    let raider = Object::new("subject", "uid-raider").across().adopting().importing(&id);
    let refused = reconcile::<D>(store, &raider, now()).await;
    assert_eq!((refused.action, refused.reason), (Action::Conflict, Reason::OwnedElsewhere), "{refused:?}");
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&theirs.owner, true)), "still theirs");
}

/// A row another namespace let go of is not imported: only one this namespace released, or
/// one the platform offered to it (the reason asserted, as above).
pub async fn another_namespace_never_imports_a_released_row<D: Driver>(store: &Store) {
    let theirs = Object::new("subject", UID);
    let id = created::<D>(store, &theirs).await;
    assert_eq!(did::<D>(store, &theirs.deleting(DeletionPolicy::Orphan)).await.0, Action::Orphaned);
    let raider = Object::new("subject", "uid-raider").across().importing(&id);
    let refused = reconcile::<D>(store, &raider, now()).await;
    assert_eq!((refused.action, refused.reason), (Action::Conflict, Reason::NotOffered), "{refused:?}");
    assert_eq!(owner_of::<D>(store, &id).await, Some(stored(&theirs.owner, false)), "still released");
}

/// Expand to one `#[tokio::test]` per case and kind on a fresh database from `$open`, an
/// async function returning `Option<impl TestDatabase>` (`None` skips), with the parents.
#[doc(hidden)]
#[macro_export]
macro_rules! ownership_matrix_tests {
    ($open:path) => {
        $crate::ownership_matrix_tests!(@kinds $open;
            account: AccountKind,
            organization: OrganizationKind,
            membership: MembershipKind,
            tenant_link: TenantLinkKind,
            provisioning_sync: SyncKind,
        );
    };
    (@kinds $open:path; $($kind:ident: $driver:ident),+ $(,)?) => {
        $(
            mod $kind {
                $crate::ownership_matrix_tests!(@cases $open, $driver;
                    create_owns_the_row,
                    a_lost_status_adopts_the_live_row,
                    orphan_on_delete_keeps_the_row,
                    a_recreated_object_adopts_only_when_asked,
                    import_takes_an_offered_platform_row,
                    import_takes_a_row_this_namespace_released,
                    observe_only_writes_nothing,
                    another_namespace_never_takes_an_owned_row,
                    another_namespace_never_imports_a_released_row,
                );
            }
        )+
    };
    (@cases $open:path, $driver:ident; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                use $crate::core::ownership_matrix as matrix;
                use $crate::store::testkit::TestDatabase;
                let Some(db) = $open().await else { return };
                matrix::parents(db.store()).await;
                matrix::$case::<matrix::$driver>(db.store()).await;
            }
        )+
    };
}

#[cfg(test)]
mod sqlite_memory {
    crate::ownership_matrix_tests!(crate::store::tests::open_memory);
}

#[cfg(test)]
mod sqlite_file {
    crate::ownership_matrix_tests!(crate::store::tests::open_file);
}
