//! The five custom resources of `accountops.dev/v1alpha1` and the types they share.
//!
//! Everything in the CRDs (schema, CEL rules, printer columns, descriptions) is derived from
//! these types; `accountops crds` prints the result and `crds/` holds a copy checked by a test.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design; clippy
// reads the repeated keys as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

pub mod account;
pub mod common;
pub mod crds;
pub mod fields;
pub mod iso;
pub mod membership;
pub mod organization;
pub mod provisioning_sync;
pub mod reason;
pub mod tenant_link;

pub use account::{Account, AccountSpec, AccountStatus, BillingAddress};
pub use common::{Condition, ConditionStatus, Conditions, DeletionPolicy, LocalRef, Locale, SecretKeyRef, SecretRef};
pub use fields::{CountryCode, CurrencyCode, Email, Lifetime, ObjectName};
pub use membership::{Membership, MembershipPhase, MembershipSpec, MembershipStatus, NotificationLevel};
pub use organization::{Organization, OrganizationSpec, OrganizationStatus};
pub use provisioning_sync::{ProvisioningSync, ProvisioningSyncSpec, ProvisioningSyncStatus, SyncStatus};
pub use reason::Reason;
pub use tenant_link::{TenantLink, TenantLinkPhase, TenantLinkSpec, TenantLinkStatus};

/// The API group of every accountops kind.
pub const GROUP: &str = "accountops.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
/// The category `kubectl get accountops` lists.
pub const CATEGORY: &str = "accountops";
