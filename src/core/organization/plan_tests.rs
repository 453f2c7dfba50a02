//! Every Organization plan, from a YAML spec and rows built in code. No database.

use super::*;
use crate::api::DeletionPolicy;
use crate::api::Reason;
use crate::core::fixtures::*;
use crate::core::outcome::{Action, Change, Kind};
use crate::core::plan::{Hold, Intent};
use crate::store::accounts::LifecycleState;

fn desired() -> DesiredOrganization {
    DesiredOrganization::new(owner("eng", UID), organization_spec(ORGANIZATION_YAML), false, Flags::default())
}

/// The same object, now being deleted with `policy`.
fn deleting(d: &DesiredOrganization, policy: DeletionPolicy) -> DesiredOrganization {
    DesiredOrganization { intent: Intent::Deleting(policy), ..d.clone() }
}

fn account(state: LifecycleState) -> Account {
    let owner = stored(&owner("acme", "uid-acme"), true);
    account_row("acct-1", crate::core::account::details(&account_spec(ACCOUNT_YAML)), Some(owner), state)
}

fn mine() -> Organization {
    organization_row(
        "org-1",
        "acct-1",
        "Acme Engineering",
        Some(stored(&owner("eng", UID), true)),
        LifecycleState::Active,
    )
}

/// The database as the spec describes it: parent active, row, roles and groups matching.
fn in_sync() -> ObservedOrganization {
    ObservedOrganization {
        account: Some(account(LifecycleState::Active)),
        row: Some(mine()),
        external: None,
        offered: false,
        roles: vec![
            role("org-1", "Admin", &["org.admin", "billing.read"]),
            role("org-1", "Engineer", &["tickets.write"]),
        ],
        groups: vec![group("org-1", "oncall", Some("Paged at night")), group("org-1", "staff", None)],
        memberships: 0,
        unused_codes: 0,
        staff: None,
    }
}

fn update_of(observed: &ObservedOrganization) -> (OrganizationWrite, Vec<Change>) {
    match plan(&desired(), observed) {
        OrganizationPlan::Update { id, reactivate: false, write: Some(write), changes } if id == "org-1" => {
            (write, changes)
        }
        other => panic!("expected an update of org-1, got {other:?}"),
    }
}

#[test]
fn creates_the_row_with_its_roles_and_groups_under_the_account() {
    let observed = ObservedOrganization { account: Some(account(LifecycleState::Active)), ..Default::default() };
    let plan = plan(&desired(), &observed);
    let OrganizationPlan::Create { owner: o, write, changes } = &plan else { panic!("{plan:?}") };
    assert_eq!(o, &owner("eng", UID));
    assert_eq!(
        (write.account_id.as_str(), write.name.as_str(), write.service_provider),
        ("acct-1", "Acme Engineering", false)
    );
    assert_eq!(
        write.roles,
        [
            RoleWrite::Upsert { name: "Admin".into(), permissions: vec!["org.admin".into(), "billing.read".into()] },
            RoleWrite::Upsert { name: "Engineer".into(), permissions: vec!["tickets.write".into()] },
        ]
    );
    assert_eq!(
        write.groups,
        [
            GroupWrite::Upsert { name: "oncall".into(), description: Some("Paged at night".into()) },
            GroupWrite::Upsert { name: "staff".into(), description: None },
        ]
    );
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        ["displayName", "serviceProvider", "roles[Admin]", "roles[Engineer]", "groups[oncall]", "groups[staff]"]
    );
}

#[test]
fn waits_for_an_account_without_a_row() {
    let plan = plan(&desired(), &ObservedOrganization::default());
    let OrganizationPlan::Hold(hold) = &plan else { panic!("{plan:?}") };
    assert_eq!(hold.reason(Kind::Organization), "AccountNotReady");
    assert!(hold.message(Kind::Organization).contains("Account acme"), "{}", hold.message(Kind::Organization));
    assert_eq!(plan.action(), Action::Waiting);
    assert!(!plan.writes());
}

#[test]
fn waits_for_an_archived_account_even_with_a_row() {
    let observed = ObservedOrganization { account: Some(account(LifecycleState::Archived)), ..in_sync() };
    let plan = plan(&desired(), &observed);
    assert_eq!(plan.action(), Action::Waiting);
    let OrganizationPlan::Hold(hold) = &plan else { panic!("{plan:?}") };
    assert!(hold.message(Kind::Organization).contains("acct-1 is archived"));
}

#[test]
fn a_row_that_matches_is_a_noop_whatever_the_permission_order() {
    let mut observed = in_sync();
    observed.roles[0].permissions.reverse();
    assert_eq!(plan(&desired(), &observed), OrganizationPlan::NoOp { id: "org-1".into() });
}

#[test]
fn update_display_name() {
    let mut observed = in_sync();
    if let Some(row) = observed.row.as_mut() {
        row.name = "Eng".into();
    }
    let (write, changes) = update_of(&observed);
    assert!(write.fields);
    assert!(write.roles.is_empty() && write.groups.is_empty());
    assert_eq!(changes, [Change::new("displayName", Some("Eng".into()), Some("Acme Engineering".into()))]);
}

#[test]
fn update_service_provider() {
    let spec = organization_spec(&format!("{ORGANIZATION_YAML}serviceProvider: {{codeLifetime: 48h}}\n"));
    let d = DesiredOrganization::new(owner("eng", UID), spec, false, Flags::default());
    let plan = plan(&d, &in_sync());
    let OrganizationPlan::Update { write: Some(write), changes, .. } = &plan else { panic!("{plan:?}") };
    assert!(write.fields && write.service_provider);
    assert_eq!(changes, &[Change::new("serviceProvider", Some("false".into()), Some("true".into()))]);
}

#[test]
fn a_provider_turned_off_has_its_unused_codes_revoked() {
    let with =
        |yaml: &str| DesiredOrganization::new(owner("eng", UID), organization_spec(yaml), false, Flags::default());
    let off = with(&format!("{ORGANIZATION_YAML}serviceProvider: {{enabled: false}}\n"));
    let mut provider_row = in_sync();
    if let Some(row) = provider_row.row.as_mut() {
        row.service_provider = true;
    }
    provider_row.unused_codes = 2;
    // enabled: false is no provider: the flag goes and the open codes with it.
    let p = plan(&off, &provider_row);
    let OrganizationPlan::Update { write: Some(write), changes, .. } = &p else { panic!("{p:?}") };
    assert!(!write.service_provider && write.fields && write.revoke_codes);
    assert_eq!(
        changes,
        &[
            Change::new("serviceProvider", Some("true".into()), Some("false".into())),
            Change::new("serviceProvider.codes", Some("2 unused".into()), Some("revoked".into())),
        ]
    );
    // serviceProvider removed: the same; codes left by an earlier run are revoked even when
    // the flag is already off.
    let mut flag_off = in_sync();
    flag_off.unused_codes = 1;
    let p = plan(&desired(), &flag_off);
    let OrganizationPlan::Update { write: Some(write), changes, .. } = &p else { panic!("{p:?}") };
    assert!(write.revoke_codes && !write.fields);
    assert_eq!(changes, &[Change::new("serviceProvider.codes", Some("1 unused".into()), Some("revoked".into()))]);
    // A provider keeps its codes; a non-provider without codes has nothing to do.
    let on = with(&format!("{ORGANIZATION_YAML}serviceProvider: {{enabled: true}}\n"));
    let p = plan(&on, &provider_row);
    assert!(matches!(&p, OrganizationPlan::NoOp { .. }), "{p:?}");
    assert!(matches!(plan(&desired(), &in_sync()), OrganizationPlan::NoOp { .. }));
}

#[test]
fn update_adds_a_role() {
    let mut observed = in_sync();
    observed.roles.remove(1);
    let (write, changes) = update_of(&observed);
    assert!(!write.fields, "the organization's own fields are not rewritten");
    assert_eq!(write.roles, [RoleWrite::Upsert { name: "Engineer".into(), permissions: vec!["tickets.write".into()] }]);
    assert_eq!(changes, [Change::new("roles[Engineer]", None, Some(r#"["tickets.write"]"#.into()))]);
}

#[test]
fn update_revives_an_archived_role_the_spec_lists_again() {
    let mut observed = in_sync();
    observed.roles[1].archived_at = Some(at("2025-02-01T00:00:00Z"));
    let (write, _) = update_of(&observed);
    assert_eq!(write.roles, [RoleWrite::Upsert { name: "Engineer".into(), permissions: vec!["tickets.write".into()] }]);
}

#[test]
fn update_archives_a_role_the_spec_dropped() {
    let mut observed = in_sync();
    observed.roles.push(role("org-1", "Billing", &["billing.write"]));
    let (write, changes) = update_of(&observed);
    assert_eq!(write.roles, [RoleWrite::Archive { id: "role-Billing".into(), name: "Billing".into() }]);
    assert_eq!(changes, [Change::new("roles[Billing]", Some(r#"["billing.write"]"#.into()), None)]);
}

#[test]
fn update_role_permissions() {
    let mut observed = in_sync();
    observed.roles[1].permissions = vec!["tickets.read".into()];
    let (write, changes) = update_of(&observed);
    assert_eq!(write.roles, [RoleWrite::Upsert { name: "Engineer".into(), permissions: vec!["tickets.write".into()] }]);
    assert_eq!(
        changes,
        [Change::new(
            "roles[Engineer].permissions",
            Some(r#"["tickets.read"]"#.into()),
            Some(r#"["tickets.write"]"#.into())
        )]
    );
}

#[test]
fn update_adds_a_group() {
    let mut observed = in_sync();
    observed.groups.remove(0);
    let (write, changes) = update_of(&observed);
    assert_eq!(
        write.groups,
        [GroupWrite::Upsert { name: "oncall".into(), description: Some("Paged at night".into()) }]
    );
    assert_eq!(changes, [Change::new("groups[oncall]", None, Some("Paged at night".into()))]);
}

#[test]
fn update_archives_a_group_the_spec_dropped() {
    let mut observed = in_sync();
    observed.groups.push(group("org-1", "alumni", None));
    let (write, changes) = update_of(&observed);
    assert_eq!(write.groups, [GroupWrite::Archive { id: "grp-alumni".into(), name: "alumni".into() }]);
    assert_eq!(changes, [Change::new("groups[alumni]", Some(String::new()), None)]);
}

#[test]
fn update_group_description() {
    let mut observed = in_sync();
    observed.groups[1].description = Some("Everyone".into());
    let (write, changes) = update_of(&observed);
    assert_eq!(write.groups, [GroupWrite::Upsert { name: "staff".into(), description: None }]);
    assert_eq!(changes, [Change::new("groups[staff].description", Some("Everyone".into()), None)]);
}

#[test]
fn deletion_archives_without_memberships_and_ignores_the_account() {
    let d = deleting(&desired(), DeletionPolicy::Delete);
    let observed = ObservedOrganization { account: None, ..in_sync() };
    assert_eq!(plan(&d, &observed), OrganizationPlan::Archive { id: "org-1".into() });
}

#[test]
fn deletion_is_blocked_while_memberships_live() {
    let d = deleting(&desired(), DeletionPolicy::Delete);
    let observed = ObservedOrganization { memberships: 3, ..in_sync() };
    let plan = plan(&d, &observed);
    let OrganizationPlan::Hold(hold) = &plan else { panic!("{plan:?}") };
    assert_eq!(hold.reason(Kind::Organization), "HasMemberships");
    assert!(hold.message(Kind::Organization).contains("3 live memberships"), "{}", hold.message(Kind::Organization));
    let d = deleting(&desired(), DeletionPolicy::Orphan);
    assert_eq!(super::plan(&d, &observed), OrganizationPlan::Orphan { id: "org-1".into() });
}

#[test]
fn deletion_without_a_row_has_nothing_to_do() {
    let d = deleting(&desired(), DeletionPolicy::Delete);
    assert_eq!(plan(&d, &ObservedOrganization::default()), OrganizationPlan::Gone);
}

#[test]
fn a_row_under_another_account_is_a_conflict() {
    let mut observed = in_sync();
    if let Some(row) = observed.row.as_mut() {
        row.account_id = "acct-2".into();
    }
    let plan = plan(&desired(), &observed);
    assert_eq!(
        plan,
        OrganizationPlan::Hold(Hold::AccountMismatch {
            id: "org-1".into(),
            actual: "acct-2".into(),
            expected: "acct-1".into()
        })
    );
    assert_eq!(plan.action(), Action::Conflict);
}

#[test]
fn adoption_of_a_released_row_needs_the_annotation() {
    let earlier = stored(&owner("eng", "uid-0"), false);
    let row = organization_row("org-1", "acct-1", "Acme Engineering", Some(earlier), LifecycleState::Archived);
    let mut observed = ObservedOrganization { row: Some(row), ..in_sync() };
    assert_eq!(plan(&desired(), &observed).action(), Action::AdoptionRequired);
    let mut d = desired();
    d.flags.adopt = true;
    observed.groups.clear();
    let plan = plan(&d, &observed);
    let OrganizationPlan::TakeOver {
        how: crate::core::TakeOver::Adopt,
        id,
        reactivate,
        write: Some(write),
        changes,
        ..
    } = &plan
    else {
        panic!("{plan:?}")
    };
    assert_eq!((id.as_str(), *reactivate), ("org-1", true));
    assert_eq!(write.groups.len(), 2);
    assert_eq!(changes[0], Change::new("state", Some("archived".into()), Some("active".into())));
}

#[test]
fn import_and_conflict_by_external_id() {
    let mut d = desired();
    d.flags.external_id = Some("org-9".into());
    let unowned = organization_row("org-9", "acct-1", "Acme Engineering", None, LifecycleState::Active);
    let observed = ObservedOrganization { row: None, external: Some(unowned), ..in_sync() };
    let namespace = d.owner.namespace.clone();
    assert_eq!(
        plan(&d, &observed),
        OrganizationPlan::Hold(Hold::NotOffered { id: "org-9".into(), previous: None, namespace }),
        "a platform row is not imported without an offer"
    );
    let observed = ObservedOrganization { offered: true, ..observed };
    let plan = plan(&d, &observed);
    assert!(
        matches!(&plan, OrganizationPlan::TakeOver { how: crate::core::TakeOver::Import, id, write: None, .. } if id == "org-9"),
        "{plan:?}"
    );

    let theirs = organization_row("org-9", "acct-1", "Acme Engineering", Some(elsewhere()), LifecycleState::Active);
    let observed = ObservedOrganization { row: None, external: Some(theirs), ..in_sync() };
    assert_eq!(
        super::plan(&d, &observed),
        OrganizationPlan::Hold(Hold::OwnedElsewhere { id: "org-9".into(), owner: elsewhere() })
    );
}

#[test]
fn observe_only_reports_role_drift() {
    let mut d = desired();
    d.flags.observe_only = true;
    let mut observed = in_sync();
    observed.roles.pop();
    let plan = plan(&d, &observed);
    assert_eq!(plan.action(), Action::DriftDetected);
    assert_eq!(plan.changes()[0].field, "roles[Engineer]");
    assert!(!plan.writes());
}

/// An Organization spec that is a service provider with one staff entry.
fn provider_desired() -> DesiredOrganization {
    let yaml = format!(
        "{ORGANIZATION_YAML}serviceProvider:\n  enabled: true\n  staff:\n    \
         - {{email: ann@msp.example, tenantOrganizationId: org-t, role: Builder}}\n"
    );
    DesiredOrganization::new(owner("eng", UID), organization_spec(&yaml), false, Flags::default())
}

#[test]
fn staff_are_planned_only_beside_a_current_row_and_revoked_with_an_archived_one() {
    use super::staff::{ObservedStaff, StaffOp, StaffReason};
    let d = provider_desired();
    let placed = |observed: &ObservedOrganization| {
        let mut o = observed.clone();
        let mut seen = ObservedStaff::default();
        let m = crate::store::memberships::Membership {
            id: "mbr-p".into(),
            user_id: "usr-ann".into(),
            scope: crate::store::memberships::Scope::Organization("org-t".into()),
            settings: crate::core::tenant_link::staff_settings("Builder"),
            phase: crate::store::memberships::MembershipPhase::Active,
            revoked_at: None,
            owner: None,
            created_at: now(),
            updated_at: now(),
        };
        seen.placed.push(super::staff::Placed {
            membership: m,
            email: "ann@msp.example".into(),
            link_id: "tl-1".into(),
            tenant_organization_id: "org-t".into(),
        });
        o.staff = Some(seen);
        o
    };
    // A current row: the entry is planned (ann is no member here, so it waits and her row goes).
    let current = placed(&in_sync());
    let p = plan(&d, &current);
    let s = plan_staff(&d, &p, &current);
    assert_eq!(s.facts.entries[0].reason, StaffReason::NotProviderMember);
    assert!(matches!(&s.ops[..], [StaffOp::Revoke { .. }]));
    // A new row: every entry waits, nothing is written for staff.
    let fresh = ObservedOrganization { row: None, roles: vec![], groups: vec![], ..in_sync() };
    let p = plan(&d, &fresh);
    assert!(matches!(p, OrganizationPlan::Create { .. }));
    let s = plan_staff(&d, &p, &fresh);
    assert_eq!((s.facts.entries.len(), s.writes()), (1, false));
    // A hold (the account is gone) changes no placement.
    let held = ObservedOrganization { account: None, ..current.clone() };
    let p = plan(&d, &held);
    assert!(matches!(p, OrganizationPlan::Hold(_)));
    assert_eq!(plan_staff(&d, &p, &held), super::staff::StaffPlan::default());
    // Archived: every placement is revoked; orphaned: left as it is.
    let archive = deleting(&d, DeletionPolicy::Delete);
    let p = plan(&archive, &current);
    assert!(matches!(p, OrganizationPlan::Archive { .. }), "{p:?}");
    assert!(matches!(&plan_staff(&archive, &p, &current).ops[..], [StaffOp::Revoke { .. }]));
    let orphan = deleting(&d, DeletionPolicy::Orphan);
    let p = plan(&orphan, &current);
    assert!(plan_staff(&orphan, &p, &current).ops.is_empty());
    // Observe-only writes no staff.
    let watching = DesiredOrganization { flags: Flags { observe_only: true, ..Flags::default() }, ..d.clone() };
    let p = plan(&watching, &current);
    assert_eq!(plan_staff(&watching, &p, &current), super::staff::StaffPlan::default());
}

#[test]
fn the_ready_message_names_the_first_refused_staff_entries_only() {
    use super::staff::{StaffEntry, StaffFacts, StaffPlan, StaffReason};
    let entry = |i: usize| StaffEntry {
        email: format!("p{i}@msp.example"),
        tenant_organization_id: "org-t".into(),
        role: "Builder".into(),
        reason: StaffReason::NoActiveLink,
        message: String::new(),
    };
    let staff = StaffPlan { ops: Vec::new(), facts: StaffFacts { entries: (0..8).map(entry).collect(), written: 0 } };
    let out = super::with_staff(crate::core::fixtures::outcome(Action::Unchanged, Reason::Available), &staff);
    assert!(
        out.message.contains("p4@msp.example@org-t (NoActiveLink) and 3 more (see status.staff)"),
        "{}",
        out.message
    );
    assert!(!out.message.contains("p5@"), "{}", out.message);
    assert_eq!(out.facts.staff().map(|s| s.entries.len()), Some(8), "every entry in the facts");
}
