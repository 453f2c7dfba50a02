//! The scale benchmark (issue 15): `tests/bench/run.sh [N] [--local N] [--steady S]
//! [--skip-cluster|--skip-local] [-- OPERATOR-FLAGS]`. It prints figures and asserts none.
//!
//! ```text
//!  run.sh ── release build ── kube-apiserver + etcd (tests/it/harness) ── PostgreSQL ── aiosmtpd
//!     └─► cluster: raw ceiling, then the operator converging N Memberships (cluster.rs)
//!     └─► local: apply / re-apply / plan into SQLite vs a raw-SQL floor (local.rs)
//!     └─► one table (report.rs)
//! ```
//!
//! `cargo test --all-targets` also builds and runs this target, without `--bench`: it then
//! only says how to run it.

#[allow(unused_imports)]
#[path = "../it/harness/mod.rs"]
mod harness;
#[path = "../it/support/smtp.rs"]
mod smtp;

mod cluster;
// Its tests run in tests/it (bench_cpu); here they compile away and leave their imports.
#[cfg_attr(test, allow(unused_imports))]
mod cpu;
mod local;
mod objects;
#[cfg_attr(test, allow(dead_code))]
mod report;
mod setup;

use std::process::ExitCode;
use std::time::Duration;

use report::Section;

const USAGE: &str = "usage: tests/bench/run.sh [N] [--local N] [--steady SECONDS] [--skip-cluster|--skip-local] \
                     [-- ACCOUNTOPS-RUN-FLAGS]";

struct Args {
    n: usize,
    local: usize,
    steady: Duration,
    cluster: bool,
    local_mode: bool,
    operator_args: Vec<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        n: 1000,
        local: 0,
        steady: Duration::from_secs(60),
        cluster: true,
        local_mode: true,
        operator_args: Vec::new(),
    };
    let number = |v: Option<&String>, what: &str| -> Result<usize, String> {
        v.and_then(|v| v.parse().ok()).ok_or_else(|| format!("{what} needs a number"))
    };
    let mut local = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--local" => local = Some(number(it.next(), "--local")?),
            "--steady" => parsed.steady = Duration::from_secs(number(it.next(), "--steady")? as u64),
            "--skip-cluster" => parsed.cluster = false,
            "--skip-local" => parsed.local_mode = false,
            // cargo bench appends its own --bench, after ours.
            "--" => parsed.operator_args = it.by_ref().filter(|a| *a != "--bench").cloned().collect(),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            n => parsed.n = n.parse().map_err(|_| format!("unknown argument {n:?}\n{USAGE}"))?,
        }
    }
    parsed.local = local.unwrap_or(parsed.n);
    Ok(parsed)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

fn cluster_section(f: &cluster::Figures) -> Section {
    let n = f.n as f64;
    let mut s = Section::new(format!(
        "cluster: 1 Account, {} Organizations, {} Memberships ({} with logins), kube-apiserver {}, PostgreSQL",
        objects::ORGANIZATIONS,
        f.n,
        f.n.div_ceil(2),
        f.apiserver_version
    ));
    s.row(format!("raw ceiling: 16 clients apply the status of {} Memberships", f.n), report::secs(f.ceiling));
    match f.converged {
        Some(t) => {
            s.row(format!("operator: all {} Memberships Ready at their generation", f.n), report::secs(t));
            s.row("operator rate / raw rate", report::percent(f.ceiling.as_secs_f64(), t.as_secs_f64()));
            // The ceiling writes once per Membership, the operator several times (finalizer,
            // status, Event): how much of the apiserver's write rate it reaches says whether
            // the rest is the number of writes or the time between them.
            let ours = report::writes(&f.during, None) / t.as_secs_f64();
            let raw = n / f.ceiling.as_secs_f64().max(1e-9);
            s.row(
                "apiserver writes/s: operator, raw ceiling",
                format!("{ours:.0}, {raw:.0} ({})", report::percent(ours, raw)),
            );
        }
        None => s.row("operator: Memberships Ready (not converged)", format!("{} / {}", f.ready, f.n)),
    }
    s.row(
        "writes per Membership on memberships (any subresource)",
        format!("{:.2}", report::writes(&f.during, Some("memberships")) / n),
    );
    s.row(
        "writes per Membership, all resources (Events, Organizations …)",
        format!("{:.2}", report::writes(&f.during, None) / n),
    );
    for (key, count) in &f.during {
        s.row(format!("  {} per Membership", key.label()), format!("{:.3}", count / n));
    }
    s.row(
        format!("writes in the {} s after convergence", f.steady.as_secs()),
        format!("{}", report::writes(&f.after, None)),
    );
    for (key, count) in f.after.iter().filter(|(k, _)| k.is_write()) {
        s.row(format!("  {} after convergence", key.label()), format!("{count}"));
    }
    if let Some(d) = &f.database {
        s.row(
            "database transactions per Membership (commits, rollbacks; to the end of the steady interval)",
            format!("{:.2}, {:.2}", d.commits as f64 / n, d.rollbacks as f64 / n),
        );
        s.row(
            "database rows per Membership, platform tables (written; read)",
            format!("{:.1}; {:.1}", d.rows_written as f64 / n, d.rows_read as f64 / n),
        );
        for (table, read) in d.read_by_table.iter().take(3) {
            s.row(format!("  rows of {table} read per Membership"), format!("{:.1}", *read as f64 / n));
        }
    }
    // Who had the cores: on a small machine the apiserver, etcd, PostgreSQL and the operator
    // share them, and the apiserver's CPU per Membership against its CPU per ceiling write
    // bounds the rate whatever the operator does.
    let cores =
        |usage: &[(&str, f64)]| usage.iter().map(|(name, c)| format!("{name} {c:.2}")).collect::<Vec<_>>().join(", ");
    s.row("CPU during the raw ceiling (cores)", cores(&f.ceiling_cpu));
    s.row("CPU from operator start to convergence (cores)", cores(&f.cpu));
    if let Some(t) = f.converged {
        let per_write = cpu::of(&f.ceiling_cpu, "kube-apiserver") * f.ceiling.as_secs_f64() / n;
        let per_member = cpu::of(&f.cpu, "kube-apiserver") * t.as_secs_f64() / n;
        s.row(
            "kube-apiserver CPU per Membership / per ceiling write",
            format!(
                "{:.1} ms / {:.1} ms ({:.2}×)",
                per_member * 1e3,
                per_write * 1e3,
                per_member / per_write.max(1e-9)
            ),
        );
    }
    s.row(
        "operator peak RSS (VmHWM)",
        f.peak_rss_kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "-".into()),
    );
    s
}

fn local_section(f: &local::Figures) -> Section {
    let floor = f.floor.as_secs_f64();
    let times = |d: Duration| format!("{} ({:.1}× floor)", report::secs(d), d.as_secs_f64() / floor.max(1e-9));
    let mut s = Section::new(format!("local mode: SQLite, {} Memberships, 50 Organizations, 1 Account", f.n));
    s.row(format!("raw-SQL floor: the same {} rows as INSERTs in one transaction", f.rows), report::secs(f.floor));
    s.row("apply, first run", times(f.first));
    s.row("apply, unchanged re-run", times(f.unchanged));
    s.row("plan after apply", times(f.plan));
    s
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("the scale benchmark runs with tests/bench/run.sh (cargo bench --bench scale); skipped");
        return ExitCode::SUCCESS;
    }
    let args = match parse(&args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let mut sections = Vec::new();
        if args.cluster {
            let options =
                cluster::Options { n: args.n, steady: args.steady, operator_args: args.operator_args.clone() };
            sections.push(cluster_section(&cluster::run(&options).await?));
        }
        if args.local_mode {
            sections.push(local_section(&local::run(args.local).await?));
        }
        anyhow::Ok(sections)
    });
    match result {
        Ok(sections) => {
            let extra = if args.operator_args.is_empty() {
                String::new()
            } else {
                format!(", operator flags {:?}", args.operator_args)
            };
            println!("\naccountops scale benchmark: {}{extra}", machine());
            println!("{}", report::table(&sections));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
