//! A Membership's status: phase, user and membership IDs, the current invitation (never its
//! token) and the `InvitationDelivered` condition.

use jiff::Timestamp;

use super::{KindStatus, condition_accessors, put_condition};
use crate::api::MembershipStatus;
use crate::core::Outcome;

/// The condition a Membership (and a partner TenantLink) reports its invitation mail on.
pub const INVITATION_DELIVERED: &str = "InvitationDelivered";

impl KindStatus for MembershipStatus {
    const OWN_CONDITIONS: &'static [&'static str] = &[INVITATION_DELIVERED];

    condition_accessors!();

    fn absorb(&mut self, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.facts.membership() else { return };
        facts.fill(self);
        if let Some(invitation) = &facts.invitation {
            let generation = self.observed_generation;
            put_condition(&mut self.conditions, INVITATION_DELIVERED, invitation.delivered(), generation, now);
        }
    }
}
