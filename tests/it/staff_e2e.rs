//! Staff managed by the provider, end to end: a provider namespace and a tenant namespace, each
//! with its own operator, on one cluster and one PostgreSQL database. The provider places its
//! members in the tenant from its own Organization (found through the link in the database, never
//! through the tenant's namespace); the tenant sees them on its TenantLink and ends it all by
//! deleting the link. Every refusal is tried: a member of no provider, an organization with no
//! link to the provider, a role the link does not grant, and a tenant namespace declaring staff
//! for a provider it is not. The operators resync rarely, so each side learns of the other's
//! change through the database poll.

use std::time::Duration;

use accountops::api::{Organization, TenantLink, TenantLinkPhase};
use accountops::store::testkit::TestDatabase;
use kube::api::Api;

use crate::harness::{self, TestEnv};
use crate::store_pg::{self, PgDatabase};
use crate::support::eventually;
use crate::support::operator::Operator;
use crate::tenant_link_e2e::{WAIT, code_secret, provider_code, wait_member_ready, wait_phase};

/// Longer than the test: what one side does reaches the other's objects through the
/// operator's change poll, not through a resync.
const RESYNC: Duration = Duration::from_secs(600);
/// Both operators record this cluster identity: the namespace is the only boundary.
const CLUSTER: &str = "staff-cluster";

const ACCOUNT: &str = "apiVersion: accountops.dev/v1alpha1\nkind: Account\nmetadata: {name: acct}\nspec:\n  \
    legalName: Test GmbH\n  billingAddress: {street: [\"Hafenstraße 1\"], city: Hamburg, postalCode: \"20457\", \
    country: DE}\n  billingEmail: billing@example.de\n  currency: EUR\n---\n";

/// An Organization `name` with roles `roles` and this `serviceProvider` block (or none).
fn organization(name: &str, roles: &str, provider: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Organization\nmetadata: {{name: {name}}}\nspec:\n  \
         accountRef: {{name: acct}}\n  displayName: {name}\n  roles: {roles}\n{provider}"
    )
}

/// `serviceProvider` with these staff entries `(email, tenant ID, role)`.
fn provider(staff: &[(&str, &str, &str)]) -> String {
    let mut out = "  serviceProvider:\n    enabled: true\n".to_owned();
    if !staff.is_empty() {
        out.push_str("    staff:\n");
        for (email, tenant, role) in staff {
            out.push_str(&format!("      - {{email: {email}, tenantOrganizationId: {tenant}, role: {role}}}\n"));
        }
    }
    out
}

/// A member of organization object `org` holding `role`, active at once (no login).
fn member(name: &str, org: &str, email: &str, role: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata: {{name: {name}}}\nspec:\n  \
         organizationRef: {{name: {org}}}\n  email: {email}\n  roles: [{role}]\n  login: false\n"
    )
}

const TENANT_ROLES: &str = "[{name: Admin}, {name: Auditor}, {name: Finance}]";

struct Sides {
    msp: TestEnv,
    tenant: TestEnv,
    db: PgDatabase,
    _operators: (Operator, Operator),
}

async fn sides() -> Option<Sides> {
    let msp = harness::test_env().await?;
    let tenant = harness::test_env().await?;
    let db = store_pg::fresh().await?;
    db.store().migrate().await.expect("migrate");
    let a = Operator::start_with(&msp, &db.url, CLUSTER, RESYNC, &[]);
    let b = Operator::start_with(&tenant, &db.url, CLUSTER, RESYNC, &[]);
    Some(Sides { msp, tenant, db, _operators: (a, b) })
}

async fn organization_id(env: &TestEnv, name: &str) -> String {
    let api: Api<Organization> = env.api();
    eventually(&format!("{name}'s ID"), WAIT, || async { api.get(name).await.ok()?.status?.organization_id }).await
}

/// The `(email, tenant, reason)` of each staff entry of `name` once `done` holds for them.
async fn staff_status(
    env: &TestEnv,
    name: &str,
    what: &str,
    done: impl Fn(&[(String, String, String)]) -> bool,
) -> Vec<(String, String, String)> {
    let api: Api<Organization> = env.api();
    eventually(what, WAIT, || async {
        let o = api.get(name).await.ok()?;
        let status = o.status?;
        (status.observed_generation == o.metadata.generation).then_some(())?;
        let entries: Vec<_> = status
            .staff
            .iter()
            .map(|s| (s.email.clone(), s.tenant_organization_id.clone(), s.reason.clone()))
            .collect();
        done(&entries).then_some(entries)
    })
    .await
}

/// Live memberships of `email` in organization `org_id`, with their roles and who placed them.
async fn memberships_of(db: &PgDatabase, email: &str, org_id: &str) -> Vec<(String, Option<String>)> {
    let sql = "SELECT m.role_names, m.placed_by FROM memberships m JOIN users u ON u.id = m.user_id \
               WHERE lower(u.email) = lower($1) AND m.organization_id = $2 AND m.revoked_at IS NULL";
    sqlx::query_as(sql).bind(email).bind(org_id).fetch_all(db.store().pool()).await.expect(sql)
}

#[tokio::test]
async fn the_provider_places_its_staff_from_its_own_namespace_and_the_tenant_can_end_it() {
    let Some(s) = sides().await else { return };
    // The provider: its organization and two of its people.
    s.msp.apply(&(ACCOUNT.to_owned() + &organization("msp", "[{name: Admin}]", &provider(&[])))).await;
    s.msp.apply(&member("tech", "msp", "tech@msp.example", "Admin")).await;
    s.msp.apply(&member("sre", "msp", "sre@msp.example", "Admin")).await;
    wait_member_ready(&s.msp, "tech").await;
    wait_member_ready(&s.msp, "sre").await;
    let msp_id = organization_id(&s.msp, "msp").await;
    // The tenant: its organization appoints the provider with the code handed over; another
    // organization of the same namespace has no link to it. Its own member boss.
    let tenant_orgs =
        organization("tenant", TENANT_ROLES, "") + "---\n" + &organization("unlinked", "[{name: Admin}]", "");
    s.tenant.apply(&(ACCOUNT.to_owned() + &tenant_orgs)).await;
    s.tenant.apply(&member("boss", "tenant", "boss@tenant.example", "Admin")).await;
    let code = eventually("a code", WAIT, || async { provider_code(&s.msp, "msp-provider-code").await }).await;
    s.tenant.apply(&code_secret("msp-code", &code)).await;
    let link = "apiVersion: accountops.dev/v1alpha1\nkind: TenantLink\nmetadata: {name: appoint-msp}\nspec:\n  \
                organizationRef: {name: tenant}\n  providerCode:\n    secretRef: {name: msp-code, key: code}\n  \
                grantedRoles: [Auditor]\n";
    s.tenant.apply(link).await;
    let links: Api<TenantLink> = s.tenant.api();
    wait_phase(&links, "appoint-msp", TenantLinkPhase::Active).await;
    let (tenant_id, unlinked_id) =
        (organization_id(&s.tenant, "tenant").await, organization_id(&s.tenant, "unlinked").await);

    let staff = [
        ("tech@msp.example", tenant_id.as_str(), "Auditor"), // a role the link grants
        ("sre@msp.example", tenant_id.as_str(), "Finance"),  // a tenant role it does not grant
        ("sre@msp.example", unlinked_id.as_str(), "Builder"), // no link to the provider
        ("ghost@msp.example", tenant_id.as_str(), "Builder"), // no member of the provider
        ("boss@tenant.example", tenant_id.as_str(), "Admin"), // the tenant's own, not the provider's
    ];
    s.msp.apply(&(ACCOUNT.to_owned() + &organization("msp", "[{name: Admin}]", &provider(&staff)))).await;
    let reasons = staff_status(&s.msp, "msp", "the staff entries", |e| e.len() == 5).await;
    let said: Vec<&str> = reasons.iter().map(|(_, _, r)| r.as_str()).collect();
    assert_eq!(said, ["Placed", "RoleNotGranted", "NoActiveLink", "NotProviderMember", "NotProviderMember"]);
    assert_eq!(
        memberships_of(&s.db, "tech@msp.example", &tenant_id).await,
        [("[\"Auditor\"]".into(), Some("provider".into()))]
    );
    assert!(memberships_of(&s.db, "sre@msp.example", &tenant_id).await.is_empty());
    assert!(memberships_of(&s.db, "sre@msp.example", &unlinked_id).await.is_empty());
    assert!(memberships_of(&s.db, "ghost@msp.example", &tenant_id).await.is_empty());
    assert_eq!(
        memberships_of(&s.db, "boss@tenant.example", &tenant_id).await,
        [("[\"Admin\"]".into(), None)],
        "untouched"
    );

    // The tenant sees the provider's staff on its link, without editing anything.
    let seen = eventually("the provider's staff on the tenant's link", WAIT, || async {
        let l = links.get("appoint-msp").await.ok()?;
        let staff = l.status?.provider_staff;
        (!staff.is_empty()).then_some(staff)
    })
    .await;
    assert_eq!((seen[0].email.as_str(), seen[0].role.as_str()), ("tech@msp.example", "Auditor"));

    // The tenant's namespace declares staff for a provider it is not: its organization has a
    // link to msp, but as the tenant; nothing is placed in msp.
    let fake = provider(&[("boss@tenant.example", msp_id.as_str(), "Admin")]);
    s.tenant.apply(&(ACCOUNT.to_owned() + &organization("tenant", TENANT_ROLES, &fake))).await;
    let refused = staff_status(&s.tenant, "tenant", "the tenant's own staff entry", |e| e.len() == 1).await;
    assert_eq!(refused[0].2, "NoActiveLink");
    assert!(memberships_of(&s.db, "boss@tenant.example", &msp_id).await.is_empty());
    s.tenant.apply(&(ACCOUNT.to_owned() + &organization("tenant", TENANT_ROLES, ""))).await;

    // The provider re-roles tech (a built-in role) and the tenant revokes the whole link.
    let admin = [("tech@msp.example", tenant_id.as_str(), "Admin")];
    s.msp.apply(&(ACCOUNT.to_owned() + &organization("msp", "[{name: Admin}]", &provider(&admin)))).await;
    eventually("tech re-roled", WAIT, || async {
        let now = memberships_of(&s.db, "tech@msp.example", &tenant_id).await;
        (now == [("[\"Admin\"]".to_owned(), Some("provider".to_owned()))]).then_some(())
    })
    .await;
    s.tenant.kubectl(["delete", "tenantlink", "appoint-msp", "--timeout=60s"]).await.ok();
    assert!(memberships_of(&s.db, "tech@msp.example", &tenant_id).await.is_empty(), "the staff left with the link");
    let after = staff_status(&s.msp, "msp", "tech refused once the link is gone", |e| {
        e.first().is_some_and(|(_, _, r)| r == "NoActiveLink")
    })
    .await;
    assert_eq!(after.len(), 1);
    assert!(memberships_of(&s.db, "tech@msp.example", &tenant_id).await.is_empty(), "not placed again");
}
