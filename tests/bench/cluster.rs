//! The cluster half of the benchmark, on its own kube-apiserver + etcd, PostgreSQL database and
//! SMTP sink:
//!
//! ```text
//!  namespace raw: N Memberships ── 16 clients patch their status once ──► the raw ceiling
//!  namespace op:  1 Account, 50 Organizations, N Memberships ── operator starts ──► all Ready
//!                 at their generation (time, apiserver requests per Membership, peak RSS)
//!                 ── --steady S seconds ──► writes after convergence
//! ```
//!
//! CPU time by program (cpu.rs) is sampled around the ceiling and from operator start to
//! convergence.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accountops::api::Membership;
use anyhow::{Context as _, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

use crate::cpu;
use crate::harness::{self, Supervised};
use crate::objects;
use crate::report::{self, Requests};
use crate::setup::{CLIENTS, create, fresh_database, ready_at_generation};
use crate::smtp::{Security, SmtpServer};

pub struct Options {
    pub n: usize,
    pub steady: Duration,
    /// Extra `accountops run` flags (after `--` on the command line).
    pub operator_args: Vec<String>,
}

pub struct Figures {
    pub n: usize,
    pub ceiling: Duration,
    pub converged: Option<Duration>,
    pub ready: usize,
    /// Requests from operator start to convergence, by verb and resource.
    pub during: Requests,
    /// Requests in the `steady` interval after convergence.
    pub after: Requests,
    pub steady: Duration,
    pub peak_rss_kib: Option<u64>,
    pub apiserver_version: String,
    /// The database's own counters from operator start to the end of the steady interval.
    pub database: Option<Database>,
    /// Cores used by program while the ceiling ran, and from operator start to convergence.
    pub ceiling_cpu: Vec<(&'static str, f64)>,
    pub cpu: Vec<(&'static str, f64)>,
}

/// What PostgreSQL counted for the benchmark's database (`pg_stat_database`,
/// `pg_stat_user_tables`): there is no per-statement count without an extension, so
/// transactions (an autocommit statement is one) and rows of the platform's tables stand in.
#[derive(Debug, Clone, Default)]
pub struct Database {
    pub commits: i64,
    pub rollbacks: i64,
    /// Rows inserted, updated or deleted.
    pub rows_written: i64,
    /// Rows read by sequential scans and fetched by index scans.
    pub rows_read: i64,
    /// Rows read per table, most first.
    pub read_by_table: Vec<(String, i64)>,
}

impl Database {
    fn since(&self, before: &Database) -> Database {
        let earlier = |table: &str| before.read_by_table.iter().find(|(t, _)| t == table).map_or(0, |(_, n)| *n);
        let mut read_by_table: Vec<(String, i64)> =
            self.read_by_table.iter().map(|(t, n)| (t.clone(), n - earlier(t))).collect();
        read_by_table.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        Database {
            commits: self.commits - before.commits,
            rollbacks: self.rollbacks - before.rollbacks,
            rows_written: self.rows_written - before.rows_written,
            rows_read: self.rows_read - before.rows_read,
            read_by_table,
        }
    }
}

/// The counters of the database at `url` now. A backend reports its counts when it goes
/// idle (at most 10 s late on PostgreSQL 15), so read them after the steady interval.
async fn database_counters(url: &str) -> anyhow::Result<Database> {
    let store = accountops::store::Store::connect(url).await?;
    let totals = "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()";
    let (commits, rollbacks): (i64, i64) =
        sqlx::query_as(totals).fetch_one(store.pool()).await.context("reading pg_stat_database")?;
    let tables = "SELECT relname::text, (n_tup_ins + n_tup_upd + n_tup_del)::bigint, \
                  (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::bigint FROM pg_stat_user_tables";
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as(tables).fetch_all(store.pool()).await.context("reading pg_stat_user_tables")?;
    store.close().await;
    Ok(Database {
        commits,
        rollbacks,
        rows_written: rows.iter().map(|r| r.1).sum(),
        rows_read: rows.iter().map(|r| r.2).sum(),
        read_by_table: rows.into_iter().map(|(table, _, read)| (table, read)).collect(),
    })
}

pub async fn run(options: &Options) -> anyhow::Result<Figures> {
    let plane = harness::control_plane().context("KUBEBUILDER_ASSETS is not set: run tests/bench/run.sh")?;
    let client = plane.client().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let (raw_ns, op_ns) = (format!("bench-raw-{suffix}"), format!("bench-op-{suffix}"));
    for ns in [&raw_ns, &op_ns] {
        let namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await?;
    }
    let apiserver_version = client.apiserver_version().await.map(|v| v.git_version).unwrap_or_default();

    eprintln!("bench: creating {} Memberships for the raw ceiling", options.n);
    create(&client, &raw_ns, (0..options.n).map(objects::membership).collect()).await?;
    let cpu_before = cpu::sample();
    let ceiling = raw_ceiling(&client, &raw_ns, options.n).await?;
    let ceiling_cpu = cpu::usage(&cpu_before, &cpu::sample());
    eprintln!("bench: raw ceiling {}", report::secs(ceiling));

    eprintln!("bench: creating 1 Account, {} Organizations, {} Memberships", objects::ORGANIZATIONS, options.n);
    let mut set = vec![objects::account()];
    set.extend((0..objects::ORGANIZATIONS).map(objects::organization));
    create(&client, &op_ns, set).await?;
    create(&client, &op_ns, (0..options.n).map(objects::membership).collect()).await?;

    let database = fresh_database().await?;
    let smtp = SmtpServer::start(Security::Plain).await.context("aiosmtpd is not installed")?;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("operator.log");
    let health = std::net::SocketAddr::from(([127, 0, 0, 1], crate::harness::ports::free_port()));
    let mut args = vec![
        "run".to_owned(),
        format!("--database={database}"),
        format!("--namespace={op_ns}"),
        "--cluster-id=bench".to_owned(),
        format!("--kubeconfig={}", plane.kubeconfig().display()),
        format!("--health-addr={health}"),
        format!("--smtp-url={}", smtp.url()),
        // The relay's budget is not what is measured.
        "--mail-rate-per-minute=0".to_owned(),
    ];
    args.extend(options.operator_args.iter().cloned());

    let (members, writer) = reflector::store::<Membership>();
    let api: Api<Membership> = Api::namespaced(client.clone(), &op_ns);
    let watch = watcher(api, watcher::Config::default()).default_backoff().reflect(writer).for_each(|_| async {});
    let watch = tokio::spawn(watch);
    members.wait_until_ready().await?;

    let before = requests(&client).await?;
    let database_before = database_counters(&database).await;
    eprintln!("bench: starting the operator ({})", log.display());
    let binary = Path::new(env!("CARGO_BIN_EXE_accountops"));
    let mut operator = Supervised::spawn("accountops", binary, &args, &log)?;
    let started = Instant::now();
    let cpu_at_start = cpu::sample();
    let timeout = Duration::from_secs(600).max(Duration::from_millis(200) * options.n as u32);
    let mut ready = 0;
    let mut converged = None;
    let mut last_report = Instant::now();
    while started.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ready = members.state().iter().filter(|m| ready_at_generation(m)).count();
        if ready >= options.n {
            converged = Some(started.elapsed());
            break;
        }
        if let Some(status) = operator.exited() {
            bail!("the operator exited ({status}):\n{}", operator.log_tail());
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("bench: {ready}/{} Ready after {}", options.n, report::secs(started.elapsed()));
            last_report = Instant::now();
        }
    }
    let cpu_used = cpu::usage(&cpu_at_start, &cpu::sample());
    let at_convergence = requests(&client).await?;
    let peak_rss_kib = |operator: &Supervised| {
        let pid = operator.program_pid()?;
        report::peak_rss_kib(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
    };
    match converged {
        Some(t) => {
            eprintln!("bench: all {} Ready after {}; steady for {:?}", options.n, report::secs(t), options.steady)
        }
        None => eprintln!("bench: only {ready}/{} Ready after {}", options.n, report::secs(timeout)),
    }
    tokio::time::sleep(options.steady).await;
    let after = requests(&client).await?;
    let rss = peak_rss_kib(&operator);
    let database_after = database_counters(&database).await;
    drop(operator);
    watch.abort();
    Ok(Figures {
        n: options.n,
        ceiling,
        converged,
        ready,
        during: report::delta(&before, &at_convergence),
        after: report::delta(&at_convergence, &after),
        steady: options.steady,
        peak_rss_kib: rss,
        apiserver_version,
        ceiling_cpu,
        cpu: cpu_used,
        database: match (database_before, database_after) {
            (Ok(before), Ok(after)) => Some(after.since(&before)),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("bench: no database counters: {e:#}");
                None
            }
        },
    })
}

/// [`CLIENTS`] clients write a Ready status (server-side apply, as the operator does) to each
/// of the `n` Memberships of `ns` once; the time that takes.
async fn raw_ceiling(client: &Client, ns: &str, n: usize) -> anyhow::Result<Duration> {
    let api: Api<Membership> = Api::namespaced(client.clone(), ns);
    let api = Arc::new(api);
    let now = jiff::Timestamp::now().to_string();
    let started = Instant::now();
    futures::stream::iter((0..n).map(Ok::<_, anyhow::Error>))
        .try_for_each_concurrent(CLIENTS, |i| {
            let (api, now) = (api.clone(), now.clone());
            async move {
                let condition = |type_: &str, reason: &str| {
                    json!({"type": type_, "status": "True", "reason": reason, "message": "bench",
                           "lastTransitionTime": now, "observedGeneration": 1})
                };
                let patch = json!({
                    "apiVersion": "accountops.dev/v1alpha1", "kind": "Membership",
                    "status": {"observedGeneration": 1, "phase": "Active",
                               "conditions": [condition("Ready", "Available"), condition("Synced", "ReconcileSuccess")]}
                });
                let params = PatchParams::apply("bench").force();
                api.patch_status(&objects::membership_name(i), &params, &Patch::Apply(&patch)).await?;
                Ok(())
            }
        })
        .await?;
    Ok(started.elapsed())
}

/// The apiserver's request counters now.
async fn requests(client: &Client) -> anyhow::Result<Requests> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await.context("reading the apiserver's /metrics")?;
    Ok(report::parse_requests(&text))
}
