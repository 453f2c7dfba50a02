//! The generated CustomResourceDefinitions, as the binary prints them and `crds/` stores them.
//!
//! ```text
//! Rust types ─► kube's CustomResourceExt::crd() ─► reflow descriptions ─► storable strings ─► CRD
//! ```
//!
//! Two passes over the derived schema apply to every field at once, so a new field cannot miss
//! them: descriptions lose the source's line breaks, and every string of a spec gets the CEL
//! rule that refuses what the platform database cannot store ([`fields::UNSTORABLE`]).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::fields;
use super::{Account, Membership, Organization, ProvisioningSync, TenantLink};

/// Every CRD, in dependency order (an Account before the Organizations that point at it).
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![Account::crd(), Organization::crd(), Membership::crd(), TenantLink::crd(), ProvisioningSync::crd()]
        .into_iter()
        .map(reflow_descriptions)
        .map(storable_strings)
        .collect()
}

/// Every string of every version's spec (not an enum: its values are ours) refuses
/// [`fields::UNSTORABLE`] with [`fields::STORABLE_RULE`].
fn storable_strings(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn walk(schema: &mut Value) {
        let Some(map) = schema.as_object_mut() else { return };
        if map.get("type").and_then(Value::as_str) == Some("string") && !map.contains_key("enum") {
            let rules = map.entry("x-kubernetes-validations").or_insert_with(|| json!([]));
            if let Some(rules) = rules.as_array_mut() {
                rules.push(json!({ "rule": fields::STORABLE_RULE, "message": fields::STORABLE_MESSAGE }));
            }
        }
        if let Some(props) = map.get_mut("properties").and_then(Value::as_object_mut) {
            props.values_mut().for_each(walk);
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = map.get_mut(key) {
                walk(child);
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(children) = map.get_mut(key).and_then(Value::as_array_mut) {
                children.iter_mut().for_each(walk);
            }
        }
    }
    let Ok(mut value) = serde_json::to_value(&crd) else { return crd };
    if let Some(versions) = value.pointer_mut("/spec/versions").and_then(Value::as_array_mut) {
        for version in versions {
            if let Some(spec) = version.pointer_mut("/schema/openAPIV3Schema/properties/spec") {
                walk(spec);
            }
        }
    }
    serde_json::from_value(value).unwrap_or(crd)
}

/// Doc comments are wrapped for the source file; `kubectl explain` wraps on its own, so a
/// description keeps only its paragraph breaks.
fn reflow_descriptions(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    match child {
                        serde_json::Value::String(text) if key == "description" => *text = reflow(text),
                        _ => walk(child),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let Ok(mut value) = serde_json::to_value(&crd) else { return crd };
    walk(&mut value);
    serde_json::from_value(value).unwrap_or(crd)
}

fn reflow(text: &str) -> String {
    text.split("\n\n")
        .map(|para| para.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The file `crds/` keeps a CRD in: `<plural>.<group>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

/// One CRD as a YAML document (with the leading `---`).
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    Ok(format!("---\n{}", serde_yaml::to_string(crd)?))
}

/// All CRDs as one multi-document YAML stream.
pub fn all_yaml() -> Result<String, serde_yaml::Error> {
    all().iter().map(to_yaml).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use serde_json::Value;

    use super::*;

    fn crds_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crds")
    }

    /// `crds/` must be exactly what the binary generates: regenerate with
    /// `cargo run -- crds --out-dir crds` after changing a type.
    #[test]
    fn crds_directory_matches_the_types() {
        let mut expected = BTreeSet::new();
        for crd in all() {
            let name = file_name(&crd);
            let path = crds_dir().join(&name);
            let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let generated = to_yaml(&crd).expect("renders");
            assert!(on_disk == generated, "{name} drifted from the Rust types: run `cargo run -- crds --out-dir crds`");
            expected.insert(name);
        }
        let present: BTreeSet<String> = std::fs::read_dir(crds_dir())
            .expect("crds/ exists")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert_eq!(present, expected, "crds/ holds exactly one file per kind");
    }

    fn version(crd: &CustomResourceDefinition) -> Value {
        serde_json::to_value(&crd.spec.versions[0]).expect("serializes")
    }

    #[test]
    fn every_crd_has_status_printer_columns_names_and_category() {
        let expected = [
            ("Account", "acct"),
            ("Organization", "org"),
            ("Membership", "mbr"),
            ("TenantLink", "tl"),
            ("ProvisioningSync", "psync"),
        ];
        let crds = all();
        assert_eq!(crds.len(), expected.len());
        for (crd, (kind, short)) in crds.iter().zip(expected) {
            assert_eq!(crd.spec.names.kind, kind);
            assert_eq!(crd.spec.group, "accountops.dev");
            assert_eq!(crd.spec.scope, "Namespaced");
            assert_eq!(crd.spec.names.short_names.as_deref(), Some(&[short.to_owned()][..]));
            assert_eq!(crd.spec.names.categories.as_deref(), Some(&["accountops".to_owned()][..]));
            let v = version(crd);
            assert_eq!(v["name"], "v1alpha1");
            assert!(v["subresources"]["status"].is_object(), "{kind} has a status subresource");
            let columns: Vec<&str> = v["additionalPrinterColumns"]
                .as_array()
                .expect("columns")
                .iter()
                .filter_map(|c| c["name"].as_str())
                .collect();
            for column in ["Ready", "Synced", "Age"] {
                assert!(columns.contains(&column), "{kind} prints {column}: {columns:?}");
            }
        }
    }

    #[test]
    fn synced_is_a_column_everywhere_and_reason_is_shown_wide() {
        for crd in all() {
            let kind = crd.spec.names.kind.clone();
            let v = version(&crd);
            let columns = v["additionalPrinterColumns"].as_array().expect("columns");
            let column = |name: &str| columns.iter().find(|c| c["name"] == name);
            let synced = column("Synced").unwrap_or_else(|| panic!("{kind} has Synced"));
            assert_eq!(synced["jsonPath"], ".status.conditions[?(@.type==\"Synced\")].status", "{kind}");
            assert!(synced.get("priority").is_none(), "{kind}: Synced is shown by default");
            let reason = column("Reason").unwrap_or_else(|| panic!("{kind} has Reason"));
            assert_eq!(reason["priority"], 1, "{kind}: Reason only with -o wide");
            assert_eq!(reason["jsonPath"], ".status.conditions[?(@.type==\"Ready\")].reason", "{kind}");
        }
    }

    /// Every string a user writes into a spec refuses NUL, which PostgreSQL cannot store.
    #[test]
    fn every_spec_string_refuses_what_the_database_cannot_store() {
        for crd in all() {
            let v = version(&crd);
            let mut strings = 0;
            let mut missing = Vec::new();
            walk(&v["schema"]["openAPIV3Schema"]["properties"]["spec"], "spec".to_owned(), &mut |path, s| {
                if s["type"] == "string" && s.get("enum").is_none() {
                    strings += 1;
                    let rules = s["x-kubernetes-validations"].as_array().cloned().unwrap_or_default();
                    if !rules
                        .iter()
                        .any(|r| r["rule"] == fields::STORABLE_RULE && r["message"] == fields::STORABLE_MESSAGE)
                    {
                        missing.push(path.to_owned());
                    }
                }
            });
            assert!(strings > 0, "{}", crd.spec.names.kind);
            assert!(missing.is_empty(), "{}: strings without the NUL rule: {missing:?}", crd.spec.names.kind);
        }
    }

    /// Each lifetime and interval carries its bounds as a rule and says them in its description.
    #[test]
    fn every_lifetime_is_bounded_and_documents_its_bounds() {
        let bounded = [
            ("Organization", "spec.serviceProvider.codeLifetime", fields::CODE_LIFETIME),
            ("Membership", "spec.invitation.lifetime", fields::INVITATION_LIFETIME),
            ("TenantLink", "spec.partnerInvitation.lifetime", fields::INVITATION_LIFETIME),
            ("ProvisioningSync", "spec.resyncInterval", fields::RESYNC_INTERVAL),
        ];
        let mut found = Vec::new();
        for crd in all() {
            let kind = crd.spec.names.kind.clone();
            let v = version(&crd);
            walk(&v["schema"]["openAPIV3Schema"]["properties"]["spec"], "spec".to_owned(), &mut |path, s| {
                let rules = s["x-kubernetes-validations"].as_array().cloned().unwrap_or_default();
                if rules.iter().any(|r| r["rule"].as_str().is_some_and(|t| t.contains(fields::DURATION_PATTERN))) {
                    found.push((kind.clone(), path.to_owned(), s.clone()));
                }
            });
        }
        let paths: Vec<(String, String)> = found.iter().map(|(k, p, _)| (k.clone(), p.clone())).collect();
        let expected: Vec<(String, String)> = bounded.iter().map(|(k, p, _)| (k.to_string(), p.to_string())).collect();
        assert_eq!(paths, expected, "every duration field is in this list");
        for ((kind, path, schema), (_, _, bounds)) in found.iter().zip(bounded) {
            let rules = schema["x-kubernetes-validations"].as_array().expect("rules");
            let message = format!("must be between {} and {}", bounds.min, bounds.max);
            assert!(rules.iter().any(|r| r["message"] == message), "{kind} {path}: {rules:?}");
            let description = schema["description"].as_str().unwrap_or_default();
            assert!(
                description.contains(&format!("from {} to {}", bounds.min, bounds.max)),
                "{kind} {path}: {description}"
            );
        }
    }

    fn walk<'a>(schema: &'a Value, path: String, f: &mut impl FnMut(&str, &'a Value)) {
        f(&path, schema);
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                walk(v, format!("{path}.{k}"), f);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(items, format!("{path}[]"), f);
        }
    }

    #[test]
    fn every_field_has_a_description_and_strings_are_bounded() {
        for crd in all() {
            let v = version(&crd);
            let root = &v["schema"]["openAPIV3Schema"];
            let mut undocumented = Vec::new();
            let mut unbounded = Vec::new();
            for part in ["spec", "status"] {
                walk(&root["properties"][part], part.to_owned(), &mut |path, s| {
                    if s.get("description").is_none() && !path.ends_with("[]") {
                        undocumented.push(path.to_owned());
                    }
                    // The apiserver prices CEL rules by string length; every string is bounded.
                    let cel = s.get("x-kubernetes-validations").is_some();
                    if part == "spec"
                        && s["type"] == "string"
                        && s.get("enum").is_none()
                        && s.get("maxLength").is_none()
                    {
                        unbounded.push(format!("{path} (cel: {cel})"));
                    }
                });
            }
            assert!(undocumented.is_empty(), "{}: fields without description: {undocumented:?}", crd.spec.names.kind);
            assert!(unbounded.is_empty(), "{}: strings without maxLength: {unbounded:?}", crd.spec.names.kind);
        }
    }

    #[test]
    fn descriptions_keep_paragraphs_but_not_source_line_breaks() {
        assert_eq!(reflow("one\ntwo  three\n\nnext\npara"), "one two three\n\nnext para");
        let yaml = all_yaml().expect("renders");
        assert!(yaml.contains("`Delete` revokes it (kept with a revocation timestamp"), "reflowed");
    }

    #[test]
    fn cel_rules_cover_email_codes_immutability_and_modes() {
        let all_yaml = all_yaml().expect("renders");
        for rule in [
            "self.matches('^[^@\\\\s]+@",
            "self in ['AD'",
            "self in ['AED'",
            "self == oldSelf",
            "has(self.spec.providerCode) != has(self.spec.partnerInvitation)",
            "has(self.spec.organizationRef) != has(self.spec.accountRef)",
        ] {
            assert!(all_yaml.contains(rule), "a CEL rule containing {rule:?}");
        }
    }
}
