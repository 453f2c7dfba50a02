//! How an invitation's mail is doing, from its row and its outbox mail: the facts both kinds'
//! statuses show (expiry, attempts, Message-ID) and their `InvitationDelivered` condition.

use jiff::Timestamp;

use crate::api::membership::InvitationStatus;
use crate::api::{ConditionStatus, Reason};
use crate::store::invitations::Invitation;
use crate::store::outbox::{Mail, MailState};
use crate::store::time::shown;

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

impl InvitationFacts {
    /// A fresh invitation expiring at `expires_at` whose mail is queued in this transaction.
    pub fn queued(expires_at: Timestamp) -> InvitationFacts {
        InvitationFacts {
            expires_at,
            sent_at: None,
            attempts: 0,
            message_id: None,
            accepted_at: None,
            delivery: Delivery::Queued,
        }
    }

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
    pub fn delivered(&self) -> (ConditionStatus, Reason, String) {
        match &self.delivery {
            Delivery::Sent => {
                let at = self.sent_at.map(shown).unwrap_or_default();
                (ConditionStatus::True, Reason::Delivered, format!("the invitation mail was delivered at {at}"))
            }
            Delivery::Queued => (ConditionStatus::False, Reason::Pending, "the invitation mail is queued".to_owned()),
            Delivery::Retrying { last_error, next_attempt_at } => (
                ConditionStatus::False,
                Reason::Retrying,
                format!(
                    "delivery attempt {} failed ({last_error}); next attempt at {}",
                    self.attempts,
                    shown(*next_attempt_at)
                ),
            ),
            Delivery::Dead { last_error } => (
                ConditionStatus::False,
                Reason::DeliveryFailed,
                format!("gave up after {} delivery attempts: {last_error}", self.attempts),
            ),
            Delivery::Unknown => {
                (ConditionStatus::Unknown, Reason::NoMail, "no mail is recorded for the invitation".to_owned())
            }
        }
    }
}
