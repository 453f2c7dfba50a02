//! Provider-managed staff: a service provider's `spec.serviceProvider.staff` places its own
//! members in its tenants, each with a tenant role, without the tenant editing anything.
//!
//! ```text
//! spec.serviceProvider.staff ──► observe(conn) ──► ObservedStaff ──► plan() ──► StaffPlan ──► write ──► StaffFacts
//! [{email, tenant, role}]        our links as provider,  (pure)       add / re-role /    in the Organization's
//!                                tenant roles, each person:            revoke rows we     transaction
//!                                user, membership here and             placed
//!                                in the tenant; rows we placed
//! ```
//!
//! Each side controls only its own. The link is found through the database by our
//! organization ID, never through another namespace's objects; an entry is placed only in a
//! tenant with an Active link to us and with a role that link allows, and the rows we place are
//! marked `placed_by = 'provider'` (the tenant's `spec.members` rows are `'tenant'`), so we
//! add, re-role and revoke only those. The tenant's own memberships are never touched.
//!
//! | entry | reason | write |
//! |---|---|---|
//! | `serviceProvider.enabled: false` | `ProviderDisabled` | – |
//! | e-mail not an active member of our organization | `NotProviderMember` | – |
//! | tenant with no Active link to us (unknown, not linked, revoked, pending) | `NoActiveLink` | – |
//! | role not Admin/Builder/Consumer nor a live tenant role the link grants | `RoleNotGranted` | – |
//! | the tenant's `spec.members` names the person (same link) | `PlacedByTenant` | – (the tenant's entry wins) |
//! | a member of the tenant otherwise (its own Membership, another link) | `AlreadyMember` | – |
//! | not in the tenant | `Placed` | membership (Active, no mail) derived from the link |
//! | placed by us, other role | `Placed` | role |
//! | a row we placed with no `Placed` entry (removed, refused now, link gone) | – | revoked |
//!
//! Deleting the Organization with `Delete` revokes every row it placed; deleting the tenant's
//! TenantLink revokes them too (the tenant can always end the whole link).

mod apply;
mod observe;
mod plan;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod plan_tests;

use crate::store::memberships::Membership;
use crate::store::roles::Role;
use crate::store::tenant_links::TenantLink;
use crate::store::users::User;

pub(super) use apply::write;
pub(super) use observe::observe;
pub use plan::plan;

/// One `spec.serviceProvider.staff` entry with what the database has for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub tenant_organization_id: String,
    pub role: String,
    pub user: Option<User>,
    /// The user's live membership in our (the provider) organization.
    pub provider_membership: Option<Membership>,
    /// The user's live membership in the tenant organization, placed by anyone.
    pub tenant_membership: Option<Membership>,
}

/// A live membership we placed through one of our links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub membership: Membership,
    pub email: String,
    pub link_id: String,
    pub tenant_organization_id: String,
}

/// What the database holds for an Organization's staff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedStaff {
    /// Links where we are the provider, Active and not revoked.
    pub links: Vec<TenantLink>,
    /// The live roles of each tenant named by an entry with an Active link.
    pub tenant_roles: Vec<(String, Vec<Role>)>,
    pub people: Vec<Person>,
    /// Rows we placed, through any of our links.
    pub placed: Vec<Placed>,
    /// IDs of memberships the tenants' `spec.members` placed through our links.
    pub placed_by_tenant: Vec<String>,
}

/// Why an entry is placed or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffReason {
    Placed,
    ProviderDisabled,
    NotProviderMember,
    NoActiveLink,
    RoleNotGranted,
    PlacedByTenant,
    AlreadyMember,
}

impl StaffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffReason::Placed => "Placed",
            StaffReason::ProviderDisabled => "ProviderDisabled",
            StaffReason::NotProviderMember => "NotProviderMember",
            StaffReason::NoActiveLink => "NoActiveLink",
            StaffReason::RoleNotGranted => "RoleNotGranted",
            StaffReason::PlacedByTenant => "PlacedByTenant",
            StaffReason::AlreadyMember => "AlreadyMember",
        }
    }
}

/// Where one entry stands once the plan is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffEntry {
    pub email: String,
    pub tenant_organization_id: String,
    pub role: String,
    pub reason: StaffReason,
    pub message: String,
}

impl StaffEntry {
    pub fn placed(&self) -> bool {
        self.reason == StaffReason::Placed
    }
}

/// What the staff entries report, for the Organization's `status.staff`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffFacts {
    pub entries: Vec<StaffEntry>,
    /// Memberships added, re-roled or revoked by this reconcile (its changes' count).
    pub written: usize,
}

impl StaffFacts {
    /// The Event for a reconcile whose only changes were staff placements: they follow the
    /// tenants' links (a link became Active, or ended), so they are news, not a drift correction.
    pub fn event(&self, changes: usize) -> Option<crate::core::outcome::Event> {
        (self.written > 0 && self.written == changes).then(|| crate::core::outcome::Event {
            reason: "StaffChanged",
            note: format!("placed, re-roled or removed {} provider staff membership(s) in its tenants", self.written),
            warning: false,
        })
    }

    /// Entries that are not placed.
    pub fn refused(&self) -> impl Iterator<Item = &StaffEntry> {
        self.entries.iter().filter(|e| !e.placed())
    }

    /// The entries as `status.staff`.
    pub fn status(&self) -> Vec<crate::api::organization::StaffStatus> {
        self.entries
            .iter()
            .map(|e| crate::api::organization::StaffStatus {
                email: e.email.clone(),
                tenant_organization_id: e.tenant_organization_id.clone(),
                role: e.role.clone(),
                placed: e.placed(),
                reason: e.reason.as_str().to_owned(),
                message: e.message.clone(),
            })
            .collect()
    }
}

/// One write to the memberships we place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffOp {
    /// A new membership of `user_id` in the tenant, derived from `link_id`, placed by us.
    Add { link_id: String, tenant_organization_id: String, email: String, user_id: String, role: String },
    /// A row we placed has another role than the entry.
    Role { membership_id: String, email: String, tenant_organization_id: String, role: String },
    /// Revoke a row we placed.
    Revoke { membership_id: String, email: String, tenant_organization_id: String },
}

/// What to do for the staff entries, and what they report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffPlan {
    pub ops: Vec<StaffOp>,
    pub facts: StaffFacts,
}

impl StaffPlan {
    pub fn writes(&self) -> bool {
        !self.ops.is_empty()
    }

    /// The ops as plan changes (`serviceProvider.staff[EMAIL@TENANT]`).
    pub fn changes(&self) -> Vec<crate::core::outcome::Change> {
        use crate::core::outcome::Change;
        let field = |email: &str, tenant: &str| format!("serviceProvider.staff[{email}@{tenant}]");
        self.ops
            .iter()
            .map(|op| match op {
                StaffOp::Add { email, tenant_organization_id, role, .. } => {
                    Change::new(field(email, tenant_organization_id), None, Some(role.clone()))
                }
                StaffOp::Role { email, tenant_organization_id, role, .. } => {
                    Change::new(format!("{}.role", field(email, tenant_organization_id)), None, Some(role.clone()))
                }
                StaffOp::Revoke { email, tenant_organization_id, .. } => {
                    Change::new(field(email, tenant_organization_id), Some("placed".to_owned()), None)
                }
            })
            .collect()
    }

    /// Revoke every row we placed (the Organization is archived).
    pub fn revoke_all(observed: &ObservedStaff) -> StaffPlan {
        StaffPlan { ops: observed.placed.iter().map(revoke).collect(), facts: StaffFacts::default() }
    }
}

fn revoke(p: &Placed) -> StaffOp {
    StaffOp::Revoke {
        membership_id: p.membership.id.clone(),
        email: p.email.clone(),
        tenant_organization_id: p.tenant_organization_id.clone(),
    }
}
