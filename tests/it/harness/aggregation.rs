//! ClusterRole aggregation, the one controller of kube-controller-manager some tests need: it
//! fills the built-in `view`, `edit` and `admin` ClusterRoles with the rules of every ClusterRole
//! labelled `rbac.authorization.k8s.io/aggregate-to-…`, as in any cluster. The apiserver only
//! creates those roles, empty; without this controller a chart's aggregated roles would grant
//! nothing through them.
//!
//! The plane runs no controller manager otherwise (namespaces stay Terminating, nothing is
//! garbage-collected, and tests rely on that), so it is started on first use with
//! `--controllers=clusterrole-aggregation` and nothing else. It is kept apart from the plane's
//! own processes: should it die (it gives up at start when the apiserver is down, e.g. during a
//! restart test), only the tests that need it notice, and the next one starts it again.

use std::sync::Mutex;

use anyhow::{Result, bail};

use super::assets::is_executable;
use super::plane::ControlPlane;
use super::supervise::Supervised;

const BINARY: &str = "kube-controller-manager";

static RUNNING: Mutex<Option<Supervised>> = Mutex::new(None);

impl ControlPlane {
    /// Makes sure the aggregation controller runs (starting it, or again if it died); panics
    /// with the cause if it cannot start. Roles it aggregates show up in the built-in roles
    /// shortly after, not at once: wait for them. Returns its log, for a failure message.
    pub fn run_role_aggregation(&self) -> String {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(process) = running.as_mut()
            && process.exited().is_none()
        {
            return process.log.display().to_string();
        }
        let process = self.start_role_aggregation().unwrap_or_else(|e| panic!("starting {BINARY}: {e:#}"));
        let log = process.log.display().to_string();
        *running = Some(process);
        log
    }

    fn start_role_aggregation(&self) -> Result<Supervised> {
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
        Supervised::spawn(BINARY, &binary, &args, &self.dir.join(format!("{BINARY}.log")))
    }
}
