//! What every reconcile shares: clients, the store, the cluster identity and retry state.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

use super::backoff::Backoffs;
use super::metrics::Metrics;
use crate::store::Store;

/// The field manager of every write the operator makes (status, finalizers).
pub const MANAGER: &str = "accountops";
/// The finalizer that keeps an object until its platform row is archived or orphaned.
pub const FINALIZER: &str = "accountops.dev/finalizer";

pub struct Context {
    pub client: Client,
    pub store: Store,
    /// Identity of this cluster, recorded as the owner of every row the operator writes.
    pub cluster_id: String,
    /// How often a converged object is compared with the database again (drift).
    pub resync: Duration,
    /// How often an object whose deletion is blocked is looked at again (its children's
    /// watches usually trigger it sooner).
    pub blocked_retry: Duration,
    pub recorder: Recorder,
    pub metrics: std::sync::Arc<Metrics>,
    /// Sender and accept-link settings of the mails reconciles write to the outbox.
    pub mail_settings: crate::mail::MailSettings,
    /// At most this many invitations a day per Membership (`--invitation-resends-per-day`).
    pub invitations_per_day: u32,
    /// Wakes the dispatcher after a commit that queued mail (leader only).
    pub mail_wake: Option<crate::mail::DispatchHandle>,
    /// Rate budget and circuit breaker per SCIM endpoint, shared by every ProvisioningSync.
    pub scim_guards: crate::scim::Guards,
    /// The key of `status.credentialsHash`, read (or created) once from the database.
    credentials_key: tokio::sync::OnceCell<crate::store::keys::HashKey>,
    /// Consecutive failures per object, for exponential backoff (pruned of objects gone).
    failures: Mutex<Backoffs>,
}

impl Context {
    pub fn new(
        client: Client,
        store: Store,
        cluster_id: String,
        resync: Duration,
        metrics: std::sync::Arc<Metrics>,
    ) -> Context {
        let reporter = Reporter { controller: MANAGER.to_owned(), instance: std::env::var("POD_NAME").ok() };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            store,
            cluster_id,
            resync,
            blocked_retry: Duration::from_secs(15).min(resync),
            failures: Mutex::new(Backoffs::new(Instant::now())),
            metrics,
            mail_settings: crate::mail::MailSettings::default(),
            invitations_per_day: crate::core::membership::DEFAULT_INVITATIONS_PER_DAY,
            mail_wake: None,
            scim_guards: crate::scim::Guards::default(),
            credentials_key: tokio::sync::OnceCell::new(),
        }
    }

    /// The key of the credentials hash in ProvisioningSync status (see [`crate::store::keys`]);
    /// a database that cannot be reached now is asked again on the next call.
    pub async fn credentials_key(
        &self,
        now: jiff::Timestamp,
    ) -> Result<crate::store::keys::HashKey, crate::core::CoreError> {
        use crate::store::keys;
        let key = self.credentials_key.get_or_try_init(|| async {
            let mut conn = self.store.acquire().await?;
            keys::get_or_create(&mut conn, keys::CREDENTIALS_HASH, now).await
        });
        Ok(key.await?.clone())
    }

    /// The delay before retrying `key` after another failure: 1s, 2s, 4s … capped at 5 minutes.
    pub fn backoff(&self, key: &str) -> Duration {
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).fail(key, Instant::now())
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).succeeded(key);
    }
}
