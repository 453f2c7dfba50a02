//! The chart's pod-shaping values (security contexts, extra volumes, the image digest) and its
//! Kubernetes lower bound, rendered by the real `helm template`, parsed as YAML and, where the
//! apiserver has a say, sent to it: the default pod passes the Pod Security Standard
//! `restricted` as the real PodSecurity admission enforces it, with no UID pinned (what
//! OpenShift's restricted-v2 SCC needs). Bad values are refused naming the value.

use serde_json::{Value, json};

use crate::chart::{chart, named, one, refused_naming, render, server_accepts, strings};
use crate::harness::{self, TestEnv};

fn pod(docs: &[Value]) -> &Value {
    &one(docs, "Deployment")["spec"]["template"]["spec"]
}

/// `kubectl create --dry-run=server` of a Pod with the Deployment's pod spec, in `env`'s
/// namespace: what admission (PodSecurity included) says of the pods the Deployment would make.
async fn admit_pod(env: &TestEnv, docs: &[Value]) -> harness::CmdOutput {
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "admission-check"},
        "spec": pod(docs),
    });
    env.kubectl_cmd().args(["create", "--dry-run=server", "-f", "-"]).stdin(pod.to_string()).run().await
}

#[tokio::test]
async fn the_pod_is_restricted_by_default_pins_no_uid_and_takes_security_contexts_as_values() {
    let Some(env) = harness::test_env().await else { return };
    let (_, docs) = render(&env, &[]).await;
    let spec = pod(&docs);
    assert_eq!(spec["securityContext"], json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}));
    assert_eq!(
        spec["containers"][0]["securityContext"],
        json!({
            "runAsNonRoot": true,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    );
    // restricted-v2 assigns a UID and fsGroup from the namespace's range and refuses others.
    let text = spec.to_string();
    for pinned in ["runAsUser", "runAsGroup", "fsGroup"] {
        assert!(!text.contains(pinned), "{pinned} pinned: {text}");
    }

    // The real PodSecurity admission, enforcing "restricted" on this namespace.
    let label = "pod-security.kubernetes.io/enforce=restricted";
    env.kubectl(["label", "namespace", &env.ns, label]).await.ok();
    let out = admit_pod(&env, &docs).await;
    assert!(out.success(), "restricted admits the default pod: {out:?}");
    let (_, loosened) = render(&env, &["securityContext.allowPrivilegeEscalation=true"]).await;
    let out = admit_pod(&env, &loosened).await.failed();
    assert!(
        out.stderr.contains("PodSecurity \"restricted") && out.stderr.contains("allowPrivilegeEscalation"),
        "restricted refuses escalation, naming it: {out:?}"
    );

    // Who needs a fixed UID sets one; a default key can be dropped with null.
    let set = [
        "podSecurityContext.runAsUser=65532",
        "podSecurityContext.fsGroup=65532",
        "securityContext.readOnlyRootFilesystem=null",
    ];
    let (_, docs) = render(&env, &set).await;
    let spec = pod(&docs);
    assert_eq!(
        (&spec["securityContext"]["runAsUser"], &spec["securityContext"]["fsGroup"]),
        (&json!(65532), &json!(65532))
    );
    let container = &spec["containers"][0]["securityContext"];
    assert!(container["readOnlyRootFilesystem"].is_null(), "{container}");
    assert_eq!(container["allowPrivilegeEscalation"], false, "the other defaults stay");
}

#[tokio::test]
async fn extra_volumes_and_mounts_come_after_the_charts_own() {
    let Some(env) = harness::test_env().await else { return };
    let names = |list: &Value| -> Vec<String> {
        list.as_array().expect("a list").iter().filter_map(|v| v["name"].as_str().map(str::to_owned)).collect()
    };
    let (_, docs) = render(&env, &[]).await;
    assert_eq!(names(&pod(&docs)["volumes"]), ["tmp"]);
    assert_eq!(names(&pod(&docs)["containers"][0]["volumeMounts"]), ["tmp"]);

    let set = [
        "database.tls.caSecret=platform-db-ca",
        "extraVolumes[0].name=corp-ca",
        "extraVolumes[0].secret.secretName=corp-ca",
        "extraVolumeMounts[0].name=corp-ca",
        "extraVolumeMounts[0].mountPath=/etc/corp-ca",
        "extraVolumeMounts[0].readOnly=true",
    ];
    let (manifests, docs) = render(&env, &set).await;
    let spec = pod(&docs);
    assert_eq!(names(&spec["volumes"]), ["tmp", "postgres-ca", "corp-ca"]);
    assert_eq!(spec["volumes"][2]["secret"]["secretName"], "corp-ca");
    let mounts = &spec["containers"][0]["volumeMounts"];
    assert_eq!(names(mounts), ["tmp", "postgres-ca", "corp-ca"]);
    assert_eq!((&mounts[2]["mountPath"], &mounts[2]["readOnly"]), (&json!("/etc/corp-ca"), &json!(true)));
    server_accepts(&env, manifests).await;
}

#[tokio::test]
async fn a_digest_wins_over_the_tag() {
    let Some(env) = harness::test_env().await else { return };
    let image = |docs: &[Value]| pod(docs)["containers"][0]["image"].as_str().expect("image").to_owned();
    let (_, docs) = render(&env, &["image.tag=9.9.9"]).await;
    assert_eq!(image(&docs), "ghcr.io/accountops/accountops:9.9.9");
    let digest = format!("sha256:{}", "ab".repeat(32));
    let (_, docs) = render(&env, &["image.tag=9.9.9", &format!("image.digest={digest}")]).await;
    assert_eq!(image(&docs), format!("ghcr.io/accountops/accountops@{digest}"));
}

#[tokio::test]
async fn helm_lint_passes_with_every_new_value_set() {
    let Some(env) = harness::test_env().await else { return };
    let digest = format!("image.digest=sha256:{}", "ab".repeat(32));
    let set = [
        digest.as_str(),
        "podSecurityContext.runAsUser=65532",
        "securityContext.readOnlyRootFilesystem=true",
        "extraVolumes[0].name=certs",
        "extraVolumes[0].emptyDir.medium=Memory",
        "extraVolumeMounts[0].name=certs",
        "extraVolumeMounts[0].mountPath=/etc/certs",
        "rbac.aggregateClusterRoles=false",
        "global.imageRegistry=registry.example.internal",
        "enabled=true",
        "replicas=2",
        "strategy.rollingUpdate.maxSurge=0",
        "strategy.rollingUpdate.maxUnavailable=1",
        "topologySpreadConstraints[0].maxSkew=1",
        "topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
        "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
    ];
    let mut lint = env.helm().args(["lint", "--strict"]).arg(chart());
    for value in set {
        lint = lint.args(["--set", value]);
    }
    let out = lint.run().await.ok();
    assert!(out.stdout.contains("0 chart(s) failed"), "{out:?}");
}

#[tokio::test]
async fn the_chart_needs_kubernetes_1_29_and_accepts_vendor_builds() {
    let Some(env) = harness::test_env().await else { return };
    let template = |version: &str| {
        env.helm().args(["template", "accountops"]).arg(chart()).args(["--kube-version", version]).run()
    };
    let out = template("1.28.9").await.failed();
    assert!(out.stderr.contains("kubeVersion") && out.stderr.contains("1.28.9"), "{out:?}");
    for version in ["1.29.0", "v1.29.3-eks-1234", "1.35.4"] {
        template(version).await.ok();
    }
}

#[tokio::test]
async fn bad_pod_values_are_refused_naming_the_value() {
    let Some(env) = harness::test_env().await else { return };
    refused_naming(
        &env,
        &[
            ("securityContext.readOnlyRootFilesystem=maybe", "readOnlyRootFilesystem"),
            ("securityContext.capabilities.drop=ALL", "capabilities/drop"),
            ("podSecurityContext.runAsUser=nobody", "runAsUser"),
            ("podSecurityContext.seccompProfile.type=Permissive", "seccompProfile/type"),
            ("image.digest=latest", "digest"),
            ("extraVolumes[0].emptyDir.medium=Memory", "extraVolumes/0"),
            ("extraVolumeMounts[0].name=certs", "mountPath"),
            ("extraVolumeMounts[0].name=certs,extraVolumeMounts[0].mountPath=etc/certs", "mountPath"),
            ("rbac.aggregateClusterRoles=sometimes", "aggregateClusterRoles"),
            ("enabled=maybe", "enabled"),
            ("global=shared", "global"),
        ],
    )
    .await;
}

#[tokio::test]
async fn the_roles_for_people_read_or_write_the_five_kinds_and_never_their_status() {
    let Some(env) = harness::test_env().await else { return };
    let (_, docs) = render(&env, &[]).await;
    let role = |suffix: &str| named(&docs, "ClusterRole", &format!("{}-accountops-{suffix}", env.ns)).clone();
    let label = |role: &Value, to: &str| {
        role["metadata"]["labels"][format!("rbac.authorization.k8s.io/aggregate-to-{to}")].clone()
    };
    let (view, edit) = (role("view"), role("edit"));
    for to in ["view", "edit", "admin"] {
        assert_eq!(label(&view, to), "true", "view aggregates to {to}");
    }
    assert!(label(&edit, "view").is_null(), "edit does not reach the view role");
    for to in ["edit", "admin"] {
        assert_eq!(label(&edit, to), "true", "edit aggregates to {to}");
    }
    for (role, verbs) in [
        (&view, &["get", "list", "watch"][..]),
        (&edit, &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]),
    ] {
        let rules = role["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(strings(&rules[0]["apiGroups"]), ["accountops.dev"]);
        assert_eq!(strings(&rules[0]["resources"]), crate::chart::KINDS, "the kinds, no subresource");
        assert_eq!(strings(&rules[0]["verbs"]), verbs);
    }

    let (_, docs) = render(&env, &["rbac.aggregateClusterRoles=false"]).await;
    assert_eq!(crate::chart::of_kind(&docs, "ClusterRole").len(), 1, "only the operator's");
    let (_, docs) = render(&env, &[&format!("watchNamespace={}", env.ns), "clusterId=cluster-a"]).await;
    assert!(crate::chart::of_kind(&docs, "ClusterRole").is_empty(), "namespace-scoped: nothing cluster-wide");
}
