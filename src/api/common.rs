//! Types every kind shares: references, the deletion policy and conditions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::fields::ObjectName;

/// A reference to another accountops object in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct LocalRef {
    /// Name of the referenced object in this namespace.
    pub name: ObjectName,
}

/// A key in a Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret in this namespace.
    pub name: ObjectName,
    /// Key within the Secret's data.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretRef {
    /// Name of the Secret in this namespace.
    pub name: ObjectName,
}

/// What happens to the platform record when the Kubernetes object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Archive the record (closed or revoked with a timestamp); business data is never dropped.
    #[default]
    Delete,
    /// Leave the record as it is and detach it from this object.
    Orphan,
}

/// Condition status, as in every Kubernetes condition.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// A standard Kubernetes condition (`metav1.Condition`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of condition in CamelCase, e.g. Ready, Synced, InvitationDelivered.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 316))]
    pub type_: String,
    /// Status of the condition: True, False or Unknown.
    pub status: ConditionStatus,
    /// Machine-readable CamelCase reason for the last transition.
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
    /// Human-readable details of the last transition.
    #[schemars(length(max = 32768))]
    pub message: String,
    /// When the condition last changed status (RFC 3339).
    pub last_transition_time: String,
    /// The metadata.generation the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The condition list of a status, merged per `type` by server-side apply.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(transparent)]
#[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
pub struct Conditions(
    /// Current conditions of the object.
    pub Vec<Condition>,
);

impl Conditions {
    /// The condition of a type, if present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, type_: &str) -> Option<&Condition> {
        self.0.iter().find(|c| c.type_ == type_)
    }
}

/// Locales the invitation and notice templates exist in.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum Locale {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// Polish.
    #[serde(rename = "pl")]
    Pl,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Pl => "pl",
        }
    }
}
