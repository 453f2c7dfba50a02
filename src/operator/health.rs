//! `/healthz` (the process serves), `/readyz` (leading, caches synced and the database
//! answers) and `/metrics` on one port.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;
use crate::store::Store;

/// What `/readyz` reports on.
#[derive(Default)]
pub struct Readiness {
    /// Every controller's cache has listed its objects once.
    pub caches_synced: AtomicBool,
    /// This replica reconciles (holds the lease, or leader election is off).
    pub leading: AtomicBool,
    /// The database, once connected.
    pub store: OnceLock<Store>,
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
        .route("/metrics", get(metrics_text))
        .with_state(Shared { readiness, metrics });
    axum::serve(listener, app).await
}

async fn readyz(State(shared): State<Shared>) -> impl IntoResponse {
    let mut problems = Vec::new();
    if !shared.readiness.leading.load(Ordering::SeqCst) {
        problems.push("standby: another replica holds the leader lease".to_owned());
    }
    if !shared.readiness.caches_synced.load(Ordering::SeqCst) {
        problems.push("caches not synced yet".to_owned());
    }
    match shared.readiness.store.get() {
        None => problems.push("database not connected yet".to_owned()),
        Some(store) => {
            let ping = tokio::time::timeout(Duration::from_secs(2), ping(store)).await;
            if !matches!(ping, Ok(Ok(()))) {
                problems.push("database not reachable".to_owned());
            }
        }
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", problems.join("; ")))
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
