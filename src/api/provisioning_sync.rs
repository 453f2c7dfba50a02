//! ProvisioningSync: an account pushed to an external provisioning system over SCIM 2.0.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Conditions, DeletionPolicy, LocalRef, Locale, SecretRef};
use super::fields::{Email, Lifetime, RESYNC_INTERVAL};

/// Synchronizes an Account (organizations as groups, login members as users) with an external
/// provisioning system over SCIM 2.0, and executes orders that create assets exactly once.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "accountops.dev",
    version = "v1alpha1",
    kind = "ProvisioningSync",
    namespaced,
    status = "ProvisioningSyncStatus",
    shortname = "psync",
    category = "accountops",
    doc = "Synchronizes an Account with an external provisioning system over SCIM 2.0 and executes its orders.",
    printcolumn(
        name = "Account",
        type_ = "string",
        json_path = ".spec.accountRef.name",
        description = "Account object synchronized"
    ),
    printcolumn(
        name = "Sync",
        type_ = "string",
        json_path = ".status.syncStatus",
        description = "UnSynchronized, Synchronized or Error"
    ),
    printcolumn(
        name = "External ID",
        type_ = "string",
        json_path = ".status.externalId",
        description = "ID of the account group in the external system"
    ),
    printcolumn(
        name = "Last Sync",
        type_ = "date",
        json_path = ".status.lastSyncTime",
        description = "When the last sync finished"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "External system in sync"
    ),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status",
        description = "Last reconcile succeeded"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1,
        description = "Why Ready is what it is"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningSyncSpec {
    /// The Account (in this namespace) to synchronize. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("accountRef is immutable"))]
    pub account_ref: LocalRef,
    /// The external provisioning system.
    pub endpoint: ScimEndpoint,
    /// What is pushed to the external system.
    #[serde(default)]
    pub options: SyncOptions,
    /// How often the external system is compared and corrected: from 1m to 24h (default 10m).
    #[serde(default = "default_resync")]
    #[x_kube(validation = RESYNC_INTERVAL.rule())]
    pub resync_interval: Lifetime,
    /// Portal link put into welcome mails.
    #[x_kube(validation = Rule::new("self.matches('^https?://[^\\\\s]+$')").message("must be an http(s) URL"))]
    #[schemars(length(min = 8, max = 2048))]
    pub portal_url: String,
    /// Orders for the external system's products; each executes exactly once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub orders: Vec<OrderSpec>,
    /// What happens when this object is deleted: `Delete` deactivates the synced users and
    /// archives the sync record (assets are kept), `Orphan` leaves both untouched.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

fn default_resync() -> Lifetime {
    Lifetime("10m".to_owned())
}

/// A SCIM 2.0 service provider.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimEndpoint {
    /// SCIM base URL, e.g. https://provisioning.example.com/scim/v2 (no credentials, query or
    /// fragment in it). The operator's endpoint policy decides what may be reached: by default
    /// https to public addresses and http(s) to loopback; anything else (link-local and
    /// metadata addresses, private networks, plain http elsewhere) fails with
    /// `EndpointNotAllowed`, nothing sent.
    #[x_kube(validation = Rule::new("self.matches('^https?://[^\\\\s]+$')").message("must be an http(s) URL"))]
    #[schemars(length(min = 8, max = 2048))]
    pub url: String,
    /// How to authenticate: `Bearer` (Secret key `token`) or `Basic` (keys `username`, `password`).
    #[serde(default)]
    pub auth: ScimAuth,
    /// Secret in this namespace holding the credentials. It must have type
    /// `accountops.dev/scim-credentials`: a Secret of any other type (a service account token
    /// included) is never read or sent (`CredentialsNotOptedIn`).
    pub credentials_secret_ref: SecretRef,
    /// Skip TLS certificate verification (testing only).
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// Secret in this namespace with a `ca.crt` to trust for the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretRef>,
}

/// SCIM authentication scheme.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ScimAuth {
    /// An OAuth bearer token.
    #[default]
    Bearer,
    /// HTTP basic authentication.
    Basic,
}

/// What the sync pushes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOptions {
    /// Push each organization of the account as a SCIM Group.
    #[serde(default = "yes")]
    pub organizations_as_groups: bool,
    /// Push each login member of the account's organizations as a SCIM User.
    #[serde(default = "yes")]
    pub members_as_users: bool,
    /// Keep group membership in the external system equal to organization membership.
    #[serde(default = "yes")]
    pub group_membership: bool,
    /// What to do with a user whose membership ended: `Deactivate` (active: false) or `Delete`.
    #[serde(default)]
    pub deprovision: Deprovision,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            organizations_as_groups: true,
            members_as_users: true,
            group_membership: true,
            deprovision: Deprovision::Deactivate,
        }
    }
}

fn yes() -> bool {
    true
}

/// How ended memberships leave the external system.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Deprovision {
    /// Set `active: false` and keep the user.
    #[default]
    Deactivate,
    /// Delete the user.
    Delete,
}

/// An order for a product of the external system.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderSpec {
    /// Stable name of the order; an order executes once per name.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("must be lower-case letters, digits and '-'"))]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Product code in the external system's catalogue.
    #[schemars(length(min = 1, max = 100))]
    pub product: String,
    /// Number of units ordered.
    #[schemars(range(min = 1, max = 100000))]
    pub quantity: i32,
    /// Address the welcome mail with the activation code goes to.
    pub notification_email: Email,
    /// How the order is invoiced.
    #[serde(default)]
    pub invoice: InvoiceChoice,
    /// Language of the welcome mail: `en` or `pl`.
    #[serde(default)]
    pub locale: Locale,
}

/// How an order is invoiced.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum InvoiceChoice {
    /// Invoice as soon as the order executes.
    Immediately,
    /// Add to the account's next regular invoice.
    #[default]
    NextInvoice,
    /// Do not invoice (e.g. already paid or free of charge).
    DoNotInvoice,
}

/// Whether the account is in sync with the external system.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SyncStatus {
    UnSynchronized,
    Synchronized,
    Error,
}

/// Observed state of a ProvisioningSync.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningSyncStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// UnSynchronized, Synchronized or Error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_status: Option<SyncStatus>,
    /// ID of the account's group in the external system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When the last successful sync finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// Users currently synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_count: Option<i32>,
    /// Groups currently synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_count: Option<i32>,
    /// Out-of-band changes in the external system corrected so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_corrections: Option<i64>,
    /// SHA-256 of the credentials Secret's content, so a rotation triggers a sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_hash: Option<String>,
    /// Assets created by executed orders (at most 100; names and IDs only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub assets: Vec<AssetRef>,
    /// Ready, Synced and OrdersExecuted.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
}

/// An asset created by an order.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetRef {
    /// The order that created it.
    pub order: String,
    /// Platform asset ID.
    pub asset_id: String,
    /// When the order executed (RFC 3339).
    pub executed_at: String,
    /// When the welcome mail's activation code was redeemed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
}
