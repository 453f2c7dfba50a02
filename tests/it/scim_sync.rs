//! The ProvisioningSync core on SQLite against a real SCIM 2.0 server (scim2-server on
//! loopback): the push and its drift, outages and deletion, orders, shared users, re-created
//! objects, observe-only and import.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use accountops::api::provisioning_sync::SyncStatus;
use accountops::core::sync::{DesiredSync, SyncFacts, reconcile};
use accountops::scim::{Group, GuardSettings, Guards, Member, Resource as _, ScimClient, User};
use accountops::store::syncs;
use accountops::store::{assets, outbox};
use jiff::Timestamp;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::eventually;
use crate::support::scim::{ScimServer, World, client, id, mail_settings};

fn guards() -> Guards {
    Guards::new(GuardSettings { cool_down: Duration::from_millis(300), ..GuardSettings::default() })
}

async fn sync(world: &World, guards: &Guards, desired: &DesiredSync) -> SyncFacts {
    reconcile(&world.store, guards, desired, &mail_settings(), Timestamp::now()).await.expect("reconcile")
}

/// The SCIM users by `externalId`.
async fn scim_users(scim: &ScimClient) -> BTreeMap<String, User> {
    let all = scim.list::<User>(None, 50, 1000).await.expect("list users");
    all.into_iter().map(|u| (u.external_id.clone().expect("externalId"), u)).collect()
}

async fn group(scim: &ScimClient, external_id: &str) -> Group {
    scim.find_one::<Group>("externalId", external_id).await.expect("filter").expect("the group")
}

async fn archived(world: &World, sync_id: &str) -> bool {
    let mut conn = world.store.acquire().await.expect("conn");
    syncs::get(&mut conn, sync_id).await.expect("the sync row").archived_at.is_some()
}

fn ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    ids.into_iter().map(str::to_owned).collect()
}

fn members(group: &Group) -> BTreeSet<String> {
    ids(group.member_ids())
}

#[tokio::test]
async fn psync_pushes_the_directory_deactivates_ended_members_and_corrects_drift() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards, scim) = (World::new().await, guards(), client(&server));
    let desired = world.sync(&server.url(), &server.token, json!({}));
    let facts = sync(&world, &guards, &desired).await;
    assert_eq!(
        (facts.sync_status, facts.reason.reason().as_str()),
        (SyncStatus::Synchronized, "Synchronized"),
        "{facts:?}"
    );
    assert_eq!((facts.user_count, facts.group_count, facts.drift_corrections), (Some(3), Some(3), 0));
    assert!(facts.last_sync_time.is_some() && facts.sync_id.is_some());

    // Users: externalId = our user IDs; dave is a contact without login.
    let users = scim_users(&scim).await;
    let logins = ["anna@acme.example", "bob@acme.example", "carol@acme.example"];
    assert_eq!(ids(users.keys().map(String::as_str)), ids(logins.map(|e| world.users[e].as_str())));
    assert!(users.values().all(|u| u.active == Some(true)), "{users:?}");
    assert_eq!(users[&world.users["anna@acme.example"]].user_name, "anna@acme.example");
    let sid = |email: &str| users[&world.users[email]].id.clone().expect("a SCIM id");
    let (anna, bob, carol) = (sid(logins[0]), sid(logins[1]), sid(logins[2]));

    // Groups: the account (every login member) and one per organization, with members.
    let account = group(&scim, &world.account_id).await;
    assert_eq!((account.display_name.as_str(), &account.id), ("Acme Sp. z o.o.", &facts.external_id));
    assert_eq!(members(&account), ids([&*anna, &*bob, &*carol]));
    let eng = group(&scim, &world.orgs["eng"]).await;
    assert_eq!((eng.display_name.as_str(), members(&eng)), ("Acme Engineering", ids([&*anna, &*bob])));
    let ops = group(&scim, &world.orgs["ops"]).await;
    assert_eq!((ops.display_name.as_str(), members(&ops)), ("Acme Operations", ids([&*bob, &*carol])));
    assert_eq!(scim.list::<Group>(None, 50, 100).await.expect("groups").len(), 3);
    let steady = sync(&world, &guards, &desired).await;
    assert_eq!((steady.sync_status, steady.drift_corrections), (SyncStatus::Synchronized, 0), "{steady:?}");

    // Carol's membership is revoked: deactivated (kept), out of her groups; our change, not drift.
    world.member("carol-ops", true).await;
    let facts = sync(&world, &guards, &desired).await;
    assert_eq!((facts.sync_status, facts.user_count, facts.group_count), (SyncStatus::Synchronized, Some(2), Some(3)));
    assert_eq!(facts.drift_corrections, 0, "{facts:?}");
    let carol_now = scim.get::<User>(&carol).await.expect("get").expect("deactivated, not deleted");
    assert_eq!(carol_now.active, Some(false));
    assert_eq!(members(&group(&scim, &world.orgs["ops"]).await), ids([&*bob]));
    assert_eq!(members(&group(&scim, &world.account_id).await), ids([&*anna, &*bob]));

    // Anna is deleted out of band: recreated (a new SCIM id, her groups follow) and counted once.
    scim.delete::<User>(&anna).await.expect("out-of-band delete");
    let facts = sync(&world, &guards, &desired).await;
    assert_eq!(facts.sync_status, SyncStatus::Synchronized, "{facts:?}");
    assert_eq!(facts.drift_corrections, 1, "{facts:?}");
    let anna_again = scim.find_one::<User>("externalId", &world.users[logins[0]]).await.expect("filter");
    let anna_again = anna_again.expect("recreated");
    assert_eq!(anna_again.active, Some(true));
    let new_anna = anna_again.id.expect("id");
    assert_ne!(new_anna, anna);
    assert_eq!(members(&group(&scim, &world.orgs["eng"]).await), ids([&*new_anna, &*bob]));
    let steady = sync(&world, &guards, &desired).await;
    assert_eq!(steady.drift_corrections, 0, "corrected once: {steady:?}");
}

#[tokio::test]
async fn psync_outages_are_errors_and_deletion_deactivates_the_users_before_archiving() {
    let Some(mut server) = ScimServer::start().await else { return };
    let (world, guards, scim) = (World::new().await, guards(), client(&server));
    let mut desired = world.sync(&server.url(), &server.token, json!({}));
    let first = sync(&world, &guards, &desired).await;
    assert_eq!(first.sync_status, SyncStatus::Synchronized, "{first:?}");

    server.stop();
    let down = sync(&world, &guards, &desired).await;
    assert_eq!(down.sync_status, SyncStatus::Error, "{down:?}");
    assert!(matches!(down.reason.reason().as_str(), "Unreachable" | "CircuitOpen"), "{down:?}");
    assert!(down.message.contains("cannot reach the SCIM endpoint"), "{}", down.message);
    assert_eq!((&down.external_id, down.last_sync_time), (&first.external_id, first.last_sync_time), "kept");
    // Deleting while the system is down: nothing archived, the finalizer stays.
    desired.deleting = true;
    let waiting = sync(&world, &guards, &desired).await;
    assert_eq!((waiting.sync_status, waiting.deletion_finished), (SyncStatus::Error, false), "{waiting:?}");
    assert!(waiting.message.contains("could not be deactivated"), "{}", waiting.message);
    let sync_id = first.sync_id.clone().expect("sync id");
    assert!(!archived(&world, &sync_id).await);

    server.start_again().await;
    tokio::time::sleep(Duration::from_millis(400)).await; // the breaker's cool-down
    desired.deleting = false;
    let back = sync(&world, &guards, &desired).await;
    assert_eq!(
        (back.sync_status, back.reason.reason().as_str(), back.user_count),
        (SyncStatus::Synchronized, "Synchronized", Some(3))
    );

    desired.deleting = true;
    let deleted = sync(&world, &guards, &desired).await;
    assert_eq!((deleted.reason.reason().as_str(), deleted.deletion_finished), ("Archived", true), "{deleted:?}");
    assert!(deleted.message.contains("3 synced users deactivated"), "{}", deleted.message);
    let users = scim_users(&scim).await;
    assert_eq!(users.len(), 3);
    assert!(users.values().all(|u| u.active == Some(false)), "{users:?}");
    assert!(scim.list::<Group>(None, 50, 100).await.expect("groups").is_empty(), "its groups are deleted");
    assert!(archived(&world, &sync_id).await);
    // Archived: a repeated deletion does not need the external system.
    server.stop();
    let started = Instant::now();
    let again = sync(&world, &guards, &desired).await;
    assert_eq!((again.reason.reason().as_str(), again.deletion_finished), ("Archived", true), "{again:?}");
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn psync_with_deprovision_delete_deletes_ended_and_finally_all_users() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards, scim) = (World::new().await, guards(), client(&server));
    let mut desired = world.sync(&server.url(), &server.token, json!({"options": {"deprovision": "Delete"}}));
    assert_eq!(sync(&world, &guards, &desired).await.user_count, Some(3));
    world.member("anna-eng", true).await;
    let facts = sync(&world, &guards, &desired).await;
    assert_eq!((facts.sync_status, facts.user_count), (SyncStatus::Synchronized, Some(2)), "{facts:?}");
    let users = scim_users(&scim).await;
    assert!(!users.contains_key(&world.users["anna@acme.example"]), "deleted: {users:?}");
    assert_eq!(users.len(), 2);

    desired.deleting = true;
    let deleted = sync(&world, &guards, &desired).await;
    assert_eq!((deleted.reason.reason().as_str(), deleted.deletion_finished), ("Archived", true), "{deleted:?}");
    assert!(deleted.message.contains("2 synced users deleted"), "{}", deleted.message);
    assert!(scim_users(&scim).await.is_empty());
}

#[tokio::test]
async fn psync_wrong_credentials_are_an_auth_error_without_a_retry_storm() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards) = (World::new().await, guards());
    let order =
        json!({"name": "backup", "product": "backup-10", "quantity": 1, "notificationEmail": "ops@acme.example"});
    let desired = world.sync(&server.url(), "wrong-token", json!({ "orders": [order] }));
    let started = Instant::now();
    for _ in 0..2 {
        let facts = sync(&world, &guards, &desired).await;
        assert_eq!(
            (facts.sync_status, facts.reason.reason().as_str()),
            (SyncStatus::Error, "Unauthorized"),
            "{facts:?}"
        );
        assert!(facts.message.contains("401"), "{}", facts.message);
        assert!(!format!("{facts:?} {desired:?}").contains("wrong-token"), "the token never shows");
        assert!(facts.external_id.is_none() && facts.assets.is_empty() && facts.executed.is_empty(), "{facts:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "answered promptly: {:?}", started.elapsed());
    assert!(!guards.for_endpoint(&server.url()).is_open(), "an answer is not an outage");
    // One request per reconcile: a 4xx is not retried.
    let rejected = || server.log().lines().filter(|l| l.contains("\" 401 ")).count();
    eventually("the server's access log", Duration::from_secs(5), || async { (rejected() >= 2).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rejected(), 2, "{}", server.log());
}

#[tokio::test]
async fn psync_an_order_executes_once_with_one_welcome_mail_and_a_hashed_code() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards) = (World::new().await, guards());
    let order = json!({"name": "migration", "product": "mailbox-migration", "quantity": 3,
        "notificationEmail": "ops@acme.example"});
    let desired = world.sync(&server.url(), &server.token, json!({ "orders": [order] }));
    let mut seen = Vec::new();
    for round in 0..3 {
        let facts = sync(&world, &guards, &desired).await;
        assert_eq!(facts.sync_status, SyncStatus::Synchronized, "{facts:?}");
        let executed: &[&str] = if round == 0 { &["migration"] } else { &[] };
        assert_eq!(facts.executed, executed, "round {round}");
        assert_eq!(facts.assets.iter().map(|a| a.order.as_str()).collect::<Vec<_>>(), ["migration"]);
        seen.push(facts);
    }
    let mut conn = world.store.acquire().await.expect("conn");
    let sync_id = seen[0].sync_id.clone().expect("sync id");
    let all = assets::list_by_sync(&mut conn, &sync_id).await.expect("assets");
    assert_eq!(all.len(), 1, "one asset row");
    let asset = &all[0];
    assert_eq!(
        (asset.product.as_str(), asset.quantity, asset.id.as_str()),
        ("mailbox-migration", 3, &*seen[0].assets[0].asset_id)
    );
    let mails = outbox::due(&mut conn, Timestamp::now() + jiff::SignedDuration::from_hours(1), 100).await.expect("due");
    let welcome: Vec<_> =
        mails.iter().filter(|m| m.related.as_ref().is_some_and(|r| r.table == assets::TABLE)).collect();
    assert_eq!(welcome.len(), 1, "one welcome mail");
    let mail = welcome[0];
    assert_eq!(
        (mail.recipient.as_str(), Some(&mail.message_id)),
        ("ops@acme.example", asset.welcome_message_id.as_ref())
    );
    assert!(mail.body_text.contains("https://portal.example.com/start"), "{}", mail.body_text);
    let code = mail.body_text.lines().find_map(|l| l.strip_prefix("Activation code: ")).expect("a code").trim();
    let digest = format!("{:x}", Sha256::digest(code.as_bytes()));
    assert_eq!(asset.activation_code_hash.as_deref(), Some(digest.as_str()), "only its SHA-256 is stored");
    for facts in &seen {
        assert!(!format!("{facts:?}").contains(code), "the code never reaches the facts");
    }
}

#[tokio::test]
async fn psync_counts_as_drift_only_what_changed_in_the_external_system() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards, scim) = (World::new().await, guards(), client(&server));
    let desired = world.sync(&server.url(), &server.token, json!({}));
    assert_eq!(sync(&world, &guards, &desired).await.user_count, Some(3));

    // A new member and a member leaving one of her two organizations: our changes, not drift.
    world.join("erin-eng", "eng", "erin@acme.example", false).await;
    world.member("bob-ops", true).await;
    let facts = sync(&world, &guards, &desired).await;
    assert_eq!((facts.sync_status, facts.user_count, facts.drift_corrections), (SyncStatus::Synchronized, Some(4), 0));
    let users = scim_users(&scim).await;
    let bob = users[&world.users["bob@acme.example"]].clone();
    assert_eq!(bob.active, Some(true), "bob is still in eng");
    let bob_id = bob.id.clone().expect("id");
    assert!(!members(&group(&scim, &world.orgs["ops"]).await).contains(&bob_id), "out of ops");
    assert!(members(&group(&scim, &world.orgs["eng"]).await).contains(&bob_id));
    let erin = users.values().find(|u| u.user_name == "erin@acme.example").expect("erin is pushed");
    assert_eq!(erin.active, Some(true));

    // Someone adds a stranger to a group there and renames a user there: two corrections.
    let (stranger, _) = scim.create(&User::new("ext-9", "mallory@example.com", None, true)).await.expect("stranger");
    let eng = group(&scim, &world.orgs["eng"]).await;
    let mut with_stranger = eng.clone();
    with_stranger.members.push(Member::user(&id(&stranger)));
    scim.replace(&eng.id.clone().expect("id"), &with_stranger, eng.version()).await.expect("out-of-band member");
    let anna = users[&world.users["anna@acme.example"]].clone();
    let mut renamed = anna.clone();
    renamed.display_name = Some("Someone else".to_owned());
    scim.replace(&id(&anna), &renamed, anna.version()).await.expect("out-of-band rename");
    let facts = sync(&world, &guards, &desired).await;
    assert_eq!(facts.drift_corrections, 2, "{facts:?}");
    assert!(!members(&group(&scim, &world.orgs["eng"]).await).contains(&id(&stranger)), "removed again");
    let anna_now = scim.get::<User>(&id(&anna)).await.expect("get").expect("anna");
    assert_eq!(anna_now.display_name.as_deref(), Some("anna"));
    let stranger_now = scim.get::<User>(&id(&stranger)).await.expect("get").expect("stranger");
    assert_eq!(stranger_now.active, Some(true), "a user this sync never pushed is never deactivated");
    assert_eq!(sync(&world, &guards, &desired).await.drift_corrections, 0, "corrected once");

    // The ops organization goes: its group is deleted (our change), carol (only in ops) deactivated.
    world.member("carol-ops", true).await;
    world.member("dave-ops", true).await;
    let archived = world.archive_org("ops").await;
    assert!(archived.action.deletion_finished(), "{archived:?}");
    let facts = sync(&world, &guards, &desired).await;
    assert_eq!((facts.group_count, facts.drift_corrections), (Some(2), 0), "{facts:?}");
    assert!(scim.find_one::<Group>("externalId", &world.orgs["ops"]).await.expect("filter").is_none(), "deleted");
    let carol = scim.find_one::<User>("externalId", &world.users["carol@acme.example"]).await.expect("filter");
    assert_eq!(carol.expect("kept").active, Some(false));
}

#[tokio::test]
async fn psync_leaves_a_user_another_account_still_syncs() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards, scim) = (World::new().await, guards(), client(&server));
    let mut acme = world.sync(&server.url(), &server.token, json!({}));
    let globex = world.second_account(&server.url(), &server.token).await;
    // Bob works for both accounts: one SCIM user, in both account groups.
    world.join("bob-globex", "globex-eng", "bob@acme.example", false).await;
    assert_eq!(sync(&world, &guards, &acme).await.user_count, Some(3));
    let facts = sync(&world, &guards, &globex).await;
    assert_eq!((facts.sync_status, facts.user_count), (SyncStatus::Synchronized, Some(1)), "{facts:?}");
    let bob_id = id(&scim_users(&scim).await[&world.users["bob@acme.example"]]);

    // Bob leaves ACME: not deactivated, Globex still syncs him; out of ACME's account group.
    world.member("bob-eng", true).await;
    world.member("bob-ops", true).await;
    let facts = sync(&world, &guards, &acme).await;
    assert_eq!((facts.user_count, facts.drift_corrections), (Some(2), 0), "{facts:?}");
    let bob = scim.get::<User>(&bob_id).await.expect("get").expect("bob");
    assert_eq!(bob.active, Some(true), "held by the other sync");
    assert!(!members(&group(&scim, &world.account_id).await).contains(&bob_id));

    // ACME's sync is deleted: its own users are deactivated, Bob is not.
    acme.deleting = true;
    let deleted = sync(&world, &guards, &acme).await;
    assert_eq!((deleted.reason.reason().as_str(), deleted.deletion_finished), ("Archived", true), "{deleted:?}");
    assert!(deleted.message.contains("2 synced users deactivated"), "{}", deleted.message);
    let users = scim_users(&scim).await;
    assert_eq!(users[&world.users["anna@acme.example"]].active, Some(false));
    assert_eq!(users[&world.users["bob@acme.example"]].active, Some(true));
    let steady = sync(&world, &guards, &globex).await;
    assert_eq!((steady.user_count, steady.drift_corrections), (Some(1), 0), "{steady:?}");
}

#[tokio::test]
async fn psync_a_recreated_sync_keeps_its_record_when_restored_or_asked_and_starts_afresh_otherwise() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards) = (World::new().await, guards());
    let order = json!({"name": "starter", "product": "p", "quantity": 1, "notificationEmail": "ops@acme.example"});
    let mut desired = world.sync(&server.url(), &server.token, json!({ "orders": [order] }));
    let first = sync(&world, &guards, &desired).await;
    assert_eq!(first.executed, ["starter"], "{first:?}");
    let record = first.sync_id.clone().expect("a record");

    // The cluster is restored from a backup: same namespace/name, new UID, the record still live.
    desired.owner.uid = "uid-acme-scim-restored".into();
    let restored = sync(&world, &guards, &desired).await;
    assert_eq!((restored.sync_id.as_deref(), restored.created), (Some(record.as_str()), false), "{restored:?}");
    assert!(restored.executed.is_empty(), "the order ran once: {restored:?}");

    // Deleted (policy Delete), then re-created with the adopt annotation: the record comes back.
    desired.deleting = true;
    assert!(sync(&world, &guards, &desired).await.deletion_finished);
    assert!(archived(&world, &record).await);
    desired.deleting = false;
    desired.owner.uid = "uid-acme-scim-3".into();
    desired.flags.adopt = true;
    let adopted = sync(&world, &guards, &desired).await;
    assert_eq!((adopted.sync_status, adopted.sync_id.as_deref()), (SyncStatus::Synchronized, Some(record.as_str())));
    assert!(adopted.executed.is_empty() && adopted.assets.len() == 1, "{adopted:?}");
    assert!(!archived(&world, &record).await, "revived");

    // Deleted again and re-created without it: a new record, whose order runs anew.
    desired.flags.adopt = false;
    desired.deleting = true;
    assert!(sync(&world, &guards, &desired).await.deletion_finished);
    desired.deleting = false;
    desired.owner.uid = "uid-acme-scim-4".into();
    let fresh = sync(&world, &guards, &desired).await;
    assert_eq!(fresh.sync_status, SyncStatus::Synchronized, "{fresh:?}");
    assert!(fresh.created && fresh.sync_id.as_deref() != Some(record.as_str()), "{fresh:?}");
    assert_eq!(fresh.executed, ["starter"]);

    // Orphaned (policy Orphan): released, not archived; a re-created object makes a new record.
    desired.spec.deletion_policy = accountops::api::DeletionPolicy::Orphan;
    desired.deleting = true;
    let orphaned = sync(&world, &guards, &desired).await;
    assert_eq!((orphaned.reason.reason().as_str(), orphaned.deletion_finished), ("Orphaned", true));
    desired.deleting = false;
    desired.owner.uid = "uid-acme-scim-5".into();
    let after_orphan = sync(&world, &guards, &desired).await;
    assert_eq!(after_orphan.sync_status, SyncStatus::Synchronized, "{after_orphan:?}");
    assert_ne!(after_orphan.sync_id, fresh.sync_id);
}

#[tokio::test]
async fn psync_observe_only_lists_what_differs_and_writes_nothing() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards, scim) = (World::new().await, guards(), client(&server));
    let mut desired = world.sync(&server.url(), &server.token, json!({}));
    desired.flags.observe_only = true;
    let nothing = sync(&world, &guards, &desired).await;
    assert_eq!((nothing.reason.reason().as_str(), nothing.sync_id.as_deref()), ("NotFound", None), "{nothing:?}");
    assert!(scim_users(&scim).await.is_empty(), "nothing pushed");

    desired.flags.observe_only = false;
    let first = sync(&world, &guards, &desired).await;
    let record = first.sync_id.clone().expect("record");
    let stored = |world: &World| {
        let store = world.store.clone();
        let id = record.clone();
        async move {
            let mut conn = store.acquire().await.expect("conn");
            syncs::get(&mut conn, &id).await.expect("row")
        }
    };
    let before = stored(&world).await;

    // Out of band: anna deleted there; in the platform: carol leaves; a new order is added.
    let users = scim_users(&scim).await;
    let anna = id(&users[&world.users["anna@acme.example"]]);
    scim.delete::<User>(&anna).await.expect("out-of-band delete");
    world.member("carol-ops", true).await;
    desired.flags.observe_only = true;
    desired.spec.orders = vec![
        serde_json::from_value(
            json!({"name": "o", "product": "p", "quantity": 1, "notificationEmail": "o@acme.example"}),
        )
        .expect("order"),
    ];
    let observed = sync(&world, &guards, &desired).await;
    let differences = observed.observed_only.clone().expect("observe-only facts");
    assert!(differences.contains(&("users[anna@acme.example]".to_owned(), "missing".to_owned())), "{differences:?}");
    assert!(
        differences.contains(&("users[carol@acme.example]".to_owned(), "deactivate".to_owned())),
        "{differences:?}"
    );
    assert!(differences.iter().any(|(what, _)| what == "groups[Acme Operations]"), "{differences:?}");
    assert_eq!(observed.reason.reason().as_str(), "DriftDetected");
    assert!(observed.executed.is_empty() && observed.orders_pending == ["o"], "no order runs: {observed:?}");
    // Nothing written: anna still gone, carol still active, the record as it was.
    let users = scim_users(&scim).await;
    assert!(!users.contains_key(&world.users["anna@acme.example"]));
    assert_eq!(users[&world.users["carol@acme.example"]].active, Some(true));
    assert_eq!(stored(&world).await, before, "the record is untouched");

    // Deleting under observe-only leaves the external system as it is.
    desired.deleting = true;
    let deleted = sync(&world, &guards, &desired).await;
    assert_eq!((deleted.reason.reason().as_str(), deleted.deletion_finished), ("Orphaned", true), "{deleted:?}");
    assert_eq!(scim_users(&scim).await[&world.users["bob@acme.example"]].active, Some(true));
}

#[tokio::test]
async fn psync_external_id_imports_a_record_and_never_takes_a_live_one() {
    let Some(server) = ScimServer::start().await else { return };
    let (world, guards) = (World::new().await, guards());
    let order = json!({"name": "starter", "product": "p", "quantity": 1, "notificationEmail": "ops@acme.example"});
    let mut first = world.sync(&server.url(), &server.token, json!({ "orders": [order] }));
    let record = sync(&world, &guards, &first).await.sync_id.expect("a record");

    // Another object names the record while its owner lives: refused, nothing taken.
    let mut other = first.clone();
    other.owner.name = "acme-scim-v2".into();
    other.owner.uid = "uid-acme-scim-v2".into();
    other.flags.external_id = Some(record.clone());
    let refused = sync(&world, &guards, &other).await;
    assert_eq!((refused.reason.reason().as_str(), refused.sync_id.as_deref()), ("OwnedElsewhere", None), "{refused:?}");
    let outcome = refused.into_outcome(false, std::time::Duration::from_secs(60), Timestamp::now());
    assert_eq!(outcome.action, accountops::core::Action::Conflict);

    // Once the first object let go (Orphan), the import takes the record over: no order runs again.
    first.spec.deletion_policy = accountops::api::DeletionPolicy::Orphan;
    first.deleting = true;
    assert!(sync(&world, &guards, &first).await.deletion_finished);
    let imported = sync(&world, &guards, &other).await;
    assert_eq!((imported.sync_id.as_deref(), imported.created), (Some(record.as_str()), false), "{imported:?}");
    assert!(imported.executed.is_empty() && imported.assets.len() == 1, "{imported:?}");

    // A record that does not exist: NotFound, nothing created.
    let mut missing = other.clone();
    missing.owner.name = "acme-scim-v3".into();
    missing.owner.uid = "uid-acme-scim-v3".into();
    missing.flags.external_id = Some("psync-00000000-0000-4000-8000-000000000000".into());
    let facts = sync(&world, &guards, &missing).await;
    assert_eq!((facts.reason.reason().as_str(), facts.sync_id.as_deref()), ("NotFound", None), "{facts:?}");
    assert!(facts.message.contains("no sync record psync-00000000"), "{}", facts.message);
}
