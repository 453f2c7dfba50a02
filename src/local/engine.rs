//! The local-mode engine: the core's reconcile of every kind over a manifest set.
//!
//! ```text
//! ManifestSet ─► Accounts ─► Organizations ─► Memberships ─► TenantLinks ─► (--prune) ProvisioningSyncs ─► TenantLinks ─► Memberships ─► Organizations ─► Accounts ─► ProvisioningSyncs ─► Report
//!                 present      present          present        present         no manifest: record     revoked        revoked        archived          archived     present              + Secrets
//!                                                              (codes: [codes])  archived                                                                                (credentials: [syncs])  as inputs
//! ```
//!
//! Parents go first so an Organization finds the row its Account just got (and a Membership or
//! TenantLink the row and roles its Organization just got); pruning goes the other way so an
//! Organization is archived only after the links and Memberships that blocked it (a revoked
//! link takes its provider staff's memberships with it).
//!
//! A provider-code TenantLink gets its code from a Secret of the set, or from a
//! `serviceProvider` Organization of the set that issues it in this run ([`codes`]). A
//! ProvisioningSync reads its credentials from a Secret of the set ([`syncs`]) and goes last,
//! after pruning: it pushes the account's organizations and members as this run left them (a
//! pruned member is deprovisioned in the same run; a sync's account is in the set, so it is
//! never one `--prune` archives). `apply` pushes to
//! the external system; `plan` runs the same sync without the call (the core's
//! `reconcile_in_skipping_external`) in a savepoint of the run's transaction. A pruned sync's
//! record is archived; the external system is left as it is.
//!
//! Both commands run the very same walk, so `plan` cannot drift from `apply`: the whole run is
//! one database transaction, each object in a savepoint of it (`reconcile_in` of its kind: the
//! core's one protocol, see `core::engine`), so an object that fails undoes only its own
//! writes, is recorded in its entry, and the walk goes on; a later object sees what an earlier
//! one wrote (an Organization its new Account, a partner invitation the administrator a
//! Membership of the run made).
//! The Memberships, thousands in a large set, share a `core::membership::Walk`: on SQLite each
//! scope is observed once, and an unchanged Membership reads its rows from a snapshot taken
//! when the walk reaches them, until the first Membership writes (see there why that reads
//! exactly what the queries would).
//! - [`Mode::Apply`] commits the transaction (one commit, one fsync, for the whole set), then
//!   runs the ProvisioningSyncs, each pushing to its external system and writing in a
//!   transaction of its own.
//! - [`Mode::Plan`] runs the ProvisioningSyncs in savepoints of the transaction, skipping only
//!   the call to the external system, and rolls it back: nothing is written, and rows the run
//!   would create are shown without an ID ([`NEW_ID`] where another row names one).
//!
//! "Pruned" rows are rows live-owned by local mode under this `--cluster-id` (their owner UID
//! was written by [`desired::owner`]) whose namespace/name has no manifest of that kind. They
//! are deleted with `deletionPolicy: Delete` (archived, never dropped). Without `--prune` they
//! are only listed, so nobody is surprised by them later.

use std::collections::HashSet;

use super::codes::{self, CodeSource, Providers};
use super::desired;
use super::syncs;
use super::validate::{Item, ManifestSet};
use crate::api::DeletionPolicy;
use crate::api::ProvisioningSync;
use crate::core::Failure;
use crate::core::account::{self, DesiredAccount};
use crate::core::db;
use crate::core::membership::{self, DesiredMembership};
use crate::core::organization::{self, DesiredOrganization};
use crate::core::sync::{self, DesiredSync, credentials, deletion};
use crate::core::tenant_link::{self, DesiredTenantLink};
use crate::core::{Action, CoreError, Flags, Outcome};
use crate::mail::MailSettings;
use crate::scim::Guards;
use crate::store::{Conn, ManagedTable, Owner, Store, StoreError, Tx, footprint, ownership};
use jiff::Timestamp;

/// Run the engine for real, or only plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Apply,
}

/// What local mode is asked to do beyond the manifests.
#[derive(Debug, Clone)]
pub struct Options {
    /// The owner cluster recorded on the rows local mode manages.
    pub cluster_id: String,
    /// Archive rows local mode owns that no manifest names any more.
    pub prune: bool,
    /// Sender and accept link of the mails Memberships and partner invitations queue.
    pub mail: MailSettings,
    /// The SCIM endpoint policy and limits (`--scim-*`, as the operator's).
    pub scim: crate::scim::GuardSettings,
}

/// What became of one object.
#[derive(Debug)]
pub enum Status {
    /// Planned or applied by the core.
    Done(Outcome),
    /// The core failed for this object (the database, usually); the others went on. Not
    /// `transient`: the error is permanent (kstatus `Stalled`), not one a later run may pass.
    Failed(Failure),
    /// `accountops.dev/paused: "true"`: not planned, not applied.
    Paused,
    /// A Secret: read by the objects that name it, never written.
    Input,
}

/// One object of the run: a manifest, or a pruned row.
#[derive(Debug)]
pub struct Entry {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The row has no manifest: it is being archived by `--prune`.
    pub pruned: bool,
    pub status: Status,
}

impl Entry {
    /// Whether the object ended where it should: ready, or (pruned) archived, or not ours to
    /// judge (paused, an input). Waiting, blocked, conflicts and errors are not.
    pub fn settled(&self) -> bool {
        match &self.status {
            Status::Done(o) => o.is_ready() || o.action.deletion_finished(),
            Status::Failed(_) => false,
            Status::Paused | Status::Input => true,
        }
    }

    /// Whether the object is applied as far as this run can take it and waits for something
    /// outside the run: a parent or partner that is not there yet (`Waiting`: AccountNotReady,
    /// OrganizationNotReady, PartnerNotFound, CodeSecretNotFound, CredentialsSecretNotFound…),
    /// a partner invitation sent and not answered yet (Pending, `AwaitingAcceptance`), or an
    /// external provisioning system that did not answer (Unreachable, ServerError, RateLimited,
    /// CircuitOpen: the next `apply` pushes again). Such objects do not fail `apply`.
    pub fn waiting(&self) -> bool {
        let Status::Done(o) = &self.status else { return false };
        let awaiting = o.action.is_ready()
            && o.facts.tenant_link().is_some_and(|l| l.phase == crate::api::tenant_link::TenantLinkPhase::Pending);
        let unanswered = o.facts.sync().is_some_and(sync::SyncFacts::waits_for_external_system);
        o.action == Action::Waiting || awaiting || unanswered
    }

    /// Whether the object makes `apply` exit 1: an error, a conflict, a refused code
    /// (`NotFound`, `CodeAlreadyUsed`), a blocked deletion, a row to adopt or drift under
    /// observe-only, or a row in place that is not usable (an expired or failed invitation, a
    /// rejected or expired partner invitation): everything not settled that is not
    /// [waiting](Entry::waiting).
    pub fn fails(&self) -> bool {
        !self.settled() && !self.waiting()
    }
}

/// Everything a run did or would do, in the order it was done.
#[derive(Debug)]
pub struct Report {
    pub mode: Mode,
    pub entries: Vec<Entry>,
    /// Without `--prune`: the rows `--prune` would archive, as `Kind namespace/name`.
    pub unpruned: Vec<String>,
    /// `apply`: the mails delivered into the mailbox after the run.
    pub mail: Option<MailDelivery>,
    /// The providers (`namespace/name`) that issued a code for a link in this run (`plan`: would
    /// issue). The codes themselves are never kept, shown or written anywhere.
    pub provider_codes: Vec<String>,
    /// When the run was: the time its objects' statuses are computed at (`-o json`).
    pub now: Timestamp,
}

/// What the delivery after `apply` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDelivery {
    /// Where the `.eml` files went.
    pub mailbox: String,
    pub sent: u64,
    pub retrying: u64,
    pub dead: u64,
}

/// The ID shown for a row `plan` would create (its real ID is made by `apply`).
pub const NEW_ID: &str = "(new)";

/// Plan or apply the objects of `set`; see the module documentation.
///
/// Fails as a whole only when the run's transaction cannot be opened or committed, or the
/// rows to prune cannot be listed; a failure for one object is recorded in its entry.
pub async fn run(
    store: &Store,
    set: &ManifestSet,
    options: &Options,
    mode: Mode,
    now: Timestamp,
) -> Result<Report, CoreError> {
    let cluster = options.cluster_id.as_str();
    let mut tx = store.begin().await?;
    roomy_cache(store, &mut tx).await?;
    let stray_syncs = strays(&mut tx, ManagedTable::ProvisioningSyncs, cluster, &set.provisioning_syncs).await?;
    let stray_links = strays(&mut tx, ManagedTable::TenantLinks, cluster, &set.tenant_links).await?;
    let stray_members = strays(&mut tx, ManagedTable::Memberships, cluster, &set.memberships).await?;
    let stray_orgs = strays(&mut tx, ManagedTable::Organizations, cluster, &set.organizations).await?;
    let stray_accounts = strays(&mut tx, ManagedTable::Accounts, cluster, &set.accounts).await?;
    let mut walker = Walker { tx, mail: &options.mail, memberships: Box::default() };

    let mut entries = Vec::new();
    let mut providers = Providers::new();
    for item in &set.accounts {
        let status = match desired::flags(item) {
            Err(e) => failed(&e),
            Ok(flags) if flags.paused => Status::Paused,
            Ok(flags) => {
                let owner = desired::owner(cluster, &item.namespace, &item.name);
                let wanted = DesiredAccount::new(owner, item.object.spec.clone(), false, flags);
                walker.account(&wanted, now).await
            }
        };
        entries.push(entry("Account", item, status));
    }
    for item in &set.organizations {
        let status = match desired::flags(item) {
            Err(e) => failed(&e),
            Ok(flags) if flags.paused => Status::Paused,
            Ok(flags) => {
                let owner = desired::owner(cluster, &item.namespace, &item.name);
                let wanted = DesiredOrganization::new(owner, item.object.spec.clone(), false, flags);
                walker.organization(&wanted, now).await
            }
        };
        if let Status::Done(o) = &status
            && o.is_ready()
            && let Some(p) = codes::provider(item, o.id.clone())
        {
            providers.insert((item.namespace.clone(), item.name.clone()), p);
        }
        entries.push(entry("Organization", item, status));
    }
    walker.memberships = Box::new(membership::Walk::new(&mut walker.tx, store.backend(), cluster).await?);
    for item in &set.memberships {
        let status = match desired::flags(item) {
            Err(e) => failed(&e),
            Ok(flags) if flags.paused => Status::Paused,
            Ok(flags) => {
                let owner = desired::owner(cluster, &item.namespace, &item.name);
                let wanted = DesiredMembership::new(owner, item.object.spec.clone(), false, flags);
                walker.membership(&wanted, now).await
            }
        };
        entries.push(entry("Membership", item, status));
    }
    // TenantLinks and --prune write memberships too: what the walk read is theirs to read anew.
    walker.memberships = Box::default();
    let mut provider_codes = Vec::new();
    for item in &set.tenant_links {
        let status = match desired::flags(item) {
            Err(e) => failed(&e),
            Ok(flags) if flags.paused => Status::Paused,
            Ok(flags) => {
                let owner = desired::owner(cluster, &item.namespace, &item.name);
                let wanted = DesiredTenantLink::new(owner, item.object.spec.clone(), false, flags, None);
                let source = codes::source(set, &providers, item);
                let (status, issued_by) = walker.tenant_link(wanted, source, now).await;
                provider_codes.extend(issued_by.map(|p| format!("{}/{}", p.namespace, p.name)));
                status
            }
        };
        entries.push(entry("TenantLink", item, status));
    }

    let mut unpruned = Vec::new();
    if options.prune {
        for owner in stray_syncs {
            let status = walker.pruned_sync(&owner, now).await;
            entries.push(pruned("ProvisioningSync", owner, status));
        }
        for owner in stray_links {
            let gone = DesiredTenantLink::deleted(owner.clone(), DeletionPolicy::Delete, Flags::default());
            let (status, _) = walker.tenant_link(gone, CodeSource::Missing, now).await;
            entries.push(pruned("TenantLink", owner, status));
        }
        for owner in stray_members {
            let gone = DesiredMembership::deleted(owner.clone(), DeletionPolicy::Delete, Flags::default());
            let status = walker.membership(&gone, now).await;
            entries.push(pruned("Membership", owner, status));
        }
        for owner in stray_orgs {
            let gone = DesiredOrganization::deleted(owner.clone(), DeletionPolicy::Delete, Flags::default());
            let status = walker.organization(&gone, now).await;
            entries.push(pruned("Organization", owner, status));
        }
        for owner in stray_accounts {
            let gone = DesiredAccount::deleted(owner.clone(), DeletionPolicy::Delete, Flags::default());
            let status = walker.account(&gone, now).await;
            entries.push(pruned("Account", owner, status));
        }
    } else {
        let named = |kind: &str, o: &Owner| format!("{kind} {}/{}", o.namespace, o.name);
        unpruned.extend(stray_syncs.iter().map(|o| named("ProvisioningSync", o)));
        unpruned.extend(stray_links.iter().map(|o| named("TenantLink", o)));
        unpruned.extend(stray_members.iter().map(|o| named("Membership", o)));
        unpruned.extend(stray_orgs.iter().map(|o| named("Organization", o)));
        unpruned.extend(stray_accounts.iter().map(|o| named("Account", o)));
    }

    // What an Organization's status.links would say, once this run's links are in.
    for entry in entries.iter_mut().filter(|e| e.kind == "Organization" && !e.pruned) {
        if let Status::Done(o) = &mut entry.status
            && let Some(id) = o.id.clone().filter(|_| o.is_ready())
        {
            match tenant_link::link_summary(&mut walker.tx, &id).await {
                Ok(summary) => o.facts.organization_mut().links = Some(Box::new(summary)),
                Err(e) => entry.status = failed(&e),
            }
        }
    }

    // Syncs go last: they push the organizations and members as the run (and --prune) left
    // them. `apply` commits first (a push takes seconds and its own connections); `plan` runs
    // them in the transaction, without the push, and then rolls it back.
    let on = match mode {
        Mode::Apply => {
            db::commit(store, walker.tx).await?;
            SyncsOn::Store(store)
        }
        Mode::Plan => SyncsOn::Walker(walker),
    };
    let mut sync_run = SyncRun { on, guards: Guards::new(options.scim.clone()), mail: &options.mail };
    for item in &set.provisioning_syncs {
        let status = match desired::flags(item) {
            Err(e) => failed(&e),
            Ok(flags) if flags.paused => Status::Paused,
            Ok(flags) => sync_run.provisioning_sync(set, item, cluster, flags, now).await,
        };
        entries.push(entry("ProvisioningSync", item, status));
    }
    if let SyncsOn::Walker(mut walker) = sync_run.on {
        let created = footprint::created_at(&mut walker.tx, now).await?;
        for entry in &mut entries {
            if let Status::Done(outcome) = &mut entry.status {
                not_created_yet(outcome, &created);
            }
        }
        let rollback = walker.tx.rollback().await;
        rollback.map_err(|source| StoreError::Query { what: "roll back the plan".to_owned(), source })?;
    }
    entries.extend(set.secrets.iter().map(|s| entry("Secret", s, Status::Input)));
    Ok(Report { mode, entries, unpruned, mail: None, provider_codes, now })
}

/// SQLite's page cache for the run's connection: 128 MiB at most instead of 2 MiB, used only
/// as the database needs it. A run holds every page it changes until its one commit; with the
/// default cache, SQLite spilled them to the WAL mid-run and read them back, many times over.
async fn roomy_cache(store: &Store, tx: &mut Tx) -> Result<(), CoreError> {
    if store.backend() == crate::store::Backend::Sqlite {
        use sqlx::Executor as _;
        let set = tx.execute("PRAGMA cache_size = -131072").await;
        set.map_err(|source| StoreError::Query { what: "size the SQLite page cache".to_owned(), source })?;
    }
    Ok(())
}

/// `plan`: a row the rolled-back run created has no ID yet; where another row refers to one,
/// it is shown as [`NEW_ID`].
fn not_created_yet(outcome: &mut Outcome, created: &HashSet<String>) {
    let new = |id: &Option<String>| id.as_ref().is_some_and(|i| created.contains(i));
    let (none, shown) = (
        |id: &mut Option<String>| {
            if new(id) {
                *id = None;
            }
        },
        |id: &mut Option<String>| {
            if new(id) {
                *id = Some(NEW_ID.to_owned());
            }
        },
    );
    none(&mut outcome.id);
    shown(&mut outcome.account_id);
    if let Some(m) = outcome.facts.membership_mut() {
        shown(&mut m.user_id);
        none(&mut m.membership_id);
    }
    if let Some(l) = outcome.facts.tenant_link_mut() {
        none(&mut l.link_id);
        shown(&mut l.counterpart_organization_id);
    }
    if let Some(p) = outcome.facts.sync_mut() {
        none(&mut p.sync_id);
        for asset in &mut p.assets {
            if created.contains(&asset.asset_id) {
                NEW_ID.clone_into(&mut asset.asset_id);
            }
        }
    }
}

/// The run's transaction: each object in a savepoint of it, so one object's failure undoes
/// only its own writes.
struct Walker<'a> {
    tx: Tx,
    mail: &'a MailSettings,
    /// What the Memberships read, read once for the walk (`core::membership::Walk`); made
    /// once every Account and Organization of the set is done.
    memberships: Box<membership::Walk>,
}

/// A savepoint of `tx` for one object.
async fn savepoint(tx: &mut Tx) -> Result<sqlx::Transaction<'_, sqlx::Any>, CoreError> {
    use sqlx::Acquire;
    tx.begin().await.map_err(|source| StoreError::Query { what: "open a savepoint".to_owned(), source }.into())
}

/// Keep the object's writes when it succeeded, undo them when it failed.
async fn settle(sp: sqlx::Transaction<'_, sqlx::Any>, result: Result<Outcome, CoreError>) -> Status {
    match result {
        Ok(outcome) => match sp.commit().await {
            Ok(()) => Status::Done(outcome),
            Err(source) => failed(&StoreError::Query { what: "release a savepoint".to_owned(), source }.into()),
        },
        Err(e) => {
            // A failed rollback leaves the run's transaction failing too: its commit reports it.
            let _ = sp.rollback().await;
            failed(&e)
        }
    }
}

impl Walker<'_> {
    /// One object's `step` in a savepoint of the run's transaction (see [`settle`]).
    async fn step(&mut self, step: impl AsyncFnOnce(&mut Conn) -> Result<Outcome, CoreError>) -> Status {
        let mut sp = match savepoint(&mut self.tx).await {
            Ok(sp) => sp,
            Err(e) => return failed(&e),
        };
        let result = step(&mut sp).await;
        settle(sp, result).await
    }

    async fn account(&mut self, wanted: &DesiredAccount, now: Timestamp) -> Status {
        self.step(async |conn| account::reconcile_in(conn, wanted, now).await).await
    }

    async fn organization(&mut self, wanted: &DesiredOrganization, now: Timestamp) -> Status {
        self.step(async |conn| organization::reconcile_in(conn, wanted, now).await).await
    }

    async fn membership(&mut self, wanted: &DesiredMembership, now: Timestamp) -> Status {
        let mail = self.mail;
        // `step`, with the walk borrowed beside the transaction.
        let mut sp = match savepoint(&mut self.tx).await {
            Ok(sp) => sp,
            Err(e) => return failed(&e),
        };
        let result = membership::reconcile_in_walk(&mut sp, wanted, now, mail, &self.memberships).await;
        settle(sp, result).await
    }

    /// A TenantLink, with its code from `source`; also returns the provider that issued a code
    /// for it in this run.
    async fn tenant_link<'p>(
        &mut self,
        wanted: DesiredTenantLink,
        source: CodeSource<'p>,
        now: Timestamp,
    ) -> (Status, Option<&'p codes::Provider>) {
        let mail = self.mail;
        let mut issued_by = None;
        let status = self
            .step(async |conn| {
                let mut wanted = wanted;
                match source {
                    CodeSource::Missing => {}
                    CodeSource::Given(code) => wanted.code = Some(code),
                    CodeSource::Issued(provider) => {
                        if issue_if_needed(conn, &mut wanted, provider, now).await? {
                            issued_by = Some(provider);
                        }
                    }
                }
                tenant_link::reconcile_in(conn, &wanted, now, mail).await
            })
            .await;
        let issued_by = issued_by.filter(|_| matches!(status, Status::Done(_)));
        (status, issued_by)
    }

    /// `--prune` of a sync whose manifest is gone: its record is archived.
    async fn pruned_sync(&mut self, owner: &Owner, now: Timestamp) -> Status {
        self.step(async |conn| deletion::prune(conn, owner, now).await).await
    }
}

/// The syncs of a run.
struct SyncRun<'a> {
    on: SyncsOn<'a>,
    /// One rate budget and circuit breaker per external system for the run.
    guards: Guards,
    mail: &'a MailSettings,
}

/// Where the syncs go: pushed after the run's commit, each writing in a transaction of its
/// own, or run without the push in savepoints of the run's transaction.
enum SyncsOn<'a> {
    Store(&'a Store),
    Walker(Walker<'a>),
}

impl SyncRun<'_> {
    /// A ProvisioningSync with its credentials from the set: `apply` pushes, `plan` does not.
    async fn provisioning_sync(
        &mut self,
        set: &ManifestSet,
        item: &Item<ProvisioningSync>,
        cluster: &str,
        flags: Flags,
        now: Timestamp,
    ) -> Status {
        let spec = &item.object.spec;
        let resync = sync::resync_interval(spec);
        let Some(secret) = syncs::credentials(set, item) else {
            return Status::Done(credentials::secret_missing(spec, &item.namespace, resync, now));
        };
        if let Some(refused) = credentials::refusal(spec, &item.namespace, &secret, resync, now) {
            return Status::Done(refused);
        }
        let (creds, hash) = match syncs::run_key().and_then(|key| credentials::from_secret(spec, &secret, &key)) {
            Ok(found) => found,
            Err(e) => return failed(&e),
        };
        let wanted = DesiredSync {
            owner: desired::owner(cluster, &item.namespace, &item.name),
            spec: spec.clone(),
            deleting: false,
            flags,
            credentials: creds,
            credentials_hash: hash,
            ca_pem: syncs::ca_pem(set, item),
        };
        let outcome = |facts: sync::SyncFacts| facts.into_outcome(false, resync, now);
        let (guards, mail) = (&self.guards, self.mail);
        match &mut self.on {
            SyncsOn::Store(store) => match sync::reconcile(store, guards, &wanted, mail, now).await {
                Ok(facts) => Status::Done(outcome(facts)),
                Err(e) => failed(&e),
            },
            SyncsOn::Walker(walker) => {
                walker
                    .step(async |conn| {
                        sync::reconcile_in_skipping_external(conn, guards, &wanted, mail, now).await.map(outcome)
                    })
                    .await
            }
        }
    }
}

/// When the link waits for a code that `provider` can issue, issue one (in the link's
/// savepoint) and give it to the link. Returns whether a code was issued.
async fn issue_if_needed(
    conn: &mut Conn,
    wanted: &mut DesiredTenantLink,
    provider: &codes::Provider,
    now: Timestamp,
) -> Result<bool, CoreError> {
    let Some(id) = provider.id.as_deref() else { return Ok(false) };
    let observed = tenant_link::observe(conn, wanted).await?;
    if !codes::waits_for_code(&tenant_link::plan(wanted, &observed, now)) {
        return Ok(false);
    }
    wanted.code = Some(codes::issue(conn, id, provider.lifetime, now).await?);
    Ok(true)
}

fn failed(e: &CoreError) -> Status {
    Status::Failed(e.failure())
}

fn entry<K>(kind: &'static str, item: &Item<K>, status: Status) -> Entry {
    Entry { kind, namespace: item.namespace.clone(), name: item.name.clone(), pruned: false, status }
}

fn pruned(kind: &'static str, owner: Owner, status: Status) -> Entry {
    Entry { kind, namespace: owner.namespace, name: owner.name, pruned: true, status }
}

/// The owners of rows of `table` local mode owns under `cluster` that no item names.
async fn strays<K>(
    conn: &mut Conn,
    table: ManagedTable,
    cluster: &str,
    items: &[Item<K>],
) -> Result<Vec<Owner>, CoreError> {
    let present: HashSet<(&str, &str)> = items.iter().map(|i| (i.namespace.as_str(), i.name.as_str())).collect();
    let rows = ownership::list_owned(conn, table, cluster).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let uid = row.owner.uid?;
            let named = present.contains(&(row.owner.namespace.as_str(), row.owner.name.as_str()));
            let owner = Owner { cluster: row.owner.cluster, namespace: row.owner.namespace, name: row.owner.name, uid };
            (desired::is_local_uid(&owner.uid) && !named).then_some(owner)
        })
        .collect())
}
