//! Per-object retry state: consecutive failures → an exponential delay, capped.
//!
//! ```text
//!  reconcile fails ─► Backoffs::fail(key, now) ─► delay 1s, 2s, 4s … 5 min (jittered by the caller)
//!  reconcile succeeds ─► Backoffs::succeeded(key)          (entry gone)
//!  object deleted while failing ─► never reconciled again ─► pruned once older than STALE
//! ```
//!
//! A failing object is retried at least every [`MAX_DELAY`] (plus jitter), which refreshes
//! its entry; an entry untouched for [`STALE`] belongs to an object that is gone (deleted
//! while failing, its finalizer removed by hand, or out of the watched namespaces). Forgetting
//! one early only restarts that object's backoff at one second.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The longest delay between two attempts of one object.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// Entries not touched for this long are dropped (three retry periods at the cap).
pub const STALE: Duration = Duration::from_secs(3 * 300);
/// How often `fail` sweeps the map for stale entries.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Exponential backoff for the n-th consecutive failure (n ≥ 1).
pub fn delay(n: u32) -> Duration {
    let secs = 1u64.checked_shl(n.saturating_sub(1)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_DELAY)
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
}

/// Consecutive failures per object key.
#[derive(Debug)]
pub struct Backoffs {
    entries: HashMap<String, Entry>,
    swept: Instant,
}

impl Backoffs {
    pub fn new(now: Instant) -> Backoffs {
        Backoffs { entries: HashMap::new(), swept: now }
    }

    /// Records another failure of `key`; the delay before its next attempt.
    pub fn fail(&mut self, key: &str, now: Instant) -> Duration {
        if now.saturating_duration_since(self.swept) >= SWEEP_EVERY {
            self.prune(now);
        }
        let entry = self.entries.entry(key.to_owned()).or_insert(Entry { failures: 0, last: now });
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
        delay(entry.failures)
    }

    pub fn succeeded(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drops entries untouched for [`STALE`].
    pub fn prune(&mut self, now: Instant) {
        self.entries.retain(|_, e| now.saturating_duration_since(e.last) < STALE);
        self.swept = now;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_up_to_five_minutes() {
        let secs: Vec<u64> = (1..=11).map(|n| delay(n).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(delay(200), MAX_DELAY);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn failures_count_per_key_and_success_forgets_them() {
        let t0 = Instant::now();
        let mut b = Backoffs::new(t0);
        assert_eq!(b.fail("a", t0), Duration::from_secs(1));
        assert_eq!(b.fail("a", t0), Duration::from_secs(2));
        assert_eq!(b.fail("b", t0), Duration::from_secs(1));
        b.succeeded("a");
        assert_eq!(b.len(), 1);
        assert_eq!(b.fail("a", t0), Duration::from_secs(1), "a success starts over");
    }

    #[test]
    fn an_object_that_keeps_failing_is_kept_and_one_that_went_is_pruned() {
        let t0 = Instant::now();
        let mut b = Backoffs::new(t0);
        for _ in 0..12 {
            b.fail("deleted-while-failing", t0);
        }
        // "alive" fails again at every capped retry; "deleted…" is never seen again.
        let mut now = t0;
        let mut last = Duration::ZERO;
        for _ in 0..12 {
            now += MAX_DELAY + Duration::from_secs(30);
            last = b.fail("alive", now);
        }
        assert!(b.len() == 1, "only the object still failing is remembered: {b:?}");
        assert_eq!(last, delay(12), "its count was not reset by the sweeps");
    }

    #[test]
    fn sweeps_happen_at_most_once_a_minute_and_keep_fresh_entries() {
        let t0 = Instant::now();
        let mut b = Backoffs::new(t0);
        b.fail("old", t0);
        let t1 = t0 + STALE - Duration::from_secs(1);
        b.fail("fresh", t1); // sweeps: "old" is one second short of stale
        assert_eq!(b.len(), 2, "{b:?}");
        b.fail("third", t1 + Duration::from_secs(30)); // no sweep within the minute
        assert_eq!(b.len(), 3, "{b:?}");
        b.fail("third", t1 + SWEEP_EVERY); // sweeps: "old" is stale now
        assert_eq!(b.len(), 2, "{b:?}");
        b.prune(t1 + SWEEP_EVERY + STALE);
        assert!(b.is_empty(), "{b:?}");
    }
}
