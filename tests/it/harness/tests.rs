//! The harness checks itself: the plane is the pinned release, the CRDs are served, kubectl and
//! helm reach it, and other identities get only what RBAC grants them.

use super::test_env;

/// Must match K8S_VERSION in tests/tools/test-binaries.sh.
const KUBERNETES_VERSION: &str = "v1.35.4";

#[tokio::test]
async fn plane_serves_the_pinned_release_and_kubectl_sees_the_namespace() {
    let Some(env) = test_env().await else { return };
    let version = env.client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, KUBERNETES_VERSION);

    let out = env.plane.kubectl().args(["get", "namespace", &env.ns, "-o", "name"]).run().await.ok();
    assert_eq!(out.stdout.trim(), format!("namespace/{}", env.ns));
}

#[tokio::test]
async fn crds_from_the_crds_dir_are_established() {
    let Some(env) = test_env().await else { return };
    for crd in &env.plane.crds {
        let plural = crd.split('.').next().unwrap();
        // A kind the server didn't serve yet would fail with "the server doesn't have a
        // resource type".
        env.kubectl(["get", plural]).await.ok();
    }
}

#[tokio::test]
async fn a_user_gets_only_what_rbac_grants() {
    let Some(env) = test_env().await else { return };
    let alice = env.plane.user("alice", Some("auditors"));
    let whoami = env.kubectl_as(&alice).args(["auth", "whoami", "-o", "jsonpath={.status.userInfo}"]).run().await.ok();
    assert!(whoami.stdout.contains(r#""username":"alice""#), "{whoami:?}");
    assert!(whoami.stdout.contains("auditors"), "{whoami:?}");

    env.kubectl_as(&alice).args(["get", "configmaps"]).run().await.failed();
    env.kubectl(["create", "role", "read-cm", "--verb=get,list", "--resource=configmaps"]).await.ok();
    env.kubectl(["create", "rolebinding", "alice-cm", "--role=read-cm", "--group=auditors"]).await.ok();
    env.kubectl_as(&alice).args(["get", "configmaps"]).run().await.ok();
    env.kubectl_as(&alice).args(["get", "secrets"]).run().await.failed();
}

#[tokio::test]
async fn a_service_account_token_works_for_clients_and_kubectl() {
    let Some(env) = test_env().await else { return };
    let sa = env.service_account("operator").await;
    assert_eq!(sa.user, format!("system:serviceaccount:{}:operator", env.ns));

    env.kubectl(["create", "role", "cm", "--verb=get,list,create", "--resource=configmaps"]).await.ok();
    env.kubectl(["create", "rolebinding", "cm", "--role=cm", &format!("--serviceaccount={}:operator", env.ns)])
        .await
        .ok();
    env.kubectl_as(&sa).args(["create", "configmap", "made-by-sa"]).run().await.ok();
    env.kubectl_as(&sa).args(["get", "secrets"]).run().await.failed();

    // The same kubeconfig as a kube::Client, as the operator would load it.
    use k8s_openapi::api::core::v1::ConfigMap;
    let client = sa.client().await.unwrap();
    let cms = kube::Api::<ConfigMap>::namespaced(client, &env.ns).get("made-by-sa").await.unwrap();
    assert_eq!(cms.metadata.name.as_deref(), Some("made-by-sa"));
}

#[tokio::test]
async fn helm_reaches_the_plane() {
    let Some(env) = test_env().await else { return };
    let out = env.helm().args(["list", "-o", "json"]).run().await.ok();
    assert_eq!(out.stdout.trim(), "[]");
}
