//! Checks of users, memberships and invitations.

use super::fixtures::*;
use crate::store::invitations::{self, AcceptOutcome, Answer, InvitationKind, NewInvitation, Subject};
use crate::store::memberships::{self, MembershipPhase, NewMembership, Scope};
use crate::store::users::{self, NewUser, UserUpdate};
use crate::store::{Conn, Store, StoreError};

pub async fn users_crud(store: &Store) {
    let mut c = conn(store).await;
    let u = user(&mut c, "  Ann@Example.COM ").await;
    assert!(u.id.starts_with("usr-"), "{}", u.id);
    assert_eq!((u.email.as_str(), u.email_normalized.as_str()), ("Ann@Example.COM", "ann@example.com"));
    assert!(u.has_login);
    assert_eq!(users::get(&mut c, &u.id).await.expect("get"), u);
    let update = UserUpdate { display_name: None, phone: Some("+48 1".into()), has_login: false };
    let updated = users::update(&mut c, &u.id, &update, at(9)).await.expect("update");
    assert_eq!(
        (updated.display_name.clone(), updated.phone.clone(), updated.has_login),
        (None, Some("+48 1".into()), false)
    );
    assert_eq!(updated.updated_at, at(9));
    let archived = users::archive(&mut c, &u.id, at(10)).await.expect("archive");
    assert_eq!(archived.archived_at, Some(at(10)));
    assert_eq!(users::archive(&mut c, &u.id, at(11)).await.expect("again"), archived);
    let back = users::reactivate(&mut c, &u.id, at(12)).await.expect("reactivate");
    assert_eq!((back.archived_at, back.updated_at), (None, at(12)));
}

pub async fn users_unique_email_ignoring_case(store: &Store) {
    let mut c = conn(store).await;
    let ann = user(&mut c, "Ann@Example.com").await;
    let dup = NewUser { email: "ann@EXAMPLE.com ".into(), display_name: None, phone: None, has_login: false };
    let err = fails(users::insert(&mut c, &dup, at(3)).await);
    assert_unique(&err, "users", "email_normalized", "ann@example.com");
    let found = users::find_by_email(&mut c, "ANN@example.COM").await.expect("find");
    assert_eq!(found, Some(ann));
    assert_eq!(users::find_by_email(&mut c, "bob@example.com").await.expect("find"), None);
    let empty = NewUser { email: "  ".into(), ..dup };
    let err = fails(users::insert(&mut c, &empty, at(3)).await);
    assert!(matches!(err, StoreError::Invalid { table: "users", .. }), "{err:?}");
}

async fn org_membership(c: &mut Conn, user_id: &str, org_id: &str) -> Result<memberships::Membership, StoreError> {
    let new = NewMembership {
        user_id: user_id.to_owned(),
        scope: Scope::Organization(org_id.to_owned()),
        settings: settings(&["Engineer"]),
        phase: MembershipPhase::Pending,
        owner: None,
    };
    memberships::insert(c, &new, at(3)).await
}

pub async fn memberships_crud(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let org = organization(&mut c, &acct.id, "Engineering").await;
    let u = user(&mut c, "ann@example.com").await;
    let m = org_membership(&mut c, &u.id, &org.id).await.expect("insert");
    assert!(m.id.starts_with("mbr-"), "{}", m.id);
    assert_eq!(
        (m.scope.clone(), m.phase, m.settings.clone()),
        (Scope::Organization(org.id.clone()), MembershipPhase::Pending, settings(&["Engineer"]))
    );
    assert_eq!(memberships::get(&mut c, &m.id).await.expect("get"), m);
    let scope = Scope::Organization(org.id.clone());
    assert_eq!(memberships::find_live(&mut c, &u.id, &scope).await.expect("live"), Some(m.clone()));
    assert_eq!(memberships::list_by_user(&mut c, &u.id).await.expect("by user"), vec![m.clone()]);

    let mut s = settings(&["Admin", "Engineer"]);
    s.login = false;
    s.notifications.clear();
    let updated = memberships::update(&mut c, &m.id, &s, at(4)).await.expect("update");
    assert_eq!((updated.settings.clone(), updated.updated_at), (s, at(4)));
    let invited = memberships::set_phase(&mut c, &m.id, MembershipPhase::Invited, at(5)).await.expect("phase");
    assert_eq!((invited.phase, invited.updated_at), (MembershipPhase::Invited, at(5)));
    let same = memberships::set_phase(&mut c, &m.id, MembershipPhase::Invited, at(6)).await.expect("phase");
    assert_eq!(same.updated_at, at(5), "an unchanged phase does not touch updated_at");
    assert_eq!(memberships::count_live_by_organization(&mut c, &org.id).await.expect("count"), 1);

    let revoked = memberships::revoke(&mut c, &m.id, at(7)).await.expect("revoke");
    assert_eq!((revoked.phase, revoked.revoked_at), (MembershipPhase::Revoked, Some(at(7))));
    assert_eq!(memberships::revoke(&mut c, &m.id, at(8)).await.expect("again"), revoked);
    let err = fails(memberships::set_phase(&mut c, &m.id, MembershipPhase::Active, at(9)).await);
    assert!(matches!(err, StoreError::Invalid { table: "memberships", .. }), "{err:?}");
    assert_eq!(memberships::count_live_by_organization(&mut c, &org.id).await.expect("count"), 0);
    assert_eq!(memberships::find_live(&mut c, &u.id, &scope).await.expect("live"), None);
    assert_eq!(memberships::list_by_scope(&mut c, &scope).await.expect("list"), vec![revoked]);

    let acct_scope = Scope::Account(acct.id.clone());
    let new = NewMembership {
        user_id: u.id.clone(),
        scope: acct_scope.clone(),
        settings: settings(&[]),
        phase: MembershipPhase::Active,
        owner: None,
    };
    let am = memberships::insert(&mut c, &new, at(10)).await.expect("account membership");
    assert_eq!(am.scope, acct_scope);
    assert_eq!(memberships::list_by_scope(&mut c, &acct_scope).await.expect("list"), vec![am]);
    let revoked_start = NewMembership { phase: MembershipPhase::Revoked, ..new };
    let err = fails(memberships::insert(&mut c, &revoked_start, at(11)).await);
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
}

pub async fn memberships_unique_per_user_and_scope(store: &Store) {
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let org = organization(&mut c, &acct.id, "Engineering").await;
    let other = organization(&mut c, &acct.id, "Support").await;
    let ann = user(&mut c, "ann@example.com").await;
    let bob = user(&mut c, "bob@example.com").await;
    let first = org_membership(&mut c, &ann.id, &org.id).await.expect("first");
    let err = fails(org_membership(&mut c, &ann.id, &org.id).await);
    assert_unique(&err, "memberships", "user_id, organization_id", &format!("{}, {}", ann.id, org.id));
    org_membership(&mut c, &ann.id, &other.id).await.expect("same user, other organization");
    org_membership(&mut c, &bob.id, &org.id).await.expect("other user, same organization");
    memberships::revoke(&mut c, &first.id, at(4)).await.expect("revoke");
    org_membership(&mut c, &ann.id, &org.id).await.expect("a revoked membership frees the slot");

    let new = NewMembership {
        user_id: ann.id.clone(),
        scope: Scope::Account(acct.id.clone()),
        settings: settings(&[]),
        phase: MembershipPhase::Pending,
        owner: None,
    };
    memberships::insert(&mut c, &new, at(5)).await.expect("account membership");
    let err = fails(memberships::insert(&mut c, &new, at(6)).await);
    assert_unique(&err, "memberships", "user_id, account_id", &format!("{}, {}", ann.id, acct.id));
}

async fn membership_subject(c: &mut Conn) -> Subject {
    let acct = account(c, None).await;
    let org = organization(c, &acct.id, "Engineering").await;
    let u = user(c, &format!("{}@example.com", uuid::Uuid::new_v4().simple())).await;
    let m = org_membership(c, &u.id, &org.id).await.expect("membership");
    Subject::Membership(m.id)
}

pub(super) fn invitation(subject: &Subject, token_hash: &str, expires_at: i64) -> NewInvitation {
    NewInvitation {
        subject: subject.clone(),
        email: "ann@example.com".into(),
        token_hash: token_hash.into(),
        locale: "pl".into(),
        expires_at: at(expires_at),
        resend_nonce: None,
    }
}

async fn answer(c: &mut Conn, kind: InvitationKind, token: &str, how: Answer, t: i64) -> AcceptOutcome {
    invitations::answer(c, kind, token, how, at(t)).await.expect("answer")
}

pub async fn invitations_lifecycle(store: &Store) {
    use InvitationKind::{Membership, TenantLink};
    let mut c = conn(store).await;
    let subject = membership_subject(&mut c).await;
    let token = hash();
    let inv = invitations::insert(&mut c, &invitation(&subject, &token, 100), at(10)).await.expect("insert");
    assert!(inv.id.starts_with("inv-"), "{}", inv.id);
    assert_eq!(
        (inv.subject.clone(), inv.send_attempts, inv.accepted_at, inv.revoked_at),
        (subject.clone(), 0, None, None)
    );
    assert_eq!(invitations::get(&mut c, &inv.id).await.expect("get"), inv);
    let sent = invitations::mark_sent(&mut c, &inv.id, "<m1@test>", at(11)).await.expect("sent");
    assert_eq!((sent.send_attempts, sent.sent_at, sent.message_id.as_deref()), (1, Some(at(11)), Some("<m1@test>")));
    assert_eq!(invitations::find_open(&mut c, &subject).await.expect("open"), Some(sent.clone()));

    assert_eq!(answer(&mut c, Membership, &hash(), Answer::Accept, 12).await, AcceptOutcome::UnknownToken);
    let wrong_kind = answer(&mut c, TenantLink, &token, Answer::Accept, 12).await;
    assert_eq!(wrong_kind, AcceptOutcome::NotOpen(sent.clone()), "a membership token answers no link");
    let AcceptOutcome::Answered(accepted) = answer(&mut c, Membership, &token, Answer::Accept, 12).await else {
        panic!("an open invitation is accepted");
    };
    assert_eq!((accepted.accepted_at, accepted.revoked_at), (Some(at(12)), None));
    let again = answer(&mut c, Membership, &token, Answer::Refuse, 13).await;
    assert_eq!(again, AcceptOutcome::NotOpen(accepted.clone()), "answered once");
    let still = invitations::revoke(&mut c, &inv.id, at(14)).await.expect("revoke accepted");
    assert_eq!((still.revoked_at, still.accepted_at), (None, Some(at(12))), "an accepted invitation stays accepted");
    assert_eq!(invitations::find_open(&mut c, &subject).await.expect("open"), None);

    // A new invitation for the same subject: the expiry instant is too late to answer it.
    let late = hash();
    let second = invitations::insert(&mut c, &invitation(&subject, &late, 20), at(15)).await.expect("second");
    assert_eq!(answer(&mut c, Membership, &late, Answer::Accept, 20).await, AcceptOutcome::NotOpen(second.clone()));
    let AcceptOutcome::Answered(refused) = answer(&mut c, Membership, &late, Answer::Refuse, 19).await else {
        panic!("an open invitation is refused");
    };
    assert_eq!((refused.revoked_at, refused.accepted_at), (Some(at(19)), None));
    assert!(matches!(answer(&mut c, Membership, &late, Answer::Accept, 19).await, AcceptOutcome::NotOpen(_)));
    assert_eq!(invitations::revoke(&mut c, &second.id, at(21)).await.expect("revoke").revoked_at, Some(at(19)));
    assert_eq!(invitations::list_for(&mut c, &subject).await.expect("list").len(), 2);
}

pub async fn invitations_constraints(store: &Store) {
    let mut c = conn(store).await;
    let subject = membership_subject(&mut c).await;
    let token = hash();
    invitations::insert(&mut c, &invitation(&subject, &token, 100), at(10)).await.expect("insert");
    let err = fails(invitations::insert(&mut c, &invitation(&subject, &hash(), 100), at(11)).await);
    assert_unique(&err, "invitations", "membership_id", subject.id());
    let other = membership_subject(&mut c).await;
    let err = fails(invitations::insert(&mut c, &invitation(&other, &token, 100), at(11)).await);
    assert_unique(&err, "invitations", "token_hash", "(hidden)");
    assert!(!err.to_string().contains(&token), "the token hash stays out of messages: {err}");
    let err = fails(invitations::insert(&mut c, &invitation(&other, "not-a-sha256", 100), at(11)).await);
    assert_check(&err, "invitations", "invitations_token_hash_sha256");
}

/// What local mode's Memberships read, one query per table: the memberships live-owned by a
/// cluster's objects, their users, their invitations (oldest first) and the mails related to
/// either; nothing of another cluster's, an unowned or a released membership.
pub async fn memberships_owned_by_a_cluster_with_their_rows(store: &Store) {
    use crate::store::outbox::{self, Enqueued, Origin, Related};
    use crate::store::{ManagedTable, Owner, ownership};
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let org = organization(&mut c, &acct.id, "Engineering").await;
    let member = async |c: &mut Conn, email: &str, owner: Option<Owner>| {
        let u = user(c, email).await;
        let new = NewMembership {
            user_id: u.id.clone(),
            scope: Scope::Organization(org.id.clone()),
            settings: settings(&["Engineer"]),
            phase: MembershipPhase::Pending,
            owner,
        };
        (u, memberships::insert(c, &new, at(3)).await.expect("insert"))
    };
    let elsewhere = Owner { cluster: "other-cluster".into(), ..owner("cleo", "uid-cleo") };
    let (ann, ann_m) = member(&mut c, "ann@example.com", Some(owner("ann", "uid-ann"))).await;
    let (bob, bob_m) = member(&mut c, "bob@example.com", Some(owner("bob", "uid-bob"))).await;
    let (_, _) = member(&mut c, "cleo@example.com", Some(elsewhere)).await;
    let (_, _) = member(&mut c, "dan@example.com", None).await;
    let (_, eve_m) = member(&mut c, "eve@example.com", Some(owner("eve", "uid-eve"))).await;
    ownership::release(&mut c, ManagedTable::Memberships, &eve_m.id, at(4)).await.expect("release");

    let subject = Subject::Membership(ann_m.id.clone());
    let first = invitations::insert(&mut c, &invitation(&subject, &hash(), 100), at(10)).await.expect("first");
    invitations::revoke(&mut c, &first.id, at(11)).await.expect("revoke");
    let second = invitations::insert(&mut c, &invitation(&subject, &hash(), 100), at(12)).await.expect("second");
    let origin = Origin::Local("test-cluster".into());
    let mut mails = Vec::new();
    for (key, table, id) in [
        ("inv", "invitations", &second.id),
        ("notice", "memberships", &bob_m.id),
        ("stray", "memberships", &"mbr-x".to_owned()),
    ] {
        let mut new = super::mail::new_mail(key, &origin, Some("team-a"));
        new.related = Some(Related { table: table.into(), id: id.clone() });
        match outbox::enqueue(&mut c, &new, at(13)).await.expect("enqueue") {
            Enqueued::New(m) => mails.push(m),
            Enqueued::Existing(m) => panic!("queued already: {m:?}"),
        }
    }

    let mut owned = memberships::list_owned(&mut c, "test-cluster").await.expect("owned");
    owned.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![ann_m, bob_m];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(owned, expected, "live-owned by this cluster's objects only");
    let mut people = users::of_owned_memberships(&mut c, "test-cluster").await.expect("users");
    people.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![ann, bob];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(people, expected);
    let revoked = invitations::get(&mut c, &first.id).await.expect("revoked");
    let listed = invitations::of_owned_memberships(&mut c, "test-cluster").await.expect("invitations");
    assert_eq!(listed, vec![revoked, second], "oldest first");
    let related = outbox::of_owned_memberships(&mut c, "test-cluster").await.expect("mails");
    let mut expected = mails[..2].to_vec();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(related, expected, "the invitation's mail and the notice (queued at once: by ID), not a stranger's");
    assert!(memberships::list_owned(&mut c, "nobody").await.expect("none").is_empty());
}
