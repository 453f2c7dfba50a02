//! Starting etcd and kube-apiserver the way envtest does, and what a running plane offers.

use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::assets::Assets;
use super::cmd::Cmd;
use super::kubeconfig::{self, Auth, Credential};
use super::pki::Pki;
use super::supervise::{self, Supervised};

const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Port races (another process takes the port between our probe and the bind) are rare but
/// real on a shared CI machine; each component gets this many tries on fresh ports.
const PORT_TRIES: usize = 3;

/// A running etcd + kube-apiserver, shared by every test in the binary.
pub struct ControlPlane {
    pub assets: Assets,
    /// The temp dir with certificates, kubeconfigs, logs and etcd's data.
    pub dir: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub server: String,
    /// A cluster admin (`system:masters`); tests that check RBAC use `user` or
    /// `service_account` instead.
    pub admin: Credential,
    /// The CRDs installed from `crds/`.
    pub crds: Vec<String>,
    pub(super) pki: Pki,
    pub(super) serial: AtomicU32,
    processes: Mutex<Vec<Supervised>>,
    /// How kube-apiserver was started, to start it again on the same port.
    apiserver: Launch,
    _janitor: Option<Child>,
}

impl ControlPlane {
    /// Starts the plane and installs the CRDs in `crd_dir`. Blocks; must not be called on a
    /// thread that runs an async runtime (it makes its own for the readiness checks).
    pub(super) fn start(assets: Assets, crd_dir: &Path) -> Result<ControlPlane> {
        let dir = tempfile::Builder::new().prefix("accountops-plane-").tempdir()?.keep();
        let janitor = if std::env::var_os("ACCOUNTOPS_KEEP_PLANE").is_some() {
            eprintln!("control plane files are kept in {}", dir.display());
            None
        } else {
            Some(supervise::remove_after_exit(&dir)?)
        };
        let pki = Pki::create(&dir.join("pki"))?;

        let (etcd, etcd_url) = start_etcd(&assets, &dir)?;
        let mut processes = vec![etcd];
        let (apiserver, server, launch) = start_apiserver(&assets, &dir, &pki, &etcd_url)?;
        processes.push(apiserver);

        let admin_cert = pki.client_cert("admin", "accountops-test-admin", Some("system:masters"))?;
        let admin = Credential { user: "accountops-test-admin".into(), kubeconfig: dir.join("admin.kubeconfig") };
        kubeconfig::write(&admin.kubeconfig, &server, &pki.ca_cert, &admin.user, Auth::Cert(&admin_cert))?;

        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let crds = runtime.block_on(async {
            let client = admin.client().await?;
            wait_ready(&client, &mut processes).await?;
            super::crds::install_dir(&client, crd_dir, Duration::from_secs(30)).await
        })?;

        Ok(ControlPlane {
            assets,
            dir,
            server,
            admin,
            crds,
            pki,
            serial: AtomicU32::new(0),
            processes: Mutex::new(processes),
            apiserver: launch,
            _janitor: janitor,
        })
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig(&self) -> &Path {
        &self.admin.kubeconfig
    }

    /// A new admin client, bound to the calling test's runtime.
    pub async fn client(&self) -> kube::Client {
        self.admin.client().await.expect("admin client")
    }

    /// The real kubectl as admin. Add `--kubeconfig` again to act as someone else; the last
    /// one wins.
    pub fn kubectl(&self) -> Cmd {
        self.kubectl_as(&self.admin)
    }

    /// The real kubectl with `credential`'s kubeconfig.
    pub fn kubectl_as(&self, credential: &Credential) -> Cmd {
        let cache = self.dir.join("kubectl-cache");
        Cmd::new(&self.assets.kubectl)
            .arg(format!("--kubeconfig={}", credential.kubeconfig.display()))
            .arg(format!("--cache-dir={}", cache.display()))
    }

    /// The real helm as admin, with its config, cache and data dirs in the plane's temp dir
    /// rather than $HOME.
    pub fn helm(&self) -> Cmd {
        let home = self.dir.join("helm");
        Cmd::new(&self.assets.helm)
            .arg(format!("--kubeconfig={}", self.admin.kubeconfig.display()))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
    }

    /// Panics with the component's log if etcd or the API server has died, so a test fails
    /// with the cause rather than with connection errors.
    pub fn assert_running(&self) {
        let mut processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
        for p in processes.iter_mut() {
            if let Some(status) = p.exited() {
                panic!("{} exited ({status}); log {}:\n{}", p.name, p.log.display(), p.log_tail());
            }
        }
    }

    /// Kills kube-apiserver (SIGKILL), keeps it down for `down`, then starts it again on the
    /// same port and waits until it is ready: a control plane restart as clients see it (etcd
    /// keeps every object). Only for a binary whose tests expect it (the fault campaign).
    #[allow(dead_code)] // the fault campaign's; the integration tests share one plane
    pub async fn restart_apiserver(&self, down: Duration) -> Result<()> {
        let old = {
            let mut processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
            let at = processes.iter().position(|p| p.name == "kube-apiserver").context("no kube-apiserver")?;
            processes.remove(at)
        };
        if let Some(pid) = old.program_pid() {
            Cmd::new("kill").arg("-KILL").arg(pid.to_string()).run().await;
        }
        drop(old);
        tokio::time::sleep(down).await;
        let log = self.dir.join("kube-apiserver.log");
        let mut process = Supervised::spawn("kube-apiserver", &self.assets.kube_apiserver, &self.apiserver.args, &log)?;
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.apiserver.port)).is_err() {
            if let Some(status) = process.exited() {
                bail!("kube-apiserver exited on restart ({status}):\n{}", process.log_tail());
            }
            if Instant::now() > deadline {
                bail!("kube-apiserver not listening after {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let client = self.admin.client().await?;
        let mut started = vec![process];
        wait_ready(&client, &mut started).await?;
        self.processes.lock().unwrap_or_else(|e| e.into_inner()).extend(started);
        Ok(())
    }
}

fn start_etcd(assets: &Assets, dir: &Path) -> Result<(Supervised, String)> {
    retry_ports("etcd", || {
        let (client, peer) = (free_port()?, free_port()?);
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let data = dir.join("etcd");
        let _ = std::fs::remove_dir_all(&data); // a failed try may have left a member behind
        let args = vec![
            "--name=default".into(),
            format!("--data-dir={}", data.display()),
            format!("--listen-client-urls={url}"),
            format!("--advertise-client-urls={url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
            // Tests don't need durability; fsync dominates etcd's latency on CI disks.
            "--unsafe-no-fsync=true".into(),
            "--log-level=warn".into(),
        ];
        let etcd = Supervised::spawn("etcd", &assets.etcd, &args, &dir.join("etcd.log"))?;
        Ok((etcd, client, url))
    })
}

/// A component's command line and port.
struct Launch {
    args: Vec<String>,
    port: u16,
}

fn start_apiserver(assets: &Assets, dir: &Path, pki: &Pki, etcd_url: &str) -> Result<(Supervised, String, Launch)> {
    let serving = pki.serving_cert(
        "apiserver",
        &["127.0.0.1", "localhost", "10.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
    )?;
    let (sa_public, sa_private) = pki.service_account_key()?;
    let mut launch = None;
    let (process, url) = retry_ports("kube-apiserver", || {
        let port = free_port()?;
        let args = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={port}"),
            format!("--cert-dir={}", dir.join("apiserver-certs").display()),
            format!("--tls-cert-file={}", serving.cert.display()),
            format!("--tls-private-key-file={}", serving.key.display()),
            format!("--client-ca-file={}", pki.ca_cert.display()),
            format!("--service-account-key-file={}", sa_public.display()),
            format!("--service-account-signing-key-file={}", sa_private.display()),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--authorization-mode=RBAC".into(),
            "--allow-privileged=true".into(),
            // As envtest: without kube-controller-manager no `default` ServiceAccount is ever
            // created, and this plugin would reject every Pod for lacking one.
            "--disable-admission-plugins=ServiceAccount".into(),
        ];
        let apiserver =
            Supervised::spawn("kube-apiserver", &assets.kube_apiserver, &args, &dir.join("kube-apiserver.log"))?;
        launch = Some(Launch { args, port });
        Ok((apiserver, port, format!("https://127.0.0.1:{port}")))
    })?;
    let launch = launch.context("kube-apiserver was started")?;
    Ok((process, url, launch))
}

/// Starts a component until it listens on its port, retrying on fresh ports when the one it
/// got was taken meanwhile.
fn retry_ports(
    name: &str,
    mut spawn: impl FnMut() -> Result<(Supervised, u16, String)>,
) -> Result<(Supervised, String)> {
    for attempt in 1..=PORT_TRIES {
        let (mut process, port, url) = spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok((process, url));
            }
            if let Some(status) = process.exited() {
                let log = process.log_tail();
                if attempt < PORT_TRIES && log.contains("address already in use") {
                    break; // try again on other ports
                }
                bail!("{name} exited ({status}); log {}:\n{log}", process.log.display());
            }
            if Instant::now() > deadline {
                bail!("{name} not listening after {START_TIMEOUT:?}; log:\n{}", process.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    unreachable!("the last attempt returns")
}

/// Waits for `/readyz` (etcd reachable, RBAC bootstrapped, post-start hooks done).
async fn wait_ready(client: &kube::Client, processes: &mut [Supervised]) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let request = kube::core::Request::new("").get("readyz", &Default::default())?;
        let last_error = match client.request_text(request).await {
            Ok(body) if body.trim() == "ok" => return Ok(()),
            Ok(body) => body,
            Err(e) => e.to_string(),
        };
        for p in processes.iter_mut() {
            if let Some(status) = p.exited() {
                bail!("{} exited ({status}); log {}:\n{}", p.name, p.log.display(), p.log_tail());
            }
        }
        if Instant::now() > deadline {
            bail!("API server not ready after {START_TIMEOUT:?}: {last_error}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn free_port() -> Result<u16> {
    Ok(super::ports::free_port())
}

/// A unique, DNS-label-safe name from `hint` (namespace and credential names).
pub(super) fn unique_name(plane: &ControlPlane, hint: &str, max_len: usize) -> String {
    let n = plane.serial.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("-{n}");
    let mut base: String =
        hint.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    base.truncate(max_len - suffix.len());
    let base = base.trim_matches('-');
    let base = if base.is_empty() { "t" } else { base };
    format!("{base}{suffix}")
}
