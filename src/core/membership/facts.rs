//! What a Membership outcome tells its status: phase, IDs, the current invitation and how its
//! mail is doing. Built from rows (never from a token), so a status can be recomputed at any
//! time from the database alone.

use crate::api::membership::{MembershipPhase, MembershipStatus};
pub use crate::core::invitation::{Delivery, InvitationFacts};
use crate::core::outcome::{Action, Event, Outcome};
use crate::store::memberships::MembershipPhase as StoredPhase;

/// The membership as its status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipFacts {
    pub phase: MembershipPhase,
    pub user_id: Option<String>,
    pub membership_id: Option<String>,
    /// The current invitation (the latest one), for `login: true` members.
    pub invitation: Option<InvitationFacts>,
    /// What this reconcile moved, worth an Event.
    pub milestone: Option<Milestone>,
}

/// A transition of the membership that makes an Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// A first invitation was issued and its mail queued.
    Invited,
    /// The open invitation was replaced by a fresh one (resend nonce).
    Resent,
    /// The invitation was accepted: the member is active and has a login.
    Accepted,
    /// The address already had a login: active at once, notice mail queued.
    Linked,
    /// A contact (`login: false`) was recorded as active.
    Recorded,
    Expired,
    Failed,
    Revoked,
}

impl Milestone {
    fn reason(self) -> &'static str {
        match self {
            Milestone::Invited => "Invited",
            Milestone::Resent => "InvitationResent",
            Milestone::Accepted => "InvitationAccepted",
            Milestone::Linked => "LinkedExistingUser",
            Milestone::Recorded => "ContactRecorded",
            Milestone::Expired => "InvitationExpired",
            Milestone::Failed => "InvitationFailed",
            Milestone::Revoked => "Revoked",
        }
    }
}

impl MembershipFacts {
    /// Not `Expired` or `Failed`: the member is active, or invited with a live invitation.
    pub fn is_usable(&self) -> bool {
        !matches!(self.phase, MembershipPhase::Expired | MembershipPhase::Failed)
    }

    /// The Event of a milestone this reconcile wrote; the note is the outcome's message.
    pub(crate) fn event(&self, outcome: &Outcome) -> Option<Event> {
        let milestone = self.milestone?;
        let wrote = matches!(
            outcome.action,
            Action::Created | Action::Updated | Action::Adopted | Action::Imported | Action::Archived
        );
        wrote.then(|| Event {
            reason: milestone.reason(),
            note: outcome.message.clone(),
            warning: matches!(milestone, Milestone::Expired | Milestone::Failed),
        })
    }

    /// Write phase, IDs and invitation into a Membership status (conditions are the shell's).
    pub fn fill(&self, status: &mut MembershipStatus) {
        status.phase = Some(self.phase);
        status.user_id.clone_from(&self.user_id);
        status.membership_id.clone_from(&self.membership_id);
        status.invitation = self.invitation.as_ref().map(InvitationFacts::status);
    }
}

/// The API's phase for a stored phase.
pub(crate) fn api_phase(phase: StoredPhase) -> MembershipPhase {
    match phase {
        StoredPhase::Pending => MembershipPhase::Pending,
        StoredPhase::Invited => MembershipPhase::Invited,
        StoredPhase::Active => MembershipPhase::Active,
        StoredPhase::Expired => MembershipPhase::Expired,
        StoredPhase::Failed => MembershipPhase::Failed,
        StoredPhase::Revoked => MembershipPhase::Revoked,
    }
}
