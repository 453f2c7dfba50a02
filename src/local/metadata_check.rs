//! The apiserver's checks of `metadata`, run locally: what every object must pass before its
//! schema is even looked at (`ValidateObjectMeta` in Kubernetes' apimachinery).
//!
//! ```text
//! metadata ─► name (DNS-1123 subdomain) ─► namespace (DNS-1123 label)
//!          ─► labels (qualified keys, values ≤ 63 of the label pattern)
//!          ─► annotations (qualified keys, case-insensitive; keys + values ≤ 262144 bytes)
//! ```
//!
//! The messages are the apiserver's own, so `validate` and `kubectl apply` say the same thing.
//! A namespace is checked as the apiserver checks a Namespace's name: with an invalid one the
//! object could never be created anywhere.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::schema_check::FieldError;

/// Longest object name (a DNS-1123 subdomain).
pub const NAME_MAX: usize = 253;
/// Longest namespace name, label value and name part of a qualified key.
pub const LABEL_MAX: usize = 63;
/// The most bytes all annotation keys and values of one object may take together.
pub const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

const SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_MSG: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

fn anchored(fmt: &str) -> Regex {
    // The patterns are constants of this file; a test compiles each one.
    Regex::new(&format!("^(?:{fmt})$")).expect("a constant pattern of this file")
}

static SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| anchored(SUBDOMAIN_FMT));
static LABEL: LazyLock<Regex> = LazyLock::new(|| anchored(LABEL_FMT));
static QUALIFIED: LazyLock<Regex> = LazyLock::new(|| anchored(QUALIFIED_FMT));

/// The apiserver's `RegexError`: the rule, examples and the regular expression.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!("{msg} (e.g. {}regex used for validation is '{fmt}')", examples.join(" or "))
}

/// Lengths are counted in bytes (the values are ASCII when valid); the apiserver words the
/// limit of an object's name in characters and every other limit in bytes.
fn too_long(max: usize, unit: &str) -> String {
    format!("must be no more than {max} {unit}")
}

/// Problems of an object name (a DNS-1123 subdomain).
pub fn object_name(value: &str) -> Vec<String> {
    dns_subdomain(value, "characters")
}

/// Problems of a DNS-1123 subdomain (object names, the prefix of a qualified key).
fn dns_subdomain(value: &str, unit: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > NAME_MAX {
        out.push(too_long(NAME_MAX, unit));
    }
    if !SUBDOMAIN.is_match(value) {
        out.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    out
}

/// Problems of a DNS-1123 label (namespace names).
pub fn dns_label(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > LABEL_MAX {
        out.push(too_long(LABEL_MAX, "bytes"));
    }
    if !LABEL.is_match(value) && SUBDOMAIN.is_match(value) {
        // A valid subdomain, not too long: only its dots are wrong.
        out.push("must not contain dots".to_owned());
    } else if !LABEL.is_match(value) {
        out.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    out
}

/// Problems of a qualified name (`[prefix/]name`: label and annotation keys).
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts[..] {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                out.push("prefix part must be non-empty".to_owned());
            } else {
                out.extend(dns_subdomain(prefix, "bytes").into_iter().map(|m| format!("prefix part {m}")));
            }
            name
        }
        _ => {
            let rule = regex_error(
                &format!("a qualified name {QUALIFIED_MSG}"),
                QUALIFIED_FMT,
                &["MyName", "my.name", "123-abc"],
            );
            return vec![format!("{rule} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")];
        }
    };
    if name.is_empty() {
        out.push("name part must be non-empty".to_owned());
    } else if name.len() > LABEL_MAX {
        out.push(format!("name part {}", too_long(LABEL_MAX, "bytes")));
    }
    if !QUALIFIED.is_match(name) {
        let rule = regex_error(QUALIFIED_MSG, QUALIFIED_FMT, &["MyName", "my.name", "123-abc"]);
        out.push(format!("name part {rule}"));
    }
    out
}

/// Problems of a label value.
pub fn label_value(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > LABEL_MAX {
        out.push(too_long(LABEL_MAX, "bytes"));
    }
    if !value.is_empty() && !QUALIFIED.is_match(value) {
        out.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            &format!("({QUALIFIED_FMT})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    out
}

/// Checks `metadata` of a manifest (`object` is the whole document) as the apiserver would.
/// Values that are not strings are left to the typed check, which names them.
pub fn check(object: &Value, out: &mut Vec<FieldError>) {
    let invalid = |path: &str, value: &str, message: String| FieldError {
        path: path.to_owned(),
        message: format!("Invalid value: {value:?}: {message}"),
    };
    match object.pointer("/metadata/name") {
        None | Some(Value::Null) => {
            out.push(FieldError { path: "metadata.name".into(), message: "Required value".into() })
        }
        Some(Value::String(name)) if name.is_empty() => {
            out.push(FieldError { path: "metadata.name".into(), message: "Required value".into() })
        }
        Some(Value::String(name)) => {
            out.extend(object_name(name).into_iter().map(|m| invalid("metadata.name", name, m)))
        }
        Some(_) => {}
    }
    if let Some(namespace) = object.pointer("/metadata/namespace").and_then(Value::as_str) {
        out.extend(dns_label(namespace).into_iter().map(|m| invalid("metadata.namespace", namespace, m)));
    }
    if let Some(labels) = object.pointer("/metadata/labels").and_then(Value::as_object) {
        for (key, value) in labels {
            out.extend(qualified_name(key).into_iter().map(|m| invalid("metadata.labels", key, m)));
            if let Some(value) = value.as_str() {
                out.extend(label_value(value).into_iter().map(|m| invalid("metadata.labels", value, m)));
            }
        }
    }
    if let Some(annotations) = object.pointer("/metadata/annotations").and_then(Value::as_object) {
        let mut bytes = 0;
        for (key, value) in annotations {
            // Keys are qualified names whatever their case.
            out.extend(
                qualified_name(&key.to_lowercase()).into_iter().map(|m| invalid("metadata.annotations", key, m)),
            );
            bytes += key.len() + value.as_str().map_or(0, str::len);
        }
        if bytes > ANNOTATIONS_MAX_BYTES {
            out.push(FieldError {
                path: "metadata.annotations".into(),
                message: format!("Too long: may not be more than {ANNOTATIONS_MAX_BYTES} bytes"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(metadata: Value) -> Vec<String> {
        let mut out = Vec::new();
        check(&json!({ "metadata": metadata }), &mut out);
        out.into_iter().map(|e| format!("{}: {}", e.path, e.message)).collect()
    }

    #[test]
    fn patterns_compile() {
        for re in [&*SUBDOMAIN, &*LABEL, &*QUALIFIED] {
            assert!(re.is_match("a1"), "{re}");
        }
    }

    #[test]
    fn good_metadata_passes() {
        let ok = problems(json!({
            "name": "acme.polska-1",
            "namespace": "team-a",
            "labels": {"app.kubernetes.io/name": "accountops", "tier": "", "Team_1": "Billing.EU-1"},
            "annotations": {"accountops.dev/adopt": "true", "Example.COM/Note": "anything at all\nmulti-line"}
        }));
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn names_are_dns_subdomains() {
        assert_eq!(problems(json!({})), ["metadata.name: Required value"]);
        assert_eq!(problems(json!({"name": ""})), ["metadata.name: Required value"]);
        let bad = problems(json!({"name": "Acme_Polska"}));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            bad[0].starts_with(
                "metadata.name: Invalid value: \"Acme_Polska\": a lowercase RFC 1123 subdomain must consist of"
            ),
            "{bad:?}"
        );
        assert!(bad[0].ends_with("(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"), "{bad:?}");
        assert_eq!(problems(json!({"name": "a..b"})).len(), 1);
        let long = problems(json!({"name": "a".repeat(254)}));
        assert_eq!(
            long,
            [format!("metadata.name: Invalid value: \"{}\": must be no more than 253 characters", "a".repeat(254))]
        );
        assert!(problems(json!({"name": "a".repeat(253)})).is_empty());
    }

    #[test]
    fn namespaces_are_dns_labels() {
        let base = |ns: &str| problems(json!({"name": "a", "namespace": ns}));
        assert!(base(&"n".repeat(63)).is_empty());
        assert_eq!(base(&"n".repeat(64)).len(), 1);
        assert!(base(&"n".repeat(64))[0].ends_with("must be no more than 63 bytes"));
        assert_eq!(base("team.a"), ["metadata.namespace: Invalid value: \"team.a\": must not contain dots"]);
        let odd = base("Team_A");
        assert!(
            odd[0].contains("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"),
            "{odd:?}"
        );
        assert!(
            odd[0].ends_with(
                "(e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ),
            "{odd:?}"
        );
    }

    #[test]
    fn label_keys_are_qualified_names_and_values_short_and_plain() {
        let labels = |key: &str, value: &str| problems(json!({"name": "a", "labels": {key: value}}));
        let spaced = labels("team name", "x");
        assert_eq!(spaced.len(), 1, "{spaced:?}");
        assert!(
            spaced[0].starts_with(
                "metadata.labels: Invalid value: \"team name\": name part must consist of alphanumeric characters"
            ),
            "{spaced:?}"
        );
        assert!(spaced[0].ends_with("(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
        assert_eq!(labels("/x", "v"), ["metadata.labels: Invalid value: \"/x\": prefix part must be non-empty"]);
        assert!(
            labels("Example.com/x", "v")[0].contains("prefix part a lowercase RFC 1123 subdomain"),
            "prefixes are lower case"
        );
        assert!(
            labels("a/b/c", "v")[0]
                .contains("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
        );
        assert_eq!(
            labels("a/", "v")[..1],
            ["metadata.labels: Invalid value: \"a/\": name part must be non-empty".to_owned()]
        );
        assert!(labels(&"k".repeat(64), "v")[0].ends_with("name part must be no more than 63 bytes"));
        assert!(labels(&format!("example.com/{}", "k".repeat(63)), "v").is_empty());
        let long = labels("k", &"v".repeat(64));
        assert_eq!(
            long,
            [format!("metadata.labels: Invalid value: \"{}\": must be no more than 63 bytes", "v".repeat(64))]
        );
        let odd = labels("k", "-start");
        assert!(
            odd[0].contains("a valid label must be an empty string or consist of alphanumeric characters"),
            "{odd:?}"
        );
        assert!(labels("k", &"v".repeat(63)).is_empty());
    }

    #[test]
    fn annotations_have_qualified_keys_of_any_case_and_a_total_size() {
        let annotations = |a: Value| problems(json!({"name": "a", "annotations": a}));
        assert!(annotations(json!({"Example.com/Upper": "x"})).is_empty(), "case does not matter");
        assert!(
            annotations(json!({"bad key": "x"}))[0]
                .starts_with("metadata.annotations: Invalid value: \"bad key\": name part")
        );
        // Exactly at the limit, keys counted too, then one byte over (in UTF-8 bytes, not characters).
        let key = "example.com/big";
        let at_limit = "x".repeat(ANNOTATIONS_MAX_BYTES - key.len());
        assert!(annotations(json!({key: at_limit})).is_empty());
        let over = format!("{}ż", "x".repeat(ANNOTATIONS_MAX_BYTES - key.len() - 1));
        assert_eq!(
            annotations(json!({key: over})),
            ["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
        let split = json!({"a": "x".repeat(200_000), "b": "y".repeat(100_000)});
        assert_eq!(annotations(split), ["metadata.annotations: Too long: may not be more than 262144 bytes"]);
    }
}
