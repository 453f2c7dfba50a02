//! Timestamps as stored: fixed-width RFC 3339 UTC text with microseconds.
//!
//! `2025-03-01T09:30:00.000000Z` is 27 characters, always UTC, always six fractional
//! digits, so text order is time order on both backends (`ORDER BY created_at` and
//! `expires_at > $now` compare correctly) and PostgreSQL readers may cast with
//! `created_at::timestamptz`. The sqlx `Any` driver cannot carry `timestamptz`, and a
//! readable text column is easier for the platform's web app than epoch integers.
//! Microseconds match PostgreSQL's own precision; [`now`] truncates to them so a value
//! read back equals the value written.
//!
//! What people read (status fields, condition and error messages) is [`shown`]: RFC 3339 in
//! whole seconds, the `metav1.Time` form, for every kind alike.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The current time, truncated to whole microseconds (the stored precision).
pub fn now() -> Timestamp {
    truncate(Timestamp::now())
}

/// Drop sub-microsecond digits, as storing does.
pub fn truncate(ts: Timestamp) -> Timestamp {
    // as_microsecond() is within the range from_microsecond() accepts.
    Timestamp::from_microsecond(ts.as_microsecond()).unwrap_or(ts)
}

/// The stored text of a timestamp (years 0000-9999).
pub fn encode(ts: Timestamp) -> String {
    let dt = ts.to_zoned(TimeZone::UTC).datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond() / 1_000
    )
}

/// A timestamp as status fields and messages show it: RFC 3339, UTC, whole seconds
/// (`2025-03-01T09:30:00Z`), as Kubernetes writes `metav1.Time`.
pub fn shown(ts: Timestamp) -> String {
    Timestamp::from_second(ts.as_second()).unwrap_or(ts).to_string()
}

/// Parse stored text; any RFC 3339 timestamp is accepted on read.
pub fn decode(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|e| format!("is not an RFC 3339 timestamp ({text:?}): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_fixed_width_and_round_trips() {
        let ts: Timestamp = "2025-03-01T09:30:00.5Z".parse().expect("timestamp");
        assert_eq!(encode(ts), "2025-03-01T09:30:00.500000Z");
        let ts: Timestamp = "2025-03-01T10:30:00.123456789+01:00".parse().expect("timestamp");
        assert_eq!(encode(ts), "2025-03-01T09:30:00.123456Z");
        assert_eq!(decode(&encode(truncate(ts))).unwrap(), truncate(ts));
        let n = now();
        assert_eq!(encode(n).len(), 27);
        assert_eq!(decode(&encode(n)).unwrap(), n);
    }

    #[test]
    fn shown_is_whole_seconds_utc() {
        let ts: Timestamp = "2025-03-01T10:30:00.999999+01:00".parse().expect("timestamp");
        assert_eq!(shown(ts), "2025-03-01T09:30:00Z");
        assert_eq!(shown("2025-03-01T09:30:00Z".parse().expect("timestamp")), "2025-03-01T09:30:00Z");
    }

    #[test]
    fn text_order_is_time_order() {
        let a: Timestamp = "2025-03-01T09:30:00Z".parse().expect("timestamp");
        let b: Timestamp = "2025-03-01T09:30:00.000001Z".parse().expect("timestamp");
        let c: Timestamp = "2025-12-01T00:00:00Z".parse().expect("timestamp");
        assert!(encode(a) < encode(b) && encode(b) < encode(c));
    }

    #[test]
    fn garbage_is_rejected_with_the_value() {
        let err = decode("yesterday").unwrap_err();
        assert!(err.contains("yesterday"), "{err}");
    }
}
