//! A SCIM 2.0 client (RFC 7643 resources, RFC 7644 protocol) of the project's own.
//!
//! ```text
//! ScimConfig{base URL, Credentials, TLS, retry} + Guards::for_endpoint(url)
//!        │      (GuardSettings from --scim-*: rate, breaker, EndpointPolicy, ClientLimits)
//!        └──► ScimClient::new ── policy.check_url (scheme, host list, IP literal)
//!               ── get / create (409 → adopt) / replace / patch (If-Match, 412 → once more)
//!               ── delete / find_one (filter) / list (startIndex + count pages, bounded)
//!               every connection: CheckedResolver (policy on each resolved address),
//!               capped body, connect + request timeouts, no redirects, no proxy
//! errors: ScimError{Status | Transport | Tls | CircuitOpen | InvalidResponse | Config |
//!         EndpointNotAllowed | ResponseTooLarge | TooManyResources | Timeout}.category()
//! ```
//!
//! One [`EndpointGuard`] per base URL (rate budget + circuit breaker) is shared through
//! [`Guards`], so one failing system is neither flooded nor able to starve the others.
//! Credentials never appear in `Debug`, errors or logs; of what a server answers, only a
//! short printable excerpt of a SCIM error's `detail` does ([`error`]).

pub mod breaker;
pub mod client;
pub mod error;
pub mod guard;
pub mod limits;
pub mod policy;
mod resolve;
pub mod resources;
pub mod settings;

pub use client::{Creation, Credentials, RetryPolicy, ScimClient, ScimConfig};
pub use error::ScimError;
pub use guard::{EndpointGuard, EndpointReport, GuardSettings, Guards};
pub use limits::ClientLimits;
pub use policy::{EndpointPolicy, Refusal, Rule};
pub use resources::{Email, Group, Member, PatchOperation, Resource, User};
pub use settings::ScimArgs;
