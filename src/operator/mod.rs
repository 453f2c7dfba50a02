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

mod backoff;
mod census;
mod changes;
mod context;
mod controllers;
mod health;
mod identity;
mod informer;
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
use kube::Client;
use kube::api::ListParams;
use tracing::{info, warn};

use crate::api::{Account, Organization};
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
    /// Reconciles running at once per kind (`--concurrency`).
    pub concurrency: u16,
    /// The database connection pool (`--database-max-connections` and others).
    pub pool: crate::store::PoolSettings,
    /// The SCIM endpoint policy, client limits, rate budget and breaker (`--scim-*`).
    pub scim: crate::scim::GuardSettings,
}

/// How the operator sends mail.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub settings: MailSettings,
    /// The relay (`smtp://`, `smtps://`, `file://DIR`); without one mails wait in the outbox.
    pub transport_url: Option<String>,
    pub dispatcher: DispatcherConfig,
    /// At most this many invitations a day per Membership.
    pub invitations_per_day: u32,
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
    let store = connect(&config.database_url, &config.pool).await.with_fence(fence.clone());
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
    context.invitations_per_day = config.mail.invitations_per_day;
    context.scim_guards = crate::scim::Guards::new(config.scim.clone());
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

    let controllers = controllers::run(&client, &config, ctx, readiness.clone());
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

/// How often rows changed outside Kubernetes (accepted invitations, delivered mails) are polled.
pub(crate) const CHANGE_POLL: Duration = Duration::from_secs(2);

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

/// Connects, retrying with backoff: the operator starts even while the database is down.
async fn connect(url: &str, settings: &crate::store::PoolSettings) -> Store {
    let mut attempt = 0u32;
    loop {
        match Store::connect_with(url, settings).await {
            Ok(store) => return store,
            Err(e) => {
                attempt += 1;
                let delay = crate::jitter::spread(backoff::delay(attempt).min(Duration::from_secs(30)));
                warn!(error = %e.chain(), retry_in = ?delay, "database not reachable");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Controllers start once the CRDs serve (in the first watched namespace, or cluster-wide);
/// until then, wait and say why.
pub(crate) async fn wait_for_crds(client: &Client, scope: &Scope) {
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

#[cfg(test)]
mod tests {
    use super::controllers::reconciled;
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
        assert_eq!(reconciled(&finalized), base, "our finalizer added to a live object is no change");
    }
}
