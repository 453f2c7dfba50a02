//! TenantLink plans carried out on an in-memory SQLite database.

use crate::api::Reason;
use jiff::SignedDuration;

use super::*;
use crate::api::tenant_link::TenantLinkPhase as ApiPhase;
use crate::core::account::{self, DesiredAccount};
use crate::core::fixtures::*;
use crate::core::invitation::{self, Answer, Answered, InvitationKind};
use crate::core::organization::{self, DesiredOrganization};
use crate::core::outcome::Action;
use crate::core::provider_code;
use crate::store::memberships;
use crate::store::outbox::{self, Mail};
use crate::store::provider_codes;

fn mail_settings() -> MailSettings {
    MailSettings::new("accountops <noreply@example.com>", None, "https://platform.example.com/invitations/accept")
        .expect("valid settings")
}

pub(crate) const PROVIDER_YAML: &str = "accountRef: {name: acme}\ndisplayName: Northwind MSP\nserviceProvider: {enabled: true}\n\
    roles:\n  - {name: Admin, permissions: [tenants.manage]}\n  - {name: Builder, permissions: [automations.write]}\n";

/// `email` made a member of organization object `org` (namespace `billing`) holding `role`,
/// active at once (no login, so no invitation).
pub(crate) async fn member(store: &Store, org: &str, email: &str, role: &str) {
    use crate::core::membership::{self, DesiredMembership};
    let yaml = format!("email: {email}\norganizationRef: {{name: {org}}}\nroles: [{role}]\nlogin: false\n");
    let spec: crate::api::MembershipSpec = serde_yaml::from_str(&yaml).expect("spec");
    let name = format!("{org}-{}", email.replace(['@', '.'], "-"));
    let d = DesiredMembership::new(owner(&name, &format!("uid-{name}")), spec, false, Flags::default());
    let out = membership::reconcile(store, &d, now(), &mail_settings()).await.expect("membership");
    assert!(out.is_ready(), "{out:?}");
}

/// `billing/acme`, tenant `billing/eng`, provider `billing/prov` and a second tenant
/// `billing/ops`; returns (eng, prov, ops) organization IDs.
pub(crate) async fn orgs(store: &Store) -> (String, String, String) {
    let a = DesiredAccount::new(owner("acme", "uid-acme"), account_spec(ACCOUNT_YAML), false, Flags::default());
    account::reconcile(store, &a, now()).await.expect("account");
    let mut ids = Vec::new();
    for (name, yaml) in [("eng", ORGANIZATION_YAML), ("prov", PROVIDER_YAML), ("ops", ORGANIZATION_YAML)] {
        let uid = format!("uid-{name}");
        let o = DesiredOrganization::new(owner(name, &uid), organization_spec(yaml), false, Flags::default());
        ids.push(organization::reconcile(store, &o, now()).await.expect("organization").id.expect("an id"));
    }
    (ids[0].clone(), ids[1].clone(), ids[2].clone())
}

pub(crate) fn code_link(org: &str, name: &str, code: Option<&str>, members: &str) -> DesiredTenantLink {
    let yaml = format!(
        "organizationRef: {{name: {org}}}\nproviderCode: {{secretRef: {{name: prov-provider-code, key: code}}}}\n\
         grantedRoles: [Engineer]\n{members}"
    );
    let spec: TenantLinkSpec = serde_yaml::from_str(&yaml).expect("spec");
    DesiredTenantLink::new(owner(name, &format!("uid-{name}")), spec, false, Flags::default(), code)
}

fn partner_link(partner_id: &str, members: &str) -> DesiredTenantLink {
    let yaml = format!(
        "organizationRef: {{name: eng}}\npartnerInvitation:\n  organizationId: {partner_id}\n  \
         organizationRole: ServiceProvider\n  adminEmail: admin@prov.example\n  sharingScope: [Tickets]\n\
         {members}"
    );
    let spec: TenantLinkSpec = serde_yaml::from_str(&yaml).expect("spec");
    DesiredTenantLink::new(owner("invite", "uid-invite"), spec, false, Flags::default(), None)
}

const STAFF: &str =
    "members:\n  - {email: tech@prov.example, role: Admin}\n  - {email: oncall@prov.example, role: Builder}\n";

pub(crate) async fn run(store: &Store, d: &DesiredTenantLink, at: Timestamp) -> Outcome {
    reconcile(store, d, at, &mail_settings()).await.expect("reconciles")
}

/// Answer a partner invitation; the link it answered.
async fn answer(store: &Store, answer: Answer, token: &str, at: Timestamp) -> Result<String, CoreError> {
    match invitation::answer(store, InvitationKind::TenantLink, answer, token, at).await? {
        Answered::TenantLink { link_id, .. } => Ok(link_id),
        other => panic!("a partner token answered {other:?}"),
    }
}

async fn accept(store: &Store, token: &str, at: Timestamp) -> Result<String, CoreError> {
    answer(store, Answer::Accept, token, at).await
}

pub(crate) fn facts(o: &Outcome) -> &TenantLinkFacts {
    o.facts.tenant_link().expect("link facts")
}

pub(crate) async fn issue(store: &Store, org: &str) -> String {
    let mut conn = store.acquire().await.expect("conn");
    let (token, _) = provider_code::issue(&mut conn, org, provider_code::DEFAULT_LIFETIME, now()).await.expect("code");
    token.expose().to_owned()
}

async fn derived(store: &Store, link: &str) -> Vec<memberships::Membership> {
    let mut conn = store.acquire().await.expect("conn");
    memberships::list_derived(&mut conn, link).await.expect("list")
}

#[tokio::test]
async fn redeeming_a_code_links_at_once_and_the_code_works_once() {
    let store = memory_store().await;
    let (eng, prov, _) = orgs(&store).await;
    let code = issue(&store, &prov).await;
    let first = run(&store, &code_link("eng", "appoint", Some(&code), STAFF), now()).await;
    assert_eq!(first.action, Action::Created, "{first:?}");
    assert!(first.is_ready());
    let f = facts(&first);
    assert_eq!(f.phase, ApiPhase::Active);
    assert_eq!(f.counterpart_organization_id.as_deref(), Some(prov.as_str()));
    assert_eq!(f.counterpart_organization_name.as_deref(), Some("Northwind MSP"));
    assert_eq!(f.accepted_at, Some(now()));
    assert!(!format!("{first:?}").contains(&code), "the code never reaches an outcome");
    let link_id = first.id.clone().expect("link id");
    let mut conn = store.acquire().await.expect("conn");
    let row =
        provider_codes::find_by_hash(&mut conn, &crate::core::tokens::hash(&code)).await.expect("read").expect("code");
    assert_eq!(row.used_by_tenant_link_id.as_deref(), Some(link_id.as_str()));
    drop(conn);
    assert_eq!(derived(&store, &link_id).await.len(), 2);
    // Idempotent, and the code is not read again once linked.
    let again = run(&store, &code_link("eng", "appoint", None, STAFF), now()).await;
    assert_eq!(again.action, Action::Unchanged, "{again:?}");
    // A second tenant with the same code.
    let second = run(&store, &code_link("ops", "other", Some(&code), ""), now()).await;
    assert_eq!(second.reason, "CodeAlreadyUsed");
    assert!(!second.is_ready());
    let summary = {
        let mut conn = store.acquire().await.expect("conn");
        (link_summary(&mut conn, &prov).await.expect("s"), link_summary(&mut conn, &eng).await.expect("s"))
    };
    assert_eq!((summary.0.tenant_count, summary.0.tenant_ids.clone()), (1, vec![eng.clone()]));
    assert_eq!((summary.1.provider_count, summary.1.provider_ids.clone()), (1, vec![prov.clone()]));
}

#[tokio::test]
async fn unknown_expired_and_missing_codes_hold() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    let unknown = run(&store, &code_link("eng", "a", Some("nope"), ""), now()).await;
    assert_eq!((unknown.reason, unknown.action), (Reason::CodeUnknown, Action::NotFound));
    let missing = run(&store, &code_link("eng", "a", None, ""), now()).await;
    assert_eq!(missing.reason, "CodeSecretNotFound");
    let code = issue(&store, &prov).await;
    let late = now() + SignedDuration::from_hours(25);
    let expired = run(&store, &code_link("eng", "a", Some(&code), ""), late).await;
    assert_eq!(expired.reason, "CodeExpired");
    assert!(!expired.message.contains(&code));
}

#[tokio::test]
async fn members_follow_the_list_and_deletion_revokes() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    let code = issue(&store, &prov).await;
    let created = run(&store, &code_link("eng", "appoint", Some(&code), STAFF), now()).await;
    let link_id = created.id.expect("id");
    let one = "members:\n  - {email: tech@prov.example, role: Engineer}\n";
    let updated = run(&store, &code_link("eng", "appoint", None, one), now()).await;
    assert_eq!(updated.action, Action::Updated, "{updated:?}");
    let left = derived(&store, &link_id).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].settings.roles, vec!["Engineer".to_owned()]);
    let bad = "members:\n  - {email: tech@prov.example, role: Wizard}\n";
    assert_eq!(run(&store, &code_link("eng", "appoint", None, bad), now()).await.reason, "RoleNotFound");
    let mut gone = code_link("eng", "appoint", None, one);
    gone.intent = Intent::Deleting(DeletionPolicy::Delete);
    let deleted = run(&store, &gone, now()).await;
    assert_eq!(deleted.action, Action::Archived);
    assert_eq!(facts(&deleted).phase, ApiPhase::Revoked);
    assert!(derived(&store, &link_id).await.is_empty());
    let mut conn = store.acquire().await.expect("conn");
    let row = crate::store::tenant_links::get(&mut conn, &link_id).await.expect("kept");
    assert!(row.revoked_at.is_some() && row.owner.as_ref().is_some_and(|o| o.uid.is_none()));
}

async fn mails(store: &Store) -> Vec<Mail> {
    let mut conn = store.acquire().await.expect("conn");
    outbox::due(&mut conn, now() + SignedDuration::from_hours(24 * 365), 100).await.expect("due")
}

fn token_of(mail: &Mail) -> String {
    let (_, rest) = mail.body_text.split_once("?token=").expect("an accept link");
    rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn partner_invitation_mail_acceptance_and_staff() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    let unknown = run(&store, &partner_link("org-nope", ""), now()).await;
    assert_eq!((unknown.reason, unknown.action), (Reason::PartnerNotFound, Action::Waiting));
    member(&store, "prov", "admin@prov.example", "Admin").await;
    let d = partner_link(&prov, STAFF);
    let pending = run(&store, &d, now()).await;
    assert_eq!(facts(&pending).phase, ApiPhase::Pending, "{pending:?}");
    assert!(!pending.is_ready());
    assert_eq!(pending.reason, "AwaitingAcceptance");
    assert!(pending.requeue_at.is_some());
    let link_id = pending.id.clone().expect("id");
    assert!(derived(&store, &link_id).await.is_empty(), "no staff before acceptance");
    let sent = mails(&store).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "admin@prov.example");
    let token = token_of(&sent[0]);
    assert_eq!(accept(&store, &token, now()).await.expect("accepts"), link_id);
    assert!(accept(&store, &token, now()).await.is_err(), "a token works once");
    let active = run(&store, &d, now()).await;
    assert_eq!(facts(&active).phase, ApiPhase::Active);
    assert!(active.is_ready());
    assert_eq!(derived(&store, &link_id).await.len(), 2);
}

#[tokio::test]
async fn partner_invitations_expire_or_are_rejected() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    member(&store, "prov", "admin@prov.example", "Admin").await;
    let d = partner_link(&prov, "");
    run(&store, &d, now()).await;
    let late = now() + SignedDuration::from_hours(24 * 8);
    let expired = run(&store, &d, late).await;
    assert_eq!((facts(&expired).phase, expired.reason), (ApiPhase::Expired, Reason::InvitationExpired));
    // Another link, rejected by the partner.
    let yaml = format!(
        "organizationRef: {{name: ops}}\npartnerInvitation: {{organizationId: {prov}, organizationRole: Customer, \
         adminEmail: admin@prov.example}}\n"
    );
    let spec: TenantLinkSpec = serde_yaml::from_str(&yaml).expect("spec");
    let d2 = DesiredTenantLink::new(owner("inv2", "uid-inv2"), spec, false, Flags::default(), None);
    let link2 = run(&store, &d2, now()).await.id.expect("id");
    let invitation = {
        let mut conn = store.acquire().await.expect("conn");
        let subject = crate::store::invitations::Subject::TenantLink(link2);
        crate::store::invitations::list_for(&mut conn, &subject).await.expect("list").remove(0)
    };
    let sent = mails(&store).await;
    let mail = sent.iter().find(|m| m.related.as_ref().is_some_and(|r| r.id == invitation.id)).expect("its mail");
    let token = token_of(mail);
    answer(&store, Answer::Refuse, &token, now()).await.expect("rejects");
    let rejected = run(&store, &d2, now()).await;
    assert_eq!(facts(&rejected).phase, ApiPhase::Rejected);
    assert!(!rejected.is_ready());
}

#[tokio::test]
async fn a_partner_invitation_goes_only_to_an_administrator_of_the_partner() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    member(&store, "prov", "builder@prov.example", "Builder").await;
    member(&store, "eng", "attacker@eng.example", "Admin").await;
    // Neither a stranger's address, nor a partner member without a managing role, nor an
    // administrator of our own organization; both directions of the link.
    for email in ["attacker@evil.example", "builder@prov.example", "attacker@eng.example"] {
        for role in ["ServiceProvider", "Customer"] {
            let yaml = format!(
                "organizationRef: {{name: eng}}\npartnerInvitation: {{organizationId: {prov}, organizationRole: {role}, \
                 adminEmail: {email}}}\nmembers:\n  - {{email: mole@evil.example, role: Admin}}\n"
            );
            let spec: TenantLinkSpec = serde_yaml::from_str(&yaml).expect("spec");
            let d = DesiredTenantLink::new(owner("hijack", "uid-hijack"), spec, false, Flags::default(), None);
            let refused = run(&store, &d, now()).await;
            assert_eq!(
                (refused.reason, refused.action),
                (Reason::AdminNotInPartner, Action::Conflict),
                "{email} {role}"
            );
            assert!(refused.message.contains(email) && refused.message.contains(&prov), "{}", refused.message);
            assert_eq!(refused.id, None, "no link written");
        }
    }
    assert!(mails(&store).await.is_empty(), "no invitation mailed");
    let mut conn = store.acquire().await.expect("conn");
    assert!(crate::store::tenant_links::list_by_organization(&mut conn, &prov).await.expect("links").is_empty());
}

#[tokio::test]
async fn an_invitation_is_accepted_only_while_its_address_administers_the_partner() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    member(&store, "prov", "admin@prov.example", "Admin").await;
    let d = partner_link(&prov, STAFF);
    let link_id = run(&store, &d, now()).await.id.expect("id");
    let token = token_of(&mails(&store).await[0]);
    // The administrator loses the role before accepting.
    member(&store, "prov", "admin@prov.example", "Builder").await;
    let err = accept(&store, &token, now()).await.expect_err("refused");
    assert!(
        matches!(&err, CoreError::Invitation(crate::core::InvitationError::NotPartnerAdmin { email, organization_id })
            if email == "admin@prov.example" && organization_id == &prov),
        "{err:?}"
    );
    let still = run(&store, &d, now()).await;
    assert_eq!(facts(&still).phase, ApiPhase::Pending, "nothing changed");
    assert!(derived(&store, &link_id).await.is_empty(), "no staff placed");
    // Given the role back, the same token works.
    member(&store, "prov", "admin@prov.example", "Admin").await;
    assert_eq!(accept(&store, &token, now()).await.expect("accepts"), link_id);
}

/// `d` with `spec.partnerInvitation.resendNonce: nonce`.
fn resent(d: &DesiredTenantLink, nonce: &str) -> DesiredTenantLink {
    let mut spec = d.intent.spec().expect("a spec").clone();
    if let Some(invite) = spec.partner_invitation.as_mut() {
        invite.resend_nonce = Some(nonce.to_owned());
    }
    DesiredTenantLink::new(d.owner.clone(), spec, false, Flags::default(), None)
        .with_invitations_per_day(d.invitations_per_day)
}

#[tokio::test]
async fn a_new_resend_nonce_mails_a_fresh_invitation_and_stops_the_old_one() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    member(&store, "prov", "admin@prov.example", "Admin").await;
    let d = partner_link(&prov, STAFF);
    let first = run(&store, &d, now()).await;
    let link_id = first.id.clone().expect("id");
    assert_eq!(facts(&first).invitation.as_ref().map(|i| i.delivery.clone()), Some(invitation::Delivery::Queued));
    let old = token_of(&mails(&store).await[0]);
    let same = run(&store, &d, now()).await;
    assert_eq!((same.action, mails(&store).await.len()), (Action::Unchanged, 1), "the same nonce sends nothing");

    let later = now() + SignedDuration::from_hours(1);
    let again = run(&store, &resent(&d, "2"), later).await;
    assert_eq!(again.action, Action::Updated, "{again:?}");
    let expires = later + SignedDuration::from_hours(7 * 24);
    assert_eq!((facts(&again).phase, facts(&again).invitation_expires_at), (ApiPhase::Pending, Some(expires)));
    assert_eq!(again.requeue_at, Some(expires), "re-queued at the new invitation's expiry");
    let sent = mails(&store).await;
    assert_eq!(sent.len(), 2, "a second mail");
    let new = token_of(&sent[1]);
    assert_ne!(new, old);
    let err = accept(&store, &old, later).await.expect_err("the old token is refused");
    assert!(matches!(err, CoreError::Invitation(crate::core::InvitationError::Revoked { .. })), "{err:?}");
    assert_eq!(run(&store, &resent(&d, "2"), later).await.action, Action::Unchanged, "sent once per nonce");
    assert_eq!(accept(&store, &new, later).await.expect("the new one works"), link_id);
    let active = run(&store, &resent(&d, "2"), later).await;
    assert_eq!((facts(&active).phase, facts(&active).invitation_expires_at), (ApiPhase::Active, None));
    assert_eq!(facts(&active).members.len(), 2, "staff placed");
    let after = run(&store, &resent(&d, "3"), later).await;
    assert_eq!((after.action, mails(&store).await.len()), (Action::Unchanged, 2), "an accepted link is not re-sent");
}

#[tokio::test]
async fn an_expired_partner_invitation_is_re_sent_within_the_daily_limit() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    member(&store, "prov", "admin@prov.example", "Admin").await;
    let d = partner_link(&prov, "").with_invitations_per_day(2);
    run(&store, &d, now()).await;
    let late = now() + SignedDuration::from_hours(24 * 8);
    assert_eq!(facts(&run(&store, &d, late).await).phase, ApiPhase::Expired);
    let renewed = run(&store, &resent(&d, "2"), late).await;
    assert_eq!((facts(&renewed).phase, renewed.reason), (ApiPhase::Pending, Reason::AwaitingAcceptance), "{renewed:?}");
    let second = run(&store, &resent(&d, "3"), late).await;
    assert_eq!(second.action, Action::Updated);
    // Two invitations in the last 24 hours: the third waits until the older one leaves it.
    let limited = run(&store, &resent(&d, "4"), late).await;
    assert_eq!(limited.reason, "ResendLimited", "{limited:?}");
    assert_eq!(limited.requeue_at, Some(late + SignedDuration::from_hours(24)));
    assert_eq!(mails(&store).await.len(), 3);
    let next_day = late + SignedDuration::from_hours(25);
    assert_eq!(run(&store, &resent(&d, "4"), next_day).await.action, Action::Updated);
    assert_eq!(mails(&store).await.len(), 4);
}

#[tokio::test]
async fn a_link_re_created_after_orphan_is_told_to_adopt_and_after_delete_starts_anew() {
    let store = memory_store().await;
    let (_, prov, _) = orgs(&store).await;
    let code = issue(&store, &prov).await;
    let first = run(&store, &code_link("eng", "appoint", Some(&code), ""), now()).await;
    let link_id = first.id.expect("id");
    let mut orphan = code_link("eng", "appoint", None, "");
    orphan.intent = Intent::Deleting(DeletionPolicy::Orphan);
    assert_eq!(run(&store, &orphan, now()).await.action, Action::Orphaned);
    // The same name, a new UID: the still-active link is found by name (not a second insert
    // failing on the organizations' pair).
    let mut again = code_link("eng", "appoint", None, "");
    again.owner.uid = "uid-appoint-2".to_owned();
    let told = run(&store, &again, now()).await;
    assert_eq!((told.action, told.id.as_deref()), (Action::AdoptionRequired, Some(link_id.as_str())), "{told:?}");
    again.flags.adopt = true;
    assert_eq!(run(&store, &again, now()).await.action, Action::Adopted);
    // Deleted (revoked) instead: that link is history, and the name makes a new one.
    let mut gone = again.clone();
    gone.intent = Intent::Deleting(DeletionPolicy::Delete);
    assert_eq!(run(&store, &gone, now()).await.action, Action::Archived);
    let code = issue(&store, &prov).await;
    let mut fresh = code_link("eng", "appoint", Some(&code), "");
    fresh.owner.uid = "uid-appoint-3".to_owned();
    let made = run(&store, &fresh, now()).await;
    assert_eq!(made.action, Action::Created, "{made:?}");
    assert_ne!(made.id.as_deref(), Some(link_id.as_str()));
}
