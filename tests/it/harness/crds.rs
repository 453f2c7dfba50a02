//! Installing the CRDs from the repository's `crds/` directory before any test runs, and
//! waiting until the API server serves them (`Established`), so a test's first request can't
//! race the discovery of a new kind.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use serde::Deserialize;

const FIELD_MANAGER: &str = "accountops-test-harness";

/// Applies every CRD in the `*.yaml` / `*.yml` files of `dir` (several documents per file are
/// fine) with server-side apply, then waits for each to be established. Returns their names.
/// A missing directory installs nothing.
pub async fn install_dir(client: &kube::Client, dir: &Path, timeout: Duration) -> Result<Vec<String>> {
    let crds = read_dir(dir)?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    for crd in &crds {
        let name = crd.metadata.name.clone().context("a CRD without metadata.name")?;
        api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(crd))
            .await
            .with_context(|| format!("applying CRD {name}"))?;
        names.push(name);
    }
    for name in &names {
        tokio::time::timeout(timeout, await_condition(api.clone(), name, conditions::is_crd_established()))
            .await
            .with_context(|| format!("CRD {name} not established within {timeout:?}"))??;
    }
    Ok(names)
}

fn read_dir(dir: &Path) -> Result<Vec<CustomResourceDefinition>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|ext| ext == "yaml" || ext == "yml"));
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(doc).with_context(|| format!("parsing {}", file.display()))?;
            if value.is_null() {
                continue; // an empty document, e.g. after a trailing `---`
            }
            if value.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition") {
                bail!("{} holds something other than a CustomResourceDefinition", file.display());
            }
            crds.push(serde_yaml::from_value(value).with_context(|| format!("reading {}", file.display()))?);
        }
    }
    Ok(crds)
}
