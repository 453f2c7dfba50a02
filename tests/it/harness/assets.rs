//! Where the control-plane binaries come from: `KUBEBUILDER_ASSETS`, the directory that
//! `tests/tools/test-binaries.sh` prints (the same variable envtest uses, so a directory made by
//! `setup-envtest` works too, apart from helm and the kube-controller-manager that `aggregation`
//! starts).

use std::path::{Path, PathBuf};

/// The four binaries the harness runs.
#[derive(Debug, Clone)]
pub struct Assets {
    pub dir: PathBuf,
    pub kube_apiserver: PathBuf,
    pub etcd: PathBuf,
    pub kubectl: PathBuf,
    pub helm: PathBuf,
}

const HINT: &str = "set KUBEBUILDER_ASSETS or run tests/tools/test-binaries.sh";

impl Assets {
    /// Finds the binaries, or decides that this run has no control plane.
    ///
    /// Outside CI a missing control plane skips the tests (`None`) so `cargo test` works on a
    /// laptop without Go; in CI (`CI=true`) it is a failure, so a broken setup can't pass
    /// silently by skipping everything.
    pub fn locate() -> Option<Assets> {
        match Self::from_env() {
            Ok(assets) => Some(assets),
            Err(why) if is_ci() => panic!("no control plane in CI: {why} ({HINT})"),
            Err(why) => {
                eprintln!("skipping: no control plane ({HINT}): {why}");
                None
            }
        }
    }

    fn from_env() -> Result<Assets, String> {
        let dir = match std::env::var_os("KUBEBUILDER_ASSETS") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => return Err("KUBEBUILDER_ASSETS is not set".into()),
        };
        let bin = |name: &str| -> Result<PathBuf, String> {
            let path = dir.join(name);
            if is_executable(&path) {
                Ok(path)
            } else {
                Err(format!("{} is missing or not executable", path.display()))
            }
        };
        Ok(Assets {
            kube_apiserver: bin("kube-apiserver")?,
            etcd: bin("etcd")?,
            kubectl: bin("kubectl")?,
            helm: bin("helm")?,
            dir,
        })
    }
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

pub(super) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
