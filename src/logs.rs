//! The JSON log format (`--log-format json`): one object per line, with the fields of every
//! span the event is in flattened beside the event's own, so a reconcile's lines carry
//! `reconcile_id`, `kind`, `namespace` and `name` at the top level where log tools index them.
//!
//! ```text
//!  span reconcile{reconcile_id, kind, namespace, name} ─► FormattedFields<JsonFields> (per span)
//!  event warn!(error, category, "reconcile failed")    ─┐
//!                                                        ├─► {"timestamp", "level", "target",
//!                                     spans, root first ─┘     span fields…, event fields…, "message"}
//! ```
//!
//! tracing-subscriber's own JSON format nests span fields under `span`/`spans`; json-subscriber
//! can flatten them but overwrites a span field called `name` with the span's name, the very
//! field wanted here. This formatter reuses tracing-subscriber's per-span JSON and only merges.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as flat JSON lines; use with [`JsonFields`] as the span field formatter.
pub struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        // Root first, so an inner span's field wins over an outer one's of the same name.
        for span in ctx.event_scope().into_iter().flat_map(|scope| scope.from_root()) {
            let extensions = span.extensions();
            let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else { continue };
            // A span without fields has an empty string here, not `{}`.
            if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                line.extend(fields);
            }
        }
        event.record(&mut Fields(&mut line));
        let meta = event.metadata();
        line.insert("timestamp".into(), jiff::Timestamp::now().to_string().into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON values (`message` included).
struct Fields<'a>(&'a mut Map<String, Value>);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        self.0.insert(name.strip_prefix("r#").unwrap_or(name).to_owned(), value);
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }
}

/// A short ID for one reconcile (12 hex digits, random), so its log lines can be found together.
pub fn reconcile_id() -> String {
    static FALLBACK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // Without the system's randomness a process-wide counter still tells reconciles apart.
    let n = getrandom::u64().unwrap_or_else(|_| FALLBACK.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    format!("{:012x}", n & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(emit: impl FnOnce()) -> Vec<Value> {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    #[test]
    fn span_fields_sit_at_the_top_level_beside_the_events() {
        let lines = lines(|| {
            let outer = tracing::info_span!("controller", kind = "Outer", shard = 3);
            let _outer = outer.enter();
            let span = tracing::info_span!("reconcile", reconcile_id = "abc", kind = "Account", name = "billing");
            let _span = span.enter();
            tracing::warn!(error = %"database down", attempts = 2u64, "reconcile failed");
            drop(_span);
            tracing::info!(name = "the event's own", "outside");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        let failed = &lines[0];
        assert_eq!(failed["reconcile_id"], "abc");
        assert_eq!(failed["kind"], "Account", "the inner span wins");
        assert_eq!(failed["name"], "billing", "a field called name is the field, not the span's name");
        assert_eq!(failed["shard"], 3);
        assert_eq!(failed["error"], "database down");
        assert_eq!(failed["attempts"], 2);
        assert_eq!(failed["message"], "reconcile failed");
        assert_eq!(failed["level"], "WARN");
        assert_eq!(failed["target"], module_path!());
        assert!(failed["timestamp"].as_str().is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()), "{failed}");
        assert!(failed.get("span").is_none() && failed.get("spans").is_none(), "nothing nested: {failed}");
        let outside = &lines[1];
        assert_eq!(outside["kind"], "Outer");
        assert_eq!(outside["name"], "the event's own");
        assert!(outside.get("reconcile_id").is_none(), "{outside}");
    }

    #[test]
    fn reconcile_ids_are_short_and_differ() {
        let (a, b) = (reconcile_id(), reconcile_id());
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }
}
