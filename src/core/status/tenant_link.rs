//! A TenantLink's status: phase, link ID, counterpart, acceptance, staff through the link,
//! and the `Accepted` and (partner invitations) `InvitationDelivered` conditions.

use jiff::Timestamp;

use super::{INVITATION_DELIVERED, KindStatus, condition_accessors, put_condition};
use crate::api::{ConditionStatus, Reason, TenantLinkStatus};
use crate::core::Outcome;

/// The condition a TenantLink reports acceptance on.
pub const ACCEPTED: &str = "Accepted";

impl KindStatus for TenantLinkStatus {
    const OWN_CONDITIONS: &'static [&'static str] = &[ACCEPTED, INVITATION_DELIVERED];

    condition_accessors!();

    fn absorb(&mut self, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.facts.tenant_link() else { return };
        self.phase = Some(facts.phase);
        self.link_id.clone_from(&facts.link_id);
        self.counterpart_organization_id.clone_from(&facts.counterpart_organization_id);
        self.counterpart_organization_name.clone_from(&facts.counterpart_organization_name);
        self.accepted_at = facts.accepted_at_text();
        self.invitation_expires_at = facts.invitation_expires_at_text();
        self.members.clone_from(&facts.members);
        self.provider_staff.clone_from(&facts.provider_staff);
        let generation = self.observed_generation;
        if let Some(invitation) = &facts.invitation {
            put_condition(&mut self.conditions, INVITATION_DELIVERED, invitation.delivered(), generation, now);
        }
        let accepted = if facts.accepted() {
            (ConditionStatus::True, Reason::Accepted, "the link is active".to_owned())
        } else {
            (ConditionStatus::False, outcome.reason, outcome.message.clone())
        };
        put_condition(&mut self.conditions, ACCEPTED, accepted, generation, now);
    }
}
