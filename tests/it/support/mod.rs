//! Helpers the end-to-end tests share: the operator as a real process, a cuttable database
//! connection, podman and the Dockerfile's image description, polling with a deadline, and
//! how GitOps tools judge health.

pub mod dockerfile;
pub mod gitops;
pub mod hostile;
pub mod http;
pub mod operator;
pub mod podman;
pub mod proxy;
pub mod scim;
pub mod smtp;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
