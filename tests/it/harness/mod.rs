//! A real Kubernetes control plane for the integration tests (the envtest approach, in Rust).
//!
//! ```text
//!  tests/tools/test-binaries.sh ──> $KUBEBUILDER_ASSETS/{kube-apiserver,etcd,kubectl,helm}
//!                                              │
//!  first test calling control_plane() ─────────┤ (once per test binary, on its own thread)
//!    temp dir: CA + certs (rcgen), SA key ─────┤
//!    etcd ──> kube-apiserver (RBAC, client-cert CA, SA tokens) ── /readyz ── crds/*.yaml
//!                                              │        Established
//!                                              v
//!  static ControlPlane ── admin kubeconfig ── every test: test_env() -> TestEnv
//!    (+ kube-controller-manager running ClusterRole aggregation only, started on first use)
//!                                                 ├─ client: kube::Client (this runtime)
//!                                                 ├─ ns: fresh namespace (deleted on drop)
//!                                                 └─ kubectl / helm / credentials
//! ```
//!
//! Why this shape:
//! - One plane per test binary: starting one costs seconds, a namespace costs milliseconds.
//!   (With cargo-nextest every test is its own process and starts its own plane.)
//! - Clients are made per test, because each `#[tokio::test]` has its own runtime and a
//!   `kube::Client` must not outlive the runtime it was created in.
//! - Children are supervised through a pipe (see `supervise`), so no etcd or API server outlives
//!   the test binary however it ends, though the `static` is never dropped.
//! - Without `KUBEBUILDER_ASSETS` tests skip (print and return); with `CI=true` they fail.
//!
//! ```ignore
//! #[tokio::test]
//! async fn accounts_show_up_in_kubectl() {
//!     let Some(env) = harness::test_env().await else { return };
//!     env.apply(ACCOUNT_YAML).await;
//!     let out = env.kubectl(["get", "accounts"]).await.ok();
//!     let sa = env.service_account("accountops").await; // run the operator with sa.kubeconfig
//! }
//! ```
//!
//! Environment: `KUBEBUILDER_ASSETS` (binaries), `CI`, `ACCOUNTOPS_KEEP_PLANE` (keep the temp
//! dir with logs, certificates and kubeconfigs; its path is printed).
#![allow(dead_code)] // each test uses a different part of the harness

mod aggregation;
mod assets;
mod cmd;
mod crds;
mod credentials;
mod kubeconfig;
mod namespace;
mod pki;
mod plane;
pub mod ports;
mod supervise;
#[allow(unused_imports)]
pub use supervise::Supervised;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::OnceLock;

// The API for the tests; any one test binary uses only part of it.
#[allow(unused_imports)]
pub use assets::Assets;
#[allow(unused_imports)]
pub use cmd::{Cmd, CmdOutput};
#[allow(unused_imports)]
pub use kubeconfig::{Credential, client_from};
pub use namespace::TestEnv;
pub use plane::ControlPlane;

static PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();

/// The shared control plane, started by the first caller; `None` when there are no binaries
/// (the test should return). Blocks while starting, which may be called from async tests.
pub fn control_plane() -> Option<&'static ControlPlane> {
    let assets = Assets::locate()?;
    let plane = PLANE.get_or_init(|| {
        let started = std::time::Instant::now();
        let crd_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        // Its own thread: the caller may be inside a runtime, and start() builds one.
        let result = std::thread::spawn(move || ControlPlane::start(assets, &crd_dir))
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("starting the control plane panicked")));
        match &result {
            Ok(plane) => eprintln!(
                "control plane up in {:.1?} at {} (kubeconfig {})",
                started.elapsed(),
                plane.server,
                plane.kubeconfig().display()
            ),
            Err(e) => eprintln!("control plane failed to start: {e:#}"),
        }
        result.map_err(|e| format!("{e:#}"))
    });
    match plane {
        Ok(plane) => Some(plane),
        // Every test that needs the plane fails with the cause, not only the first.
        Err(e) => panic!("control plane failed to start: {e}"),
    }
}

/// The shared plane, an admin client and a fresh namespace for one test; `None` to skip.
pub async fn test_env() -> Option<TestEnv> {
    Some(TestEnv::create(control_plane()?).await)
}
