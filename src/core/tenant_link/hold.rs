//! Why a TenantLink writes nothing: the reasons only links have.

use crate::api::Reason;
use crate::core::outcome::Action;

/// A TenantLink-specific [`Hold`](crate::core::Hold). Each waits for a change of the spec, the
/// code Secret or the counterpart organization; none is retried in a loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkHold {
    /// The shell found no code: the Secret or its key is missing (or empty).
    CodeSecretNotFound { secret: String, key: String },
    /// No provider code has this value.
    CodeUnknown,
    /// The code was redeemed already (by another link).
    CodeAlreadyUsed,
    /// The code expired unused.
    CodeExpired,
    /// The provider withdrew the code.
    CodeRevoked,
    /// The code's issuer is no service provider any more (`serviceProvider` off or removed).
    ProviderDisabled { organization_id: String },
    /// The partner's platform organization ID names no active organization.
    PartnerNotFound { organization_id: String },
    /// The code or the partner ID names our own organization.
    SelfLink { organization_id: String },
    /// `partnerInvitation.adminEmail` is not an active member of the partner organization
    /// holding a role that may manage members or links: no invitation, no mail.
    AdminNotInPartner { email: String, organization_id: String },
}

impl LinkHold {
    pub fn action(&self) -> Action {
        match self {
            LinkHold::CodeSecretNotFound { .. } | LinkHold::PartnerNotFound { .. } => Action::Waiting,
            LinkHold::CodeAlreadyUsed | LinkHold::SelfLink { .. } | LinkHold::AdminNotInPartner { .. } => {
                Action::Conflict
            }
            LinkHold::CodeUnknown
            | LinkHold::CodeExpired
            | LinkHold::CodeRevoked
            | LinkHold::ProviderDisabled { .. } => Action::NotFound,
        }
    }

    pub fn reason(&self) -> Reason {
        match self {
            LinkHold::CodeSecretNotFound { .. } => Reason::CodeSecretNotFound,
            LinkHold::CodeUnknown => Reason::CodeUnknown,
            LinkHold::CodeAlreadyUsed => Reason::CodeAlreadyUsed,
            LinkHold::CodeExpired => Reason::CodeExpired,
            LinkHold::CodeRevoked => Reason::CodeRevoked,
            LinkHold::ProviderDisabled { .. } => Reason::ProviderDisabled,
            LinkHold::PartnerNotFound { .. } => Reason::PartnerNotFound,
            LinkHold::SelfLink { .. } => Reason::SelfLink,
            LinkHold::AdminNotInPartner { .. } => Reason::AdminNotInPartner,
        }
    }

    /// What blocks and what to do; never contains the code.
    pub fn message(&self) -> String {
        const ASK: &str = "ask the provider for a new code and put it into the Secret";
        match self {
            LinkHold::CodeSecretNotFound { secret, key } => format!(
                "the provider code Secret {secret} (key {key}) does not exist in this namespace or is empty; \
                 the link is made once it does"
            ),
            LinkHold::CodeUnknown => format!("the provider code is not a code any provider issued; {ASK}"),
            LinkHold::CodeAlreadyUsed => {
                format!("the provider code was already used to appoint the provider; a code works once; {ASK}")
            }
            LinkHold::CodeExpired => format!("the provider code expired before it was redeemed; {ASK}"),
            LinkHold::CodeRevoked => format!("the provider withdrew this code; {ASK}"),
            LinkHold::ProviderDisabled { organization_id } => format!(
                "organization {organization_id} issued this code but is no service provider any more \
                 (serviceProvider is off); the link is made once it is one again and issues a new code"
            ),
            LinkHold::PartnerNotFound { organization_id } => format!(
                "no active organization has the platform ID {organization_id}; check \
                 spec.partnerInvitation.organizationId with the partner"
            ),
            LinkHold::SelfLink { organization_id } => {
                format!("organization {organization_id} cannot be linked to itself")
            }
            LinkHold::AdminNotInPartner { email, organization_id } => format!(
                "spec.partnerInvitation.adminEmail {email} is not an active member of organization \
                 {organization_id} holding a role with {} permission; the invitation goes only to an \
                 administrator of the partner, so none was issued or mailed",
                super::admin::MANAGING_PERMISSIONS.join(" or ")
            ),
        }
    }
}
