//! Every branch of the staff plan, from rows built in code. No database.

use super::*;
use crate::api::organization::StaffSpec;
use crate::core::fixtures::{at, role};
use crate::store::memberships::{MembershipPhase, Scope};
use crate::store::tenant_links::{LinkMode, LinkTerms, PartnerRole, TenantLinkPhase};

const US: &str = "org-msp";
const TENANT: &str = "org-acme";

fn entry(email: &str, tenant: &str, role: &str) -> StaffSpec {
    serde_yaml::from_str(&format!("{{email: {email}, tenantOrganizationId: {tenant}, role: {role}}}")).expect("entry")
}

fn user(email: &str) -> User {
    User {
        id: format!("usr-{email}"),
        email: email.to_owned(),
        email_normalized: email.to_lowercase(),
        display_name: None,
        phone: None,
        has_login: true,
        archived_at: None,
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

fn membership(id: &str, email: &str, org: &str, role: &str, phase: MembershipPhase) -> Membership {
    Membership {
        id: id.to_owned(),
        user_id: format!("usr-{email}"),
        scope: Scope::Organization(org.to_owned()),
        settings: crate::core::tenant_link::staff_settings(role),
        phase,
        revoked_at: None,
        owner: None,
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

fn link(tenant: &str, granted: &[&str]) -> TenantLink {
    TenantLink {
        id: format!("tl-{tenant}"),
        provider_organization_id: US.to_owned(),
        tenant_organization_id: tenant.to_owned(),
        mode: LinkMode::ProviderCode,
        terms: LinkTerms {
            partner_role: None,
            admin_email: None,
            granted_roles: granted.iter().map(|r| (*r).to_owned()).collect(),
            sharing_scope: Vec::new(),
        },
        phase: TenantLinkPhase::Active,
        accepted_at: Some(at("2025-01-02T00:00:00Z")),
        revoked_at: None,
        owner: None,
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

/// A provider member `email`, not yet in the tenant.
fn staff_member(email: &str, tenant: &str) -> Person {
    Person {
        email: email.to_owned(),
        tenant_organization_id: tenant.to_owned(),
        role: String::new(),
        user: Some(user(email)),
        provider_membership: Some(membership(&format!("mbr-{email}"), email, US, "Engineer", MembershipPhase::Active)),
        tenant_membership: None,
    }
}

/// One Active link to the tenant, which has the role `Auditor` and grants it; `ann` is ours.
fn observed() -> ObservedStaff {
    ObservedStaff {
        links: vec![link(TENANT, &["Auditor"])],
        tenant_roles: vec![(TENANT.to_owned(), vec![role(TENANT, "Auditor", &[]), role(TENANT, "Finance", &[])])],
        people: vec![staff_member("ann@msp.example", TENANT)],
        placed: Vec::new(),
        placed_by_tenant: Vec::new(),
    }
}

fn placed(id: &str, email: &str, role: &str) -> Placed {
    Placed {
        membership: membership(id, email, TENANT, role, MembershipPhase::Active),
        email: email.to_owned(),
        link_id: format!("tl-{TENANT}"),
        tenant_organization_id: TENANT.to_owned(),
    }
}

fn only_reason(p: &StaffPlan) -> StaffReason {
    assert_eq!(p.facts.entries.len(), 1, "{p:?}");
    p.facts.entries[0].reason
}

#[test]
fn a_provider_member_is_placed_in_a_linked_tenant_with_a_builtin_role() {
    let p = plan(&[entry("ann@msp.example", TENANT, "Builder")], true, &observed());
    assert_eq!(only_reason(&p), StaffReason::Placed);
    assert_eq!(
        p.ops,
        vec![StaffOp::Add {
            link_id: "tl-org-acme".into(),
            tenant_organization_id: TENANT.into(),
            email: "ann@msp.example".into(),
            user_id: "usr-ann@msp.example".into(),
            role: "Builder".into(),
        }]
    );
    assert_eq!(p.changes()[0].field, "serviceProvider.staff[ann@msp.example@org-acme]");
    assert!(p.facts.status()[0].placed);
}

#[test]
fn a_tenant_role_the_link_grants_is_allowed_and_one_it_does_not_is_refused() {
    let granted = plan(&[entry("ann@msp.example", TENANT, "Auditor")], true, &observed());
    assert_eq!(only_reason(&granted), StaffReason::Placed);
    // Finance is a tenant role, but the link does not grant it.
    let ungranted = plan(&[entry("ann@msp.example", TENANT, "Finance")], true, &observed());
    assert_eq!(only_reason(&ungranted), StaffReason::RoleNotGranted);
    assert!(ungranted.ops.is_empty());
    assert!(ungranted.facts.entries[0].message.contains("Admin, Auditor, Builder, Consumer"), "{ungranted:?}");
    // A granted role the tenant has archived (or never had) is not allowed either.
    let mut archived = observed();
    archived.tenant_roles[0].1[0].archived_at = Some(at("2025-02-01T00:00:00Z"));
    assert_eq!(
        only_reason(&plan(&[entry("ann@msp.example", TENANT, "Auditor")], true, &archived)),
        StaffReason::RoleNotGranted
    );
}

#[test]
fn a_customer_partner_links_granted_roles_are_the_providers_not_the_tenants() {
    let mut o = observed();
    o.links[0].mode = LinkMode::PartnerInvitation;
    o.links[0].terms.partner_role = Some(PartnerRole::Customer);
    assert_eq!(
        only_reason(&plan(&[entry("ann@msp.example", TENANT, "Auditor")], true, &o)),
        StaffReason::RoleNotGranted
    );
    assert_eq!(only_reason(&plan(&[entry("ann@msp.example", TENANT, "Consumer")], true, &o)), StaffReason::Placed);
}

#[test]
fn someone_who_is_not_an_active_provider_member_is_refused() {
    let mut no_user = observed();
    no_user.people[0].user = None;
    no_user.people[0].provider_membership = None;
    let mut not_member = observed();
    not_member.people[0].provider_membership = None;
    let mut invited = observed();
    invited.people[0].provider_membership.as_mut().expect("member").phase = MembershipPhase::Invited;
    for o in [no_user, not_member, invited] {
        let p = plan(&[entry("ann@msp.example", TENANT, "Builder")], true, &o);
        assert_eq!(only_reason(&p), StaffReason::NotProviderMember);
        assert!(p.ops.is_empty());
    }
}

#[test]
fn a_tenant_without_an_active_link_to_us_is_refused() {
    // Not linked at all (another provider's tenant, or an unknown ID): the plan sees no link.
    let mut o = observed();
    o.people.push(staff_member("ann@msp.example", "org-other"));
    let p = plan(&[entry("ann@msp.example", "org-other", "Builder")], true, &o);
    assert_eq!(only_reason(&p), StaffReason::NoActiveLink);
    assert!(p.ops.is_empty());
    // Observe keeps only Active links; with none, nothing is placed anywhere.
    let mut none = observed();
    none.links.clear();
    assert_eq!(
        only_reason(&plan(&[entry("ann@msp.example", TENANT, "Builder")], true, &none)),
        StaffReason::NoActiveLink
    );
}

#[test]
fn a_disabled_provider_places_nobody_and_revokes_what_it_placed() {
    let mut o = observed();
    o.placed.push(placed("mbr-p1", "ann@msp.example", "Builder"));
    o.people[0].tenant_membership = Some(o.placed[0].membership.clone());
    let p = plan(&[entry("ann@msp.example", TENANT, "Builder")], false, &o);
    assert_eq!(only_reason(&p), StaffReason::ProviderDisabled);
    assert!(matches!(&p.ops[..], [StaffOp::Revoke { membership_id, .. }] if membership_id == "mbr-p1"), "{p:?}");
}

#[test]
fn a_placed_member_keeps_the_row_and_gets_a_new_role() {
    let mut o = observed();
    o.placed.push(placed("mbr-p1", "ann@msp.example", "Builder"));
    o.people[0].tenant_membership = Some(o.placed[0].membership.clone());
    let same = plan(&[entry("ann@msp.example", TENANT, "Builder")], true, &o);
    assert_eq!((only_reason(&same), same.writes()), (StaffReason::Placed, false));
    let other = plan(&[entry("ann@msp.example", TENANT, "Admin")], true, &o);
    assert!(
        matches!(&other.ops[..], [StaffOp::Role { membership_id, role, .. }] if membership_id == "mbr-p1" && role == "Admin")
    );
    assert_eq!(other.changes()[0].field, "serviceProvider.staff[ann@msp.example@org-acme].role");
}

#[test]
fn an_entry_removed_from_the_list_is_revoked() {
    let mut o = observed();
    o.placed.push(placed("mbr-p1", "ann@msp.example", "Builder"));
    let p = plan(&[], true, &o);
    assert!(p.facts.entries.is_empty());
    assert!(matches!(&p.ops[..], [StaffOp::Revoke { membership_id, .. }] if membership_id == "mbr-p1"));
    assert_eq!(p.changes()[0].from.as_deref(), Some("placed"));
}

#[test]
fn an_entry_that_is_refused_now_loses_its_placement() {
    // Ann left the provider: the row we placed for her goes.
    let mut o = observed();
    o.placed.push(placed("mbr-p1", "ann@msp.example", "Builder"));
    o.people[0].tenant_membership = Some(o.placed[0].membership.clone());
    o.people[0].provider_membership = None;
    let p = plan(&[entry("ann@msp.example", TENANT, "Builder")], true, &o);
    assert_eq!(only_reason(&p), StaffReason::NotProviderMember);
    assert!(matches!(&p.ops[..], [StaffOp::Revoke { .. }]));
}

#[test]
fn the_tenants_own_entry_wins_and_its_own_memberships_are_left_alone() {
    // The tenant's spec.members placed Ann through the same link.
    let mut by_tenant = observed();
    by_tenant.people[0].tenant_membership =
        Some(membership("mbr-t1", "ann@msp.example", TENANT, "Consumer", MembershipPhase::Active));
    by_tenant.placed_by_tenant.push("mbr-t1".into());
    let p = plan(&[entry("ann@msp.example", TENANT, "Admin")], true, &by_tenant);
    assert_eq!((only_reason(&p), p.writes()), (StaffReason::PlacedByTenant, false));
    // A membership of the tenant's own (a Membership object): never touched.
    let mut own = observed();
    own.people[0].tenant_membership =
        Some(membership("mbr-own", "ann@msp.example", TENANT, "Consumer", MembershipPhase::Invited));
    let p = plan(&[entry("ann@msp.example", TENANT, "Admin")], true, &own);
    assert_eq!((only_reason(&p), p.writes()), (StaffReason::AlreadyMember, false));
    assert!(!p.facts.status()[0].placed);
}

#[test]
fn archiving_revokes_every_placement() {
    let mut o = observed();
    o.placed.push(placed("mbr-p1", "ann@msp.example", "Builder"));
    o.placed.push(placed("mbr-p2", "bob@msp.example", "Consumer"));
    let p = StaffPlan::revoke_all(&o);
    assert_eq!(p.ops.len(), 2);
    assert!(p.ops.iter().all(|op| matches!(op, StaffOp::Revoke { .. })));
}

#[test]
fn a_second_entry_for_the_same_person_and_tenant_is_ignored() {
    let p = plan(
        &[entry("ann@msp.example", TENANT, "Builder"), entry("Ann@MSP.example", TENANT, "Admin")],
        true,
        &observed(),
    );
    assert_eq!((p.facts.entries.len(), p.ops.len()), (1, 1), "{p:?}");
}
