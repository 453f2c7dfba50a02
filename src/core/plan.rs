//! The plan shape and the ownership rules of every kind. Account, Organization, Membership and
//! TenantLink plan with [`Plan`]; ProvisioningSync routes its record through the same `route`
//! (`core::sync::record`) and adds its own steps. Which row an object works on, and
//! whether it may: `route` answers it from the owner columns of the rows the store returned:
//!
//! | row found | owner columns | not deleting | deleting |
//! |---|---|---|---|
//! | none | – | Create | Gone |
//! | by UID | this object | Update / NoOp | Archive, Orphan or DeletionBlocked |
//! | by namespace/name | live, other UID, row active | Adopt (the old object is gone) | Gone |
//! | by namespace/name | live, other UID, row archived/orphaned | Adopt if asked, else AdoptionRequired | Gone |
//! | by namespace/name | released | Adopt if asked, else AdoptionRequired | Gone |
//! | by external ID | released by this cluster/namespace, or offered to it | Import | Gone |
//! | by external ID | none, or released elsewhere, and not offered | Conflict (NotOffered) | Gone |
//! | by external ID | another live object | Conflict (OwnedElsewhere) | Gone |
//! | by external ID, while the object owns another row | – | Conflict (ExternalIdMismatch) | – |
//!
//! An Organization also waits for its Account (`AccountNotReady`) before it creates or
//! corrects anything, and refuses a row under another account (`AccountMismatch`).
//!
//! Observe-only turns every write into a report: Create into NotFound, an update, adoption or
//! import into DriftDetected (or NoOp when nothing differs), and deletion into a Release that
//! only clears the owner columns.

use super::flags::Flags;
use super::outcome::{Action, Change, Children, Kind, Outcome};
use crate::api::{DeletionPolicy, Reason};
use crate::store::accounts::LifecycleState;
use crate::store::{Owner, StoredOwner};

/// What the engine will do for one object; `W` is the kind's write (the fields it stores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan<W> {
    /// Insert a row owned by `owner`.
    Create { owner: Owner, write: W, changes: Vec<Change> },
    /// The row matches the spec; nothing to write.
    NoOp { id: String },
    /// Correct the row this object owns. `write` is `None` when only the state changes.
    Update { id: String, reactivate: bool, write: Option<W>, changes: Vec<Change> },
    /// Take over a row that is not this object's yet (`how`: adopted or imported), then
    /// correct it; `previous` is who held it.
    TakeOver {
        how: TakeOver,
        id: String,
        owner: Owner,
        previous: Option<StoredOwner>,
        reactivate: bool,
        write: Option<W>,
        changes: Vec<Change>,
    },
    /// `deletionPolicy: Delete`: archive the row and release it.
    Archive { id: String },
    /// `deletionPolicy: Orphan`: mark the row orphaned and release it.
    Orphan { id: String },
    /// Observe-only deletion: release the row, change nothing else.
    Release { id: String },
    /// Deleting, and this object owns no row.
    Gone,
    /// Nothing is written; the reason is reported.
    Hold(Hold),
}

/// How an object comes to own a row it did not create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeOver {
    /// An earlier object of the same namespace/name owned it (re-created, or `adopt`).
    Adopt,
    /// The external-id annotation names it.
    Import,
}

/// Why nothing is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// `deletionPolicy: Delete` while children are live.
    DeletionBlocked { id: String, children: Children },
    /// The row is owned by another object; it is never taken over.
    OwnedElsewhere { id: String, owner: StoredOwner },
    /// The external-id annotation names a row with no live owner that this namespace did not
    /// release and the platform did not offer to it (`import_offers`): never imported.
    NotOffered { id: String, previous: Option<Box<StoredOwner>>, namespace: String },
    /// A row of this namespace/name exists but was let go of (or is archived): adopting it
    /// needs the adopt annotation.
    AdoptionRequired { id: String, previous: Option<StoredOwner>, state: LifecycleState },
    /// The external-id annotation names no row.
    ExternalNotFound { external_id: String },
    /// The object already manages another row than the external-id annotation names.
    ExternalIdMismatch { id: String, external_id: String },
    /// The parent Account object has no active row yet.
    AccountNotReady { account: String, detail: String },
    /// The organization row belongs to another account than `accountRef` names.
    AccountMismatch { id: String, actual: String, expected: String },
    /// Observe-only: the row differs from the spec.
    Drift { id: String, changes: Vec<Change> },
    /// Observe-only: there is no row to observe.
    Missing,
    /// The parent Organization object has no active row yet (a Membership waits).
    OrganizationNotReady { organization: String, detail: String },
    /// Roles or groups the spec names that the membership's organization (or account) does not
    /// have. Waits for a change of either object; never retried in a loop.
    NotInScope { what: ScopeItem, missing: Vec<String>, available: Vec<String>, scope: String },
    /// A field that never changes differs between the spec and the row (a Membership's e-mail
    /// or organization edited in a manifest).
    Immutable { id: String, field: &'static str, actual: String, expected: String },
    /// A Membership asked for more invitations in 24 hours than the operator sends
    /// (`--invitation-resends-per-day`); the open invitation keeps working.
    ResendLimited { limit: u32, until: jiff::Timestamp },
    /// A TenantLink's own reasons (provider code, partner organization).
    TenantLink(super::tenant_link::LinkHold),
}

/// What a [`Hold::NotInScope`] is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeItem {
    Role,
    Group,
}

impl Hold {
    pub fn action(&self) -> Action {
        match self {
            Hold::DeletionBlocked { .. } => Action::DeletionBlocked,
            Hold::OwnedElsewhere { .. }
            | Hold::NotOffered { .. }
            | Hold::ExternalIdMismatch { .. }
            | Hold::AccountMismatch { .. }
            | Hold::Immutable { .. } => Action::Conflict,
            Hold::AdoptionRequired { .. } => Action::AdoptionRequired,
            Hold::ExternalNotFound { .. } | Hold::Missing | Hold::NotInScope { .. } => Action::NotFound,
            Hold::AccountNotReady { .. } | Hold::OrganizationNotReady { .. } | Hold::ResendLimited { .. } => {
                Action::Waiting
            }
            Hold::Drift { .. } => Action::DriftDetected,
            Hold::TenantLink(hold) => hold.action(),
        }
    }

    /// The CamelCase condition reason.
    pub fn reason(&self, kind: Kind) -> Reason {
        match self {
            Hold::DeletionBlocked { children, .. } => match kind {
                Kind::Account if children.memberships => Reason::HasMemberships,
                Kind::Account => Reason::HasOrganizations,
                Kind::Organization => Reason::HasMemberships,
                Kind::Membership | Kind::TenantLink | Kind::ProvisioningSync => Reason::HasDependents,
            },
            Hold::OwnedElsewhere { .. } => Reason::OwnedElsewhere,
            Hold::NotOffered { .. } => Reason::NotOffered,
            Hold::AdoptionRequired { .. } => Reason::AdoptionRequired,
            Hold::ExternalNotFound { .. } => Reason::ExternalNotFound,
            Hold::ExternalIdMismatch { .. } => Reason::ExternalIdMismatch,
            Hold::AccountNotReady { .. } => Reason::AccountNotReady,
            Hold::AccountMismatch { .. } => Reason::AccountMismatch,
            Hold::Drift { .. } => Reason::DriftDetected,
            Hold::Missing => Reason::NotFound,
            Hold::OrganizationNotReady { .. } => Reason::OrganizationNotReady,
            Hold::NotInScope { what: ScopeItem::Role, .. } => Reason::RoleNotFound,
            Hold::NotInScope { what: ScopeItem::Group, .. } => Reason::GroupNotFound,
            Hold::Immutable { .. } => Reason::FieldImmutable,
            Hold::ResendLimited { .. } => Reason::ResendLimited,
            Hold::TenantLink(hold) => hold.reason(),
        }
    }

    /// A message that says what blocks and what the user can do about it.
    pub fn message(&self, kind: Kind) -> String {
        use super::flags::{ADOPT_ANNOTATION, EXTERNAL_ID_ANNOTATION, OBSERVE_ONLY_ANNOTATION};
        let noun = kind.noun();
        match self {
            Hold::DeletionBlocked { id, children } => {
                let what = match kind {
                    Kind::Account if children.memberships => "live account-level memberships",
                    Kind::Account => "organizations that are not archived",
                    Kind::Organization => "live memberships",
                    Kind::Membership | Kind::TenantLink | Kind::ProvisioningSync => "dependents",
                };
                let mut msg = format!("{noun} {id} still has {} {what}", children.count);
                if !children.ids.is_empty() {
                    let shown: Vec<&str> = children.ids.iter().take(10).map(String::as_str).collect();
                    msg.push_str(&format!(
                        " ({}{})",
                        shown.join(", "),
                        if children.ids.len() > 10 { ", …" } else { "" }
                    ));
                }
                msg.push_str("; delete them first, deletion finishes on its own once they are gone");
                msg
            }
            Hold::OwnedElsewhere { id, owner } => format!(
                "{noun} {id} is managed by {kind} {}/{} in cluster {}; it is never taken over",
                owner.namespace, owner.name, owner.cluster
            ),
            Hold::NotOffered { id, previous, namespace } => {
                let by = previous.as_ref().map_or_else(
                    || "is managed by no object (a platform row)".to_owned(),
                    |p| format!("was last managed by {kind} {}/{} in cluster {}", p.namespace, p.name, p.cluster),
                );
                format!(
                    "{EXTERNAL_ID_ANNOTATION} names {noun} {id}, which {by}; an import takes only a row this \
                     namespace released or one the platform offered to namespace {namespace} (import_offers, \
                     see docs/database.md); nothing was written"
                )
            }
            Hold::AdoptionRequired { id, previous, state } => {
                let by = previous
                    .as_ref()
                    .map_or_else(String::new, |p| format!(", last managed by {}/{},", p.namespace, p.name));
                format!(
                    "{noun} {id} ({state}){by} exists for this object's name; set the annotation \
                     {ADOPT_ANNOTATION}: \"true\" to take it over (or {EXTERNAL_ID_ANNOTATION}: {id}), \
                     or rename this object to create a new {noun}"
                )
            }
            Hold::ExternalNotFound { external_id } => {
                format!("{EXTERNAL_ID_ANNOTATION} names {noun} {external_id}, which does not exist")
            }
            Hold::ExternalIdMismatch { id, external_id } => format!(
                "this object already manages {noun} {id}, but {EXTERNAL_ID_ANNOTATION} names {external_id}; \
                 remove the annotation or set it to {id}"
            ),
            Hold::AccountNotReady { account, detail } => format!("waiting for Account {account}: {detail}"),
            Hold::AccountMismatch { id, actual, expected } => format!(
                "{noun} {id} belongs to account {actual}, but accountRef names account {expected}; \
                 the account of an organization never changes"
            ),
            Hold::Drift { id, changes } => {
                let list: Vec<String> = changes.iter().map(Change::to_string).collect();
                format!("{noun} {id} differs from the spec (observe-only, not corrected): {}", list.join("; "))
            }
            Hold::Missing => format!(
                "no {noun} exists for this object (observe-only); remove {OBSERVE_ONLY_ANNOTATION} to create one"
            ),
            Hold::OrganizationNotReady { organization, detail } => {
                format!("waiting for Organization {organization}: {detail}")
            }
            Hold::NotInScope { what, missing, available, scope } => {
                let (one, many) = match what {
                    ScopeItem::Role => ("role", "roles"),
                    ScopeItem::Group => ("group", "groups"),
                };
                let (named, is, it) = if missing.len() == 1 { (one, "is", "it") } else { (many, "are", "them") };
                let have = if available.is_empty() { "none".to_owned() } else { available.join(", ") };
                format!(
                    "{named} {} {is} not defined in {scope} (its {many}: {have}); add {it} to the {scope} \
                     or remove {it} from this {noun}; it is reconciled again when either changes",
                    missing.join(", "),
                )
            }
            Hold::Immutable { id, field, actual, expected } => format!(
                "{noun} {id} has {field} {actual}, but the spec says {expected}; {field} never changes: \
                 create a new object for the new value"
            ),
            Hold::ResendLimited { limit, until } => format!(
                "{limit} invitations were issued for this {noun} in the last 24 hours, the most the operator \
                 sends (--invitation-resends-per-day); the new one goes at {until}, the open invitation \
                 still works until then"
            ),
            Hold::TenantLink(hold) => hold.message(),
        }
    }
}

impl<W> Plan<W> {
    /// What applying this plan does.
    pub fn action(&self) -> Action {
        match self {
            Plan::Create { .. } => Action::Created,
            Plan::NoOp { .. } => Action::Unchanged,
            Plan::Update { .. } => Action::Updated,
            Plan::TakeOver { how: TakeOver::Adopt, .. } => Action::Adopted,
            Plan::TakeOver { how: TakeOver::Import, .. } => Action::Imported,
            Plan::Archive { .. } => Action::Archived,
            Plan::Orphan { .. } | Plan::Release { .. } => Action::Orphaned,
            Plan::Gone => Action::Gone,
            Plan::Hold(hold) => hold.action(),
        }
    }

    /// The row the plan works on (`None` before a create, or when there is none).
    pub fn id(&self) -> Option<&str> {
        match self {
            Plan::NoOp { id }
            | Plan::Update { id, .. }
            | Plan::TakeOver { id, .. }
            | Plan::Archive { id }
            | Plan::Orphan { id }
            | Plan::Release { id } => Some(id),
            Plan::Hold(
                Hold::DeletionBlocked { id, .. }
                | Hold::OwnedElsewhere { id, .. }
                | Hold::NotOffered { id, .. }
                | Hold::AdoptionRequired { id, .. }
                | Hold::ExternalIdMismatch { id, .. }
                | Hold::AccountMismatch { id, .. }
                | Hold::Immutable { id, .. }
                | Hold::Drift { id, .. },
            ) => Some(id),
            Plan::Create { .. } | Plan::Gone | Plan::Hold(_) => None,
        }
    }

    /// Field-level differences (to write, or only reported when observe-only).
    pub fn changes(&self) -> &[Change] {
        match self {
            Plan::Create { changes, .. }
            | Plan::Update { changes, .. }
            | Plan::TakeOver { changes, .. }
            | Plan::Hold(Hold::Drift { changes, .. }) => changes,
            _ => &[],
        }
    }

    /// Whether applying the plan writes to the database.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Plan::Create { .. }
                | Plan::Update { .. }
                | Plan::TakeOver { .. }
                | Plan::Archive { .. }
                | Plan::Orphan { .. }
                | Plan::Release { .. }
        )
    }

    /// The outcome of this plan once applied; `id` is the row's ID (known after a create).
    pub(crate) fn outcome(&self, kind: Kind, id: Option<String>, account_id: Option<String>) -> Outcome {
        let action = self.action();
        let shown = id.as_deref().unwrap_or("?");
        let noun = kind.noun();
        let (reason, message) = match self {
            Plan::Hold(hold) => (hold.reason(kind), hold.message(kind)),
            _ if action.is_ready() => (Reason::Available, format!("{noun} {shown} is active and matches the spec")),
            Plan::Archive { .. } => (Reason::Deleting, format!("{noun} {shown} archived")),
            Plan::Orphan { .. } | Plan::Release { .. } => {
                (Reason::Deleting, format!("{noun} {shown} left in the platform, no longer managed"))
            }
            _ => (Reason::Deleting, format!("no {noun} to clean up")),
        };
        Outcome {
            kind,
            action,
            id,
            account_id,
            changes: self.changes().to_vec(),
            children: None,
            reason,
            message,
            requeue_at: None,
            facts: crate::core::facts::KindFacts::None,
        }
    }
}

/// What an object asks for: its spec applied, or its platform state cleaned up.
///
/// Deletion carries only the policy, so a spec that no longer validates cannot wedge it, and
/// local mode can prune a row whose manifest is gone.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent<S> {
    /// The object exists: make the platform match the spec.
    Present(S),
    /// The object is being deleted (`metadata.deletionTimestamp`, or pruned locally).
    Deleting(DeletionPolicy),
}

impl<S> Intent<S> {
    /// `Deleting(policy)` when `deleting`, else `Present(spec)`.
    pub fn new(spec: S, deleting: bool, policy: DeletionPolicy) -> Intent<S> {
        if deleting { Intent::Deleting(policy) } else { Intent::Present(spec) }
    }

    pub fn spec(&self) -> Option<&S> {
        match self {
            Intent::Present(spec) => Some(spec),
            Intent::Deleting(_) => None,
        }
    }

    pub fn is_deleting(&self) -> bool {
        matches!(self, Intent::Deleting(_))
    }
}

/// The object being reconciled, as the ownership rules see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub owner: &'a Owner,
    pub flags: &'a Flags,
    /// The deletion policy while deleting.
    pub deleting: Option<DeletionPolicy>,
}

impl<'a> Subject<'a> {
    pub fn new<S>(owner: &'a Owner, flags: &'a Flags, intent: &Intent<S>) -> Subject<'a> {
        let deleting = match intent {
            Intent::Present(_) => None,
            Intent::Deleting(policy) => Some(*policy),
        };
        Subject { owner, flags, deleting }
    }
}

/// The ownership-relevant part of a row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowRef<'a> {
    pub id: &'a str,
    pub owner: Option<&'a StoredOwner>,
    pub state: LifecycleState,
    /// The platform offered the row to the subject's namespace (`import_offers`).
    pub offered: bool,
}

impl<'a> RowRef<'a> {
    /// A row as the kind's observe found it (not offered).
    pub fn new(id: &'a str, owner: Option<&'a StoredOwner>, state: LifecycleState) -> RowRef<'a> {
        RowRef { id, owner, state, offered: false }
    }

    /// The same row, offered (or not) to the subject's namespace.
    pub fn offered(self, offered: bool) -> RowRef<'a> {
        RowRef { offered, ..self }
    }
}

/// Which observed row a route works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The row found through this object's UID or namespace/name.
    Row,
    /// The row named by the external-id annotation.
    External,
}

/// How the object comes to own the row it syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    Own,
    Adopt { previous: Option<StoredOwner> },
    Import { previous: Option<StoredOwner> },
}

/// The ownership decision; the kind fills in fields and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Only while the intent is Present.
    Work(Work),
    /// Only while the intent is Deleting.
    Delete {
        id: String,
        policy: DeletionPolicy,
    },
    Gone,
    Hold(Hold),
}

/// Bring the platform to the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Work {
    Create,
    Sync { target: Target, claim: Claim },
}

/// Decide which row the object works on, and whether it may (see the module table).
pub(crate) fn route(s: Subject<'_>, row: Option<RowRef<'_>>, external: Option<RowRef<'_>>) -> Route {
    let mine = |r: &RowRef<'_>| r.owner.and_then(|o| o.uid.as_deref()) == Some(s.owner.uid.as_str());
    if let Some(policy) = s.deleting {
        // Only a row this very object owns is touched on deletion.
        return match [row, external].into_iter().flatten().find(|r| mine(r)) {
            Some(r) => Route::Delete { id: r.id.to_owned(), policy },
            None => Route::Gone,
        };
    }
    let Some(external_id) = s.flags.external_id.as_deref() else {
        return match row {
            None => Route::Work(Work::Create),
            Some(r) => classify(s, r, Target::Row, false),
        };
    };
    if let Some(r) = row {
        // A released row of this name does not stand in the way of an explicit import.
        let held = r.owner.is_some_and(|o| o.is_live() && o.same_object_name(s.owner));
        if held && r.id != external_id {
            return Route::Hold(Hold::ExternalIdMismatch { id: r.id.to_owned(), external_id: external_id.to_owned() });
        }
    }
    match external {
        Some(e) => classify(s, e, Target::External, true),
        None => Route::Hold(Hold::ExternalNotFound { external_id: external_id.to_owned() }),
    }
}

fn classify(s: Subject<'_>, r: RowRef<'_>, target: Target, import: bool) -> Route {
    let adoption_required =
        || Route::Hold(Hold::AdoptionRequired { id: r.id.to_owned(), previous: r.owner.cloned(), state: r.state });
    match r.owner {
        Some(o) if o.uid.as_deref() == Some(s.owner.uid.as_str()) => {
            Route::Work(Work::Sync { target, claim: Claim::Own })
        }
        Some(o) if o.is_live() && o.same_object_name(s.owner) => {
            // Names are unique in a namespace: the object that owned it is gone (re-created,
            // or the cluster restored). An active row is taken back as is, so a lost status
            // never makes a duplicate; a closed one only when asked.
            if r.state == LifecycleState::Active || s.flags.adopt || import {
                Route::Work(Work::Sync { target, claim: Claim::Adopt { previous: Some(o.clone()) } })
            } else {
                adoption_required()
            }
        }
        Some(o) if o.is_live() => Route::Hold(Hold::OwnedElsewhere { id: r.id.to_owned(), owner: o.clone() }),
        // A namespace imports only what it released itself or what the platform offered it:
        // web-app rows and rows another tenant let go of are not free for the taking.
        _ if import && import_granted(r.owner, s.owner, r.offered) => {
            Route::Work(Work::Sync { target, claim: Claim::Import { previous: r.owner.cloned() } })
        }
        _ if import => Route::Hold(Hold::NotOffered {
            id: r.id.to_owned(),
            previous: r.owner.cloned().map(Box::new),
            namespace: s.owner.namespace.clone(),
        }),
        Some(o) if o.same_object_name(s.owner) && s.flags.adopt => {
            Route::Work(Work::Sync { target, claim: Claim::Adopt { previous: Some(o.clone()) } })
        }
        _ => adoption_required(),
    }
}

/// The import grant, for a row with no live owner: `me` may take it when an object of its
/// cluster and namespace released it, or the platform offered it (`import_offers`). Every
/// kind's import follows it, ProvisioningSync's included.
pub(crate) fn import_granted(owner: Option<&StoredOwner>, me: &Owner, offered: bool) -> bool {
    offered || released_here(owner, me)
}

/// Whether deciding an import of a row owned by `owner` needs the offer read from the
/// database: not for a live owner (never taken) nor for a row released here (always taken).
pub(crate) fn needs_offer(owner: Option<&StoredOwner>, me: &Owner) -> bool {
    !owner.is_some_and(StoredOwner::is_live) && !released_here(owner, me)
}

/// A row let go of by an object of the subject's cluster and namespace.
fn released_here(owner: Option<&StoredOwner>, me: &Owner) -> bool {
    owner.is_some_and(|o| !o.is_live() && o.cluster == me.cluster && o.namespace == me.namespace)
}

/// The plan for a row to create, given the kind's write.
pub(crate) fn create<W>(s: Subject<'_>, write: W, changes: Vec<Change>) -> Plan<W> {
    if s.flags.observe_only {
        return Plan::Hold(Hold::Missing);
    }
    Plan::Create { owner: s.owner.clone(), write, changes }
}

/// The plan for a row to keep in line; `write`/`changes` are the kind's field differences.
pub(crate) fn sync<W>(
    s: Subject<'_>,
    id: &str,
    state: LifecycleState,
    claim: Claim,
    write: Option<W>,
    mut changes: Vec<Change>,
) -> Plan<W> {
    let reactivate = state != LifecycleState::Active;
    if reactivate {
        changes.insert(0, Change::new("state", Some(state.as_str().to_owned()), Some("active".to_owned())));
    }
    let id = id.to_owned();
    if s.flags.observe_only {
        return if changes.is_empty() { Plan::NoOp { id } } else { Plan::Hold(Hold::Drift { id, changes }) };
    }
    let owner = s.owner.clone();
    match claim {
        Claim::Own if changes.is_empty() => Plan::NoOp { id },
        Claim::Own => Plan::Update { id, reactivate, write, changes },
        Claim::Adopt { previous } => {
            Plan::TakeOver { how: TakeOver::Adopt, id, owner, previous, reactivate, write, changes }
        }
        Claim::Import { previous } => {
            Plan::TakeOver { how: TakeOver::Import, id, owner, previous, reactivate, write, changes }
        }
    }
}

/// The plan for deleting owned row `id` with `children` live.
pub(crate) fn delete<W>(s: Subject<'_>, policy: DeletionPolicy, id: &str, children: Children) -> Plan<W> {
    let id = id.to_owned();
    if s.flags.observe_only {
        return Plan::Release { id };
    }
    match policy {
        DeletionPolicy::Orphan => Plan::Orphan { id },
        DeletionPolicy::Delete if children.count > 0 => Plan::Hold(Hold::DeletionBlocked { id, children }),
        DeletionPolicy::Delete => Plan::Archive { id },
    }
}
