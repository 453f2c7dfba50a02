//! Prometheus metrics of the operator: the build, reconciles by kind and result, their
//! durations, errors by category, the objects of each kind not Ready / not Synced / paused
//! (counted from the caches at each scrape, see [`census`](super::census)), database errors,
//! the mail outbox depth, and requests to the external provisioning systems (SCIM) by endpoint
//! and outcome with their circuit breakers.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::census::Census;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub kind: &'static str,
    /// `success` or `error`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

/// What `accountops_build_info` says about the binary.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: &'static str,
    /// `ACCOUNTOPS_GIT_COMMIT` when the binary was built, else `unknown`.
    pub git_commit: &'static str,
}

impl BuildLabels {
    /// This binary's.
    pub fn current() -> Self {
        BuildLabels {
            version: env!("CARGO_PKG_VERSION"),
            git_commit: option_env!("ACCOUNTOPS_GIT_COMMIT").unwrap_or("unknown"),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: &'static str,
    pub category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScimLabels {
    /// The SCIM base URL (without credentials).
    pub endpoint: String,
    /// `answered`, `failed`, `rate_limited` or `circuit_open`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: String,
}

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<ReconcileLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub duration: Family<KindLabels, Histogram>,
    pub in_flight: Family<KindLabels, Gauge>,
    pub database_errors: Counter,
    pub outbox_pending: Gauge,
    pub leader: Gauge,
    pub mail_sent: Counter,
    pub mail_failures: Counter,
    pub mail_dead: Counter,
    pub queue_depth: Family<KindLabels, Gauge>,
    pub objects: Family<KindLabels, Gauge>,
    pub not_ready: Family<KindLabels, Gauge>,
    pub not_synced: Family<KindLabels, Gauge>,
    pub paused: Family<KindLabels, Gauge>,
    pub scim_requests: Family<ScimLabels, Counter>,
    pub scim_circuit_open: Family<EndpointLabels, Gauge>,
    scim: std::sync::Mutex<Option<crate::scim::Guards>>,
    delivery: std::sync::Mutex<Option<std::sync::Arc<crate::mail::DeliveryStats>>>,
    censuses: std::sync::Mutex<Vec<(&'static str, CensusProbe)>>,
}

/// Counts a kind's cached objects (see [`Census`]).
pub type CensusProbe = Box<dyn Fn() -> Census + Send + Sync>;

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("accountops");
        registry.register(
            "build",
            "The running binary's version and commit (always 1)",
            Info::new(BuildLabels::current()),
        );
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register("reconciles", "Reconciles by kind and result", reconciles.clone());
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register("reconcile_errors", "Failed reconciles by kind and error category", errors.clone());
        let duration = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        registry.register("reconcile_duration_seconds", "Time one reconcile takes, by kind", duration.clone());
        let in_flight = Family::<KindLabels, Gauge>::default();
        registry.register("reconciles_in_flight", "Reconciles running now, by kind", in_flight.clone());
        let database_errors = Counter::default();
        registry.register("database_errors", "Reconciles that failed on the database", database_errors.clone());
        let outbox_pending = Gauge::default();
        registry.register("outbox_pending", "Mails waiting in the outbox for delivery", outbox_pending.clone());
        let leader = Gauge::default();
        registry.register("leader", "1 while this replica holds the leader lease and reconciles", leader.clone());
        let queue_depth = Family::<KindLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Objects whose current generation has not been reconciled yet, by kind",
            queue_depth.clone(),
        );
        let objects = Family::<KindLabels, Gauge>::default();
        registry.register("objects", "Objects in the operator's cache, by kind", objects.clone());
        let not_ready = Family::<KindLabels, Gauge>::default();
        registry.register("objects_not_ready", "Objects whose Ready condition is not True, by kind", not_ready.clone());
        let not_synced = Family::<KindLabels, Gauge>::default();
        registry.register(
            "objects_not_synced",
            "Objects whose Synced condition is not True, by kind",
            not_synced.clone(),
        );
        let paused = Family::<KindLabels, Gauge>::default();
        registry.register("objects_paused", "Objects annotated accountops.dev/paused, by kind", paused.clone());
        let mail_sent = Counter::default();
        registry.register("mail_sent", "Mails delivered to the relay", mail_sent.clone());
        let mail_failures = Counter::default();
        registry.register("mail_delivery_failures", "Failed delivery attempts (retried later)", mail_failures.clone());
        let mail_dead = Counter::default();
        registry.register("mail_dead", "Mails given up after the last attempt", mail_dead.clone());
        let scim_requests = Family::<ScimLabels, Counter>::default();
        registry.register(
            "scim_requests",
            "Requests to external provisioning systems by endpoint and outcome",
            scim_requests.clone(),
        );
        let scim_circuit_open = Family::<EndpointLabels, Gauge>::default();
        registry.register(
            "scim_circuit_open",
            "1 while the circuit breaker of an external provisioning system is open",
            scim_circuit_open.clone(),
        );
        Metrics {
            registry,
            reconciles,
            errors,
            duration,
            in_flight,
            database_errors,
            outbox_pending,
            leader,
            mail_sent,
            mail_failures,
            mail_dead,
            queue_depth,
            objects,
            not_ready,
            not_synced,
            paused,
            scim_requests,
            scim_circuit_open,
            scim: std::sync::Mutex::new(None),
            delivery: std::sync::Mutex::new(None),
            censuses: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl Metrics {
    /// Records one finished reconcile.
    pub fn observe(&self, kind: &'static str, took: Duration, error_category: Option<&'static str>) {
        let result = if error_category.is_some() { "error" } else { "success" };
        self.reconciles.get_or_create(&ReconcileLabels { kind, result }).inc();
        self.duration.get_or_create(&KindLabels { kind }).observe(took.as_secs_f64());
        if let Some(category) = error_category {
            self.errors.get_or_create(&ErrorLabels { kind, category }).inc();
            if category.starts_with("database") {
                self.database_errors.inc();
            }
        }
    }

    /// Export the dispatcher's counters (read at each scrape).
    pub fn track_delivery(&self, stats: std::sync::Arc<crate::mail::DeliveryStats>) {
        *self.delivery.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
    }

    fn sync_delivery(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let guard = self.delivery.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stats) = guard.as_ref() {
            for (counter, total) in [
                (&self.mail_sent, stats.sent.load(Relaxed)),
                (&self.mail_failures, stats.failures.load(Relaxed)),
                (&self.mail_dead, stats.dead.load(Relaxed)),
            ] {
                counter.inc_by(total.saturating_sub(counter.get()));
            }
        }
    }

    /// Export the SCIM endpoints' counters and breakers (read at each scrape).
    pub fn track_scim(&self, guards: crate::scim::Guards) {
        *self.scim.lock().unwrap_or_else(|p| p.into_inner()) = Some(guards);
    }

    fn sync_scim(&self) {
        let guard = self.scim.lock().unwrap_or_else(|p| p.into_inner());
        let Some(guards) = guard.as_ref() else { return };
        for report in guards.reports() {
            for (outcome, total) in [
                ("answered", report.answered),
                ("failed", report.failed),
                ("rate_limited", report.rate_limited),
                ("circuit_open", report.circuit_open),
            ] {
                let counter =
                    self.scim_requests.get_or_create(&ScimLabels { endpoint: report.endpoint.clone(), outcome });
                counter.inc_by(total.saturating_sub(counter.get()));
            }
            let open = self.scim_circuit_open.get_or_create(&EndpointLabels { endpoint: report.endpoint.clone() });
            open.set(i64::from(report.open));
        }
    }

    /// Report `kind`'s object counts and queue depth from `probe` at each scrape.
    pub fn track_kind(&self, kind: &'static str, probe: CensusProbe) {
        self.censuses.lock().unwrap_or_else(|p| p.into_inner()).push((kind, probe));
    }

    fn sync_censuses(&self) {
        for (kind, probe) in self.censuses.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let census = probe();
            let labels = KindLabels { kind };
            for (family, count) in [
                (&self.objects, census.objects),
                (&self.queue_depth, census.pending),
                (&self.not_ready, census.not_ready),
                (&self.not_synced, census.not_synced),
                (&self.paused, census.paused),
            ] {
                family.get_or_create(&labels).set(i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        self.sync_delivery();
        self.sync_censuses();
        self.sync_scim();
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_errors_and_durations_are_exposed() {
        let m = Metrics::default();
        m.observe("Account", Duration::from_millis(20), None);
        m.observe("Account", Duration::from_millis(20), Some("database_unavailable"));
        m.outbox_pending.set(3);
        let text = m.encode();
        assert!(text.contains(r#"accountops_reconciles_total{kind="Account",result="success"} 1"#), "{text}");
        assert!(text.contains(r#"accountops_reconciles_total{kind="Account",result="error"} 1"#), "{text}");
        assert!(
            text.contains(r#"accountops_reconcile_errors_total{kind="Account",category="database_unavailable"} 1"#),
            "{text}"
        );
        assert!(text.contains("accountops_database_errors_total 1"), "{text}");
        assert!(text.contains(r#"accountops_reconcile_duration_seconds_count{kind="Account"} 2"#), "{text}");
        assert!(text.contains("accountops_outbox_pending 3"), "{text}");
    }

    #[test]
    fn build_info_and_object_gauges_are_exposed_per_kind() {
        let m = Metrics::default();
        let census = Census { objects: 7, pending: 1, not_ready: 3, not_synced: 2, paused: 1 };
        m.track_kind("Membership", Box::new(move || census));
        let text = m.encode();
        let version = env!("CARGO_PKG_VERSION");
        assert!(text.contains(&format!(r#"accountops_build_info{{version="{version}",git_commit="#)), "{text}");
        for series in [
            r#"accountops_objects{kind="Membership"} 7"#,
            r#"accountops_queue_depth{kind="Membership"} 1"#,
            r#"accountops_objects_not_ready{kind="Membership"} 3"#,
            r#"accountops_objects_not_synced{kind="Membership"} 2"#,
            r#"accountops_objects_paused{kind="Membership"} 1"#,
        ] {
            assert!(text.contains(series), "{series} in {text}");
        }
    }

    #[test]
    fn scim_requests_and_breakers_are_exposed_per_endpoint() {
        use crate::scim::{GuardSettings, Guards};
        let m = Metrics::default();
        let guards = Guards::new(GuardSettings { failure_threshold: 1, ..GuardSettings::default() });
        m.track_scim(guards.clone());
        let scim = guards.for_endpoint("http://scim.example/v2");
        scim.success();
        scim.success();
        let text = m.encode();
        let answered = r#"accountops_scim_requests_total{endpoint="http://scim.example/v2",outcome="answered"}"#;
        assert!(text.contains(&format!("{answered} 2")), "{text}");
        assert!(text.contains(r#"accountops_scim_circuit_open{endpoint="http://scim.example/v2"} 0"#), "{text}");
        scim.failure();
        let text = m.encode();
        assert!(text.contains(&format!("{answered} 2")), "counters never go back: {text}");
        assert!(text.contains(r#"outcome="failed"} 1"#), "{text}");
        assert!(text.contains(r#"accountops_scim_circuit_open{endpoint="http://scim.example/v2"} 1"#), "{text}");
    }
}
