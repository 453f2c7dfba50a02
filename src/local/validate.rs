//! `accountops validate`: every manifest checked the way the apiserver would check it, plus the
//! references between manifests, with every problem reported as `file:line: object: field: message`
//! (or as JSON, see [`json`]).
//!
//! ```text
//! files / stdin ─► documents ─► per object: metadata ─► schema ─► CEL rules ─► storable ─► typed ─┐
//!                                                                                                  ├─► ManifestSet
//!                                                  references between objects (same namespace) ◄──┘
//! ```
//!
//! The metadata checks are the apiserver's ([`metadata_check`]); schema and CEL come from the
//! generated CRDs; "storable" is the core's own guard ([`storable`]), which here only finds
//! what no schema covers (an engine annotation holding NUL).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Secret;
use kube::core::crd::CustomResourceExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::cel_formats::{self, Formats};
use super::manifest::{Document, field_line};
use super::metadata_check;
use super::schema_check::{self, FieldError};
use crate::api::{self, Account, Membership, Organization, ProvisioningSync, TenantLink};
use crate::core::storable;

/// One problem found in the manifests; its JSON form is part of `validate -o json` ([`json`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    /// `Kind/namespace/name`, when the document got that far.
    pub object: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A typed object and where it came from.
#[derive(Clone, Debug)]
pub struct Item<T> {
    pub file: PathBuf,
    pub line: usize,
    pub namespace: String,
    pub name: String,
    pub object: T,
}

/// The valid objects of a manifest set, by kind.
#[derive(Clone, Debug, Default)]
pub struct ManifestSet {
    pub accounts: Vec<Item<Account>>,
    pub organizations: Vec<Item<Organization>>,
    pub memberships: Vec<Item<Membership>>,
    pub tenant_links: Vec<Item<TenantLink>>,
    pub provisioning_syncs: Vec<Item<ProvisioningSync>>,
    /// Secrets in the set (local mode reads provider codes and credentials from them).
    pub secrets: Vec<Item<Secret>>,
}

impl ManifestSet {
    pub fn len(&self) -> usize {
        self.accounts.len()
            + self.organizations.len()
            + self.memberships.len()
            + self.tenant_links.len()
            + self.provisioning_syncs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Roles every tenant organization understands, besides its own (seed 003).
pub const BUILTIN_TENANT_ROLES: &[&str] = &["Admin", "Builder", "Consumer"];

/// Validates documents: returns the valid objects and every problem, in file and line order.
pub fn validate(docs: &[Document]) -> (ManifestSet, Vec<Problem>) {
    let schemas: HashMap<String, Value> = api::crds::all()
        .into_iter()
        .filter_map(|crd| {
            let version = crd.spec.versions.first()?;
            let schema = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
            Some((crd.spec.names.kind.clone(), serde_json::to_value(schema).ok()?))
        })
        .collect();
    // CEL rules compiled once per kind, not once per object: parsing them was most of the
    // time `validate`, `plan` and `apply` spent on a large set.
    // The pure format rules go to Rust, each regex compiled once ([`cel_formats`]).
    let compiled: HashMap<&str, (kube_cel::CompiledSchema, Formats)> = schemas
        .iter()
        .map(|(kind, schema)| {
            let mut rules = kube_cel::compile_schema(schema);
            let formats = cel_formats::take(schema, &mut rules);
            (kind.as_str(), (rules, formats))
        })
        .collect();
    let cel = kube_cel::Validator::new();
    let mut set = ManifestSet::default();
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();

    for doc in docs {
        let at = |line: usize, object: Option<String>, field: Option<String>, message: String| Problem {
            file: doc.file.clone(),
            line,
            object,
            field,
            message,
        };
        let value = match &doc.value {
            Ok(v) => v,
            Err(e) => {
                problems.push(at(doc.line, None, None, e.clone()));
                continue;
            }
        };
        let Some(map) = value.as_object() else {
            problems.push(at(
                doc.line,
                None,
                None,
                "a manifest must be a mapping with apiVersion, kind and metadata".into(),
            ));
            continue;
        };
        let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        let object_id = format!(
            "{}/{}/{}",
            if kind.is_empty() { "?" } else { kind },
            namespace,
            if name.is_empty() { "?" } else { name }
        );
        let obj = Some(object_id.clone());

        let (group, _) = api_version.split_once('/').unwrap_or(("", api_version));
        if group != api::GROUP {
            if api_version == "v1" && kind == "Secret" {
                match typed::<Secret>(value) {
                    Ok(secret) => set.secrets.push(item(doc, namespace, name, secret)),
                    Err(e) => problems.push(at(doc.line, obj, None, e)),
                }
            } else if api_version.is_empty() || kind.is_empty() {
                problems.push(at(doc.line, obj, None, "apiVersion and kind are required".into()));
            }
            // Other Kubernetes objects are not ours to judge.
            continue;
        }
        if api_version != format!("{}/{}", api::GROUP, api::VERSION) {
            problems.push(at(
                field_line(doc, "apiVersion"),
                obj,
                Some("apiVersion".into()),
                format!("unsupported version {api_version:?}: this accountops serves {}/{}", api::GROUP, api::VERSION),
            ));
            continue;
        }
        let (Some(schema), Some((rules, formats))) = (schemas.get(kind), compiled.get(kind)) else {
            problems.push(at(field_line(doc, "kind"), obj, Some("kind".into()), format!("unknown kind {kind:?}: expected one of Account, Organization, Membership, TenantLink, ProvisioningSync")));
            continue;
        };
        let mut field_errors = Vec::new();
        metadata_check::check(value, &mut field_errors);
        // Status is written by the operator; kubectl apply ignores it, so do we.
        let mut checked = value.clone();
        if let Some(m) = checked.as_object_mut() {
            m.remove("status");
        }
        // apiVersion, kind and metadata are implicit in every CRD schema; metadata is checked above.
        let mut body = checked.clone();
        if let Some(m) = body.as_object_mut() {
            for implicit in ["apiVersion", "kind", "metadata"] {
                m.remove(implicit);
            }
        }
        schema_check::check(schema, &body, "", &mut field_errors);
        // CEL runs even when the structure is wrong, as in the apiserver, but a rule over a field
        // that already failed its structural check would only repeat that failure.
        // A node's lifted rules head its list: their failures go first (the sort is stable).
        let mut failed = Vec::new();
        formats.check(&checked, "", &mut failed);
        let mut errs: Vec<FieldError> =
            failed.into_iter().map(|f| FieldError { path: f.path, message: f.message }).collect();
        if let Err(more) = cel.validate_compiled(rules, &checked, None) {
            errs.extend(more.into_iter().map(|e| FieldError { path: e.field_path, message: e.message }));
        }
        if !errs.is_empty() {
            let broken: Vec<String> = field_errors.iter().map(|e| e.path.clone()).collect();
            // The compiled tree walks properties in no fixed order: report by field path.
            errs.sort_by(|a, b| a.path.cmp(&b.path));
            for e in errs {
                let repeats = broken
                    .iter()
                    .any(|b| e.path.starts_with(b.as_str()) || b.starts_with(&e.path) && !e.path.is_empty());
                if !repeats {
                    field_errors.push(e);
                }
            }
        }
        if !field_errors.is_empty() {
            for e in field_errors {
                let field = (!e.path.is_empty()).then(|| e.path.clone());
                problems.push(at(field_line(doc, &e.path), obj.clone(), field, e.message));
            }
            continue;
        }
        if let Some(field) = storable::first_unstorable(&checked) {
            // An annotation's key is no path segment of the document.
            let line = field_line(doc, if field.starts_with("metadata.") { "metadata.annotations" } else { &field });
            problems.push(at(line, obj, Some(field), api::fields::STORABLE_MESSAGE.to_owned()));
            continue;
        }
        if let Some((file, line)) = seen.insert(object_id.clone(), (doc.file.clone(), doc.line)) {
            problems.push(at(doc.line, obj, None, format!("defined twice: also at {}:{line}", file.display())));
            continue;
        }
        let parsed = match kind {
            "Account" => typed(&checked).map(|o| set.accounts.push(item(doc, namespace, name, o))),
            "Organization" => typed(&checked).map(|o| set.organizations.push(item(doc, namespace, name, o))),
            "Membership" => typed(&checked).map(|o| set.memberships.push(item(doc, namespace, name, o))),
            "TenantLink" => typed(&checked).map(|o| set.tenant_links.push(item(doc, namespace, name, o))),
            _ => typed(&checked).map(|o| set.provisioning_syncs.push(item(doc, namespace, name, o))),
        };
        if let Err(e) = parsed {
            problems.push(at(doc.line, obj, None, e));
        }
    }
    problems.extend(super::references::check(&set, docs));
    problems.extend(super::desired::annotation_problems(&set, docs));
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    (set, problems)
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_json::from_value(value.clone()).map_err(|e| format!("does not match the type: {e}"))
}

fn item<T>(doc: &Document, namespace: &str, name: &str, object: T) -> Item<T> {
    Item { file: doc.file.clone(), line: doc.line, namespace: namespace.to_owned(), name: name.to_owned(), object }
}

/// How `validate` prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per problem, `file:line: Kind/namespace/name: field: message`, then a summary.
    Text,
    /// One JSON document: `{"valid", "documents", "objects", "problems": [{"file", "line",
    /// "object", "field", "message"}]}` (`object` and `field` null when unknown).
    Json,
}

/// The JSON `validate -o json` prints. A stable shape for scripts: `valid` (no problems),
/// `documents` (YAML documents read), `objects` (accountops objects that passed), and
/// `problems` in file and line order, each `{"file", "line", "object", "field", "message"}`
/// with `object` (`Kind/namespace/name`) and `field` null when the problem has none.
pub fn json(set: &ManifestSet, documents: usize, problems: &[Problem]) -> Value {
    let problems: Vec<Value> = problems
        .iter()
        .map(|p| {
            // A file name that is not UTF-8 is shown as `file:line` shows it.
            serde_json::json!({
                "file": p.file.display().to_string(),
                "line": p.line,
                "object": p.object,
                "field": p.field,
                "message": p.message,
            })
        })
        .collect();
    serde_json::json!({
        "valid": problems.is_empty(),
        "documents": documents,
        "objects": set.len(),
        "problems": problems,
    })
}

/// The CRD schema of a kind, for callers that need it (tests, the update checks of local mode).
pub fn schema_of<K: CustomResourceExt>() -> Option<Value> {
    let crd = K::crd();
    let schema = crd.spec.versions.first()?.schema.as_ref()?.open_api_v3_schema.as_ref()?;
    serde_json::to_value(schema).ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::local::manifest::read_documents;

    /// Every field of `original` is present with the same value in `roundtrip` (defaults may add more).
    fn assert_subset(original: &Value, roundtrip: &Value, path: &str) {
        match (original, roundtrip) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    let other = b.get(k).unwrap_or_else(|| panic!("{path}.{k} was lost in the round trip"));
                    assert_subset(v, other, &format!("{path}.{k}"));
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                assert_eq!(a.len(), b.len(), "{path} length");
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    assert_subset(x, y, &format!("{path}[{i}]"));
                }
            }
            (a, b) => assert_eq!(a, b, "{path}"),
        }
    }

    #[test]
    fn every_example_round_trips_through_the_types_without_loss() {
        let docs = read_documents(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")]).expect("examples");
        let (set, problems) = validate(&docs);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(set.len(), 18);
        assert_eq!(set.secrets.len(), 1);
        let typed: Vec<Value> = set
            .accounts
            .iter()
            .map(|i| serde_json::to_value(&i.object))
            .chain(set.organizations.iter().map(|i| serde_json::to_value(&i.object)))
            .chain(set.memberships.iter().map(|i| serde_json::to_value(&i.object)))
            .chain(set.tenant_links.iter().map(|i| serde_json::to_value(&i.object)))
            .chain(set.provisioning_syncs.iter().map(|i| serde_json::to_value(&i.object)))
            .collect::<Result<_, _>>()
            .expect("serializes");
        let originals: Vec<&Value> = docs
            .iter()
            .filter_map(|d| d.value.as_ref().ok())
            .filter(|v| v["apiVersion"] == "accountops.dev/v1alpha1")
            .collect();
        assert_eq!(originals.len(), typed.len());
        for original in originals {
            let name = &original["metadata"]["name"];
            let kind = &original["kind"];
            let back = typed
                .iter()
                .find(|t| &t["metadata"]["name"] == name && &t["kind"] == kind)
                .unwrap_or_else(|| panic!("{kind}/{name} is in the set"));
            assert_subset(original, back, &format!("{kind}/{name}"));
        }
    }

    #[test]
    fn non_ascii_survives_the_round_trip() {
        let docs = read_documents(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")]).expect("examples");
        let (set, _) = validate(&docs);
        let acme = set.accounts.iter().find(|a| a.name == "acme-polska").expect("acme-polska");
        assert_eq!(acme.object.spec.billing_address.city, "Kraków");
        assert_eq!(acme.object.spec.billing_address.street, vec!["ul. Żółkiewskiego 17/4"]);
    }

    #[test]
    fn duplicates_and_foreign_versions_are_problems() {
        let text = "apiVersion: accountops.dev/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {}\n";
        let twice = format!("{text}---\n{text}");
        let docs = crate::local::manifest::split_documents(Path::new("x.yaml"), &twice);
        let (_, problems) = validate(&docs);
        // Both copies lack required fields; neither is accepted, so neither is a duplicate yet.
        assert!(problems.iter().all(|p| p.message == "Required value"), "{problems:?}");

        let v2 = "apiVersion: accountops.dev/v2\nkind: Account\nmetadata: {name: a}\n";
        let docs = crate::local::manifest::split_documents(Path::new("x.yaml"), v2);
        let (_, problems) = validate(&docs);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("unsupported version \"accountops.dev/v2\""), "{problems:?}");

        let unknown = "apiVersion: accountops.dev/v1alpha1\nkind: Invoice\nmetadata: {name: a}\n";
        let docs = crate::local::manifest::split_documents(Path::new("x.yaml"), unknown);
        let (_, problems) = validate(&docs);
        assert!(
            problems[0].to_string().starts_with("x.yaml:2: Invoice/default/a: kind: unknown kind \"Invoice\""),
            "{problems:?}"
        );
    }

    #[test]
    fn a_valid_object_defined_twice_is_reported_once_with_both_places() {
        let docs = read_documents(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/00-accounts.yaml")])
            .expect("examples");
        let mut twice = docs.clone();
        twice.extend(docs);
        let (set, problems) = validate(&twice);
        assert_eq!(set.accounts.len(), 2);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].message.starts_with("defined twice: also at"), "{problems:?}");
    }
}
