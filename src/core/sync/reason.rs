//! Why a sync's `Ready` condition says what it says: one enum, matched exhaustively, from
//! which the outcome's action and the condition's reason both follow.

use crate::api::Reason;
use crate::scim::ScimError;

/// The reason of a sync's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncReason {
    /// The Account is missing or not active yet.
    AccountNotReady,
    Synchronized,
    /// Observe-only: the external system differs from the platform.
    DriftDetected,
    /// An executed order was edited (any of its fields).
    OrderImmutable,
    /// Observe-only without a record, or `external-id` naming no record.
    NotFound,
    /// `external-id` names a record this object may not import (`OwnedElsewhere`,
    /// `NotOffered`, `AccountMismatch`).
    ImportRefused(Reason),
    /// The external system failed or refused; `transient` when it passes without anyone
    /// acting (no answer, 5xx, 429, an open circuit).
    External {
        category: Reason,
        transient: bool,
    },
    /// Deletion finished, the external system left as it is.
    Orphaned,
    /// Deletion finished, the record archived.
    Archived,
}

impl SyncReason {
    /// The reason a SCIM error gives.
    pub fn external(e: &ScimError) -> SyncReason {
        SyncReason::External { category: e.category(), transient: e.is_transient() }
    }

    /// The condition reason.
    pub fn reason(self) -> Reason {
        match self {
            SyncReason::AccountNotReady => Reason::AccountNotReady,
            SyncReason::Synchronized => Reason::Synchronized,
            SyncReason::DriftDetected => Reason::DriftDetected,
            SyncReason::OrderImmutable => Reason::OrderImmutable,
            SyncReason::NotFound => Reason::NotFound,
            SyncReason::ImportRefused(reason) | SyncReason::External { category: reason, .. } => reason,
            SyncReason::Orphaned => Reason::Orphaned,
            SyncReason::Archived => Reason::Archived,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_the_readme_names_them() {
        let all = [
            (SyncReason::AccountNotReady, "AccountNotReady"),
            (SyncReason::Synchronized, "Synchronized"),
            (SyncReason::DriftDetected, "DriftDetected"),
            (SyncReason::OrderImmutable, "OrderImmutable"),
            (SyncReason::NotFound, "NotFound"),
            (SyncReason::ImportRefused(Reason::NotOffered), "NotOffered"),
            (SyncReason::External { category: Reason::Unauthorized, transient: false }, "Unauthorized"),
            (SyncReason::Orphaned, "Orphaned"),
            (SyncReason::Archived, "Archived"),
        ];
        for (reason, text) in all {
            assert_eq!(reason.reason(), text);
        }
    }
}
