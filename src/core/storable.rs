//! The last guard against strings the platform database cannot store.
//!
//! ```text
//! object (any kind) ─► serde_json ─► spec + accountops.dev/ annotations ─► first field holding
//!                                                                          U+0000 ─► CoreError::Unstorable
//! ```
//!
//! PostgreSQL refuses U+0000 in a TEXT value with a raw `invalid byte sequence` error from
//! deep inside an insert, after part of a reconcile ran; SQLite stores it, so local mode would
//! pass what the operator then fails. The CRDs refuse it on every spec string and `validate`
//! runs the same rules, but an object may come by another way (a CRD installed by hand, an
//! object stored before the rule, a manifest set built in code), and the annotations the
//! engine reads are not in any schema. So each shell runs [`check`] where it hands an object to
//! the core: the error is permanent (a change of the object fixes it) and names the field.

use serde::Serialize;
use serde_json::Value;

use super::error::CoreError;
use crate::api::fields::UNSTORABLE;

/// Annotations under this prefix are read by the engine (an external ID is looked up).
const ENGINE_ANNOTATIONS: &str = "accountops.dev/";

/// Refuses an object whose `spec`, or an engine annotation, holds a string the database
/// cannot store; the error names the first such field.
pub fn check<T: Serialize>(object: &T) -> Result<(), CoreError> {
    // Our API types have string keys only, so they always serialize; if one did not, there
    // is nothing to walk and the database still refuses what it cannot take.
    let Ok(value) = serde_json::to_value(object) else { return Ok(()) };
    match first_unstorable(&value) {
        Some(field) => Err(CoreError::Unstorable { field }),
        None => Ok(()),
    }
}

/// The path (`spec.billingAddress.street[0]`, `metadata.annotations[accountops.dev/external-id]`)
/// of the first string under `spec` or in an engine annotation of `object` that holds
/// [`UNSTORABLE`], in document order.
pub fn first_unstorable(object: &Value) -> Option<String> {
    if let Some(spec) = object.get("spec")
        && let Some(path) = walk(spec, "spec".to_owned())
    {
        return Some(path);
    }
    let annotations = object.pointer("/metadata/annotations").and_then(Value::as_object)?;
    annotations
        .iter()
        .filter(|(key, _)| key.starts_with(ENGINE_ANNOTATIONS))
        .find(|(key, value)| key.contains(UNSTORABLE) || value.as_str().is_some_and(|v| v.contains(UNSTORABLE)))
        .map(|(key, _)| format!("metadata.annotations[{}]", key.replace(UNSTORABLE, "\\0")))
}

fn walk(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) => s.contains(UNSTORABLE).then_some(path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| walk(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, child)| {
            if key.contains(UNSTORABLE) {
                return Some(format!("{path}.{}", key.replace(UNSTORABLE, "\\0")));
            }
            walk(child, format!("{path}.{key}"))
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::Reason;

    #[test]
    fn names_the_first_field_holding_nul() {
        let object = json!({
            "metadata": {"name": "acme"},
            "spec": {
                "legalName": "ACME",
                "billingAddress": {"street": ["ul. Prosta 1", "piętro\u{0}2"], "city": "Kraków"},
                "taxId": "PL\u{0}1"
            }
        });
        assert_eq!(first_unstorable(&object).as_deref(), Some("spec.billingAddress.street[1]"));
    }

    #[test]
    fn lists_of_objects_keys_and_engine_annotations_are_walked() {
        let roles = json!({"spec": {"roles": [{"name": "Admin"}, {"name": "Ops", "permissions": ["a", "b\u{0}"]}]}});
        assert_eq!(first_unstorable(&roles).as_deref(), Some("spec.roles[1].permissions[1]"));
        let key = json!({"spec": {"odd\u{0}key": 1}});
        assert_eq!(first_unstorable(&key).as_deref(), Some("spec.odd\\0key"));
        let annotated = json!({
            "metadata": {"annotations": {"example.com/note": "x\u{0}", "accountops.dev/external-id": "acct-\u{0}"}},
            "spec": {"legalName": "ACME"}
        });
        assert_eq!(first_unstorable(&annotated).as_deref(), Some("metadata.annotations[accountops.dev/external-id]"));
    }

    #[test]
    fn everything_else_is_storable() {
        let object = json!({
            "metadata": {"name": "acme", "annotations": {"example.com/note": "not ours\u{0}"}, "labels": {"a": "b"}},
            "spec": {"legalName": "Zażółć gęślą jaźń \u{1F600} \u{FFFE} \u{7F} \\u0000", "quantity": 3, "login": true, "x": null},
            "status": {"message": "written by us\u{0}"}
        });
        assert_eq!(first_unstorable(&object), None, "other annotations, status and every other character");
    }

    #[test]
    fn check_refuses_a_typed_object_permanently_naming_the_field() {
        let spec: crate::api::OrganizationSpec =
            serde_json::from_value(json!({"accountRef": {"name": "acme"}, "displayName": "ACME\u{0}Engineering"}))
                .expect("a spec the CRD would refuse, built in code");
        let org = crate::api::Organization::new("acme-engineering", spec);
        let err = check(&org).expect_err("refused");
        assert!(matches!(&err, CoreError::Unstorable { field } if field == "spec.displayName"), "{err:?}");
        assert_eq!(
            (err.category(), err.reason(), err.is_transient()),
            ("unstorable_value", Reason::UnstorableValue, false)
        );
        assert_eq!(
            err.to_string(),
            "spec.displayName: contains U+0000 (NUL), which the platform database cannot store"
        );
        let fine = crate::api::Organization::new(
            "acme-engineering",
            serde_json::from_value(json!({"accountRef": {"name": "acme"}, "displayName": "ACME"})).expect("spec"),
        );
        assert!(check(&fine).is_ok());
    }
}
