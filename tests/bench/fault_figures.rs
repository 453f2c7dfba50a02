//! The pure parts of the fault campaign: counting the mails the relay received, telling an
//! object that is Ready at its generation, and the rows one scenario prints. Unit-tested from
//! the `it` test binary (the campaign has no test harness).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

/// What the relay received.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deliveries {
    pub total: usize,
    /// The most deliveries of one outbox mail (one Message-ID): 1 unless a crash fell between
    /// the relay's acceptance and the outbox row's mark (at-least-once).
    pub max_per_message: usize,
    /// The most mails one recipient got (two outbox rows for one invitation would show here).
    pub max_per_recipient: usize,
}

/// Counts `(Message-ID, To)` pairs; a mail without a header counts under "".
pub fn deliveries<'a>(mails: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Deliveries {
    let (mut by_id, mut by_to) = (HashMap::new(), HashMap::new());
    let mut total = 0;
    for (id, to) in mails {
        total += 1;
        *by_id.entry(id.unwrap_or_default().to_owned()).or_insert(0usize) += 1;
        *by_to.entry(to.unwrap_or_default().to_ascii_lowercase()).or_insert(0usize) += 1;
    }
    Deliveries {
        total,
        max_per_message: by_id.values().copied().max().unwrap_or(0),
        max_per_recipient: by_to.values().copied().max().unwrap_or(0),
    }
}

/// `Ready=True` with `observedGeneration` equal to the object's generation, read from its JSON.
pub fn ready_at_generation(object: &Value, generation: Option<i64>) -> bool {
    let conditions = object.pointer("/status/conditions").and_then(Value::as_array);
    conditions.is_some_and(|cs| {
        cs.iter().any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
                && c.get("observedGeneration").and_then(Value::as_i64) == generation
        })
    })
}

/// One scenario's measurements.
#[derive(Debug, Clone)]
pub struct Figures {
    pub fault: String,
    pub n: usize,
    /// From the end of the fault until every Membership was Ready and every mail settled.
    pub recovered: Option<Duration>,
    pub not_ready: usize,
    pub invitations: i64,
    pub deliveries: Deliveries,
    /// Outbox rows given up (dead letters) and the most attempts one mail took.
    pub dead: i64,
    pub max_attempts: i64,
    /// Rows beyond one per object or per invitation, by table.
    pub duplicates: Vec<(&'static str, i64)>,
    /// Replicas that exited by themselves (lost lease) and were started again.
    pub exits: usize,
}

impl Figures {
    /// `(measure, value)` rows for the table.
    pub fn rows(&self) -> Vec<(String, String)> {
        let duplicates: i64 = self.duplicates.iter().map(|(_, n)| n).sum();
        let by_table: Vec<String> =
            self.duplicates.iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{t} {n}")).collect();
        let mut rows = vec![
            (
                "time to recover (fault over → all Ready, all mail out)".to_owned(),
                self.recovered.map(|d| format!("{:.1} s", d.as_secs_f64())).unwrap_or_else(|| "not recovered".into()),
            ),
            ("objects not Ready at the end".to_owned(), self.not_ready.to_string()),
            ("replicas that exited by themselves (started again)".to_owned(), self.exits.to_string()),
            ("invitations".to_owned(), self.invitations.to_string()),
            ("mails delivered (total)".to_owned(), self.deliveries.total.to_string()),
            ("deliveries per mail (Message-ID), max".to_owned(), self.deliveries.max_per_message.to_string()),
            ("mails per recipient, max".to_owned(), self.deliveries.max_per_recipient.to_string()),
            ("dead letters".to_owned(), self.dead.to_string()),
            ("attempts of one mail, max".to_owned(), self.max_attempts.to_string()),
        ];
        let dup = if by_table.is_empty() {
            duplicates.to_string()
        } else {
            format!("{duplicates} ({})", by_table.join(", "))
        };
        rows.push(("duplicate rows".to_owned(), dup));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deliveries_count_resends_of_one_mail_and_mails_to_one_recipient() {
        let d = deliveries([
            (Some("<a@x>"), Some("one@example.com")),
            (Some("<a@x>"), Some("one@example.com")),
            (Some("<b@x>"), Some("ONE@example.com")),
            (Some("<c@x>"), Some("two@example.com")),
        ]);
        assert_eq!(d, Deliveries { total: 4, max_per_message: 2, max_per_recipient: 3 });
        assert_eq!(deliveries([]), Deliveries::default());
    }

    #[test]
    fn ready_means_true_at_the_current_generation() {
        let object = |status: &str, generation: i64| {
            json!({"status": {"conditions": [
                {"type": "Synced", "status": "True", "observedGeneration": 2},
                {"type": "Ready", "status": status, "observedGeneration": generation}]}})
        };
        assert!(ready_at_generation(&object("True", 2), Some(2)));
        assert!(!ready_at_generation(&object("True", 1), Some(2)), "an older generation");
        assert!(!ready_at_generation(&object("False", 2), Some(2)));
        assert!(!ready_at_generation(&json!({"status": {}}), Some(1)));
        assert!(!ready_at_generation(&json!({}), None));
    }

    #[test]
    fn rows_name_the_tables_with_duplicates_and_say_when_nothing_recovered() {
        let mut f = Figures {
            fault: "kill".into(),
            n: 10,
            recovered: Some(Duration::from_millis(2500)),
            not_ready: 0,
            invitations: 5,
            deliveries: Deliveries { total: 5, max_per_message: 1, max_per_recipient: 1 },
            dead: 0,
            max_attempts: 1,
            duplicates: vec![("memberships", 0), ("invitations", 0)],
            exits: 0,
        };
        let value = |rows: &[(String, String)], measure: &str| {
            rows.iter().find(|(m, _)| m.starts_with(measure)).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        let rows = f.rows();
        assert_eq!(value(&rows, "time to recover"), "2.5 s");
        assert_eq!(value(&rows, "duplicate rows"), "0");
        f.recovered = None;
        f.duplicates = vec![("memberships", 0), ("invitations", 2), ("mail_outbox", 1)];
        let rows = f.rows();
        assert_eq!(value(&rows, "time to recover"), "not recovered");
        assert_eq!(value(&rows, "duplicate rows"), "3 (invitations 2, mail_outbox 1)");
    }
}
