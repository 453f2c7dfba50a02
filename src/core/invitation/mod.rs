//! Invitations: single-use, expiring links mailed to a person, for a Membership (`login: true`)
//! and for a partner TenantLink alike. Issued, read and answered here, once for both kinds.
//!
//! ```text
//!  kind's apply (caller's transaction)        the invitee                      kind's plan / facts
//!  ───────────────────────────────────        ───────────                      ───────────────────
//!  issue(conn, Issue{subject, email, …})
//!    Token::generate ─► hash ─► invitations row (token_hash only)
//!    mail (accept link + expiry) ─► outbox ───► opens the link
//!    ─► Issued{invitation, mail}                 │
//!                                                ▼
//!                        answer(store, kind, Accept | Refuse, token, now)
//!                          one conditional UPDATE (accepted_at / revoked_at),
//!                          then the kind's row moves (membership Active + login,
//!                          link Active after the partner-admin check, or Rejected)
//!                          ─► Answered, or an InvitationError naming why not
//!                                                │   (the web app may run the UPDATE alone)
//!                                                ▼
//!                                  state(row, now) ─► Open / Expired / Accepted / Revoked
//!                                  (pure; what both kinds' plans and facts read)
//! ```
//!
//! The token exists only inside [`issue`] and the mail it queues; the database keeps its
//! SHA-256 ([`tokens`](super::tokens)). Times people read (status, refusals) are
//! [`time::shown`](crate::store::time::shown), the same for both kinds.

mod answer;
mod delivery;
mod issue;

#[cfg(test)]
mod tests;

use jiff::{SignedDuration, Timestamp};

pub use crate::store::invitations::{Answer, InvitationKind};
pub use answer::{Answered, InvitationError, answer};
pub use delivery::{Delivery, InvitationFacts};
pub use issue::{Issue, Issued, issue, withdraw};

use crate::store::invitations::Invitation;

/// Where an invitation stands at a given time, with the time that put it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for an answer until `expires_at`.
    Open { expires_at: Timestamp },
    /// Not answered before its expiry (at or after `expires_at`).
    Expired { at: Timestamp },
    /// Accepted: the membership or link is (or becomes) active.
    Accepted { at: Timestamp },
    /// Revoked: refused by the invitee (a partner's reject), or withdrawn by the operator
    /// (re-sent, its membership or link removed). The database does not tell them apart.
    Revoked { at: Timestamp },
}

impl State {
    /// Neither accepted nor revoked: still the subject's invitation, expired or not.
    pub fn is_unanswered(self) -> bool {
        matches!(self, State::Open { .. } | State::Expired { .. })
    }

    /// How a change line names it (`open`, `expired`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open { .. } => "open",
            State::Expired { .. } => "expired",
            State::Accepted { .. } => "accepted",
            State::Revoked { .. } => "revoked",
        }
    }
}

/// Where `row` stands at `now`. Pure. An answer outranks expiry (an invitation accepted in
/// time stays accepted), acceptance outranks revocation (revoking skips accepted rows, so both
/// are set only by a hand edit), and the expiry instant itself is expired, as the web app's
/// `expires_at > :now` has it.
pub fn state(row: &Invitation, now: Timestamp) -> State {
    match (row.accepted_at, row.revoked_at) {
        (Some(at), _) => State::Accepted { at },
        (None, Some(at)) => State::Revoked { at },
        (None, None) if row.expires_at <= now => State::Expired { at: row.expires_at },
        (None, None) => State::Open { expires_at: row.expires_at },
    }
}

/// The latest of `invitations` (oldest first) that is unanswered at `now`: the subject's one
/// open invitation, which may have expired.
pub fn unanswered(invitations: &[Invitation], now: Timestamp) -> Option<&Invitation> {
    invitations.iter().rev().find(|i| state(i, now).is_unanswered())
}

/// The subject's current invitation among `invitations` (oldest first): its unanswered one
/// (there is at most one), else the latest. Needs no time, as expiry does not answer; and a
/// re-send's revoked predecessor never hides the fresh one, even with equal `created_at`.
pub fn current(invitations: &[Invitation]) -> Option<&Invitation> {
    let unanswered = invitations.iter().rev().find(|i| i.accepted_at.is_none() && i.revoked_at.is_none());
    unanswered.or(invitations.last())
}

/// The latest of `invitations` that was accepted.
pub fn accepted(invitations: &[Invitation], now: Timestamp) -> Option<&Invitation> {
    invitations.iter().rev().find(|i| matches!(state(i, now), State::Accepted { .. }))
}

/// A new invitation for a subject with `invitations` would exceed `limit` in the last 24
/// hours: when the oldest of them leaves the window (the next one may go then). `None` while
/// there is room. Both kinds' plans hold with `ResendLimited` until then.
pub fn resend_limited(invitations: &[Invitation], limit: u32, now: Timestamp) -> Option<Timestamp> {
    let since = now.checked_sub(SignedDuration::from_hours(24)).unwrap_or(Timestamp::MIN);
    let mut recent: Vec<Timestamp> = invitations.iter().map(|i| i.created_at).filter(|t| *t > since).collect();
    if recent.len() < limit as usize {
        return None;
    }
    recent.sort();
    // The (len - limit + 1)-th oldest must leave before the count drops below the limit.
    let leaving = recent.get(recent.len() - limit as usize)?;
    Some(leaving.checked_add(SignedDuration::from_hours(24)).unwrap_or(Timestamp::MAX))
}
