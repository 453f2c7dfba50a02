//! What both benchmarks do to get going: create the object set concurrently, make a fresh
//! database on the test PostgreSQL server, and tell a Membership that is Ready at its
//! generation.

use accountops::api::Membership;
use anyhow::Context as _;
use futures::TryStreamExt;
use kube::api::{Api, DynamicObject, PostParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

/// Concurrent clients for creating objects and for the raw ceiling.
pub const CLIENTS: usize = 16;

/// Ready=True for the object's current generation.
pub fn ready_at_generation(m: &Membership) -> bool {
    let generation = m.metadata.generation;
    m.status.as_ref().is_some_and(|s| {
        s.conditions
            .0
            .iter()
            .any(|c| c.type_ == "Ready" && format!("{:?}", c.status) == "True" && c.observed_generation == generation)
    })
}

/// Creates `objects` in `ns` with [`CLIENTS`] concurrent requests.
pub async fn create(client: &Client, ns: &str, objects: Vec<Value>) -> anyhow::Result<()> {
    futures::stream::iter(objects.into_iter().map(Ok::<_, anyhow::Error>))
        .try_for_each_concurrent(CLIENTS, |object| async move {
            let object: DynamicObject = serde_json::from_value(object)?;
            let resource = api_resource(&object)?;
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
            api.create(&PostParams::default(), &object)
                .await
                .with_context(|| format!("creating {}", object.name_any()))?;
            Ok(())
        })
        .await
}

fn api_resource(object: &DynamicObject) -> anyhow::Result<kube::api::ApiResource> {
    let types = object.types.as_ref().context("apiVersion and kind")?;
    let gvk = kube::api::GroupVersionKind::try_from(types)?;
    let plural = format!("{}s", types.kind.to_lowercase());
    Ok(kube::api::ApiResource::from_gvk_with_plural(&gvk, &plural))
}

/// A new database on the test PostgreSQL server (`ACCOUNTOPS_TEST_POSTGRES_URL`).
pub async fn fresh_database() -> anyhow::Result<String> {
    let admin = std::env::var("ACCOUNTOPS_TEST_POSTGRES_URL")
        .context("ACCOUNTOPS_TEST_POSTGRES_URL is not set: run tests/bench/run.sh")?;
    let name = format!("accountops_bench_{}", uuid::Uuid::new_v4().simple());
    let store = accountops::store::Store::connect(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(store.pool()).await?;
    store.close().await;
    let mut url = url::Url::parse(&admin)?;
    url.set_path(&name);
    Ok(url.to_string())
}
