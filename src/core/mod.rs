//! The engine: per kind, observe the database, plan (pure), apply in one transaction, and
//! return an [`Outcome`] that the shells turn into status, Events and tables.
//!
//! ```text
//!  shell (operator / local)                core                                   store
//!  ────────────────────────   ─────────────────────────────────────────────   ──────────
//!  object / manifest ──► Desired{owner, spec, deleting, Flags}
//!                                    │
//!                                    ▼
//!                          observe(conn) ───────────── reads ───────────────►  rows
//!                                    │  Observed{row, external, children…}
//!                                    ▼
//!                          plan(desired, observed)   pure: Plan::{Create, NoOp, Update,
//!                                    │               Adopt, Import, Archive, Orphan,
//!                                    │               Release, Gone, Hold(..)}
//!                                    ▼
//!                          write(tx, plan, now) ── in one transaction ────────► rows
//!                                    │
//!                                    ▼
//!  status / Events / table ◄── Outcome{action, IDs, changes, reason, message, KindFacts}
//!                              status::KindStatus::next(previous, outcome, generation, now)
//! ```
//!
//! The protocol is written once ([`engine`]) and each kind implements its part
//! (`engine::Reconcile`: observe, plan, write, outcome). The operator calls
//! `<kind>::reconcile` (a transaction of its own, opened only when the plan writes); local mode
//! calls `<kind>::reconcile_in` in its run's transaction, which `accountops plan` rolls back.
//! ProvisioningSync, which also talks to an external system, goes through the same protocol
//! with one more step (`engine::ReconcileExternal`: the SCIM call between plan and write,
//! skipped by `plan`; see [`sync`]). A Membership's or partner TenantLink's apply issues its invitation in the same
//! transaction ([`invitation`]: token, hash, mail; its state; accept and refuse, for both
//! kinds); [`tokens`] makes the tokens. No Kubernetes client type appears below the shells: the
//! desired side is the spec structs and the decoded [`Flags`], the observed side is store rows.
//!
//! Ownership follows the owner columns of each row (see [`plan`] for the table): a row this
//! object owns is corrected; an active row of the same namespace/name is taken back (a lost
//! status or a restored cluster makes no duplicate); an archived or released one only with
//! the adopt annotation; a row named by the external-id annotation is imported unless
//! another object owns it, which is never taken over.

pub mod account;
pub mod conditions;
pub(crate) mod db;
pub mod engine;
pub mod error;
pub mod facts;
pub mod flags;
pub mod invitation;
pub mod membership;
pub mod organization;
pub mod outcome;
pub mod plan;
pub mod progress;
pub mod provider_code;
pub mod status;
pub mod storable;
pub mod sync;
pub mod tenant_link;
pub mod tokens;

// Public only so the integration-test crate can run the matrix on PostgreSQL; not the API.
#[doc(hidden)]
pub mod fixtures;
#[doc(hidden)]
pub mod ownership_matrix;

pub use conditions::{READY, RECONCILING, STALLED, SYNCED, error_conditions, paused_conditions, set_condition};
pub use error::{CoreError, Failure, InvitationError};
pub use facts::KindFacts;
pub use flags::{
    ADOPT_ANNOTATION, EXTERNAL_ID_ANNOTATION, FORCE_ORPHAN_ANNOTATION, Flags, OBSERVE_ONLY_ANNOTATION,
    PAUSED_ANNOTATION,
};
pub use outcome::{Action, Change, Children, Event, Kind, Outcome};
pub use plan::{Hold, Plan, ScopeItem, TakeOver};
pub use progress::Progress;
