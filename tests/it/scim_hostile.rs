//! The SCIM client against a hostile server (`tests/tools/hostile_scim.py` on loopback): every
//! answer a tenant's own server could give ends in a clear error category, and the client
//! reads no more than its limits, follows no redirect and repeats no hostile text.
//!
//! The operator under the same servers, with its memory counted, is in `scim_hostile_e2e`.

use std::sync::Arc;
use std::time::Duration;

use accountops::scim::{
    ClientLimits, Credentials, EndpointGuard, EndpointPolicy, GuardSettings, RetryPolicy, Rule, ScimClient, ScimConfig,
    ScimError, User,
};

use crate::support::hostile::HostileServer;

fn client(url: &str, settings: GuardSettings, timeout: Option<Duration>) -> ScimClient {
    let mut config = ScimConfig::new(url, Credentials::Bearer("hostile-test-token".to_owned()));
    config.retry = RetryPolicy { attempts: 2, base: Duration::from_millis(50), max: Duration::from_millis(100) };
    config.timeout = timeout;
    ScimClient::new(&config, Arc::new(EndpointGuard::new(url, settings))).expect("client")
}

fn limited(max_response_bytes: usize, max_resources: usize) -> GuardSettings {
    let limits = ClientLimits { max_response_bytes, max_resources, ..ClientLimits::default() };
    GuardSettings { limits, ..GuardSettings::default() }
}

#[tokio::test]
async fn hostile_scim_bodies_are_cut_at_the_limit_declared_or_not() {
    let server = HostileServer::start().await;
    for mode in ["huge", "declared"] {
        let scim = client(&server.url(mode), limited(256 << 10, 100), None);
        let err = scim.get::<User>("u1").await.expect_err("too large");
        assert_eq!(err.category(), "ResponseTooLarge", "{mode}: {err}");
        assert!(!err.is_transient(), "{mode}: someone must act");
        assert_eq!(
            err.to_string(),
            "SCIM GET /Users/u1: the response is larger than 262144 bytes (--scim-max-response-bytes); not read"
        );
        assert_eq!(server.requests_to(mode).len(), 1, "{mode}: not retried");
    }
}

#[tokio::test]
async fn hostile_scim_lists_stop_at_the_resource_limit() {
    let server = HostileServer::start().await;
    // Pages that always promise one more: stopped once the pages add up to more than the limit.
    let endless = client(&server.url("endless"), limited(2 << 20, 50), None);
    let err = endless.list::<User>(None, 10, 1000).await.expect_err("endless");
    let ScimError::TooManyResources { total, limit, .. } = &err else { panic!("{err}") };
    assert_eq!(*limit, 50);
    assert!(*total > 50, "{err}");
    assert_eq!(err.category(), "TooManyResources");
    let pages = server.requests_to("endless").len();
    assert!((1..=6).contains(&pages), "a bounded number of pages: {pages}");
    // A total no client could hold: refused on the first page.
    let absurd = client(&server.url("absurd"), limited(2 << 20, 10_000), None);
    let err = absurd.list::<User>(None, 100, 100_000).await.expect_err("absurd");
    assert_eq!(err.category(), "TooManyResources", "{err}");
    assert!(err.to_string().contains("reports 4611686018427387904 resources, more than the 10000"), "{err}");
    assert_eq!(server.requests_to("absurd").len(), 1);
    // A page larger than asked for is not what RFC 7644 allows.
    let fat = client(&server.url("fat"), limited(2 << 20, 10_000), None);
    let err = fat.list::<User>(None, 10, 1000).await.expect_err("fat");
    assert_eq!(err.category(), "InvalidResponse", "{err}");
    assert!(err.to_string().ends_with("a page of 50 resources; 10 were asked for"), "{err}");
}

#[tokio::test]
async fn hostile_scim_silence_and_a_drip_end_in_a_timeout() {
    let server = HostileServer::start().await;
    for mode in ["silent", "drip"] {
        let scim = client(&server.url(mode), GuardSettings::default(), Some(Duration::from_secs(1)));
        let err = scim.get::<User>("u1").await.expect_err("no answer");
        assert_eq!(err.category(), "Timeout", "{mode}: {err}");
        assert!(err.is_transient(), "{mode}");
        assert_eq!(err.to_string(), "SCIM GET /Users/u1: no complete answer within 1s (--scim-timeout)");
        assert_eq!(server.requests_to(mode).len(), 2, "{mode}: retried once (two attempts)");
    }
}

#[tokio::test]
async fn hostile_scim_redirects_are_not_followed_and_error_pages_not_repeated() {
    let server = HostileServer::start().await;
    let scim = client(&server.url("redirect"), GuardSettings::default(), None);
    let err = scim.get::<User>("u1").await.expect_err("302");
    assert_eq!(err.category(), "RedirectNotFollowed", "{err}");
    assert!(server.requests_to("target").is_empty(), "the redirect was not followed: {:?}", server.requests());
    let scim = client(&server.url("error"), GuardSettings::default(), None);
    let err = scim.get::<User>("u1").await.expect_err("500");
    assert_eq!(err.category(), "ServerError");
    assert_eq!(err.to_string(), "SCIM GET /Users/u1 answered 500: Internal Server Error");
}

#[tokio::test]
async fn a_name_resolving_to_a_denied_address_is_refused_before_connecting() {
    let server = HostileServer::start().await;
    let policy = EndpointPolicy {
        denied_ranges: vec!["127.0.0.1/32".parse().expect("cidr"), "::1/128".parse().expect("cidr")],
        ..EndpointPolicy::default()
    };
    let settings = GuardSettings { policy: Arc::new(policy.clone()), ..GuardSettings::default() };
    let url = format!("http://localhost:{}/record/v2", server.addr.port());
    let scim = client(&url, settings.clone(), None);
    let err = scim.get::<User>("u1").await.expect_err("refused");
    let ScimError::EndpointNotAllowed { refusal, endpoint } = &err else { panic!("{err}") };
    assert_eq!(refusal.rule.as_str(), "DeniedRange", "{err}");
    assert!(refusal.subject.starts_with("localhost ("), "{err}");
    assert_eq!(endpoint, &url);
    assert!(!scim.guard().is_open() && scim.guard().report().failed == 0, "no failure of the endpoint");
    // An IP literal is refused when the client is built: nothing can be sent at all.
    let literal = format!("http://127.0.0.1:{}/record/v2", server.addr.port());
    let config = ScimConfig::new(&literal, Credentials::Bearer("t".to_owned()));
    let err = ScimClient::new(&config, Arc::new(EndpointGuard::new(&literal, settings))).expect_err("refused");
    assert!(
        matches!(&err, ScimError::EndpointNotAllowed { refusal, .. } if matches!(refusal.rule, Rule::DeniedRange(_)))
    );
    assert!(server.requests().is_empty(), "nothing reached the server: {:?}", server.requests());
}
