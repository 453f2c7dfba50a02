//! One fresh namespace per test on the shared plane (linkerd2's `with_temp_ns`), so tests run
//! in parallel without seeing each other's objects.
//!
//! The plane has no kube-controller-manager: a deleted namespace stays `Terminating` and owner
//! references are never garbage-collected. Tests must not wait for either; unique names make
//! that harmless.

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};

use super::cmd::{Cmd, CmdOutput};
use super::kubeconfig::Credential;
use super::plane::{ControlPlane, unique_name};

/// What a test gets: the shared plane, an admin client for this test's runtime and its own
/// namespace (deleted when dropped, also on panic).
pub struct TestEnv {
    pub plane: &'static ControlPlane,
    pub client: kube::Client,
    pub ns: String,
}

impl TestEnv {
    pub(super) async fn create(plane: &'static ControlPlane) -> TestEnv {
        plane.assert_running();
        let client = plane.client().await;
        // The test harness names each test's thread after the test: readable namespaces.
        let hint = std::thread::current().name().unwrap_or("test").rsplit("::").next().unwrap_or("test").to_owned();
        let ns = unique_name(plane, &hint, 63);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(ns.clone()),
                labels: Some([("accountops.dev/test".to_owned(), "true".to_owned())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|e| panic!("creating namespace {ns}: {e}"));
        TestEnv { plane, client, ns }
    }

    /// An `Api` for a namespaced kind in this test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Runs the real kubectl as admin in this namespace: `env.kubectl(["get", "accounts"])`.
    pub async fn kubectl<I, S>(&self, args: I) -> CmdOutput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.kubectl_cmd().args(args).run().await
    }

    /// `kubectl apply -f -` of `yaml` in this namespace; panics if it fails.
    pub async fn apply(&self, yaml: &str) -> CmdOutput {
        self.kubectl_cmd().args(["apply", "-f", "-"]).stdin(yaml).run().await.ok()
    }

    /// kubectl in this namespace, to add arguments, stdin or another `--kubeconfig` to.
    pub fn kubectl_cmd(&self) -> Cmd {
        self.plane.kubectl().arg(format!("--namespace={}", self.ns))
    }

    /// kubectl in this namespace as `credential` (for RBAC checks).
    pub fn kubectl_as(&self, credential: &Credential) -> Cmd {
        self.plane.kubectl_as(credential).arg(format!("--namespace={}", self.ns))
    }

    /// helm in this namespace: `env.helm().args(["install", "x", chart]).run().await`.
    pub fn helm(&self) -> Cmd {
        self.plane.helm().arg(format!("--namespace={}", self.ns))
    }

    /// A ServiceAccount in this namespace and a kubeconfig with its token.
    pub async fn service_account(&self, name: &str) -> Credential {
        self.plane.service_account(&self.ns, name).await
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::env::var_os("ACCOUNTOPS_KEEP_PLANE").is_some() {
            return; // leave the objects for inspection with the kept admin kubeconfig
        }
        // Sync code here: a blocking kubectl is the simplest way out of an async context.
        let _ = self.plane.kubectl().args(["delete", "namespace", &self.ns, "--wait=false"]).run_blocking();
    }
}
