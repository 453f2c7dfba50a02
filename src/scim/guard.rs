//! What protects one external system, and the operator from it: a rate budget (token
//! bucket) and a circuit breaker, shared by every sync that talks to the same base URL, and
//! the operator's endpoint policy and client limits, which every client built with the guard
//! applies ([`ScimClient::new`](super::ScimClient::new)).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::breaker::Breaker;
use super::error::ScimError;
use super::limits::ClientLimits;
use super::policy::EndpointPolicy;
use crate::mail::rate::TokenBucket;
use crate::redact::redact_endpoint;

/// Limits and policy per endpoint (the operator's `--scim-*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardSettings {
    /// Requests a minute to one endpoint (0: unlimited).
    pub requests_per_minute: u32,
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before one probe.
    pub cool_down: Duration,
    /// Which endpoints may be connected to at all.
    pub policy: Arc<EndpointPolicy>,
    /// Bytes, resources and time one request may cost.
    pub limits: ClientLimits,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            requests_per_minute: 600,
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
            policy: Arc::default(),
            limits: ClientLimits::default(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    bucket: TokenBucket,
    breaker: Breaker,
}

/// What became of the requests to one endpoint, for metrics.
#[derive(Debug, Default)]
pub struct EndpointStats {
    /// Answered: 2xx, or a 4xx other than 429 (the system is up; the request was refused).
    pub answered: AtomicU64,
    /// No answer, or a 5xx.
    pub failed: AtomicU64,
    /// 429 Too Many Requests.
    pub rate_limited: AtomicU64,
    /// Not sent: the circuit was open.
    pub circuit_open: AtomicU64,
}

/// The counters of one endpoint at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointReport {
    /// The base URL without user info or secret query values ([`redact_endpoint`]).
    pub endpoint: String,
    pub answered: u64,
    pub failed: u64,
    pub rate_limited: u64,
    pub circuit_open: u64,
    /// The breaker is open now.
    pub open: bool,
}

/// The rate budget and breaker of one endpoint.
#[derive(Debug)]
pub struct EndpointGuard {
    /// The base URL as shown (redacted).
    endpoint: String,
    policy: Arc<EndpointPolicy>,
    limits: ClientLimits,
    origin: Instant,
    inner: Mutex<Inner>,
    stats: EndpointStats,
}

impl EndpointGuard {
    pub fn new(endpoint: &str, settings: GuardSettings) -> EndpointGuard {
        EndpointGuard {
            endpoint: redact_endpoint(endpoint),
            policy: settings.policy.clone(),
            limits: settings.limits,
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                bucket: TokenBucket::per_minute(settings.requests_per_minute),
                breaker: Breaker::new(settings.failure_threshold, settings.cool_down),
            }),
            stats: EndpointStats::default(),
        }
    }

    /// The endpoint policy clients of this endpoint apply.
    pub fn policy(&self) -> &Arc<EndpointPolicy> {
        &self.policy
    }

    pub fn limits(&self) -> ClientLimits {
        self.limits
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
                    self.stats.circuit_open.fetch_add(1, Ordering::Relaxed);
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

    /// The system answered (2xx, or a 4xx other than 429).
    pub fn success(&self) {
        self.stats.answered.fetch_add(1, Ordering::Relaxed);
        self.lock().breaker.success();
    }

    /// No answer, or a 5xx.
    pub fn failure(&self) {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        self.lock().breaker.failure(now);
    }

    /// A 429: the system is up and wants fewer requests (the breaker is left alone).
    pub fn rate_limited(&self) {
        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn report(&self) -> EndpointReport {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EndpointReport {
            endpoint: self.endpoint.clone(),
            answered: load(&self.stats.answered),
            failed: load(&self.stats.failed),
            rate_limited: load(&self.stats.rate_limited),
            circuit_open: load(&self.stats.circuit_open),
            open: self.is_open(),
        }
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
        map.entry(key.clone()).or_insert_with(|| Arc::new(EndpointGuard::new(&key, self.settings.clone()))).clone()
    }

    /// The counters of every endpoint used so far, by endpoint.
    pub fn reports(&self) -> Vec<EndpointReport> {
        let map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<EndpointReport> = map.values().map(|g| g.report()).collect();
        out.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        out
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
        let ScimError::CircuitOpen { failures, .. } = &err else { panic!("{err}") };
        assert_eq!(*failures, 2);
        assert_eq!(
            err.to_string(),
            "SCIM endpoint http://x/scim is failing: its circuit breaker is open and lets one probe through per cool-down",
            "the same text on every attempt"
        );
    }

    #[tokio::test]
    async fn every_request_is_counted_by_outcome_and_labels_carry_no_credentials() {
        let guards = Guards::new(GuardSettings { failure_threshold: 2, ..GuardSettings::default() });
        let a = guards.for_endpoint("https://sync:s3cret@scim.example/v2");
        guards.for_endpoint("http://other.example/scim").success();
        a.success();
        a.rate_limited();
        a.failure();
        a.failure();
        a.admit().await.expect_err("open");
        let reports = guards.reports();
        assert_eq!(reports.len(), 2);
        assert_eq!(
            reports[1],
            EndpointReport {
                endpoint: "https://scim.example/v2".into(),
                answered: 1,
                failed: 2,
                rate_limited: 1,
                circuit_open: 1,
                open: true,
            }
        );
        assert_eq!(
            (reports[0].endpoint.as_str(), reports[0].answered, reports[0].open),
            ("http://other.example/scim", 1, false)
        );
    }
}
