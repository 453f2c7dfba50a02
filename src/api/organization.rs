//! Organization: a named organization under an account, with its roles and user groups.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Conditions, DeletionPolicy, LocalRef};
use super::fields::{CODE_LIFETIME, Email, Lifetime};

/// An organization of the platform under an Account; members, roles and provider links hang off it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "accountops.dev",
    version = "v1alpha1",
    kind = "Organization",
    namespaced,
    status = "OrganizationStatus",
    shortname = "org",
    category = "accountops",
    doc = "An organization of the platform under an Account, with its roles and user groups.",
    printcolumn(
        name = "ID",
        type_ = "string",
        json_path = ".status.organizationId",
        description = "Platform organization ID (shareable with partners)"
    ),
    printcolumn(
        name = "Display Name",
        type_ = "string",
        json_path = ".spec.displayName",
        description = "Name shown in the platform"
    ),
    printcolumn(
        name = "Account",
        type_ = "string",
        json_path = ".spec.accountRef.name",
        description = "Account object this organization belongs to"
    ),
    printcolumn(
        name = "Members",
        type_ = "integer",
        json_path = ".status.memberCount",
        description = "Live memberships"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Platform record present and current"
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
pub struct OrganizationSpec {
    /// The Account (in this namespace) this organization is billed to. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("accountRef is immutable: create a new Organization to move it to another account"))]
    pub account_ref: LocalRef,
    /// Name of the organization as shown in the platform.
    #[schemars(length(min = 1, max = 100))]
    pub display_name: String,
    /// Roles members of this organization can hold, each a name and a list of permissions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub roles: Vec<RoleSpec>,
    /// User groups of the organization (used for assignment and notification routing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub groups: Vec<GroupSpec>,
    /// Makes this organization a service provider (MSP/MSSP) that issues single-use provider
    /// codes which tenants redeem to appoint it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_provider: Option<ServiceProviderSpec>,
    /// What happens to the platform organization when this object is deleted: `Delete` archives
    /// it (kept, marked archived with a timestamp), `Orphan` leaves it untouched and detached.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// A role of an organization.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
pub struct RoleSpec {
    /// Role name, referenced by Memberships and TenantLinks (e.g. Admin, Engineer, Billing).
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z][A-Za-z0-9 _-]*$')").message("must start with a letter and contain only letters, digits, space, _ and -"))]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// What the role may do, as platform permission strings (e.g. tickets.write, billing.read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 100)), extend("x-kubernetes-list-type" = "set"))]
    pub permissions: Vec<String>,
}

/// A user group of an organization.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct GroupSpec {
    /// Group name, referenced by Memberships.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// What the group is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
}

/// Service-provider settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProviderSpec {
    /// Whether the organization currently issues provider codes.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How long an issued provider code stays redeemable: from 15m to 30d (default 24h).
    #[serde(default = "default_code_lifetime")]
    #[x_kube(validation = CODE_LIFETIME.rule())]
    pub code_lifetime: Lifetime,
    /// This provider's staff placed in its tenants: each an active member of this organization,
    /// in a tenant organization with an Active link to it, with a role the link allows. The
    /// tenant sees them on its TenantLink (`status.providerStaff`); deleting the link removes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["email", "tenantOrganizationId"]))]
    pub staff: Vec<StaffSpec>,
}

/// One of the provider's staff working in one tenant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffSpec {
    /// The employee's e-mail address: an active member of this organization.
    pub email: Email,
    /// Platform ID of the tenant organization (its `status.organizationId`, as `accountops
    /// tenants` lists them).
    #[schemars(length(min = 1, max = 64))]
    pub tenant_organization_id: String,
    /// Role in the tenant: Admin, Builder, Consumer, or a tenant role the link grants
    /// (the tenant's TenantLink `grantedRoles`).
    #[schemars(length(min = 1, max = 63))]
    pub role: String,
}

fn yes() -> bool {
    true
}

fn default_code_lifetime() -> Lifetime {
    Lifetime("24h".to_owned())
}

/// Observed state of an Organization.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Platform-generated organization ID; partners and providers refer to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Platform ID of the account the organization belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Number of live memberships in the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<i32>,
    /// Name of the Secret holding the current provider code (service providers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_code_secret: Option<String>,
    /// Active links where this organization is the provider or partner, and the counterpart IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<LinkSummary>,
    /// Each `spec.serviceProvider.staff` entry: placed in its tenant, or why not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staff: Vec<StaffStatus>,
    /// Ready (the platform record is there and current), Synced (the last reconcile succeeded).
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
}

/// Counts of the organization's active links and the counterpart IDs (bounded).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkSummary {
    /// Number of active links where this organization serves a tenant.
    pub tenant_count: i32,
    /// Number of active links where this organization is served by a provider.
    pub provider_count: i32,
    /// The provider's staff placed in its tenants (live memberships its active links made);
    /// `accountops tenants` lists them per tenant.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub staff_placed: i32,
    /// Platform IDs of tenant organizations (at most 20 are listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub tenant_ids: Vec<String>,
    /// Platform IDs of provider organizations (at most 20 are listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub provider_ids: Vec<String>,
}

/// Where one `spec.serviceProvider.staff` entry stands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffStatus {
    /// The entry's e-mail address.
    pub email: String,
    /// The entry's tenant organization ID.
    pub tenant_organization_id: String,
    /// The entry's role in the tenant.
    pub role: String,
    /// A member of the tenant through this provider's link.
    pub placed: bool,
    /// `Placed`, or why not: `ProviderDisabled`, `NotProviderMember`, `NoActiveLink`,
    /// `RoleNotGranted`, `PlacedByTenant` (the tenant's `spec.members` names the person: the
    /// tenant's entry wins), `AlreadyMember` (a member of the tenant otherwise; never touched).
    pub reason: String,
    /// Why not, in words (empty when placed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}
