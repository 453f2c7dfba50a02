//! Secrets the operator reads (provider codes a tenant was given, SCIM credentials) and writes
//! (a service provider's current code). Only in the object's own namespace, so a TenantLink in
//! one namespace can never read a code Secret of another; SCIM credentials only from a Secret
//! that opted in by its type (`accountops.dev/scim-credentials`), judged by the core.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};

use super::context::MANAGER;
use crate::api::Organization;
use crate::core::sync::credentials::CredentialsSecret;

/// The data of a Secret, or `None` when it does not exist.
pub async fn read(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, kube::Error> {
    Ok(read_typed(client, namespace, name).await?.map(|s| s.data))
}

/// A Secret's type and data, or `None` when it does not exist: what a ProvisioningSync's
/// credentials are judged by ([`crate::core::sync::credentials::refusal`]).
pub async fn read_typed(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<CredentialsSecret>, kube::Error> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace).get_opt(name).await?;
    Ok(secret.map(|s| {
        let mut data: BTreeMap<String, Vec<u8>> =
            s.data.unwrap_or_default().into_iter().map(|(k, ByteString(v))| (k, v)).collect();
        // stringData is write-only in the API, but a Secret read back from some tools carries it.
        for (k, v) in s.string_data.unwrap_or_default() {
            data.entry(k).or_insert_with(|| v.into_bytes());
        }
        CredentialsSecret { secret_type: s.type_, data }
    }))
}

/// One key of a Secret as text (trimmed), `None` when the Secret or the key is missing.
pub async fn read_key(client: &Client, namespace: &str, name: &str, key: &str) -> Result<Option<String>, kube::Error> {
    Ok(read(client, namespace, name)
        .await?
        .and_then(|data| data.get(key).map(|v| String::from_utf8_lossy(v).trim().to_owned())))
}

/// The name of the Secret holding a service provider's current code.
pub fn provider_code_secret_name(org: &Organization) -> String {
    format!("{}-provider-code", org.name_any())
}

/// Writes the provider's current code into its Secret (key `code`), owned by the Organization
/// so it goes with it.
pub async fn write_provider_code(client: &Client, org: &Organization, code: &str) -> Result<String, kube::Error> {
    let namespace = org.namespace().unwrap_or_default();
    let name = provider_code_secret_name(org);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: Some([("accountops.dev/provider-code-of".to_owned(), org.name_any())].into()),
            owner_references: org.controller_owner_ref(&()).map(|r| vec![r]),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some([("code".to_owned(), ByteString(code.as_bytes().to_vec()))].into()),
        ..Default::default()
    };
    let mut value = serde_json::to_value(&secret).map_err(kube::Error::SerdeError)?;
    value["apiVersion"] = "v1".into();
    value["kind"] = "Secret".into();
    Api::<Secret>::namespaced(client.clone(), &namespace)
        .patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&value))
        .await?;
    Ok(name)
}
