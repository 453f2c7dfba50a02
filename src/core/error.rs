//! Why a reconcile failed, and whether trying again later can help.

pub use super::invitation::InvitationError;
use crate::api::Reason;
use crate::store::StoreError;

/// Every way [`reconcile`](super::account::reconcile), [`apply`](super::membership::apply) and
/// [`observe`](super::account::observe) fail. Outcomes that need the user (a row owned
/// elsewhere, adoption not asked for) are not errors: they are plans and outcomes of their own.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Store(#[from] StoreError),

    /// An engine annotation has a value the engine does not understand.
    #[error("annotation {name}: {reason}")]
    InvalidAnnotation { name: String, reason: String },

    /// An invitation token could not be accepted (unknown, used, revoked or expired).
    #[error(transparent)]
    Invitation(#[from] InvitationError),

    /// An asset's activation code could not be redeemed (unknown, used, expired, archived).
    #[error(transparent)]
    Activation(#[from] ActivationError),

    /// No random bytes for a token: the operating system's generator failed.
    #[error(transparent)]
    Random(#[from] super::tokens::RandomError),

    /// A shell could not read an input the engine needs (e.g. a Secret from the API server).
    #[error("reading {what}: {reason}")]
    Input { what: String, reason: String },

    /// A field holds a string the platform database cannot store (see [`super::storable`]).
    #[error("{field}: contains U+0000 (NUL), which the platform database cannot store")]
    Unstorable { field: String },
}

/// Why `accountops asset activate` (or the portal) cannot redeem an activation code. Never
/// holds the code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ActivationError {
    #[error("no asset has this activation code (check that the whole code was copied)")]
    UnknownCode,
    #[error("asset {asset} was already activated at {at}; an activation code works only once")]
    AlreadyActivated { asset: String, at: String },
    #[error("the activation code of asset {asset} expired at {at}; ask the provider to re-issue the order")]
    Expired { asset: String, at: String },
    #[error("asset {asset} was archived at {at} (its ProvisioningSync was deleted); it cannot be activated")]
    Archived { asset: String, at: String },
}

/// What a status needs of a failed reconcile: the error's reason, its message with causes,
/// and whether it passes without anyone acting. Local mode keeps only this of an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub message: String,
    pub transient: bool,
}

impl CoreError {
    /// A short, stable label for metrics and Events.
    pub fn category(&self) -> &'static str {
        match self {
            CoreError::Store(e) if e.is_transient() => "database_unavailable",
            CoreError::Store(StoreError::OwnedElsewhere { .. } | StoreError::UniqueViolation { .. }) => "conflict",
            CoreError::Store(StoreError::NotFound { .. }) => "not_found",
            CoreError::Store(_) => "database",
            CoreError::InvalidAnnotation { .. } => "invalid_annotation",
            CoreError::Invitation(_) => "invitation",
            CoreError::Activation(_) => "activation",
            CoreError::Random(_) => "random",
            CoreError::Input { .. } => "input_unavailable",
            CoreError::Unstorable { .. } => "unstorable_value",
        }
    }

    /// The CamelCase condition reason for this error.
    pub fn reason(&self) -> Reason {
        match self {
            CoreError::Store(e) if e.is_transient() => Reason::DatabaseUnavailable,
            CoreError::Store(StoreError::OwnedElsewhere { .. } | StoreError::UniqueViolation { .. }) => {
                Reason::Conflict
            }
            CoreError::Store(StoreError::NotFound { .. }) => Reason::NotFound,
            CoreError::Store(_) => Reason::DatabaseError,
            CoreError::InvalidAnnotation { .. } => Reason::InvalidAnnotation,
            CoreError::Invitation(_) => Reason::InvitationNotAccepted,
            CoreError::Activation(_) => Reason::ActivationRefused,
            CoreError::Random(_) => Reason::RandomUnavailable,
            CoreError::Input { .. } => Reason::InputUnavailable,
            CoreError::Unstorable { .. } => Reason::UnstorableValue,
        }
    }

    /// True when retrying later may succeed without anyone changing anything (the database
    /// is down or busy, or a concurrent writer won a race); false when the object or the
    /// data must change first.
    pub fn is_transient(&self) -> bool {
        match self {
            // A race lost to another writer: the next reconcile sees the new state.
            CoreError::Store(StoreError::OwnedElsewhere { .. } | StoreError::UniqueViolation { .. }) => true,
            CoreError::Store(e) => e.is_transient(),
            CoreError::InvalidAnnotation { .. }
            | CoreError::Invitation(_)
            | CoreError::Activation(_)
            | CoreError::Unstorable { .. } => false,
            CoreError::Random(_) | CoreError::Input { .. } => true,
        }
    }

    /// What a status shows of this error.
    pub fn failure(&self) -> Failure {
        Failure { reason: self.reason(), message: self.chain(), transient: self.is_transient() }
    }

    /// The message with its causes, `a: b: c`, for conditions and Events.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        // `Store` formats its source already; start below it.
        if let CoreError::Store(_) = self {
            source = source.and_then(std::error::Error::source);
        }
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_token_is_permanent_and_says_why() {
        let at = "2025-03-01T09:30:00.25Z".parse().expect("a timestamp");
        let used = CoreError::from(InvitationError::AlreadyAccepted { at });
        assert_eq!(
            (used.category(), used.reason(), used.is_transient()),
            ("invitation", Reason::InvitationNotAccepted, false)
        );
        assert!(used.to_string().contains("already used (accepted at 2025-03-01T09:30:00Z)"), "{used}");
    }

    #[test]
    fn categories_separate_unreachable_from_broken() {
        let down =
            CoreError::from(StoreError::Connect { url: "postgres://db".to_owned(), source: sqlx::Error::PoolTimedOut });
        assert_eq!(down.category(), "database_unavailable");
        assert_eq!(down.reason(), "DatabaseUnavailable");
        assert!(down.is_transient());
        assert!(down.chain().contains("cannot connect to database postgres://db: pool timed out"), "{}", down.chain());

        let taken = CoreError::from(StoreError::OwnedElsewhere {
            table: "accounts",
            id: "acct-1".to_owned(),
            owner: "c/ns/a".to_owned(),
            claimant: "c/ns/b".to_owned(),
        });
        assert_eq!(taken.category(), "conflict");
        assert!(taken.is_transient());

        let bad = CoreError::from(StoreError::Check {
            table: "accounts",
            id: "acct-1".to_owned(),
            constraint: "accounts_country_alpha2".to_owned(),
        });
        assert_eq!(bad.category(), "database");
        assert_eq!(bad.reason(), "DatabaseError");
        assert!(!bad.is_transient());
    }
}
