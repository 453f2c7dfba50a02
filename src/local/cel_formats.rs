//! The CRDs' pure format rules (`self.matches('<regex>')` on a string field), evaluated with
//! each regex compiled once instead of by CEL.
//!
//! ```text
//! CRD schema + kube-cel CompiledSchema ─► take() ─► Formats (the rules, moved out of the tree)
//!   per object: kube-cel walks the rest ─┐
//!               Formats walks the same paths ─► the same (field path, message) errors
//! ```
//!
//! CEL's `matches()` compiles its regex on every call (`cel` 0.13), which was half of what
//! `validate` spent on a large set. The rules stay the CRD's: [`take`] lifts a rule out of the
//! compiled tree only when it is exactly `self.matches('<literal>')` on a node of type
//! `string`, with no `messageExpression`, `fieldPath` or `oldSelf`, and a regex that compiles,
//! and only from the head of its node's list (so a node's failures stay in the rules' order
//! when the caller puts the lifted ones first); every other rule stays with kube-cel. A lifted rule fails where CEL's would, with CEL's
//! message (the rule's `message`, else `failed rule: <rule>`) and path. A value that is not a
//! string is left alone: the structural check reports its type at that path, which hides any
//! CEL error there anyway. Schema defaults are not applied first, as kube-cel does: a field
//! left out gets its default there, and every default passes its field's format rules (a test
//! checks the CRDs), so a left-out field fails neither.

use std::collections::HashMap;

use kube_cel::cel::common::ast::{Expr, LiteralValue};
use kube_cel::{CompilationResult, CompiledSchema};
use serde_json::Value;

/// The lifted format rules of one schema tree, in its shape.
#[derive(Debug, Default)]
pub struct Formats {
    here: Vec<Format>,
    properties: HashMap<String, Formats>,
    items: Option<Box<Formats>>,
    /// Under `additionalProperties`, for keys that are not `properties`.
    additional: Option<Box<Formats>>,
    /// `allOf`, `oneOf` and `anyOf` branches: evaluated on the same value, as kube-cel does.
    branches: Vec<Formats>,
}

#[derive(Debug)]
struct Format {
    regex: regex::Regex,
    /// What a failure says.
    message: String,
}

/// A failed format rule: where, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub path: String,
    pub message: String,
}

/// Move the pure format rules of `compiled` (the tree kube-cel compiled from `schema`) into
/// [`Formats`]; what is left in `compiled` is every other rule.
pub fn take(schema: &Value, compiled: &mut CompiledSchema) -> Formats {
    let mut formats = Formats::default();
    if schema.get("type").and_then(Value::as_str) == Some("string") {
        // Only a node's leading rules, so its failures keep the rules' order: lifted ones first.
        let mut kept = Vec::with_capacity(compiled.validations.len());
        for result in std::mem::take(&mut compiled.validations) {
            match result.as_ref().ok().filter(|_| kept.is_empty()).and_then(format_of) {
                Some(format) => formats.here.push(format),
                None => kept.push(result),
            }
        }
        compiled.validations = kept;
    }
    let props = schema.get("properties").and_then(Value::as_object);
    for (name, child) in &mut compiled.properties {
        if let Some(child_schema) = props.and_then(|p| p.get(name)) {
            formats.properties.insert(name.clone(), take(child_schema, child));
        }
    }
    if let (Some(items), Some(item_schema)) = (compiled.items.as_deref_mut(), schema.get("items")) {
        formats.items = Some(Box::new(take(item_schema, items)));
    }
    if let (Some(additional), Some(add_schema)) =
        (compiled.additional_properties.as_deref_mut(), schema.get("additionalProperties"))
    {
        formats.additional = Some(Box::new(take(add_schema, additional)));
    }
    for (key, branches) in
        [("allOf", &mut compiled.all_of), ("oneOf", &mut compiled.one_of), ("anyOf", &mut compiled.any_of)]
    {
        let schemas = schema.get(key).and_then(Value::as_array);
        for (i, branch) in branches.iter_mut().enumerate() {
            if let Some(branch_schema) = schemas.and_then(|s| s.get(i)) {
                formats.branches.push(take(branch_schema, branch));
            }
        }
    }
    formats
}

/// The rule as a [`Format`], when it is a pure `self.matches('<literal>')`.
fn format_of(compiled: &CompilationResult) -> Option<Format> {
    let rule = &compiled.rule;
    let plain = !compiled.is_transition_rule
        && compiled.message_program.is_none()
        && rule.message_expression.is_none()
        && rule.field_path.is_none()
        && rule.optional_old_self.is_none();
    if !plain {
        return None;
    }
    let Expr::Call(call) = &compiled.program.expression().expr else { return None };
    let on_self = call.target.as_deref().is_some_and(|t| matches!(&t.expr, Expr::Ident(name) if name == "self"));
    let [pattern] = call.args.as_slice() else { return None };
    let Expr::Literal(LiteralValue::String(pattern)) = &pattern.expr else { return None };
    if call.func_name != "matches" || !on_self {
        return None;
    }
    // What CEL's matches() compiles; a pattern that does not compile stays with CEL, which
    // reports it as the apiserver would.
    let regex = regex::Regex::new(pattern.inner()).ok()?;
    let message = rule.message.clone().unwrap_or_else(|| format!("failed rule: {}", rule.rule));
    Some(Format { regex, message })
}

impl Formats {
    /// The rules `value` fails, at kube-cel's paths (`path` is the value's own: `""` at the root).
    pub fn check(&self, value: &Value, path: &str, out: &mut Vec<Failure>) {
        if let Value::String(s) = value {
            for format in self.here.iter().filter(|f| !f.regex.is_match(s)) {
                out.push(Failure { path: path.to_owned(), message: format.message.clone() });
            }
        }
        if let Value::Object(map) = value {
            for (name, child) in &self.properties {
                if let Some(v) = map.get(name) {
                    child.check(v, &join(path, name), out);
                }
            }
            if let Some(additional) = &self.additional {
                for (key, v) in map.iter().filter(|(k, _)| !self.properties.contains_key(*k)) {
                    additional.check(v, &join(path, key), out);
                }
            }
        }
        if let (Some(items), Value::Array(list)) = (&self.items, value) {
            for (i, item) in list.iter().enumerate() {
                items.check(item, &format!("{path}[{i}]"), out);
            }
        }
        for branch in &self.branches {
            branch.check(value, path, out);
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "email": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "self.matches('^[^@\\\\s]+@[^@\\\\s]+$')", "message": "must be an e-mail address"},
                    {"rule": "!self.contains('\\u0000')"}
                ]},
                "tags": {"type": "array", "items": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "self.matches('^[a-z]+$')"}
                ]}},
                "lifetime": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "!self.matches('^[0-9]+d$') || int(self.substring(0, size(self) - 1)) <= 30"}
                ]}
            }
        })
    }

    /// (path, message) of each failure.
    type Pairs = Vec<(String, String)>;

    /// What kube-cel alone reports, and what the split reports, as (path, message) pairs.
    fn both(value: &Value) -> (Pairs, Pairs) {
        both_on(&schema(), value)
    }

    fn both_on(schema: &Value, value: &Value) -> (Pairs, Pairs) {
        let schema = schema.clone();
        let cel = kube_cel::Validator::new();
        let pairs = |errs: Vec<kube_cel::ValidationError>| {
            errs.into_iter().map(|e| (e.field_path, e.message)).collect::<Vec<_>>()
        };
        let whole = kube_cel::compile_schema(&schema);
        let mut alone = cel.validate_compiled(&whole, value, None).map_or_else(|e| pairs(e.into_vec()), |()| vec![]);
        let mut rest = kube_cel::compile_schema(&schema);
        let formats = take(&schema, &mut rest);
        let mut split = cel.validate_compiled(&rest, value, None).map_or_else(|e| pairs(e.into_vec()), |()| vec![]);
        let mut lifted = Vec::new();
        formats.check(value, "", &mut lifted);
        let mut lifted: Vec<_> = lifted.into_iter().map(|f| (f.path, f.message)).collect();
        lifted.append(&mut split);
        // By path only (stable), as `validate` reports them: a node's rules stay in their order.
        alone.sort_by(|a, b| a.0.cmp(&b.0));
        lifted.sort_by(|a, b| a.0.cmp(&b.0));
        (alone, lifted)
    }

    #[test]
    fn lifted_rules_fail_where_and_as_cel_does() {
        let bad = json!({"email": "not an address", "tags": ["ok", "Not-OK"], "lifetime": "90d"});
        let (alone, split) = both(&bad);
        assert_eq!(
            alone,
            vec![
                ("email".to_owned(), "must be an e-mail address".to_owned()),
                (
                    "lifetime".to_owned(),
                    "failed rule: !self.matches('^[0-9]+d$') || int(self.substring(0, size(self) - 1)) <= 30"
                        .to_owned()
                ),
                ("tags[1]".to_owned(), "failed rule: self.matches('^[a-z]+$')".to_owned()),
            ]
        );
        assert_eq!(split, alone);
        let good = json!({"email": "a@b", "tags": ["ok"], "lifetime": "7d"});
        assert_eq!(both(&good), (vec![], vec![]));
    }

    #[test]
    fn the_membership_crd_fails_alike_with_its_format_rules_lifted() {
        let schema = crate::local::validate::schema_of::<crate::api::Membership>().expect("schema");
        let membership = |spec: Value| {
            json!({"apiVersion": "accountops.dev/v1alpha1", "kind": "Membership",
                   "metadata": {"name": "m", "namespace": "ns"}, "spec": spec})
        };
        let cases = [
            json!({"organizationRef": {"name": "org"}, "email": "ann@example.com", "phone": "+48 600 100 200"}),
            json!({"organizationRef": {"name": "Not_A_Name"}, "email": "no address", "phone": "call me"}),
            json!({"organizationRef": {"name": "org"}, "email": "ann\u{0}@x", "roles": ["Member"]}),
            json!({"accountRef": {"name": "acct"}, "organizationRef": {"name": "org"}, "email": "a@b.c"}),
        ];
        let mut failing = 0;
        for spec in cases {
            let (alone, split) = both_on(&schema, &membership(spec.clone()));
            assert_eq!(split, alone, "{spec}");
            failing += usize::from(!alone.is_empty());
        }
        assert_eq!(failing, 3, "the cases exercise the rules");
    }

    /// Lifted rules run on the object as written, kube-cel's on it with the schema's defaults
    /// filled in: the same only while every default passes the lifted rules of its field.
    #[test]
    fn every_default_passes_its_lifted_rules() {
        fn walk(schema: &Value, formats: &Formats, path: &str, lifted: &mut usize) {
            if !formats.here.is_empty() {
                *lifted += formats.here.len();
                if let Some(default) = schema.get("default") {
                    let mut failed = Vec::new();
                    formats.check(default, path, &mut failed);
                    assert_eq!(failed, vec![], "the default of {path}");
                }
            }
            for (name, child) in &formats.properties {
                walk(&schema["properties"][name], child, &format!("{path}.{name}"), lifted);
            }
            if let Some(items) = &formats.items {
                walk(&schema["items"], items, &format!("{path}[]"), lifted);
            }
            if let Some(additional) = &formats.additional {
                walk(&schema["additionalProperties"], additional, &format!("{path}.*"), lifted);
            }
        }
        let mut lifted = 0;
        for crd in crate::api::crds::all() {
            let version = crd.spec.versions.first().expect("a version");
            let schema = serde_json::to_value(version.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()))
                .expect("schema");
            let formats = take(&schema, &mut kube_cel::compile_schema(&schema));
            walk(&schema, &formats, &crd.spec.names.kind, &mut lifted);
        }
        assert!(lifted > 0, "the CRDs have format rules");
    }

    #[test]
    fn only_pure_format_rules_on_strings_are_lifted() {
        let schema = schema();
        let mut rest = kube_cel::compile_schema(&schema);
        let formats = take(&schema, &mut rest);
        assert_eq!(formats.properties["email"].here.len(), 1);
        assert_eq!(rest.properties["email"].validations.len(), 1, "the contains() rule stays with CEL");
        assert!(formats.properties["lifetime"].here.is_empty(), "a rule that only uses matches() stays");
        assert_eq!(rest.properties["lifetime"].validations.len(), 1);
        let items = formats.properties["tags"].items.as_deref().expect("items");
        assert_eq!(items.here.len(), 1);
    }
}
