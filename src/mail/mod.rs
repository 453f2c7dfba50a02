//! The mail system: templates, the outbox rows the engine writes, and their delivery.
//!
//! ```text
//! engine tx ── compose(settings: origin, namespace) ──► NewMail ── outbox::enqueue ──► pending
//!                                                                                 │ commit
//! dispatcher (one per origin) ── outbox::claim (lease, fair across namespaces) ◄──┘
//!     │ token bucket (rate budget per relay)
//!     ├─ Transport::send (smtp:// STARTTLS, smtps:// TLS, file://DIR .eml)
//!     ├─ ok   ──► outbox::mark_sent (+ invitations::mark_sent with the Message-ID)
//!     ├─ 5xx  ──► outbox::mark_failed (exponential backoff, capped), dead after max_attempts
//!     ├─ else ──► outbox::mark_failed (connection, timeout, 4xx: not counted toward the limit)
//!     └─ older than max_age ──► outbox::mark_dead (expired, last error kept)
//! ```
//!
//! Delivery is at-least-once: the row is committed before any send, and a crash between a
//! send and `mark_sent` sends the mail again, once its claim runs out, with the same
//! Message-ID, which receivers can deduplicate. Only the shell that queued a mail sends it,
//! and only under a claim, so no two senders deliver the same mail. Tokens live only in the
//! mail bodies, which the store blanks once a mail is sent or dead; nothing here logs a body,
//! a token or a password.

pub(crate) mod catalog;
pub mod compose;
pub mod dispatcher;
pub mod endpoint;
pub mod rate;
pub mod template;
pub mod transport;

pub use compose::{MailSettings, compose};
pub use dispatcher::{DeliveryReport, DeliveryStats, DispatchHandle, Dispatcher, DispatcherConfig};
pub use endpoint::Endpoint;
pub use template::{MailContext, Rendered, Template, render};
pub use transport::{SendFailure, Transport};

use crate::store::StoreError;

/// What can go wrong in the mail system. Never holds a password or a mail body.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail settings: invalid {what} {value:?}: {reason}")]
    Settings { what: &'static str, value: String, reason: String },
    #[error("mail transport URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
