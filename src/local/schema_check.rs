//! The structural checks the apiserver makes against a CRD's OpenAPI schema, run locally.
//!
//! The schema walked here is the generated CRD itself, so `validate` and the apiserver enforce
//! one definition. CEL rules (`x-kubernetes-validations`) are evaluated by `kube-cel` over the
//! same schema; this module covers the rest: types, required and unknown fields, enums, lengths,
//! item counts, ranges and list uniqueness. Messages follow the apiserver's wording.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// A problem with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path, e.g. `spec.billingAddress.country` or `spec.roles[1].name`.
    pub path: String,
    pub message: String,
}

/// Checks `value` against `schema`, collecting every problem (never stopping at the first).
pub fn check(schema: &Value, value: &Value, path: &str, out: &mut Vec<FieldError>) {
    let err = |out: &mut Vec<FieldError>, message: String| out.push(FieldError { path: path.to_owned(), message });
    if value.is_null() {
        if !schema.get("nullable").and_then(Value::as_bool).unwrap_or(false) {
            err(out, "Invalid value: null: must not be null".into());
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let ok = match expected {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            err(out, format!("Invalid value: {}: must be of type {expected}", describe(value)));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().filter(|v| !v.is_null()).map(|v| v.to_string()).collect();
        err(out, format!("Unsupported value: {}: supported values: {}", value, list.join(", ")));
    }
    match value {
        Value::String(s) => check_string(schema, s, path, out),
        Value::Number(_) => check_number(schema, value, path, out),
        Value::Array(items) => check_array(schema, items, path, out),
        Value::Object(map) => {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        out.push(FieldError { path: join(path, name), message: "Required value".into() });
                    }
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            let preserve = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
            let additional = schema.get("additionalProperties");
            for (key, child) in map {
                let child_path = join(path, key);
                match (props.and_then(|p| p.get(key)), additional) {
                    (Some(child_schema), _) => check(child_schema, child, &child_path, out),
                    (None, Some(add)) if add.is_object() => check(add, child, &child_path, out),
                    (None, _)
                        if preserve
                            || (props.is_none()
                                && schema.get("type").is_some_and(|t| t == "object")
                                && additional.is_none()) => {}
                    (None, _) => out.push(FieldError { path: child_path, message: "unknown field".into() }),
                }
            }
        }
        _ => {}
    }
}

fn check_string(schema: &Value, s: &str, path: &str, out: &mut Vec<FieldError>) {
    let len = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        out.push(FieldError {
            path: path.to_owned(),
            message: format!("Too long: may not be more than {max} characters"),
        });
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        out.push(FieldError {
            path: path.to_owned(),
            message: format!("Invalid value: {:?}: should be at least {min} chars long", s),
        });
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && !matches_pattern(pattern, s)
    {
        out.push(FieldError {
            path: path.to_owned(),
            message: format!("Invalid value: {s:?}: should match '{pattern}'"),
        });
    }
}

/// Whether `s` matches `pattern`; a pattern that does not compile matches everything (the
/// CRD is ours, so that is a bug the CRD tests catch, not the user's). Each pattern is compiled
/// once per thread, not once per field checked.
fn matches_pattern(pattern: &str, s: &str) -> bool {
    thread_local! {
        static COMPILED: RefCell<HashMap<String, Option<regex::Regex>>> = RefCell::new(HashMap::new());
    }
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let re = compiled.entry(pattern.to_owned()).or_insert_with(|| regex::Regex::new(pattern).ok());
        re.as_ref().is_none_or(|re| re.is_match(s))
    })
}

fn check_number(schema: &Value, value: &Value, path: &str, out: &mut Vec<FieldError>) {
    let n = value.as_f64().unwrap_or_default();
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && n < min
    {
        out.push(FieldError {
            path: path.to_owned(),
            message: format!("Invalid value: {value}: should be greater than or equal to {min}"),
        });
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        out.push(FieldError {
            path: path.to_owned(),
            message: format!("Invalid value: {value}: should be less than or equal to {max}"),
        });
    }
}

fn check_array(schema: &Value, items: &[Value], path: &str, out: &mut Vec<FieldError>) {
    let n = items.len() as u64;
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && n > max
    {
        out.push(FieldError {
            path: path.to_owned(),
            message: format!("Too many: {n}: must have at most {max} items"),
        });
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && n < min
    {
        out.push(FieldError {
            path: path.to_owned(),
            message: format!("Invalid value: {n}: must have at least {min} items"),
        });
    }
    let list_type = schema.get("x-kubernetes-list-type").and_then(Value::as_str);
    let keys: Vec<&str> = schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        if let Some(item_schema) = schema.get("items") {
            check(item_schema, item, &item_path, out);
        }
        let identity = match list_type {
            Some("set") => Some(item.to_string()),
            Some("map") => Some(
                keys.iter()
                    .map(|k| item.get(*k).map(|v| v.to_string()).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        };
        if let Some(identity) = identity
            && !seen.insert(identity.clone())
        {
            out.push(FieldError { path: item_path, message: format!("Duplicate value: {identity}") });
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Object(_) => "object".into(),
        Value::Array(_) => "array".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(schema: Value, value: Value) -> Vec<String> {
        let mut out = Vec::new();
        check(&schema, &value, "spec", &mut out);
        out.into_iter().map(|e| format!("{}: {}", e.path, e.message)).collect()
    }

    fn object(props: Value, required: Value) -> Value {
        json!({"type": "object", "properties": props, "required": required})
    }

    #[test]
    fn reports_required_unknown_and_wrong_type_together() {
        let schema = object(json!({"name": {"type": "string"}, "n": {"type": "integer"}}), json!(["name"]));
        let errs = errors(schema, json!({"n": "three", "extra": 1}));
        assert_eq!(
            errs,
            vec![
                "spec.name: Required value",
                "spec.extra: unknown field",
                "spec.n: Invalid value: \"three\": must be of type integer",
            ]
        );
    }

    #[test]
    fn enforces_enum_lengths_ranges_and_counts() {
        let schema = object(
            json!({
                "p": {"type": "string", "enum": ["Delete", "Orphan"]},
                "s": {"type": "string", "minLength": 2, "maxLength": 3},
                "q": {"type": "integer", "minimum": 1, "maximum": 10},
                "l": {"type": "array", "maxItems": 1, "items": {"type": "string"}}
            }),
            json!([]),
        );
        let errs = errors(schema, json!({"p": "Drop", "s": "żółw", "q": 0, "l": ["a", "b"]}));
        assert_eq!(
            errs,
            vec![
                "spec.l: Too many: 2: must have at most 1 items",
                "spec.p: Unsupported value: \"Drop\": supported values: \"Delete\", \"Orphan\"",
                "spec.q: Invalid value: 0: should be greater than or equal to 1",
                "spec.s: Too long: may not be more than 3 characters",
            ]
        );
        let short = object(json!({"s": {"type": "string", "minLength": 2}}), json!([]));
        assert_eq!(
            errors(short, json!({"s": "a"})),
            vec!["spec.s: Invalid value: \"a\": should be at least 2 chars long"]
        );
    }

    #[test]
    fn finds_duplicates_in_sets_and_maps() {
        let schema = object(
            json!({
                "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "map": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
            }),
            json!([]),
        );
        let errs = errors(schema, json!({"set": ["a", "a"], "map": [{"name": "x"}, {"name": "x"}]}));
        assert_eq!(errs, vec!["spec.map[1]: Duplicate value: \"x\"", "spec.set[1]: Duplicate value: \"a\""]);
    }

    #[test]
    fn null_is_only_allowed_where_nullable() {
        let schema = object(json!({"a": {"type": "string", "nullable": true}, "b": {"type": "string"}}), json!([]));
        assert_eq!(
            errors(schema, json!({"a": null, "b": null})),
            vec!["spec.b: Invalid value: null: must not be null"]
        );
    }

    #[test]
    fn pattern_mismatch_is_reported() {
        let schema = object(json!({"c": {"type": "string", "pattern": "^[A-Z]{2}$"}}), json!([]));
        assert_eq!(
            errors(schema, json!({"c": "pl"})),
            vec!["spec.c: Invalid value: \"pl\": should match '^[A-Z]{2}$'"]
        );
    }
}
