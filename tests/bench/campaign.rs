//! One fault scenario of the campaign, on the shared kube-apiserver + etcd, a fresh
//! PostgreSQL database and a fresh SMTP sink:
//!
//! ```text
//!  namespace faults-<scenario>: 1 Account, 50 Organizations, N Memberships
//!   └─ two operator replicas (leader election, as the chart runs them) ─► the fault ─►
//!      all Ready at their generation and every mail delivered ─► figures:
//!      mails per invitation, duplicate rows, objects not Ready, time to recover
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use accountops::api::Membership;
use anyhow::{Context as _, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

use crate::harness::{ControlPlane, Supervised};
use crate::objects;
use crate::setup::{create, fresh_database, ready_at_generation};
use crate::smtp::{Security, SmtpServer};
use crate::{figures, http};

/// What is done to the running operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the leader `kills` times, `every` apart, restarting it at once.
    Kill { kills: usize, every: Duration },
    /// Restart PostgreSQL (fast shutdown: connections cut), down for `down`.
    Postgres { down: Duration },
    /// The relay refuses connections from the start for `down`.
    Relay { down: Duration },
    /// SIGKILL kube-apiserver, down for `down`, start it again (etcd keeps everything).
    Apiserver { down: Duration },
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Kill { .. } => "kill",
            Fault::Postgres { .. } => "postgres",
            Fault::Relay { .. } => "relay",
            Fault::Apiserver { .. } => "apiserver",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Fault::Kill { kills, every } => format!("{kills} SIGKILLs of the leader, {} apart", secs(*every)),
            Fault::Postgres { down } => format!("PostgreSQL restarted, down {}", secs(*down)),
            Fault::Relay { down } => format!("SMTP relay down for the first {}", secs(*down)),
            Fault::Apiserver { down } => format!("kube-apiserver killed, down {}", secs(*down)),
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

/// The operator's flags every replica gets on top of its own addresses.
const MAIL_RETRY: [&str; 3] = ["--mail-retry-base=1s", "--mail-retry-max=5s", "--mail-rate-per-minute=0"];
const LEASE: &str = "--lease-duration=5s";

struct Replica {
    args: Vec<String>,
    health: SocketAddr,
    log: PathBuf,
    process: Option<Supervised>,
}

impl Replica {
    fn start(&mut self) -> anyhow::Result<()> {
        let binary = Path::new(env!("CARGO_BIN_EXE_accountops"));
        self.process = Some(Supervised::spawn("accountops", binary, &self.args, &self.log)?);
        Ok(())
    }

    async fn kill(&mut self) {
        if let Some(pid) = self.process.as_ref().and_then(Supervised::program_pid) {
            let _ = tokio::process::Command::new("kill").arg("-KILL").arg(pid.to_string()).status().await;
        }
        drop(self.process.take());
    }

    async fn leads(&self) -> bool {
        matches!(http::get(self.health, "/leader").await, Some((200, _)))
    }
}

pub struct Options {
    pub n: usize,
    pub timeout: Duration,
}

/// Runs `fault` against a fresh set of `n` Memberships; the figures.
pub async fn run(plane: &'static ControlPlane, fault: Fault, options: &Options) -> anyhow::Result<figures::Figures> {
    let client = plane.client().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let ns = format!("faults-{}-{suffix}", fault.name());
    let namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await?;
    let mut set = vec![objects::account()];
    set.extend((0..objects::ORGANIZATIONS).map(objects::organization));
    create(&client, &ns, set).await?;
    create(&client, &ns, (0..options.n).map(objects::membership).collect()).await?;

    let database = fresh_database().await?;
    let mut smtp = SmtpServer::start(Security::Plain).await.context("aiosmtpd is not installed")?;
    if matches!(fault, Fault::Relay { .. }) {
        smtp.stop();
    }
    let dir = tempfile::Builder::new().prefix(&format!("accountops-faults-{}-", fault.name())).tempdir()?.keep();
    let mut replicas = Vec::new();
    for i in 0..2 {
        let health = std::net::SocketAddr::from(([127, 0, 0, 1], crate::harness::ports::free_port()));
        let mut args = vec![
            "run".to_owned(),
            format!("--database={database}"),
            format!("--namespace={ns}"),
            "--cluster-id=faults".to_owned(),
            format!("--kubeconfig={}", plane.kubeconfig().display()),
            format!("--health-addr={health}"),
            format!("--smtp-url={}", smtp.url()),
            "--leader-election".to_owned(),
            LEASE.to_owned(),
        ];
        args.extend(MAIL_RETRY.map(String::from));
        replicas.push(Replica { args, health, log: dir.join(format!("operator-{i}.log")), process: None });
    }

    let (members, writer) = reflector::store::<Membership>();
    let api: Api<Membership> = Api::namespaced(client.clone(), &ns);
    let watch =
        tokio::spawn(watcher(api, watcher::Config::default()).default_backoff().reflect(writer).for_each(|_| async {}));
    members.wait_until_ready().await?;

    eprintln!("faults[{}]: {} Memberships; starting two replicas (logs in {})", fault.name(), options.n, dir.display());
    for replica in &mut replicas {
        replica.start()?;
    }
    let started = Instant::now();
    let fault_over = inject(plane, fault, &mut replicas, &mut smtp, &members, options.n).await?;
    eprintln!("faults[{}]: fault over after {}; waiting for recovery", fault.name(), secs(started.elapsed()));

    let store = accountops::store::Store::connect(&database).await?;
    let mut exits = restart_exited(&mut replicas)?;
    let deadline = fault_over + options.timeout;
    let mut recovered = None;
    while Instant::now() < deadline {
        let ready = members.state().iter().filter(|m| ready_at_generation(m)).count();
        if ready >= options.n && mail_settled(&store).await? {
            recovered = Some(fault_over.elapsed());
            break;
        }
        exits += restart_exited(&mut replicas)?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Anything sent twice shows up within a few retry periods.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let not_ready = not_ready(&client, &ns).await?;
    let mails = smtp.messages();
    let deliveries = figures::deliveries(mails.iter().map(|m| (m.header("Message-ID"), m.header("To"))));
    let mut figures = measure(&store, fault, options.n, recovered, not_ready, deliveries).await?;
    figures.exits = exits;
    store.close().await;
    for replica in &mut replicas {
        replica.kill().await;
    }
    watch.abort();
    Ok(figures)
}

/// Starts again every replica that exited, as the kubelet would (a replica that loses its
/// lease exits); how many did.
fn restart_exited(replicas: &mut [Replica]) -> anyhow::Result<usize> {
    let mut exits = 0;
    for replica in replicas.iter_mut() {
        if let Some(status) = replica.process.as_mut().and_then(Supervised::exited) {
            eprintln!("faults: an operator exited ({status}), starting it again; log {}", replica.log.display());
            replica.start()?;
            exits += 1;
        }
    }
    Ok(exits)
}

/// Does `fault`; the moment it is over.
async fn inject(
    plane: &'static ControlPlane,
    fault: Fault,
    replicas: &mut [Replica],
    smtp: &mut SmtpServer,
    members: &Store<Membership>,
    n: usize,
) -> anyhow::Result<Instant> {
    match fault {
        Fault::Kill { kills, every } => {
            for k in 1..=kills {
                tokio::time::sleep(every).await;
                let mut leader = None;
                for (i, replica) in replicas.iter().enumerate() {
                    if replica.leads().await {
                        leader = Some(i);
                    }
                }
                // Between leaders (the lease not yet taken over): kill either.
                let i = leader.unwrap_or(k % replicas.len());
                let ready = members.state().iter().filter(|m| ready_at_generation(m)).count();
                eprintln!(
                    "faults[kill]: SIGKILL {k}/{kills} of replica {i} (leader: {}), {ready}/{n} Ready",
                    leader.is_some()
                );
                replicas[i].kill().await;
                replicas[i].start()?;
            }
        }
        Fault::Postgres { down } => {
            until_some_ready(members, n).await;
            eprintln!("faults[postgres]: restarting PostgreSQL");
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/postgres.sh");
            let status = tokio::process::Command::new("bash")
                .arg(script)
                .arg("--restart")
                .arg(down.as_secs().to_string())
                .status()
                .await?;
            if !status.success() {
                bail!("tests/tools/postgres.sh --restart failed ({status})");
            }
        }
        Fault::Relay { down } => {
            tokio::time::sleep(down).await;
            eprintln!("faults[relay]: starting the relay");
            smtp.start_again().await;
        }
        Fault::Apiserver { down } => {
            until_some_ready(members, n).await;
            eprintln!("faults[apiserver]: killing kube-apiserver");
            plane.restart_apiserver(down).await?;
        }
    }
    Ok(Instant::now())
}

/// Until a quarter of the Memberships are Ready, so the fault lands mid-convergence.
async fn until_some_ready(members: &Store<Membership>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while members.state().iter().filter(|m| ready_at_generation(m)).count() < n / 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Accounts, Organizations and Memberships of `ns` not Ready at their generation.
async fn not_ready(client: &kube::Client, ns: &str) -> anyhow::Result<usize> {
    let mut count = 0;
    for plural in ["accounts", "organizations", "memberships"] {
        let resource = kube::api::ApiResource {
            group: "accountops.dev".into(),
            version: "v1alpha1".into(),
            api_version: "accountops.dev/v1alpha1".into(),
            kind: String::new(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
        let list = api.list(&ListParams::default()).await?;
        count += list.items.iter().filter(|o| !figures::ready_at_generation(&o.data, o.metadata.generation)).count();
    }
    Ok(count)
}

/// Every queued mail is sent or given up.
async fn mail_settled(store: &accountops::store::Store) -> anyhow::Result<bool> {
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE state = 'pending'").fetch_one(store.pool()).await?;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox").fetch_one(store.pool()).await?;
    Ok(pending == 0 && queued > 0)
}

/// Rows beyond one per object (by owner, whatever its state), per invitation and per mail.
const DUPLICATES: [(&str, &str); 6] = [
    (
        "accounts",
        "SELECT count(*) - count(DISTINCT (owner_namespace, owner_name)) FROM accounts WHERE owner_name IS NOT NULL",
    ),
    (
        "organizations",
        "SELECT count(*) - count(DISTINCT (owner_namespace, owner_name)) FROM organizations WHERE owner_name IS NOT NULL",
    ),
    (
        "memberships",
        "SELECT count(*) - count(DISTINCT (owner_namespace, owner_name)) FROM memberships WHERE owner_name IS NOT NULL",
    ),
    ("users", "SELECT count(*) - count(DISTINCT email_normalized) FROM users"),
    ("invitations", "SELECT count(*) - count(DISTINCT membership_id) FROM invitations WHERE membership_id IS NOT NULL"),
    (
        "mail_outbox",
        "SELECT count(*) - count(DISTINCT related_id) FROM mail_outbox WHERE related_table = 'invitations'",
    ),
];

async fn measure(
    store: &accountops::store::Store,
    fault: Fault,
    n: usize,
    recovered: Option<Duration>,
    not_ready: usize,
    deliveries: figures::Deliveries,
) -> anyhow::Result<figures::Figures> {
    let pool = store.pool();
    let mut duplicates = Vec::new();
    for (table, sql) in DUPLICATES {
        duplicates.push((table, sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await?));
    }
    Ok(figures::Figures {
        fault: fault.describe(),
        n,
        recovered,
        not_ready,
        invitations: sqlx::query_scalar("SELECT count(*) FROM invitations").fetch_one(pool).await?,
        deliveries,
        dead: sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE state = 'dead'").fetch_one(pool).await?,
        max_attempts: sqlx::query_scalar::<_, Option<i64>>("SELECT max(attempts) FROM mail_outbox")
            .fetch_one(pool)
            .await?
            .unwrap_or(0),
        duplicates,
        exits: 0,
    })
}
