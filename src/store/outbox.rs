//! `mail_outbox`: mails written in the same transaction as the rows that need them, and the
//! claims under which exactly one sender delivers each.
//!
//! ```text
//! engine tx: row + enqueue(origin, namespace, message_id) ──► pending
//!                                                               │ claim(claimant, lease)
//!   pending, claimed_by = sender, claimed_until = now + lease ◄─┘ (FOR UPDATE SKIP LOCKED)
//!     ├──► sent  (mark_sent: bodies blanked)
//!     ├──► pending again, claim released (mark_failed: attempts+1, refusals+1 on a 5xx)
//!     ├──► dead  (mark_dead: refused too often, too old, undeliverable; bodies blanked)
//!     └──► claim released unsent (release), or the lease runs out (a crash): claimable again
//! ```
//!
//! **Who sends what.** Every mail records the shell that queued it ([`Origin`]): an operator's
//! cluster identity, or local mode's. A claimant takes only mails of its own origin (operators
//! also take mails queued before origins existed), so two clusters on one database, or a local
//! `apply` pointed at the operator's database, never send each other's mail. Within an origin
//! a mail is claimed by one sender at a time under a lease; every settling write is conditional
//! on still holding that claim, so a sender whose lease ran out and was re-claimed by another
//! cannot mark the mail. Claims are taken fairly: each namespace's oldest due mail comes before
//! any namespace's second ([`claim`]).
//!
//! `message_id` is chosen by the caller and unique, so enqueueing the same mail twice (a
//! retried reconcile) keeps one row: [`Enqueued::Existing`]. It is also the SMTP Message-ID,
//! so a crash between sending and `mark_sent` re-sends (once the lease runs out) a mail
//! receivers can deduplicate. Bodies may hold a single-use token or activation code in clear;
//! once a mail is sent or dead its bodies are blanked, so the database keeps only hashes.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch::{self, by_id};
use super::row::{Cols, db_enum};
use super::time;

pub const TABLE: &str = "mail_outbox";

db_enum! {
    /// Delivery state of a mail.
    pub enum MailState {
        Pending = "pending",
        Sent = "sent",
        Dead = "dead",
    }
}

db_enum! {
    /// Why a mail was given up.
    pub enum DeadReason {
        /// The relay refused it permanently (5xx) as often as the limit allows.
        Refused = "refused",
        /// Not delivered within the maximum age (transient failures, or no relay at all).
        Expired = "expired",
        /// No relay can take it (an unusable recipient address).
        Undeliverable = "undeliverable",
    }
}

/// The shell that queued a mail; only dispatchers of the same origin send it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// `accountops run` of the cluster with this identity (its `--cluster-id`).
    Operator(String),
    /// Local mode (`accountops apply`) with this `--cluster-id`.
    Local(String),
}

impl Origin {
    /// The stored text: `operator:<cluster id>` or `local:<cluster id>`.
    pub fn as_db(&self) -> String {
        match self {
            Origin::Operator(id) => format!("operator:{id}"),
            Origin::Local(id) => format!("local:{id}"),
        }
    }

    /// Mails queued before origins were recorded (migration 6) went to whichever operator
    /// ran; operators still send them, local mode never does.
    fn takes_unrecorded(&self) -> bool {
        matches!(self, Origin::Operator(_))
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_db())
    }
}

/// The row a mail is about (`invitations`/`inv-…`, `assets`/`asset-…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Related {
    pub table: String,
    pub id: String,
}

/// A mail to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// Stable and unique: the same mail always gets the same ID.
    pub message_id: String,
    /// Template kind (`membership_invitation`, `welcome`, ...).
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub locale: String,
    pub related: Option<Related>,
    /// The shell queuing it: the only one that sends it.
    pub origin: Origin,
    /// The namespace of the object that queued it (its fair share of the relay).
    pub namespace: Option<String>,
}

/// A sender's hold on a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub by: String,
    /// The lease: after this anyone of the origin may claim the mail again.
    pub until: Timestamp,
}

/// A row of `mail_outbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub id: String,
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// Empty once sent or dead.
    pub body_text: String,
    pub body_html: Option<String>,
    pub locale: String,
    pub related: Option<Related>,
    /// The stored [`Origin`] (`None`: queued before origins were recorded).
    pub origin: Option<String>,
    pub namespace: Option<String>,
    pub state: MailState,
    /// Failed delivery attempts so far, of any kind.
    pub attempts: i64,
    /// Of those, the ones the relay refused permanently (5xx): the limit counts these.
    pub refusals: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub dead_reason: Option<DeadReason>,
    /// The current claim (`None` once released or settled).
    pub claim: Option<Claim>,
    /// The sender that holds or last held a claim on it.
    pub last_sender: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What [`enqueue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New(Mail),
    /// A mail with this `message_id` was already queued (or sent); nothing was written.
    Existing(Mail),
}

impl Enqueued {
    pub fn mail(&self) -> &Mail {
        let (Enqueued::New(m) | Enqueued::Existing(m)) = self;
        m
    }
}

/// Who claims mails: the origin whose mails it may send and its own sender identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub origin: Origin,
    /// Unique per running dispatcher (a restarted process is another sender).
    pub sender: String,
}

/// How a failed delivery attempt counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// None was made (a mail too old to send).
    NotMade,
    /// It failed in a way that may pass (connection refused, timeout, 4xx): `attempts` only.
    Failed,
    /// The relay refused the mail permanently (5xx): `attempts` and `refusals`.
    Refused,
}

impl Attempt {
    /// `(attempts, refusals)` increments.
    fn counts(self) -> (i64, i64) {
        match self {
            Attempt::NotMade => (0, 0),
            Attempt::Failed => (1, 0),
            Attempt::Refused => (1, 1),
        }
    }
}

macro_rules! columns {
    () => {
        "id, message_id, kind, recipient, subject, body_text, body_html, locale, related_table, \
         related_id, origin, namespace, state, attempts, refusals, next_attempt_at, last_error, \
         dead_reason, claimed_by, claimed_until, sent_at, created_at, updated_at"
    };
}

/// Due, not held under a live claim (`$1` due by, `$2` now).
macro_rules! claimable {
    () => {
        "state = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $2)"
    };
}

fn decode(row: &AnyRow) -> Result<Mail, StoreError> {
    let c = Cols::new(row, TABLE);
    let related = match (c.opt_text("related_table")?, c.opt_text("related_id")?) {
        (Some(table), Some(id)) => Some(Related { table, id }),
        _ => None,
    };
    let last_sender = c.opt_text("claimed_by")?;
    let claim = match (&last_sender, c.opt_ts("claimed_until")?) {
        (Some(by), Some(until)) => Some(Claim { by: by.clone(), until }),
        _ => None,
    };
    Ok(Mail {
        id: c.text("id")?,
        message_id: c.text("message_id")?,
        kind: c.text("kind")?,
        recipient: c.text("recipient")?,
        subject: c.text("subject")?,
        body_text: c.text("body_text")?,
        body_html: c.opt_text("body_html")?,
        locale: c.text("locale")?,
        related,
        origin: c.opt_text("origin")?,
        namespace: c.opt_text("namespace")?,
        state: c.parse("state")?,
        attempts: c.int("attempts")?,
        refusals: c.int("refusals")?,
        next_attempt_at: c.ts("next_attempt_at")?,
        last_error: c.opt_text("last_error")?,
        dead_reason: c.opt_parse("dead_reason")?,
        claim,
        last_sender,
        sent_at: c.opt_ts("sent_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Queue a mail, due at `now`, with a generated `mail-` ID; a `message_id` already queued
/// is left as it is.
pub async fn enqueue(conn: &mut Conn, new: &NewMail, now: Timestamp) -> Result<Enqueued, StoreError> {
    let id = super::new_id("mail");
    let op = Op::new(TABLE, &new.message_id);
    let ts = time::encode(now);
    let row = sqlx::query(concat!(
        "INSERT INTO mail_outbox (id, message_id, kind, recipient, subject, body_text, body_html, \
         locale, related_table, related_id, origin, namespace, state, attempts, next_attempt_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12, $13, \
         'pending', 0, $11, $11, $11) ON CONFLICT (message_id) DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(&new.message_id)
    .bind(&new.kind)
    .bind(&new.recipient)
    .bind(&new.subject)
    .bind(&new.body_text)
    .bind(new.body_html.as_deref())
    .bind(&new.locale)
    .bind(new.related.as_ref().map(|r| r.table.as_str()))
    .bind(new.related.as_ref().map(|r| r.id.as_str()))
    .bind(&ts)
    .bind(new.origin.as_db())
    .bind(new.namespace.as_deref())
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error("enqueue", e))?;
    match row {
        Some(row) => Ok(Enqueued::New(decode(&row)?)),
        None => find_by_message_id(conn, &new.message_id).await?.map(Enqueued::Existing).ok_or_else(|| op.not_found()),
    }
}

by_id!("mail_outbox", Mail, "mail");

/// The mail with this `message_id`, if any.
pub async fn find_by_message_id(conn: &mut Conn, message_id: &str) -> Result<Option<Mail>, StoreError> {
    let query = sqlx::query(concat!("SELECT ", columns!(), " FROM mail_outbox WHERE message_id = $1")).bind(message_id);
    fetch::optional(conn, query, &Op::new(TABLE, message_id), "read", decode).await
}

/// Pending mails due at `now` (claimed or not, of every origin), oldest due first, at most
/// `limit`. A read: senders use [`claim`].
pub async fn due(conn: &mut Conn, now: Timestamp, limit: i64) -> Result<Vec<Mail>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at, created_at, id LIMIT $2"
    ))
    .bind(time::encode(now))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, "(due)").error("list due", e))?;
    rows.iter().map(decode).collect()
}

/// Claim up to `limit` mails of the claimant's origin that are due by `due_by` and not held
/// under a live claim at `now`, until `until`. Returns the claimed mails in their fair order
/// ([`fair_order`]).
///
/// The pick is fair across namespaces: mails are ranked within their namespace (oldest due
/// first) and taken by rank, so one namespace's thousand queued mails do not keep another's
/// one mail out of the claim. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`, so a
/// concurrent claim skips them instead of waiting, and re-checks its pick against committed
/// claims; SQLite has one writer at a time, so the statement is atomic as it is.
pub async fn claim(
    conn: &mut Conn,
    claimant: &Claimant,
    due_by: Timestamp,
    now: Timestamp,
    until: Timestamp,
    limit: i64,
) -> Result<Vec<Mail>, StoreError> {
    let origin = if claimant.origin.takes_unrecorded() { "(origin = $3 OR origin IS NULL)" } else { "origin = $3" };
    let lock = if conn.backend_name() == "PostgreSQL" { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "WITH ranked AS ( \
           SELECT id, next_attempt_at, created_at, ROW_NUMBER() OVER ( \
             PARTITION BY COALESCE(namespace, '') ORDER BY next_attempt_at, created_at, id) AS turn \
           FROM mail_outbox WHERE {claimable} AND {origin}), \
         picked AS (SELECT id FROM ranked ORDER BY turn, next_attempt_at, created_at, id LIMIT $4) \
         UPDATE mail_outbox SET claimed_by = $5, claimed_until = $6 \
         WHERE id IN (SELECT id FROM mail_outbox WHERE id IN (SELECT id FROM picked) \
           AND {claimable}{lock}) \
         RETURNING {columns}",
        claimable = claimable!(),
        columns = columns!(),
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(time::encode(due_by))
        .bind(time::encode(now))
        .bind(claimant.origin.as_db())
        .bind(limit.max(0))
        .bind(&claimant.sender)
        .bind(time::encode(until))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, "(claim)").error("claim", e))?;
    let mails = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(fair_order(mails))
}

/// Round-robin by namespace: every namespace's first mail (oldest due first), then every
/// namespace's second, and so on; namespaces in the order of their first mail.
pub fn fair_order(mut mails: Vec<Mail>) -> Vec<Mail> {
    mails.sort_by(|a, b| (a.next_attempt_at, a.created_at, &a.id).cmp(&(b.next_attempt_at, b.created_at, &b.id)));
    let mut seen: std::collections::HashMap<Option<String>, usize> = std::collections::HashMap::new();
    let mut turns: Vec<(usize, Mail)> = mails
        .into_iter()
        .map(|m| {
            let turn = seen.entry(m.namespace.clone()).or_insert(0);
            *turn += 1;
            (*turn, m)
        })
        .collect();
    // Stable: within a turn, namespaces keep the order of their first mail.
    turns.sort_by_key(|(turn, _)| *turn);
    turns.into_iter().map(|(_, m)| m).collect()
}

/// Give a claimed mail back unsent (e.g. a stopping dispatcher), so another pass or sender
/// takes it at once. `false` if `sender` did not hold it.
pub async fn release(conn: &mut Conn, id: &str, sender: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE mail_outbox SET claimed_until = NULL \
         WHERE id = $1 AND claimed_by = $2 AND claimed_until IS NOT NULL AND state = 'pending'",
    )
    .bind(id)
    .bind(sender)
    .execute(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, id).error("release claim", e))?;
    Ok(done.rows_affected() > 0)
}

/// Mails about one row, oldest first.
pub async fn list_for_related(conn: &mut Conn, table: &str, id: &str) -> Result<Vec<Mail>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM mail_outbox WHERE related_table = $1 AND related_id = $2 ORDER BY created_at, id"
    ))
    .bind(table)
    .bind(id);
    fetch::all(conn, query, &Op::new(TABLE, id), "list related", decode).await
}

/// The mails related to the memberships live-owned by objects of `cluster` or to their
/// invitations, oldest first (see [`super::memberships::list_owned`]).
pub async fn of_owned_memberships(conn: &mut Conn, cluster: &str) -> Result<Vec<Mail>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM mail_outbox WHERE (related_table = 'memberships' AND related_id IN \
         (SELECT id FROM memberships WHERE owner_cluster = $1 AND owner_uid IS NOT NULL)) \
         OR (related_table = 'invitations' AND related_id IN (SELECT i.id FROM invitations i \
         JOIN memberships m ON m.id = i.membership_id WHERE m.owner_cluster = $1 AND m.owner_uid IS NOT NULL)) \
         ORDER BY created_at, id"
    ))
    .bind(cluster);
    fetch::all(conn, query, &Op::new(TABLE, cluster), "list of owned memberships", decode).await
}

/// How many mails wait for delivery (the outbox depth metric).
pub async fn pending_count(conn: &mut Conn) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM mail_outbox WHERE state = 'pending'")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, "(pending)").error("count", e))?;
    Cols::new(&row, TABLE).int("n")
}

/// `sender` delivered the mail it holds: state `sent`, bodies blanked, claim ended. `None`
/// (nothing written) when `sender` holds no claim on a pending mail of that ID, e.g. its lease
/// ran out and another sender claimed it.
pub async fn mark_sent(conn: &mut Conn, id: &str, sender: &str, now: Timestamp) -> Result<Option<Mail>, StoreError> {
    let query = sqlx::query(concat!(
        "UPDATE mail_outbox SET state = 'sent', body_text = '', body_html = NULL, sent_at = $3, \
         claimed_until = NULL, updated_at = $3 \
         WHERE id = $1 AND claimed_by = $2 AND claimed_until IS NOT NULL AND state = 'pending' RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(sender)
    .bind(time::encode(now));
    fetch::optional(conn, query, &Op::new(TABLE, id), "mark sent", decode).await
}

/// `sender` gives up on the mail it holds: state `dead` with `reason` and `error`, bodies
/// blanked, `attempt` counted. `None` as for [`mark_sent`].
pub async fn mark_dead(
    conn: &mut Conn,
    id: &str,
    sender: &str,
    reason: DeadReason,
    error: &str,
    attempt: Attempt,
    now: Timestamp,
) -> Result<Option<Mail>, StoreError> {
    let (attempts, refusals) = attempt.counts();
    let query = sqlx::query(concat!(
        "UPDATE mail_outbox SET state = 'dead', body_text = '', body_html = NULL, dead_reason = $3, \
         last_error = $4, attempts = attempts + $5, refusals = refusals + $6, claimed_until = NULL, \
         updated_at = $7 \
         WHERE id = $1 AND claimed_by = $2 AND claimed_until IS NOT NULL AND state = 'pending' RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(sender)
    .bind(reason.as_str())
    .bind(error)
    .bind(attempts)
    .bind(refusals)
    .bind(time::encode(now));
    fetch::optional(conn, query, &Op::new(TABLE, id), "mark dead", decode).await
}

/// A delivery attempt by `sender` failed: count it, retry at `next_attempt_at`, end the claim.
/// `None` as for [`mark_sent`].
pub async fn mark_failed(
    conn: &mut Conn,
    id: &str,
    sender: &str,
    attempt: Attempt,
    error: &str,
    next_attempt_at: Timestamp,
    now: Timestamp,
) -> Result<Option<Mail>, StoreError> {
    let (attempts, refusals) = attempt.counts();
    let query = sqlx::query(concat!(
        "UPDATE mail_outbox SET attempts = attempts + $3, refusals = refusals + $4, last_error = $5, \
         next_attempt_at = $6, claimed_until = NULL, updated_at = $7 \
         WHERE id = $1 AND claimed_by = $2 AND claimed_until IS NOT NULL AND state = 'pending' RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(sender)
    .bind(attempts)
    .bind(refusals)
    .bind(error)
    .bind(time::encode(next_attempt_at))
    .bind(time::encode(now));
    fetch::optional(conn, query, &Op::new(TABLE, id), "mark failed", decode).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(id: &str, namespace: Option<&str>, due_second: i64) -> Mail {
        let at = |s: i64| Timestamp::from_second(s).expect("ts");
        Mail {
            id: id.to_owned(),
            message_id: format!("<{id}@test>"),
            kind: "welcome".into(),
            recipient: "a@example.com".into(),
            subject: "s".into(),
            body_text: "b".into(),
            body_html: None,
            locale: "en".into(),
            related: None,
            origin: Some("operator:c".into()),
            namespace: namespace.map(str::to_owned),
            state: MailState::Pending,
            attempts: 0,
            refusals: 0,
            next_attempt_at: at(due_second),
            last_error: None,
            dead_reason: None,
            claim: None,
            last_sender: None,
            sent_at: None,
            created_at: at(due_second),
            updated_at: at(due_second),
        }
    }

    fn ids(mails: &[Mail]) -> Vec<&str> {
        mails.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn fair_order_takes_one_mail_per_namespace_per_round() {
        let mut mails: Vec<Mail> = (0..5).map(|n| mail(&format!("a{n}"), Some("team-a"), n)).collect();
        mails.push(mail("b0", Some("team-b"), 10));
        mails.push(mail("c0", Some("team-c"), 3));
        mails.push(mail("b1", Some("team-b"), 11));
        mails.push(mail("legacy", None, 20));
        assert_eq!(ids(&fair_order(mails)), ["a0", "c0", "b0", "legacy", "a1", "b1", "a2", "a3", "a4"]);
    }

    #[test]
    fn fair_order_of_one_namespace_is_oldest_first() {
        let mails = vec![mail("late", Some("x"), 9), mail("early", Some("x"), 1), mail("mid", Some("x"), 5)];
        assert_eq!(ids(&fair_order(mails)), ["early", "mid", "late"]);
        assert!(fair_order(Vec::new()).is_empty());
    }

    #[test]
    fn origins_are_stored_with_their_shell() {
        assert_eq!(Origin::Operator("k8s-1".into()).as_db(), "operator:k8s-1");
        assert_eq!(Origin::Local("local".into()).to_string(), "local:local");
        assert!(Origin::Operator("x".into()).takes_unrecorded());
        assert!(!Origin::Local("x".into()).takes_unrecorded(), "local mode never sends an operator's old mail");
        assert_eq!(
            (Attempt::NotMade.counts(), Attempt::Failed.counts(), Attempt::Refused.counts()),
            ((0, 0), (1, 0), (1, 1))
        );
    }
}
