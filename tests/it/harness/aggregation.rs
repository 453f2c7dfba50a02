//! ClusterRole aggregation, the one controller of kube-controller-manager some tests need: it
//! fills the built-in `view`, `edit` and `admin` ClusterRoles with the rules of every ClusterRole
//! labelled `rbac.authorization.k8s.io/aggregate-to-…`, as in any cluster. The apiserver only
//! creates those roles, empty; without this controller a chart's aggregated roles would grant
//! nothing through them.
//!
//! The plane runs no controller manager otherwise (namespaces stay Terminating, nothing is
//! garbage-collected, and tests rely on that), so it is started on first use with
//! `--controllers=clusterrole-aggregation` and nothing else, and lives as long as the plane.

use std::sync::OnceLock;

use anyhow::{Result, bail};

use super::assets::is_executable;
use super::plane::ControlPlane;
use super::supervise::Supervised;

const BINARY: &str = "kube-controller-manager";

impl ControlPlane {
    /// Makes sure the aggregation controller runs; panics (with the cause) if it cannot start.
    /// Roles it aggregates show up in the built-in roles shortly after, not at once: wait for
    /// them.
    pub fn run_role_aggregation(&self) {
        static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
        let started = STARTED.get_or_init(|| self.start_role_aggregation().map_err(|e| format!("{e:#}")));
        if let Err(why) = started {
            panic!("ClusterRole aggregation (kube-controller-manager): {why}");
        }
    }

    fn start_role_aggregation(&self) -> Result<()> {
        let binary = self.assets.dir.join(BINARY);
        if !is_executable(&binary) {
            bail!("{} is missing: run tests/tools/test-binaries.sh", binary.display());
        }
        let args = [
            format!("--kubeconfig={}", self.admin.kubeconfig.display()),
            "--controllers=clusterrole-aggregation".into(),
            "--leader-elect=false".into(),
            // No serving: nothing scrapes or probes it.
            "--secure-port=0".into(),
        ];
        let log = self.dir.join(format!("{BINARY}.log"));
        let process = Supervised::spawn(BINARY, &binary, &args, &log)?;
        self.processes.lock().unwrap_or_else(|e| e.into_inner()).push(process);
        Ok(())
    }
}
