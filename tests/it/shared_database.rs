//! Several shells on one PostgreSQL database, as DESIGN.md allows: two operators of two
//! clusters (each watching its own namespace on the real apiserver) and a local `apply`, all
//! queuing invitations. Every mail goes out exactly once, through the shell that queued it:
//! an operator never sends another cluster's mail, and local mode writes only its own run's
//! mails into its mailbox.

use std::collections::BTreeSet;
use std::time::Duration;

use accountops::store::testkit::TestDatabase;

use crate::harness;
use crate::membership_e2e::MEMBERS;
use crate::store_pg;
use crate::support::eventually;
use crate::support::operator::Operator;
use crate::support::smtp::{Security, SmtpServer, parse_eml_dir};

const RESYNC: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(90);

const LOCAL: &str = r#"apiVersion: accountops.dev/v1alpha1
kind: Account
metadata: {name: laptop-acct, namespace: laptop}
spec:
  legalName: Laptop sp. z o.o.
  billingAddress: {street: ["ul. Boczna 3"], city: Kraków, postalCode: "30-001", country: PL}
  billingEmail: billing@laptop.example
  currency: PLN
---
apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata: {name: laptop-org, namespace: laptop}
spec:
  accountRef: {name: laptop-acct}
  displayName: Laptop
  roles: [{name: Admin}]
---
apiVersion: accountops.dev/v1alpha1
kind: Membership
metadata: {name: dev, namespace: laptop}
spec:
  organizationRef: {name: laptop-org}
  email: dev@laptop.example
  roles: [Admin]
"#;

/// `(message_id, origin, state, last sender)` of every mail.
async fn mails(store: &accountops::store::Store) -> Vec<(String, Option<String>, String, Option<String>)> {
    sqlx::query_as("SELECT message_id, origin, state, claimed_by FROM mail_outbox ORDER BY message_id")
        .fetch_all(store.pool())
        .await
        .expect("read the outbox")
}

fn of(all: &[(String, Option<String>, String, Option<String>)], origin: &str) -> BTreeSet<String> {
    all.iter().filter(|m| m.1.as_deref() == Some(origin)).map(|m| m.0.clone()).collect()
}

fn received(smtp: &SmtpServer) -> Vec<String> {
    smtp.messages().iter().filter_map(|m| m.header("Message-ID").map(str::to_owned)).collect()
}

#[tokio::test]
async fn two_clusters_and_a_local_apply_on_one_database_send_every_mail_once_through_their_own_shell() {
    let Some(env_a) = harness::test_env().await else { return };
    let Some(env_b) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    db.store().migrate().await.expect("migrate");
    let Some(smtp) = SmtpServer::start(Security::Plain).await else { return };
    let smtp_flag = format!("--smtp-url={}", smtp.url());
    // Cluster A has no relay yet: its mails must wait for it, whoever else could send them.
    let mut a = Operator::start(&env_a, &db.url, "cluster-a", RESYNC);
    let _b = Operator::start_with(&env_b, &db.url, "cluster-b", RESYNC, &[smtp_flag.as_str()]);
    env_a.apply(MEMBERS).await;
    env_b
        .apply(&MEMBERS.replace("anna@example.pl", "anna.b@example.pl").replace("bob@example.com", "bob.b@example.com"))
        .await;

    let store = db.store();
    let queued = eventually("two invitations queued by each cluster", WAIT, || async {
        let all = mails(store).await;
        (of(&all, "operator:cluster-a").len() == 2 && of(&all, "operator:cluster-b").len() == 2).then_some(all)
    })
    .await;
    let (from_a, from_b) = (of(&queued, "operator:cluster-a"), of(&queued, "operator:cluster-b"));
    eventually("cluster B's mails at the relay", WAIT, || async {
        (received(&smtp).iter().cloned().collect::<BTreeSet<_>>() == from_b).then_some(())
    })
    .await;

    // A local apply on the same database: its own mail into its mailbox, nobody else's.
    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::write(ws.path().join("local.yaml"), LOCAL).expect("manifest");
    let mailbox = ws.path().join("mailbox");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["apply", "-f", "local.yaml", "--database", &db.url, "--mailbox"])
        .arg(&mailbox)
        .current_dir(ws.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("accountops runs");
    let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{shown}");
    let all = mails(store).await;
    let from_local = of(&all, "local:local");
    assert_eq!(from_local.len(), 1, "{all:?}");
    let in_mailbox: BTreeSet<String> =
        parse_eml_dir(&mailbox).iter().filter_map(|m| m.header("Message-ID").map(str::to_owned)).collect();
    assert_eq!(in_mailbox, from_local, "the mailbox holds local mode's mail only");
    for (id, _, state, _) in all.iter().filter(|m| from_a.contains(&m.0)) {
        assert_eq!(state, "pending", "{id}: cluster A's mail waits for cluster A");
    }
    assert!(received(&smtp).iter().all(|id| from_b.contains(id)), "B sent only B's mails: {:?}", received(&smtp));

    // Cluster A gets its relay: its two mails go out, once each.
    a.stop();
    let _a = Operator::start_with(&env_a, &db.url, "cluster-a", RESYNC, &[smtp_flag.as_str()]);
    eventually("cluster A's mails at the relay", WAIT, || async { (received(&smtp).len() >= 4).then_some(()) }).await;
    tokio::time::sleep(RESYNC * 2).await;
    let got = received(&smtp);
    let distinct: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!((got.len(), distinct.len()), (4, 4), "every mail exactly once: {got:?}");
    assert_eq!(distinct, from_a.union(&from_b).cloned().collect(), "the operators' mails, not local mode's");
    for (id, origin, state, sender) in mails(store).await {
        assert_eq!(state, "sent", "{id}");
        let origin = origin.expect("an origin");
        assert!(
            sender.as_deref().is_some_and(|s| s.starts_with(&format!("{origin}/"))),
            "{id} of {origin} sent by {sender:?}"
        );
    }
}
