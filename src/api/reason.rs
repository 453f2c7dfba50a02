//! Every reason a condition of an accountops object can carry: one enum, so a reason is a
//! variant matched exhaustively, never a string compared, and the README's table of reasons
//! is checked against [`Reason::ALL`] by a test (`tests::the_readme_lists_every_reason`).
//!
//! ```text
//!  core (holds, errors, facts, status) ─► Reason ─► Condition.reason (as_str) ─► status
//!  scim::ScimError::category ───────────┘                                    └─► -o json, trace
//! ```
//!
//! The variant's name is the reason's text (CamelCase, as Kubernetes conventions want it).
//! Variants are grouped by where they arise; a reason shared by several kinds appears once.

use std::fmt;

/// Declares [`Reason`] with its variants' texts and [`Reason::ALL`].
macro_rules! reasons {
    ($($(#[doc = $doc:literal])* $name:ident,)+) => {
        /// A condition reason (the variant's name is its text).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $($(#[doc = $doc])* $name,)+
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$name,)+];

            /// The reason whose text is `text`.
            pub fn parse(text: &str) -> Option<Reason> {
                Reason::ALL.iter().copied().find(|r| r.as_str() == text)
            }

            /// The CamelCase text a condition carries.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$name => stringify!($name),)+
                }
            }
        }
    };
}

reasons! {
    // Every kind: Ready, Synced, and the shells.
    /// `Ready=True`: the row is there, owned by this object and current.
    Available,
    /// The object is being deleted.
    Deleting,
    /// `Synced=True`: the last reconcile succeeded.
    ReconcileSuccess,
    /// `Synced=False`: the paused annotation is set.
    ReconcilePaused,

    // Errors (`CoreError::reason`).
    /// The database could not be reached or was busy; retried.
    DatabaseUnavailable,
    /// The database refused a statement (a constraint); the data must change.
    DatabaseError,
    /// An accountops.dev annotation has a value that cannot be read.
    InvalidAnnotation,
    /// An invitation token was refused (unknown, used, expired).
    InvitationNotAccepted,
    /// An activation was refused.
    ActivationRefused,
    /// The system's random source failed; retried.
    RandomUnavailable,
    /// An input (a Secret) could not be read; retried.
    InputUnavailable,
    /// A spec value cannot be stored (too long for its column).
    UnstorableValue,

    // Ownership (`core::plan::Hold`), every kind.
    /// A row another object owns, or a write that lost a race to another writer.
    Conflict,
    /// The row is managed by another object; never taken over.
    OwnedElsewhere,
    /// `external-id` names a row this namespace neither released nor was offered.
    NotOffered,
    /// A row of the same namespace/name exists; set `accountops.dev/adopt` to take it.
    AdoptionRequired,
    /// `external-id` names no row.
    ExternalNotFound,
    /// `external-id` differs from the row this object already manages.
    ExternalIdMismatch,
    /// Observe-only: the row (or the external system) differs from the spec.
    DriftDetected,
    /// Observe-only without a row, or a row or record that does not exist.
    NotFound,
    /// A field that never changes was edited (a Membership's e-mail or organization).
    FieldImmutable,
    /// Deletion waits for the Account's organizations.
    HasOrganizations,
    /// Deletion waits for live memberships.
    HasMemberships,
    /// Deletion waits for other dependents.
    HasDependents,

    // Parents.
    /// The Account is missing or not active yet.
    AccountNotReady,
    /// The Organization is missing or not active yet.
    OrganizationNotReady,
    /// The row belongs to another account than the spec names.
    AccountMismatch,
    /// A role the spec names is not defined in its scope.
    RoleNotFound,
    /// A group the spec names is not defined in its scope.
    GroupNotFound,

    // Membership phases (`Ready`) and invitations.
    /// The member is active.
    Active,
    /// Invited; the invitation is open.
    Invited,
    /// The invitation expired unaccepted.
    InvitationExpired,
    /// The invitation mail could not be delivered.
    InvitationFailed,
    /// More invitations in 24 hours than `--invitation-resends-per-day`.
    ResendLimited,
    /// `InvitationDelivered=True`: the mail was delivered.
    Delivered,
    /// `InvitationDelivered=False`: the mail is queued.
    Pending,
    /// `InvitationDelivered=False`: a delivery attempt failed; retried.
    Retrying,
    /// `InvitationDelivered=False`: delivery was given up.
    DeliveryFailed,
    /// `InvitationDelivered=Unknown`: no mail is recorded.
    NoMail,

    // TenantLink.
    /// `Accepted=True`: the link is active.
    Accepted,
    /// A partner invitation waits for the partner's administrator.
    AwaitingAcceptance,
    /// The partner rejected the invitation.
    Rejected,
    /// The link (or membership) was revoked in the platform.
    Revoked,
    /// The provider code Secret or its key is missing.
    CodeSecretNotFound,
    /// No provider issued this code.
    CodeUnknown,
    /// The code was redeemed already.
    CodeAlreadyUsed,
    /// The code expired unused.
    CodeExpired,
    /// The provider withdrew the code.
    CodeRevoked,
    /// The code's issuer is no service provider any more.
    ProviderDisabled,
    /// The partner organization ID names no active organization.
    PartnerNotFound,
    /// The code or partner names this link's own organization.
    SelfLink,
    /// `partnerInvitation.adminEmail` is no administrator of the partner.
    AdminNotInPartner,

    // ProvisioningSync.
    /// The account is pushed and current.
    Synchronized,
    /// An executed order was edited.
    OrderImmutable,
    /// `OrdersExecuted=False`: orders wait for the first successful sync.
    OrdersPending,
    /// `OrdersExecuted=True`: every order ran.
    OrdersExecuted,
    /// Deletion finished; the external system left as it is.
    Orphaned,
    /// Deletion finished; the record archived.
    Archived,
    /// The credentials Secret does not exist.
    CredentialsSecretNotFound,
    /// The credentials Secret is not of type `accountops.dev/scim-credentials`.
    CredentialsNotOptedIn,

    // SCIM errors (`scim::ScimError::category`).
    /// A 3xx answer; redirects are not followed.
    RedirectNotFollowed,
    /// 400.
    BadRequest,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 412.
    PreconditionFailed,
    /// 413.
    PayloadTooLarge,
    /// 429; retried.
    RateLimited,
    /// 5xx; retried.
    ServerError,
    /// Any other 4xx.
    RequestRejected,
    /// No connection; retried.
    Unreachable,
    /// The TLS handshake failed.
    TlsError,
    /// Too many failures in a row: calls are held back for a while; retried.
    CircuitOpen,
    /// An answer that is not valid SCIM.
    InvalidResponse,
    /// The endpoint's configuration is invalid.
    InvalidConfig,
    /// The operator's endpoint policy refuses the endpoint; nothing was sent.
    EndpointNotAllowed,
    /// An answer over the size limit.
    ResponseTooLarge,
    /// More resources than the limit.
    TooManyResources,
    /// No complete answer in time; retried.
    Timeout,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Reason> for String {
    fn from(reason: Reason) -> String {
        reason.as_str().to_owned()
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::Reason;

    /// The reasons in the README's table (the one after `### Condition reasons`): the first
    /// cell of each row, between backticks.
    fn readme_reasons() -> Vec<String> {
        let readme = include_str!("../../README.md");
        let start = readme.find("### Condition reasons").expect("README has a `### Condition reasons` section");
        readme[start..]
            .lines()
            .skip_while(|line| !line.starts_with("| reason |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cell = line.trim_start_matches('|').split('|').next().unwrap_or_default().trim();
                cell.trim_matches('`').to_owned()
            })
            .collect()
    }

    #[test]
    fn the_readme_lists_every_reason() {
        let listed = readme_reasons();
        let unique: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
        assert_eq!(unique.len(), listed.len(), "a reason listed twice in the README");
        let known: BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        let missing: Vec<&&str> = known.difference(&unique).collect();
        assert!(missing.is_empty(), "reasons the README's table does not list: {missing:?}");
        let unknown: Vec<&&str> = unique.difference(&known).collect();
        assert!(unknown.is_empty(), "the README lists reasons no code gives: {unknown:?}");
    }

    #[test]
    fn texts_are_unique_camel_case_names() {
        let texts: BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(texts.len(), Reason::ALL.len());
        for text in texts {
            assert!(text.starts_with(|c: char| c.is_ascii_uppercase()), "{text}");
            assert!(text.chars().all(|c| c.is_ascii_alphanumeric()), "{text}");
        }
        assert_eq!(Reason::ReconcilePaused.to_string(), "ReconcilePaused");
        assert_eq!(Reason::CodeUnknown, "CodeUnknown");
        assert_eq!(Reason::parse("NotOffered"), Some(Reason::NotOffered));
        assert_eq!(Reason::parse("notOffered"), None);
    }
}
