//! A circuit breaker per endpoint: pure, clock passed in (offsets from any fixed origin).
//!
//! ```text
//! Closed ──N consecutive failures──► Open{until} ──cool-down over──► HalfOpen (one probe)
//!   ▲                                    ▲                              │
//!   └────────────── probe succeeds ──────┼──────────────────────────────┤
//!                                        └────── probe fails ───────────┘
//! ```

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open {
        until: Duration,
    },
    /// The cool-down is over and one probe is in flight; others wait.
    HalfOpen {
        probe_until: Duration,
    },
}

/// Opens after `threshold` consecutive failures for `cool_down`, then lets one probe through.
#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    cool_down: Duration,
    failures: u32,
    state: State,
}

impl Breaker {
    pub fn new(threshold: u32, cool_down: Duration) -> Breaker {
        Breaker { threshold: threshold.max(1), cool_down, failures: 0, state: State::Closed }
    }

    /// May a request go out at `now`? `Err(wait)` while open (or while another probe is out).
    pub fn allow(&mut self, now: Duration) -> Result<(), Duration> {
        match self.state {
            State::Closed => Ok(()),
            State::Open { until } | State::HalfOpen { probe_until: until } if now < until => Err(until - now),
            State::Open { .. } | State::HalfOpen { .. } => {
                // One probe; should it never report, another may go after one more cool-down.
                self.state = State::HalfOpen { probe_until: now + self.cool_down };
                Ok(())
            }
        }
    }

    /// The endpoint answered properly.
    pub fn success(&mut self) {
        self.failures = 0;
        self.state = State::Closed;
    }

    /// The endpoint failed (no answer, 5xx).
    pub fn failure(&mut self, now: Duration) {
        self.failures = self.failures.saturating_add(1);
        let probe_failed = matches!(self.state, State::HalfOpen { .. });
        if probe_failed || self.failures >= self.threshold {
            self.state = State::Open { until: now + self.cool_down };
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn is_open(&self) -> bool {
        !matches!(self.state, State::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn opens_after_the_threshold_and_probes_once_after_the_cool_down() {
        let mut b = Breaker::new(3, 10 * S);
        for t in 0..2 {
            assert_eq!(b.allow(t * S), Ok(()));
            b.failure(t * S);
        }
        assert!(!b.is_open());
        b.failure(2 * S);
        assert!(b.is_open());
        assert_eq!(b.allow(5 * S), Err(7 * S));
        assert_eq!(b.allow(12 * S), Ok(()), "the probe");
        assert_eq!(b.allow(12 * S), Err(10 * S), "only one probe at a time");
        b.failure(13 * S);
        assert_eq!(b.allow(14 * S), Err(9 * S), "a failed probe opens again");
        assert_eq!(b.allow(23 * S), Ok(()));
        b.success();
        assert!(!b.is_open());
        assert_eq!(b.failures(), 0);
        assert_eq!(b.allow(23 * S), Ok(()));
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = Breaker::new(2, S);
        b.failure(Duration::ZERO);
        b.success();
        b.failure(Duration::ZERO);
        assert!(!b.is_open());
        assert_eq!(Breaker::new(0, S).threshold, 1);
    }

    #[test]
    fn a_lost_probe_does_not_block_forever() {
        let mut b = Breaker::new(1, S);
        b.failure(Duration::ZERO);
        assert_eq!(b.allow(S), Ok(()));
        assert_eq!(b.allow(2 * S), Ok(()), "the probe never reported; another goes after a cool-down");
    }
}
