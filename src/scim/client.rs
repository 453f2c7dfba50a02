//! The SCIM 2.0 client: one base URL, its credentials, retries with backoff, and the
//! endpoint's shared [`EndpointGuard`].
//!
//! ```text
//! op ──► send(): for attempt in 1..=attempts
//!          guard.admit()   (rate budget; CircuitOpen fails fast)
//!          HTTP ──► 2xx ─────────────────────► Ok            (breaker: success)
//!               ──► 4xx ─────────────────────► Err, no retry (breaker: success: it answered)
//!               ──► 429 / 5xx / no answer ───► backoff (Retry-After honoured), retry
//!                                                            (breaker: failure, not 429)
//! ```
//! On top: `create` adopts on 409 (by `externalId`, else the natural key), `replace`/`patch`
//! send `If-Match` when a version is known and re-read + retry once on 412, PATCH takes 200
//! with a body or 204 alike, `delete` of a missing resource is done.
//!
//! What the guard's settings impose on every client: the endpoint policy (checked on the URL
//! when the client is built and on every resolved address, see [`super::resolve`]; refused:
//! `EndpointNotAllowed`, nothing sent, not retried), the client limits ([`super::limits`]:
//! body size, resources per list, connect and request timeouts), no redirects, no proxy from
//! the environment (a proxy would resolve the name itself, out of the policy's sight).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ScimError, excerpt, from_response};
use super::guard::EndpointGuard;
use super::limits::{BodyError, ClientLimits, read_body};
use super::policy::Refusal;
use super::resolve::CheckedResolver;
use super::resources::{ListResponse, PatchOperation, PatchRequest, Resource, eq_filter};
use crate::mail::rate::backoff;
use crate::redact::redact_endpoint;

/// How to authenticate. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Bearer(String),
    Basic { username: String, password: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Bearer(_) => f.write_str("Bearer(redacted)"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, redacted)"),
        }
    }
}

/// Attempts and backoff for transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per request (at least 1).
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 4, base: Duration::from_millis(200), max: Duration::from_secs(5) }
    }
}

/// Everything a client needs but the guard.
#[derive(Debug, Clone)]
pub struct ScimConfig {
    /// Base URL, e.g. `https://host/scim/v2`.
    pub base_url: String,
    pub credentials: Credentials,
    pub insecure_skip_tls_verify: bool,
    /// Extra PEM certificates to trust.
    pub ca_pem: Option<Vec<u8>>,
    /// Per-request timeout instead of the guard's [`ClientLimits::timeout`] (tests).
    pub timeout: Option<Duration>,
    pub retry: RetryPolicy,
}

impl ScimConfig {
    pub fn new(base_url: &str, credentials: Credentials) -> ScimConfig {
        ScimConfig {
            base_url: base_url.to_owned(),
            credentials,
            insecure_skip_tls_verify: false,
            ca_pem: None,
            timeout: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// Was a resource created, or did a 409 lead to an existing one?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    Created,
    Adopted,
}

struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

/// A SCIM client for one service provider.
#[derive(Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    retry: RetryPolicy,
    limits: ClientLimits,
    /// The whole-request timeout in force.
    timeout: Duration,
    guard: Arc<EndpointGuard>,
}

impl fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimClient").field("base", &self.base).finish_non_exhaustive()
    }
}

impl ScimClient {
    /// A client for `config.base_url`, with the guard's policy and limits. A URL the policy
    /// refuses by itself (scheme, host allow-list, an IP literal in a denied range) fails here.
    pub fn new(config: &ScimConfig, guard: Arc<EndpointGuard>) -> Result<ScimClient, ScimError> {
        let url = reqwest::Url::parse(&config.base_url).map_err(|e| ScimError::Config(format!("base URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
            return Err(ScimError::Config("base URL must be http(s) without credentials in it".to_owned()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            // Credentials belong in the Secret; a query would also break the paths appended.
            return Err(ScimError::Config("base URL must have no query or fragment".to_owned()));
        }
        let policy = guard.policy().clone();
        let not_allowed =
            |refusal| ScimError::EndpointNotAllowed { endpoint: redact_endpoint(&config.base_url), refusal };
        policy.check_url(&url).map_err(not_allowed)?;
        let limits = guard.limits();
        let timeout = config.timeout.unwrap_or(limits.timeout);
        // reqwest is built without a bundled crypto provider: use ring, as kube and lettre do.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(limits.connect_timeout.min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver::new(policy, url.scheme() == "http")))
            .user_agent(concat!("accountops/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(config.insecure_skip_tls_verify);
        if let Some(pem) = &config.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ScimError::Config(format!("CA certificate: {e}")))?;
            if certs.is_empty() {
                return Err(ScimError::Config("CA certificate: no PEM certificate found".to_owned()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| ScimError::Config(e.to_string()))?;
        let base = config.base_url.trim_end_matches('/').to_owned();
        Ok(ScimClient {
            http,
            base,
            credentials: config.credentials.clone(),
            retry: config.retry,
            limits,
            timeout,
            guard,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn guard(&self) -> &EndpointGuard {
        &self.guard
    }

    /// One request with retries. `path` is relative to the base URL.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
    ) -> Result<Answer, ScimError> {
        let verb = verb(&method);
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.guard.admit().await?;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .header("Accept", "application/scim+json, application/json");
            req = match &self.credentials {
                Credentials::Bearer(token) => req.bearer_auth(token),
                Credentials::Basic { username, password } => req.basic_auth(username, Some(password)),
            };
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(body) = body {
                req = req.header("Content-Type", "application/scim+json").body(body.to_string());
            }
            if let Some(etag) = if_match {
                req = req.header("If-Match", etag);
            }
            let (error, retry_after) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    match read_body(resp, self.limits.max_response_bytes).await {
                        Ok(body) if status.is_success() => {
                            self.guard.success();
                            return Ok(Answer { status, body });
                        }
                        Ok(body) => {
                            let error = from_response(verb, path, status.as_u16(), &body);
                            if status.is_server_error() {
                                self.guard.failure();
                            } else if status == StatusCode::TOO_MANY_REQUESTS {
                                self.guard.rate_limited();
                            } else {
                                self.guard.success();
                                return Err(error);
                            }
                            (error, retry_after)
                        }
                        Err(BodyError::TooLarge) => {
                            // A system that answers this way will again: someone must act.
                            self.guard.failure();
                            let limit = self.limits.max_response_bytes;
                            return Err(ScimError::ResponseTooLarge { method: verb, path: path.to_owned(), limit });
                        }
                        Err(BodyError::Read(e)) => {
                            self.guard.failure();
                            (self.transport(verb, path, &e), None)
                        }
                    }
                }
                Err(e) => {
                    if let Some(refusal) = refusal(&e) {
                        // Nothing was sent: not the endpoint's failure, and no use retrying.
                        return Err(ScimError::EndpointNotAllowed { endpoint: redact_endpoint(&self.base), refusal });
                    }
                    self.guard.failure();
                    let error = self.transport(verb, path, &e);
                    if !error.is_transient() {
                        // A certificate nobody trusts will not be trusted on the next attempt.
                        return Err(error);
                    }
                    (error, None)
                }
            };
            if attempt >= attempts {
                return Err(error);
            }
            let wait =
                retry_after.unwrap_or_else(|| backoff(self.retry.base, self.retry.max, attempt)).min(self.retry.max);
            tracing::debug!(endpoint = %self.base, attempt, ?wait, error = %error, "retrying SCIM request");
            tokio::time::sleep(wait).await;
        }
    }

    fn parse<T: DeserializeOwned>(verb: &'static str, path: &str, body: &[u8]) -> Result<T, ScimError> {
        // serde quotes what it could not read: only an excerpt of it goes on.
        serde_json::from_slice(body).map_err(|e| ScimError::InvalidResponse {
            method: verb,
            path: path.to_owned(),
            reason: excerpt(&e.to_string()),
        })
    }

    /// A connection or read failure as a typed error: a timeout, a TLS failure, an outage.
    fn transport(&self, verb: &'static str, path: &str, e: &reqwest::Error) -> ScimError {
        if e.is_timeout() {
            return ScimError::Timeout { method: verb, path: path.to_owned(), after: self.timeout };
        }
        transport(verb, path, e)
    }

    fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, ScimError> {
        serde_json::to_value(value).map_err(|e| ScimError::Config(format!("cannot encode a request: {e}")))
    }

    /// `GET /Users/{id}`; `None` when it does not exist.
    pub async fn get<R: Resource>(&self, id: &str) -> Result<Option<R>, ScimError> {
        let path = resource_path::<R>(id);
        match self.send(Method::GET, &path, &[], None, None).await {
            Ok(answer) => Self::parse(verb(&Method::GET), &path, &answer.body).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /Users`. On 409, the existing resource with the same `externalId` (else the same
    /// natural key: `userName`, `displayName`) is returned as adopted.
    pub async fn create<R: Resource>(&self, resource: &R) -> Result<(R, Creation), ScimError> {
        let body = Self::to_json(resource)?;
        match self.send(Method::POST, R::ENDPOINT, &[], Some(&body), None).await {
            Ok(answer) => Ok((Self::parse("POST", R::ENDPOINT, &answer.body)?, Creation::Created)),
            Err(e) if e.status() == Some(409) => {
                let by_external = match resource.external_id() {
                    Some(ext) => self.find_one::<R>("externalId", ext).await?,
                    None => None,
                };
                let found = match by_external {
                    Some(found) => Some(found),
                    None => self.find_one::<R>(R::NATURAL_KEY, resource.natural_key()).await?,
                };
                found.map(|r| (r, Creation::Adopted)).ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `PUT /Users/{id}` with `If-Match: version` when given; on 412 the current version is
    /// read and the replace retried once.
    pub async fn replace<R: Resource>(&self, id: &str, resource: &R, version: Option<&str>) -> Result<R, ScimError> {
        let path = resource_path::<R>(id);
        let body = Self::to_json(resource)?;
        let answer = match self.send(Method::PUT, &path, &[], Some(&body), version).await {
            Err(e) if e.status() == Some(412) => {
                let current = self.get::<R>(id).await?.ok_or(e)?;
                self.send(Method::PUT, &path, &[], Some(&body), current.version()).await?
            }
            other => other?,
        };
        Self::parse("PUT", &path, &answer.body)
    }

    /// `PATCH /Users/{id}`: the resource when the server answers 200 with a body, `None` on 204.
    /// `If-Match` and 412 as [`ScimClient::replace`].
    pub async fn patch<R: Resource>(
        &self,
        id: &str,
        operations: &[PatchOperation],
        version: Option<&str>,
    ) -> Result<Option<R>, ScimError> {
        let path = resource_path::<R>(id);
        let body = Self::to_json(&PatchRequest { schemas: [super::resources::PATCH_SCHEMA], operations })?;
        let answer = match self.send(Method::PATCH, &path, &[], Some(&body), version).await {
            Err(e) if e.status() == Some(412) => {
                let current = self.get::<R>(id).await?.ok_or(e)?;
                self.send(Method::PATCH, &path, &[], Some(&body), current.version()).await?
            }
            other => other?,
        };
        if answer.status == StatusCode::NO_CONTENT || answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        Self::parse("PATCH", &path, &answer.body).map(Some)
    }

    /// `DELETE /Users/{id}`; a resource already gone counts as deleted.
    pub async fn delete<R: Resource>(&self, id: &str) -> Result<(), ScimError> {
        match self.send(Method::DELETE, &resource_path::<R>(id), &[], None, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The first resource with `attribute eq value`.
    pub async fn find_one<R: Resource>(&self, attribute: &str, value: &str) -> Result<Option<R>, ScimError> {
        let query =
            [("filter", eq_filter(attribute, value)), ("startIndex", "1".to_owned()), ("count", "2".to_owned())];
        let answer = self.send(Method::GET, R::ENDPOINT, &query, None, None).await?;
        let page: ListResponse<R> = Self::parse("GET", R::ENDPOINT, &answer.body)?;
        Ok(page.resources.into_iter().next())
    }

    /// Every resource matching `filter` (all when `None`), `page_size` per request, following
    /// `startIndex` until `totalResults`, at most `max_items` of them. A list larger than the
    /// client limits allow (`totalResults`, or what the pages add up to) is `TooManyResources`;
    /// a page larger than asked for, or pages so small that they would take more requests than
    /// ten times what full pages need, are `InvalidResponse`.
    pub async fn list<R: Resource>(
        &self,
        filter: Option<&str>,
        page_size: u32,
        max_items: usize,
    ) -> Result<Vec<R>, ScimError> {
        let page_size = page_size.max(1);
        let limit = self.limits.max_resources;
        let max_pages = limit.min(max_items).div_ceil(page_size as usize).max(1) * 10;
        let invalid =
            |reason: String| ScimError::InvalidResponse { method: "GET", path: R::ENDPOINT.to_owned(), reason };
        let mut out: Vec<R> = Vec::new();
        let mut start: u64 = 1;
        for _ in 0..max_pages {
            let mut query = vec![("startIndex", start.to_string()), ("count", page_size.to_string())];
            if let Some(f) = filter {
                query.push(("filter", f.to_owned()));
            }
            let answer = self.send(Method::GET, R::ENDPOINT, &query, None, None).await?;
            let page: ListResponse<R> = Self::parse("GET", R::ENDPOINT, &answer.body)?;
            let got = page.resources.len();
            if got > page_size as usize {
                return Err(invalid(format!("a page of {got} resources; {page_size} were asked for")));
            }
            let total = page.total_results.max(out.len() as u64 + got as u64);
            if total > limit as u64 {
                return Err(ScimError::TooManyResources { method: "GET", path: R::ENDPOINT.to_owned(), total, limit });
            }
            out.extend(page.resources);
            start += got as u64;
            if got == 0 || start > page.total_results || out.len() >= max_items {
                out.truncate(max_items);
                return Ok(out);
            }
        }
        Err(invalid(format!(
            "still more pages after {max_pages} requests ({} resources so far): its pages are far smaller than the {page_size} asked for",
            out.len()
        )))
    }
}

fn resource_path<R: Resource>(id: &str) -> String {
    let encoded: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{}/{encoded}", R::ENDPOINT)
}

fn verb(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "request",
    }
}

/// The endpoint policy's refusal in a failed request's cause chain (from the resolver).
fn refusal(e: &reqwest::Error) -> Option<Refusal> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(refusal) = s.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        source = s.source();
    }
    None
}

fn transport(verb: &'static str, path: &str, e: &reqwest::Error) -> ScimError {
    // The error chain names the cause (refused, timeout, certificate); no credentials in it.
    let mut reason = e.without_url_ref().to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    if is_tls_failure(&reason) {
        ScimError::Tls { method: verb, path: path.to_owned(), reason }
    } else {
        ScimError::Transport { method: verb, path: path.to_owned(), reason }
    }
}

/// Whether a connection error chain is a TLS handshake failure (rustls names the certificate
/// problem, or the record that was no TLS), not an outage.
fn is_tls_failure(reason: &str) -> bool {
    ["certificate", "InvalidContentType", "received corrupt message"].iter().any(|needle| reason.contains(needle))
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let text = self.to_string();
        match self.url() {
            Some(url) => text.replace(&format!(" ({url})"), ""),
            None => text,
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: backoff applies).
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let value = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resources::{Group, User};

    #[test]
    fn credentials_never_print() {
        let b = format!("{:?}", Credentials::Bearer("s3cret".to_owned()));
        let basic = format!("{:?}", Credentials::Basic { username: "u".to_owned(), password: "s3cret".to_owned() });
        assert!(!b.contains("s3cret") && !basic.contains("s3cret"), "{b} {basic}");
    }

    #[test]
    fn handshake_failures_are_tls_errors_and_outages_are_not() {
        for reason in [
            "client error (Connect): invalid peer certificate: UnknownIssuer",
            "client error (Connect): invalid peer certificate: certificate not valid for name \"x\"",
            "client error (Connect): received corrupt message of type InvalidContentType",
        ] {
            assert!(is_tls_failure(reason), "{reason}");
        }
        for reason in [
            "client error (Connect): tcp connect error: Connection refused (os error 111)",
            "client error (Connect): dns error: failed to lookup address information",
            "operation timed out",
        ] {
            assert!(!is_tls_failure(reason), "{reason}");
        }
    }

    #[test]
    fn ids_are_encoded_into_paths() {
        assert_eq!(resource_path::<User>("ab-1"), "/Users/ab-1");
        assert_eq!(resource_path::<Group>("a/b?c"), "/Groups/a%2Fb%3Fc");
    }

    #[test]
    fn bad_base_urls_are_configuration_errors() {
        let guard = Arc::new(EndpointGuard::new("x", Default::default()));
        for url in ["ftp://x/scim", "http://user:pw@x/scim", "not a url"] {
            let config = ScimConfig::new(url, Credentials::Bearer("t".to_owned()));
            let err = ScimClient::new(&config, guard.clone()).expect_err(url);
            assert_eq!(err.category(), "InvalidConfig", "{url}");
            assert!(!err.to_string().contains("pw"), "{err}");
        }
    }
}
