//! `mail_outbox`: mails written in the same transaction as the rows that need them.
//!
//! ```text
//! engine tx: row + enqueue(message_id) ──► pending ──► dispatcher: due() → SMTP
//!                                           │   ▲            │
//!                                           │   └ mark_failed (attempts+1, next_attempt_at)
//!                                           ├──► sent (mark_sent)
//!                                           └──► dead (mark_dead: retries exhausted)
//! ```
//!
//! `message_id` is chosen by the caller and unique, so enqueueing the same mail twice (a
//! retried reconcile) keeps one row: [`Enqueued::Existing`]. It is also the SMTP Message-ID,
//! so a crash between sending and `mark_sent` re-sends a mail receivers can deduplicate.
//! Bodies may hold a single-use token or activation code in clear; once a mail is sent or
//! dead its bodies are blanked, so the database keeps only hashes of secrets.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
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
    pub state: MailState,
    /// Failed delivery attempts so far.
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
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

macro_rules! columns {
    () => {
        "id, message_id, kind, recipient, subject, body_text, body_html, locale, related_table, \
         related_id, state, attempts, next_attempt_at, last_error, sent_at, created_at, updated_at"
    };
}

fn decode(row: &AnyRow) -> Result<Mail, StoreError> {
    let c = Cols::new(row, TABLE);
    let related = match (c.opt_text("related_table")?, c.opt_text("related_id")?) {
        (Some(table), Some(id)) => Some(Related { table, id }),
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
        state: c.parse("state")?,
        attempts: c.int("attempts")?,
        next_attempt_at: c.ts("next_attempt_at")?,
        last_error: c.opt_text("last_error")?,
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
         locale, related_table, related_id, state, attempts, next_attempt_at, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, $11, \
         $11) ON CONFLICT (message_id) DO NOTHING RETURNING ",
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
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error("enqueue", e))?;
    match row {
        Some(row) => Ok(Enqueued::New(decode(&row)?)),
        None => find_by_message_id(conn, &new.message_id).await?.map(Enqueued::Existing).ok_or_else(|| op.not_found()),
    }
}

/// The mail with this row ID, if any.
pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Mail>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM mail_outbox WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, id).error("read", e))?;
    row.as_ref().map(decode).transpose()
}

/// The mail with this row ID, or [`StoreError::NotFound`].
pub async fn get(conn: &mut Conn, id: &str) -> Result<Mail, StoreError> {
    find(conn, id).await?.ok_or_else(|| Op::new(TABLE, id).not_found())
}

/// The mail with this `message_id`, if any.
pub async fn find_by_message_id(conn: &mut Conn, message_id: &str) -> Result<Option<Mail>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM mail_outbox WHERE message_id = $1"))
        .bind(message_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, message_id).error("read", e))?;
    row.as_ref().map(decode).transpose()
}

/// Pending mails due at `now`, oldest due first, at most `limit`.
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

/// Mails about one row, oldest first.
pub async fn list_for_related(conn: &mut Conn, table: &str, id: &str) -> Result<Vec<Mail>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM mail_outbox WHERE related_table = $1 AND related_id = $2 ORDER BY created_at, id"
    ))
    .bind(table)
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Op::new(TABLE, id).error("list related", e))?;
    rows.iter().map(decode).collect()
}

/// How many mails wait for delivery (the outbox depth metric).
pub async fn pending_count(conn: &mut Conn) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM mail_outbox WHERE state = 'pending'")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, "(pending)").error("count", e))?;
    Cols::new(&row, TABLE).int("n")
}

/// The mail was delivered: state `sent`, bodies blanked. Idempotent.
pub async fn mark_sent(conn: &mut Conn, id: &str, now: Timestamp) -> Result<Mail, StoreError> {
    settle(conn, id, MailState::Sent, None, now).await
}

/// Delivery will not be retried: state `dead` with the last error, bodies blanked.
pub async fn mark_dead(conn: &mut Conn, id: &str, error: &str, now: Timestamp) -> Result<Mail, StoreError> {
    settle(conn, id, MailState::Dead, Some(error), now).await
}

async fn settle(
    conn: &mut Conn,
    id: &str,
    state: MailState,
    error: Option<&str>,
    now: Timestamp,
) -> Result<Mail, StoreError> {
    let op = Op::new(TABLE, id);
    let row = sqlx::query(concat!(
        "UPDATE mail_outbox SET state = $2, body_text = '', body_html = NULL, \
         sent_at = CASE WHEN $2 = 'sent' THEN $3 ELSE NULL END, \
         attempts = attempts + CASE WHEN $2 = 'dead' THEN 1 ELSE 0 END, \
         last_error = COALESCE($4, last_error), updated_at = $3 \
         WHERE id = $1 AND state = 'pending' RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(state.as_str())
    .bind(time::encode(now))
    .bind(error)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error(if error.is_some() { "mark dead" } else { "mark sent" }, e))?;
    match row {
        Some(row) => decode(&row),
        None => get(conn, id).await,
    }
}

/// A delivery attempt failed: one more attempt, retry at `next_attempt_at`.
pub async fn mark_failed(
    conn: &mut Conn,
    id: &str,
    error: &str,
    next_attempt_at: Timestamp,
    now: Timestamp,
) -> Result<Mail, StoreError> {
    let op = Op::new(TABLE, id);
    let row = sqlx::query(concat!(
        "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, \
         updated_at = $4 WHERE id = $1 AND state = 'pending' RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(error)
    .bind(time::encode(next_attempt_at))
    .bind(time::encode(now))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error("mark failed", e))?;
    match row {
        Some(row) => decode(&row),
        None => get(conn, id).await,
    }
}
