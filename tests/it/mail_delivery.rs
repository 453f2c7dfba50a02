//! The dispatcher's rules against a real aiosmtpd: only permanent refusals count toward the
//! limit, a mail older than the maximum age is given up, a claim another sender holds is left
//! alone until it runs out, and one namespace's backlog does not starve another's mail.

use std::time::Duration;

use accountops::api::Locale;
use accountops::mail::{DispatcherConfig, MailContext, Template, compose};
use accountops::store::outbox::{self, Claimant, DeadReason, MailState, Origin, Related};
use accountops::store::time;
use jiff::Timestamp;

use crate::mail::{db, dispatcher, fast, invite, invite_as, mail, settings};
use crate::support::eventually;
use crate::support::smtp::{Security, SmtpServer};

fn ids(server: &SmtpServer) -> Vec<String> {
    server.messages().iter().filter_map(|m| m.header("Message-ID").map(str::to_owned)).collect()
}

#[tokio::test]
async fn only_permanent_refusals_count_toward_the_limit_and_other_failures_never_kill_a_mail() {
    let Some(mut server) = SmtpServer::start_with_policy(Security::Plain).await else { return };
    let db = db().await;
    let (_, deferred) = invite_as(&db, "defer-anna", Locale::En, &settings()).await;
    let (refused_invitation, refused) = invite_as(&db, "refuse-bob", Locale::En, &settings()).await;
    let config =
        DispatcherConfig { max_attempts: 3, base_backoff: Duration::ZERO, max_backoff: Duration::ZERO, ..fast() };
    let d = dispatcher(&db, &server.url(), config);
    for pass in 1..=3 {
        let report = d.deliver_due_once().await.expect("pass");
        let row = mail(&db.store, &refused.message_id).await;
        assert_eq!((row.attempts, row.refusals), (pass, pass), "a 550 is a refusal");
        assert!(row.last_error.as_deref().is_some_and(|e| e.contains("550")), "{row:?}");
        if pass < 3 {
            assert_eq!((row.state, report.retrying, report.dead), (MailState::Pending, 2, 0));
        } else {
            assert_eq!((row.state, row.dead_reason, report.dead), (MailState::Dead, Some(DeadReason::Refused), 1));
            assert!(row.body_text.is_empty(), "a dead mail's body (token) is blanked");
        }
    }
    let mut c = db.store.acquire().await.expect("conn");
    let inv = accountops::store::invitations::get(&mut c, &refused_invitation).await.expect("invitation");
    assert_eq!(inv.sent_at, None);
    drop(c);
    // 451s, then the relay gone altogether: attempts pile up past the refusal limit (and past
    // the old budget of 12 attempts), the mail stays pending and keeps its body.
    for _ in 0..3 {
        d.deliver_due_once().await.expect("pass");
    }
    server.stop();
    for _ in 0..8 {
        assert_eq!(d.deliver_due_once().await.expect("pass").dead, 0);
    }
    let row = mail(&db.store, &deferred.message_id).await;
    assert_eq!((row.state, row.attempts, row.refusals), (MailState::Pending, 14, 0), "{row:?}");
    assert!(!row.body_text.is_empty() && row.dead_reason.is_none());
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("onnection refused")), "{row:?}");
    // An unusable address is dead at once, without a refusal: no relay can take it.
    let (_, good) = invite(&db, 1, Locale::En).await;
    let mut bad = good.clone();
    bad.message_id = "<bad-recipient@example.com>".into();
    bad.recipient = "not an address".into();
    let mut c = db.store.acquire().await.expect("conn");
    outbox::enqueue(&mut c, &bad, Timestamp::now()).await.expect("enqueue");
    drop(c);
    server.start_again().await;
    let report = d.deliver_due_once().await.expect("pass");
    assert_eq!((report.sent, report.dead), (1, 1));
    let row = mail(&db.store, &bad.message_id).await;
    assert_eq!(
        (row.state, row.dead_reason, row.attempts, row.refusals),
        (MailState::Dead, Some(DeadReason::Undeliverable), 1, 0)
    );
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("invalid recipient")), "{row:?}");
    assert_eq!(ids(&server), [good.message_id], "only the good address's mail went out");
}

#[tokio::test]
async fn a_mail_older_than_the_maximum_age_is_given_up_unsent_with_a_clear_error() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    let ten_days_ago = Timestamp::now().checked_sub(Duration::from_secs(10 * 86_400)).expect("ts");
    let ctx = MailContext { organization_name: "Acme".into(), ..Default::default() };
    let related = Related { table: "assets".into(), id: "asset-old".into() };
    let old = compose(&settings(), Template::Welcome, Locale::En, "old@example.com", &ctx, related, "asset-old");
    let mut c = db.store.acquire().await.expect("conn");
    outbox::enqueue(&mut c, &old, time::truncate(ten_days_ago)).await.expect("enqueue");
    drop(c);
    let (_, fresh) = invite(&db, 0, Locale::En).await;
    let config = DispatcherConfig { max_age: Duration::from_secs(3 * 86_400), ..fast() };
    let report = dispatcher(&db, &server.url(), config).deliver_due_once().await.expect("pass");
    let fresh_row = mail(&db.store, &fresh.message_id).await;
    assert_eq!((report.sent, report.dead), (1, 1), "{fresh_row:?}\n{}", server.log());
    let row = mail(&db.store, &old.message_id).await;
    assert_eq!((row.state, row.dead_reason, row.attempts), (MailState::Dead, Some(DeadReason::Expired), 0));
    let error = row.last_error.as_deref().unwrap_or_default();
    assert!(error.starts_with("not delivered within 3d of being queued (10d ago)"), "{error}");
    assert_eq!(ids(&server), std::slice::from_ref(&fresh.message_id), "the old mail was never sent");
}

#[tokio::test]
async fn a_claim_another_sender_holds_is_left_alone_until_it_runs_out_then_sent_once() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    let (_, new) = invite(&db, 0, Locale::En).await;
    // A sender of the same origin claimed it and crashed before sending.
    let crashed = Claimant { origin: settings().origin, sender: "local:local/crashed#0".into() };
    let now = Timestamp::now();
    let until = now.checked_add(Duration::from_secs(2)).expect("ts");
    let mut c = db.store.acquire().await.expect("conn");
    assert_eq!(outbox::claim(&mut c, &crashed, now, now, until, 10).await.expect("claim").len(), 1);
    drop(c);
    let d = dispatcher(&db, &server.url(), fast());
    assert_eq!(d.deliver_due_once().await.expect("pass").sent, 0, "held by a live claim");
    assert!(server.messages().is_empty());
    eventually("the mail sent once the claim ran out", Duration::from_secs(20), || async {
        (d.deliver_due_once().await.ok()?.sent == 1).then_some(())
    })
    .await;
    let row = mail(&db.store, &new.message_id).await;
    assert_eq!(row.state, MailState::Sent);
    assert_eq!(row.last_sender.as_deref(), Some(d.sender_id()));
    assert_eq!(ids(&server), std::slice::from_ref(&new.message_id), "once, with the Message-ID it was queued with");
}

#[tokio::test]
async fn one_namespace_queuing_many_mails_does_not_starve_another() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    let busy = settings().for_namespace("busy");
    let mut queued = Vec::new();
    for n in 0..30 {
        queued.push(invite_as(&db, &format!("busy{n}"), Locale::En, &busy).await.1);
    }
    let (_, quiet) = invite_as(&db, "quiet", Locale::En, &settings().for_namespace("quiet")).await;
    // Five a claim, as a relay budget of 10 a minute with a 1-minute lease gives.
    let config = DispatcherConfig { batch: 5, ..fast() };
    let report = dispatcher(&db, &server.url(), config).deliver_due_once().await.expect("pass");
    let mut c = db.store.acquire().await.expect("conn");
    let left = outbox::due(&mut c, Timestamp::now(), 50).await.expect("due");
    drop(c);
    assert_eq!(report.sent, 31, "{report:?} {left:#?}");
    let mut sent = Vec::new();
    for m in queued.iter().chain([&quiet]) {
        let row = mail(&db.store, &m.message_id).await;
        sent.push((row.sent_at.expect("sent"), row.namespace.clone().unwrap_or_default()));
    }
    sent.sort();
    let order: Vec<&str> = sent.iter().map(|(_, ns)| ns.as_str()).collect();
    assert_eq!(&order[..3], ["busy", "quiet", "busy"], "the quiet namespace's one mail goes out in the first round");
    assert_eq!(ids(&server).len(), 31);
    // The same for a dispatcher of another origin: it sends none of these.
    let other = settings().with_origin(Origin::Operator("elsewhere".into()));
    let (_, foreign) = invite_as(&db, "foreign", Locale::En, &other).await;
    let report = dispatcher(&db, &server.url(), fast()).deliver_due_once().await.expect("pass");
    assert_eq!(report.sent, 0, "local mode never sends an operator's mail");
    assert_eq!(mail(&db.store, &foreign.message_id).await.state, MailState::Pending);
}

/// Local mode's delivery: a claim's sends recorded in one transaction after it. Every mail is
/// marked sent and its invitation carries its Message-ID, as when each is recorded alone, and
/// nothing goes out twice.
#[tokio::test]
async fn a_claim_marked_together_records_every_send_and_its_invitation() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    let mut queued = Vec::new();
    for n in 0..7 {
        queued.push(invite(&db, n, Locale::En).await);
    }
    let d = dispatcher(&db, &server.url(), DispatcherConfig { batch: 3, mark_together: true, ..fast() });
    let report = d.deliver_due_once().await.expect("pass");
    assert_eq!((report.sent, report.retrying, report.dead), (7, 0, 0), "three claims: 3, 3 and 1");
    assert_eq!(d.stats().sent.load(std::sync::atomic::Ordering::Relaxed), 7);
    let mut c = db.store.acquire().await.expect("conn");
    for (invitation, queued) in &queued {
        let row = outbox::find_by_message_id(&mut c, &queued.message_id).await.expect("read").expect("mail");
        assert_eq!((row.state, row.claim.is_none()), (MailState::Sent, true), "{row:?}");
        let invitation = accountops::store::invitations::get(&mut c, invitation).await.expect("invitation");
        assert_eq!(invitation.message_id.as_deref(), Some(queued.message_id.as_str()));
        assert!(invitation.sent_at.is_some(), "{invitation:?}");
    }
    drop(c);
    assert_eq!(d.deliver_due_once().await.expect("again").sent, 0, "nothing is sent twice");
    assert_eq!(ids(&server).len(), 7);
}

#[tokio::test]
async fn a_fenced_dispatcher_claims_and_sends_nothing_until_the_lease_is_held() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    let (_, new) = invite(&db, 0, Locale::En).await;
    let fence = accountops::store::Fence::leased();
    let store = db.store.clone().with_fence(fence.clone());
    let transport = accountops::mail::Transport::from_url(&server.url()).expect("transport");
    let d = accountops::mail::Dispatcher::new(store, transport, &settings(), fast()).expect("dispatcher");
    let err = d.deliver_due_once().await.expect_err("fenced");
    assert!(err.to_string().contains("not the leader"), "{err}");
    let row = mail(&db.store, &new.message_id).await;
    assert_eq!((row.state, row.claim, row.attempts), (MailState::Pending, None, 0), "nothing claimed or written");
    fence.extend_to(std::time::Instant::now() + Duration::from_secs(60));
    assert_eq!(d.deliver_due_once().await.expect("leading").sent, 1);
    fence.extend_to(std::time::Instant::now().checked_sub(Duration::from_millis(10)).expect("instant"));
    let (_, later) = invite(&db, 1, Locale::En).await;
    let err = d.deliver_due_once().await.expect_err("the lease may have expired");
    assert!(err.to_string().contains("may have expired"), "{err}");
    assert_eq!(mail(&db.store, &later.message_id).await.claim, None);
    assert_eq!(ids(&server), std::slice::from_ref(&new.message_id));
}
