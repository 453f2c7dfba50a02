//! `state` over every state and the expiry boundary (pure), and `issue`/`answer` for both
//! kinds on an in-memory SQLite database.

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::core::error::CoreError;
use crate::core::fixtures::memory_store;
use crate::core::tokens;
use crate::mail::{MailContext, MailSettings};
use crate::store::invitations::{self, Subject};
use crate::store::memberships::{self, MembershipPhase, NewMembership, Scope};
use crate::store::outbox;
use crate::store::tenant_links::{self, LinkMode, LinkTerms, NewTenantLink, PartnerRole, TenantLinkPhase};
use crate::store::testkit::fixtures::{account, at, organization, settings};
use crate::store::users::{self, NewUser};
use crate::store::{Conn, Store};

fn row(expires: i64, accepted: Option<i64>, revoked: Option<i64>) -> Invitation {
    Invitation {
        id: "inv-1".into(),
        subject: Subject::Membership("mbr-1".into()),
        email: "ann@example.com".into(),
        token_hash: tokens::hash("t"),
        locale: "en".into(),
        expires_at: at(expires),
        resend_nonce: None,
        send_attempts: 0,
        sent_at: None,
        message_id: None,
        accepted_at: accepted.map(at),
        revoked_at: revoked.map(at),
        created_at: at(1),
        updated_at: at(1),
    }
}

#[test]
fn state_covers_every_state_and_the_expiry_instant_is_expired() {
    let micro = SignedDuration::from_micros(1);
    let open = row(100, None, None);
    assert_eq!(state(&open, at(100) - micro), State::Open { expires_at: at(100) });
    assert_eq!(state(&open, at(100)), State::Expired { at: at(100) }, "expires_at > now is open, as the web app's");
    assert_eq!(state(&open, at(500)), State::Expired { at: at(100) });
    // An answer given in time outlives the expiry; acceptance outranks a hand-set revocation.
    assert_eq!(state(&row(100, Some(50), None), at(500)), State::Accepted { at: at(50) });
    assert_eq!(state(&row(100, None, Some(60)), at(10)), State::Revoked { at: at(60) });
    assert_eq!(state(&row(100, None, Some(60)), at(500)), State::Revoked { at: at(60) });
    assert_eq!(state(&row(100, Some(50), Some(60)), at(10)), State::Accepted { at: at(50) });
    let shown: Vec<(&str, bool)> = [
        State::Open { expires_at: at(1) },
        State::Expired { at: at(1) },
        State::Accepted { at: at(1) },
        State::Revoked { at: at(1) },
    ]
    .into_iter()
    .map(|s| (s.as_str(), s.is_unanswered()))
    .collect();
    assert_eq!(shown, [("open", true), ("expired", true), ("accepted", false), ("revoked", false)]);
}

#[test]
fn the_latest_unanswered_and_accepted_invitations_are_found() {
    let (old, accepted_one, open) = (row(100, None, Some(20)), row(100, Some(30), None), row(900, None, None));
    let list = [old.clone(), accepted_one.clone(), open.clone()];
    assert_eq!(unanswered(&list, at(40)), Some(&open));
    assert_eq!(unanswered(&list, at(950)), Some(&open), "an expired one is still the open one");
    assert_eq!(accepted(&list, at(40)), Some(&accepted_one));
    assert_eq!(unanswered(&list[..2], at(40)), None);
    assert_eq!(accepted(&[old], at(40)), None);
}

fn mail_settings() -> MailSettings {
    MailSettings::new("accountops <noreply@example.com>", None, "https://platform.example.com/invitations/accept")
        .expect("valid settings")
}

/// A membership of a person without a login, in a fresh organization.
async fn membership(conn: &mut Conn, email: &str) -> String {
    let acct = account(conn, None).await;
    let org = organization(conn, &acct.id, "Engineering").await;
    let new = NewUser { email: email.into(), display_name: None, phone: None, has_login: false };
    let user = users::insert(conn, &new, at(2)).await.expect("user");
    let new = NewMembership {
        user_id: user.id,
        scope: Scope::Organization(org.id),
        settings: settings(&["Admin"]),
        phase: MembershipPhase::Invited,
        owner: None,
    };
    memberships::insert(conn, &new, at(3)).await.expect("membership").id
}

/// A pending partner link between two fresh organizations.
async fn link(conn: &mut Conn) -> String {
    let acct = account(conn, None).await;
    let provider = organization(conn, &acct.id, "Provider").await;
    let tenant = organization(conn, &acct.id, "Tenant").await;
    let terms = LinkTerms {
        partner_role: Some(PartnerRole::Partner),
        admin_email: Some("admin@partner.example".into()),
        granted_roles: Vec::new(),
        sharing_scope: Vec::new(),
    };
    let new = NewTenantLink {
        provider_organization_id: provider.id,
        tenant_organization_id: tenant.id,
        mode: LinkMode::PartnerInvitation,
        terms,
        owner: None,
    };
    tenant_links::insert(conn, &new, at(3)).await.expect("link").id
}

fn request(subject: Subject, email: &str, expires: i64) -> Issue {
    let letter = MailContext { organization_name: "Engineering".into(), ..MailContext::default() };
    Issue {
        subject,
        email: email.into(),
        locale: crate::api::Locale::Pl,
        expires_at: at(expires),
        resend_nonce: Some("n1".into()),
        letter,
    }
}

/// Issue and commit; the token, read back from the mail's link.
async fn issued(store: &Store, subject: Subject, expires: i64) -> (Issued, String) {
    let mut tx = store.begin().await.expect("begin");
    let done = issue(&mut tx, request(subject, "ann@example.com", expires), at(10), &mail_settings()).await;
    let done = done.expect("issued");
    tx.commit().await.expect("commit");
    let (_, rest) = done.mail.body_text.split_once("?token=").expect("an accept link");
    let token: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    (done, token)
}

#[tokio::test]
async fn issue_stores_only_the_hash_and_queues_the_kinds_mail_in_the_callers_transaction() {
    let store = memory_store().await;
    let mut conn = store.acquire().await.expect("conn");
    let (member, partner) = (membership(&mut conn, "ann@example.com").await, link(&mut conn).await);
    drop(conn);

    // Rolled back with the caller's transaction: neither the row nor the mail stays.
    let mut tx = store.begin().await.expect("begin");
    let subject = Subject::Membership(member.clone());
    issue(&mut tx, request(subject.clone(), "ann@example.com", 100), at(10), &mail_settings()).await.expect("issued");
    drop(tx);
    let mut conn = store.acquire().await.expect("conn");
    assert!(invitations::list_for(&mut conn, &subject).await.expect("list").is_empty(), "rolled back");
    assert!(outbox::due(&mut conn, at(1000), 10).await.expect("due").is_empty(), "no mail either");
    drop(conn);

    for (subject, kind) in
        [(subject, "membership_invitation"), (Subject::TenantLink(partner.clone()), "partner_invitation")]
    {
        let (done, token) = issued(&store, subject.clone(), 100).await;
        let inv = &done.invitation;
        assert_eq!((&inv.subject, inv.email.as_str(), inv.locale.as_str()), (&subject, "ann@example.com", "pl"));
        assert_eq!((inv.expires_at, inv.resend_nonce.as_deref()), (at(100), Some("n1")));
        assert_eq!(token.len(), 43, "{}", done.mail.body_text);
        assert_eq!(inv.token_hash, tokens::hash(&token), "only the hash is stored");
        assert!(!format!("{inv:?}").contains(&token));
        let related = done.mail.related.as_ref().expect("related");
        assert_eq!(
            (done.mail.kind.as_str(), related.table.as_str(), related.id.as_str()),
            (kind, "invitations", inv.id.as_str())
        );
        assert!(done.mail.body_text.contains("https://platform.example.com/invitations/accept?token="));
    }

    // Withdrawing revokes the open one, once.
    let mut conn = store.acquire().await.expect("conn");
    let subject = Subject::TenantLink(partner);
    withdraw(&mut conn, &subject, at(20)).await.expect("withdraw");
    withdraw(&mut conn, &subject, at(30)).await.expect("nothing left to withdraw");
    let all = invitations::list_for(&mut conn, &subject).await.expect("list");
    assert_eq!(all.iter().map(|i| state(i, at(40))).collect::<Vec<_>>(), [State::Revoked { at: at(20) }]);
}

fn refused(result: Result<Answered, CoreError>) -> InvitationError {
    match result {
        Err(CoreError::Invitation(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn answering_a_membership_invitation_accepts_once_and_refuses_the_rest() {
    let store = memory_store().await;
    let mut conn = store.acquire().await.expect("conn");
    let member = membership(&mut conn, "ann@example.com").await;
    drop(conn);
    let (_, token) = issued(&store, Subject::Membership(member.clone()), 100).await;
    let accept = |token: String, t: i64| {
        let store = store.clone();
        async move { answer(&store, InvitationKind::Membership, Answer::Accept, &token, at(t)).await }
    };

    assert_eq!(refused(accept("nope".into(), 20).await), InvitationError::UnknownToken);
    let refuse = answer(&store, InvitationKind::Membership, Answer::Refuse, &token, at(20)).await;
    assert_eq!(refused(refuse), InvitationError::NotRefusable);
    let as_link = answer(&store, InvitationKind::TenantLink, Answer::Accept, &token, at(20)).await;
    let other = refused(as_link);
    assert_eq!(
        other,
        InvitationError::OtherKind { token: InvitationKind::Membership, asked: InvitationKind::TenantLink }
    );
    assert!(other.to_string().contains("`accountops invitation accept`"), "{other}");

    let link = format!("<https://platform.example.com/invitations/accept?token={token}>");
    let done = accept(link, 20).await.expect("accepted");
    let Answered::Membership { email, membership_id, user_id, scope_name } = &done else { panic!("{done:?}") };
    assert_eq!((email.as_str(), membership_id, scope_name.as_str()), ("ann@example.com", &member, "Engineering"));
    assert_eq!(done.summary(), "accepted: ann@example.com is now Active in Engineering");
    let mut conn = store.acquire().await.expect("conn");
    assert_eq!(memberships::get(&mut conn, &member).await.expect("membership").phase, MembershipPhase::Active);
    assert!(users::get(&mut conn, user_id).await.expect("user").has_login);
    drop(conn);

    let again = refused(accept(token.clone(), 30).await);
    assert_eq!(again, InvitationError::AlreadyAccepted { at: at(20) });
    assert!(again.to_string().contains("accepted at 2025-01-01T00:00:20Z"), "{again}");
    assert!(!again.to_string().contains(&token));

    // A second invitation that expires: the expiry instant refuses, with the same time format.
    let mut conn = store.acquire().await.expect("conn");
    let second = membership(&mut conn, "bob@example.com").await;
    drop(conn);
    let (_, late) = issued(&store, Subject::Membership(second), 100).await;
    let expired = refused(accept(late, 100).await);
    assert_eq!(expired, InvitationError::Expired { at: at(100), kind: InvitationKind::Membership });
    assert!(
        expired
            .to_string()
            .contains("expired at 2025-01-01T00:01:40Z; ask for a new one (change spec.invitation.resendNonce)"),
        "{expired}"
    );
}

#[tokio::test]
async fn answering_a_partner_invitation_refuses_or_accepts_only_for_the_partners_administrator() {
    let store = memory_store().await;
    let mut conn = store.acquire().await.expect("conn");
    let (first, second) = (link(&mut conn).await, link(&mut conn).await);
    drop(conn);
    let (_, token) = issued(&store, Subject::TenantLink(first.clone()), 100).await;
    let reply = |how: Answer, token: String, t: i64| {
        let store = store.clone();
        async move { answer(&store, InvitationKind::TenantLink, how, &token, at(t)).await }
    };

    let as_member = refused(answer(&store, InvitationKind::Membership, Answer::Accept, &token, at(20)).await);
    assert_eq!(
        as_member,
        InvitationError::OtherKind { token: InvitationKind::TenantLink, asked: InvitationKind::Membership }
    );
    // Nobody administers the partner: accepting fails and leaves the invitation open.
    let not_admin = refused(reply(Answer::Accept, token.clone(), 20).await);
    assert!(
        matches!(&not_admin, InvitationError::NotPartnerAdmin { email, .. } if email == "ann@example.com"),
        "{not_admin:?}"
    );
    let refused_now = reply(Answer::Refuse, token.clone(), 21).await.expect("refused");
    assert!(matches!(&refused_now, Answered::TenantLink { answer: Answer::Refuse, link_id, .. } if link_id == &first));
    assert_eq!(refused_now.summary(), "rejected: the partner invitation will not be used");
    let mut conn = store.acquire().await.expect("conn");
    assert_eq!(tenant_links::get(&mut conn, &first).await.expect("link").phase, TenantLinkPhase::Rejected);
    drop(conn);
    let revoked = refused(reply(Answer::Accept, token, 22).await);
    assert_eq!(revoked, InvitationError::Revoked { at: at(21), kind: InvitationKind::TenantLink });
    assert!(
        revoked.to_string().contains("revoked at 2025-01-01T00:00:21Z (rejected, or the link was removed)"),
        "{revoked}"
    );

    // Expiry reads as a Membership's does: the same time format, the kind's own hint.
    let (_, late) = issued(&store, Subject::TenantLink(second), 100).await;
    let expired = refused(reply(Answer::Refuse, late, 150).await);
    assert_eq!(expired, InvitationError::Expired { at: at(100), kind: InvitationKind::TenantLink });
    assert!(
        expired.to_string().contains("expired at 2025-01-01T00:01:40Z; ask for a new one (re-create the TenantLink)"),
        "{expired}"
    );
}

#[test]
fn refusals_show_whole_second_utc_times_for_both_kinds() {
    let t: Timestamp = "2025-03-01T09:30:00.654321Z".parse().expect("a timestamp");
    for kind in [InvitationKind::Membership, InvitationKind::TenantLink] {
        for e in [InvitationError::Expired { at: t, kind }, InvitationError::Revoked { at: t, kind }] {
            assert!(e.to_string().contains(" at 2025-03-01T09:30:00Z"), "{e}");
        }
    }
}

#[test]
fn the_current_invitation_is_the_unanswered_one_even_behind_its_revoked_predecessor() {
    use crate::core::fixtures::{at, invitation_row};
    use crate::store::invitations::Subject;
    let row = |id: &str| invitation_row(id, Subject::TenantLink("tl-1".into()), at("2025-03-08T00:00:00Z"), None);
    let (open, revoked) = (row("inv-b"), Invitation { revoked_at: Some(at("2025-03-01T00:00:00Z")), ..row("inv-a") });
    // Equal created_at: the store's order may put the re-send's revoked predecessor last.
    assert_eq!(current(&[open.clone(), revoked.clone()]).map(|i| i.id.as_str()), Some("inv-b"));
    assert_eq!(current(&[revoked.clone(), open]).map(|i| i.id.as_str()), Some("inv-b"));
    assert_eq!(current(std::slice::from_ref(&revoked)).map(|i| i.id.as_str()), Some("inv-a"), "else the latest");
    assert_eq!(current(&[]), None);
}
