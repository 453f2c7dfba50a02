//! The RFC 7643 resources the sync writes (the attributes it manages), list responses and
//! PATCH requests (RFC 7644 §3.4.2, §3.5.2).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A resource type: its endpoint, schema and the attributes every resource has.
pub trait Resource: Serialize + DeserializeOwned + Clone + Send + Sync {
    /// `/Users`, `/Groups`.
    const ENDPOINT: &'static str;
    /// The attribute a 409 on create is resolved by when `externalId` finds nothing.
    const NATURAL_KEY: &'static str;
    fn id(&self) -> Option<&str>;
    fn external_id(&self) -> Option<&str>;
    fn natural_key(&self) -> &str;
    fn meta(&self) -> Option<&Meta>;
    /// The ETag (`meta.version`), if the server keeps versions.
    fn version(&self) -> Option<&str> {
        self.meta().and_then(|m| m.version.as_deref())
    }
}

/// `meta` (RFC 7643 §3.1), as the server sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A multi-valued e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A SCIM User (the attributes accountops manages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub schemas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Our user ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Email>,
    #[serde(default, skip_serializing)]
    pub meta: Option<Meta>,
}

impl User {
    /// A new user with a primary work e-mail equal to its user name.
    pub fn new(external_id: &str, email: &str, display_name: Option<&str>, active: bool) -> User {
        User {
            schemas: vec![USER_SCHEMA.to_owned()],
            id: None,
            external_id: Some(external_id.to_owned()),
            user_name: email.to_owned(),
            display_name: display_name.map(str::to_owned),
            active: Some(active),
            emails: vec![Email { value: email.to_owned(), primary: Some(true), kind: Some("work".to_owned()) }],
            meta: None,
        }
    }

    /// The primary (or first) e-mail address.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails.iter().find(|e| e.primary == Some(true)).or(self.emails.first()).map(|e| e.value.as_str())
    }
}

impl Resource for User {
    const ENDPOINT: &'static str = "/Users";
    const NATURAL_KEY: &'static str = "userName";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
    fn natural_key(&self) -> &str {
        &self.user_name
    }
    fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }
}

/// A member of a group: the SCIM `id` of a User (or Group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(default, rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl Member {
    pub fn user(id: &str) -> Member {
        Member { value: id.to_owned(), display: None, reference: None, kind: None }
    }
}

/// A SCIM Group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub schemas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Our organization (or account) ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub display_name: String,
    #[serde(default)]
    pub members: Vec<Member>,
    #[serde(default, skip_serializing)]
    pub meta: Option<Meta>,
}

impl Group {
    pub fn new(external_id: &str, display_name: &str, members: Vec<Member>) -> Group {
        Group {
            schemas: vec![GROUP_SCHEMA.to_owned()],
            id: None,
            external_id: Some(external_id.to_owned()),
            display_name: display_name.to_owned(),
            members,
            meta: None,
        }
    }

    /// The members' SCIM IDs, sorted.
    pub fn member_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.members.iter().map(|m| m.value.as_str()).collect();
        ids.sort_unstable();
        ids
    }
}

impl Resource for Group {
    const ENDPOINT: &'static str = "/Groups";
    const NATURAL_KEY: &'static str = "displayName";
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
    fn natural_key(&self) -> &str {
        &self.display_name
    }
    fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }
}

/// A page of a query (RFC 7644 §3.4.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    #[serde(default)]
    pub total_results: u64,
    #[serde(default)]
    pub start_index: Option<u64>,
    #[serde(default)]
    pub items_per_page: Option<u64>,
    #[serde(default = "Vec::new", rename = "Resources")]
    pub resources: Vec<T>,
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOperation {
    pub op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOperation {
    pub fn add(path: &str, value: Value) -> PatchOperation {
        PatchOperation { op: "add", path: Some(path.to_owned()), value: Some(value) }
    }
    pub fn replace(path: &str, value: Value) -> PatchOperation {
        PatchOperation { op: "replace", path: Some(path.to_owned()), value: Some(value) }
    }
    pub fn remove(path: &str) -> PatchOperation {
        PatchOperation { op: "remove", path: Some(path.to_owned()), value: None }
    }
    /// Add these users to a group's members.
    pub fn add_members(ids: &[&str]) -> PatchOperation {
        let members: Vec<Value> = ids.iter().map(|id| serde_json::json!({ "value": id })).collect();
        PatchOperation::add("members", Value::Array(members))
    }
    /// Remove one member from a group.
    pub fn remove_member(id: &str) -> PatchOperation {
        PatchOperation::remove(&format!("members[value eq {}]", quote(id)))
    }
}

/// The body of a PATCH request.
#[derive(Debug, Clone, Serialize)]
pub struct PatchRequest<'a> {
    pub schemas: [&'static str; 1],
    #[serde(rename = "Operations")]
    pub operations: &'a [PatchOperation],
}

/// A filter string literal: JSON string syntax (RFC 7644 §3.4.2.2), so quotes and backslashes
/// in a value cannot change the filter.
pub fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

/// `attribute eq "value"`.
pub fn eq_filter(attribute: &str, value: &str) -> String {
    format!("{attribute} eq {}", quote(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_quote_their_values() {
        assert_eq!(eq_filter("userName", "a@b.c"), r#"userName eq "a@b.c""#);
        assert_eq!(eq_filter("externalId", r#"x" or "1" eq "1"#), r#"externalId eq "x\" or \"1\" eq \"1""#);
    }

    #[test]
    fn users_round_trip_and_ignore_unknown_attributes() {
        let json = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","externalId":"user-1",
            "userName":"a@b.c","active":false,"name":{"givenName":"A"},"meta":{"version":"W/\"3\""},
            "emails":[{"value":"x@b.c"},{"value":"a@b.c","primary":true}]}"#;
        let user: User = serde_json::from_str(json).expect("parse");
        assert_eq!(user.version(), Some("W/\"3\""));
        assert_eq!(user.primary_email(), Some("a@b.c"));
        let out = serde_json::to_value(&user).expect("serialize");
        assert!(out.get("meta").is_none(), "meta is read-only: {out}");
        let patch = PatchOperation::remove_member("u-1");
        assert_eq!(patch.path.as_deref(), Some(r#"members[value eq "u-1"]"#));
    }
}
