//! `accountops run` as a real process against the test control plane, supervised so it never
//! outlives the test binary; its log is printed when a test using it fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{Credential, Supervised, TestEnv};

pub struct Operator {
    /// Where this operator serves /healthz, /readyz and /metrics.
    pub health: std::net::SocketAddr,
    process: Option<Supervised>,
    args: Vec<String>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Operator {
    /// Starts the operator for `env`'s namespace against `database`, with a short resync.
    pub fn start(env: &TestEnv, database: &str, cluster_id: &str, resync: Duration) -> Operator {
        Operator::start_with(env, database, cluster_id, resync, &[])
    }

    /// Like [`Operator::start`], with extra flags.
    pub fn start_with(env: &TestEnv, database: &str, cluster_id: &str, resync: Duration, extra: &[&str]) -> Operator {
        Operator::launch(env, env.plane.kubeconfig(), database, cluster_id, resync, extra)
    }

    /// Like [`Operator::start_with`], authenticated as `credential` (e.g. a chart's
    /// ServiceAccount) instead of admin, so only its RBAC applies.
    pub fn start_as(
        env: &TestEnv,
        credential: &Credential,
        database: &str,
        cluster_id: &str,
        resync: Duration,
        extra: &[&str],
    ) -> Operator {
        Operator::launch(env, &credential.kubeconfig, database, cluster_id, resync, extra)
    }

    fn launch(
        env: &TestEnv,
        kubeconfig: &Path,
        database: &str,
        cluster_id: &str,
        resync: Duration,
        extra: &[&str],
    ) -> Operator {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("operator.log");
        let health = free_port();
        let mut args = vec![
            "run".to_owned(),
            format!("--database={database}"),
            format!("--namespace={}", env.ns),
            format!("--cluster-id={cluster_id}"),
            format!("--resync={}s", resync.as_secs().max(1)),
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--health-addr={health}"),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let mut operator = Operator { health, process: None, args, log, _dir: dir };
        operator.restart();
        operator
    }

    /// Stops the process (SIGTERM, as Kubernetes does) and waits for it to exit.
    pub fn stop(&mut self) {
        drop(self.process.take());
    }

    pub fn restart(&mut self) {
        self.restart_with_env(&[]);
    }

    /// Restarts with extra environment (`NAME=value`), e.g. a failpoint; through `env(1)`, since
    /// a test must not change its own process environment.
    pub fn restart_with_env(&mut self, vars: &[&str]) {
        self.stop();
        let binary = env!("CARGO_BIN_EXE_accountops").to_owned();
        let mut args: Vec<String> = vars.iter().map(|v| (*v).to_owned()).collect();
        args.push(binary);
        args.extend(self.args.iter().cloned());
        let process =
            Supervised::spawn("accountops", &PathBuf::from("/usr/bin/env"), &args, &self.log).expect("operator starts");
        self.process = Some(process);
    }

    /// Whether the process has exited (e.g. aborted at a failpoint).
    pub fn exited(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_some())
    }

    /// The peak resident memory of the operator process so far (`VmHWM`, KiB).
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let pid = self.process.as_ref()?.program_pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
        line.trim().trim_end_matches("kB").trim().parse().ok()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A loopback address with a port nobody listens on right now.
fn free_port() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], crate::harness::ports::free_port()))
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("---- operator log ----\n{}\n---- end of operator log ----", self.log());
        }
    }
}
