//! Membership: a person in an organization (or account) with roles, groups and notices.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Conditions, DeletionPolicy, LocalRef, Locale};
use super::fields::{Email, INVITATION_LIFETIME, Lifetime};

/// A person in an Organization or Account: an invited user who signs in (`login: true`) or an
/// authorized contact only (`login: false`).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "accountops.dev",
    version = "v1alpha1",
    kind = "Membership",
    namespaced,
    status = "MembershipStatus",
    shortname = "mbr",
    category = "accountops",
    doc = "A person in an Organization or Account with roles, groups and notification levels.",
    validation = Rule::new("has(self.spec.organizationRef) != has(self.spec.accountRef)").message("set exactly one of spec.organizationRef and spec.accountRef"),
    printcolumn(name = "Email", type_ = "string", json_path = ".spec.email", description = "The person's e-mail address"),
    printcolumn(name = "Organization", type_ = "string", json_path = ".spec.organizationRef.name", description = "Organization object the membership is in"),
    printcolumn(name = "Login", type_ = "boolean", json_path = ".spec.login", description = "Invited user (true) or contact only (false)"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase", description = "Pending, Invited, Active, Expired, Failed or Revoked"),
    printcolumn(name = "User ID", type_ = "string", json_path = ".status.userId", priority = 1, description = "Platform user ID"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status", description = "Membership recorded and current"),
    printcolumn(name = "Synced", type_ = "string", json_path = ".status.conditions[?(@.type==\"Synced\")].status", description = "Last reconcile succeeded"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason", priority = 1, description = "Why Ready is what it is"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("has(self.organizationRef) == has(oldSelf.organizationRef)").message("the scope of a membership (organizationRef or accountRef) is immutable"))]
#[serde(rename_all = "camelCase")]
pub struct MembershipSpec {
    /// The Organization (in this namespace) the person is a member of. Immutable. Set this or accountRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("organizationRef is immutable"))]
    pub organization_ref: Option<LocalRef>,
    /// The Account (in this namespace), for account-level rights such as billing. Immutable. Set this or organizationRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("accountRef is immutable"))]
    pub account_ref: Option<LocalRef>,
    /// The person's e-mail address; one platform user per address (compared case-insensitively). Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("email is immutable: create a new Membership for another person"))]
    pub email: Email,
    /// Full name shown in the platform and in mails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub display_name: Option<String>,
    /// Phone number used to authorize the person, in international form (e.g. +48 600 100 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^\\\\+?[0-9][0-9 ()-]{4,24}$')").message("must be a phone number such as +48 600 100 200"))]
    #[schemars(length(min = 5, max = 25))]
    pub phone: Option<String>,
    /// Roles held; each must be one of the Organization's roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 63)), extend("x-kubernetes-list-type" = "set"))]
    pub roles: Vec<String>,
    /// User groups joined; each must be one of the Organization's groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50), inner(length(min = 1, max = 63)), extend("x-kubernetes-list-type" = "set"))]
    pub groups: Vec<String>,
    /// `true`: the person gets a login and is invited by e-mail. `false`: an authorized contact
    /// only, recorded without an invitation. An address that already has a login is linked to it
    /// and gets a notice instead of a second invitation.
    #[serde(default = "yes")]
    pub login: bool,
    /// Kinds of e-mail the person receives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4), extend("x-kubernetes-list-type" = "set"))]
    pub notifications: Vec<NotificationLevel>,
    /// How the invitation is sent.
    #[serde(default)]
    pub invitation: InvitationSpec,
    /// What happens to the platform membership when this object is deleted: `Delete` revokes it
    /// (kept with a revocation timestamp), `Orphan` leaves it untouched and detached.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

fn yes() -> bool {
    true
}

/// A kind of e-mail a member can receive.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub enum NotificationLevel {
    /// Invoices, payment reminders and billing changes.
    Billing,
    /// Incidents, maintenance windows and technical changes.
    Technical,
    /// Security advisories and account security events.
    Security,
    /// Product news and general announcements.
    Announcements,
}

/// Invitation settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationSpec {
    /// Language of the invitation mail: `en` or `pl`.
    #[serde(default)]
    pub locale: Locale,
    /// How long the invitation can be accepted: from 1h to 30d (default 7d).
    #[serde(default = "default_lifetime")]
    #[x_kube(validation = INVITATION_LIFETIME.rule())]
    pub lifetime: Lifetime,
    /// Change this value to send a fresh invitation with a new token and lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub resend_nonce: Option<String>,
}

impl Default for InvitationSpec {
    fn default() -> Self {
        Self { locale: Locale::En, lifetime: default_lifetime(), resend_nonce: None }
    }
}

fn default_lifetime() -> Lifetime {
    Lifetime("7d".to_owned())
}

/// Where a membership is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum MembershipPhase {
    Pending,
    Invited,
    Active,
    Expired,
    Failed,
    Revoked,
}

/// Observed state of a Membership.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembershipStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pending, Invited (mail sent, not yet accepted), Active, Expired, Failed or Revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<MembershipPhase>,
    /// Platform user ID of the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Platform membership ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_id: Option<String>,
    /// The current invitation (never its token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InvitationStatus>,
    /// Ready, Synced and InvitationDelivered.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
}

/// The state of the current invitation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationStatus {
    /// When the invitation mail was delivered to the relay (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// When the invitation stops being acceptable (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Delivery attempts made so far.
    #[serde(default)]
    pub attempts: i32,
    /// Message-ID of the invitation mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}
