//! TenantLinks end to end: a service provider's code in a Secret, redeemed by tenants on the
//! real apiserver with PostgreSQL; partner invitations by mail through aiosmtpd.

use std::time::Duration;

use accountops::api::{Organization, TenantLink, TenantLinkPhase};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::harness::{self, TestEnv};
use crate::membership_e2e::token_in;
use crate::store_pg::{self, PgDatabase};
use crate::support::eventually;
use crate::support::operator::Operator;
use crate::support::smtp::{ParsedMail, Security, SmtpServer};

const RESYNC: Duration = Duration::from_secs(2);
pub(crate) const WAIT: Duration = Duration::from_secs(90);

async fn setup() -> Option<(TestEnv, PgDatabase, SmtpServer, Operator)> {
    setup_with(RESYNC).await
}

async fn setup_with(resync: Duration) -> Option<(TestEnv, PgDatabase, SmtpServer, Operator)> {
    let env = harness::test_env().await?;
    let db = store_pg::fresh().await?;
    let smtp = SmtpServer::start(Security::Plain).await?;
    let smtp_url = format!("--smtp-url={}", smtp.url());
    let operator = Operator::start_with(&env, &db.url, &format!("test-{}", env.ns), resync, &[smtp_url.as_str()]);
    Some((env, db, smtp, operator))
}

pub(crate) const ORGS: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Account
metadata: {name: acct}
spec:
  legalName: Test GmbH
  billingAddress: {street: ["Hafenstraße 1"], city: Hamburg, postalCode: "20457", country: DE}
  billingEmail: billing@example.de
  currency: EUR
---
apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata: {name: provider}
spec:
  accountRef: {name: acct}
  displayName: Provider MSP
  roles: [{name: Admin}]
  serviceProvider: {enabled: true, codeLifetime: LIFETIME}
---
apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata: {name: tenant-a}
spec:
  accountRef: {name: acct}
  displayName: Tenant A
  roles: [{name: Admin}, {name: Viewer}]
---
apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata: {name: tenant-b}
spec:
  accountRef: {name: acct}
  displayName: Tenant B
  roles: [{name: Admin, permissions: [members.manage]}]
"#;

pub(crate) fn link(name: &str, tenant: &str, secret: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: TenantLink\nmetadata: {{name: {name}}}\nspec:\n  organizationRef: {{name: {tenant}}}\n  providerCode:\n    secretRef: {{name: {secret}, key: code}}\n  grantedRoles: [Admin]\n  members:\n    - {{email: tech@provider.example.com, role: Admin}}\n"
    )
}

pub(crate) fn code_secret(name: &str, code: &str) -> String {
    format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {{code: \"{code}\"}}\n")
}

pub(crate) async fn provider_code(env: &TestEnv, name: &str) -> Option<String> {
    let secret = env.api::<Secret>().get_opt(name).await.ok()??;
    let bytes = secret.data?.get("code")?.0.clone();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Live memberships of `email` in the organization `org_id`.
async fn staff_in(db: &PgDatabase, email: &str, org_id: &str) -> usize {
    use accountops::store::{memberships, testkit::TestDatabase, users};
    let mut conn = db.store().acquire().await.expect("conn");
    let Some(user) = users::find_by_email(&mut conn, email).await.expect("lookup") else { return 0 };
    memberships::list_by_user(&mut conn, &user.id)
        .await
        .expect("memberships")
        .iter()
        .filter(|m| m.revoked_at.is_none() && matches!(&m.scope, memberships::Scope::Organization(id) if id == org_id))
        .count()
}

fn reason(link: &TenantLink) -> Option<String> {
    link.status.as_ref()?.conditions.0.iter().find(|c| c.type_ == "Ready").map(|c| c.reason.clone())
}

pub(crate) async fn wait_reason(api: &Api<TenantLink>, name: &str, want: &str) -> TenantLink {
    eventually(&format!("{name} {want}"), WAIT, || async {
        let l = api.get(name).await.ok()?;
        (reason(&l)? == want).then_some(l)
    })
    .await
}

pub(crate) async fn wait_phase(api: &Api<TenantLink>, name: &str, want: TenantLinkPhase) -> TenantLink {
    eventually(&format!("{name} {want:?}"), WAIT, || async {
        let l = api.get(name).await.ok()?;
        (l.status.as_ref()?.phase? == want).then_some(l)
    })
    .await
}

#[tokio::test]
async fn a_provider_code_is_redeemed_once_and_a_fresh_one_issued() {
    let Some((env, db, _smtp, operator)) = setup().await else { return };
    env.apply(&ORGS.replace("LIFETIME", "24h")).await;
    let orgs: Api<Organization> = env.api();
    let provider = eventually("the provider's code Secret in status", WAIT, || async {
        let o = orgs.get("provider").await.ok()?;
        (o.status.as_ref()?.provider_code_secret.as_deref() == Some("provider-provider-code")).then_some(o)
    })
    .await;
    let provider_id = provider.status.as_ref().and_then(|s| s.organization_id.clone()).expect("provider id");
    let first = eventually("a code", WAIT, || async { provider_code(&env, "provider-provider-code").await }).await;
    assert!(first.len() >= 22, "at least 128 bits: {first}");

    // The tenant copies the code into a Secret of its own, as a customer would.
    env.apply(&code_secret("given-code", &first)).await;
    env.apply(&link("a-appoints-provider", "tenant-a", "given-code")).await;
    let links: Api<TenantLink> = env.api();
    let active = wait_phase(&links, "a-appoints-provider", TenantLinkPhase::Active).await;
    let status = active.status.as_ref().expect("status");
    assert_eq!(status.counterpart_organization_id.as_deref(), Some(provider_id.as_str()));
    assert!(status.accepted_at.is_some());
    assert!(status.conditions.0.iter().any(|c| c.type_ == "Accepted" && format!("{:?}", c.status) == "True"));
    let tenant_a = orgs.get("tenant-a").await.ok().and_then(|o| o.status?.organization_id).expect("tenant id");
    assert_eq!(staff_in(&db, "tech@provider.example.com", &tenant_a).await, 1, "provider staff joined the tenant");

    // Single use: a second tenant with the same code is refused, and the provider gets a new one.
    env.apply(&link("b-appoints-provider", "tenant-b", "given-code")).await;
    wait_reason(&links, "b-appoints-provider", "CodeAlreadyUsed").await;
    let fresh = eventually("a fresh code", WAIT, || async {
        provider_code(&env, "provider-provider-code").await.filter(|c| *c != first)
    })
    .await;
    env.apply(&code_secret("fresh-code", &fresh)).await;
    env.apply(&link("b-appoints-provider", "tenant-b", "fresh-code")).await;
    wait_phase(&links, "b-appoints-provider", TenantLinkPhase::Active).await;

    // Codes never leak into status, Events or logs.
    let everything = env.kubectl(["get", "tenantlinks,organizations,events", "-o", "yaml"]).await.stdout;
    for code in [&first, &fresh] {
        assert!(!everything.contains(code.as_str()), "a code leaked into status or Events");
        assert!(!operator.log().contains(code.as_str()), "a code leaked into the logs");
    }

    // Deleting the link revokes it and the staff it brought leave the tenant.
    env.kubectl(["delete", "tenantlink", "a-appoints-provider", "--timeout=60s"]).await.ok();
    assert_eq!(staff_in(&db, "tech@provider.example.com", &tenant_a).await, 0, "staff left with the link");
    let orgs_status = eventually("the provider's link count", WAIT, || async {
        let o = orgs.get("provider").await.ok()?;
        let links = o.status.as_ref()?.links.clone()?;
        (links.tenant_count == 1).then_some(links)
    })
    .await;
    assert_eq!(orgs_status.tenant_ids.len(), 1);
    assert_eq!(orgs_status.staff_placed, 1, "the remaining link's technician");
}

#[tokio::test]
async fn unknown_expired_and_foreign_codes_are_refused_with_their_reason() {
    let Some((env, db, _smtp, _operator)) = setup().await else { return };
    env.apply(&ORGS.replace("LIFETIME", "15m")).await;
    let links: Api<TenantLink> = env.api();
    env.apply(&code_secret("made-up", "not-a-real-code-but-long-enough-0000")).await;
    env.apply(&link("unknown", "tenant-a", "made-up")).await;
    wait_reason(&links, "unknown", "CodeUnknown").await;

    let first = eventually("a code", WAIT, || async { provider_code(&env, "provider-provider-code").await }).await;
    // Let it expire unused (the shortest lifetime a spec takes is 15m, so the row is made
    // due at once), then redeem it.
    let expire = "UPDATE provider_codes SET expires_at = to_char(now() AT TIME ZONE 'UTC', \
                  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') WHERE used_at IS NULL AND revoked_at IS NULL";
    let expired =
        sqlx::query(expire).execute(accountops::store::testkit::TestDatabase::store(&db).pool()).await.expect("update");
    assert_eq!(expired.rows_affected(), 1);
    eventually("a code issued after expiry", WAIT, || async {
        provider_code(&env, "provider-provider-code").await.filter(|c| *c != first)
    })
    .await;
    env.apply(&code_secret("stale", &first)).await;
    env.apply(&link("expired", "tenant-a", "stale")).await;
    wait_reason(&links, "expired", "CodeExpired").await;

    // A Secret that is not in the link's namespace cannot be named at all.
    env.apply(&link("missing", "tenant-b", "no-such-secret")).await;
    wait_reason(&links, "missing", "CodeSecretNotFound").await;
}

/// A Membership making `email` an `Admin` (members.manage) of organization object `org`,
/// active at once (no login).
pub(crate) fn partner_admin(org: &str, email: &str) -> String {
    format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: Membership\nmetadata: {{name: {org}-admin}}\nspec:\n  \
         organizationRef: {{name: {org}}}\n  email: {email}\n  roles: [Admin]\n  login: false\n"
    )
}

pub(crate) async fn wait_member_ready(env: &TestEnv, name: &str) {
    let members: Api<accountops::api::Membership> = env.api();
    eventually(&format!("Membership {name} ready"), WAIT, || async {
        let m = members.get(name).await.ok()?;
        let ready =
            m.status.as_ref()?.conditions.0.iter().any(|c| c.type_ == "Ready" && format!("{:?}", c.status) == "True");
        ready.then_some(())
    })
    .await;
}

fn to(mail: &ParsedMail) -> String {
    mail.header("To").unwrap_or_default().to_lowercase()
}

/// Organizations, tenant-b's administrator and the TenantLink `invite-b` inviting tenant-b;
/// returns the link's YAML and tenant-b's ID once the link is pending.
async fn invite_partner(env: &TestEnv) -> (String, String) {
    env.apply(&ORGS.replace("LIFETIME", "24h")).await;
    let orgs: Api<Organization> = env.api();
    let partner_id =
        eventually("tenant-b's ID", WAIT, || async { orgs.get("tenant-b").await.ok()?.status?.organization_id }).await;
    // The invitation goes only to an administrator of the partner.
    env.apply(&partner_admin("tenant-b", "admin@tenant-b.example.com")).await;
    wait_member_ready(env, "tenant-b-admin").await;
    let invite = format!(
        "apiVersion: accountops.dev/v1alpha1\nkind: TenantLink\nmetadata: {{name: invite-b}}\nspec:\n  organizationRef: {{name: tenant-a}}\n  partnerInvitation:\n    organizationId: {partner_id}\n    organizationRole: Partner\n    adminEmail: admin@tenant-b.example.com\n    sharingScope: [Tickets]\n  grantedRoles: [Viewer]\n"
    );
    env.apply(&invite).await;
    wait_phase(&env.api(), "invite-b", TenantLinkPhase::Pending).await;
    (invite, partner_id)
}

/// The accept tokens of the partner invitations mailed so far, once there are `count`.
async fn partner_tokens(smtp: &SmtpServer, count: usize) -> Vec<String> {
    eventually(&format!("{count} partner invitation(s)"), WAIT, || async {
        let mails: Vec<ParsedMail> =
            smtp.messages().into_iter().filter(|m| to(m).contains("admin@tenant-b.example.com")).collect();
        (mails.len() >= count).then(|| mails.iter().map(token_in).collect())
    })
    .await
}

/// `accountops tenant-link accept TOKEN` against `db`.
fn accept(db: &PgDatabase, token: &str) -> std::process::Output {
    crate::membership_e2e::accept_with("tenant-link", db, token)
}

#[tokio::test]
async fn a_partner_invitation_is_mailed_accepted_and_its_staff_come_and_go() {
    let Some((env, db, smtp, _operator)) = setup().await else { return };
    let (invite, partner_id) = invite_partner(&env).await;
    let links: Api<TenantLink> = env.api();
    let token = partner_tokens(&smtp, 1).await.remove(0);
    assert!(accept(&db, &token).status.success());
    wait_phase(&links, "invite-b", TenantLinkPhase::Active).await;
    assert!(!accept(&db, &token).status.success(), "a token works once");

    let unknown =
        invite.replace(&partner_id, "org-00000000-0000-4000-8000-000000000000").replace("invite-b", "invite-nobody");
    env.apply(&unknown).await;
    wait_reason(&links, "invite-nobody", "PartnerNotFound").await;
}

#[tokio::test]
async fn a_new_resend_nonce_mails_a_second_partner_invitation_and_refuses_the_first() {
    let Some((env, db, smtp, _operator)) = setup().await else { return };
    let (invite, _) = invite_partner(&env).await;
    let links: Api<TenantLink> = env.api();
    let first = partner_tokens(&smtp, 1).await.remove(0);
    // The status shows the delivered mail and the invitation's expiry.
    eventually("InvitationDelivered=True with an expiry", WAIT, || async {
        let status = links.get("invite-b").await.ok()?.status?;
        let delivered =
            status.conditions.0.iter().any(|c| c.type_ == "InvitationDelivered" && format!("{:?}", c.status) == "True");
        (delivered && status.invitation_expires_at.is_some()).then_some(())
    })
    .await;
    env.apply(&invite.replace("    sharingScope", "    resendNonce: \"2\"\n    sharingScope")).await;
    let tokens = partner_tokens(&smtp, 2).await;
    assert_eq!(tokens.len(), 2, "one mail per nonce");
    assert_ne!(tokens[1], first, "a new token");
    let refused = accept(&db, &first);
    assert!(!refused.status.success(), "the first token stops working");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("revoked"), "{refused:?}");
    let accepted = accept(&db, &tokens[1]);
    assert!(accepted.status.success(), "{accepted:?}");
    let active = wait_phase(&links, "invite-b", TenantLinkPhase::Active).await;
    assert_eq!(active.status.and_then(|s| s.invitation_expires_at), None, "an answered invitation has no expiry");
}

#[tokio::test]
async fn an_unanswered_partner_invitation_expires_at_its_expiry_not_at_the_next_resync() {
    // A resync far longer than the test: only the expiry can bring the link back.
    let Some((env, db, smtp, _operator)) = setup_with(Duration::from_secs(600)).await else { return };
    invite_partner(&env).await;
    partner_tokens(&smtp, 1).await;
    let links: Api<TenantLink> = env.api();
    // The shortest lifetime a spec takes is 1h: make the invitation due in a few seconds (not
    // touching updated_at, so the change poll does not report it), then let the operator look
    // once (an annotation) so it learns the new expiry.
    let soon = "UPDATE invitations SET expires_at = to_char((now() + interval '4 seconds') AT TIME ZONE 'UTC', \
                'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') WHERE tenant_link_id IS NOT NULL AND accepted_at IS NULL";
    use accountops::store::testkit::TestDatabase;
    let due = sqlx::query(soon).execute(db.store().pool()).await.expect("update");
    assert_eq!(due.rows_affected(), 1);
    env.kubectl(["annotate", "tenantlink", "invite-b", "test/look=once", "--overwrite"]).await.ok();
    let expired = eventually("invite-b Expired at its expiry", Duration::from_secs(60), || async {
        let l = links.get("invite-b").await.ok()?;
        (l.status.as_ref()?.phase? == TenantLinkPhase::Expired).then_some(l)
    })
    .await;
    assert_eq!(reason(&expired).as_deref(), Some("InvitationExpired"), "{:?}", expired.status);
}
