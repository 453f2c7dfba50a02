//! Checks of the outbox: delivery bookkeeping, and claims (one sender per mail, per origin,
//! leased, fair across namespaces).

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::fixtures::*;
use crate::store::Store;
use crate::store::outbox::{self, Attempt, Claimant, DeadReason, Enqueued, Mail, MailState, NewMail, Origin, Related};

fn operator(cluster: &str) -> Origin {
    Origin::Operator(cluster.to_owned())
}

fn claimant(origin: &Origin, sender: &str) -> Claimant {
    Claimant { origin: origin.clone(), sender: sender.to_owned() }
}

pub(super) fn new_mail(key: &str, origin: &Origin, namespace: Option<&str>) -> NewMail {
    NewMail {
        message_id: format!("<{key}@accountops.test>"),
        kind: "membership_invitation".into(),
        recipient: "ann@example.com".into(),
        subject: "Zaproszenie".into(),
        body_text: "Kliknij: https://app.example/accept?token=SECRET".into(),
        body_html: Some("<a href=\"https://app.example/accept?token=SECRET\">Akceptuj</a>".into()),
        locale: "pl".into(),
        related: Some(Related { table: "invitations".into(), id: format!("inv-{key}") }),
        origin: origin.clone(),
        namespace: namespace.map(str::to_owned),
    }
}

async fn queue(store: &Store, key: &str, origin: &Origin, namespace: Option<&str>, at_second: i64) -> Mail {
    let mut c = conn(store).await;
    match outbox::enqueue(&mut c, &new_mail(key, origin, namespace), at(at_second)).await.expect("enqueue") {
        Enqueued::New(m) => m,
        Enqueued::Existing(m) => panic!("{key} was queued already: {m:?}"),
    }
}

async fn claim(store: &Store, who: &Claimant, now: Timestamp, lease_until: Timestamp, limit: i64) -> Vec<Mail> {
    let mut c = conn(store).await;
    outbox::claim(&mut c, who, now, now, lease_until, limit).await.expect("claim")
}

fn keys(mails: &[Mail]) -> BTreeSet<String> {
    mails.iter().map(|m| m.message_id.clone()).collect()
}

fn key_set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| format!("<{k}@accountops.test>")).collect()
}

/// Enqueue once per Message-ID; attempts, refusals, sent and dead as documented; bodies
/// blanked once settled; every settling write needs the claim.
pub async fn outbox_delivery_flow(store: &Store) {
    let origin = operator("c1");
    let me = claimant(&origin, "c1/pod-a#1");
    let first = queue(store, "invite-1", &origin, Some("team-a"), 1).await;
    assert_eq!((first.state, first.attempts, first.refusals, first.next_attempt_at), (MailState::Pending, 0, 0, at(1)));
    assert_eq!((first.origin.as_deref(), first.namespace.as_deref()), (Some("operator:c1"), Some("team-a")));
    assert_eq!((first.claim.as_ref(), first.last_sender.as_ref()), (None, None));
    let mut c = conn(store).await;
    let again = outbox::enqueue(&mut c, &new_mail("invite-1", &origin, Some("team-a")), at(2)).await.expect("again");
    assert_eq!(again, Enqueued::Existing(first.clone()), "the same message_id is queued once");
    drop(c);
    let second = queue(store, "invite-2", &origin, Some("team-a"), 2).await;
    let mut c = conn(store).await;
    assert_eq!(outbox::pending_count(&mut c).await.expect("depth"), 2);
    assert_eq!(outbox::due(&mut c, at(0), 10).await.expect("due"), vec![]);
    assert_eq!(outbox::due(&mut c, at(5), 10).await.expect("due"), vec![first.clone(), second.clone()]);
    drop(c);

    // Nothing settles without the claim.
    let mut c = conn(store).await;
    assert_eq!(outbox::mark_sent(&mut c, &first.id, &me.sender, at(5)).await.expect("unclaimed"), None);
    drop(c);
    let claimed = claim(store, &me, at(5), at(65), 10).await;
    assert_eq!(keys(&claimed), key_set(&["invite-1", "invite-2"]));
    assert!(claimed.iter().all(|m| m.claim.as_ref().is_some_and(|cl| cl.by == me.sender && cl.until == at(65))));

    let mut c = conn(store).await;
    let failed = outbox::mark_failed(&mut c, &first.id, &me.sender, Attempt::Failed, "421 try later", at(60), at(5))
        .await
        .expect("fail")
        .expect("held");
    assert_eq!(
        (failed.attempts, failed.refusals, failed.next_attempt_at, failed.last_error.as_deref()),
        (1, 0, at(60), Some("421 try later")),
        "a transient failure is not a refusal"
    );
    assert_eq!((failed.claim, failed.last_sender.as_deref()), (None, Some(me.sender.as_str())), "claim ended");
    let sent = outbox::mark_sent(&mut c, &second.id, &me.sender, at(7)).await.expect("sent").expect("held");
    assert_eq!((sent.state, sent.sent_at), (MailState::Sent, Some(at(7))));
    assert!(sent.body_text.is_empty() && sent.body_html.is_none(), "bodies with tokens are blanked");
    assert_eq!(outbox::mark_sent(&mut c, &second.id, &me.sender, at(8)).await.expect("again"), None);
    assert_eq!(outbox::get(&mut c, &second.id).await.expect("get"), sent, "a second mark changes nothing");
    drop(c);

    let claimed = claim(store, &me, at(61), at(121), 10).await;
    assert_eq!(keys(&claimed), key_set(&["invite-1"]), "due again after its backoff");
    let mut c = conn(store).await;
    let refused = outbox::mark_failed(&mut c, &first.id, &me.sender, Attempt::Refused, "550 no", at(70), at(61))
        .await
        .expect("refused")
        .expect("held");
    assert_eq!((refused.attempts, refused.refusals), (2, 1));
    drop(c);
    claim(store, &me, at(70), at(130), 10).await;
    let mut c = conn(store).await;
    let dead = outbox::mark_dead(
        &mut c,
        &first.id,
        &me.sender,
        DeadReason::Refused,
        "550 no such user",
        Attempt::Refused,
        at(71),
    )
    .await
    .expect("dead")
    .expect("held");
    assert_eq!((dead.state, dead.attempts, dead.refusals, dead.sent_at), (MailState::Dead, 3, 2, None));
    assert_eq!((dead.dead_reason, dead.last_error.as_deref()), (Some(DeadReason::Refused), Some("550 no such user")));
    assert!(!dead.body_text.contains("SECRET") && dead.body_html.is_none());
    assert_eq!(outbox::pending_count(&mut c).await.expect("depth"), 0);
    let related = outbox::list_for_related(&mut c, "invitations", "inv-invite-1").await.expect("related");
    assert_eq!(related, vec![dead]);
    let bad = sqlx::query("UPDATE mail_outbox SET dead_reason = 'bored' WHERE id = $1")
        .bind(&second.id)
        .execute(&mut *c)
        .await
        .expect_err("an unknown dead reason is refused");
    assert!(bad.to_string().contains("mail_outbox_dead_reason"), "{bad}");
}

/// A claimed mail is nobody else's until its lease runs out; then another sender may take it,
/// and the first can no longer settle it. Released mails are claimable at once.
pub async fn outbox_claims_are_exclusive_until_the_lease_runs_out(store: &Store) {
    let origin = operator("c1");
    let (a, b) = (claimant(&origin, "pod-a#1"), claimant(&origin, "pod-b#2"));
    for n in 0..3 {
        queue(store, &format!("lease-{n}"), &origin, Some("ns"), n).await;
    }
    let held = claim(store, &a, at(10), at(70), 10).await;
    assert_eq!(held.len(), 3);
    assert!(claim(store, &b, at(10), at(70), 10).await.is_empty(), "held under a live claim");
    assert!(claim(store, &b, at(69), at(129), 10).await.is_empty(), "still held a second before the lease ends");
    // a crashed: its lease ran out, b takes the mails and sends them with the same Message-ID.
    let taken = claim(store, &b, at(70), at(130), 2).await;
    assert_eq!(taken.len(), 2);
    assert!(taken.iter().all(|m| m.claim.as_ref().is_some_and(|c| c.by == b.sender)));
    let mut c = conn(store).await;
    for m in &taken {
        assert_eq!(outbox::mark_sent(&mut c, &m.id, &a.sender, at(71)).await.expect("a"), None, "a lost it");
        let failed = outbox::mark_failed(&mut c, &m.id, &a.sender, Attempt::Failed, "late", at(90), at(71)).await;
        assert_eq!(failed.expect("a"), None);
        assert!(outbox::mark_sent(&mut c, &m.id, &b.sender, at(71)).await.expect("b").is_some());
    }
    // The third is still a's (expired, not re-claimed): a may still record its send.
    let third = held.iter().find(|m| !taken.iter().any(|t| t.id == m.id)).expect("the third");
    assert!(!outbox::release(&mut c, &third.id, &b.sender).await.expect("b"), "b cannot release a's claim");
    assert!(outbox::release(&mut c, &third.id, &a.sender).await.expect("a releases"));
    drop(c);
    let again = claim(store, &b, at(72), at(132), 10).await;
    assert_eq!(keys(&again), keys(std::slice::from_ref(third)), "a released mail is claimable at once");
}

/// A claimant takes only its own origin's mails; operators also take mails queued before
/// origins were recorded, local mode never does.
pub async fn outbox_claims_keep_to_their_origin(store: &Store) {
    let (x, y, local) = (operator("cluster-x"), operator("cluster-y"), Origin::Local("local".into()));
    queue(store, "x-1", &x, Some("ns"), 1).await;
    queue(store, "y-1", &y, Some("ns"), 1).await;
    queue(store, "local-1", &local, None, 1).await;
    let legacy = queue(store, "legacy-1", &x, None, 0).await;
    let mut c = conn(store).await;
    sqlx::query("UPDATE mail_outbox SET origin = NULL WHERE id = $1")
        .bind(&legacy.id)
        .execute(&mut *c)
        .await
        .expect("a row from before migration 6");
    drop(c);
    let lease = at(600);
    let local_got = claim(store, &claimant(&Origin::Local("other".into()), "l2"), at(5), lease, 10).await;
    assert!(local_got.is_empty(), "another local cluster id takes nothing: {local_got:?}");
    assert_eq!(keys(&claim(store, &claimant(&local, "l1"), at(5), lease, 10).await), key_set(&["local-1"]));
    assert_eq!(keys(&claim(store, &claimant(&x, "x1"), at(5), lease, 10).await), key_set(&["legacy-1", "x-1"]));
    assert_eq!(keys(&claim(store, &claimant(&y, "y1"), at(5), lease, 10).await), key_set(&["y-1"]));
}

/// One namespace's backlog does not keep another's mail out of a claim.
pub async fn outbox_claims_share_the_relay_between_namespaces(store: &Store) {
    let origin = operator("c1");
    for n in 0..20 {
        queue(store, &format!("busy-{n}"), &origin, Some("busy"), n).await;
    }
    queue(store, "quiet-0", &origin, Some("quiet"), 30).await;
    queue(store, "old-0", &origin, None, 40).await;
    let me = claimant(&origin, "s#1");
    let first = claim(store, &me, at(50), at(110), 3).await;
    let order: Vec<&str> = first.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(
        order,
        ["<busy-0@accountops.test>", "<quiet-0@accountops.test>", "<old-0@accountops.test>"],
        "each namespace's oldest first, busy first because its oldest is oldest"
    );
    let next = claim(store, &me, at(50), at(110), 5).await;
    assert_eq!(keys(&next), key_set(&["busy-1", "busy-2", "busy-3", "busy-4", "busy-5"]));
}

/// Senders claiming at the same time never get the same mail.
pub async fn outbox_concurrent_claims_never_overlap(store: &Store) {
    let origin = operator("c1");
    let mut c = conn(store).await;
    for n in 0..40 {
        let ns = format!("ns-{}", n % 3);
        outbox::enqueue(&mut c, &new_mail(&format!("race-{n}"), &origin, Some(&ns)), at(n)).await.expect("enqueue");
    }
    drop(c);
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let store = store.clone();
            let who = claimant(&origin, &format!("racer-{s}"));
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let mut c = store.acquire().await.expect("conn");
                    let batch = outbox::claim(&mut c, &who, at(100), at(100), at(700), 3).await.expect("claim");
                    if batch.is_empty() {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|m| (m.message_id, m.claim.map(|c| c.by))));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in senders {
        all.extend(task.await.expect("no panic"));
    }
    let distinct: BTreeSet<&String> = all.iter().map(|(id, _)| id).collect();
    assert_eq!((all.len(), distinct.len()), (40, 40), "every mail claimed exactly once: {all:?}");
    let mut c = conn(store).await;
    for (id, by) in &all {
        let row = outbox::find_by_message_id(&mut c, id).await.expect("read").expect("row");
        assert_eq!(row.claim.map(|c| c.by), by.clone(), "the row names the sender that got it");
    }
}
