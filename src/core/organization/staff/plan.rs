//! The pure staff plan (see the table in [`super`]).

use std::collections::BTreeSet;

use super::{ObservedStaff, Person, StaffEntry, StaffFacts, StaffOp, StaffPlan, StaffReason, revoke};
use crate::api::organization::StaffSpec;
use crate::core::tenant_link::BUILTIN_MEMBER_ROLES;
use crate::store::memberships::MembershipPhase;
use crate::store::tenant_links::{LinkMode, PartnerRole, TenantLink};

/// Decide what to do for `entries` of a provider (`enabled`: `serviceProvider.enabled`) given
/// `observed`. Pure.
pub fn plan(entries: &[StaffSpec], enabled: bool, observed: &ObservedStaff) -> StaffPlan {
    let mut ops = Vec::new();
    let mut facts = StaffFacts::default();
    let mut kept = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for entry in entries {
        let email = entry.email.as_str();
        let tenant = entry.tenant_organization_id.trim();
        // The CRD keys entries on (email, tenant); addresses are one user in any letter case,
        // so a second entry for the same person and tenant (possible in local mode) is ignored.
        if !seen.insert((email.to_lowercase(), tenant.to_owned())) {
            continue;
        }
        let person = observed.people.iter().find(|p| p.email == email && p.tenant_organization_id == tenant);
        let (reason, message) = match decide(enabled, entry, tenant, person, observed) {
            Decision::Refused(reason, message) => (reason, message),
            Decision::Add { link_id, user_id } => {
                ops.push(StaffOp::Add {
                    link_id,
                    tenant_organization_id: tenant.to_owned(),
                    email: email.to_owned(),
                    user_id,
                    role: entry.role.clone(),
                });
                (StaffReason::Placed, String::new())
            }
            Decision::Keep { membership_id, role_differs } => {
                if role_differs {
                    ops.push(StaffOp::Role {
                        membership_id: membership_id.clone(),
                        email: email.to_owned(),
                        tenant_organization_id: tenant.to_owned(),
                        role: entry.role.clone(),
                    });
                }
                kept.insert(membership_id);
                (StaffReason::Placed, String::new())
            }
        };
        facts.entries.push(StaffEntry {
            email: email.to_owned(),
            tenant_organization_id: tenant.to_owned(),
            role: entry.role.clone(),
            reason,
            message,
        });
    }
    // What we placed and no entry keeps goes: removed from the list, refused now, link ended.
    ops.extend(observed.placed.iter().filter(|p| !kept.contains(&p.membership.id)).map(revoke));
    StaffPlan { ops, facts }
}

enum Decision {
    Refused(StaffReason, String),
    Add { link_id: String, user_id: String },
    Keep { membership_id: String, role_differs: bool },
}

fn decide(enabled: bool, entry: &StaffSpec, tenant: &str, person: Option<&Person>, o: &ObservedStaff) -> Decision {
    let email = entry.email.as_str();
    if !enabled {
        let m = "serviceProvider.enabled is false: a provider that is switched off places no staff".to_owned();
        return Decision::Refused(StaffReason::ProviderDisabled, m);
    }
    let member = person.and_then(|p| p.provider_membership.as_ref()).filter(|m| m.phase == MembershipPhase::Active);
    let (Some(person), Some(_), Some(user)) = (person, member, person.and_then(|p| p.user.as_ref())) else {
        let m = format!("{email} is not an active member of this organization");
        return Decision::Refused(StaffReason::NotProviderMember, m);
    };
    let Some(link) = o.links.iter().find(|l| l.tenant_organization_id == tenant) else {
        let m = format!(
            "organization {tenant} has no Active link to this provider (the tenant appoints it with a TenantLink)"
        );
        return Decision::Refused(StaffReason::NoActiveLink, m);
    };
    let allowed = allowed_roles(link, o);
    if !allowed.contains(&entry.role) {
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        let m = format!(
            "role {} is not granted by link {} (allowed: {}; the tenant grants its own roles with grantedRoles)",
            entry.role,
            link.id,
            allowed.join(", ")
        );
        return Decision::Refused(StaffReason::RoleNotGranted, m);
    }
    match &person.tenant_membership {
        None => Decision::Add { link_id: link.id.clone(), user_id: user.id.clone() },
        Some(live) => {
            if let Some(ours) = o.placed.iter().find(|p| p.membership.id == live.id) {
                let role_differs = ours.membership.settings.roles != [entry.role.clone()];
                Decision::Keep { membership_id: live.id.clone(), role_differs }
            } else if o.placed_by_tenant.contains(&live.id) {
                let m = format!("the tenant's TenantLink spec.members names {email}: the tenant's entry wins");
                Decision::Refused(StaffReason::PlacedByTenant, m)
            } else {
                let m =
                    format!("{email} is a member of organization {tenant} otherwise; that membership is left alone");
                Decision::Refused(StaffReason::AlreadyMember, m)
            }
        }
    }
}

/// Admin, Builder and Consumer, plus the link's `grantedRoles` that are live roles of the
/// tenant. A partner invited as `Customer` was invited by us, the provider: its granted
/// roles are ours, not the tenant's, so only the built-in roles apply.
fn allowed_roles(link: &TenantLink, o: &ObservedStaff) -> BTreeSet<String> {
    let mut allowed: BTreeSet<String> = BUILTIN_MEMBER_ROLES.iter().map(|r| (*r).to_owned()).collect();
    let tenant_grants =
        !(link.mode == LinkMode::PartnerInvitation && link.terms.partner_role == Some(PartnerRole::Customer));
    if tenant_grants {
        let live: BTreeSet<&str> = o
            .tenant_roles
            .iter()
            .filter(|(t, _)| *t == link.tenant_organization_id)
            .flat_map(|(_, roles)| roles.iter().filter(|r| r.archived_at.is_none()).map(|r| r.name.as_str()))
            .collect();
        allowed.extend(link.terms.granted_roles.iter().filter(|r| live.contains(r.as_str())).cloned());
    }
    allowed
}
