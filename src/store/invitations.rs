//! `invitations`: single-use, expiring invitations for a membership or a tenant link.
//!
//! Only the token's hash is stored (`token_hash`: lower-case hex SHA-256 of the token,
//! CHECK `invitations_token_hash_sha256`). A subject has at most one open invitation (not
//! accepted, not revoked); re-sending with a new token revokes the old one first.
//!
//! Answering is the web app's contract, one statement that either succeeds or changes
//! nothing ([`answer`] runs the same; refusing sets `revoked_at` instead):
//!
//! ```sql
//! UPDATE invitations SET accepted_at = :now, updated_at = :now
//!  WHERE token_hash = :hash AND kind = :kind AND accepted_at IS NULL AND revoked_at IS NULL
//!    AND expires_at > :now
//! ```
//!
//! The operator sees `accepted_at` on its next reconcile and activates the membership or link.
//! What a row's timestamps mean at a given time is `core::invitation::state`.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch;
use super::revocable::single_use;
use super::row::{Cols, db_enum};
use super::time;

pub const TABLE: &str = "invitations";

db_enum! {
    /// What an invitation invites to.
    pub enum InvitationKind {
        Membership = "membership",
        TenantLink = "tenant_link",
    }
}

/// The row an invitation belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Membership(String),
    TenantLink(String),
}

impl Subject {
    pub fn kind(&self) -> InvitationKind {
        match self {
            Subject::Membership(_) => InvitationKind::Membership,
            Subject::TenantLink(_) => InvitationKind::TenantLink,
        }
    }

    pub fn id(&self) -> &str {
        let (Subject::Membership(id) | Subject::TenantLink(id)) = self;
        id
    }

    fn column(&self) -> &'static str {
        match self {
            Subject::Membership(_) => "membership_id",
            Subject::TenantLink(_) => "tenant_link_id",
        }
    }
}

/// An invitation to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvitation {
    pub subject: Subject,
    /// Recipient address.
    pub email: String,
    /// Lower-case hex SHA-256 of the token (64 characters).
    pub token_hash: String,
    /// Language of the mail and accept page (`en`, `pl`).
    pub locale: String,
    pub expires_at: Timestamp,
    /// The subject's re-send nonce this invitation was issued for (Membership
    /// `spec.invitation.resendNonce`), if any.
    pub resend_nonce: Option<String>,
}

/// A row of `invitations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub subject: Subject,
    pub email: String,
    pub token_hash: String,
    pub locale: String,
    pub expires_at: Timestamp,
    /// The re-send nonce it was issued for.
    pub resend_nonce: Option<String>,
    /// How many times the invitation mail was handed to the outbox.
    pub send_attempts: i64,
    pub sent_at: Option<Timestamp>,
    /// The outbox `message_id` of the last mail.
    pub message_id: Option<String>,
    pub accepted_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How an invitation is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `accepted_at`: the membership or link becomes active.
    Accept,
    /// `revoked_at`: the invitee declines (a partner rejects a link).
    Refuse,
}

/// What [`answer`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Answered now: the row as written.
    Answered(Invitation),
    /// Not open at `now`, or of another kind: the row as it stands, nothing written.
    NotOpen(Invitation),
    /// No invitation has this token.
    UnknownToken,
}

macro_rules! columns {
    () => {
        "id, kind, membership_id, tenant_link_id, email, token_hash, locale, expires_at, \
         resend_nonce, send_attempts, sent_at, message_id, accepted_at, revoked_at, created_at, \
         updated_at"
    };
}

fn decode(row: &AnyRow) -> Result<Invitation, StoreError> {
    let c = Cols::new(row, TABLE);
    let kind: InvitationKind = c.parse("kind")?;
    let subject = match kind {
        InvitationKind::Membership => Subject::Membership(c.text("membership_id")?),
        InvitationKind::TenantLink => Subject::TenantLink(c.text("tenant_link_id")?),
    };
    Ok(Invitation {
        id: c.text("id")?,
        subject,
        email: c.text("email")?,
        token_hash: c.text("token_hash")?,
        locale: c.text("locale")?,
        expires_at: c.ts("expires_at")?,
        resend_nonce: c.opt_text("resend_nonce")?,
        send_attempts: c.int("send_attempts")?,
        sent_at: c.opt_ts("sent_at")?,
        message_id: c.opt_text("message_id")?,
        accepted_at: c.opt_ts("accepted_at")?,
        revoked_at: c.opt_ts("revoked_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Insert an invitation with a generated `inv-` ID. A second open invitation for the same
/// subject, or a reused token hash, is a [`StoreError::UniqueViolation`].
pub async fn insert(conn: &mut Conn, new: &NewInvitation, now: Timestamp) -> Result<Invitation, StoreError> {
    let id = super::new_id("inv");
    let keys = [("id", id.as_str()), ("token_hash", "(hidden)"), (new.subject.column(), new.subject.id())];
    let refs = [(new.subject.column(), new.subject.id())];
    let op = Op::new(TABLE, &id).keys(&keys).refs(&refs);
    let (membership, link) = match &new.subject {
        Subject::Membership(id) => (Some(id.as_str()), None),
        Subject::TenantLink(id) => (None, Some(id.as_str())),
    };
    let row = sqlx::query(concat!(
        "INSERT INTO invitations (id, kind, membership_id, tenant_link_id, email, token_hash, \
         locale, expires_at, resend_nonce, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(new.subject.kind().as_str())
    .bind(membership)
    .bind(link)
    .bind(&new.email)
    .bind(&new.token_hash)
    .bind(&new.locale)
    .bind(time::encode(new.expires_at))
    .bind(new.resend_nonce.as_deref())
    .bind(time::encode(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| hide_token(op.error("insert", e)))?;
    decode(&row)
}

/// PostgreSQL's detail would quote the hash; keep it out of messages and logs.
fn hide_token(err: StoreError) -> StoreError {
    match err {
        StoreError::UniqueViolation { table, id, key, .. } if key == "token_hash" => {
            StoreError::UniqueViolation { table, id, key, value: "(hidden)".to_owned() }
        }
        other => other,
    }
}

/// The invitation with this ID, if any.
pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Invitation>, StoreError> {
    find_where(conn, concat!("SELECT ", columns!(), " FROM invitations WHERE id = $1"), id, id).await
}

/// The invitation with this ID, or [`StoreError::NotFound`].
pub async fn get(conn: &mut Conn, id: &str) -> Result<Invitation, StoreError> {
    find(conn, id).await?.ok_or_else(|| Op::new(TABLE, id).not_found())
}

/// The invitation whose token hashes to `token_hash`, if any.
pub async fn find_by_token_hash(conn: &mut Conn, token_hash: &str) -> Result<Option<Invitation>, StoreError> {
    let sql = concat!("SELECT ", columns!(), " FROM invitations WHERE token_hash = $1");
    find_where(conn, sql, token_hash, "(by token)").await
}

/// The one row `sql` selects by `key`; `shown` names it in errors (never the hash).
async fn find_where(
    conn: &mut Conn,
    sql: &'static str,
    key: &str,
    shown: &str,
) -> Result<Option<Invitation>, StoreError> {
    let query = sqlx::query(sql).bind(key);
    fetch::optional(conn, query, &Op::new(TABLE, shown), "read", decode).await
}

/// Every invitation of a subject, oldest first.
pub async fn list_for(conn: &mut Conn, subject: &Subject) -> Result<Vec<Invitation>, StoreError> {
    let sql = match subject {
        Subject::Membership(_) => {
            concat!("SELECT ", columns!(), " FROM invitations WHERE membership_id = $1 ORDER BY created_at, id")
        }
        Subject::TenantLink(_) => {
            concat!("SELECT ", columns!(), " FROM invitations WHERE tenant_link_id = $1 ORDER BY created_at, id")
        }
    };
    let rows = sqlx::query(sql)
        .bind(subject.id())
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, subject.id()).error("list", e))?;
    rows.iter().map(decode).collect()
}

/// The invitations of the memberships live-owned by objects of `cluster`, oldest first (see
/// [`super::memberships::list_owned`]).
pub async fn of_owned_memberships(conn: &mut Conn, cluster: &str) -> Result<Vec<Invitation>, StoreError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM invitations WHERE membership_id IN \
         (SELECT id FROM memberships WHERE owner_cluster = $1 AND owner_uid IS NOT NULL) ORDER BY created_at, id"
    );
    let rows = sqlx::query(sql)
        .bind(cluster)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, cluster).error("list of owned memberships", e))?;
    rows.iter().map(decode).collect()
}

/// The subject's invitation that is neither accepted nor revoked (it may have expired).
pub async fn find_open(conn: &mut Conn, subject: &Subject) -> Result<Option<Invitation>, StoreError> {
    Ok(list_for(conn, subject).await?.into_iter().find(|i| i.accepted_at.is_none() && i.revoked_at.is_none()))
}

/// Record that the invitation mail `message_id` was queued: `sent_at`, one more attempt.
pub async fn mark_sent(conn: &mut Conn, id: &str, message_id: &str, now: Timestamp) -> Result<Invitation, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE invitations SET send_attempts = send_attempts + 1, sent_at = $2, \
         message_id = $3, updated_at = $2 WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(time::encode(now))
    .bind(message_id);
    fetch::existing(conn, query, &op, "mark sent", decode).await
}

/// Answer the invitation of `kind` whose token hashes to `token_hash`, if it is open at
/// `now`: one conditional UPDATE, so two answers at once cannot both succeed.
pub async fn answer(
    conn: &mut Conn,
    kind: InvitationKind,
    token_hash: &str,
    answer: Answer,
    now: Timestamp,
) -> Result<AcceptOutcome, StoreError> {
    macro_rules! open_by_token {
        () => {
            " WHERE token_hash = $1 AND kind = $3 AND accepted_at IS NULL AND revoked_at IS NULL \
             AND expires_at > $2 RETURNING "
        };
    }
    let sql = match answer {
        Answer::Accept => {
            concat!("UPDATE invitations SET accepted_at = $2, updated_at = $2", open_by_token!(), columns!())
        }
        Answer::Refuse => {
            concat!("UPDATE invitations SET revoked_at = $2, updated_at = $2", open_by_token!(), columns!())
        }
    };
    let row = sqlx::query(sql)
        .bind(token_hash)
        .bind(time::encode(now))
        .bind(kind.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| Op::new(TABLE, "(by token)").error("answer", e))?;
    if let Some(row) = row {
        return Ok(AcceptOutcome::Answered(decode(&row)?));
    }
    Ok(match find_by_token_hash(conn, token_hash).await? {
        Some(found) => AcceptOutcome::NotOpen(found),
        None => AcceptOutcome::UnknownToken,
    })
}

single_use! {
    table: "invitations",
    row: Invitation,
    used: "accepted_at",
    /// Revoke invitation `id` unless it was accepted. Idempotent.
    revoke;
}
