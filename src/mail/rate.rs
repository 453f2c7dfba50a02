//! The rate budget per relay (a token bucket) and the retry schedule: pure, clock passed in.
//!
//! The bucket holds at most one second's worth of sends (at least one), refilled at
//! `rate_per_minute / 60` per second, so a bulk import of thousands of members leaves at the
//! configured pace from the first mail on, with no burst of a whole minute's budget.

use std::time::Duration;

/// A token bucket; times are offsets from any fixed origin (e.g. an `Instant` at start).
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens per second; `None` means no limit.
    per_second: Option<f64>,
    capacity: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// A full bucket for `rate_per_minute` sends a minute; 0 means unlimited.
    pub fn per_minute(rate_per_minute: u32) -> TokenBucket {
        if rate_per_minute == 0 {
            return TokenBucket { per_second: None, capacity: 0.0, tokens: 0.0, last: Duration::ZERO };
        }
        let per_second = f64::from(rate_per_minute) / 60.0;
        let capacity = per_second.max(1.0);
        TokenBucket { per_second: Some(per_second), capacity, tokens: capacity, last: Duration::ZERO }
    }

    /// Take one token at `now`: `Ok` to send now, or `Err(wait)` until one is available.
    pub fn try_take(&mut self, now: Duration) -> Result<(), Duration> {
        let Some(per_second) = self.per_second else { return Ok(()) };
        if now > self.last {
            let refill = (now - self.last).as_secs_f64() * per_second;
            self.tokens = (self.tokens + refill).min(self.capacity);
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            // Round up to a millisecond so waiting that long always suffices.
            let wait = Duration::from_secs_f64(missing / per_second);
            Err(Duration::from_millis(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).saturating_add(1)))
        }
    }
}

impl TokenBucket {
    /// Return a token taken for a send that did not happen (nothing was due).
    pub fn give_back(&mut self) {
        if self.per_second.is_some() {
            self.tokens = (self.tokens + 1.0).min(self.capacity);
        }
    }
}

/// The delay before retry number `attempts` (1 after the first failure): `base * 2^(n-1)`,
/// capped at `max`.
pub fn backoff(base: Duration, max: Duration, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(31);
    base.checked_mul(1u32 << exponent).unwrap_or(max).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn backoff_doubles_and_is_capped() {
        let (base, max) = (Duration::from_secs(2), Duration::from_secs(300));
        let schedule: Vec<u64> = (1..=10).map(|n| backoff(base, max, n).as_secs()).collect();
        assert_eq!(schedule, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(base, max, 0), base);
        assert_eq!(backoff(base, max, u32::MAX), max);
        assert_eq!(backoff(Duration::from_secs(u64::MAX / 2), max, 5), max);
        assert_eq!(backoff(Duration::ZERO, max, 7), Duration::ZERO);
    }

    #[test]
    fn sixty_a_minute_is_one_a_second_without_a_burst() {
        let mut bucket = TokenBucket::per_minute(60);
        assert_eq!(bucket.try_take(Duration::ZERO), Ok(()));
        let wait = bucket.try_take(Duration::ZERO).expect_err("the second send must wait");
        assert!(wait > Duration::from_millis(990) && wait <= Duration::from_millis(1001), "{wait:?}");
        assert!(bucket.try_take(Duration::from_millis(500)).is_err());
        assert_eq!(bucket.try_take(S), Ok(()));
        // Five mails in the first window of a second: exactly one goes, the others wait.
        let mut bucket = TokenBucket::per_minute(60);
        let sent = (0..5).filter(|i| bucket.try_take(Duration::from_millis(i * 10)).is_ok()).count();
        assert_eq!(sent, 1);
    }

    #[test]
    fn a_minute_at_the_budget_sends_the_budget() {
        let mut bucket = TokenBucket::per_minute(600);
        let mut now = Duration::ZERO;
        let mut sent = 0;
        while now < Duration::from_secs(60) {
            match bucket.try_take(now) {
                Ok(()) => sent += 1,
                Err(wait) => now += wait,
            }
        }
        // 10 a second for 60 s, plus the initial full bucket of 10.
        assert!((600..=611).contains(&sent), "{sent}");
    }

    #[test]
    fn idle_time_refills_at_most_to_capacity() {
        let mut bucket = TokenBucket::per_minute(600);
        for _ in 0..10 {
            assert!(bucket.try_take(Duration::ZERO).is_ok());
        }
        assert!(bucket.try_take(Duration::ZERO).is_err());
        let later = Duration::from_secs(3600);
        let sent = (0..100).filter(|_| bucket.try_take(later).is_ok()).count();
        assert_eq!(sent, 10);
    }

    #[test]
    fn slow_rates_wait_long_and_zero_is_unlimited() {
        let mut bucket = TokenBucket::per_minute(1);
        assert!(bucket.try_take(Duration::ZERO).is_ok());
        let wait = bucket.try_take(Duration::ZERO).expect_err("must wait");
        assert!(wait >= Duration::from_secs(60) && wait <= Duration::from_millis(60_001), "{wait:?}");
        let mut unlimited = TokenBucket::per_minute(0);
        assert!((0..10_000).all(|_| unlimited.try_take(Duration::ZERO).is_ok()));
    }

    #[test]
    fn a_token_given_back_can_be_taken_again_but_never_overfills() {
        let mut bucket = TokenBucket::per_minute(60);
        assert!(bucket.try_take(Duration::ZERO).is_ok());
        assert!(bucket.try_take(Duration::ZERO).is_err());
        bucket.give_back();
        assert!(bucket.try_take(Duration::ZERO).is_ok());
        bucket.give_back();
        bucket.give_back();
        assert!(bucket.try_take(Duration::ZERO).is_ok());
        assert!(bucket.try_take(Duration::ZERO).is_err(), "capacity stays one second's worth");
    }

    #[test]
    fn a_clock_going_backwards_does_not_add_tokens() {
        let mut bucket = TokenBucket::per_minute(60);
        assert!(bucket.try_take(Duration::from_secs(10)).is_ok());
        assert!(bucket.try_take(Duration::from_secs(5)).is_err());
    }
}
