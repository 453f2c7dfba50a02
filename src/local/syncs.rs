//! ProvisioningSyncs in local mode: their credentials and CA come from Secrets of the manifest
//! set, as they come from Secrets of the sync's namespace in a cluster.
//!
//! | the sync names | local mode |
//! |---|---|
//! | `credentialsSecretRef` of the set, same namespace, `type: accountops.dev/scim-credentials` | its `token` (or `username`/`password`), read by the core's `credentials::from_secret` |
//! | the same Secret of another type (`Opaque`, a service account token) | refused: `CredentialsNotOptedIn`, nothing sent, as in a cluster |
//! | a Secret that is not in the set | waits: `CredentialsSecretNotFound`, as in a cluster |
//! | `caSecretRef` of the set | its `ca.crt` (absent: the system's roots) |
//!
//! The values go straight into [`Credentials`](crate::scim::Credentials) (redacted when
//! printed). Local mode shows no credentials hash, so it keys the hash with a key of its own
//! run ([`run_key`]) rather than the database's.

use k8s_openapi::api::core::v1::Secret;

use super::validate::{Item, ManifestSet};
use crate::api::ProvisioningSync;
use crate::core::CoreError;
use crate::core::sync::credentials::{CredentialsSecret, HashKey, SecretData};

/// The data of Secret `name` in `namespace`, from the set: base64 `data` decoded, with
/// `stringData` over it (as the apiserver merges them). `None` when the set has no such Secret.
pub fn secret_data(set: &ManifestSet, namespace: &str, name: &str) -> Option<SecretData> {
    let secret = set.secrets.iter().find(|s| s.namespace == namespace && s.name == name)?;
    Some(merged(&secret.object))
}

fn merged(secret: &Secret) -> SecretData {
    let mut data: SecretData = secret.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    data
}

/// The credentials Secret of `sync`, with its type, from the set.
pub fn credentials(set: &ManifestSet, sync: &Item<ProvisioningSync>) -> Option<CredentialsSecret> {
    let name = sync.object.spec.endpoint.credentials_secret_ref.name.as_str();
    let secret = set.secrets.iter().find(|s| s.namespace == sync.namespace && s.name == name)?;
    Some(CredentialsSecret { secret_type: secret.object.type_.clone(), data: merged(&secret.object) })
}

/// A key for the credentials hash of this run: local mode shows the hash nowhere.
pub fn run_key() -> Result<HashKey, CoreError> {
    HashKey::random().map_err(|e| CoreError::Input { what: "random bytes".to_owned(), reason: e.to_string() })
}

/// `ca.crt` of the sync's `caSecretRef`, when it names a Secret of the set that has it.
pub fn ca_pem(set: &ManifestSet, sync: &Item<ProvisioningSync>) -> Option<Vec<u8>> {
    let ca = sync.object.spec.endpoint.ca_secret_ref.as_ref()?;
    secret_data(set, &sync.namespace, ca.name.as_str())?.remove("ca.crt")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::local::manifest::split_documents;
    use crate::local::validate::validate;

    const SET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  token: b2xk\n  \
        user: dQ==\nstringData:\n  token: new\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: ca\n\
        stringData:\n  ca.crt: PEM\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  \
        namespace: other\nstringData:\n  token: theirs\n---\napiVersion: accountops.dev/v1alpha1\n\
        kind: ProvisioningSync\nmetadata:\n  name: s\nspec:\n  accountRef: {name: acme}\n  endpoint:\n    \
        url: https://scim.example/v2\n    auth: Bearer\n    credentialsSecretRef: {name: creds}\n    \
        caSecretRef: {name: ca}\n  portalUrl: https://portal.example\n";

    #[test]
    fn string_data_wins_over_data_and_only_the_sync_namespace_counts() {
        let docs = split_documents(Path::new("a.yaml"), SET);
        let (set, problems) = validate(&docs);
        // The Account is not in this set: the only problem, and not one of the Secrets.
        assert!(problems.iter().all(|p| p.field.as_deref() == Some("spec.accountRef.name")), "{problems:?}");
        let sync = &set.provisioning_syncs[0];
        let data = credentials(&set, sync).expect("the Secret of the set").data;
        assert_eq!(data.get("token").map(Vec::as_slice), Some(b"new".as_slice()), "stringData over data");
        assert_eq!(data.get("user").map(Vec::as_slice), Some(b"u".as_slice()), "data decoded");
        assert_eq!(ca_pem(&set, sync), Some(b"PEM".to_vec()));
        assert!(secret_data(&set, "default", "missing").is_none());
        assert_eq!(secret_data(&set, "other", "creds").and_then(|d| d.get("token").cloned()), Some(b"theirs".to_vec()));
    }
}
