//! What a reconcile did: the only thing a status, an Event or a local-mode table is made from.

use std::fmt;

use jiff::Timestamp;

use super::facts::KindFacts;
use crate::api::Reason;

/// The kinds this engine reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Account,
    Organization,
    Membership,
    TenantLink,
    ProvisioningSync,
}

impl Kind {
    pub const ALL: [Kind; 5] =
        [Kind::Account, Kind::Organization, Kind::Membership, Kind::TenantLink, Kind::ProvisioningSync];

    /// The kind named `name` (`"Membership"`), if it is one of the five.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "Account",
            Kind::Organization => "Organization",
            Kind::Membership => "Membership",
            Kind::TenantLink => "TenantLink",
            Kind::ProvisioningSync => "ProvisioningSync",
        }
    }

    /// The lower-case noun used in messages ("account acct-…").
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Organization => "organization",
            Kind::Membership => "membership",
            Kind::TenantLink => "tenant link",
            Kind::ProvisioningSync => "provisioning sync",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to the platform row (or, for a plan, what will happen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A new row was inserted.
    Created,
    /// The row was brought in line with the spec.
    Updated,
    /// The row already matched the spec; nothing was written.
    Unchanged,
    /// A row of the same namespace/name (an earlier object) is owned by this object now.
    Adopted,
    /// The row named by the external-id annotation is owned by this object now.
    Imported,
    /// Deleted with `deletionPolicy: Delete`: the row is archived and released.
    Archived,
    /// Deleted with `deletionPolicy: Orphan` (or observe-only): the row is left and released.
    Orphaned,
    /// Deleted, and this object owned no row: nothing to clean up.
    Gone,
    /// Deletion waits for children (organizations, memberships) to go first.
    DeletionBlocked,
    /// The row belongs to someone else or contradicts the spec; never taken over.
    Conflict,
    /// A row of the same namespace/name exists; the user must ask to adopt it.
    AdoptionRequired,
    /// A dependency (the parent Account) is not ready yet.
    Waiting,
    /// Observe-only: the row differs from the spec; nothing was corrected.
    DriftDetected,
    /// The row to import or observe does not exist.
    NotFound,
    /// The external system (SCIM) did not take the push: it was down, or refused it (the
    /// reason says which). The platform side is recorded; the push is retried.
    ExternalError,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "Created",
            Action::Updated => "Updated",
            Action::Unchanged => "Unchanged",
            Action::Adopted => "Adopted",
            Action::Imported => "Imported",
            Action::Archived => "Archived",
            Action::Orphaned => "Orphaned",
            Action::Gone => "Gone",
            Action::DeletionBlocked => "DeletionBlocked",
            Action::Conflict => "Conflict",
            Action::AdoptionRequired => "AdoptionRequired",
            Action::Waiting => "Waiting",
            Action::DriftDetected => "DriftDetected",
            Action::NotFound => "NotFound",
            Action::ExternalError => "ExternalError",
        }
    }

    /// The platform row is there, owned by this object and matches the spec.
    pub fn is_ready(self) -> bool {
        matches!(self, Action::Created | Action::Updated | Action::Unchanged | Action::Adopted | Action::Imported)
    }

    /// Deletion is done: the shell may remove its finalizer.
    pub fn deletion_finished(self) -> bool {
        matches!(self, Action::Archived | Action::Orphaned | Action::Gone)
    }

    /// Nothing will change until the user changes the object or the data (`Synced=False`).
    pub fn needs_user(self) -> bool {
        matches!(self, Action::Conflict | Action::AdoptionRequired | Action::NotFound | Action::ExternalError)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field that differs between the spec and the row: `from` is the row, `to` the spec.
/// `None` is "absent" (a role to add has no `from`, one to retire no `to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The spec's field path (`legalName`, `billingAddress.city`, `roles[Admin].permissions`).
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Change {
    pub fn new(field: impl Into<String>, from: Option<String>, to: Option<String>) -> Change {
        Change { field: field.into(), from, to }
    }

    /// A change when `from != to`, else `None`.
    pub(crate) fn diff(field: &str, from: Option<&str>, to: Option<&str>) -> Option<Change> {
        (from != to).then(|| Change::new(field, from.map(str::to_owned), to.map(str::to_owned)))
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.as_ref().map_or_else(|| "(none)".to_owned(), |s| format!("{s:?}"));
        write!(f, "{}: {} → {}", self.field, show(&self.from), show(&self.to))
    }
}

/// The live children of a row: organizations of an account, memberships of an organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Children {
    pub count: u64,
    /// Their platform IDs where known (organizations; memberships are only counted).
    pub ids: Vec<String>,
    /// An Account's children are its organizations, unless only account-level memberships
    /// are left (they block its deletion too).
    pub memberships: bool,
}

/// An Event a shell may record for an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub reason: &'static str,
    pub note: String,
    /// `Warning` rather than `Normal`.
    pub warning: bool,
}

/// The result of one reconcile of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub kind: Kind,
    pub action: Action,
    /// The platform ID of the row (`accountId`, `organizationId`), when there is one.
    pub id: Option<String>,
    /// An organization's account ID.
    pub account_id: Option<String>,
    /// What differed (and, unless observe-only, was corrected).
    pub changes: Vec<Change>,
    /// Live children, when the row is known.
    pub children: Option<Children>,
    /// The reason of the `Ready` condition.
    pub reason: Reason,
    /// Human-readable message of the `Ready` condition.
    pub message: String,
    /// Reconcile again at this time at the latest, even if nothing changes (the expiry of an
    /// open invitation), so a deadline is noticed when it passes rather than at the next resync.
    pub requeue_at: Option<Timestamp>,
    /// What only this kind reports (a Membership's invitation, a sync's counts…).
    pub facts: KindFacts,
}

impl Outcome {
    /// `Ready=True`: the row is there, owned by this object and current, and (a Membership)
    /// usable: not `Expired` or `Failed`.
    pub fn is_ready(&self) -> bool {
        self.action.is_ready() && self.facts.usable()
    }

    /// The Event for this outcome, if it is worth one. `spec_changed` (the object's
    /// generation moved since the last status) tells a requested update from a drift correction.
    pub fn event(&self, spec_changed: bool) -> Option<Event> {
        let noun = self.kind.noun();
        let id = self.id.as_deref().unwrap_or("?");
        let fields = || self.changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>().join(", ");
        let normal = |reason, note| Some(Event { reason, note, warning: false });
        let warning = |reason, note| Some(Event { reason, note, warning: true });
        if let Some(event) = self.facts.membership().and_then(|m| m.event(self)) {
            return Some(event);
        }
        if let Some(event) = self.facts.staff().filter(|_| !spec_changed).and_then(|s| s.event(self.changes.len())) {
            return Some(event);
        }
        match self.action {
            Action::Created => normal("Created", format!("created {noun} {id}")),
            Action::Updated if spec_changed => normal("Updated", format!("updated {noun} {id}: {}", fields())),
            Action::Updated => {
                warning("DriftCorrected", format!("corrected out-of-band changes to {noun} {id}: {}", fields()))
            }
            Action::Adopted => normal("Adopted", format!("adopted {noun} {id}")),
            Action::Imported => normal("Imported", format!("imported {noun} {id}")),
            Action::Archived => normal("Archived", format!("archived {noun} {id}")),
            Action::Orphaned => normal("Orphaned", format!("left {noun} {id} in the platform, no longer managed")),
            Action::DeletionBlocked => warning("DeletionBlocked", self.message.clone()),
            Action::DriftDetected => warning("DriftDetected", self.message.clone()),
            Action::Conflict | Action::AdoptionRequired | Action::NotFound | Action::ExternalError => {
                warning(self.reason.as_str(), self.message.clone())
            }
            Action::Waiting => normal(self.reason.as_str(), self.message.clone()),
            Action::Unchanged | Action::Gone => None,
        }
    }
}

impl fmt::Display for Outcome {
    /// `Account acct-1: Updated (legalName, currency)`, for logs and tables.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.id.as_deref().unwrap_or("-"), self.action)?;
        if !self.changes.is_empty() {
            let fields: Vec<&str> = self.changes.iter().map(|c| c.field.as_str()).collect();
            write!(f, " ({})", fields.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Account outcome of `action` that changed `legalName`.
    fn outcome(action: Action) -> Outcome {
        let changes = vec![Change::new("legalName", Some("A".to_owned()), Some("B".to_owned()))];
        Outcome { changes, ..crate::core::fixtures::outcome(action, Reason::Available) }
    }

    #[test]
    fn updates_are_drift_corrections_unless_the_spec_moved() {
        let requested = outcome(Action::Updated).event(true).expect("an event");
        assert_eq!((requested.reason, requested.warning), ("Updated", false));
        assert!(requested.note.contains("legalName"), "{}", requested.note);
        let drift = outcome(Action::Updated).event(false).expect("an event");
        assert_eq!((drift.reason, drift.warning), ("DriftCorrected", true));
        assert_eq!(outcome(Action::Unchanged).event(false), None);
        assert_eq!(outcome(Action::Gone).event(true), None);
    }

    #[test]
    fn changes_and_outcomes_read_well() {
        let c = Change::new("roles[Ops]", None, Some("a.read".to_owned()));
        assert_eq!(c.to_string(), "roles[Ops]: (none) → \"a.read\"");
        assert_eq!(outcome(Action::Updated).to_string(), "Account acct-1: Updated (legalName)");
        assert_eq!(Change::diff("x", Some("a"), Some("a")), None);
    }
}
