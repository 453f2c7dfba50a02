//! The chart with more than one replica: the update strategy, topology spread and the
//! disruption budget render as values say, the apiserver accepts them, and bad values are
//! refused naming the value.

use serde_json::Value;

use crate::chart::{of_kind, one, refused_naming, render, server_accepts, strings};
use crate::harness;

fn deployment(docs: &[Value]) -> &Value {
    &one(docs, "Deployment")["spec"]
}

#[tokio::test]
async fn two_replicas_surge_before_stopping_spread_over_nodes_and_get_a_disruption_budget() {
    let Some(env) = harness::test_env().await else { return };
    let (_, docs) = render(&env, &[]).await;
    let spec = deployment(&docs);
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        (&spec["strategy"]["rollingUpdate"]["maxSurge"], &spec["strategy"]["rollingUpdate"]["maxUnavailable"]),
        (&Value::from(1), &Value::from(0))
    );
    assert!(of_kind(&docs, "PodDisruptionBudget").is_empty(), "one replica: no budget that could block a drain");
    assert!(spec["template"]["spec"]["topologySpreadConstraints"].is_null());
    let args = strings(&spec["template"]["spec"]["containers"][0]["args"]);
    assert!(args.contains(&"--mail-max-age=3d") && args.contains(&"--mail-max-attempts=5"), "{args:?}");

    let spread = [
        "replicas=2",
        "topologySpreadConstraints[0].maxSkew=1",
        "topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
        "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
        "topologySpreadConstraints[1].maxSkew=1",
        "topologySpreadConstraints[1].topologyKey=topology.kubernetes.io/zone",
        "topologySpreadConstraints[1].whenUnsatisfiable=DoNotSchedule",
        "topologySpreadConstraints[1].labelSelector.matchLabels.tier=operators",
    ];
    let (manifests, docs) = render(&env, &spread).await;
    let spec = deployment(&docs);
    let constraints = spec["template"]["spec"]["topologySpreadConstraints"].as_array().expect("constraints");
    assert_eq!(constraints.len(), 2);
    let selector = &spec["selector"]["matchLabels"];
    assert_eq!(&constraints[0]["labelSelector"]["matchLabels"], selector, "defaults to this release's pods");
    assert_eq!(constraints[0]["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(constraints[1]["labelSelector"]["matchLabels"]["tier"], "operators", "a given selector is kept");
    let pdb = one(&docs, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], selector);
    server_accepts(&env, manifests).await;

    let (manifests, docs) =
        render(&env, &["strategy.type=Recreate", "replicas=2", "podDisruptionBudget.enabled=false"]).await;
    let spec = deployment(&docs);
    assert_eq!(spec["strategy"]["type"], "Recreate");
    assert!(spec["strategy"]["rollingUpdate"].is_null(), "Recreate takes no rollingUpdate");
    assert!(of_kind(&docs, "PodDisruptionBudget").is_empty());
    server_accepts(&env, manifests).await;
}

#[tokio::test]
async fn bad_replica_values_are_refused_naming_the_value() {
    let Some(env) = harness::test_env().await else { return };
    refused_naming(
        &env,
        &[
            ("strategy.type=BlueGreen", "strategy/type"),
            ("strategy.rollingUpdate.maxSurge=lots", "maxSurge"),
            ("topologySpreadConstraints[0].maxSkew=1", "topologyKey"),
            ("mail.maxAge=forever", "maxAge"),
            ("mail.resendsPerDay=0", "resendsPerDay"),
        ],
    )
    .await;
}
