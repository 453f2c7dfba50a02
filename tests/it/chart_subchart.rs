//! The chart as a dependency of a parent chart, the way platform teams bundle operators: the
//! parent's `global` values and its `condition: accountops.enabled` reach this chart, whose
//! schema must accept them (and still refuse bad values set through the parent).

use std::path::Path;

use crate::chart::{chart, documents, of_kind, one, server_accepts};
use crate::harness::{self, Cmd, TestEnv};

const PARENT_CHART: &str = r#"apiVersion: v2
name: platform
version: 1.0.0
dependencies:
  - name: accountops
    version: ">=0.1.0"
    condition: accountops.enabled
"#;

const PARENT_VALUES: &str = r#"global:
  imageRegistry: registry.example.internal
  commonLabels: {team: platform}
accountops:
  enabled: true
  replicas: 2
"#;

/// A parent chart in `dir` with a copy of this chart in its `charts/`.
async fn parent_chart(dir: &Path) {
    std::fs::write(dir.join("Chart.yaml"), PARENT_CHART).expect("parent Chart.yaml");
    std::fs::write(dir.join("values.yaml"), PARENT_VALUES).expect("parent values.yaml");
    std::fs::create_dir(dir.join("charts")).expect("charts/");
    Cmd::new("cp").arg("-a").arg(chart()).arg(dir.join("charts/accountops")).run().await.ok();
}

async fn template(env: &TestEnv, dir: &Path, set: &[&str]) -> harness::CmdOutput {
    let mut helm = env.helm().args(["template", "platform"]).arg(dir);
    for value in set {
        helm = helm.args(["--set", value]);
    }
    helm.run().await
}

#[tokio::test]
async fn a_parent_chart_with_global_values_renders_this_chart_as_a_subchart() {
    let Some(env) = harness::test_env().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    parent_chart(dir.path()).await;

    let out = template(&env, dir.path(), &[]).await.ok();
    let docs = documents(&out.stdout);
    let deployment = one(&docs, "Deployment");
    assert_eq!(deployment["metadata"]["name"], "platform-accountops");
    assert_eq!(deployment["spec"]["replicas"], 2, "the parent's accountops: values reach the chart");
    let manifests = out.stdout;
    server_accepts(&env, manifests).await;

    let off = template(&env, dir.path(), &["accountops.enabled=false"]).await.ok();
    assert!(of_kind(&documents(&off.stdout), "Deployment").is_empty(), "the condition switches it off");

    let out = template(&env, dir.path(), &["accountops.replicas=two"]).await.failed();
    assert!(out.stderr.contains("accountops") && out.stderr.contains("replicas"), "{out:?}");
}
