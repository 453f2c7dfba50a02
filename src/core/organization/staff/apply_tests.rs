//! Provider staff placed, re-roled, taken over by the tenant and revoked, on an in-memory
//! SQLite database, with the tenant's TenantLink beside it.

use super::*;
use crate::api::tenant_link::ProviderStaff;
use crate::core::fixtures::*;
use crate::core::organization::{self, DesiredOrganization};
use crate::core::outcome::{Action, Outcome};
use crate::core::plan::Intent;
use crate::core::tenant_link::apply_tests::{PROVIDER_YAML, code_link, facts, issue, member, orgs, run};
use crate::core::{Flags, tenant_link};
use crate::store::memberships::{self, Placement, Scope};
use crate::store::{Store, users};

/// The provider `billing/prov` with these staff entries (`- {...}` lines).
fn provider(staff: &[String]) -> DesiredOrganization {
    let entries: String = staff.iter().map(|e| format!("\n    - {e}")).collect();
    let yaml = PROVIDER_YAML.replace(
        "serviceProvider: {enabled: true}\n",
        &format!("serviceProvider:\n  enabled: true\n  staff:{entries}\n"),
    );
    let yaml = if staff.is_empty() { PROVIDER_YAML.to_owned() } else { yaml };
    DesiredOrganization::new(owner("prov", "uid-prov"), organization_spec(&yaml), false, Flags::default())
}

fn entry(email: &str, tenant: &str, role: &str) -> String {
    format!("{{email: {email}, tenantOrganizationId: {tenant}, role: {role}}}")
}

async fn reconcile(store: &Store, d: &DesiredOrganization) -> Outcome {
    organization::reconcile(store, d, now()).await.expect("organization reconciles")
}

fn reasons(o: &Outcome) -> Vec<(String, String, StaffReason)> {
    let staff = o.facts.staff().expect("staff facts");
    staff.entries.iter().map(|e| (e.email.clone(), e.tenant_organization_id.clone(), e.reason)).collect()
}

/// `email`'s live membership in organization `org`, with who placed it (None: not derived).
async fn in_org(store: &Store, email: &str, org: &str) -> Option<(Vec<String>, Option<Placement>)> {
    let mut conn = store.acquire().await.expect("conn");
    let user = users::find_by_email(&mut conn, email).await.expect("user")?;
    let m = memberships::find_live(&mut conn, &user.id, &Scope::Organization(org.to_owned())).await.expect("m")?;
    let mut by = None;
    for link in crate::store::tenant_links::list_by_organization(&mut conn, org).await.expect("links") {
        for (d, placement) in memberships::list_placed(&mut conn, &link.id).await.expect("placed") {
            if d.id == m.id {
                by = Some(placement);
            }
        }
    }
    Some((m.settings.roles, by))
}

#[tokio::test]
async fn the_provider_places_its_staff_in_a_linked_tenant_and_each_side_keeps_to_its_own() {
    let store = memory_store().await;
    let (eng, prov, ops) = orgs(&store).await;
    member(&store, "prov", "tech@prov.example", "Admin").await;
    member(&store, "prov", "sre@prov.example", "Builder").await;
    // The tenant's own member, who also works for the provider.
    member(&store, "prov", "both@prov.example", "Builder").await;
    member(&store, "eng", "both@prov.example", "Engineer").await;
    let code = issue(&store, &prov).await;
    let link = run(&store, &code_link("eng", "appoint", Some(&code), ""), now()).await;
    assert!(link.is_ready(), "{link:?}");

    let staff = [
        entry("tech@prov.example", &eng, "Engineer"), // granted by the link (grantedRoles: [Engineer])
        entry("sre@prov.example", &eng, "Admin"),     // built-in
        entry("sre@prov.example", &ops, "Builder"),   // ops has no link to us
        entry("ghost@prov.example", &eng, "Builder"), // not a provider member
        entry("both@prov.example", &eng, "Admin"),    // the tenant's own member
    ];
    let first = reconcile(&store, &provider(&staff)).await;
    assert_eq!(first.action, Action::Updated, "{first:?}");
    assert!(first.is_ready());
    assert_eq!(
        reasons(&first),
        vec![
            ("tech@prov.example".into(), eng.clone(), StaffReason::Placed),
            ("sre@prov.example".into(), eng.clone(), StaffReason::Placed),
            ("sre@prov.example".into(), ops.clone(), StaffReason::NoActiveLink),
            ("ghost@prov.example".into(), eng.clone(), StaffReason::NotProviderMember),
            ("both@prov.example".into(), eng.clone(), StaffReason::AlreadyMember),
        ]
    );
    assert!(first.message.contains("staff not placed") && !first.message.contains("more"), "{}", first.message);
    assert_eq!(
        in_org(&store, "tech@prov.example", &eng).await,
        Some((vec!["Engineer".into()], Some(Placement::Provider)))
    );
    assert_eq!(in_org(&store, "sre@prov.example", &ops).await, None);
    assert_eq!(in_org(&store, "ghost@prov.example", &eng).await, None);
    assert_eq!(in_org(&store, "both@prov.example", &eng).await, Some((vec!["Engineer".into()], None)), "untouched");
    let again = reconcile(&store, &provider(&staff)).await;
    assert_eq!((again.action, again.changes.len()), (Action::Unchanged, 0), "{again:?}");

    // The tenant sees the provider's staff on its link, and its own spec.members stay empty.
    let seen = run(&store, &code_link("eng", "appoint", None, ""), now()).await;
    let staff_of = |o: &Outcome| facts(o).provider_staff.clone();
    let shown = |e: &str, r: &str| ProviderStaff { email: e.into(), role: r.into() };
    assert_eq!(staff_of(&seen), vec![shown("sre@prov.example", "Admin"), shown("tech@prov.example", "Engineer")]);
    assert!(facts(&seen).members.is_empty());

    // The tenant names tech in its own spec.members: the tenant's entry takes the row over.
    let tenant_members = "members:\n  - {email: tech@prov.example, role: Admin}\n";
    let claimed = run(&store, &code_link("eng", "appoint", None, tenant_members), now()).await;
    assert_eq!(facts(&claimed).members, vec!["tech@prov.example".to_owned()]);
    assert_eq!(staff_of(&claimed), vec![shown("sre@prov.example", "Admin")]);
    assert_eq!(in_org(&store, "tech@prov.example", &eng).await, Some((vec!["Admin".into()], Some(Placement::Tenant))));
    let after = reconcile(&store, &provider(&staff)).await;
    assert_eq!(reasons(&after)[0].2, StaffReason::PlacedByTenant);
    assert_eq!(after.action, Action::Unchanged, "the provider leaves the tenant's row alone: {after:?}");

    // The tenant drops tech again: its row goes, and the provider places tech once more.
    run(&store, &code_link("eng", "appoint", None, ""), now()).await;
    assert_eq!(in_org(&store, "tech@prov.example", &eng).await, None);
    let back = reconcile(&store, &provider(&staff)).await;
    assert_eq!((reasons(&back)[0].2, back.action), (StaffReason::Placed, Action::Updated));
    // Nothing in the spec moved: news about the staff, not a drift correction.
    let event = back.event(false).expect("an event");
    assert_eq!((event.reason, event.warning), ("StaffChanged", false));
    assert_eq!(first.event(true).map(|e| e.reason), Some("Updated"), "a spec change is an update");

    // The provider re-roles sre and removes tech.
    let fewer = [entry("sre@prov.example", &eng, "Consumer")];
    let edited = reconcile(&store, &provider(&fewer)).await;
    assert_eq!(edited.action, Action::Updated);
    assert_eq!(in_org(&store, "tech@prov.example", &eng).await, None);
    assert_eq!(
        in_org(&store, "sre@prov.example", &eng).await,
        Some((vec!["Consumer".into()], Some(Placement::Provider)))
    );

    // The tenant revokes the whole link: every staff membership goes, and the provider cannot
    // place anyone any more.
    let mut gone = code_link("eng", "appoint", None, "");
    gone.intent = Intent::Deleting(crate::api::DeletionPolicy::Delete);
    let revoked = tenant_link::reconcile(&store, &gone, now(), &crate::mail::MailSettings::default()).await;
    assert_eq!(revoked.expect("revoked").action, Action::Archived);
    assert_eq!(in_org(&store, "sre@prov.example", &eng).await, None);
    let unlinked = reconcile(&store, &provider(&fewer)).await;
    assert_eq!(reasons(&unlinked)[0].2, StaffReason::NoActiveLink);
    assert_eq!(unlinked.action, Action::Unchanged);
}

#[tokio::test]
async fn switching_the_provider_off_or_archiving_it_revokes_its_placements() {
    let store = memory_store().await;
    let (eng, prov, _) = orgs(&store).await;
    member(&store, "prov", "tech@prov.example", "Admin").await;
    let code = issue(&store, &prov).await;
    run(&store, &code_link("eng", "appoint", Some(&code), ""), now()).await;
    let staff = [entry("tech@prov.example", &eng, "Builder")];
    reconcile(&store, &provider(&staff)).await;
    assert!(in_org(&store, "tech@prov.example", &eng).await.is_some());
    // serviceProvider removed altogether: the row still says provider, so its staff are seen.
    let plain = ORGANIZATION_YAML.replace("Acme Engineering", "Northwind MSP");
    let off = DesiredOrganization::new(owner("prov", "uid-prov"), organization_spec(&plain), false, Flags::default());
    let out = reconcile(&store, &off).await;
    assert_eq!(out.action, Action::Updated, "{out:?}");
    assert_eq!(in_org(&store, "tech@prov.example", &eng).await, None);
    // Back on: placed again; archived: revoked again.
    reconcile(&store, &provider(&staff)).await;
    assert!(in_org(&store, "tech@prov.example", &eng).await.is_some());
    let mut deleting = provider(&staff);
    deleting.intent = Intent::Deleting(crate::api::DeletionPolicy::Delete);
    // Its staff are its members, so deletion waits for them first; placements stay meanwhile.
    assert_eq!(reconcile(&store, &deleting).await.action, Action::DeletionBlocked);
    assert!(in_org(&store, "tech@prov.example", &eng).await.is_some());
    {
        let mut conn = store.acquire().await.expect("conn");
        let user = users::find_by_email(&mut conn, "tech@prov.example").await.expect("u").expect("user");
        let here = Scope::Organization(prov.clone());
        let m = memberships::find_live(&mut conn, &user.id, &here).await.expect("m").expect("member");
        memberships::revoke(&mut conn, &m.id, now()).await.expect("revoke");
    }
    assert_eq!(reconcile(&store, &deleting).await.action, Action::Archived);
    assert_eq!(in_org(&store, "tech@prov.example", &eng).await, None);
}
