//! Printing a trace tree: a table like `crossplane beta trace` (NAME, READY, SYNCED, REASON, AGE;
//! wide adds ID and MESSAGE) with the tree drawn in the NAME column, or the tree as JSON.
//!
//! The root is shown with its namespace, a node of another namespace (a counterpart) too; a
//! node trace could not read says so in REASON (`NotFound`, `Forbidden`) with the details in
//! MESSAGE. Ages are `kubectl get`'s (`45s`, `5m10s`, `3h`, `12d`).

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::tree::{Health, Node, Relation, State};
use crate::api::ConditionStatus;

/// How `trace` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// NAME, READY, SYNCED, REASON, AGE.
    Text,
    /// Text plus the platform ID and the message.
    Wide,
    /// The tree as JSON.
    Json,
}

/// The tree as `format`, ages counted to `now`.
pub fn render(root: &Node, format: Format, now: Timestamp) -> String {
    match format {
        Format::Text | Format::Wide => table(root, format == Format::Wide, now),
        Format::Json => format!("{:#}\n", json(root)),
    }
}

fn table(root: &Node, wide: bool, now: Timestamp) -> String {
    let mut header = vec!["NAME", "READY", "SYNCED", "REASON", "AGE"];
    if wide {
        header.extend(["ID", "MESSAGE"]);
    }
    let mut rows = vec![header.into_iter().map(str::to_owned).collect::<Vec<_>>()];
    walk(root, "", "", &mut |prefix, node| rows.push(row(prefix, node, &root.namespace, wide, now)));
    let columns = rows[0].len();
    let widths: Vec<usize> =
        (0..columns).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < columns {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Calls `visit` with each node and its tree prefix (`├─ `, `│  └─ `…), depth first.
fn walk(node: &Node, prefix: &str, indent: &str, visit: &mut dyn FnMut(&str, &Node)) {
    visit(prefix, node);
    let last = node.children.len().saturating_sub(1);
    for (i, child) in node.children.iter().enumerate() {
        let (branch, more) = if i == last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
        walk(child, &format!("{indent}{branch}"), &format!("{indent}{more}"), visit);
    }
}

fn row(prefix: &str, node: &Node, root_ns: &str, wide: bool, now: Timestamp) -> Vec<String> {
    let dash = || "-".to_owned();
    let mut name = format!("{prefix}{}/{}", node.kind, node.name);
    let elsewhere = node.namespace != root_ns;
    match (prefix.is_empty(), node.relation, elsewhere && matches!(node.state, State::Found(_))) {
        (true, ..) => name.push_str(&format!(" ({})", node.namespace)),
        (false, Relation::Counterpart, true) => name.push_str(&format!(" (counterpart in {})", node.namespace)),
        (false, Relation::Counterpart, false) => name.push_str(" (counterpart)"),
        (false, Relation::Child, _) => {}
    }
    let (ready, synced, reason, age, id, message) = match &node.state {
        State::Found(h) => (
            status(h.ready),
            status(h.synced),
            h.reason.clone().unwrap_or_else(dash),
            h.created.map(|t| age(now.duration_since(t))).unwrap_or_else(dash),
            h.id.clone().unwrap_or_else(dash),
            h.message.clone().unwrap_or_default(),
        ),
        State::Missing => (dash(), dash(), "NotFound".to_owned(), dash(), dash(), missing_message(node)),
        State::Forbidden(message) => (dash(), dash(), "Forbidden".to_owned(), dash(), dash(), message.clone()),
    };
    let mut cells = vec![name, ready, synced, reason, age];
    if wide {
        // One line per row: a multi-line message would break the table.
        cells.extend([id, message.replace('\n', " ")]);
    }
    cells
}

fn missing_message(node: &Node) -> String {
    match node.relation {
        Relation::Child => format!("{} {:?} is not in namespace {:?}", node.kind, node.name, node.namespace),
        Relation::Counterpart => {
            format!("no Organization with platform ID {:?} in the namespaces trace can list", node.name)
        }
    }
}

fn status(status: Option<ConditionStatus>) -> String {
    match status {
        Some(ConditionStatus::True) => "True",
        Some(ConditionStatus::False) => "False",
        Some(ConditionStatus::Unknown) => "Unknown",
        None => "-",
    }
    .to_owned()
}

/// `kubectl get`'s AGE (k8s.io/apimachinery `duration.HumanDuration`).
pub fn age(d: SignedDuration) -> String {
    let s = d.as_secs().max(0);
    let (m, h) = (s / 60, s / 3600);
    let (d, y) = (h / 24, h / (24 * 365));
    let with = |big: i64, unit: &str, small: i64, small_unit: &str| {
        if small == 0 { format!("{big}{unit}") } else { format!("{big}{unit}{small}{small_unit}") }
    };
    match () {
        () if s < 120 => format!("{s}s"),
        () if m < 10 => with(m, "m", s % 60, "s"),
        () if m < 180 => format!("{m}m"),
        () if h < 8 => with(h, "h", m % 60, "m"),
        () if h < 48 => format!("{h}h"),
        () if h < 24 * 8 => with(d, "d", h % 24, "h"),
        () if h < 24 * 365 * 2 => format!("{d}d"),
        () if y < 8 => with(y, "y", d % 365, "d"),
        () => format!("{y}y"),
    }
}

/// The tree as JSON: every node with `kind`, `namespace`, `name`, `relation` (`child`,
/// `counterpart`), `state` (`found`, `missing`, `forbidden`), `ready`, `synced`, `reason`,
/// `message`, `createdAt`, `id`, `ids` and `children`.
pub fn json(node: &Node) -> Value {
    let relation = match node.relation {
        Relation::Child => "child",
        Relation::Counterpart => "counterpart",
    };
    let unknown = Health::default();
    let (state, health, message) = match &node.state {
        State::Found(h) => ("found", h, h.message.clone()),
        State::Missing => ("missing", &unknown, Some(missing_message(node))),
        State::Forbidden(message) => ("forbidden", &unknown, Some(message.clone())),
    };
    let condition = |s: Option<ConditionStatus>| s.map(|s| status(Some(s)));
    json!({
        "kind": node.kind.as_str(),
        "namespace": node.namespace,
        "name": node.name,
        "relation": relation,
        "state": state,
        "ready": condition(health.ready),
        "synced": condition(health.synced),
        "reason": health.reason,
        "message": message,
        "createdAt": health.created.map(|t| t.to_string()),
        "id": health.id,
        "ids": health.ids,
        "children": node.children.iter().map(json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
#[path = "print_tests.rs"]
mod tests;
