//! What the per-kind object gauges report, counted from a kind's shared cache at each scrape:
//!
//! ```text
//!  Store<K> (Informer) ─► one pass under the read lock ─► Census { objects, pending, not_ready,
//!                                                                   not_synced, paused }
//!                                       ─► accountops_objects*{kind}, accountops_queue_depth{kind}
//! ```
//!
//! No apiserver call and no allocation per object: the pass reads each cached object in place.

use std::cell::Cell;

use kube::runtime::reflector::Store;

use super::kinds::{self, Managed};
use crate::api::{Condition, ConditionStatus};
use crate::core::status::KindStatus;
use crate::core::{PAUSED_ANNOTATION, READY, SYNCED};

/// A kind's objects by what the gauges tell apart; the counts overlap (a paused object is also
/// not Synced), so each has its own gauge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Objects in the cache.
    pub objects: u64,
    /// Objects whose current generation waits for a reconcile (the queue depth).
    pub pending: u64,
    /// Objects whose `Ready` condition is not `True` (missing included: never reconciled).
    pub not_ready: u64,
    /// Objects whose `Synced` condition is not `True`.
    pub not_synced: u64,
    /// Objects annotated `accountops.dev/paused: "true"`.
    pub paused: u64,
}

impl Census {
    /// Counts one object.
    pub fn add<K: Managed>(&mut self, obj: &K) {
        let conditions = obj.status().map(KindStatus::conditions).unwrap_or_default();
        self.objects += 1;
        self.pending += u64::from(kinds::pending(obj));
        self.not_ready += u64::from(!is_true(conditions, READY));
        self.not_synced += u64::from(!is_true(conditions, SYNCED));
        self.paused += u64::from(paused(obj));
    }
}

fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions.iter().any(|c| c.type_ == type_ && c.status == ConditionStatus::True)
}

/// The engine's rule for the annotation (`core::Flags`): `"true"`, surrounding blanks allowed.
fn paused<K: Managed>(obj: &K) -> bool {
    obj.meta().annotations.as_ref().and_then(|a| a.get(PAUSED_ANNOTATION)).is_some_and(|v| v.trim() == "true")
}

/// Counts `cache` in one pass. `Store::state` would clone every `Arc` into a fresh list; a
/// predicate that never matches visits each object under the read lock instead.
pub fn take<K: Managed>(cache: &Store<K>) -> Census {
    let census = Cell::new(Census::default());
    let _none = cache.find(|obj| {
        let mut c = census.get();
        c.add(obj);
        census.set(c);
        false
    });
    census.get()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Conditions, Organization, OrganizationStatus};
    use kube::runtime::watcher::Event;

    fn condition(type_: &str, status: ConditionStatus) -> Condition {
        Condition {
            type_: type_.into(),
            status,
            reason: "Any".into(),
            message: String::new(),
            last_transition_time: "2026-01-01T00:00:00Z".into(),
            observed_generation: Some(1),
        }
    }

    fn org(name: &str, conditions: Option<Vec<Condition>>, paused: Option<&str>) -> Organization {
        let spec = serde_yaml::from_str("accountRef: {name: acme}\ndisplayName: Eng\n").expect("spec");
        let mut o = Organization::new(name, spec);
        o.metadata.namespace = Some("team-a".into());
        o.metadata.generation = Some(1);
        o.metadata.annotations = paused.map(|v| [(PAUSED_ANNOTATION.to_owned(), v.to_owned())].into());
        o.status = conditions.map(|c| OrganizationStatus {
            observed_generation: Some(1),
            conditions: Conditions(c),
            ..Default::default()
        });
        o
    }

    #[test]
    fn counts_not_ready_not_synced_paused_and_pending_from_the_cache() {
        use ConditionStatus::{False, True, Unknown};
        let (cache, mut writer) = kube::runtime::reflector::store::<Organization>();
        let ready = vec![condition("Ready", True), condition("Synced", True)];
        for obj in [
            org("ready", Some(ready.clone()), None),
            org("ready-paused-false", Some(ready), Some("false")),
            org("unreconciled", None, None),
            org("failing", Some(vec![condition("Ready", Unknown), condition("Synced", False)]), None),
            org("paused", Some(vec![condition("Ready", True), condition("Synced", False)]), Some(" true ")),
        ] {
            writer.apply_watcher_event(&Event::Apply(obj));
        }
        let census = take(&cache);
        assert_eq!(census, Census { objects: 5, pending: 1, not_ready: 2, not_synced: 3, paused: 1 });
        assert_eq!(take(&kube::runtime::reflector::store::<Organization>().0), Census::default());
    }
}
