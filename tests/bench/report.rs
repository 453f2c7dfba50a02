//! The pure parts of the scale benchmark: reading the apiserver's `apiserver_request_total`
//! counters, the operator's peak RSS from `/proc/<pid>/status`, and the printed table.
//! Unit-tested from the `it` test binary (the benchmark itself has no test harness).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// What `apiserver_request_total` counts a request by, for this report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestKey {
    pub verb: String,
    pub resource: String,
    pub subresource: String,
}

impl RequestKey {
    /// `PATCH memberships/status`.
    pub fn label(&self) -> String {
        if self.subresource.is_empty() {
            format!("{} {}", self.verb, self.resource)
        } else {
            format!("{} {}/{}", self.verb, self.resource, self.subresource)
        }
    }

    /// A request that changes something (what "writes" counts).
    pub fn is_write(&self) -> bool {
        matches!(self.verb.as_str(), "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY" | "CREATE" | "UPDATE")
    }
}

/// Request counts by verb, resource and subresource (summed over codes, scopes, versions).
pub type Requests = BTreeMap<RequestKey, f64>;

/// The `apiserver_request_total` samples of a Prometheus text exposition.
pub fn parse_requests(text: &str) -> Requests {
    let mut out = Requests::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else { continue };
        let Some((labels, value)) = rest.rsplit_once('}') else { continue };
        let Ok(value) = value.split_whitespace().next().unwrap_or_default().parse::<f64>() else { continue };
        let labels = parse_labels(labels);
        let get = |name: &str| labels.get(name).cloned().unwrap_or_default();
        let key = RequestKey { verb: get("verb"), resource: get("resource"), subresource: get("subresource") };
        *out.entry(key).or_default() += value;
    }
    out
}

/// `a="x",b="y \"q\""` → {a: x, b: y "q"}.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() || chars.next() != Some('"') {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(name.trim_start_matches(',').trim().to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// `after - before`, dropping what did not change.
pub fn delta(before: &Requests, after: &Requests) -> Requests {
    after
        .iter()
        .filter_map(|(key, value)| {
            let d = value - before.get(key).copied().unwrap_or_default();
            (d > 0.0).then(|| (key.clone(), d))
        })
        .collect()
}

/// All writes in `requests`; with `resource`, only those on it (any subresource).
pub fn writes(requests: &Requests, resource: Option<&str>) -> f64 {
    requests.iter().filter(|(k, _)| k.is_write() && resource.is_none_or(|r| k.resource == r)).map(|(_, v)| v).sum()
}

/// The peak resident set (`VmHWM`) in KiB from a `/proc/<pid>/status` text.
pub fn peak_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Seconds with two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// `part / whole` as a percentage with one decimal; `-` when `whole` is zero.
pub fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 { format!("{:.1} %", 100.0 * part / whole) } else { "-".to_owned() }
}

/// A section of the printed report: a title and rows of (measure, value).
#[derive(Debug, Default)]
pub struct Section {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

impl Section {
    pub fn new(title: impl Into<String>) -> Section {
        Section { title: title.into(), rows: Vec::new() }
    }

    pub fn row(&mut self, measure: impl Into<String>, value: impl Into<String>) {
        self.rows.push((measure.into(), value.into()));
    }
}

/// The sections as one table with aligned columns, as Markdown so it can be pasted into the
/// README as it is.
pub fn table(sections: &[Section]) -> String {
    let width = sections.iter().flat_map(|s| s.rows.iter()).map(|(m, _)| m.chars().count()).max().unwrap_or(0);
    let value_width = sections.iter().flat_map(|s| s.rows.iter()).map(|(_, v)| v.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for section in sections {
        let _ = writeln!(out, "\n{}\n", section.title);
        let _ = writeln!(out, "| {:width$} | {:value_width$} |", "measure", "value");
        let _ = writeln!(out, "|{}|{}|", "-".repeat(width + 2), "-".repeat(value_width + 2));
        for (measure, value) in &section.rows {
            let _ = writeln!(out, "| {measure:width$} | {value:>value_width$} |");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = r#"# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="accountops.dev",resource="memberships",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 40
apiserver_request_total{code="409",component="apiserver",dry_run="",group="accountops.dev",resource="memberships",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="accountops.dev",resource="memberships",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 20
apiserver_request_total{code="200",component="apiserver",dry_run="",group="accountops.dev",resource="memberships",scope="namespace",subresource="",verb="LIST",version="v1alpha1"} 3
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 1e+01
apiserver_request_latency_seconds_bucket{verb="PATCH",le="1"} 99
"#;

    fn key(verb: &str, resource: &str, subresource: &str) -> RequestKey {
        RequestKey { verb: verb.into(), resource: resource.into(), subresource: subresource.into() }
    }

    #[test]
    fn request_totals_are_summed_over_codes_and_keyed_by_verb_and_resource() {
        let requests = parse_requests(METRICS);
        assert_eq!(requests.get(&key("PATCH", "memberships", "status")), Some(&42.0));
        assert_eq!(requests.get(&key("PATCH", "memberships", "")), Some(&20.0));
        assert_eq!(requests.get(&key("POST", "events", "")), Some(&10.0));
        assert_eq!(requests.len(), 4, "{requests:?}");
        assert_eq!(writes(&requests, Some("memberships")), 62.0);
        assert_eq!(writes(&requests, None), 72.0);
        assert_eq!(key("PATCH", "memberships", "status").label(), "PATCH memberships/status");
        assert_eq!(key("LIST", "memberships", "").label(), "LIST memberships");
    }

    #[test]
    fn label_values_may_hold_escaped_quotes_and_commas() {
        let labels = parse_labels(r#"a="x,y",b="say \"hi\"",c="""#);
        assert_eq!(labels.get("a").map(String::as_str), Some("x,y"));
        assert_eq!(labels.get("b").map(String::as_str), Some("say \"hi\""));
        assert_eq!(labels.get("c").map(String::as_str), Some(""));
    }

    #[test]
    fn the_delta_keeps_only_what_grew() {
        let before = parse_requests(METRICS);
        let mut after = before.clone();
        *after.entry(key("PATCH", "memberships", "status")).or_default() += 5.0;
        after.insert(key("GET", "leases", ""), 1.0);
        let d = delta(&before, &after);
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(&key("PATCH", "memberships", "status")), Some(&5.0));
        assert_eq!(writes(&d, None), 5.0);
    }

    #[test]
    fn peak_rss_is_read_from_vmhwm() {
        let status = "Name:\taccountops\nVmPeak:\t  900000 kB\nVmHWM:\t   61440 kB\nVmRSS:\t 50000 kB\n";
        assert_eq!(peak_rss_kib(status), Some(61440));
        assert_eq!(peak_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn the_table_aligns_both_columns_and_prints_each_section() {
        let mut a = Section::new("cluster");
        a.row("raw ceiling", secs(Duration::from_millis(3200)));
        a.row("operator / ceiling", percent(1.0, 4.0));
        let mut b = Section::new("local");
        b.row("apply", "1.00 s");
        let text = table(&[a, b]);
        assert!(text.contains("\ncluster\n") && text.contains("\nlocal\n"), "{text}");
        assert!(text.contains("| raw ceiling        | 3.20 s |"), "{text}");
        assert!(text.contains("| operator / ceiling | 25.0 % |"), "{text}");
        assert_eq!(percent(1.0, 0.0), "-");
    }
}
