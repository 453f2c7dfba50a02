//! Checks of the change poll ([`changes::changed_owners`]): whose invitation, or invitation
//! mail, changed after a moment, among one cluster's live owners.

use super::fixtures::*;
use super::links::{link, two_orgs};
use super::mail::new_mail;
use super::people::invitation;
use crate::store::changes::{self, Subject as Owners};
use crate::store::invitations::{self, AcceptOutcome, Answer, InvitationKind, Subject};
use crate::store::memberships::{self, MembershipPhase, NewMembership, Scope};
use crate::store::outbox::{self, Claimant, NewMail, Origin, Related};
use crate::store::ownership::{self, ManagedTable};
use crate::store::tenant_links::{self, LinkMode, NewTenantLink};
use crate::store::{Conn, Owner, Store};

/// A membership of `org` owned by `owner`, with an invitation (token hash `token`) made at
/// second 10; returns the membership's ID.
async fn invited_member(c: &mut Conn, org: &str, owner: Option<Owner>, token: &str) -> String {
    let u = user(c, &format!("{}@example.com", uuid::Uuid::new_v4().simple())).await;
    let new = NewMembership {
        user_id: u.id,
        scope: Scope::Organization(org.to_owned()),
        settings: settings(&["Engineer"]),
        phase: MembershipPhase::Invited,
        owner,
    };
    let m = memberships::insert(c, &new, at(3)).await.expect("membership");
    let subject = Subject::Membership(m.id.clone());
    invitations::insert(c, &invitation(&subject, token, 100), at(10)).await.expect("invitation");
    m.id
}

/// The (namespace, name) of `test-cluster`'s objects changed after second `since`, sorted.
async fn polled(store: &Store, owners: Owners, since: i64) -> Vec<(String, String)> {
    let mut found = changes::changed_owners(store, owners, "test-cluster", at(since)).await.expect("poll");
    found.sort();
    found
}

fn in_team_a(names: &[&str]) -> Vec<(String, String)> {
    names.iter().map(|n| ("team-a".to_owned(), (*n).to_owned())).collect()
}

/// Invitations accepted, or whose mail was delivered, after the moment name their owners;
/// invitations and mails only inserted (the owner's own reconcile wrote them), rows of another
/// cluster, unowned rows and released rows are not reported.
pub async fn changes_report_owners_of_changed_invitations(store: &Store) {
    let mut c = conn(store).await;
    let (provider, tenant) = two_orgs(&mut c).await;
    let ann_token = hash();
    let ann = invited_member(&mut c, &tenant, Some(owner("ann", "uid-ann")), &ann_token).await;
    invited_member(&mut c, &tenant, Some(owner("bob", "uid-bob")), &hash()).await;
    let elsewhere = Owner { cluster: "other-cluster".to_owned(), ..owner("eve", "uid-eve") };
    invited_member(&mut c, &tenant, Some(elsewhere), &hash()).await;
    invited_member(&mut c, &tenant, None, &hash()).await;
    let new =
        NewTenantLink { owner: Some(owner("msp", "uid-msp")), ..link(&provider, &tenant, LinkMode::PartnerInvitation) };
    let l = tenant_links::insert(&mut c, &new, at(3)).await.expect("link");
    let subject = Subject::TenantLink(l.id.clone());
    let partner = invitations::insert(&mut c, &invitation(&subject, &hash(), 100), at(10)).await.expect("invitation");
    drop(c);

    assert_eq!(polled(store, Owners::Memberships, 9).await, in_team_a(&[]), "made, not changed");
    assert_eq!(polled(store, Owners::TenantLinks, 9).await, in_team_a(&[]));

    let mut c = conn(store).await;
    let accepted = invitations::answer(&mut c, InvitationKind::Membership, &ann_token, Answer::Accept, at(20))
        .await
        .expect("accept");
    assert!(matches!(accepted, AcceptOutcome::Answered(_)), "{accepted:?}");
    let mail = NewMail {
        related: Some(Related { table: "invitations".into(), id: partner.id.clone() }),
        ..new_mail("partner-1", &Origin::Operator("test-cluster".into()), Some("team-a"))
    };
    let queued = outbox::enqueue(&mut c, &mail, at(30)).await.expect("enqueue");
    drop(c);
    assert_eq!(polled(store, Owners::Memberships, 15).await, in_team_a(&["ann"]), "an accepted invitation");
    assert_eq!(polled(store, Owners::Memberships, 20).await, in_team_a(&[]), "only what changed after `since`");
    assert_eq!(polled(store, Owners::TenantLinks, 15).await, in_team_a(&[]), "its mail only queued");
    let mut c = conn(store).await;
    let who = Claimant { origin: Origin::Operator("test-cluster".into()), sender: "s1".into() };
    let claimed = outbox::claim(&mut c, &who, at(35), at(35), at(95), 10).await.expect("claim");
    assert!(claimed.iter().any(|m| m.id == queued.mail().id), "{claimed:?}");
    outbox::mark_sent(&mut c, &queued.mail().id, "s1", at(35)).await.expect("sent");
    drop(c);
    assert_eq!(polled(store, Owners::TenantLinks, 31).await, in_team_a(&["msp"]), "its mail delivered");
    assert_eq!(polled(store, Owners::TenantLinks, 35).await, in_team_a(&[]));

    let mut c = conn(store).await;
    ownership::release(&mut c, ManagedTable::Memberships, &ann, at(40)).await.expect("release");
    drop(c);
    assert_eq!(polled(store, Owners::Memberships, 15).await, in_team_a(&[]), "a released row has no owner to wake");
}

/// An asset activated after the moment names its sync's owner; assets only created or mailed
/// (the operator's own writes) do not.
pub async fn changes_report_owners_of_syncs_with_activated_assets(store: &Store) {
    use crate::store::assets::{self, ActivateOutcome, InvoiceChoice, NewAsset};
    use crate::store::syncs::{self, NewProvisioningSync};
    let mut c = conn(store).await;
    let acct = account(&mut c, None).await;
    let sync = |name: &str, uid: &str| NewProvisioningSync {
        account_id: acct.id.clone(),
        endpoint: "https://scim.example/v2".into(),
        owner: Some(owner(name, uid)),
    };
    let activated = syncs::insert(&mut c, &sync("activated", "uid-s1"), at(1)).await.expect("sync");
    let mailed = syncs::insert(&mut c, &sync("mailed", "uid-s2"), at(1)).await.expect("sync");
    let code = hash();
    for (s, order, code) in [(&activated, "o1", code.clone()), (&mailed, "o2", hash())] {
        let new = NewAsset {
            sync_id: s.id.clone(),
            order_name: order.into(),
            product: "P".into(),
            quantity: 1,
            notification_email: "it@example.com".into(),
            invoice: InvoiceChoice::NextInvoice,
            locale: "en".into(),
            activation_code_hash: Some(code),
            activation_expires_at: Some(at(100)),
        };
        let a = assets::insert(&mut c, &new, at(12)).await.expect("asset");
        assets::record_delivery(&mut c, &a.id, None, Some("<m@test>"), at(13)).await.expect("mailed");
    }
    assert!(matches!(assets::activate(&mut c, &code, at(14)).await.expect("activate"), ActivateOutcome::Activated(_)));
    drop(c);
    assert_eq!(polled(store, Owners::ProvisioningSyncs, 11).await, in_team_a(&["activated"]));
    assert!(polled(store, Owners::ProvisioningSyncs, 14).await.is_empty(), "nothing activated after 14");
}
