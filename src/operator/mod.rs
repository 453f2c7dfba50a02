//! The operator shell: kube-runtime controllers that feed Kubernetes objects to the core and
//! write the outcome back as status and Events.
//!
//! ```text
//!  Account ◄──watch── Organization changes (org count, blocked deletion)
//!     │                         │
//!  Organization ◄──watch── Account changes (AccountNotReady → ready)
//!     │
//!     ▼
//!  Membership, TenantLink, ProvisioningSync: likewise, each re-queued by what it refers to
//!     │   (a ProvisioningSync by its Account, the namespace's Organizations and Memberships once
//!     │    their change reached the database, and its credentials Secret)
//!  reconcile::<K> ──► core::<kind>::reconcile ──► Store (one transaction), outbox, SCIM
//!     │
//!     └─► status (server-side apply, only when changed) + Events; resync for drift
//! ```

mod changes;
mod context;
mod health;
mod identity;
mod kinds;
mod leader;
pub mod metrics;
mod provider;
mod provisioning_sync;
mod reconcile;
pub mod scope;
pub mod secrets;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use kube::api::ListParams;
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use crate::api::{Account, Membership, Organization, ProvisioningSync, TenantLink};
use crate::mail::{DeliveryStats, DispatchHandle, Dispatcher, DispatcherConfig, MailSettings, Transport};
use crate::store::outbox::Origin;
use crate::store::{Fence, Store};

pub use context::{Context, FINALIZER, MANAGER};
pub use kinds::Managed;
pub use leader::{LeaderElection, LeaseWatch};
pub use scope::Scope;

/// Wakes the mail dispatcher right after a reconcile committed a mail.
pub fn wake_mail(handle: &Option<DispatchHandle>) {
    if let Some(handle) = handle {
        handle.notify();
    }
}

use health::Readiness;
use metrics::Metrics;

/// How `accountops run` was configured.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// The namespaces watched (`--namespace a,b`); all when empty.
    pub scope: Scope,
    /// The identity recorded as owner of every row; the kube-system namespace's UID by default.
    pub cluster_id: Option<String>,
    pub resync: Duration,
    pub migrate: bool,
    /// Where `/healthz`, `/readyz`, `/leader` and `/metrics` are served; none when `None`.
    pub health_addr: Option<SocketAddr>,
    /// Reconcile only while holding a Lease (replicas > 1).
    pub leader_election: Option<LeaderElection>,
    pub mail: MailConfig,
    /// The SCIM endpoint policy, client limits, rate budget and breaker (`--scim-*`).
    pub scim: crate::provisioning::GuardSettings,
}

/// How the operator sends mail.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub settings: MailSettings,
    /// The relay (`smtp://`, `smtps://`, `file://DIR`); without one mails wait in the outbox.
    pub transport_url: Option<String>,
    pub dispatcher: DispatcherConfig,
}

/// Runs the controllers until SIGTERM/SIGINT (or until leadership is lost, which is an error:
/// the process exits and its replacement queues up for the lease again).
///
/// ```text
/// health server ─ connect (fenced store) ─ migrate ─ cluster id ─ CRDs served (ready as standby)
///   ─ [leader election: observe + compete; the fence opens while the lease is ours]
///   ─ dispatcher (this cluster's mails) + controllers ─ until SIGTERM or the lease is lost
///   ─ fence closed, dispatcher stopped, lease released
/// ```
pub async fn run(client: Client, config: Config) -> anyhow::Result<()> {
    let readiness = Arc::new(Readiness::default());
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = config.health_addr {
        let (readiness, metrics) = (readiness.clone(), metrics.clone());
        let listener = health::bind(addr).await.with_context(|| format!("serving health and metrics on {addr}"))?;
        tokio::spawn(async move {
            if let Err(e) = health::serve(listener, readiness, metrics).await {
                warn!(error = %e, "health and metrics server stopped");
            }
        });
        info!(%addr, "serving /healthz, /readyz, /leader and /metrics");
    }
    // With leader election nothing is written until the lease is ours (see `leader`).
    let fence = if config.leader_election.is_some() { Fence::leased() } else { Fence::open() };
    let store = connect(&config.database_url).await.with_fence(fence.clone());
    let _ = readiness.store.set(store.clone());
    if config.migrate {
        let report = store.migrate().await.context("running database migrations")?;
        info!(applied = ?report.applied, version = ?report.version, "database schema current");
    }
    let cluster_id = match config.cluster_id.clone() {
        Some(id) => id,
        None => identity::cluster_id(&client).await?,
    };
    info!(%cluster_id, namespaces = config.scope.describe(), resync = ?config.resync, "starting controllers");
    // Mails this cluster queues are this cluster's to send, and no one else's.
    let mail_settings = config.mail.settings.clone().with_origin(Origin::Operator(cluster_id.clone()));
    let mut context = Context::new(client.clone(), store.clone(), cluster_id, config.resync, metrics.clone());
    context.mail_settings = mail_settings.clone();
    context.scim_guards = crate::provisioning::Guards::new(config.scim.clone());
    metrics.track_scim(context.scim_guards.clone());

    // A standby is ready once it could take over: database, apiserver and CRDs answer.
    tokio::select! {
        () = wait_for_crds(&client, &config.scope) => {}
        () = shutdown_signal() => return Ok(()),
    }
    readiness.crds_served.store(true, Ordering::SeqCst);
    let lease = match &config.leader_election {
        // A standby waits for the lease; SIGTERM while waiting ends it cleanly.
        Some(election) => {
            let timing = election.timing();
            let watch = Arc::new(LeaseWatch::default());
            let _ = readiness.election.set((watch.clone(), timing.observe_every * 3 + timing.request_timeout));
            let candidate = election.start(&client, fence.clone(), watch).await?;
            tokio::select! {
                lease = candidate.acquire() => Some(lease?),
                () = shutdown_signal() => {
                    info!("stopped while standby");
                    return Ok(());
                }
            }
        }
        None => None,
    };
    readiness.leading.store(true, Ordering::SeqCst);
    metrics.leader.set(1);

    // Only the leader delivers mail, and only under a claim, so no invitation goes out twice.
    let (stop_mail, mail_stopped) = tokio::sync::oneshot::channel::<()>();
    let dispatcher = match &config.mail.transport_url {
        Some(url) => {
            let transport = Transport::from_url(url).context("configuring the mail transport")?;
            let stats = Arc::new(DeliveryStats::default());
            metrics.track_delivery(stats.clone());
            let instance = config.leader_election.as_ref().map(|e| e.identity.clone());
            let instance = instance.or_else(|| std::env::var("POD_NAME").ok()).unwrap_or_else(|| "operator".to_owned());
            let dispatcher = Dispatcher::new(store, transport, &mail_settings, config.mail.dispatcher.clone())
                .context("configuring the mail sender")?
                .with_instance(&mail_settings, &instance)
                .with_stats(stats);
            context.mail_wake = Some(dispatcher.handle());
            Some(tokio::spawn(dispatcher.run(async {
                let _ = mail_stopped.await;
            })))
        }
        None => {
            warn!("no mail transport configured (--smtp-url): mails stay in the outbox until one is");
            None
        }
    };
    let ctx = Arc::new(context);

    let controllers = controllers(&client, &config, ctx, readiness.clone());
    let outcome = match &lease {
        // Keep renewing while the controllers run; losing the lease stops this replica.
        Some(lease) => tokio::select! {
            () = controllers => Ok(()),
            lost = lease.hold() => Err(lost),
        },
        None => {
            controllers.await;
            Ok(())
        }
    };
    let _ = stop_mail.send(());
    if let Some(task) = dispatcher {
        let _ = task.await;
    }
    readiness.leading.store(false, Ordering::SeqCst);
    metrics.leader.set(0);
    if let Some(lease) = lease {
        lease.release().await;
    }
    info!("controllers stopped");
    outcome
}

/// The two controllers; completes after SIGTERM/SIGINT once in-flight reconciles finish.
async fn controllers(client: &Client, config: &Config, ctx: Arc<Context>, readiness: Arc<Readiness>) {
    let scope = &config.scope;
    wait_for_crds(client, scope).await;
    let wc = watcher::Config::default().any_semantic();
    let account_controller = controller::<Account>(client, scope, &wc);
    let account_cache = account_controller.store();
    track_queue(&ctx, account_cache.clone());
    let account_controller = account_controller
        // An organization appearing, moving or going changes its account's count and may
        // unblock its deletion.
        .watches_stream(scope::touched::<Organization>(client, scope, &wc), |org| {
            org.namespace().map(|ns| ObjectRef::<Account>::new(org.spec.account_ref.name.as_str()).within(&ns))
        })
        .shutdown_on_signal()
        .run(reconcile::reconcile::<Account>, reconcile::error_policy::<Account>, ctx.clone())
        .for_each(|result| async move { log_result("Account", result) });

    let organization_controller = controller::<Organization>(client, scope, &wc);
    let orgs = organization_controller.store();
    let providers = orgs.clone();
    track_queue(&ctx, orgs.clone());
    let synced = (account_cache, orgs.clone());
    let organization_controller = organization_controller
        // A link redeeming a provider's code (or going) changes the provider's code and counts;
        // which provider is only known from the code, so every service provider of the namespace
        // is looked at again.
        .watches_stream(scope::touched::<TenantLink>(client, scope, &wc), move |link| {
            let ns = link.namespace();
            let ours = link.spec.organization_ref.name.as_str().to_owned();
            providers
                .state()
                .into_iter()
                .filter(|o| o.namespace() == ns && (o.spec.service_provider.is_some() || o.name_any() == ours))
                .map(|o| ObjectRef::from_obj(o.as_ref()))
                .collect::<Vec<_>>()
        })
        // A membership appearing or going changes the member count and may unblock deletion.
        .watches_stream(scope::touched::<Membership>(client, scope, &wc), |m| {
            let ns = m.namespace()?;
            m.spec.organization_ref.as_ref().map(|r| ObjectRef::<Organization>::new(r.name.as_str()).within(&ns))
        })
        // An account becoming ready (or changing) re-queues the organizations waiting on it.
        .watches_stream(scope::touched::<Account>(client, scope, &wc), move |account| {
            let ns = account.namespace();
            let name = account.name_any();
            orgs.state()
                .into_iter()
                .filter(|o| o.namespace() == ns && o.spec.account_ref.name.as_str() == name)
                .map(|o| ObjectRef::from_obj(o.as_ref()))
                .collect::<Vec<_>>()
        })
        .shutdown_on_signal()
        .run(reconcile::reconcile::<Organization>, reconcile::error_policy::<Organization>, ctx.clone())
        .for_each(|result| async move { log_result("Organization", result) });

    let link_controller = controller::<TenantLink>(client, scope, &wc);
    let links = link_controller.store();
    track_queue(&ctx, links.clone());
    let links_of_org = links.clone();
    let link_controller = link_controller
        // Our organization becoming ready (or its roles changing) lets a link go on.
        .watches_stream(scope::touched::<Organization>(client, scope, &wc), move |org| {
            let (ns, name) = (org.namespace(), org.name_any());
            links_of_org
                .state()
                .into_iter()
                .filter(|l| l.namespace() == ns && l.spec.organization_ref.name.as_str() == name)
                .map(|l| ObjectRef::from_obj(l.as_ref()))
                .collect::<Vec<_>>()
        })
        // A code Secret appearing or changing re-queues the links that name it. Only metadata
        // is watched: the operator never caches Secret contents.
        .watches_stream(scope::touched::<SecretMeta>(client, scope, &wc), move |secret| {
            let (ns, name) = (secret.namespace(), secret.name_any());
            links
                .state()
                .into_iter()
                .filter(|l| {
                    l.namespace() == ns
                        && l.spec.provider_code.as_ref().is_some_and(|p| p.secret_ref.name.as_str() == name)
                })
                .map(|l| ObjectRef::from_obj(l.as_ref()))
                .collect::<Vec<_>>()
        })
        // A partner accepting or rejecting in the web app changes rows only.
        .reconcile_on(changes::tenant_link_changes(ctx.store.clone(), ctx.cluster_id.clone(), CHANGE_POLL))
        .shutdown_on_signal()
        .run(reconcile::reconcile::<TenantLink>, reconcile::error_policy::<TenantLink>, ctx.clone())
        .for_each(|result| async move { log_result("TenantLink", result) });

    let sync_controller = sync_controller(client, scope, &wc, &ctx);

    let membership_controller = controller::<Membership>(client, scope, &wc);
    let members = membership_controller.store();
    track_queue(&ctx, members.clone());
    let members_of_account = members.clone();
    let membership_controller = membership_controller
        // Roles, groups or readiness of the organization decide whether a membership can go on.
        .watches_stream(scope::touched::<Organization>(client, scope, &wc), move |org| {
            let (ns, name) = (org.namespace(), org.name_any());
            members
                .state()
                .into_iter()
                .filter(|m| {
                    m.namespace() == ns && m.spec.organization_ref.as_ref().is_some_and(|r| r.name.as_str() == name)
                })
                .map(|m| ObjectRef::from_obj(m.as_ref()))
                .collect::<Vec<_>>()
        })
        .watches_stream(scope::touched::<Account>(client, scope, &wc), move |account| {
            let (ns, name) = (account.namespace(), account.name_any());
            members_of_account
                .state()
                .into_iter()
                .filter(|m| m.namespace() == ns && m.spec.account_ref.as_ref().is_some_and(|r| r.name.as_str() == name))
                .map(|m| ObjectRef::from_obj(m.as_ref()))
                .collect::<Vec<_>>()
        })
        // Acceptance by the web app and mail delivery change rows only; see them within seconds.
        .reconcile_on(changes::membership_changes(ctx.store.clone(), ctx.cluster_id.clone(), CHANGE_POLL))
        .shutdown_on_signal()
        .run(reconcile::reconcile::<Membership>, reconcile::error_policy::<Membership>, ctx)
        .for_each(|result| async move { log_result("Membership", result) });

    let mark_synced = async move {
        let (accounts, orgs) = synced;
        if accounts.wait_until_ready().await.is_ok() && orgs.wait_until_ready().await.is_ok() {
            readiness.caches_synced.store(true, Ordering::SeqCst);
            info!("caches synced");
        }
    };
    futures::join!(
        account_controller,
        organization_controller,
        membership_controller,
        link_controller,
        sync_controller,
        mark_synced
    );
}

type SecretMeta = kube::core::PartialObjectMeta<k8s_openapi::api::core::v1::Secret>;

/// The ProvisioningSync controller: a sync is looked at again when its Account, any
/// Organization or Membership of its namespace, or its credentials Secret changes.
fn sync_controller(
    client: &Client,
    scope: &Scope,
    wc: &watcher::Config,
    ctx: &Arc<Context>,
) -> impl std::future::Future<Output = ()> + use<> {
    // A sync's own status write (lastSyncTime moves every run) must not trigger it again:
    // only spec, annotations, finalizers and deletion do. Its resync interval does the rest.
    let (cache, writer) = kube::runtime::reflector::store();
    let trigger = scope::reflected(client, scope, wc, writer)
        .applied_objects()
        .predicate_filter(sync_trigger, kube::runtime::PredicateConfig::default());
    let controller = Controller::for_stream(trigger, cache.clone());
    track_queue(ctx, cache.clone());
    let of_account = cache.clone();
    let in_namespace = |cache: kube::runtime::reflector::Store<ProvisioningSync>| {
        move |ns: Option<String>| {
            cache
                .state()
                .into_iter()
                .filter(|s| s.namespace() == ns)
                .map(|s| ObjectRef::from_obj(s.as_ref()))
                .collect::<Vec<_>>()
        }
    };
    let of_org = in_namespace(cache.clone());
    let of_membership = in_namespace(cache.clone());
    let of_secret = cache;
    controller
        .watches_stream(settled::<Account>(client, scope, wc), move |account| {
            let (ns, name) = (account.namespace(), account.name_any());
            of_account
                .state()
                .into_iter()
                .filter(|s| s.namespace() == ns && s.spec.account_ref.name.as_str() == name)
                .map(|s| ObjectRef::from_obj(s.as_ref()))
                .collect::<Vec<_>>()
        })
        // Organizations and memberships are the groups and users pushed; which account they
        // belong to is only known from the database, so every sync of the namespace looks again,
        // but only once the change reached the database (see `reconciled`), not for every
        // status write (a member count, a condition's time), so SCIM is not asked for nothing.
        .watches_stream(settled::<Organization>(client, scope, wc), move |org| of_org(org.namespace()))
        .watches_stream(settled::<Membership>(client, scope, wc), move |m| of_membership(m.namespace()))
        // A rotated credentials Secret re-queues the syncs that name it (metadata only).
        .watches_stream(scope::touched::<SecretMeta>(client, scope, wc), move |secret| {
            let (ns, name) = (secret.namespace(), secret.name_any());
            of_secret
                .state()
                .into_iter()
                .filter(|s| s.namespace() == ns && s.spec.endpoint.credentials_secret_ref.name.as_str() == name)
                .map(|s| ObjectRef::from_obj(s.as_ref()))
                .collect::<Vec<_>>()
        })
        .shutdown_on_signal()
        .run(reconcile::reconcile::<ProvisioningSync>, reconcile::error_policy::<ProvisioningSync>, ctx.clone())
        .for_each(|result| async move { log_result("ProvisioningSync", result) })
}

/// The objects of `api` whose changes reached the database, for a controller that reads the
/// database rather than the objects (see [`reconciled`]).
fn settled<K>(
    client: &Client,
    scope: &Scope,
    wc: &watcher::Config,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + use<K>
where
    K: Managed + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    scope::touched::<K>(client, scope, wc).predicate_filter(reconciled::<K>, kube::runtime::PredicateConfig::default())
}

/// Changes when the object's reconciler wrote something to the database: a generation it
/// observed, a deletion started, a finalizer removed (deletion done). Status writes that only
/// move counts or condition times do not change it.
fn reconciled<K: Managed>(obj: &K) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let meta = obj.meta();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    obj.status().and_then(K::observed_generation).hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    Some(hasher.finish())
}

/// What of a ProvisioningSync, when changed, calls for a reconcile (not its status).
fn sync_trigger(sync: &ProvisioningSync) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let meta = &sync.metadata;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    meta.generation.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

/// Export how many of a controller's objects wait for their current generation to be reconciled.
fn track_queue<K: Managed>(ctx: &Context, cache: kube::runtime::reflector::Store<K>) {
    let probe = move || cache.state().iter().filter(|o| kinds::pending(o.as_ref())).count();
    ctx.metrics.track_queue(K::KIND.as_str(), Box::new(probe));
}

/// How often rows changed outside Kubernetes (accepted invitations, delivered mails) are polled.
const CHANGE_POLL: Duration = Duration::from_secs(2);

/// SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// A controller of kind `K` over the watched namespaces, with the store it reads from.
fn controller<K>(client: &Client, scope: &Scope, wc: &watcher::Config) -> Controller<K>
where
    K: Managed + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let (cache, writer) = kube::runtime::reflector::store();
    Controller::for_stream(scope::reflected(client, scope, wc, writer).applied_objects(), cache)
}

/// Connects, retrying with backoff: the operator starts even while the database is down.
async fn connect(url: &str) -> Store {
    let mut attempt = 0u32;
    loop {
        match Store::connect(url).await {
            Ok(store) => return store,
            Err(e) => {
                attempt += 1;
                let delay = context::backoff_delay(attempt).min(Duration::from_secs(30));
                warn!(error = %e.chain(), retry_in = ?delay, "database not reachable");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Controllers start once the CRDs serve (in the first watched namespace, or cluster-wide);
/// until then, wait and say why.
async fn wait_for_crds(client: &Client, scope: &Scope) {
    let probe = ListParams::default().limit(1);
    let (accounts, organizations) =
        (scope.apis::<Account>(client).remove(0), scope.apis::<Organization>(client).remove(0));
    loop {
        match (accounts.list_metadata(&probe).await, organizations.list_metadata(&probe).await) {
            (Ok(_), Ok(_)) => return,
            (Err(e), _) | (_, Err(e)) => {
                warn!(error = %e, "accountops CRDs not served yet (install crds/ or the Helm chart); retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

fn log_result<T: std::fmt::Debug, E: std::fmt::Display>(kind: &str, result: Result<T, E>) {
    if let Err(e) = result {
        // Reconcile errors are already logged with their object; these are queue-level.
        tracing::debug!(kind, error = %e, "controller event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OrganizationStatus;

    fn org(observed: Option<i64>, members: i32) -> Organization {
        let spec = serde_yaml::from_str("accountRef: {name: acme}\ndisplayName: Eng\n").expect("spec");
        let mut o = Organization::new("eng", spec);
        o.metadata.uid = Some("uid-1".into());
        o.metadata.generation = Some(2);
        o.status = Some(OrganizationStatus {
            observed_generation: observed,
            member_count: Some(members),
            ..Default::default()
        });
        o
    }

    #[test]
    fn syncs_look_again_only_when_a_change_reached_the_database() {
        let base = reconciled(&org(Some(1), 3));
        assert_eq!(reconciled(&org(Some(1), 4)), base, "a member count written to status");
        assert_ne!(reconciled(&org(Some(2), 3)), base, "the reconciler observed the new generation");
        let mut deleting = org(Some(1), 3);
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH));
        assert_ne!(reconciled(&deleting), base, "a deletion started");
        let mut finalized = org(Some(1), 3);
        finalized.metadata.finalizers = Some(vec!["accountops.dev/cleanup".into()]);
        assert_ne!(reconciled(&finalized), base, "a finalizer added or removed");
    }
}
