//! What a Membership outcome tells its status: phase, IDs, the current invitation and how its
//! mail is doing. Built from rows (never from a token), so a status can be recomputed at any
//! time from the database alone.

use jiff::Timestamp;

use crate::api::ConditionStatus;
use crate::api::membership::{InvitationStatus, MembershipPhase, MembershipStatus};
use crate::core::outcome::{Action, Event, Outcome};
use crate::store::invitations::Invitation;
use crate::store::memberships::MembershipPhase as StoredPhase;
use crate::store::outbox::{Mail, MailState};
use crate::store::time::shown;

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

/// The current invitation, from its row and its outbox mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationFacts {
    pub expires_at: Timestamp,
    /// When the mail was handed to the relay (or written to the mailbox).
    pub sent_at: Option<Timestamp>,
    /// Delivery attempts made so far.
    pub attempts: i64,
    pub message_id: Option<String>,
    pub accepted_at: Option<Timestamp>,
    pub delivery: Delivery,
}

/// Where the invitation mail is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Queued in the outbox, not tried yet.
    Queued,
    /// Tried and failed; tried again at `next_attempt_at`.
    Retrying { last_error: String, next_attempt_at: Timestamp },
    /// Delivered to the relay.
    Sent,
    /// Given up after too many attempts (dead letter).
    Dead { last_error: String },
    /// No mail is recorded for it.
    Unknown,
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

impl InvitationFacts {
    /// From the invitation row and its outbox mail.
    pub fn from_rows(invitation: &Invitation, mail: Option<&Mail>) -> InvitationFacts {
        let delivery = match mail {
            None => Delivery::Unknown,
            Some(m) => match m.state {
                MailState::Sent => Delivery::Sent,
                MailState::Dead => Delivery::Dead { last_error: m.last_error.clone().unwrap_or_default() },
                MailState::Pending if m.attempts == 0 => Delivery::Queued,
                MailState::Pending => Delivery::Retrying {
                    last_error: m.last_error.clone().unwrap_or_default(),
                    next_attempt_at: m.next_attempt_at,
                },
            },
        };
        let attempts = mail.map_or(0, |m| m.attempts + i64::from(m.state == MailState::Sent));
        InvitationFacts {
            expires_at: invitation.expires_at,
            sent_at: mail.and_then(|m| m.sent_at),
            attempts,
            message_id: mail.map(|m| m.message_id.clone()).or_else(|| invitation.message_id.clone()),
            accepted_at: invitation.accepted_at,
            delivery,
        }
    }

    /// The status block: RFC 3339 times, attempts, Message-ID; never the token.
    pub fn status(&self) -> InvitationStatus {
        InvitationStatus {
            sent_at: self.sent_at.map(shown),
            expires_at: Some(shown(self.expires_at)),
            attempts: i32::try_from(self.attempts).unwrap_or(i32::MAX),
            message_id: self.message_id.clone(),
        }
    }

    /// The `InvitationDelivered` condition's status, reason and message.
    pub fn delivered(&self) -> (ConditionStatus, &'static str, String) {
        match &self.delivery {
            Delivery::Sent => {
                let at = self.sent_at.map(shown).unwrap_or_default();
                (ConditionStatus::True, "Delivered", format!("the invitation mail was delivered at {at}"))
            }
            Delivery::Queued => (ConditionStatus::False, "Pending", "the invitation mail is queued".to_owned()),
            Delivery::Retrying { last_error, next_attempt_at } => (
                ConditionStatus::False,
                "Retrying",
                format!(
                    "delivery attempt {} failed ({last_error}); next attempt at {}",
                    self.attempts,
                    shown(*next_attempt_at)
                ),
            ),
            Delivery::Dead { last_error } => (
                ConditionStatus::False,
                "DeliveryFailed",
                format!("gave up after {} delivery attempts: {last_error}", self.attempts),
            ),
            Delivery::Unknown => {
                (ConditionStatus::Unknown, "NoMail", "no mail is recorded for the invitation".to_owned())
            }
        }
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
