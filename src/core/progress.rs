//! Where an object stands in kstatus's terms (sigs.k8s.io/cli-utils `pkg/kstatus`), the
//! convention Argo CD, Flux and `kubectl wait` read:
//!
//! * **Current**: the desired state is reached (or deletion finished): no `Stalled`, no
//!   `Reconciling`.
//! * **Reconciling**: the controller is working to reach the desired state and will get there
//!   without anyone acting: a transient error being retried, a dependency not ready yet
//!   (`AccountNotReady`, `PartnerNotFound`, a missing code Secret), a day's invitations used up
//!   (`ResendLimited`), a SCIM system that does not answer (`Unreachable`, `CircuitOpen`…), an
//!   invitation mail still queued or retried, a partner that has not answered yet, a deletion
//!   waiting for its children.
//! * **Stalled**: it cannot make progress until the user changes the object or the data: every
//!   permanent error and every outcome that needs the user (`OwnedElsewhere`, a refused code,
//!   `RoleNotFound`, `OrderImmutable`, `Unauthorized`, an import refused), drift that
//!   observe-only will not correct, an expired or failed invitation, a dead mail, a rejected or
//!   expired link.
//!
//! Computed from an [`Outcome`] or a [`CoreError`] only, matched exhaustively, so a new action,
//! phase or delivery state must be placed here before it compiles.

use super::error::{CoreError, Failure};
use super::membership::{Delivery, MembershipFacts};
use super::outcome::{Action, Outcome};
use super::sync::SyncReason;
use super::tenant_link::TenantLinkFacts;
use crate::api::membership::MembershipPhase;
use crate::api::{Reason, TenantLinkPhase};

/// An object's progress towards its desired state, as kstatus's `Reconciling` and `Stalled`
/// conditions say it. The reason and message become the condition's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Converged: neither condition is set.
    Current,
    /// `Reconciling=True`: work is in flight; it will move on by itself.
    Reconciling { reason: Reason, message: String },
    /// `Stalled=True`: only a change by the user moves it on.
    Stalled { reason: Reason, message: String },
}

impl Progress {
    fn reconciling(reason: Reason, message: &str) -> Progress {
        Progress::Reconciling { reason, message: message.to_owned() }
    }

    fn stalled(reason: Reason, message: &str) -> Progress {
        Progress::Stalled { reason, message: message.to_owned() }
    }

    /// After a failed reconcile: retried with backoff when transient, else stalled until the
    /// object changes (the operator waits for a change: `await_change`).
    pub fn of_error(err: &CoreError) -> Progress {
        Progress::of_failure(&err.failure())
    }

    /// [`Progress::of_error`] of what a status keeps of the error.
    pub fn of_failure(failure: &Failure) -> Progress {
        let (reason, message) = (failure.reason, failure.message.clone());
        if failure.transient {
            Progress::Reconciling { reason, message }
        } else {
            Progress::Stalled { reason, message }
        }
    }
}

impl Outcome {
    /// kstatus's view of this outcome (see the module doc).
    pub fn progress(&self) -> Progress {
        let (reason, message) = (self.reason, self.message.as_str());
        match self.action {
            Action::Archived | Action::Orphaned | Action::Gone => Progress::Current,
            Action::Waiting | Action::DeletionBlocked => Progress::reconciling(reason, message),
            Action::Conflict | Action::AdoptionRequired | Action::NotFound | Action::DriftDetected => {
                Progress::stalled(reason, message)
            }
            Action::ExternalError => match self.facts.sync().map(|p| p.reason) {
                Some(SyncReason::External { transient: true, .. }) => Progress::reconciling(reason, message),
                _ => Progress::stalled(reason, message),
            },
            Action::Created | Action::Updated | Action::Unchanged | Action::Adopted | Action::Imported => {
                if let Some(membership) = self.facts.membership() {
                    return membership_progress(membership, reason, message);
                }
                if let Some(link) = self.facts.tenant_link() {
                    return link_progress(link, reason, message);
                }
                Progress::Current
            }
        }
    }
}

/// A recorded Membership: stalled once its invitation expired or failed or its mail was given
/// up, reconciling while the mail is on its way, current otherwise (active, or invited with
/// the mail delivered: accepting is the invitee's business, not the operator's work).
fn membership_progress(m: &MembershipFacts, reason: Reason, message: &str) -> Progress {
    match m.phase {
        MembershipPhase::Expired | MembershipPhase::Failed => return Progress::stalled(reason, message),
        MembershipPhase::Pending => return Progress::reconciling(reason, message),
        MembershipPhase::Invited | MembershipPhase::Active | MembershipPhase::Revoked => {}
    }
    let Some(invitation) = m.invitation.as_ref().filter(|_| m.phase == MembershipPhase::Invited) else {
        return Progress::Current;
    };
    let (_, delivery_reason, delivery_message) = invitation.delivered();
    match &invitation.delivery {
        Delivery::Queued | Delivery::Retrying { .. } => Progress::reconciling(delivery_reason, &delivery_message),
        Delivery::Dead { .. } => Progress::stalled(delivery_reason, &delivery_message),
        Delivery::Sent | Delivery::Unknown => Progress::Current,
    }
}

/// A written TenantLink: reconciling while the partner has not answered, stalled once the
/// link was rejected, expired or revoked, current while active.
fn link_progress(link: &TenantLinkFacts, reason: Reason, message: &str) -> Progress {
    match link.phase {
        TenantLinkPhase::Active => Progress::Current,
        TenantLinkPhase::Pending => Progress::reconciling(reason, message),
        TenantLinkPhase::Rejected | TenantLinkPhase::Expired | TenantLinkPhase::Revoked => {
            Progress::stalled(reason, message)
        }
    }
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
