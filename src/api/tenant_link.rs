//! TenantLink: a provider/partner organization linked to a tenant organization.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Conditions, DeletionPolicy, LocalRef, Locale, SecretKeyRef};
use super::fields::{Email, INVITATION_LIFETIME, Lifetime};

/// A link between two organizations, made either by redeeming a service provider's single-use
/// code (`providerCode`) or by inviting a partner organization by its platform ID
/// (`partnerInvitation`).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "accountops.dev",
    version = "v1alpha1",
    kind = "TenantLink",
    namespaced,
    status = "TenantLinkStatus",
    shortname = "tl",
    category = "accountops",
    doc = "A link between a provider or partner organization and a tenant organization.",
    validation = Rule::new("has(self.spec.providerCode) != has(self.spec.partnerInvitation)").message("set exactly one of spec.providerCode (appoint a provider) and spec.partnerInvitation (invite a partner)"),
    printcolumn(name = "Organization", type_ = "string", json_path = ".spec.organizationRef.name", description = "Our organization object"),
    printcolumn(name = "Counterpart", type_ = "string", json_path = ".status.counterpartOrganizationId", description = "Platform ID of the provider or partner organization"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase", description = "Pending, Active, Rejected, Expired or Revoked"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status", description = "Link established and current"),
    printcolumn(name = "Synced", type_ = "string", json_path = ".status.conditions[?(@.type==\"Synced\")].status", description = "Last reconcile succeeded"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason", priority = 1, description = "Why Ready is what it is"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("has(self.providerCode) == has(oldSelf.providerCode)").message("the mode of a TenantLink (providerCode or partnerInvitation) is immutable"))]
#[serde(rename_all = "camelCase")]
pub struct TenantLinkSpec {
    /// Our Organization (in this namespace): the tenant when redeeming a provider code, the
    /// inviter when inviting a partner. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("organizationRef is immutable"))]
    pub organization_ref: LocalRef,
    /// Appoint a service provider by redeeming its single-use provider code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<ProviderCodeSpec>,
    /// Invite a partner organization by its platform organization ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_invitation: Option<PartnerInvitationSpec>,
    /// Roles of our organization granted to the counterpart organization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 63)), extend("x-kubernetes-list-type" = "set"))]
    pub granted_roles: Vec<String>,
    /// Provider staff who become members of the tenant organization while the link is active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["email"]))]
    pub members: Vec<LinkMemberSpec>,
    /// What happens to the platform link when this object is deleted: `Delete` revokes it (kept
    /// with a revocation timestamp, derived memberships removed), `Orphan` leaves it untouched.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// Where the provider code to redeem is kept.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderCodeSpec {
    /// Key of a Secret in this namespace whose value is the provider's code.
    pub secret_ref: SecretKeyRef,
}

/// Organization roles a partner can be invited into.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PartnerRole {
    /// A partner that works alongside the inviter.
    Partner,
    /// A customer the inviter serves.
    Customer,
    /// A service provider that manages the inviter's organization.
    ServiceProvider,
}

/// What of the inviter's data the partner may see.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub enum SharingScope {
    /// Tickets and service requests.
    Tickets,
    /// Assets and configuration items.
    Assets,
    /// The member directory.
    Members,
    /// Invoices and billing details.
    Billing,
    /// Reports and dashboards.
    Reports,
}

/// An invitation to a partner organization.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerInvitationSpec {
    /// Platform organization ID of the partner, as shown in its organization list. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("partnerInvitation.organizationId is immutable"))]
    #[schemars(length(min = 1, max = 64))]
    pub organization_id: String,
    /// Organization role the partner gets in the relationship.
    pub organization_role: PartnerRole,
    /// E-mail of the partner's administrator, who receives the invitation: an active member of
    /// the partner organization holding a role with the permission `members.manage` or
    /// `tenants.manage` (else `AdminNotInPartner`, and no invitation is sent).
    pub admin_email: Email,
    /// What of our data the partner may see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5), extend("x-kubernetes-list-type" = "set"))]
    pub sharing_scope: Vec<SharingScope>,
    /// Language of the invitation mail: `en` or `pl`.
    #[serde(default)]
    pub locale: Locale,
    /// How long the invitation can be accepted: from 1h to 30d (default 7d).
    #[serde(default = "default_lifetime")]
    #[x_kube(validation = INVITATION_LIFETIME.rule())]
    pub lifetime: Lifetime,
    /// Change this value to send a fresh invitation with a new token and lifetime while the
    /// link is pending (the open one stops working).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub resend_nonce: Option<String>,
}

fn default_lifetime() -> Lifetime {
    Lifetime("7d".to_owned())
}

/// A provider employee placed in the tenant organization.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct LinkMemberSpec {
    /// The employee's e-mail address.
    pub email: Email,
    /// Role in the tenant organization: Admin, Builder, Consumer or one of the tenant's own roles.
    #[schemars(length(min = 1, max = 63))]
    pub role: String,
}

/// A provider employee the provider placed in the tenant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub struct ProviderStaff {
    /// The employee's e-mail address.
    pub email: String,
    /// Role in the tenant organization.
    pub role: String,
}

/// Where a link is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TenantLinkPhase {
    Pending,
    Active,
    Rejected,
    Expired,
    Revoked,
}

/// Observed state of a TenantLink.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantLinkStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pending, Active, Rejected, Expired or Revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TenantLinkPhase>,
    /// Platform ID of the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<String>,
    /// Platform ID of the provider or partner organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterpart_organization_id: Option<String>,
    /// Name of the provider or partner organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterpart_organization_name: Option<String>,
    /// When the link was accepted (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
    /// When the open partner invitation expires (RFC 3339); absent once it is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_expires_at: Option<String>,
    /// E-mail addresses of the provider staff (`spec.members`) who are members of the tenant
    /// organization through the link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Staff the provider placed in the tenant organization through the link (the provider
    /// Organization's `spec.serviceProvider.staff`); deleting the link removes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_staff: Vec<ProviderStaff>,
    /// Ready, Synced, Accepted and, for a partner invitation, InvitationDelivered.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
}
