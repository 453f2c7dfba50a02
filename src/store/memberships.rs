//! `memberships`: a user in an organization or an account, with roles, groups and notices.
//!
//! Exactly one of `organization_id` and `account_id` is set (CHECK `memberships_scope`). A
//! user has at most one live (not revoked) membership per organization and per account
//! (partial unique indexes); revoking frees the slot for a later membership.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use super::Conn;
use super::error::{Op, StoreError};
use super::fetch::{self, by_id};
use super::ownership::{NewOwned, Owner, StoredOwner, owned_columns};
use super::revocable::revocable;
use super::row::{Cols, db_enum, enum_list_text, list_text};
use super::time;

pub const TABLE: &str = "memberships";

db_enum! {
    /// Where a membership is in its life.
    pub enum MembershipPhase {
        Pending = "pending",
        Invited = "invited",
        Active = "active",
        Expired = "expired",
        Failed = "failed",
        Revoked = "revoked",
    }
}

db_enum! {
    /// Kinds of e-mail a member chose to receive.
    pub enum NotificationLevel {
        Billing = "billing",
        Technical = "technical",
        Security = "security",
        Announcements = "announcements",
    }
}

/// What a membership is a membership of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Organization(String),
    Account(String),
}

impl Scope {
    fn columns(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Scope::Organization(id) => (Some(id.as_str()), None),
            Scope::Account(id) => (None, Some(id.as_str())),
        }
    }
}

/// The fields a Membership spec declares and an update replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipSettings {
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub notifications: Vec<NotificationLevel>,
    /// An invited user who signs in (`true`) or an authorized contact only (`false`).
    pub login: bool,
}

/// A membership to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMembership {
    pub user_id: String,
    pub scope: Scope,
    pub settings: MembershipSettings,
    /// Usually `Pending`; never `Revoked`.
    pub phase: MembershipPhase,
    pub owner: Option<Owner>,
}

/// A row of `memberships`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: String,
    pub user_id: String,
    pub scope: Scope,
    pub settings: MembershipSettings,
    pub phase: MembershipPhase,
    pub revoked_at: Option<Timestamp>,
    pub owner: Option<StoredOwner>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

owned_columns!(
    "id, user_id, organization_id, account_id, role_names, group_names, notifications, login, phase, \
     revoked_at"
);

fn decode(row: &AnyRow) -> Result<Membership, StoreError> {
    let c = Cols::new(row, TABLE);
    let scope = match (c.opt_text("organization_id")?, c.opt_text("account_id")?) {
        (Some(org), None) => Scope::Organization(org),
        (None, Some(acct)) => Scope::Account(acct),
        _ => {
            return Err(StoreError::Decode {
                table: TABLE,
                id: c.text("id")?,
                column: "organization_id",
                reason: "and account_id must have exactly one value".to_owned(),
            });
        }
    };
    Ok(Membership {
        id: c.text("id")?,
        user_id: c.text("user_id")?,
        scope,
        settings: MembershipSettings {
            roles: c.list("role_names")?,
            groups: c.list("group_names")?,
            notifications: c.enum_list("notifications")?,
            login: c.flag("login")?,
        },
        phase: c.parse("phase")?,
        revoked_at: c.opt_ts("revoked_at")?,
        owner: c.owner()?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Bind the settings, in the order insert and update name them (`role_names` to `login`).
fn bind_settings<'q>(q: fetch::Query<'q>, s: &MembershipSettings) -> fetch::Query<'q> {
    q.bind(list_text(&s.roles)).bind(list_text(&s.groups)).bind(enum_list_text(&s.notifications)).bind(s.login)
}

/// Insert a membership with a generated `mbr-` ID. A second live membership of the same
/// user in the same organization (or account) is a [`StoreError::UniqueViolation`].
pub async fn insert(conn: &mut Conn, new: &NewMembership, now: Timestamp) -> Result<Membership, StoreError> {
    let row = NewOwned::new(TABLE, "mbr", new.owner.as_ref());
    let (org, acct) = new.scope.columns();
    let org_key = format!("{}, {}", new.user_id, org.unwrap_or(""));
    let acct_key = format!("{}, {}", new.user_id, acct.unwrap_or(""));
    let keys = row.keys(&[("user_id, organization_id", org_key.as_str()), ("user_id, account_id", acct_key.as_str())]);
    let refs =
        [("user_id", new.user_id.as_str()), ("organization_id", org.unwrap_or("")), ("account_id", acct.unwrap_or(""))];
    let refs: Vec<_> = refs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let op = row.op(&keys, &refs);
    if new.phase == MembershipPhase::Revoked {
        return Err(op.invalid("a new membership cannot start revoked"));
    }
    let query = sqlx::query(concat!(
        "INSERT INTO memberships (id, user_id, organization_id, account_id, role_names, \
         group_names, notifications, login, phase, owner_cluster, owner_namespace, owner_name, \
         owner_uid, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING ",
        columns!()
    ))
    .bind(&row.id)
    .bind(&new.user_id)
    .bind(org)
    .bind(acct);
    let query = bind_settings(query, &new.settings).bind(new.phase.as_str());
    fetch::insert_owned(conn, query, new.owner.as_ref(), now, &op, decode).await
}

by_id!("memberships", Membership, "membership");

/// Every membership live-owned by objects of `cluster`: with [`super::users::of_owned_memberships`],
/// [`super::invitations::of_owned_memberships`] and [`super::outbox::of_owned_memberships`], what
/// local mode's Memberships read, one query per table.
pub async fn list_owned(conn: &mut Conn, cluster: &str) -> Result<Vec<Membership>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM memberships WHERE owner_cluster = $1 AND owner_uid IS NOT NULL"
    ))
    .bind(cluster);
    fetch::all(conn, query, &Op::new(TABLE, cluster), "list owned", decode).await
}

/// The live (not revoked) membership of a user in an organization or account, if any.
pub async fn find_live(conn: &mut Conn, user_id: &str, scope: &Scope) -> Result<Option<Membership>, StoreError> {
    let sql = match scope {
        Scope::Organization(_) => concat!(
            "SELECT ",
            columns!(),
            " FROM memberships WHERE user_id = $1 AND organization_id = $2 AND revoked_at IS NULL"
        ),
        Scope::Account(_) => concat!(
            "SELECT ",
            columns!(),
            " FROM memberships WHERE user_id = $1 AND account_id = $2 AND revoked_at IS NULL"
        ),
    };
    let (Scope::Organization(scope_id) | Scope::Account(scope_id)) = scope;
    let query = sqlx::query(sql).bind(user_id).bind(scope_id);
    fetch::optional(conn, query, &Op::new(TABLE, user_id), "read live membership", decode).await
}

/// Every membership (revoked ones too) of an organization or account, oldest first.
pub async fn list_by_scope(conn: &mut Conn, scope: &Scope) -> Result<Vec<Membership>, StoreError> {
    let sql = match scope {
        Scope::Organization(_) => {
            concat!("SELECT ", columns!(), " FROM memberships WHERE organization_id = $1 ORDER BY created_at, id")
        }
        Scope::Account(_) => {
            concat!("SELECT ", columns!(), " FROM memberships WHERE account_id = $1 ORDER BY created_at, id")
        }
    };
    let (Scope::Organization(scope_id) | Scope::Account(scope_id)) = scope;
    let query = sqlx::query(sql).bind(scope_id);
    fetch::all(conn, query, &Op::new(TABLE, scope_id), "list by scope", decode).await
}

/// Every membership of a user, oldest first.
pub async fn list_by_user(conn: &mut Conn, user_id: &str) -> Result<Vec<Membership>, StoreError> {
    let rows =
        sqlx::query(concat!("SELECT ", columns!(), " FROM memberships WHERE user_id = $1 ORDER BY created_at, id"))
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| Op::new(TABLE, user_id).error("list by user", e))?;
    rows.iter().map(decode).collect()
}

/// How many memberships of an organization are not revoked (an organization with live
/// memberships must not be archived).
pub async fn count_live_by_organization(conn: &mut Conn, organization_id: &str) -> Result<i64, StoreError> {
    let query = sqlx::query("SELECT COUNT(*) AS n FROM memberships WHERE organization_id = $1 AND revoked_at IS NULL")
        .bind(organization_id);
    fetch::count(conn, query, &Op::new(TABLE, organization_id), "count by organization").await
}

/// Replace roles, groups, notification levels and the login flag of membership `id`.
pub async fn update(
    conn: &mut Conn,
    id: &str,
    settings: &MembershipSettings,
    now: Timestamp,
) -> Result<Membership, StoreError> {
    let op = Op::new(TABLE, id);
    let query = sqlx::query(concat!(
        "UPDATE memberships SET role_names = $2, group_names = $3, notifications = $4, \
         login = $5, updated_at = $6 WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id);
    let query = bind_settings(query, settings).bind(time::encode(now));
    fetch::existing(conn, query, &op, "update", decode).await
}

revocable! {
    table: "memberships",
    row: Membership,
    phase: MembershipPhase,
    also: "",
    /// Move membership `id` to `phase`; `Revoked` revokes. A revoked membership stays revoked.
    set_phase;
    /// Revoke membership `id` (phase `revoked`, `revoked_at`). Idempotent.
    revoke;
}

/// Undo the revocation of membership `id` (an out-of-band revocation the spec overrides):
/// phase `phase`, `revoked_at` cleared. Another live membership of the same user in the same
/// organization or account makes this a [`StoreError::UniqueViolation`].
pub async fn reinstate(
    conn: &mut Conn,
    id: &str,
    phase: MembershipPhase,
    now: Timestamp,
) -> Result<Membership, StoreError> {
    let op = Op::new(TABLE, id);
    if phase == MembershipPhase::Revoked {
        return Err(op.invalid("a membership cannot be reinstated as revoked"));
    }
    let query = sqlx::query(concat!(
        "UPDATE memberships SET phase = $2, revoked_at = NULL, updated_at = $3 WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(phase.as_str())
    .bind(time::encode(now));
    fetch::existing(conn, query, &op, "reinstate", decode).await
}

db_enum! {
    /// Which side of a tenant link placed a derived membership (`placed_by`).
    pub enum Placement {
        /// The tenant: the TenantLink's `spec.members`.
        Tenant = "tenant",
        /// The provider: the provider Organization's `spec.serviceProvider.staff`.
        Provider = "provider",
    }
}

/// Mark membership `id` as derived from tenant link `link_id`, placed by `by`.
pub async fn mark_derived(
    conn: &mut Conn,
    id: &str,
    link_id: &str,
    by: Placement,
    now: Timestamp,
) -> Result<(), StoreError> {
    let refs = [("tenant_link_id", link_id)];
    let op = Op::new(TABLE, id).refs(&refs);
    let done = sqlx::query("UPDATE memberships SET tenant_link_id = $2, placed_by = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(link_id)
        .bind(by.as_str())
        .bind(time::encode(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| op.error("mark derived", e))?;
    if done.rows_affected() == 0 {
        return Err(op.not_found());
    }
    Ok(())
}

/// The live (not revoked) memberships derived from tenant link `link_id`, placed by either
/// side, oldest first.
pub async fn list_derived(conn: &mut Conn, link_id: &str) -> Result<Vec<Membership>, StoreError> {
    Ok(list_placed(conn, link_id).await?.into_iter().map(|(m, _)| m).collect())
}

/// The live memberships derived from any link where `provider_id` is the provider, each with
/// the side that placed it and its link, oldest first.
pub async fn list_placed_for_provider(
    conn: &mut Conn,
    provider_id: &str,
) -> Result<Vec<(Membership, Placement, String)>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        ", placed_by, tenant_link_id FROM memberships WHERE revoked_at IS NULL AND tenant_link_id IN \
         (SELECT id FROM tenant_links WHERE provider_organization_id = $1) ORDER BY created_at, id"
    ))
    .bind(provider_id);
    let decode_placed = |row: &AnyRow| -> Result<(Membership, Placement, String), StoreError> {
        let c = Cols::new(row, TABLE);
        Ok((decode(row)?, c.parse("placed_by")?, c.text("tenant_link_id")?))
    };
    fetch::all(conn, query, &Op::new(TABLE, provider_id), "list placed for provider", decode_placed).await
}

/// The same, each with the side that placed it.
pub async fn list_placed(conn: &mut Conn, link_id: &str) -> Result<Vec<(Membership, Placement)>, StoreError> {
    let query = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        ", placed_by FROM memberships WHERE tenant_link_id = $1 AND revoked_at IS NULL ORDER BY created_at, id"
    ))
    .bind(link_id);
    let decode_placed = |row: &AnyRow| -> Result<(Membership, Placement), StoreError> {
        Ok((decode(row)?, Cols::new(row, TABLE).parse("placed_by")?))
    };
    fetch::all(conn, query, &Op::new(TABLE, link_id), "list derived from link", decode_placed).await
}
