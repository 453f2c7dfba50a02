//! What one kind's reconcile found beyond the common outcome, for that kind's status, Events
//! and tables: one enum, so [`Outcome`](super::Outcome) names no kind's types itself.

use super::membership::MembershipFacts;
use super::organization::staff::StaffFacts;
use super::sync::SyncFacts;
use super::tenant_link::TenantLinkFacts;
use crate::api::organization::LinkSummary;

/// The kind's own facts of an outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KindFacts {
    /// None beyond the common outcome (an Account, or a run that stopped before the row).
    #[default]
    None,
    Organization(OrganizationFacts),
    /// Phase, user, membership and current invitation.
    Membership(Box<MembershipFacts>),
    /// Phase, link ID, counterpart and acceptance.
    TenantLink(Box<TenantLinkFacts>),
    /// Sync status, external IDs, counts and assets.
    Sync(Box<SyncFacts>),
}

/// An Organization's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationFacts {
    /// A service provider's `serviceProvider.staff` entries, placed or why not.
    pub staff: Option<Box<StaffFacts>>,
    /// Its active links, when a shell looked them up after the run (local mode; the operator
    /// writes them into status itself).
    pub links: Option<Box<LinkSummary>>,
}

impl KindFacts {
    pub fn membership(&self) -> Option<&MembershipFacts> {
        match self {
            KindFacts::Membership(m) => Some(m),
            _ => None,
        }
    }

    pub fn membership_mut(&mut self) -> Option<&mut MembershipFacts> {
        match self {
            KindFacts::Membership(m) => Some(m),
            _ => None,
        }
    }

    pub fn tenant_link(&self) -> Option<&TenantLinkFacts> {
        match self {
            KindFacts::TenantLink(l) => Some(l),
            _ => None,
        }
    }

    pub fn tenant_link_mut(&mut self) -> Option<&mut TenantLinkFacts> {
        match self {
            KindFacts::TenantLink(l) => Some(l),
            _ => None,
        }
    }

    pub fn sync(&self) -> Option<&SyncFacts> {
        match self {
            KindFacts::Sync(s) => Some(s),
            _ => None,
        }
    }

    pub fn sync_mut(&mut self) -> Option<&mut SyncFacts> {
        match self {
            KindFacts::Sync(s) => Some(s),
            _ => None,
        }
    }

    pub fn staff(&self) -> Option<&StaffFacts> {
        match self {
            KindFacts::Organization(o) => o.staff.as_deref(),
            _ => None,
        }
    }

    pub fn links(&self) -> Option<&LinkSummary> {
        match self {
            KindFacts::Organization(o) => o.links.as_deref(),
            _ => None,
        }
    }

    /// An Organization's facts, made so when there were none.
    pub fn organization_mut(&mut self) -> &mut OrganizationFacts {
        if !matches!(self, KindFacts::Organization(_)) {
            *self = KindFacts::Organization(OrganizationFacts::default());
        }
        match self {
            KindFacts::Organization(o) => o,
            // Made an Organization just above.
            _ => unreachable!("organization facts"),
        }
    }

    /// Whether the kind's facts allow `Ready=True`: a Membership not `Expired` or `Failed`,
    /// a TenantLink that is active; other kinds have no such facts.
    pub fn usable(&self) -> bool {
        match self {
            KindFacts::Membership(m) => m.is_usable(),
            KindFacts::TenantLink(l) => l.is_active(),
            KindFacts::None | KindFacts::Organization(_) | KindFacts::Sync(_) => true,
        }
    }
}
