//! One walk over many Memberships in one transaction (local mode): what the Memberships read,
//! asked of the database once for the walk instead of once per Membership.
//!
//! ```text
//! Walk::new ─► (SQLite only) Snapshot::load: owned memberships, their users, invitations, mails (4 queries)
//! per Membership:
//!   scope       ─► seen in this walk? ─no─► observe_scope(conn), kept
//!   user, row,  ─► snapshot still fresh and has the key? ─yes─► from memory
//!   invitations,                                      └─no──► the query, as observe_in asks it
//!   mails
//!   write?      ─► the snapshot goes stale (for every later Membership) before the first write
//! ```
//!
//! Why this reads what the queries would:
//! - **Scopes.** The walk reaches the Memberships after every Account and Organization of the
//!   set, and no Membership writes an organization, account, role or group row: what the first
//!   Membership of a scope observed is what every later one would read (no other writer: see
//!   below).
//! - **The snapshot** holds the rows as they were when the walk reached its Memberships. It
//!   answers only while no Membership of the walk has written anything ([`Walk::wrote`] is
//!   called before a write), so it is what the database holds: an unchanged re-run and its
//!   `plan` read it all from memory, and a run that writes goes back to the queries from its
//!   first write on (a Membership created earlier in the run is seen by the later ones). It
//!   answers only for keys it holds in full (the rows of memberships this cluster owns);
//!   anything else is asked of the database.
//! - **Only on SQLite**, where the run's `BEGIN IMMEDIATE` keeps every other writer out until
//!   the commit. On PostgreSQL another transaction's commit may show mid-run, so a walk there
//!   shares nothing and every Membership asks the queries, as before.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{DesiredMembership, ScopeRow, observe_scope};
use crate::core::error::CoreError;
use crate::store::invitations::{self, Invitation, Subject};
use crate::store::memberships::{self, Membership};
use crate::store::outbox::{self, Mail};
use crate::store::users::{self, User};
use crate::store::{Backend, Conn};

/// Which scope a spec names: cluster, namespace, organization (`true`) or account, name.
type ScopeKey = (String, String, bool, String);

/// What one walk over Memberships shares; see the module documentation.
#[derive(Debug, Default)]
pub struct Walk {
    /// `None`: nothing is shared (PostgreSQL, or no walk).
    scopes: Option<Mutex<HashMap<ScopeKey, Option<ScopeRow>>>>,
    snapshot: Option<Snapshot>,
    /// A Membership of the walk wrote (or was about to): the snapshot is stale.
    stale: AtomicBool,
}

/// The rows of the memberships `cluster` owns, as they were when the walk began.
#[derive(Debug, Default)]
struct Snapshot {
    /// Index into `rows` by owner UID.
    by_uid: HashMap<String, usize>,
    rows: Vec<Membership>,
    /// By `email_normalized`, and by ID.
    users_by_email: HashMap<String, User>,
    users_by_id: HashMap<String, User>,
    /// Of every membership in `rows` (empty lists too), oldest first.
    invitations: HashMap<String, Vec<Invitation>>,
    /// IDs of the invitations above, whose mails `mails` holds in full.
    invitation_ids: HashSet<String>,
    /// By (`related_table`, `related_id`), oldest first.
    mails: HashMap<(String, String), Vec<Mail>>,
}

/// A walk that shares nothing: every read is a query.
static NONE: Walk = Walk { scopes: None, snapshot: None, stale: AtomicBool::new(false) };

impl Walk {
    /// No walk: a Membership reconciled on its own (the operator, PostgreSQL).
    pub fn none() -> &'static Walk {
        &NONE
    }

    /// A walk of `cluster`'s Memberships on `conn`, the run's transaction on `backend`.
    pub async fn new(conn: &mut Conn, backend: Backend, cluster: &str) -> Result<Walk, CoreError> {
        Ok(match backend {
            Backend::Sqlite => Walk {
                scopes: Some(Mutex::default()),
                snapshot: Some(Snapshot::load(conn, cluster).await?),
                stale: AtomicBool::new(false),
            },
            Backend::Postgres => Walk::default(),
        })
    }

    /// [`observe_scope`], from what this walk observed already when it can.
    pub(super) async fn scope(
        &self,
        conn: &mut Conn,
        desired: &DesiredMembership,
    ) -> Result<Option<ScopeRow>, CoreError> {
        let (Some(scopes), Some(key)) = (&self.scopes, scope_key(desired)) else {
            return observe_scope(conn, desired).await;
        };
        // A poisoned map only lost an insert; what it holds is still what was observed.
        if let Some(known) = scopes.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(known.clone());
        }
        let observed = observe_scope(conn, desired).await?;
        scopes.lock().unwrap_or_else(PoisonError::into_inner).insert(key, observed.clone());
        Ok(observed)
    }

    /// Called before a Membership of the walk writes: from now on everything is asked of the
    /// database.
    pub(super) fn wrote(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    fn fresh(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref().filter(|_| !self.stale.load(Ordering::SeqCst))
    }

    /// `users::find_by_email`, when the snapshot knows the answer.
    pub(super) fn user_by_email(&self, email: &str) -> Option<User> {
        self.fresh()?.users_by_email.get(&users::normalize_email(email)).cloned()
    }

    /// `users::find`, when the snapshot knows the answer.
    pub(super) fn user(&self, id: &str) -> Option<User> {
        self.fresh()?.users_by_id.get(id).cloned()
    }

    /// The membership `ownership::find_by_uid` and `memberships::find` would read, when the
    /// snapshot knows it.
    pub(super) fn owned_by_uid(&self, uid: &str) -> Option<Membership> {
        let snapshot = self.fresh()?;
        snapshot.by_uid.get(uid).and_then(|&i| snapshot.rows.get(i)).cloned()
    }

    /// `invitations::list_for` a membership, when the snapshot knows the answer.
    pub(super) fn invitations(&self, membership_id: &str) -> Option<Vec<Invitation>> {
        self.fresh()?.invitations.get(membership_id).cloned()
    }

    /// `outbox::list_for_related`, when the snapshot knows the answer.
    pub(super) fn mails(&self, table: &str, id: &str) -> Option<Vec<Mail>> {
        let snapshot = self.fresh()?;
        let held = match table {
            memberships::TABLE => snapshot.invitations.contains_key(id),
            invitations::TABLE => snapshot.invitation_ids.contains(id),
            _ => false,
        };
        held.then(|| snapshot.mails.get(&(table.to_owned(), id.to_owned())).cloned().unwrap_or_default())
    }
}

impl Snapshot {
    async fn load(conn: &mut Conn, cluster: &str) -> Result<Snapshot, CoreError> {
        let rows = memberships::list_owned(conn, cluster).await?;
        let users = users::of_owned_memberships(conn, cluster).await?;
        let all_invitations = invitations::of_owned_memberships(conn, cluster).await?;
        let all_mails = outbox::of_owned_memberships(conn, cluster).await?;
        let mut snapshot = Snapshot::default();
        for (i, row) in rows.iter().enumerate() {
            if let Some(uid) = row.owner.as_ref().and_then(|o| o.uid.clone()) {
                snapshot.by_uid.insert(uid, i);
            }
            snapshot.invitations.insert(row.id.clone(), Vec::new());
        }
        snapshot.rows = rows;
        for user in users {
            snapshot.users_by_email.insert(user.email_normalized.clone(), user.clone());
            snapshot.users_by_id.insert(user.id.clone(), user);
        }
        for invitation in all_invitations {
            let Subject::Membership(membership_id) = &invitation.subject else { continue };
            let Some(list) = snapshot.invitations.get_mut(membership_id) else { continue };
            snapshot.invitation_ids.insert(invitation.id.clone());
            list.push(invitation);
        }
        for mail in all_mails {
            if let Some(related) = &mail.related {
                let key = (related.table.clone(), related.id.clone());
                snapshot.mails.entry(key).or_default().push(mail);
            }
        }
        Ok(snapshot)
    }
}

fn scope_key(desired: &DesiredMembership) -> Option<ScopeKey> {
    let spec = desired.intent.spec()?;
    let me = &desired.owner;
    let (organization, name) = match (&spec.organization_ref, &spec.account_ref) {
        (Some(org), _) => (true, org.name.as_str()),
        (None, Some(account)) => (false, account.name.as_str()),
        (None, None) => return None,
    };
    Some((me.cluster.clone(), me.namespace.clone(), organization, name.to_owned()))
}
