//! The fault campaign (issue 14): `tests/tools/faults.sh [N] [--only kill,postgres,relay,apiserver]
//! [--kills K] [--relay-down SECONDS]`. It prints figures and asserts none.
//!
//! ```text
//!  faults.sh ── release build ── kube-apiserver + etcd (tests/it/harness) ── PostgreSQL ── aiosmtpd
//!     └─► per fault, on a fresh namespace, database and relay (campaign.rs):
//!           kill       SIGKILL the leader K times during convergence (two replicas)
//!           postgres   restart PostgreSQL mid-convergence
//!           relay      the relay down from the start, longer than the old 12-attempt budget
//!           apiserver  kill kube-apiserver mid-convergence, start it again
//!     └─► one table: recovery time, not Ready, mails per invitation, duplicate rows (fault_figures.rs)
//! ```
//!
//! `cargo test --all-targets` also builds and runs this target, without `--bench`: it then
//! only says how to run it.

#[allow(unused_imports)]
#[path = "../it/harness/mod.rs"]
mod harness;
#[path = "../it/support/http.rs"]
mod http;
#[path = "../it/support/smtp.rs"]
mod smtp;

mod campaign;
#[cfg_attr(test, allow(unused_imports))] // its tests run in the `it` binary
#[path = "fault_figures.rs"]
mod figures;
#[allow(dead_code)] // local mode's YAML stream is the benchmark's
mod objects;
#[cfg_attr(test, allow(dead_code))]
mod report;
#[allow(dead_code)] // the scale benchmark's helpers, of which the campaign uses some
mod setup;

use std::process::ExitCode;
use std::time::Duration;

use campaign::Fault;

const USAGE: &str = "usage: tests/tools/faults.sh [N] [--only kill,postgres,relay,apiserver] [--kills K] \
                     [--relay-down SECONDS]";

fn parse(args: &[String]) -> Result<(usize, Vec<Fault>), String> {
    let (mut n, mut kills, mut relay_down, mut only) = (1000, 5, 90, None::<Vec<String>>);
    let number = |v: Option<&String>, what: &str| -> Result<usize, String> {
        v.and_then(|v| v.parse().ok()).ok_or_else(|| format!("{what} needs a number"))
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--kills" => kills = number(it.next(), "--kills")?,
            "--relay-down" => relay_down = number(it.next(), "--relay-down")?,
            "--only" => only = Some(it.next().ok_or("--only needs a list")?.split(',').map(str::to_owned).collect()),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => n = other.parse().map_err(|_| format!("unknown argument {other:?}\n{USAGE}"))?,
        }
    }
    let all = [
        Fault::Kill { kills, every: Duration::from_secs(3) },
        Fault::Postgres { down: Duration::from_secs(10) },
        // With retries 1 s doubling to 5 s, the old budget of 12 attempts ran out after ~52 s.
        Fault::Relay { down: Duration::from_secs(relay_down as u64) },
        Fault::Apiserver { down: Duration::from_secs(10) },
    ];
    let faults: Vec<Fault> = match only {
        None => all.to_vec(),
        Some(names) => {
            if let Some(bad) = names.iter().find(|n| !all.iter().any(|f| f.name() == n.as_str())) {
                return Err(format!("unknown fault {bad:?}\n{USAGE}"));
            }
            all.into_iter().filter(|f| names.iter().any(|n| n == f.name())).collect()
        }
    };
    Ok((n, faults))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("the fault campaign runs with tests/tools/faults.sh (cargo bench --bench faults); skipped");
        return ExitCode::SUCCESS;
    }
    let (n, faults) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("faults: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let plane = harness::control_plane()
            .ok_or_else(|| anyhow::anyhow!("KUBEBUILDER_ASSETS is not set: run tests/tools/faults.sh"))?;
        let options = campaign::Options { n, timeout: Duration::from_secs(600) };
        let mut sections = Vec::new();
        for fault in faults {
            let figures = campaign::run(plane, fault, &options).await?;
            let mut section = report::Section::new(format!("{}: {} Memberships", figures.fault, figures.n));
            for (measure, value) in figures.rows() {
                section.row(measure, value);
            }
            sections.push(section);
        }
        anyhow::Ok(sections)
    });
    match result {
        Ok(sections) => {
            println!("\naccountops fault campaign: two replicas with leader election, PostgreSQL, aiosmtpd");
            println!("{}", report::table(&sections));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("faults failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
