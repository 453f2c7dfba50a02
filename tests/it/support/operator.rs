//! `accountops run` as a real process against the test control plane, supervised so it never
//! outlives the test binary; its log is printed when a test using it fails.

use std::path::PathBuf;
use std::time::Duration;

use crate::harness::{Supervised, TestEnv};

pub struct Operator {
    process: Option<Supervised>,
    args: Vec<String>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Operator {
    /// Starts the operator for `env`'s namespace against `database`, with a short resync.
    pub fn start(env: &TestEnv, database: &str, cluster_id: &str, resync: Duration) -> Operator {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("operator.log");
        let args = vec![
            "run".to_owned(),
            format!("--database={database}"),
            format!("--namespace={}", env.ns),
            format!("--cluster-id={cluster_id}"),
            format!("--resync={}s", resync.as_secs().max(1)),
            format!("--kubeconfig={}", env.plane.kubeconfig().display()),
        ];
        let mut operator = Operator { process: None, args, log, _dir: dir };
        operator.restart();
        operator
    }

    /// Stops the process (SIGTERM, as Kubernetes does) and waits for it to exit.
    pub fn stop(&mut self) {
        drop(self.process.take());
    }

    pub fn restart(&mut self) {
        self.stop();
        let program = PathBuf::from(env!("CARGO_BIN_EXE_accountops"));
        let process = Supervised::spawn("accountops", &program, &self.args, &self.log).expect("operator starts");
        self.process = Some(process);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("---- operator log ----\n{}\n---- end of operator log ----", self.log());
        }
    }
}
