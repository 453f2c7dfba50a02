//! Membership: a person (one `users` row per e-mail address) in an organization or an account,
//! with roles, groups, notification levels, and for `login: true` an invitation by mail.
//!
//! ```text
//! DesiredMembership ──► observe(conn) ──► ObservedMembership ──► plan(now) ──► MembershipPlan ──► apply(store, mail) ──► Outcome
//!                       scope row + roles/   (scope, user, row,     pure         user, membership,        one transaction:
//!                       groups, user by       invitations, mail)                 invitation + mail        rows + outbox row
//!                       e-mail, row, its
//!                       invitations + mail
//! ```
//!
//! The phase follows from the rows, so every reconcile recomputes it (see [`plan`]):
//!
//! | spec / rows | phase | what is written |
//! |---|---|---|
//! | `login: false` | Active | user (no login) + membership; an open invitation is revoked |
//! | `login: true`, the address has a login already | Active | membership + one notice mail (seed 002) |
//! | `login: true`, new person | Invited | user + membership + invitation (token hash) + invitation mail |
//! | invitation accepted (`accepted_at`, by the web app or `invitation accept`) | Active | user gets its login |
//! | invitation open, now ≥ `expires_at` | Expired | phase only (Ready=False, `InvitationExpired`) |
//! | invitation mail dead (delivery gave up) | Failed | phase only (Ready=False, `InvitationFailed`) |
//! | `invitation.resendNonce` differs from the open invitation's | Invited | old invitation revoked, new token, lifetime and mail |
//! | deleted, `Delete` | Revoked | membership revoked (kept, timestamped), open invitation revoked, released |
//! | deleted, `Orphan` | – | released only |
//!
//! The invitation is issued in [`apply`] by [`invitation::issue`](crate::core::invitation::issue),
//! inside the transaction that stores its hash and queues its mail; the token exists only in
//! that mail. Nothing else (plan, outcome, status, logs) ever holds it. Accepting it is
//! [`invitation::answer`](crate::core::invitation::answer).

mod apply;
mod facts;
mod plan;
mod settings;
mod walk;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod plan_tests;

use jiff::Timestamp;

use super::db;
use super::error::CoreError;
use super::flags::Flags;
use super::outcome::Outcome;
use super::plan::{Intent, Plan};
use crate::api::{DeletionPolicy, Locale, MembershipSpec};
use crate::mail::MailSettings;
use crate::store::accounts::{self, Account, LifecycleState};
use crate::store::groups::{self, Group};
use crate::store::invitations::{self, Invitation, Subject};
use crate::store::memberships::{self, Membership, MembershipSettings, Scope};
use crate::store::organizations::{self, Organization};
use crate::store::outbox::{self, Mail};
use crate::store::roles::{self, Role};
use crate::store::users::{self, NewUser, User, UserUpdate};
use crate::store::{Conn, ManagedTable, Owner, Store, ownership};

pub use apply::apply;
pub use facts::{Delivery, InvitationFacts, MembershipFacts, Milestone};
pub use plan::plan;
pub use walk::Walk;

/// The outbox `related_table` of the existing-user notice (the invitation mail's is
/// `invitations`).
pub const NOTICE_RELATED_TABLE: &str = "memberships";

/// What to do for a Membership, and what its status will say once done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipPlan {
    /// The row-level plan: create, update, adopt, revoke (`Archive`), release, or hold.
    pub plan: Plan<MembershipWrite>,
    /// Phase, IDs and invitation as they will be (IDs of rows not created yet are `None`).
    pub facts: MembershipFacts,
    /// Reconcile again at this time at the latest: the open invitation's expiry.
    pub requeue_at: Option<Timestamp>,
    /// The person's e-mail address and the scope's name, for messages.
    pub email: String,
    pub scope_name: String,
}

impl MembershipPlan {
    pub fn writes(&self) -> bool {
        self.plan.writes()
    }
}

/// The writes that bring the platform to a Membership spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipWrite {
    pub scope: Scope,
    pub user: UserWrite,
    pub settings: MembershipSettings,
    /// `settings` differ from the row (always true for a new row).
    pub settings_changed: bool,
    /// The phase to record, when it moves (always set for a new row).
    pub phase: Option<memberships::MembershipPhase>,
    /// Revoke this open invitation (re-sent, no longer wanted, or the person has a login).
    pub revoke_invitation: Option<String>,
    /// Issue an invitation and queue its mail.
    pub invite: Option<Invite>,
    /// Queue the existing-user notice mail (once per membership: its Message-ID is fixed).
    pub notice: bool,
    /// What the mails say.
    pub mail: MailFacts,
}

/// The person's `users` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserWrite {
    /// No user has this address yet.
    Insert(NewUser),
    /// Correct the user (display name, phone, login) and revive it when archived.
    Update { id: String, update: UserUpdate, reactivate: bool },
    /// Leave the user as it is.
    Keep { id: String },
}

impl UserWrite {
    pub fn id(&self) -> Option<&str> {
        match self {
            UserWrite::Insert(_) => None,
            UserWrite::Update { id, .. } | UserWrite::Keep { id } => Some(id),
        }
    }
}

/// A new invitation: its token is made when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub locale: Locale,
    pub expires_at: Timestamp,
    pub resend_nonce: Option<String>,
}

/// What the invitation or notice mail shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFacts {
    pub to: String,
    pub recipient_name: Option<String>,
    pub organization: String,
    pub roles: Vec<String>,
    pub locale: Locale,
}

/// A Membership object, as the shells hand it over.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredMembership {
    /// The object (cluster identity, namespace, name, UID).
    pub owner: Owner,
    pub intent: Intent<MembershipSpec>,
    pub flags: Flags,
    /// At most this many invitations a day for one membership (`--invitation-resends-per-day`):
    /// churning `resendNonce` cannot flood a mailbox or the shared relay.
    pub invitations_per_day: u32,
}

/// The default of [`DesiredMembership::invitations_per_day`].
pub const DEFAULT_INVITATIONS_PER_DAY: u32 = 5;

impl DesiredMembership {
    /// An object with its spec; `deleting` when `metadata.deletionTimestamp` is set.
    pub fn new(owner: Owner, spec: MembershipSpec, deleting: bool, flags: Flags) -> DesiredMembership {
        let policy = spec.deletion_policy;
        let intent = Intent::new(spec, deleting, policy);
        DesiredMembership { owner, intent, flags, invitations_per_day: DEFAULT_INVITATIONS_PER_DAY }
    }

    /// An object that is gone and whose spec is not at hand (local `--prune`).
    pub fn deleted(owner: Owner, policy: DeletionPolicy, flags: Flags) -> DesiredMembership {
        DesiredMembership {
            owner,
            intent: Intent::Deleting(policy),
            flags,
            invitations_per_day: DEFAULT_INVITATIONS_PER_DAY,
        }
    }

    /// The same object under another daily invitation limit (at least 1).
    pub fn with_invitations_per_day(self, limit: u32) -> DesiredMembership {
        DesiredMembership { invitations_per_day: limit.max(1), ..self }
    }
}

/// The organization (with its roles and groups) or account a membership is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRow {
    Organization { row: Organization, roles: Vec<Role>, groups: Vec<Group> },
    Account(Account),
}

impl ScopeRow {
    pub fn scope(&self) -> Scope {
        match self {
            ScopeRow::Organization { row, .. } => Scope::Organization(row.id.clone()),
            ScopeRow::Account(a) => Scope::Account(a.id.clone()),
        }
    }

    /// The organization or account ID.
    pub fn id(&self) -> &str {
        match self {
            ScopeRow::Organization { row, .. } => &row.id,
            ScopeRow::Account(a) => &a.id,
        }
    }

    pub fn state(&self) -> LifecycleState {
        match self {
            ScopeRow::Organization { row, .. } => row.state,
            ScopeRow::Account(a) => a.state,
        }
    }

    /// The name people know it by: the organization's display name, the account's legal name.
    pub fn name(&self) -> &str {
        match self {
            ScopeRow::Organization { row, .. } => &row.name,
            ScopeRow::Account(a) => &a.details.legal_name,
        }
    }
}

/// What the database holds for a Membership object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedMembership {
    /// The row of the Organization (or Account) object the spec names, same namespace.
    pub scope: Option<ScopeRow>,
    /// The user with the spec's e-mail address (any letter case).
    pub user: Option<User>,
    /// The row owned by this object's UID, else by its namespace/name, else the person's live
    /// membership in the scope (one per person and scope).
    pub row: Option<Membership>,
    /// The row the external-id annotation names, when set.
    pub external: Option<Membership>,
    /// The platform offered `external` to this namespace (`import_offers`).
    pub offered: bool,
    /// The user of the row worked on, when that is not `user` (the e-mail was edited).
    pub row_user: Option<User>,
    /// Invitations of the row worked on, oldest first.
    pub invitations: Vec<Invitation>,
    /// The outbox mail of the latest invitation (related to it by its ID).
    pub invitation_mail: Option<Mail>,
    /// The existing-user notice of the row worked on was queued already.
    pub notice_queued: bool,
}

impl ObservedMembership {
    /// The row worked on: the external one when importing, else `row`.
    pub fn focus(&self, importing: bool) -> Option<&Membership> {
        if importing { self.external.as_ref() } else { self.row.as_ref() }
    }
}

/// Read what [`plan`] needs. Reads only.
pub async fn observe(conn: &mut Conn, desired: &DesiredMembership) -> Result<ObservedMembership, CoreError> {
    let scope = observe_scope(conn, desired).await?;
    observe_in(conn, desired, scope).await
}

/// The Organization or Account object the spec names (none while deleting).
pub async fn observe_scope(conn: &mut Conn, desired: &DesiredMembership) -> Result<Option<ScopeRow>, CoreError> {
    let Some(spec) = desired.intent.spec() else { return Ok(None) };
    let me = &desired.owner;
    if let Some(org_ref) = &spec.organization_ref {
        let found = ownership::find_by_owner(
            conn,
            ManagedTable::Organizations,
            &me.cluster,
            &me.namespace,
            org_ref.name.as_str(),
        )
        .await?;
        let Some(found) = found else { return Ok(None) };
        let Some(row) = organizations::find(conn, &found.id).await? else { return Ok(None) };
        let roles = roles::list(conn, &row.id).await?;
        let groups = groups::list(conn, &row.id).await?;
        return Ok(Some(ScopeRow::Organization { row, roles, groups }));
    }
    if let Some(account_ref) = &spec.account_ref {
        let found = ownership::find_by_owner(
            conn,
            ManagedTable::Accounts,
            &me.cluster,
            &me.namespace,
            account_ref.name.as_str(),
        )
        .await?;
        if let Some(found) = found {
            return Ok(accounts::find(conn, &found.id).await?.map(ScopeRow::Account));
        }
    }
    Ok(None)
}

/// Everything but the scope, which the caller observed (or, planning a run, predicted).
pub async fn observe_in(
    conn: &mut Conn,
    desired: &DesiredMembership,
    scope: Option<ScopeRow>,
) -> Result<ObservedMembership, CoreError> {
    observe_with(conn, desired, scope, Walk::none()).await
}

/// [`observe_in`], taking from `walk` what it holds (see [`Walk`]).
async fn observe_with(
    conn: &mut Conn,
    desired: &DesiredMembership,
    scope: Option<ScopeRow>,
    walk: &Walk,
) -> Result<ObservedMembership, CoreError> {
    let me = &desired.owner;
    let deleting = desired.intent.is_deleting();
    let user = match desired.intent.spec() {
        Some(spec) => match walk.user_by_email(spec.email.as_str()) {
            Some(user) => Some(user),
            None => users::find_by_email(conn, spec.email.as_str()).await?,
        },
        None => None,
    };
    let row = match walk.owned_by_uid(&me.uid) {
        Some(row) => Some(row),
        None => find_row(conn, desired, user.as_ref(), scope.as_ref()).await?,
    };
    let external = match desired.flags.external_id.as_deref() {
        None => None,
        Some(id) if row.as_ref().is_some_and(|r| r.id == id) => row.clone(),
        Some(id) => memberships::find(conn, id).await?,
    };
    let ext = external.as_ref().map(|e| (e.id.as_str(), e.owner.as_ref()));
    let offered = db::offered(conn, ManagedTable::Memberships, ext, me).await?;
    let mut observed = ObservedMembership { scope, user, row, external, offered, ..Default::default() };
    let importing = desired.flags.external_id.is_some();
    let focus = db::focus(deleting, importing, observed.row.as_ref(), observed.external.as_ref()).cloned();
    if let Some(focus) = focus {
        if observed.user.as_ref().is_none_or(|u| u.id != focus.user_id) && !deleting {
            observed.row_user = match walk.user(&focus.user_id) {
                Some(user) => Some(user),
                None => users::find(conn, &focus.user_id).await?,
            };
        }
        observed.invitations = match walk.invitations(&focus.id) {
            Some(list) => list,
            None => invitations::list_for(conn, &Subject::Membership(focus.id.clone())).await?,
        };
        if let Some(latest) = observed.invitations.last() {
            observed.invitation_mail = mails(conn, walk, invitations::TABLE, &latest.id).await?.into_iter().next_back();
        }
        observed.notice_queued = mails(conn, walk, NOTICE_RELATED_TABLE, &focus.id)
            .await?
            .iter()
            .any(|m| m.kind == crate::mail::Template::ExistingUserNotice.kind());
    }
    Ok(observed)
}

/// The row owned by this object's UID, else by its namespace/name, else the person's live
/// membership in the scope.
async fn find_row(
    conn: &mut Conn,
    desired: &DesiredMembership,
    user: Option<&User>,
    scope: Option<&ScopeRow>,
) -> Result<Option<Membership>, CoreError> {
    let me = &desired.owner;
    let owned = match ownership::find_by_uid(conn, ManagedTable::Memberships, &me.uid).await? {
        Some(found) => Some(found),
        None => ownership::find_by_owner(conn, ManagedTable::Memberships, &me.cluster, &me.namespace, &me.name).await?,
    };
    Ok(match (owned, user, scope) {
        (Some(found), _, _) => memberships::find(conn, &found.id).await?,
        (None, _, _) if desired.intent.is_deleting() => None,
        // One live membership per person and scope: that is the row to create, adopt or refuse.
        (None, Some(user), Some(scope)) => memberships::find_live(conn, &user.id, &scope.scope()).await?,
        (None, _, _) => None,
    })
}

/// `outbox::list_for_related`, from `walk` when it holds the answer.
async fn mails(conn: &mut Conn, walk: &Walk, table: &str, id: &str) -> Result<Vec<Mail>, CoreError> {
    Ok(match walk.mails(table, id) {
        Some(list) => list,
        None => outbox::list_for_related(conn, table, id).await?,
    })
}

/// Observe, plan and apply one Membership object; the writes and the mail they need happen in
/// one transaction.
pub async fn reconcile(
    store: &Store,
    desired: &DesiredMembership,
    now: Timestamp,
    mail: &MailSettings,
) -> Result<Outcome, CoreError> {
    let run = Run { desired, mail: mail.for_namespace(&desired.owner.namespace), walk: Walk::none() };
    super::engine::reconcile(store, &run, now).await
}

/// The same in the caller's transaction.
pub async fn reconcile_in(
    conn: &mut Conn,
    desired: &DesiredMembership,
    now: Timestamp,
    mail: &MailSettings,
) -> Result<Outcome, CoreError> {
    reconcile_in_walk(conn, desired, now, mail, Walk::none()).await
}

/// [`reconcile_in`] for one Membership of a [`Walk`] (local mode), reading what the walk
/// read already from memory.
pub async fn reconcile_in_walk(
    conn: &mut Conn,
    desired: &DesiredMembership,
    now: Timestamp,
    mail: &MailSettings,
    walk: &Walk,
) -> Result<Outcome, CoreError> {
    let run = Run { desired, mail: mail.for_namespace(&desired.owner.namespace), walk };
    super::engine::reconcile_in(conn, &run, now).await
}

/// One Membership object with the settings of the mails it queues.
struct Run<'a> {
    desired: &'a DesiredMembership,
    mail: MailSettings,
    /// The walk this Membership is part of ([`Walk::none`] when it is alone).
    walk: &'a Walk,
}

impl super::engine::Reconcile for Run<'_> {
    type Observed = ObservedMembership;
    type Planned = MembershipPlan;
    type Written = Option<apply::Written>;

    async fn observe(&self, conn: &mut Conn) -> Result<ObservedMembership, CoreError> {
        let scope = self.walk.scope(conn, self.desired).await?;
        observe_with(conn, self.desired, scope, self.walk).await
    }

    fn plan(&self, observed: &ObservedMembership, now: Timestamp) -> MembershipPlan {
        plan(self.desired, observed, now)
    }

    fn writes(planned: &MembershipPlan) -> bool {
        planned.writes()
    }

    async fn write(
        &self,
        conn: &mut Conn,
        planned: &MembershipPlan,
        now: Timestamp,
    ) -> Result<Option<apply::Written>, CoreError> {
        self.walk.wrote();
        apply::write(conn, planned, now, &self.mail).await
    }

    fn outcome(
        &self,
        planned: &MembershipPlan,
        _: &ObservedMembership,
        written: Option<Option<apply::Written>>,
    ) -> Outcome {
        apply::outcome(planned, written.flatten())
    }
}
