//! The mail system end to end: outbox rows in SQLite, the dispatcher, a real aiosmtpd.
//! (Refusals, maximum age, claims and fair shares: `mail_delivery.rs`.)

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use accountops::api::Locale;
use accountops::mail::{
    DeliveryStats, Dispatcher, DispatcherConfig, MailContext, MailSettings, Template, Transport, compose,
};
use accountops::store::invitations::{self, NewInvitation, Subject};
use accountops::store::memberships::{self, MembershipPhase, NewMembership, Scope};
use accountops::store::outbox::{self, Mail, MailState, NewMail, Related};
use accountops::store::testkit::fixtures;
use accountops::store::{Conn, Store};
use jiff::Timestamp;

use crate::support::eventually;
use crate::support::smtp::{Security, SmtpServer, parse_eml_dir};

const ORG: &str = "Łódzka Spółka Wędkarska";

pub(crate) struct Db {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) store: Store,
    org_id: String,
}

pub(crate) async fn db() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("mail.db").display())).await.expect("connect");
    store.migrate().await.expect("migrate");
    db_on(store, dir).await
}

/// Like [`db`], on the caller's migrated `store` (PostgreSQL behind a proxy, ...).
pub(crate) async fn db_on(store: Store, dir: tempfile::TempDir) -> Db {
    let mut c = store.acquire().await.expect("conn");
    let acct = fixtures::account(&mut c, None).await;
    let org = fixtures::organization(&mut c, &acct.id, ORG).await;
    drop(c);
    Db { _dir: dir, store, org_id: org.id }
}

pub(crate) fn settings() -> MailSettings {
    MailSettings::new(
        "Zespół accountops <noreply@example.com>",
        None,
        "https://platform.example.com/invitations/accept",
    )
    .expect("settings")
}

/// An invitation (with its user and membership) and its composed mail, committed together.
pub(crate) async fn invite(db: &Db, n: usize, locale: Locale) -> (String, NewMail) {
    invite_as(db, &format!("lucja{n}"), locale, &settings()).await
}

/// An invitation to `<local>.<random>@example.com`, its mail composed with `mail`.
pub(crate) async fn invite_as(db: &Db, local: &str, locale: Locale, mail: &MailSettings) -> (String, NewMail) {
    let mut tx = db.store.begin().await.expect("begin");
    let c: &mut Conn = &mut tx;
    let email = format!("{local}.{}@example.com", uuid::Uuid::new_v4().simple());
    let user = fixtures::user(c, &email).await;
    let membership = NewMembership {
        user_id: user.id,
        scope: Scope::Organization(db.org_id.clone()),
        settings: fixtures::settings(&["Engineer"]),
        phase: MembershipPhase::Pending,
        owner: None,
    };
    let m = memberships::insert(c, &membership, fixtures::at(3)).await.expect("membership");
    let expires_at: Timestamp = "2030-03-14T09:05:00Z".parse().expect("ts");
    let new = NewInvitation {
        subject: Subject::Membership(m.id),
        email: email.clone(),
        token_hash: fixtures::hash(),
        locale: locale.as_str().into(),
        expires_at,
        resend_nonce: None,
    };
    let inv = invitations::insert(c, &new, Timestamp::now()).await.expect("invitation");
    let ctx = MailContext {
        recipient_name: Some("Łucja Żółć".into()),
        organization_name: ORG.into(),
        inviter: Some("Zenon Dąbrowski".into()),
        roles: vec!["Engineer".into()],
        accept_url: Some(settings().accept_url(&format!("token-{local}"))),
        expires_at: Some(expires_at),
        ..Default::default()
    };
    let to = format!("Łucja Żółć <{email}>");
    let related = Related { table: invitations::TABLE.into(), id: inv.id.clone() };
    let mail = compose(mail, Template::Invitation, locale, &to, &ctx, related, &inv.id);
    outbox::enqueue(c, &mail, Timestamp::now()).await.expect("enqueue");
    tx.commit().await.expect("commit");
    (inv.id, mail)
}

pub(crate) async fn mail(store: &Store, message_id: &str) -> Mail {
    let mut c = store.acquire().await.expect("conn");
    outbox::find_by_message_id(&mut c, message_id).await.expect("read").expect("mail exists")
}

pub(crate) fn fast() -> DispatcherConfig {
    DispatcherConfig {
        max_attempts: 8,
        max_age: Duration::from_secs(86_400),
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        rate_per_minute: 0,
        batch: 100,
        idle: Duration::from_millis(100),
        claim_lease: Duration::from_secs(60),
        mark_together: false,
    }
}

pub(crate) struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) fn spawn(dispatcher: Dispatcher) -> Running {
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dispatcher.run(async move {
        let _ = rx.await;
    }));
    Running { stop, task }
}

impl Running {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("dispatcher stops").expect("no panic");
    }
}

pub(crate) fn dispatcher(db: &Db, url: &str, config: DispatcherConfig) -> Dispatcher {
    Dispatcher::new(db.store.clone(), Transport::from_url(url).expect("transport"), &settings(), config).expect("new")
}

pub(crate) async fn wait_for_messages(server: &SmtpServer, n: usize) -> Vec<crate::support::smtp::ParsedMail> {
    eventually(&format!("{n} mails at the SMTP server"), Duration::from_secs(30), || async {
        let got = server.messages();
        (got.len() >= n).then_some(got)
    })
    .await
}

#[tokio::test]
async fn each_mail_is_delivered_once_with_its_message_id_polish_subject_and_both_parts() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    let mut sent = Vec::new();
    for n in 0..3 {
        sent.push(invite(&db, n, Locale::Pl).await);
    }
    let running = spawn(dispatcher(&db, &server.url(), fast()));
    let got = wait_for_messages(&server, 3).await;
    for (invitation_id, new) in &sent {
        let row = eventually("the mail marked sent", Duration::from_secs(10), || async {
            Some(mail(&db.store, &new.message_id).await).filter(|m| m.state == MailState::Sent)
        })
        .await;
        assert!(row.body_text.is_empty() && row.body_html.is_none(), "bodies (tokens) are blanked once sent");
        let mut c = db.store.acquire().await.expect("conn");
        let inv = invitations::get(&mut c, invitation_id).await.expect("invitation");
        assert_eq!(inv.message_id.as_deref(), Some(new.message_id.as_str()), "delivery recorded on the invitation");
        assert!(inv.sent_at.is_some());
    }
    // A further pass finds nothing: every mail went exactly once.
    running.stop().await;
    let report = dispatcher(&db, &server.url(), fast()).deliver_due_once().await.expect("pass");
    assert_eq!(report.sent + report.retrying + report.dead, 0);
    let got_again = server.messages();
    assert_eq!(got_again.len(), 3, "{got_again:#?}");

    let mut ids: Vec<&str> = got.iter().filter_map(|m| m.header("Message-ID")).collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = sent.iter().map(|(_, m)| m.message_id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    for m in &got {
        assert_eq!(m.header("Subject"), Some(format!("Zaproszenie do organizacji {ORG}").as_str()));
        assert!(m.raw_header("Subject").is_some_and(|s| s.contains("=?utf-8?b?") && s.is_ascii()), "{}", m.raw);
        assert_eq!(m.header("From"), Some("Zespół accountops <noreply@example.com>"));
        assert!(m.header("To").is_some_and(|t| t.starts_with("Łucja Żółć <lucja")), "{:?}", m.header("To"));
        assert_eq!(m.content_type, "multipart/alternative");
        let text = m.text.as_deref().expect("text part");
        let html = m.html.as_deref().expect("html part");
        assert!(text.contains("Zenon Dąbrowski zaprasza Cię do organizacji Łódzka Spółka Wędkarska."), "{text}");
        assert!(text.contains("Zaproszenie wygasa 14 marca 2030, 09:05 UTC."), "{text}");
        assert!(text.contains("https://platform.example.com/invitations/accept?token=token-"), "{text}");
        assert!(html.contains("<a href=\"https://platform.example.com/invitations/accept?token=token-"), "{html}");
    }
}

#[tokio::test]
async fn while_the_server_is_down_mails_wait_and_then_go_out_once() {
    let Some(mut server) = SmtpServer::start(Security::Plain).await else { return };
    server.stop();
    let db = db().await;
    let mut sent = Vec::new();
    for n in 0..3 {
        sent.push(invite(&db, n, Locale::En).await);
    }
    let report = dispatcher(&db, &server.url(), fast()).deliver_due_once().await.expect("pass");
    assert_eq!((report.sent, report.retrying, report.dead), (0, 3, 0));
    for (_, new) in &sent {
        let row = mail(&db.store, &new.message_id).await;
        assert_eq!((row.state, row.attempts), (MailState::Pending, 1));
        // One backoff after the failure, spread by a tenth either way.
        let base = fast().base_backoff;
        let (earliest, latest) =
            (row.updated_at.checked_add(base * 9 / 10), row.updated_at.checked_add(base * 11 / 10));
        let (earliest, latest) = (earliest.expect("ts"), latest.expect("ts"));
        assert!(
            (earliest..=latest).contains(&row.next_attempt_at),
            "retry one backoff after the failure: {} not in {earliest}..={latest}",
            row.next_attempt_at
        );
        let error = row.last_error.as_deref().unwrap_or_default();
        assert!(error.starts_with(&format!("smtp://{}?tls=none: ", server.addr)), "{error}");
        assert!(!row.body_text.is_empty(), "a pending mail keeps its body");
    }

    // A running dispatcher keeps retrying while the server is down, then delivers.
    let running = spawn(dispatcher(&db, &server.url(), fast()));
    eventually("retries while the server is down", Duration::from_secs(20), || async {
        let mut rows = Vec::new();
        for (_, new) in &sent {
            rows.push(mail(&db.store, &new.message_id).await);
        }
        rows.iter().all(|r| r.attempts >= 2 && r.state == MailState::Pending).then_some(())
    })
    .await;
    server.start_again().await;
    // The first three, plus proof nothing more arrives: a fourth mail enqueued after them.
    wait_for_messages(&server, 3).await;
    let (_, late) = invite(&db, 9, Locale::En).await;
    let got = wait_for_messages(&server, 4).await;
    running.stop().await;
    assert_eq!(server.messages().len(), 4, "each mail once");
    let ids: std::collections::BTreeSet<&str> = got.iter().filter_map(|m| m.header("Message-ID")).collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.contains(late.message_id.as_str()));
    for (_, new) in &sent {
        let row = mail(&db.store, &new.message_id).await;
        assert_eq!(row.state, MailState::Sent);
        assert!(row.attempts >= 1, "the failed attempts stay counted: {row:?}");
    }
}

#[tokio::test]
async fn the_file_transport_writes_one_eml_per_mail() {
    let db = db().await;
    let out = db._dir.path().join("outbox");
    let mut sent = Vec::new();
    for n in 0..3 {
        sent.push(invite(&db, n, Locale::Pl).await);
    }
    let d = dispatcher(&db, &format!("file://{}", out.display()), fast());
    let report = d.deliver_due_once().await.expect("pass");
    assert_eq!(report.sent, 3);
    assert_eq!(d.deliver_due_once().await.expect("again").sent, 0);
    let files = std::fs::read_dir(&out).expect("dir").count();
    assert_eq!(files, 3);
    let parsed = parse_eml_dir(&out);
    for (_, new) in &sent {
        let m = parsed.iter().find(|m| m.header("Message-ID") == Some(new.message_id.as_str())).expect("its file");
        assert_eq!(m.header("Subject"), Some(format!("Zaproszenie do organizacji {ORG}").as_str()));
        assert!(m.text.is_some() && m.html.is_some());
        assert_eq!(mail(&db.store, &new.message_id).await.state, MailState::Sent);
    }
}

#[tokio::test]
async fn the_rate_budget_is_never_exceeded() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    for n in 0..5 {
        invite(&db, n, Locale::En).await;
    }
    // 120 a minute: a bucket of 2, refilled 2 a second. Measured from before the bucket
    // exists, after `t` seconds at most 2 + 2t mails can have been sent, however slow we are.
    let start = Instant::now();
    let config = DispatcherConfig { rate_per_minute: 120, ..fast() };
    let stats = Arc::new(DeliveryStats::default());
    let running = spawn(dispatcher(&db, &server.url(), config).with_stats(Arc::clone(&stats)));
    let deadline = start + Duration::from_secs(30);
    loop {
        let sent = stats.sent.load(Ordering::SeqCst);
        let allowed = 2.0 + 2.0 * start.elapsed().as_secs_f64();
        assert!(sent as f64 <= allowed, "{sent} sent after {:?}: over the budget", start.elapsed());
        if sent == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "only {sent} of 5 sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(start.elapsed() >= Duration::from_millis(1500), "5 mails at 2/s after a burst of 2 take 1.5 s");
    running.stop().await;
    assert_eq!(server.messages().len(), 5);
}

#[tokio::test]
async fn starttls_and_implicit_tls_with_a_private_ca() {
    for security in [Security::StartTls, Security::Implicit] {
        let Some(server) = SmtpServer::start(security).await else { return };
        let db = db().await;
        let (_, new) = invite(&db, 0, Locale::Pl).await;
        let report = dispatcher(&db, &server.url(), fast()).deliver_due_once().await.expect("pass");
        let row = mail(&db.store, &new.message_id).await;
        assert_eq!(report.sent, 1, "{security:?}: {row:?}\n{}", server.log());
        assert_eq!(server.messages().len(), 1);
    }
}

#[tokio::test]
async fn starttls_is_required_unless_the_url_says_tls_none() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    let (_, new) = invite(&db, 0, Locale::En).await;
    let url = format!("smtp://{}", server.addr);
    let report = dispatcher(&db, &url, fast()).deliver_due_once().await.expect("pass");
    assert_eq!(report.retrying, 1);
    let row = mail(&db.store, &new.message_id).await;
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("STARTTLS")), "{row:?}");
    assert!(server.messages().is_empty(), "nothing went out in plain text");
}

#[tokio::test]
async fn a_notify_wakes_an_idle_dispatcher() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    let config = DispatcherConfig { idle: Duration::from_secs(600), ..fast() };
    let d = dispatcher(&db, &server.url(), config);
    let handle = d.handle();
    let stats = d.stats();
    let running = spawn(d);
    // Let the first (empty) pass finish so the dispatcher is idle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    invite(&db, 0, Locale::En).await;
    handle.notify();
    eventually("the notified dispatcher sends", Duration::from_secs(20), || async {
        (stats.sent.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    running.stop().await;
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn a_stopping_dispatcher_does_not_wait_out_its_rate_budget() {
    let Some(server) = SmtpServer::start(Security::Plain).await else { return };
    let db = db().await;
    for n in 0..3 {
        invite(&db, n, Locale::En).await;
    }
    // One a minute: after the first mail the dispatcher waits ~60 s for its budget.
    let config = DispatcherConfig { rate_per_minute: 1, ..fast() };
    let d = dispatcher(&db, &server.url(), config);
    let stats = d.stats();
    let running = spawn(d);
    eventually("the first mail", Duration::from_secs(20), || async {
        (stats.sent.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let stopping = Instant::now();
    running.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(5), "stopped after {:?}", stopping.elapsed());
    assert_eq!(server.messages().len(), 1);
    let mut c = db.store.acquire().await.expect("conn");
    assert_eq!(outbox::pending_count(&mut c).await.expect("count"), 2, "the rest stays queued");
    let due = outbox::due(&mut c, Timestamp::now(), 10).await.expect("due");
    assert!(due.iter().all(|m| m.claim.is_none()), "and its claims are released for the next sender: {due:?}");
}
