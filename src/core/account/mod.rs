//! Account: observe the `accounts` row, plan, apply.
//!
//! ```text
//! DesiredAccount ──► observe(conn) ──► ObservedAccount ──► plan() ──► AccountPlan ──► write(tx) ──► Outcome
//!                    reads only                            pure                       one transaction
//! ```
//!
//! [`reconcile`] runs the three; it observes and plans on a plain connection first and opens a
//! transaction only when the plan writes, so a steady state takes no lock and writes nothing.

mod apply;
mod plan;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod plan_tests;

use jiff::Timestamp;

use super::db::{self, released_by};
use super::engine;
use super::error::CoreError;
use super::flags::Flags;
use super::outcome::{Children, Outcome};
use super::plan::{Intent, Plan};
use crate::api::{AccountSpec, DeletionPolicy};
use crate::store::accounts::{self, Account, AccountDetails, LifecycleState};
use crate::store::{Conn, ManagedTable, Owner, Store, memberships, organizations, ownership};

pub use plan::{details, plan};

/// What to do for an Account, as far as the engine must know.
pub type AccountPlan = Plan<AccountDetails>;

/// An Account object, as the shells hand it over.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredAccount {
    /// The object (cluster identity, namespace, name, UID).
    pub owner: Owner,
    pub intent: Intent<AccountSpec>,
    pub flags: Flags,
}

impl DesiredAccount {
    /// An object with its spec; `deleting` when `metadata.deletionTimestamp` is set.
    pub fn new(owner: Owner, spec: AccountSpec, deleting: bool, flags: Flags) -> DesiredAccount {
        let policy = spec.deletion_policy;
        DesiredAccount { owner, intent: Intent::new(spec, deleting, policy), flags }
    }

    /// An object that is gone and whose spec is not at hand (local `--prune`).
    pub fn deleted(owner: Owner, policy: DeletionPolicy, flags: Flags) -> DesiredAccount {
        DesiredAccount { owner, intent: Intent::Deleting(policy), flags }
    }
}

/// What the database holds for an Account object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedAccount {
    /// The row owned by this object's UID, else by its namespace/name (another UID), else the
    /// latest row last owned by its namespace/name and since released.
    pub row: Option<Account>,
    /// The row the external-id annotation names, when set.
    pub external: Option<Account>,
    /// The platform offered `external` to this namespace (`import_offers`).
    pub offered: bool,
    /// IDs of the organizations of the row worked on that are not archived.
    pub organizations: Vec<String>,
    /// IDs of the live account-level memberships of the row worked on.
    pub members: Vec<String>,
}

impl ObservedAccount {
    fn children(&self) -> Children {
        Children { count: self.organizations.len() as u64, ids: self.organizations.clone(), memberships: false }
    }

    /// What keeps the row from being archived: its organizations, else its account-level
    /// memberships (an archived account must not keep active members).
    pub(super) fn blocking(&self) -> Children {
        if self.organizations.is_empty() && !self.members.is_empty() {
            Children { count: self.members.len() as u64, ids: self.members.clone(), memberships: true }
        } else {
            self.children()
        }
    }
}

/// Read what [`plan`] needs. Reads only.
pub async fn observe(conn: &mut Conn, desired: &DesiredAccount) -> Result<ObservedAccount, CoreError> {
    let me = &desired.owner;
    let owned = match ownership::find_by_uid(conn, ManagedTable::Accounts, &me.uid).await? {
        Some(found) => Some(found),
        None => ownership::find_by_owner(conn, ManagedTable::Accounts, &me.cluster, &me.namespace, &me.name).await?,
    };
    let row = match owned {
        Some(found) => accounts::find(conn, &found.id).await?,
        None if desired.intent.is_deleting() => None,
        None => latest_released(conn, me).await?,
    };
    let external = match desired.flags.external_id.as_deref() {
        None => None,
        Some(id) if row.as_ref().is_some_and(|r| r.id == id) => row.clone(),
        Some(id) => accounts::find(conn, id).await?,
    };
    let ext = external.as_ref().map(|e| (e.id.as_str(), e.owner.as_ref()));
    let offered = db::offered(conn, ManagedTable::Accounts, ext, me).await?;
    let mut observed = ObservedAccount { row, external, offered, organizations: Vec::new(), members: Vec::new() };
    let importing = desired.flags.external_id.is_some();
    if let Some(focus) =
        db::focus(desired.intent.is_deleting(), importing, observed.row.as_ref(), observed.external.as_ref())
    {
        observed.organizations = organizations::list_by_account(conn, &focus.id)
            .await?
            .into_iter()
            .filter(|o| o.state != LifecycleState::Archived)
            .map(|o| o.id)
            .collect();
        if desired.intent.is_deleting() {
            let scope = memberships::Scope::Account(focus.id.clone());
            let live = memberships::list_by_scope(conn, &scope).await?.into_iter().filter(|m| m.revoked_at.is_none());
            observed.members = live.map(|m| m.id).collect();
        }
    }
    Ok(observed)
}

/// The latest account released by an earlier object of this namespace/name.
// The store has no lookup of released owners by name yet; this scans the accounts.
async fn latest_released(conn: &mut Conn, me: &Owner) -> Result<Option<Account>, CoreError> {
    Ok(accounts::list(conn)
        .await?
        .into_iter()
        .filter(|a| released_by(a.owner.as_ref(), me))
        .max_by_key(|a| a.updated_at))
}

/// Observe, plan and apply one Account object; the plan's writes happen in one transaction.
pub async fn reconcile(store: &Store, desired: &DesiredAccount, now: Timestamp) -> Result<Outcome, CoreError> {
    engine::reconcile(store, desired, now).await
}

/// The same in the caller's transaction.
pub async fn reconcile_in(conn: &mut Conn, desired: &DesiredAccount, now: Timestamp) -> Result<Outcome, CoreError> {
    engine::reconcile_in(conn, desired, now).await
}

impl engine::Reconcile for DesiredAccount {
    type Observed = ObservedAccount;
    type Planned = AccountPlan;
    type Written = Option<String>;

    async fn observe(&self, conn: &mut Conn) -> Result<ObservedAccount, CoreError> {
        observe(conn, self).await
    }

    fn plan(&self, observed: &ObservedAccount, _now: Timestamp) -> AccountPlan {
        plan(self, observed)
    }

    fn writes(planned: &AccountPlan) -> bool {
        planned.writes()
    }

    async fn write(&self, conn: &mut Conn, planned: &AccountPlan, now: Timestamp) -> Result<Option<String>, CoreError> {
        apply::write(conn, planned, now).await
    }

    fn outcome(&self, planned: &AccountPlan, observed: &ObservedAccount, written: Option<Option<String>>) -> Outcome {
        with_children(apply::outcome(planned, written.flatten()), observed)
    }
}

/// Fill in the live organizations: as observed, none for a new row, none once deleted.
fn with_children(mut outcome: Outcome, observed: &ObservedAccount) -> Outcome {
    use super::outcome::Action;
    outcome.children = match outcome.action {
        Action::Created => Some(Children::default()),
        _ if outcome.action.is_ready() || outcome.action == Action::DeletionBlocked => Some(observed.children()),
        _ => None,
    };
    outcome
}
