//! Leader election on a coordination.k8s.io Lease (kube-lease-manager), so replicas > 1 is
//! safe: only the holder reconciles and sends mail; a standby takes over within the lease
//! duration after the leader dies, at once after a leader that stops on SIGTERM releases it.
//!
//! ```text
//! Candidate::start ── lease client (short connect/read/write timeouts)
//!   ├─ LeaseManager: compete; once held, renew every duration/2
//!   └─ observer, every duration/10: GET the Lease
//!        ├─ answered: LeaseWatch.answered (standby readiness: the apiserver serves us)
//!        └─ holder = us: Fence::extend_to(renewTime + duration − margin), else Fence::close
//! ```
//!
//! **Fencing.** A leader cut off from the apiserver cannot renew, and cannot learn that it lost
//! the lease, so it must stop on its own before a standby may start: at `renewTime + duration −
//! margin` as it last saw the Lease, by the clock that wrote `renewTime` (its own). A standby
//! takes over only once `renewTime + duration` has passed, so the margin (duration/5, at least
//! 1 s) covers the skew between nodes' clocks and a commit in flight. The store checks the
//! fence before every commit and the dispatcher before every claim and send. Requests on the
//! lease client time out after duration/5, so a renewal that hangs fails instead of keeping a
//! dead leader waiting, and the leader process ends when renewing fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::coordination::v1::Lease as LeaseObject;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tracing::{info, warn};

use super::context::MANAGER;
use crate::store::Fence;

/// How to take part in the election.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    pub lease_name: String,
    pub namespace: String,
    /// This replica's identity (the pod name in a cluster).
    pub identity: String,
    /// How long a lease stays valid without renewal: the longest a dead leader blocks others.
    pub duration: Duration,
    /// The apiserver connection the lease client is made from (it sets its own timeouts);
    /// `None`: the operator's client as it is.
    pub client_config: Option<kube::Config>,
}

/// The timing derived from the lease duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Whole seconds, as the Lease records it (at least 2).
    pub duration_secs: u64,
    /// Renew this long before expiry: half the duration.
    pub grace_secs: u64,
    /// How often the Lease is read.
    pub observe_every: Duration,
    /// Stop writing this long before the lease as last seen expires.
    pub margin: Duration,
    /// Connect, read and write timeouts of the lease client.
    pub request_timeout: Duration,
}

impl Timing {
    pub fn of(duration: Duration) -> Timing {
        let duration_secs = duration.as_secs().max(2);
        let d = Duration::from_secs(duration_secs);
        Timing {
            duration_secs,
            // At least half: `duration_secs.div_ceil(2)` is below the duration for 2 and up.
            grace_secs: duration_secs.div_ceil(2),
            observe_every: (d / 10).max(Duration::from_millis(200)),
            margin: (d / 5).max(Duration::from_secs(1).min(d / 4)),
            request_timeout: (d / 5).max(Duration::from_secs(1)),
        }
    }
}

/// What the observer last saw of the apiserver; `/readyz` reads it.
#[derive(Debug, Default)]
pub struct LeaseWatch {
    answered: Mutex<Option<Instant>>,
}

impl LeaseWatch {
    /// Whether the apiserver answered a Lease read within `within`.
    pub fn answered_within(&self, within: Duration) -> bool {
        self.answered.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|at| at.elapsed() <= within)
    }

    fn answered_now(&self) {
        *self.answered.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }
}

/// Taking part in the election: the lease manager and the observer keeping the fence.
pub struct Candidate {
    manager: LeaseManager,
    observer: Observer,
    task: tokio::task::JoinHandle<()>,
    lease_name: String,
    identity: String,
}

/// The lease while this replica holds it.
pub struct Lease {
    candidate: Candidate,
}

#[derive(Clone)]
struct Observer {
    api: Api<LeaseObject>,
    name: String,
    identity: String,
    timing: Timing,
    fence: Fence,
    watch: Arc<LeaseWatch>,
}

impl LeaderElection {
    pub fn timing(&self) -> Timing {
        Timing::of(self.duration)
    }

    /// Start competing: the observer runs from now on (standby readiness), the fence opens
    /// only while the lease is ours.
    pub async fn start(&self, client: &Client, fence: Fence, watch: Arc<LeaseWatch>) -> anyhow::Result<Candidate> {
        let timing = self.timing();
        let client = match &self.client_config {
            Some(config) => lease_client(config.clone(), timing)?,
            None => client.clone(),
        };
        let manager = LeaseManagerBuilder::new(client.clone(), &self.lease_name)
            .with_namespace(&self.namespace)
            .with_identity(&self.identity)
            .with_duration(timing.duration_secs)
            .with_grace(timing.grace_secs)
            .with_field_manager(format!("{MANAGER}-{}", self.identity))
            .build()
            .await
            .with_context(|| format!("preparing the Lease {}/{}", self.namespace, self.lease_name))?;
        let observer = Observer {
            api: Api::namespaced(client, &self.namespace),
            name: self.lease_name.clone(),
            identity: self.identity.clone(),
            timing,
            fence,
            watch,
        };
        let task = tokio::spawn(observer.clone().run());
        Ok(Candidate { manager, observer, task, lease_name: self.lease_name.clone(), identity: self.identity.clone() })
    }
}

/// A client for the lease alone, with timeouts well inside the lease duration: a renewal that
/// hangs fails in time. Watches never use it, so a read timeout is safe.
fn lease_client(mut config: kube::Config, timing: Timing) -> anyhow::Result<Client> {
    config.connect_timeout = Some(timing.request_timeout);
    config.read_timeout = Some(timing.request_timeout);
    config.write_timeout = Some(timing.request_timeout);
    config.reset_reader_on_write = true;
    Client::try_from(config).context("creating the leader-election client")
}

impl Observer {
    async fn run(self) {
        loop {
            self.observe().await;
            tokio::time::sleep(self.timing.observe_every).await;
        }
    }

    /// Read the Lease once; open the fence up to its deadline while we hold it.
    async fn observe(&self) {
        let read = tokio::time::timeout(self.timing.request_timeout, self.api.get_opt(&self.name)).await;
        let lease = match read {
            Ok(Ok(lease)) => lease,
            // Unanswered: the fence keeps its deadline and closes by itself when it passes.
            Ok(Err(e)) => return tracing::debug!(error = %e, "reading the leader lease failed"),
            Err(_) => return tracing::debug!("reading the leader lease timed out"),
        };
        self.watch.answered_now();
        let spec = lease.and_then(|l| l.spec);
        let ours = spec.as_ref().is_some_and(|s| s.holder_identity.as_deref() == Some(self.identity.as_str()));
        let renewed = spec.as_ref().and_then(|s| Some((s.renew_time.as_ref()?.0, s.lease_duration_seconds?)));
        match (ours, renewed) {
            (true, Some((renewed_at, secs))) => {
                let duration = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
                match deadline(renewed_at, duration, self.timing.margin, jiff::Timestamp::now()) {
                    Some(left) => self.fence.extend_to(Instant::now() + left),
                    None => self.fence.close(),
                }
            }
            _ => self.fence.close(),
        }
    }
}

/// How long from `now` writes stay safe for a lease renewed at `renewed_at` for `duration`:
/// until `margin` before it expires. `None` when that has passed.
pub fn deadline(
    renewed_at: jiff::Timestamp,
    duration: Duration,
    margin: Duration,
    now: jiff::Timestamp,
) -> Option<Duration> {
    let safe = duration.checked_sub(margin)?;
    let until = renewed_at.checked_add(safe).ok()?;
    let left = until.duration_since(now);
    left.is_positive().then(|| left.unsigned_abs())
}

impl Candidate {
    /// Waits until this replica holds the lease, with the fence open.
    pub async fn acquire(self) -> anyhow::Result<Lease> {
        info!(lease = %self.lease_name, identity = %self.identity, "waiting for the leader lease");
        loop {
            let leading =
                self.manager.changed().await.with_context(|| format!("competing for the Lease {}", self.lease_name))?;
            if leading {
                // Open the fence now rather than at the observer's next read.
                self.observer.observe().await;
                info!(lease = %self.lease_name, identity = %self.identity, "acquired the leader lease");
                return Ok(Lease { candidate: self });
            }
        }
    }
}

impl Lease {
    /// Renews the lease for as long as it is held; returns why it was lost. The fence is
    /// closed before this returns.
    pub async fn hold(&self) -> anyhow::Error {
        let lost = loop {
            match self.candidate.manager.changed().await {
                Ok(true) => continue,
                Ok(false) => break anyhow::anyhow!("lost the leader lease to another replica"),
                Err(e) => break anyhow::Error::new(e).context("renewing the leader lease"),
            }
        };
        self.candidate.observer.fence.close();
        lost
    }

    /// Stops writing, then gives the lease up so a standby takes over at once.
    pub async fn release(self) {
        self.candidate.task.abort();
        self.candidate.observer.fence.close();
        match self.candidate.manager.release().await {
            Ok(()) => info!("released the leader lease"),
            Err(e) => warn!(error = %e, "could not release the leader lease; it expires by itself"),
        }
    }
}

impl Drop for Candidate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn timing_renews_at_half_life_and_stops_a_fifth_before_expiry() {
        let t = Timing::of(15 * S);
        assert_eq!((t.duration_secs, t.grace_secs), (15, 8));
        assert_eq!((t.observe_every, t.margin, t.request_timeout), (S * 3 / 2, 3 * S, 3 * S));
        let short = Timing::of(Duration::from_millis(500));
        assert_eq!((short.duration_secs, short.grace_secs), (2, 1), "the Lease counts whole seconds");
        assert_eq!((short.margin, short.request_timeout, short.observe_every), (S / 2, S, Duration::from_millis(200)));
        for secs in [2, 3, 4, 15, 60, 300] {
            let t = Timing::of(secs * S);
            let d = Duration::from_secs(t.duration_secs);
            assert!(t.grace_secs < t.duration_secs, "{t:?}");
            assert!(t.margin > Duration::ZERO && t.margin < d / 2, "{t:?}");
            // The observer sees a renewal before the fence of the previous one closes, so a
            // healthy leader never pauses.
            let renewal_seen = d - Duration::from_secs(t.grace_secs) + t.observe_every;
            assert!(renewal_seen < d - t.margin, "{secs}s: {t:?}");
        }
    }

    #[test]
    fn the_deadline_is_the_lease_expiry_minus_the_margin() {
        let renewed: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().expect("ts");
        let at = |s: i64| renewed.checked_add(jiff::SignedDuration::from_secs(s)).expect("ts");
        assert_eq!(deadline(renewed, 15 * S, 3 * S, at(0)), Some(12 * S));
        assert_eq!(deadline(renewed, 15 * S, 3 * S, at(10)), Some(2 * S));
        assert_eq!(deadline(renewed, 15 * S, 3 * S, at(12)), None, "a standby may start at 15 s");
        assert_eq!(deadline(renewed, 15 * S, 3 * S, at(20)), None);
        assert_eq!(deadline(renewed, 2 * S, 3 * S, at(0)), None, "a margin longer than the lease never opens");
    }
}
