//! Manifests as the engine's desired state: who owns a row in local mode, and the annotations.
//!
//! The operator names an object by its cluster identity and `metadata.uid`. Manifests on disk
//! have no UID, so local mode derives one from the cluster identity (`--cluster-id`), the
//! namespace and the name: every run owns the same rows, and two cluster identities sharing one
//! database never collide. The prefix also tells local mode's rows from the operator's, so
//! `--prune` never touches a row an operator manages.
//!
//! A bad engine annotation (`accountops.dev/adopt: "yes"`) is a manifest problem like any
//! other: it is reported before the database is opened, so nothing is touched. A string the
//! database cannot store fails its object here, before the core, with the field named.

use kube::ResourceExt;
use serde::Serialize;

use super::manifest::{Document, field_line};
use super::validate::{Item, ManifestSet, Problem};
use crate::core::{CoreError, Flags, storable};
use crate::store::Owner;

/// The cluster identity local mode records when no `--cluster-id` is given.
pub const DEFAULT_CLUSTER_ID: &str = "local";

/// How local mode's owner UIDs start (`local:<cluster>/<namespace>/<name>`).
pub const UID_PREFIX: &str = "local:";

/// The owner local mode records for the object `namespace/name`.
pub fn owner(cluster: &str, namespace: &str, name: &str) -> Owner {
    Owner {
        cluster: cluster.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid: format!("{UID_PREFIX}{cluster}/{namespace}/{name}"),
    }
}

/// Whether a stored owner UID is one local mode wrote.
pub fn is_local_uid(uid: &str) -> bool {
    uid.starts_with(UID_PREFIX)
}

/// The engine flags of a manifest, decoded from its annotations, for a manifest the database
/// can store: this is where every manifest becomes the engine's desired state, so the guard of
/// [`storable`] runs here (a set `validate` passed never fails it; one built otherwise does).
pub fn flags<K: ResourceExt + Serialize>(item: &Item<K>) -> Result<Flags, CoreError> {
    storable::check(&item.object)?;
    annotation_flags(item)
}

/// The engine flags of a manifest's annotations alone.
fn annotation_flags<K: ResourceExt>(item: &Item<K>) -> Result<Flags, CoreError> {
    Flags::from_annotations(item.object.annotations().iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Every Account and Organization whose engine annotations do not decode, as `validate`
/// reports problems (`file:line: Kind/namespace/name: metadata.annotations: …`).
pub fn annotation_problems(set: &ManifestSet, docs: &[Document]) -> Vec<Problem> {
    let mut out: Vec<Problem> = set
        .accounts
        .iter()
        .filter_map(|item| problem(item, "Account", annotation_flags(item).err()?, docs))
        .chain(
            set.organizations
                .iter()
                .filter_map(|item| problem(item, "Organization", annotation_flags(item).err()?, docs)),
        )
        .collect();
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out
}

fn problem<K>(item: &Item<K>, kind: &str, error: CoreError, docs: &[Document]) -> Option<Problem> {
    const FIELD: &str = "metadata.annotations";
    let line = docs
        .iter()
        .find(|d| d.file == item.file && d.line == item.line)
        .map_or(item.line, |doc| field_line(doc, FIELD));
    Some(Problem {
        file: item.file.clone(),
        line,
        object: Some(format!("{kind}/{}/{}", item.namespace, item.name)),
        field: Some(FIELD.to_owned()),
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::local::manifest::split_documents;
    use crate::local::validate::validate;

    const ACCOUNT: &str = "apiVersion: accountops.dev/v1alpha1\nkind: Account\nmetadata:\n  name: acme\n  \
        annotations:\n    accountops.dev/adopt: \"yes\"\nspec:\n  legalName: ACME\n  billingAddress:\n    \
        street: [Main 1]\n    city: Kraków\n    postalCode: \"31-539\"\n    country: PL\n  \
        billingEmail: billing@acme.example.com\n  currency: PLN\n  invoiceLanguage: pl\n";

    #[test]
    fn owners_are_stable_and_separate_clusters() {
        let a = owner("local", "default", "acme");
        assert_eq!(a, owner("local", "default", "acme"));
        assert_eq!(a.uid, "local:local/default/acme");
        assert!(is_local_uid(&a.uid));
        assert_ne!(a.uid, owner("laptop", "default", "acme").uid);
        assert!(!is_local_uid("3f1c9a6e-0b7e-4c7a-9d1e-5a1b2c3d4e5f"));
    }

    #[test]
    fn a_bad_annotation_is_a_problem_at_its_line() {
        let docs = split_documents(Path::new("a.yaml"), ACCOUNT);
        let (set, problems) = validate(&docs);
        let found = annotation_problems(&set, &docs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(problems, found, "validate reports it, and nothing else");
        let text = found[0].to_string();
        assert!(text.starts_with("a.yaml:5: Account/default/acme: metadata.annotations: "), "{text}");
        assert!(text.contains("accountops.dev/adopt") && text.contains("\"yes\""), "{text}");
        let fixed = ACCOUNT.replace("\"yes\"", "\"true\"");
        let docs = split_documents(Path::new("a.yaml"), &fixed);
        let (set, _) = validate(&docs);
        assert!(annotation_problems(&set, &docs).is_empty());
        assert!(flags(&set.accounts[0]).expect("decodes").adopt);
    }
}
