//! SCIM errors: the RFC 7644 §3.12 error body turned into a typed error with a short category.

use std::time::Duration;

use serde::Deserialize;

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
    /// The circuit breaker of this endpoint is open after repeated failures.
    #[error("SCIM endpoint {endpoint} is failing ({failures} consecutive failures); next attempt in {}s", retry_in.as_secs().max(1))]
    CircuitOpen { endpoint: String, failures: u32, retry_in: Duration },
    /// The answer was not what RFC 7644 describes.
    #[error("invalid SCIM response to {method} {path}: {reason}")]
    InvalidResponse { method: &'static str, path: String, reason: String },
    /// The client cannot be built (bad URL, bad CA certificate).
    #[error("invalid SCIM endpoint configuration: {0}")]
    Config(String),
}

impl ScimError {
    /// A short, stable category for condition reasons and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            ScimError::Status { status, .. } => match status {
                400 => "BadRequest",
                401 => "Unauthorized",
                403 => "Forbidden",
                404 => "NotFound",
                409 => "Conflict",
                412 => "PreconditionFailed",
                413 => "PayloadTooLarge",
                429 => "RateLimited",
                500..=599 => "ServerError",
                _ => "RequestRejected",
            },
            ScimError::Transport { .. } => "Unreachable",
            ScimError::Tls { .. } => "TlsError",
            ScimError::CircuitOpen { .. } => "CircuitOpen",
            ScimError::InvalidResponse { .. } => "InvalidResponse",
            ScimError::Config(_) => "InvalidConfig",
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
            ScimError::Transport { .. } | ScimError::CircuitOpen { .. } => true,
            ScimError::InvalidResponse { .. } | ScimError::Tls { .. } | ScimError::Config(_) => false,
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

/// Longest detail kept from a server (a proxy's HTML page would be huge).
const MAX_DETAIL: usize = 300;

/// Build the error for `status` from a response body, SCIM or not.
pub fn from_response(method: &'static str, path: &str, status: u16, body: &[u8]) -> ScimError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let (scim_type, detail) = match parsed {
        Some(b) if b.schemas.iter().any(|s| s == ERROR_SCHEMA) || b.detail.is_some() => (b.scim_type, b.detail),
        _ => (None, None),
    };
    let detail = detail.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() { reason_phrase(status).to_owned() } else { text.to_owned() }
    });
    let detail: String = detail.chars().filter(|c| !c.is_control()).take(MAX_DETAIL).collect();
    ScimError::Status { method, path: path.to_owned(), status, scim_type, detail }
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
    fn other_bodies_are_kept_short_and_single_line() {
        let e = from_response("GET", "/Users", 502, b"<html>\nbad gateway\n</html>");
        assert_eq!(e.category(), "ServerError");
        assert!(e.is_transient());
        assert!(e.to_string().ends_with("<html>bad gateway</html>"), "{e}");
        let long = vec![b'x'; 5000];
        let ScimError::Status { detail, .. } = from_response("GET", "/x", 500, &long) else { panic!() };
        assert_eq!(detail.len(), MAX_DETAIL);
        let empty = from_response("GET", "/x", 429, b"");
        assert_eq!(empty.to_string(), "SCIM GET /x answered 429: Too Many Requests");
        assert!(empty.is_transient());
    }
}
