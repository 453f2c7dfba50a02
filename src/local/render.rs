//! What `plan` and `apply` print: a Terraform-like plan, a `kubectl get`-like table, one summary
//! line, and the same facts as JSON for scripts (`-o json`).
//!
//! The text is for people: every object appears once, what will change is listed field by
//! field (`core::Change` shows `field: "old" → "new"`), and anything that needs the user
//! (waiting, blocked, conflicts, errors) says why. The summary counts only what local mode
//! reconciles; what is not ready is counted twice over: by action for what fails `apply`
//! (conflicts, refused codes, blocked deletions…), by reason for what waits for something
//! outside the run (see [`Entry::waiting`]). The Secrets of the set are listed as inputs (read,
//! never written; never a value). A provider code issued in the run is announced by its
//! provider's name only.
//!
//! In JSON each reconciled object carries `status`: the status the operator would write for
//! it, computed by the same function ([`crate::core::status`]) with no previous status and
//! no generation. The per-kind keys beside it (`phase`, `linkId`, `syncStatus`…) are read
//! from that status, so scripts see one set of facts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::engine::{Entry, Mode, Report, Status};
use crate::api::Reason;
use crate::core::status::{Ran, first_status_json};
use crate::core::{Action, Failure, Kind, Outcome, Progress};

/// `accountops plan`: one block per object, then the summary.
pub fn plan_text(report: &Report) -> String {
    let mut out = String::new();
    let mut last_had_body = false;
    for entry in &report.entries {
        let (header, body) = plan_block(entry);
        if !out.is_empty() && (last_had_body || !body.is_empty()) {
            out.push('\n');
        }
        out.push_str(&header);
        out.push('\n');
        for line in &body {
            let _ = writeln!(out, "    {line}");
        }
        last_had_body = !body.is_empty();
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary(report));
    out
}

fn plan_block(entry: &Entry) -> (String, Vec<String>) {
    let object = format!("{} {}/{}", entry.kind, entry.namespace, entry.name);
    match &entry.status {
        Status::Done(o) => {
            let (sign, verb) = plan_verb(o.action);
            let mut header = format!("{sign} {object} ({verb}");
            if entry.pruned {
                header.push_str(", no manifest");
            }
            if !o.is_ready() && !o.action.deletion_finished() && o.reason != o.action.as_str() {
                let _ = write!(header, ": {}", o.reason);
            }
            header.push(')');
            if let Some(id) = &o.id {
                let _ = write!(header, " {id}");
            }
            if o.action == Action::Created
                && let Some(account) = &o.account_id
            {
                let _ = write!(header, " in account {account}");
            }
            let mut body: Vec<String> = o.changes.iter().map(ToString::to_string).collect();
            if !o.is_ready() && !o.action.deletion_finished() {
                body.push(o.message.clone());
            }
            (header, body)
        }
        Status::Failed(f) => (format!("x {object} (error: {})", f.reason), vec![f.message.clone()]),
        Status::Paused => (format!("= {object} (paused: not planned)"), Vec::new()),
        Status::Input => (format!("= {object} (input: read, never written)"), Vec::new()),
    }
}

fn plan_verb(action: Action) -> (char, &'static str) {
    match action {
        Action::Created => ('+', "create"),
        Action::Updated => ('~', "update"),
        Action::Adopted => ('~', "adopt"),
        Action::Imported => ('~', "import"),
        Action::Unchanged => ('=', "unchanged"),
        Action::Archived => ('-', "archive"),
        Action::Orphaned => ('-', "release"),
        Action::Gone => ('=', "nothing to clean up"),
        Action::Waiting => ('!', "waiting"),
        Action::DeletionBlocked => ('!', "blocked"),
        Action::Conflict => ('!', "conflict"),
        Action::ExternalError => ('!', "external system failed"),
        Action::AdoptionRequired => ('!', "adoption required"),
        Action::DriftDetected => ('!', "drift, observe-only"),
        Action::NotFound => ('!', "not found"),
    }
}

/// `accountops apply`: the table, the changes made and the reasons for anything not ready,
/// then the summary.
pub fn apply_text(report: &Report) -> String {
    let mut rows = vec![["KIND", "NAMESPACE/NAME", "ID", "ACTION", "READY", "REASON"].map(str::to_owned)];
    let mut notes = Vec::new();
    for entry in &report.entries {
        let object = format!("{}/{}", entry.namespace, entry.name);
        let title = format!("{} {object}", entry.kind);
        let (id, action, ready, reason) = match &entry.status {
            Status::Done(o) => {
                if !o.changes.is_empty() && o.action != Action::Created {
                    notes.push(format!("~ {title} {} ({}):", o.id.as_deref().unwrap_or("-"), o.action));
                    notes.extend(o.changes.iter().map(|c| format!("    {c}")));
                }
                if !entry.settled() {
                    notes.push(format!("! {title}: {}", o.message));
                }
                let ready = if o.action.deletion_finished() { "-" } else { ready_text(o) };
                let reason = if entry.pruned && o.action.deletion_finished() { "Pruned" } else { o.reason.as_str() };
                (o.id.clone().unwrap_or_else(|| "-".to_owned()), o.action.as_str(), ready, reason)
            }
            Status::Failed(Failure { reason, message, .. }) => {
                notes.push(format!("x {title}: {message}"));
                ("-".to_owned(), "Error", "False", reason.as_str())
            }
            Status::Paused => ("-".to_owned(), "Skipped", "-", Reason::ReconcilePaused.as_str()),
            Status::Input => ("-".to_owned(), "Read", "-", "Input"),
        };
        rows.push([entry.kind.to_owned(), object, id, action.to_owned(), ready.to_owned(), reason.to_owned()]);
    }
    let mut out = table(&rows);
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            out.push_str(&note);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(&summary(report));
    out
}

fn ready_text(o: &Outcome) -> &'static str {
    if o.is_ready() { "True" } else { "False" }
}

/// Left-aligned columns, three spaces apart, like `kubectl get`.
fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [0; 6];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(w - cell.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The summary: what changes (or that nothing does), then what needs attention, what was
/// skipped, and what `--prune` would archive.
pub fn summary(report: &Report) -> String {
    let planning = report.mode == Mode::Plan;
    let mut by_action: BTreeMap<&str, usize> = BTreeMap::new();
    let mut not_ready: BTreeMap<&str, usize> = BTreeMap::new();
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut failed, mut paused, mut inputs) = (0, 0, 0);
    for entry in &report.entries {
        match &entry.status {
            Status::Done(o) => {
                *by_action.entry(o.action.as_str()).or_default() += 1;
                if entry.waiting() {
                    *waiting.entry(o.reason.as_str()).or_default() += 1;
                } else if !entry.settled() {
                    *not_ready.entry(o.action.as_str()).or_default() += 1;
                }
            }
            Status::Failed(_) => failed += 1,
            Status::Paused => paused += 1,
            Status::Input => inputs += 1,
        }
    }
    let count = |action: Action| by_action.get(action.as_str()).copied().unwrap_or(0);
    let words: [(Action, &str, &str); 7] = [
        (Action::Created, "to create", "created"),
        (Action::Updated, "to update", "updated"),
        (Action::Adopted, "to adopt", "adopted"),
        (Action::Imported, "to import", "imported"),
        (Action::Archived, "to archive", "archived"),
        (Action::Orphaned, "to release", "released"),
        (Action::Unchanged, "unchanged", "unchanged"),
    ];
    let changing: Vec<String> = words
        .iter()
        .filter(|(action, ..)| count(*action) > 0)
        .map(|(action, future, past)| format!("{} {}", count(*action), if planning { future } else { past }))
        .collect();
    let writes = words.iter().any(|(action, ..)| *action != Action::Unchanged && count(*action) > 0);
    let mut out = if writes {
        let list = changing.join(", ");
        if planning { format!("Plan: {list}.\n") } else { format!("{list}.\n") }
    } else {
        let n = count(Action::Unchanged);
        format!("No changes: {n} {} unchanged.\n", plural(n, "object", "objects"))
    };
    if !not_ready.is_empty() {
        let total: usize = not_ready.values().sum();
        let list: Vec<String> = not_ready.iter().map(|(a, n)| format!("{n} {a}")).collect();
        let verb = if planning { "will not be ready" } else { "not ready" };
        let _ = writeln!(out, "{total} {verb} ({}): see the reasons above.", list.join(", "));
    }
    if !waiting.is_empty() {
        let total: usize = waiting.values().sum();
        let list: Vec<String> = waiting.iter().map(|(r, n)| format!("{n} {r}")).collect();
        let verb = if planning { "will wait" } else { "waiting" };
        let _ = writeln!(
            out,
            "{total} {verb} for something outside this run ({}): see the reasons above.",
            list.join(", ")
        );
    }
    if failed > 0 {
        let verb = if planning { "could not be planned" } else { "failed" };
        let _ = writeln!(out, "{failed} {} {verb}: see the errors above.", plural(failed, "object", "objects"));
    }
    if paused > 0 {
        let _ = writeln!(out, "{paused} paused (accountops.dev/paused), left as they are.");
    }
    if inputs > 0 {
        let _ = writeln!(out, "{inputs} {} read as input, never written.", plural(inputs, "Secret", "Secrets"));
    }
    if !report.unpruned.is_empty() {
        let _ = writeln!(
            out,
            "Owned by local mode but no longer in the manifests: {}; --prune archives them.",
            report.unpruned.join(", ")
        );
    }
    for provider in &report.provider_codes {
        // Never the code: it went to the link in-process and nowhere else.
        let verb = if planning { "will be issued" } else { "issued" };
        let _ = writeln!(out, "provider code {verb} for {provider}");
    }
    if let Some(mail) = report.mail.as_ref().filter(|m| m.sent + m.retrying + m.dead > 0) {
        let _ = write!(out, "Mail: {} delivered to {}", mail.sent, mail.mailbox);
        if mail.retrying > 0 {
            let _ = write!(out, ", {} to retry on the next apply", mail.retrying);
        }
        if mail.dead > 0 {
            let _ = write!(out, ", {} undeliverable", mail.dead);
        }
        out.push_str(".\n");
    }
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// The report as JSON: `{"mode", "objects": [...], "summary"}`, one object per entry.
pub fn json(report: &Report) -> Value {
    let objects: Vec<Value> = report
        .entries
        .iter()
        .map(|entry| {
            let mut object = json!({
                "kind": entry.kind,
                "namespace": entry.namespace,
                "name": entry.name,
                "pruned": entry.pruned,
            });
            let detail = match &entry.status {
                Status::Done(o) => json!({
                    "action": o.action.as_str(),
                    "ready": o.is_ready(),
                    "id": o.id,
                    "accountId": o.account_id,
                    "reason": o.reason,
                    "message": o.message,
                    "stalled": matches!(o.progress(), Progress::Stalled { .. }),
                    "reconciling": matches!(o.progress(), Progress::Reconciling { .. }),
                    "changes": o.changes.iter().map(|c| json!({"field": c.field, "from": c.from, "to": c.to})).collect::<Vec<_>>(),
                }),
                Status::Failed(failure) => json!({
                    "action": "Error", "ready": false, "reason": failure.reason, "message": failure.message,
                    "stalled": !failure.transient, "reconciling": failure.transient,
                    "status": Kind::named(entry.kind).map(|k| first_status_json(k, Ran::Failed(failure), report.now)),
                }),
                Status::Paused => json!({
                    "action": "Skipped", "ready": null, "reason": Reason::ReconcilePaused,
                    "status": Kind::named(entry.kind).map(|k| first_status_json(k, Ran::Paused, report.now)),
                }),
                Status::Input => json!({"action": "Read", "ready": null, "reason": "Input"}),
            };
            if let (Some(map), Value::Object(more)) = (object.as_object_mut(), detail) {
                map.extend(more);
            }
            if let (Some(map), Status::Done(o)) = (object.as_object_mut(), &entry.status) {
                map.extend(status_keys(o, report.now));
            }
            object
        })
        .collect();
    let mode = match report.mode {
        Mode::Plan => "plan",
        Mode::Apply => "apply",
    };
    let mail = report
        .mail
        .as_ref()
        .map(|m| json!({"mailbox": m.mailbox, "delivered": m.sent, "retrying": m.retrying, "undeliverable": m.dead}));
    json!({
        "mode": mode,
        "objects": objects,
        "mail": mail,
        "providerCodesIssued": report.provider_codes,
        "summary": summary(report).trim_end(),
    })
}

/// `status` and the kind's keys read from it (never a token, code or credential: a status
/// holds none). Lists the status leaves out when empty are shown as `[]`.
fn status_keys(o: &Outcome, now: jiff::Timestamp) -> serde_json::Map<String, Value> {
    let status = first_status_json(o.kind, Ran::Done(o), now);
    let mut keys = serde_json::Map::new();
    let mut copy = |key: &str, empty: Value| {
        keys.insert(key.to_owned(), status.get(key).cloned().unwrap_or(empty));
    };
    match o.kind {
        Kind::Account => {}
        Kind::Organization => {
            if status.get("links").is_some() {
                copy("links", Value::Null);
            }
            if o.facts.staff().is_some() {
                copy("staff", json!([]));
            }
        }
        Kind::Membership if o.facts.membership().is_some() => {
            for key in ["phase", "userId", "invitation"] {
                copy(key, Value::Null);
            }
        }
        Kind::TenantLink if o.facts.tenant_link().is_some() => {
            for key in ["phase", "linkId", "counterpartOrganizationId", "counterpartOrganizationName"] {
                copy(key, Value::Null);
            }
            copy("invitationExpiresAt", Value::Null);
            copy("members", json!([]));
            copy("providerStaff", json!([]));
        }
        Kind::ProvisioningSync if o.facts.sync().is_some() => {
            for key in ["syncStatus", "externalId", "userCount", "groupCount", "driftCorrections"] {
                copy(key, Value::Null);
            }
            copy("assets", json!([]));
        }
        Kind::Membership | Kind::TenantLink | Kind::ProvisioningSync => {}
    }
    // What no status field holds: a partner invitation's delivery (the status shows its expiry
    // and `InvitationDelivered`) and the orders a sync still waits to run (`OrdersExecuted`).
    if let Some(l) = o.facts.tenant_link() {
        keys.insert("invitation".into(), json!(l.invitation.as_ref().map(|i| i.status())));
    }
    if let Some(p) = o.facts.sync() {
        keys.insert("ordersPending".into(), json!(p.orders_pending));
    }
    keys.insert("status".into(), status);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Change;
    use crate::core::fixtures::now;

    fn done(kind: &'static str, name: &str, action: Action, changes: Vec<Change>) -> Entry {
        let outcome = Outcome {
            kind: if kind == "Account" { Kind::Account } else { Kind::Organization },
            action,
            id: (action != Action::Created).then(|| format!("id-{name}")),
            account_id: None,
            changes,
            children: None,
            reason: if action == Action::Waiting { Reason::AccountNotReady } else { Reason::Available },
            message: format!("message of {name}"),
            requeue_at: None,
            facts: crate::core::facts::KindFacts::None,
        };
        Entry { kind, namespace: "default".into(), name: name.into(), pruned: false, status: Status::Done(outcome) }
    }

    fn input(name: &str) -> Entry {
        Entry { kind: "Secret", namespace: "default".into(), name: name.into(), pruned: false, status: Status::Input }
    }

    #[test]
    fn summaries_count_what_changes_and_say_when_nothing_does() {
        let city = || vec![Change::new("billingAddress.city", Some("Kraków".into()), Some("Gdańsk".into()))];
        let entries = vec![
            done("Account", "a", Action::Updated, city()),
            done("Organization", "b", Action::Created, Vec::new()),
            done("Organization", "c", Action::Unchanged, Vec::new()),
            done("Organization", "d", Action::Waiting, Vec::new()),
            input("s1"),
            input("s2"),
        ];
        let plan = Report {
            mode: Mode::Plan,
            entries,
            unpruned: vec!["Account default/old".into()],
            mail: None,
            provider_codes: vec!["default/msp".into()],
            now: now(),
        };
        let text = plan_text(&plan);
        assert!(text.contains("~ Account default/a (update) id-a\n    billingAddress.city: \"Kraków\" → \"Gdańsk\"\n"));
        assert!(
            text.contains("! Organization default/d (waiting: AccountNotReady) id-d\n    message of d\n"),
            "{text}"
        );
        assert!(text.contains(
            "\nPlan: 1 to create, 1 to update, 1 unchanged.\n1 will wait for something outside this run (1 \
             AccountNotReady): see the reasons above.\n"
        ));
        assert!(text.contains("\n= Secret default/s1 (input: read, never written)\n"), "{text}");
        assert!(text.contains("\n2 Secrets read as input, never written.\n"), "{text}");
        assert!(text.contains("no longer in the manifests: Account default/old; --prune archives them."));
        assert!(text.contains("\nprovider code will be issued for default/msp\n"), "{text}");

        let planned = json(&plan);
        assert_eq!(planned["objects"][3]["reconciling"], true, "waiting for the account: in flight");
        assert_eq!(planned["objects"][3]["stalled"], false);
        // The status the operator would write for a new object, from the same function.
        let status = &planned["objects"][3]["status"];
        let types: Vec<&str> =
            status["conditions"].as_array().into_iter().flatten().filter_map(|c| c["type"].as_str()).collect();
        assert_eq!(types, ["Ready", "Synced", "Reconciling"], "{status:#}");
        assert_eq!(
            (&status["conditions"][0]["reason"], &status["organizationId"]),
            (&json!("AccountNotReady"), &json!("id-d"))
        );
        assert!(status.get("observedGeneration").is_none(), "a manifest has no generation");
        assert!(planned["objects"][4].get("status").is_none(), "an input has no status");

        let applied = Report { mode: Mode::Apply, ..plan };
        let text = apply_text(&applied);
        assert!(text.starts_with("KIND           NAMESPACE/NAME   ID     ACTION      READY   REASON\n"), "{text}");
        assert!(text.contains("\n~ Account default/a id-a (Updated):\n    billingAddress.city:"), "{text}");
        assert!(text.contains("\n! Organization default/d: message of d\n"), "{text}");
        assert!(text.contains("\nSecret         default/s1       -      Read        -       Input\n"), "{text}");
        assert!(applied.entries[4].settled() && !applied.entries[4].fails(), "an input is not a failure");
        assert!(
            text.contains(
                "\n1 created, 1 updated, 1 unchanged.\n1 waiting for something outside this run (1 AccountNotReady)"
            ),
            "{text}"
        );
        assert!(applied.entries[3].waiting() && !applied.entries[3].fails(), "waiting does not fail apply");

        let failed = Entry {
            kind: "Account",
            namespace: "default".into(),
            name: "e".into(),
            pruned: false,
            status: Status::Failed(Failure {
                reason: Reason::DatabaseUnavailable,
                message: "database: cannot connect".into(),
                transient: true,
            }),
        };
        let broken = Report {
            mode: Mode::Apply,
            entries: vec![failed],
            unpruned: vec![],
            mail: None,
            provider_codes: vec![],
            now: now(),
        };
        let text = apply_text(&broken);
        assert!(text.contains("Account   default/e        -    Error    False   DatabaseUnavailable\n"), "{text}");
        assert!(text.contains("\nx Account default/e: database: cannot connect\n"), "{text}");
        assert!(text.ends_with("No changes: 0 objects unchanged.\n1 object failed: see the errors above.\n"), "{text}");
        assert!(!broken.entries[0].settled() && broken.entries[0].fails());
        let json_broken = json(&broken);
        assert_eq!(
            (&json_broken["objects"][0]["stalled"], &json_broken["objects"][0]["reconciling"]),
            (&json!(false), &json!(true))
        );

        let quiet = Report {
            mode: Mode::Apply,
            entries: vec![done("Account", "a", Action::Unchanged, vec![])],
            unpruned: vec![],
            mail: None,
            provider_codes: vec![],
            now: now(),
        };
        assert_eq!(summary(&quiet), "No changes: 1 object unchanged.\n");
        let json = json(&quiet);
        assert_eq!(json["objects"][0]["action"], "Unchanged");
        assert_eq!(
            (&json["objects"][0]["stalled"], &json["objects"][0]["reconciling"]),
            (&json!(false), &json!(false))
        );
        assert_eq!(json["summary"], "No changes: 1 object unchanged.");
    }
}
