//! Secrets the operator reads (provider codes a tenant was given, SCIM credentials) and writes
//! (a service provider's current code). Only in the object's own namespace, so a TenantLink in
//! one namespace can never read a code Secret of another; SCIM credentials only from a Secret
//! that opted in by its type (`accountops.dev/scim-credentials`), judged by the core.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, Preconditions};
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

/// The label on a provider's code Secret: the Organization it holds the code of.
const PROVIDER_CODE_LABEL: &str = "accountops.dev/provider-code-of";

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
            labels: Some([(PROVIDER_CODE_LABEL.to_owned(), org.name_any())].into()),
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

/// Whether a Secret's metadata says the operator wrote it as `org`'s code: the label names the
/// Organization and the Organization (by UID) is its controller.
fn written_for(meta: &ObjectMeta, org: &Organization) -> bool {
    let labelled = meta.labels.as_ref().and_then(|l| l.get(PROVIDER_CODE_LABEL)).is_some_and(|v| *v == org.name_any());
    let controlled = org
        .uid()
        .is_some_and(|uid| meta.owner_references.iter().flatten().any(|r| r.uid == uid && r.controller == Some(true)));
    labelled && controlled
}

/// Deletes the provider's code Secret if this operator wrote it for `org`: labelled as its code
/// and controlled by this very Organization (by UID). Gone already, or someone else's: nothing.
pub async fn delete_provider_code(client: &Client, org: &Organization) -> Result<(), kube::Error> {
    let namespace = org.namespace().unwrap_or_default();
    let name = provider_code_secret_name(org);
    let api = Api::<Secret>::namespaced(client.clone(), &namespace);
    let Some(secret) = api.get_metadata_opt(&name).await? else { return Ok(()) };
    if !written_for(&secret.metadata, org) {
        return Ok(());
    }
    // Only the Secret read above: not one re-created under the same name since.
    let params = DeleteParams {
        preconditions: secret.uid().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
        ..Default::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn org(uid: &str) -> Organization {
        let mut o = Organization::new(
            "provider",
            serde_json::from_value(serde_json::json!({
                "accountRef": {"name": "acct"}, "displayName": "Provider"
            }))
            .expect("spec"),
        );
        o.metadata.namespace = Some("tenant-x".into());
        o.metadata.uid = Some(uid.into());
        o
    }

    fn meta(label: Option<&str>, owner_uid: Option<&str>, controller: bool) -> ObjectMeta {
        ObjectMeta {
            labels: label.map(|v| [(PROVIDER_CODE_LABEL.to_owned(), v.to_owned())].into()),
            owner_references: owner_uid.map(|uid| {
                vec![OwnerReference {
                    api_version: "accountops.dev/v1alpha1".into(),
                    kind: "Organization".into(),
                    name: "provider".into(),
                    uid: uid.into(),
                    controller: Some(controller),
                    block_owner_deletion: None,
                }]
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_secret_written_for_this_very_organization_is_deleted() {
        let o = org("uid-1");
        assert!(written_for(&meta(Some("provider"), Some("uid-1"), true), &o));
        assert!(!written_for(&meta(None, Some("uid-1"), true), &o), "no label: someone else's");
        assert!(!written_for(&meta(Some("other"), Some("uid-1"), true), &o), "labelled for another");
        assert!(!written_for(&meta(Some("provider"), None, false), &o), "no owner");
        assert!(!written_for(&meta(Some("provider"), Some("uid-2"), true), &o), "an earlier object's");
        assert!(!written_for(&meta(Some("provider"), Some("uid-1"), false), &o), "owned, not controlled");
    }
}
