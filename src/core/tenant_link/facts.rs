//! What a TenantLink's status reports: phase, link, counterpart, acceptance, the partner
//! invitation's expiry and delivery, and the provider staff placed.

use jiff::Timestamp;

use crate::api::tenant_link::TenantLinkPhase as ApiPhase;
use crate::core::invitation::InvitationFacts;
use crate::store::tenant_links::TenantLinkPhase;

/// The facts the shell fills into `TenantLinkStatus` (and the `Accepted` condition: True
/// exactly when the phase is Active).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLinkFacts {
    pub phase: ApiPhase,
    /// `None` before the link is created (a hold, or a dry run).
    pub link_id: Option<String>,
    pub counterpart_organization_id: Option<String>,
    pub counterpart_organization_name: Option<String>,
    pub accepted_at: Option<Timestamp>,
    /// Mode 2: when the open invitation expires.
    pub invitation_expires_at: Option<Timestamp>,
    /// Mode 2: the latest invitation and how its mail is doing (`InvitationDelivered`).
    pub invitation: Option<InvitationFacts>,
    /// E-mail addresses of provider staff currently members of the tenant through the link.
    pub members: Vec<String>,
    /// Staff the provider placed through the link (its `serviceProvider.staff`).
    pub provider_staff: Vec<crate::api::tenant_link::ProviderStaff>,
}

impl TenantLinkFacts {
    pub fn pending() -> TenantLinkFacts {
        TenantLinkFacts {
            phase: ApiPhase::Pending,
            link_id: None,
            counterpart_organization_id: None,
            counterpart_organization_name: None,
            accepted_at: None,
            invitation_expires_at: None,
            invitation: None,
            members: Vec::new(),
            provider_staff: Vec::new(),
        }
    }

    /// `Ready=True` needs an active link.
    pub fn is_active(&self) -> bool {
        self.phase == ApiPhase::Active
    }

    /// The `Accepted` condition's status.
    pub fn accepted(&self) -> bool {
        self.is_active()
    }

    /// `acceptedAt` as status fields show times ([`shown`](crate::store::time::shown)).
    pub fn accepted_at_text(&self) -> Option<String> {
        self.accepted_at.map(crate::store::time::shown)
    }

    /// `invitationExpiresAt` as status fields show times.
    pub fn invitation_expires_at_text(&self) -> Option<String> {
        self.invitation_expires_at.map(crate::store::time::shown)
    }
}

pub(super) fn api_phase(phase: TenantLinkPhase) -> ApiPhase {
    match phase {
        TenantLinkPhase::Pending => ApiPhase::Pending,
        TenantLinkPhase::Active => ApiPhase::Active,
        TenantLinkPhase::Rejected => ApiPhase::Rejected,
        TenantLinkPhase::Expired => ApiPhase::Expired,
        TenantLinkPhase::Revoked => ApiPhase::Revoked,
    }
}
