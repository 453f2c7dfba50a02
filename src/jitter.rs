//! Delays spread by a tenth either way, so work that failed or finished together (a database
//! outage, a bulk apply, a restart, a relay back up) does not come back in the same second.
//! Every retry and resync delay goes through [`spread`].

use std::time::Duration;

/// `delay` moved by up to a tenth either way, uniformly; delays under 10 ms are kept as they are.
pub fn spread(delay: Duration) -> Duration {
    let tenth = delay / 10;
    if tenth < Duration::from_millis(1) {
        return delay;
    }
    let mut bytes = [0u8; 8];
    let offset = match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes) % (2 * tenth.as_millis().max(1) as u64),
        Err(_) => tenth.as_millis() as u64,
    };
    (delay - tenth) + Duration::from_millis(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delay_is_spread_by_a_tenth_either_way() {
        for delay in [Duration::from_secs(1), Duration::from_secs(300)] {
            let looks: Vec<_> = (0..50).map(|_| spread(delay)).collect();
            assert!(looks.iter().all(|d| *d >= delay * 9 / 10 && *d < delay * 11 / 10), "{looks:?}");
            assert!(looks.iter().any(|d| *d != looks[0]), "spread: {looks:?}");
        }
        assert_eq!(spread(Duration::from_millis(5)), Duration::from_millis(5));
    }
}
