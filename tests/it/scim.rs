//! The SCIM client against a real SCIM 2.0 server (scim2-server on loopback): resources,
//! conflicts and ETags, paging, typed errors, retries and the circuit breaker, TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use accountops::scim::{
    Creation, Credentials, EndpointGuard, Group, GuardSettings, Member, PatchOperation, Resource as _, RetryPolicy,
    ScimClient, ScimConfig, User,
};
use serde_json::json;

use crate::support::scim::{ScimServer, TlsFront, client, client_with, id};

#[tokio::test]
async fn scim_users_and_groups_round_trip() {
    let Some(server) = ScimServer::start().await else { return };
    let scim = client(&server);
    let (alice, how) =
        scim.create(&User::new("user-a", "alice@example.com", Some("Alice"), true)).await.expect("create");
    assert_eq!(how, Creation::Created);
    let (bob, _) = scim.create(&User::new("user-b", "bob@example.com", None, true)).await.expect("create");
    let found = scim.find_one::<User>("externalId", "user-a").await.expect("filter").expect("found");
    assert_eq!(found.id, alice.id);
    let by_name = scim.find_one::<User>("userName", "bob@example.com").await.expect("filter").expect("found");
    assert_eq!(by_name.external_id.as_deref(), Some("user-b"));
    assert!(scim.find_one::<User>("externalId", "nobody").await.expect("filter").is_none());

    let (group, _) =
        scim.create(&Group::new("org-1", "Org One", vec![Member::user(&id(&alice))])).await.expect("group");
    let gid = group.id.clone().expect("group id");
    assert_eq!(group.member_ids(), [id(&alice).as_str()]);
    // scim2-server answers PATCH with 204; the client reads either.
    let patched = scim.patch::<Group>(&gid, &[PatchOperation::add_members(&[&id(&bob)])], group.version()).await;
    assert!(patched.expect("patch").is_none_or(|g| g.members.len() == 2));
    let group = scim.get::<Group>(&gid).await.expect("get").expect("group");
    assert_eq!(group.members.len(), 2, "{group:?}");
    scim.patch::<Group>(&gid, &[PatchOperation::remove_member(&id(&alice))], None).await.expect("remove member");
    let group = scim.get::<Group>(&gid).await.expect("get").expect("group");
    assert_eq!(group.member_ids(), [id(&bob).as_str()]);

    let mut edited = User::new("user-a", "alice@example.com", Some("Alice A."), true);
    edited.id = alice.id.clone();
    let replaced = scim.replace(&id(&alice), &edited, alice.version()).await.expect("replace");
    assert_eq!(replaced.display_name.as_deref(), Some("Alice A."));
    scim.patch::<User>(&id(&alice), &[PatchOperation::replace("active", json!(false))], None)
        .await
        .expect("deactivate");
    let alice_now = scim.get::<User>(&id(&alice)).await.expect("get").expect("alice");
    assert_eq!(alice_now.active, Some(false));

    scim.delete::<User>(&id(&alice)).await.expect("delete");
    assert!(scim.get::<User>(&id(&alice)).await.expect("get").is_none());
    scim.delete::<User>(&id(&alice)).await.expect("deleting a deleted user is done");
}

#[tokio::test]
async fn scim_conflicts_adopt_and_stale_etags_retry_once() {
    let Some(server) = ScimServer::start().await else { return };
    let scim = client(&server);
    let (first, _) = scim.create(&User::new("user-a", "alice@example.com", None, true)).await.expect("create");
    let (again, how) = scim.create(&User::new("user-a", "alice@example.com", None, true)).await.expect("adopt");
    assert_eq!((how, again.id.clone()), (Creation::Adopted, first.id.clone()));
    // Same userName, another externalId: found by the natural key.
    let (same_name, how) = scim.create(&User::new("user-z", "alice@example.com", None, true)).await.expect("adopt");
    assert_eq!((how, same_name.id), (Creation::Adopted, first.id.clone()));

    let stale = first.version().expect("scim2-server sends versions").to_owned();
    scim.patch::<User>(&id(&first), &[PatchOperation::replace("displayName", json!("A"))], Some(&stale))
        .await
        .expect("first patch");
    // The version moved: 412, re-read, retried once.
    scim.patch::<User>(&id(&first), &[PatchOperation::replace("displayName", json!("B"))], Some(&stale))
        .await
        .expect("a stale ETag is re-read and retried");
    let mut replacement = User::new("user-a", "alice@example.com", Some("C"), true);
    replacement.id = first.id.clone();
    let replaced = scim.replace(&id(&first), &replacement, Some(&stale)).await.expect("replace after 412");
    assert_eq!(replaced.display_name.as_deref(), Some("C"));
}

#[tokio::test]
async fn scim_pagination_follows_start_index() {
    let Some(server) = ScimServer::start().await else { return };
    let scim = client(&server);
    for n in 0..7 {
        scim.create(&User::new(&format!("user-{n}"), &format!("u{n}@example.com"), None, true)).await.expect("create");
    }
    let all = scim.list::<User>(None, 3, 1000).await.expect("list");
    let mut names: Vec<String> = all.iter().map(|u| u.user_name.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 7, "{names:?}");
    assert_eq!(scim.list::<User>(None, 3, 5).await.expect("bounded").len(), 5);
    let filtered = scim.list::<User>(Some(r#"userName sw "u1""#), 2, 1000).await.expect("filtered");
    assert_eq!(filtered.len(), 1);
}

#[tokio::test]
async fn scim_wrong_token_is_a_typed_error_without_retries() {
    let Some(server) = ScimServer::start().await else { return };
    let retry = RetryPolicy { attempts: 5, base: Duration::from_secs(2), max: Duration::from_secs(2) };
    let scim = client_with(&server, "wrong-token", retry, GuardSettings::default());
    let started = Instant::now();
    let err = scim.get::<User>("x").await.expect_err("401");
    assert!(started.elapsed() < Duration::from_secs(2), "not retried: {:?}", started.elapsed());
    assert!(err.is_auth() && !err.is_transient(), "{err}");
    assert_eq!(err.category(), "Unauthorized");
    assert!(!err.to_string().contains("wrong-token"), "{err}");
    assert!(!scim.guard().is_open(), "an answer is not an outage");
}

#[tokio::test]
async fn scim_server_down_is_retried_then_the_circuit_opens() {
    let Some(mut server) = ScimServer::start().await else { return };
    let retry = RetryPolicy { attempts: 3, base: Duration::from_millis(50), max: Duration::from_millis(200) };
    let guard =
        GuardSettings { failure_threshold: 3, cool_down: Duration::from_millis(800), ..GuardSettings::default() };
    let scim = client_with(&server, &server.token, retry, guard);
    scim.create(&User::new("user-a", "a@example.com", None, true)).await.expect("up");
    server.stop();
    let started = Instant::now();
    let err = scim.find_one::<User>("externalId", "user-a").await.expect_err("down");
    assert_eq!(err.category(), "Unreachable", "{err}");
    assert!(started.elapsed() >= Duration::from_millis(150), "two backoffs: {:?}", started.elapsed());
    assert!(scim.guard().is_open(), "three failures open the breaker");
    let started = Instant::now();
    let err = scim.find_one::<User>("externalId", "user-a").await.expect_err("open");
    assert_eq!(err.category(), "CircuitOpen", "{err}");
    assert!(started.elapsed() < Duration::from_millis(100), "fails fast: {:?}", started.elapsed());

    server.start_again().await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    // The half-open probe succeeds and closes the breaker (the in-memory state was lost).
    assert!(scim.find_one::<User>("externalId", "user-a").await.expect("probe").is_none());
    assert!(!scim.guard().is_open());
}

#[tokio::test]
async fn scim_over_tls_trusts_the_given_ca_or_nothing_unknown() {
    let Some(server) = ScimServer::start().await else { return };
    let front = TlsFront::start(&server).await;
    let tls = |ca: Option<Vec<u8>>, insecure: bool| {
        let mut config = ScimConfig::new(&front.url(), Credentials::Bearer(server.token.clone()));
        config.ca_pem = ca;
        config.insecure_skip_tls_verify = insecure;
        config.retry = RetryPolicy { attempts: 3, base: Duration::from_millis(50), max: Duration::from_millis(100) };
        ScimClient::new(&config, Arc::new(EndpointGuard::new(&front.url(), GuardSettings::default()))).expect("client")
    };
    // The CA of caSecretRef: a real handshake, then SCIM as usual.
    let trusted = tls(Some(front.ca_pem.clone()), false);
    trusted.create(&User::new("user-a", "a@example.com", None, true)).await.expect("create over TLS");
    assert!(trusted.find_one::<User>("externalId", "user-a").await.expect("filter").is_some());

    // No CA: the certificate is refused, at once (no retries), as a TLS error someone must fix.
    let unknown = tls(None, false);
    let started = Instant::now();
    let err = unknown.find_one::<User>("externalId", "user-a").await.expect_err("an unknown issuer");
    assert_eq!(err.category(), "TlsError", "{err}");
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(started.elapsed() < Duration::from_millis(100), "not retried: {:?}", started.elapsed());

    // insecureSkipTlsVerify: accepted without a CA.
    let insecure = tls(None, true);
    assert!(insecure.find_one::<User>("externalId", "user-a").await.expect("insecure").is_some());

    // https:// to a plain HTTP port is a TLS error too, not an outage.
    let mut config =
        ScimConfig::new(&format!("https://127.0.0.1:{}/v2", server.addr.port()), Credentials::Bearer("t".into()));
    config.retry = RetryPolicy { attempts: 3, base: Duration::from_millis(50), max: Duration::from_millis(100) };
    let plain =
        ScimClient::new(&config, Arc::new(EndpointGuard::new("plain", GuardSettings::default()))).expect("client");
    let err = plain.find_one::<User>("externalId", "user-a").await.expect_err("not TLS");
    assert_eq!(err.category(), "TlsError", "{err}");
}
