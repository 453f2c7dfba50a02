//! `users`: people, one row per e-mail address (compared case-insensitively).
//!
//! A person keeps one user however many memberships they have, so an invitation to a
//! second organization never creates a second login. `email` is kept as first written;
//! `email_normalized` (trimmed, lower case) carries the unique index.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch::{self, by_id};
use super::row::Cols;
use super::time;

pub const TABLE: &str = "users";

/// The form of an e-mail address that is unique: trimmed and lower case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A user to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub display_name: Option<String>,
    pub phone: Option<String>,
    /// Signs in to the platform (an invited user) rather than only being a contact.
    pub has_login: bool,
}

/// The fields an update replaces (the e-mail address never changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub phone: Option<String>,
    pub has_login: bool,
}

/// A row of `users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub email_normalized: String,
    pub display_name: Option<String>,
    pub phone: Option<String>,
    pub has_login: bool,
    pub archived_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! columns {
    () => {
        "id, email, email_normalized, display_name, phone, has_login, archived_at, created_at, \
         updated_at"
    };
}

fn decode(row: &AnyRow) -> Result<User, StoreError> {
    let c = Cols::new(row, TABLE);
    Ok(User {
        id: c.text("id")?,
        email: c.text("email")?,
        email_normalized: c.text("email_normalized")?,
        display_name: c.opt_text("display_name")?,
        phone: c.opt_text("phone")?,
        has_login: c.flag("has_login")?,
        archived_at: c.opt_ts("archived_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Insert a user with a generated `usr-` ID; an e-mail address already used (in any case)
/// is a [`StoreError::UniqueViolation`] on `email_normalized`.
pub async fn insert(conn: &mut Conn, new: &NewUser, now: Timestamp) -> Result<User, StoreError> {
    let id = super::new_id("usr");
    let normalized = normalize_email(&new.email);
    let keys = [("id", id.as_str()), ("email_normalized", normalized.as_str())];
    let op = Op::new(TABLE, "(new)").keys(&keys);
    if normalized.is_empty() {
        return Err(op.invalid("the e-mail address is empty"));
    }
    let query = sqlx::query(concat!(
        "INSERT INTO users (id, email, email_normalized, display_name, phone, has_login, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(new.email.trim())
    .bind(&normalized)
    .bind(new.display_name.as_deref())
    .bind(new.phone.as_deref())
    .bind(new.has_login)
    .bind(time::encode(now));
    fetch::one(conn, query, &op, "insert", decode).await
}

by_id!("users", User, "user");

/// The users of the memberships live-owned by objects of `cluster` (see
/// [`super::memberships::list_owned`]).
pub async fn of_owned_memberships(conn: &mut Conn, cluster: &str) -> Result<Vec<User>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM users WHERE id IN (SELECT user_id FROM memberships WHERE owner_cluster = $1 AND owner_uid IS NOT NULL)"
    ))
    .bind(cluster);
    fetch::all(conn, query, &Op::new(TABLE, cluster), "list of owned memberships", decode).await
}

/// The user with this e-mail address in any letter case, if any.
pub async fn find_by_email(conn: &mut Conn, email: &str) -> Result<Option<User>, StoreError> {
    let normalized = normalize_email(email);
    let query =
        sqlx::query(concat!("SELECT ", columns!(), " FROM users WHERE email_normalized = $1")).bind(&normalized);
    fetch::optional(conn, query, &Op::new(TABLE, &normalized), "read by e-mail", decode).await
}

/// Replace the display name, phone and login flag of user `id`.
pub async fn update(conn: &mut Conn, id: &str, update: &UserUpdate, now: Timestamp) -> Result<User, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE users SET display_name = $2, phone = $3, has_login = $4, updated_at = $5 \
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(update.display_name.as_deref())
    .bind(update.phone.as_deref())
    .bind(update.has_login)
    .bind(time::encode(now));
    fetch::existing(conn, query, &op, "update", decode).await
}

/// Mark user `id` archived (it keeps its e-mail address). Idempotent.
pub async fn archive(conn: &mut Conn, id: &str, now: Timestamp) -> Result<User, StoreError> {
    set_archived(conn, id, Some(now), now).await
}

/// Clear `archived_at` of user `id`.
pub async fn reactivate(conn: &mut Conn, id: &str, now: Timestamp) -> Result<User, StoreError> {
    set_archived(conn, id, None, now).await
}

async fn set_archived(conn: &mut Conn, id: &str, at: Option<Timestamp>, now: Timestamp) -> Result<User, StoreError> {
    let op = Op::new(TABLE, id);
    let row = sqlx::query(concat!(
        "UPDATE users SET archived_at = CASE WHEN $2 IS NULL THEN NULL \
         ELSE COALESCE(archived_at, $2) END, \
         updated_at = CASE WHEN (archived_at IS NULL) = ($2 IS NULL) THEN updated_at ELSE $3 END \
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(at.map(time::encode))
    .bind(time::encode(now))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| op.error(if at.is_some() { "archive" } else { "reactivate" }, e))?;
    row.as_ref().map(decode).transpose()?.ok_or_else(|| op.not_found())
}
