//! CPU time by program over an interval, from `/proc/<pid>/stat` (utime + stime of every
//! process, summed by program name): on a machine where the apiserver, etcd, PostgreSQL and
//! the operator share the cores, it says who had them while the ceiling and the operator ran.
//!
//! ```text
//!  sample() ── interval ── sample() ──► usage(): cores used per program, busiest first
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

/// `/proc` counts CPU time in USER_HZ ticks, 100 a second in Linux's user ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// The programs the benchmark tells apart; anything else is "other".
const PROGRAMS: [(&str, &str); 6] = [
    ("kube-apiserver", "kube-apiserver"),
    ("etcd", "etcd"),
    ("postgres", "postgres"),
    ("accountops", "accountops"),
    ("python3", "SMTP sink (python3)"),
    ("scale-", "benchmark clients"),
];

pub struct Sample {
    at: Instant,
    ticks: BTreeMap<&'static str, u64>,
}

/// The CPU time every running process has used so far, by program.
pub fn sample() -> Sample {
    let mut ticks = BTreeMap::new();
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    for entry in entries.filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit())) {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if let Some((comm, used)) = parse_stat(&stat) {
            *ticks.entry(program(comm)).or_insert(0) += used;
        }
    }
    Sample { at: Instant::now(), ticks }
}

/// Cores used on average between two samples, by program, busiest first (programs under a
/// hundredth of a core left out). A process that ended in between takes its time with it,
/// so a program's figure never goes below zero.
pub fn usage(before: &Sample, after: &Sample) -> Vec<(&'static str, f64)> {
    let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let mut used: Vec<(&'static str, f64)> = after
        .ticks
        .iter()
        .map(|(name, t)| {
            let spent = t.saturating_sub(before.ticks.get(name).copied().unwrap_or(0));
            (*name, spent as f64 / TICKS_PER_SECOND / seconds)
        })
        .filter(|(_, cores)| *cores >= 0.01)
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    used
}

/// Cores one program used in a usage list (0 when absent).
pub fn of(usage: &[(&'static str, f64)], name: &str) -> f64 {
    usage.iter().find(|(n, _)| *n == name).map_or(0.0, |(_, c)| *c)
}

fn program(comm: &str) -> &'static str {
    PROGRAMS.iter().find(|(prefix, _)| comm.starts_with(prefix)).map_or("other", |(_, name)| name)
}

/// The command name and utime + stime of a `/proc/<pid>/stat` line. The name is in
/// parentheses and may hold spaces and parentheses itself, so the fields are counted from the
/// last `)`: state is field 3, utime 14, stime 15.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_the_name_and_the_user_and_system_time() {
        let line = "1234 (kube-apiserver) S 1 1234 1234 0 -1 4194560 81234 0 12 0 5120 880 0 0 20 0 14 0 321 1 2 3";
        assert_eq!(parse_stat(line), Some(("kube-apiserver", 6000)));
        // A name with spaces and a parenthesis of its own.
        let odd = "77 (tokio (rt) 2) R 1 77 77 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1";
        assert_eq!(parse_stat(odd), Some(("tokio (rt) 2", 7)));
        assert_eq!(parse_stat("99 (short) S 1 2"), None, "a truncated line is no sample");
    }

    #[test]
    fn programs_are_told_apart_by_name_and_the_rest_is_other() {
        assert_eq!(program("postgres"), "postgres");
        assert_eq!(program("scale-6724a822f"), "benchmark clients");
        assert_eq!(program("python3"), "SMTP sink (python3)");
        assert_eq!(program("bash"), "other");
    }

    #[test]
    fn usage_is_cores_per_program_busiest_first_and_never_negative() {
        let start = Instant::now();
        let before = Sample { at: start, ticks: BTreeMap::from([("etcd", 100), ("postgres", 500), ("other", 50)]) };
        let after = Sample {
            at: start + std::time::Duration::from_secs(2),
            ticks: BTreeMap::from([("etcd", 150), ("postgres", 400), ("kube-apiserver", 300), ("other", 51)]),
        };
        let used = usage(&before, &after);
        assert_eq!(used, [("kube-apiserver", 1.5), ("etcd", 0.25)], "postgres lost a process; other is under 0.01");
        assert_eq!(of(&used, "etcd"), 0.25);
        assert_eq!(of(&used, "accountops"), 0.0);
    }
}
