//! SCIM errors: the RFC 7644 §3.12 error body turned into a typed error with a short category.
//!
//! What a remote server says reaches status, Events and logs only as a short excerpt: the
//! `scimType` keyword and the `detail` of an RFC 7644 error body, printable characters only,
//! at most [`MAX_DETAIL`] of them, and nothing of any other body (an HTML page, a JSON that
//! is no SCIM error): its HTTP reason phrase stands in. A server cannot write a message of its
//! own making into another tenant's view, nor a long one into ours.

use std::time::Duration;

use serde::Deserialize;

use super::policy::Refusal;
use crate::api::Reason;

/// The RFC 7644 error message schema.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Why a SCIM request failed. `Display` never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// The server answered with an error status (and, usually, a SCIM error body).
    #[error("SCIM {method} {path} answered {status}{}: {detail}", scim_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Status { method: &'static str, path: String, status: u16, scim_type: Option<String>, detail: String },
    /// No answer: connection refused, TLS failure, timeout.
    #[error("cannot reach the SCIM endpoint ({method} {path}): {reason}")]
    Transport { method: &'static str, path: String, reason: String },
    /// The TLS handshake failed: a certificate the client does not trust (set `caSecretRef`,
    /// or fix the server's), or no TLS at all on the other side. Someone must act; not retried.
    #[error("TLS with the SCIM endpoint failed ({method} {path}): {reason}")]
    Tls { method: &'static str, path: String, reason: String },
    /// The circuit breaker of this endpoint is open after repeated failures. The message
    /// leaves out the count and the time to the next probe, which change on every attempt:
    /// a status made from it is written once, not on every reconcile.
    #[error(
        "SCIM endpoint {endpoint} is failing: its circuit breaker is open and lets one probe through per cool-down"
    )]
    CircuitOpen { endpoint: String, failures: u32, retry_in: Duration },
    /// The answer was not what RFC 7644 describes.
    #[error("invalid SCIM response to {method} {path}: {reason}")]
    InvalidResponse { method: &'static str, path: String, reason: String },
    /// The client cannot be built (bad URL, bad CA certificate).
    #[error("invalid SCIM endpoint configuration: {0}")]
    Config(String),
    /// The operator's endpoint policy refuses the endpoint; nothing was sent to it.
    #[error("SCIM endpoint {endpoint} is not allowed by the endpoint policy: {refusal}")]
    EndpointNotAllowed { endpoint: String, refusal: Refusal },
    /// The answer was larger than the operator reads from one response.
    #[error("SCIM {method} {path}: the response is larger than {limit} bytes (--scim-max-response-bytes); not read")]
    ResponseTooLarge { method: &'static str, path: String, limit: usize },
    /// A list has more resources than the operator reads (or claims to).
    #[error(
        "SCIM {method} {path}: the server reports {total} resources, more than the {limit} read (--scim-max-resources)"
    )]
    TooManyResources { method: &'static str, path: String, total: u64, limit: usize },
    /// No complete answer in time: the server accepted the connection but did not answer.
    #[error("SCIM {method} {path}: no complete answer within {}s (--scim-timeout)", after.as_secs_f32())]
    Timeout { method: &'static str, path: String, after: Duration },
}

impl ScimError {
    /// A short, stable category for condition reasons and metrics.
    pub fn category(&self) -> Reason {
        match self {
            ScimError::Status { status, .. } => match status {
                300..=399 => Reason::RedirectNotFollowed,
                400 => Reason::BadRequest,
                401 => Reason::Unauthorized,
                403 => Reason::Forbidden,
                404 => Reason::NotFound,
                409 => Reason::Conflict,
                412 => Reason::PreconditionFailed,
                413 => Reason::PayloadTooLarge,
                429 => Reason::RateLimited,
                500..=599 => Reason::ServerError,
                _ => Reason::RequestRejected,
            },
            ScimError::Transport { .. } => Reason::Unreachable,
            ScimError::Tls { .. } => Reason::TlsError,
            ScimError::CircuitOpen { .. } => Reason::CircuitOpen,
            ScimError::InvalidResponse { .. } => Reason::InvalidResponse,
            ScimError::Config(_) => Reason::InvalidConfig,
            ScimError::EndpointNotAllowed { .. } => Reason::EndpointNotAllowed,
            ScimError::ResponseTooLarge { .. } => Reason::ResponseTooLarge,
            ScimError::TooManyResources { .. } => Reason::TooManyResources,
            ScimError::Timeout { .. } => Reason::Timeout,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ScimError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Worth another attempt later (429, 5xx, no answer); a 4xx needs someone to act.
    pub fn is_transient(&self) -> bool {
        match self {
            ScimError::Status { status, .. } => *status == 429 || *status >= 500,
            ScimError::Transport { .. } | ScimError::CircuitOpen { .. } | ScimError::Timeout { .. } => true,
            ScimError::InvalidResponse { .. }
            | ScimError::Tls { .. }
            | ScimError::Config(_)
            | ScimError::EndpointNotAllowed { .. }
            | ScimError::ResponseTooLarge { .. }
            | ScimError::TooManyResources { .. } => false,
        }
    }

    /// 401 or 403: the credentials are wrong or lack permission.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }
}

/// The body of an RFC 7644 error response.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub schemas: Vec<String>,
    /// A string by the RFC; some servers send a number.
    #[serde(default, deserialize_with = "string_or_number")]
    pub status: Option<String>,
    #[serde(default)]
    pub scim_type: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value.and_then(|v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }))
}

/// Longest excerpt of what a server wrote that is kept (`detail`, a parse error).
pub const MAX_DETAIL: usize = 120;

/// Build the error for `status` from a response body: the `scimType` and `detail` of an RFC
/// 7644 error body, else the reason phrase; never any other part of the body.
pub fn from_response(method: &'static str, path: &str, status: u16, body: &[u8]) -> ScimError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let (scim_type, detail) = match parsed {
        Some(b) if b.schemas.iter().any(|s| s == ERROR_SCHEMA) => (b.scim_type, b.detail),
        _ => (None, None),
    };
    // RFC 7644 scimType values are single camelCase words.
    let scim_type =
        scim_type.filter(|t| !t.is_empty() && t.len() <= 32 && t.chars().all(|c| c.is_ascii_alphanumeric()));
    let detail = detail.map(|d| excerpt(&d)).filter(|d| !d.is_empty());
    let detail = detail.unwrap_or_else(|| reason_phrase(status).to_owned());
    ScimError::Status { method, path: path.to_owned(), status, scim_type, detail }
}

/// At most [`MAX_DETAIL`] printable characters of `text`, whitespace runs made one space: what
/// of a remote text may be shown.
pub fn excerpt(text: &str) -> String {
    // Printable characters only: no bidi overrides, zero-width or other format characters.
    let printable = |c: &char| c.is_alphanumeric() || c.is_ascii_punctuation();
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .map(|w| w.chars().filter(printable).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= MAX_DETAIL {
        return joined;
    }
    let mut cut: String = joined.chars().take(MAX_DETAIL).collect();
    cut.push('…');
    cut
}

fn reason_phrase(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("no detail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_error_bodies_become_typed_errors() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"taken"}"#;
        let e = from_response("POST", "/Users", 409, body);
        assert_eq!(e.category(), "Conflict");
        assert!(!e.is_transient());
        assert_eq!(e.to_string(), "SCIM POST /Users answered 409 (uniqueness): taken");
        let numeric = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":401,"detail":"no"}"#;
        let e = from_response("GET", "/Users", 401, numeric);
        assert!(e.is_auth());
        assert_eq!(e.category(), "Unauthorized");
    }

    #[test]
    fn nothing_but_a_short_printable_scim_detail_of_a_body_is_kept() {
        let e = from_response("GET", "/Users", 502, b"<html>\nbad gateway, call +1 555 0100\n</html>");
        assert_eq!(e.category(), "ServerError");
        assert!(e.is_transient());
        assert_eq!(e.to_string(), "SCIM GET /Users answered 502: Bad Gateway", "nothing of a non-SCIM body");
        let json = from_response("GET", "/Users", 400, br#"{"detail":"not a SCIM error body","x":1}"#);
        assert_eq!(json.to_string(), "SCIM GET /Users answered 400: Bad Request");
        let long = format!(
            r#"{{"schemas":["{ERROR_SCHEMA}"],"scimType":"invalid value\u202e","detail":"{}\u202e\u0007\n next"}}"#,
            "x".repeat(5000)
        );
        let ScimError::Status { detail, scim_type, .. } = from_response("GET", "/x", 500, long.as_bytes()) else {
            panic!()
        };
        assert_eq!(detail.chars().count(), MAX_DETAIL + 1, "{detail}");
        assert!(detail.ends_with('…'), "{detail}");
        assert_eq!(scim_type, None, "not a scimType keyword");
        assert_eq!(excerpt("a\u{202e}b\u{200b}c\n\t d\u{7}"), "abc d");
        let empty = from_response("GET", "/x", 429, b"");
        assert_eq!(empty.to_string(), "SCIM GET /x answered 429: Too Many Requests");
        assert!(empty.is_transient());
        assert_eq!(from_response("GET", "/x", 302, b"").category(), "RedirectNotFollowed");
    }
}
