//! What protects one external system: a rate budget (token bucket) and a circuit breaker,
//! shared by every sync that talks to the same base URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::breaker::Breaker;
use super::error::ScimError;
use crate::mail::rate::TokenBucket;

/// Limits per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardSettings {
    /// Requests a minute to one endpoint (0: unlimited).
    pub requests_per_minute: u32,
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before one probe.
    pub cool_down: Duration,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings { requests_per_minute: 600, failure_threshold: 5, cool_down: Duration::from_secs(30) }
    }
}

#[derive(Debug)]
struct Inner {
    bucket: TokenBucket,
    breaker: Breaker,
}

/// The rate budget and breaker of one endpoint.
#[derive(Debug)]
pub struct EndpointGuard {
    endpoint: String,
    origin: Instant,
    inner: Mutex<Inner>,
}

impl EndpointGuard {
    pub fn new(endpoint: &str, settings: GuardSettings) -> EndpointGuard {
        EndpointGuard {
            endpoint: endpoint.to_owned(),
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                bucket: TokenBucket::per_minute(settings.requests_per_minute),
                breaker: Breaker::new(settings.failure_threshold, settings.cool_down),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Wait for the rate budget, or fail fast while the breaker is open.
    pub async fn admit(&self) -> Result<(), ScimError> {
        loop {
            let wait = {
                let mut inner = self.lock();
                let now = self.now();
                if let Err(retry_in) = inner.breaker.allow(now) {
                    let failures = inner.breaker.failures();
                    return Err(ScimError::CircuitOpen { endpoint: self.endpoint.clone(), failures, retry_in });
                }
                match inner.bucket.try_take(now) {
                    Ok(()) => return Ok(()),
                    Err(wait) => wait,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    pub fn success(&self) {
        self.lock().breaker.success();
    }

    pub fn failure(&self) {
        let now = self.now();
        self.lock().breaker.failure(now);
    }

    pub fn is_open(&self) -> bool {
        self.lock().breaker.is_open()
    }
}

/// One guard per base URL for the whole process, so every sync against the same system
/// shares its budget and breaker.
#[derive(Debug, Default, Clone)]
pub struct Guards {
    settings: GuardSettings,
    map: Arc<Mutex<HashMap<String, Arc<EndpointGuard>>>>,
}

impl Guards {
    pub fn new(settings: GuardSettings) -> Guards {
        Guards { settings, map: Arc::default() }
    }

    /// The guard of `endpoint` (created on first use).
    pub fn for_endpoint(&self, endpoint: &str) -> Arc<EndpointGuard> {
        let key = endpoint.trim_end_matches('/').to_owned();
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(key.clone()).or_insert_with(|| Arc::new(EndpointGuard::new(&key, self.settings))).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_open_breaker_fails_fast_and_guards_are_shared_per_endpoint() {
        let guards = Guards::new(GuardSettings { failure_threshold: 2, ..GuardSettings::default() });
        let a = guards.for_endpoint("http://x/scim/");
        assert!(Arc::ptr_eq(&a, &guards.for_endpoint("http://x/scim")));
        assert!(!Arc::ptr_eq(&a, &guards.for_endpoint("http://y/scim")));
        a.admit().await.expect("closed");
        a.failure();
        a.failure();
        let err = a.admit().await.expect_err("open");
        assert_eq!(err.category(), "CircuitOpen");
        assert!(err.to_string().contains("2 consecutive failures"), "{err}");
    }
}
