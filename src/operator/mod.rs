//! The operator shell: kube-runtime controllers that feed Kubernetes objects to the core and
//! write the outcome back as status and Events.
//!
//! ```text
//!  Account ◄──watch── Organization changes (org count, blocked deletion)
//!     │                         │
//!  Organization ◄──watch── Account changes (AccountNotReady → ready)
//!     │
//!     ▼
//!  reconcile::<K> ──► core::{account,organization}::reconcile ──► Store (one transaction)
//!     │
//!     └─► status (server-side apply, only when changed) + Events; resync for drift
//! ```

mod context;
mod identity;
mod kinds;
mod reconcile;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use crate::api::{Account, Organization};
use crate::store::Store;

pub use context::{Context, FINALIZER, MANAGER};
pub use kinds::Managed;

/// How `accountops run` was configured.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// Watch one namespace; all when `None`.
    pub namespace: Option<String>,
    /// The identity recorded as owner of every row; the kube-system namespace's UID by default.
    pub cluster_id: Option<String>,
    pub resync: Duration,
    pub migrate: bool,
}

/// Runs the controllers until SIGTERM/SIGINT.
pub async fn run(client: Client, config: Config) -> anyhow::Result<()> {
    let store = connect(&config.database_url).await;
    if config.migrate {
        let report = store.migrate().await.context("running database migrations")?;
        info!(applied = ?report.applied, version = ?report.version, "database schema current");
    }
    let cluster_id = match config.cluster_id.clone() {
        Some(id) => id,
        None => identity::cluster_id(&client).await?,
    };
    info!(%cluster_id, namespace = config.namespace.as_deref().unwrap_or("(all)"), resync = ?config.resync, "starting controllers");
    let ctx = Arc::new(Context::new(client.clone(), store, cluster_id, config.resync));

    let accounts: Api<Account> = scoped(&client, config.namespace.as_deref());
    let organizations: Api<Organization> = scoped(&client, config.namespace.as_deref());
    wait_for_crds(&accounts, &organizations).await;

    let wc = watcher::Config::default().any_semantic();
    let account_controller = Controller::new(accounts.clone(), wc.clone())
        // An organization appearing, moving or going changes its account's count and may
        // unblock its deletion.
        .watches(organizations.clone(), wc.clone(), |org| {
            org.namespace().map(|ns| ObjectRef::<Account>::new(org.spec.account_ref.name.as_str()).within(&ns))
        })
        .shutdown_on_signal()
        .run(reconcile::reconcile::<Account>, reconcile::error_policy::<Account>, ctx.clone())
        .for_each(|result| async move { log_result("Account", result) });

    let organization_controller = Controller::new(organizations.clone(), wc.clone());
    let orgs = organization_controller.store();
    let organization_controller = organization_controller
        // An account becoming ready (or changing) re-queues the organizations waiting on it.
        .watches(accounts, wc, move |account| {
            let ns = account.namespace();
            let name = account.name_any();
            orgs.state()
                .into_iter()
                .filter(|o| o.namespace() == ns && o.spec.account_ref.name.as_str() == name)
                .map(|o| ObjectRef::from_obj(o.as_ref()))
                .collect::<Vec<_>>()
        })
        .shutdown_on_signal()
        .run(reconcile::reconcile::<Organization>, reconcile::error_policy::<Organization>, ctx)
        .for_each(|result| async move { log_result("Organization", result) });

    futures::join!(account_controller, organization_controller);
    info!("controllers stopped");
    Ok(())
}

fn scoped<K: Managed>(client: &Client, namespace: Option<&str>) -> Api<K> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
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
                warn!(error = %e, retry_in = ?delay, "database not reachable");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Controllers start once the CRDs serve; until then, wait and say why.
async fn wait_for_crds(accounts: &Api<Account>, organizations: &Api<Organization>) {
    let probe = ListParams::default().limit(1);
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
