//! A SCIM 2.0 client (RFC 7643 resources, RFC 7644 protocol) of the project's own.
//!
//! ```text
//! ScimConfig{base URL, Credentials, TLS, retry} + Guards::for_endpoint(url)
//!        └──► ScimClient ── get / create (409 → adopt) / replace / patch (If-Match, 412 → once more)
//!                         ── delete / find_one (filter) / list (startIndex + count pages)
//! errors: ScimError{Status | Transport | CircuitOpen | InvalidResponse | Config}.category()
//! ```
//!
//! One [`EndpointGuard`] per base URL (rate budget + circuit breaker) is shared through
//! [`Guards`], so one failing system is neither flooded nor able to starve the others.
//! Credentials never appear in `Debug`, errors or logs.

pub mod breaker;
pub mod client;
pub mod error;
pub mod guard;
pub mod resources;

pub use client::{Creation, Credentials, RetryPolicy, ScimClient, ScimConfig};
pub use error::ScimError;
pub use guard::{EndpointGuard, EndpointReport, GuardSettings, Guards};
pub use resources::{Email, Group, Member, PatchOperation, Resource, User};
