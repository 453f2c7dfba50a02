//! What one SCIM system may cost the operator, whatever it sends: bytes per response,
//! resources per list, time per request. The operator runs with a 256 MiB memory limit and
//! serves every tenant, so a tenant's own (or broken) SCIM server must not be able to make it
//! buffer a gigabyte, page forever or hold a reconcile open.
//!
//! ```text
//! response ──Content-Length > max? ──► ResponseTooLarge (nothing read)
//!          └─ stream chunks ──sum > max? ──► ResponseTooLarge (connection dropped)
//! list ──totalResults or collected > max_resources ──► TooManyResources
//! every request ──connect_timeout──► connected ──timeout (whole request, body included)──► Timeout
//! ```

use std::time::Duration;

/// Bounds on one SCIM request and list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLimits {
    /// Bytes read from one response body at most.
    pub max_response_bytes: usize,
    /// Resources one list returns at most (its `totalResults` and what its pages hold).
    pub max_resources: usize,
    /// Time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for a whole request, the body read included.
    pub timeout: Duration,
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            // A page of 100 users is some 100 KiB; a few syncs at once stay far below 256 MiB.
            max_response_bytes: 2 << 20,
            max_resources: 10_000,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
        }
    }
}

/// Why a body was not read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Longer than the limit (declared or counted).
    TooLarge,
    /// The connection failed or timed out while reading.
    Read(reqwest::Error),
}

/// The body of `resp`, refused as soon as it is known to exceed `limit` bytes: at once when
/// `Content-Length` says so, else when the chunks read add up to more. The rest is never read.
pub(crate) async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    let declared = resp.content_length().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(64 << 10));
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
