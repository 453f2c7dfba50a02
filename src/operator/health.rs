//! `/healthz` (the process serves), `/readyz` (this replica can do its part), `/leader` (it
//! is the one reconciling) and `/metrics` on one port.
//!
//! Readiness is not leadership: a standby is ready when it could take over (the database
//! answers, the apiserver answers its Lease reads and serves the CRDs), so a Deployment with
//! two replicas becomes Available and rolling updates and node drains proceed. The leader is
//! ready once its caches are synced as well. Which replica leads is `/leader` (200 on the
//! leader, 503 on a standby) and the `accountops_leader` gauge.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::leader::LeaseWatch;
use super::metrics::Metrics;
use crate::store::Store;

/// What `/readyz` and `/leader` report on.
#[derive(Default)]
pub struct Readiness {
    /// Every controller's cache has listed its objects once.
    pub caches_synced: AtomicBool,
    /// This replica reconciles (holds the lease, or leader election is off).
    pub leading: AtomicBool,
    /// The accountops CRDs are served (checked before competing for the lease).
    pub crds_served: AtomicBool,
    /// With leader election: the Lease reads, and how long an answer counts as current.
    pub election: OnceLock<(Arc<LeaseWatch>, Duration)>,
    /// The database, once connected.
    pub store: OnceLock<Store>,
}

impl Readiness {
    /// Why this replica is not ready, empty when it is; `database_ok` from a ping.
    fn problems(&self, database_ok: Option<bool>) -> Vec<&'static str> {
        let mut problems = Vec::new();
        match database_ok {
            None => problems.push("database not connected yet"),
            Some(false) => problems.push("database not reachable"),
            Some(true) => {}
        }
        if !self.crds_served.load(Ordering::SeqCst) {
            problems.push("accountops CRDs not served yet");
        }
        if let Some((watch, within)) = self.election.get()
            && !watch.answered_within(*within)
        {
            problems.push("the apiserver does not answer the leader lease reads");
        }
        if self.leading.load(Ordering::SeqCst) && !self.caches_synced.load(Ordering::SeqCst) {
            problems.push("caches not synced yet");
        }
        problems
    }
}

#[derive(Clone)]
struct Shared {
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
}

/// Binds the port first, so a port already in use fails the start-up with a clear error.
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/leader", get(leader))
        .route("/metrics", get(metrics_text))
        .with_state(Shared { readiness, metrics });
    axum::serve(listener, app).await
}

async fn readyz(State(shared): State<Shared>) -> impl IntoResponse {
    let database_ok = match shared.readiness.store.get() {
        None => None,
        Some(store) => Some(matches!(tokio::time::timeout(Duration::from_secs(2), ping(store)).await, Ok(Ok(())))),
    };
    let problems = shared.readiness.problems(database_ok);
    let role = if shared.readiness.leading.load(Ordering::SeqCst) { "leader" } else { "standby" };
    if problems.is_empty() {
        (StatusCode::OK, format!("ready ({role})\n"))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready ({role}): {}\n", problems.join("; ")))
    }
}

async fn leader(State(shared): State<Shared>) -> impl IntoResponse {
    if shared.readiness.leading.load(Ordering::SeqCst) {
        (StatusCode::OK, "leader\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "standby: another replica holds the leader lease\n")
    }
}

async fn metrics_text(State(shared): State<Shared>) -> impl IntoResponse {
    if let Some(store) = shared.readiness.store.get()
        && let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), outbox_pending(store)).await
    {
        shared.metrics.outbox_pending.set(n);
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], shared.metrics.encode())
}

async fn ping(store: &Store) -> Result<(), crate::store::StoreError> {
    let mut conn = store.acquire().await?;
    sqlx::query("SELECT 1")
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|source| crate::store::StoreError::Query { what: "ping".into(), source })
}

async fn outbox_pending(store: &Store) -> Result<i64, crate::store::StoreError> {
    let mut conn = store.acquire().await?;
    crate::store::outbox::pending_count(&mut conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(flag: &AtomicBool, on: bool) {
        flag.store(on, Ordering::SeqCst);
    }

    #[test]
    fn a_standby_is_ready_without_caches_and_a_leader_needs_them() {
        let r = Readiness::default();
        set(&r.crds_served, true);
        assert!(r.problems(Some(true)).is_empty(), "a standby that can take over is ready");
        set(&r.leading, true);
        assert_eq!(r.problems(Some(true)), ["caches not synced yet"]);
        set(&r.caches_synced, true);
        assert!(r.problems(Some(true)).is_empty());
        assert_eq!(r.problems(Some(false)), ["database not reachable"]);
        assert_eq!(r.problems(None), ["database not connected yet"]);
    }

    #[test]
    fn a_replica_is_not_ready_without_crds_or_an_answering_apiserver() {
        let r = Readiness::default();
        assert_eq!(r.problems(Some(true)), ["accountops CRDs not served yet"]);
        set(&r.crds_served, true);
        let watch = Arc::new(LeaseWatch::default());
        assert!(r.election.set((watch, Duration::from_secs(5))).is_ok());
        assert_eq!(r.problems(Some(true)), ["the apiserver does not answer the leader lease reads"]);
    }
}
