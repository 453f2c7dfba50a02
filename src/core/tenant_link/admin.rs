//! Who may receive and accept a partner invitation: an administrator of the partner.
//!
//! A partner invitation hands its holder the power to link the partner organization (and, for
//! a `Customer` partner, to put this object's `spec.members` into it). So the token goes only
//! to an address that is an **active member of the partner organization holding a role with
//! one of [`MANAGING_PERMISSIONS`]**, checked before the invitation and its mail are written
//! (`AdminNotInPartner` otherwise), and checked again when the token is accepted (the person
//! may have lost the role since).
//!
//! ```text
//! adminEmail ─► users (by e-mail) ─► live membership in the partner org ─► its roles' permissions
//! ```

use crate::store::memberships::{self, Membership, MembershipPhase, Scope};
use crate::store::roles::{self, Role};
use crate::store::tenant_links::{PartnerRole, TenantLink};
use crate::store::{Conn, StoreError, users};

/// A role carrying one of these permissions may manage the organization's members or links.
pub const MANAGING_PERMISSIONS: [&str; 2] = ["members.manage", "tenants.manage"];

/// What the partner organization says about the invited address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerAdmin {
    /// The address's live membership in the partner organization.
    pub membership: Option<Membership>,
    /// The partner organization's roles (archived ones too).
    pub roles: Vec<Role>,
}

impl PartnerAdmin {
    /// Whether the address is an active member holding a role that may manage members or
    /// links (an archived role grants nothing). Pure.
    pub fn manages(&self) -> bool {
        let Some(m) = self.membership.as_ref().filter(|m| m.phase == MembershipPhase::Active) else {
            return false;
        };
        self.roles.iter().any(|r| {
            r.archived_at.is_none()
                && m.settings.roles.contains(&r.name)
                && r.permissions.iter().any(|p| MANAGING_PERMISSIONS.contains(&p.as_str()))
        })
    }
}

/// Read what the partner organization `organization_id` says about `email`.
pub async fn read(conn: &mut Conn, organization_id: &str, email: &str) -> Result<PartnerAdmin, StoreError> {
    let Some(user) = users::find_by_email(conn, email).await? else { return Ok(PartnerAdmin::default()) };
    let scope = Scope::Organization(organization_id.to_owned());
    let membership = memberships::find_live(conn, &user.id, &scope).await?;
    let roles = if membership.is_some() { roles::list(conn, organization_id).await? } else { Vec::new() };
    Ok(PartnerAdmin { membership, roles })
}

/// The partner side of a partner-invitation link: the tenant when the partner is a
/// `Customer` (we serve it), else the provider.
pub fn partner_of(link: &TenantLink) -> &str {
    match link.terms.partner_role {
        Some(PartnerRole::Customer) => &link.tenant_organization_id,
        _ => &link.provider_organization_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::now;
    use crate::store::memberships::MembershipSettings;

    fn role(name: &str, permissions: &[&str], archived: bool) -> Role {
        Role {
            id: format!("role-{name}"),
            organization_id: "org-p".into(),
            name: name.into(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            archived_at: archived.then(now),
            created_at: now(),
            updated_at: now(),
        }
    }

    fn membership(phase: MembershipPhase, roles: &[&str]) -> Membership {
        Membership {
            id: "mbr-1".into(),
            user_id: "usr-1".into(),
            scope: Scope::Organization("org-p".into()),
            settings: MembershipSettings {
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                groups: Vec::new(),
                notifications: Vec::new(),
                login: true,
            },
            phase,
            revoked_at: None,
            owner: None,
            created_at: now(),
            updated_at: now(),
        }
    }

    #[test]
    fn only_an_active_member_with_a_live_managing_role_administers() {
        let roles = vec![
            role("Admin", &["members.manage"], false),
            role("Msp", &["tenants.manage", "tickets.read"], false),
            role("Old", &["members.manage"], true),
            role("Viewer", &["tickets.read"], false),
        ];
        let admin =
            |phase, held: &[&str]| PartnerAdmin { membership: Some(membership(phase, held)), roles: roles.clone() };
        assert!(admin(MembershipPhase::Active, &["Admin"]).manages());
        assert!(admin(MembershipPhase::Active, &["Viewer", "Msp"]).manages());
        assert!(!admin(MembershipPhase::Active, &["Viewer"]).manages(), "no managing permission");
        assert!(!admin(MembershipPhase::Active, &["Old"]).manages(), "an archived role grants nothing");
        assert!(!admin(MembershipPhase::Active, &["Ghost"]).manages(), "a role the organization lacks");
        for phase in
            [MembershipPhase::Pending, MembershipPhase::Invited, MembershipPhase::Expired, MembershipPhase::Failed]
        {
            assert!(!admin(phase, &["Admin"]).manages(), "{phase:?} is not active");
        }
        assert!(!PartnerAdmin { membership: None, roles }.manages(), "not a member");
        assert!(!PartnerAdmin::default().manages());
    }
}
