//! The database gone between a mail's send and its mark (found by tests/tools/faults.sh's
//! PostgreSQL restart): the dispatcher records the send once the database is back, while its
//! claim lasts, instead of leaving the claim to run out and the mail to go out a second time.
//! Real PostgreSQL behind a proxy the test cuts, real aiosmtpd taking 1.5 s to accept.

use std::time::Duration;

use accountops::api::Locale;
use accountops::mail::DispatcherConfig;
use accountops::store::outbox::MailState;
use accountops::store::testkit::TestDatabase;
use accountops::store::{PoolSettings, Store};

use crate::mail::{db_on, dispatcher, fast, invite_as, mail, settings, spawn, wait_for_messages};
use crate::store_pg;
use crate::support::eventually;
use crate::support::proxy::Proxy;
use crate::support::smtp::{Security, SmtpServer};

/// Long enough that a loaded machine (the whole suite on two cores) still records the send
/// well within it; the fix under test is what keeps it from running out.
const LEASE: Duration = Duration::from_secs(20);
/// The database stays cut this long after the relay accepted: longer than the pool waits for a
/// connection (so the mark fails), well within the claim.
const CUT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_mail_sent_while_the_database_is_cut_is_recorded_and_goes_out_once() {
    let Some(pg) = store_pg::fresh().await else { return };
    let Some(smtp) = SmtpServer::start_with_policy(Security::Plain).await else { return };
    pg.store().migrate().await.expect("migrate");
    let host_port = pg.url.split('@').nth(1).and_then(|r| r.split('/').next()).expect("host:port");
    let target = tokio::net::lookup_host(host_port).await.expect("resolve").next().expect("address");
    let mut proxy = Proxy::start(target).await;
    let url = pg.url.replace(&format!(":{}/", target.port()), &format!(":{}/", proxy.addr.port()));
    let pool = PoolSettings { acquire_timeout: Duration::from_secs(1), ..PoolSettings::default() };
    let through_proxy = Store::connect_with(&url, &pool).await.expect("connect through the proxy");
    let db = db_on(through_proxy, tempfile::tempdir().expect("tempdir")).await;
    let (_, new) = invite_as(&db, "slow", Locale::En, &settings()).await;

    let running = spawn(dispatcher(&db, &smtp.url(), DispatcherConfig { claim_lease: LEASE, ..fast() }));
    // Read the row directly, not through the proxy.
    eventually("the mail claimed", Duration::from_secs(20), || async {
        mail(pg.store(), &new.message_id).await.claim.map(|_| ())
    })
    .await;
    // The relay holds DATA for 1.5 s: cut the database now, so the mark after the relay's 250
    // fails, and bring it back well within the claim.
    proxy.cut();
    wait_for_messages(&smtp, 1).await;
    tokio::time::sleep(CUT).await;
    assert_eq!(mail(pg.store(), &new.message_id).await.state, MailState::Pending, "not recorded while cut");
    proxy.restore().await;

    let row = eventually("the send recorded", LEASE, || async {
        let row = mail(pg.store(), &new.message_id).await;
        (row.state == MailState::Sent).then_some(row)
    })
    .await;
    assert!(row.sent_at.is_some(), "{row:?}");
    // A lease later (when a lost claim would have let it go out again) nobody has sent it again.
    tokio::time::sleep(LEASE + Duration::from_secs(2)).await;
    let received: Vec<_> = smtp.messages().iter().filter_map(|m| m.header("Message-ID").map(str::to_owned)).collect();
    assert_eq!(received, vec![new.message_id.clone()], "delivered exactly once");
    running.stop().await;
}
