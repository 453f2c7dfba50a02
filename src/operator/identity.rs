//! The cluster identity recorded as the owner of every row, so two clusters sharing one
//! platform database never take over each other's rows.

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, Client, ResourceExt};

/// The UID of the `kube-system` namespace: stable for the life of a cluster and unique.
pub async fn cluster_id(client: &Client) -> anyhow::Result<String> {
    let ns = Api::<Namespace>::all(client.clone())
        .get("kube-system")
        .await
        .context("reading the kube-system namespace for the cluster identity (or pass --cluster-id)")?;
    ns.uid().map(|uid| format!("k8s-{uid}")).context("kube-system has no UID")
}
