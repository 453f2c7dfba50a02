//! Kubeconfig files: the one handed to kubectl, helm and the operator binary, and the one every
//! `kube::Client` in the tests is built from, so all of them authenticate the same way.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::pki::CertFiles;

/// How the user of a kubeconfig proves who it is.
pub enum Auth<'a> {
    /// A client certificate signed by the control plane's CA.
    Cert(&'a CertFiles),
    /// A bearer token (a ServiceAccount token from the TokenRequest API).
    Token(&'a str),
}

/// A kubeconfig file and the identity it carries.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The Kubernetes user name the API server sees (`system:serviceaccount:ns:name` for a
    /// ServiceAccount).
    pub user: String,
    /// The kubeconfig file: pass it as `--kubeconfig` or `KUBECONFIG`.
    pub kubeconfig: PathBuf,
}

impl Credential {
    /// A new client for this identity, bound to the calling test's runtime.
    pub async fn client(&self) -> Result<kube::Client> {
        client_from(&self.kubeconfig).await
    }
}

/// Writes a kubeconfig with one context, `test`, pointing at `server`. File paths are absolute
/// so the file works from any working directory.
pub fn write(path: &Path, server: &str, ca_cert: &Path, user: &str, auth: Auth<'_>) -> Result<()> {
    let user_entry = match auth {
        Auth::Cert(files) => serde_json::json!({
            "client-certificate": files.cert,
            "client-key": files.key,
        }),
        Auth::Token(token) => serde_json::json!({ "token": token }),
    };
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "test",
            "cluster": { "server": server, "certificate-authority": ca_cert },
        }],
        "users": [{ "name": user, "user": user_entry }],
        "contexts": [{ "name": "test", "context": { "cluster": "test", "user": user } }],
        "current-context": "test",
    });
    std::fs::write(path, serde_yaml::to_string(&config)?)
        .with_context(|| format!("writing kubeconfig {}", path.display()))
}

/// A `kube::Client` from a kubeconfig file. Each `#[tokio::test]` has its own runtime and a
/// client's connection pool belongs to the runtime it was made in, so tests make their own.
pub async fn client_from(path: &Path) -> Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(path)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", path.display()))?;
    Ok(kube::Client::try_from(config)?)
}
