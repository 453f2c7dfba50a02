//! Cluster mode: the namespace's objects as the apiserver serves them, with the caller's rights.
//!
//! Every kind is listed in the traced namespace only. A kind the caller may not list there
//! (403) becomes a forbidden node where its objects would hang, except the traced kind itself,
//! which is an error. A TenantLink's counterpart not found in the namespace is looked for among
//! the Organizations of all namespaces, and only when there is one to look for; a caller who may
//! not list those sees the counterpart as forbidden, not an error.

use std::path::Path;

use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use super::tree::{Inventory, Object};
use super::{TraceError, plural};
use crate::api::{Account, Membership, Organization, ProvisioningSync, TenantLink};
use crate::core::Kind;

/// A client from `--kubeconfig` (else $KUBECONFIG or ~/.kube/config, then in-cluster), with
/// `--context` when given.
pub async fn client(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<kube::Client, TraceError> {
    let config_error = |e: anyhow::Error| TraceError::Config(e);
    let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
    let config = match (kubeconfig, context) {
        (Some(path), _) => {
            let read = Kubeconfig::read_from(path)
                .map_err(|e| config_error(anyhow::Error::new(e).context(format!("reading {}", path.display()))))?;
            kube::Config::from_custom_kubeconfig(read, &options)
                .await
                .map_err(|e| config_error(anyhow::Error::new(e).context(format!("using {}", path.display()))))?
        }
        (None, Some(name)) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| config_error(anyhow::Error::new(e).context(format!("using the context {name:?}"))))?,
        (None, None) => kube::Config::infer().await.map_err(|e| {
            config_error(anyhow::Error::new(e).context("finding a kubeconfig or in-cluster configuration"))
        })?,
    };
    kube::Client::try_from(config).map_err(|e| TraceError::Cluster { what: "a client".into(), source: e })
}

/// What the caller can see of `namespace` (see the module doc).
pub async fn inventory(client: &kube::Client, namespace: &str, traced: Kind) -> Result<Inventory, TraceError> {
    let mut inventory = Inventory::default();
    for kind in super::KINDS {
        match list(client, kind, Some(namespace)).await {
            Ok(values) => {
                inventory.objects.extend(values.iter().map(|v| Object::from_resource(kind, namespace, v)));
            }
            Err(kube::Error::Api(status)) if status.code == 403 && kind != traced => {
                inventory.unlistable.push((kind, status.message));
            }
            Err(kube::Error::Api(status)) if status.code == 403 => {
                let namespace = namespace.to_owned();
                return Err(TraceError::Forbidden { plural: plural(kind), namespace, message: status.message });
            }
            Err(source) => {
                return Err(TraceError::Cluster { what: format!("{} in {namespace:?}", plural(kind)), source });
            }
        }
    }
    let here =
        |id: &str| inventory.objects.iter().any(|o| o.kind == Kind::Organization && o.health.id.as_deref() == Some(id));
    let elsewhere = inventory.objects.iter().filter_map(|o| o.counterpart_id.as_deref()).any(|id| !here(id));
    if elsewhere {
        match list(client, Kind::Organization, None).await {
            Ok(values) => {
                let others = values.iter().filter_map(|v| {
                    let ns = v["metadata"]["namespace"].as_str().filter(|ns| *ns != namespace)?;
                    Some(Object::from_resource(Kind::Organization, ns, v))
                });
                inventory.objects.extend(others.collect::<Vec<_>>());
            }
            Err(kube::Error::Api(status)) if status.code == 403 => inventory.others_forbidden = Some(status.message),
            Err(source) => {
                return Err(TraceError::Cluster { what: "organizations in all namespaces".into(), source });
            }
        }
    }
    Ok(inventory)
}

/// The objects of `kind` in `namespace` (all namespaces: `None`), as JSON.
async fn list(client: &kube::Client, kind: Kind, namespace: Option<&str>) -> Result<Vec<Value>, kube::Error> {
    match kind {
        Kind::Account => values(api::<Account>(client, namespace)).await,
        Kind::Organization => values(api::<Organization>(client, namespace)).await,
        Kind::Membership => values(api::<Membership>(client, namespace)).await,
        Kind::TenantLink => values(api::<TenantLink>(client, namespace)).await,
        Kind::ProvisioningSync => values(api::<ProvisioningSync>(client, namespace)).await,
    }
}

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn values<K>(api: Api<K>) -> Result<Vec<Value>, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let list = api.list(&ListParams::default()).await?;
    // Listed typed (the operator's own types), then read as JSON like a manifest, so both
    // modes share one reading (`Object::from_resource`).
    Ok(list.items.iter().filter_map(|o| serde_json::to_value(o).ok()).collect())
}
