//! No secret in output: `--help` names environment variables without their values, and a
//! password containing a URL delimiter (`#`, `/`, `?`, `@`), escaped or not, never reaches an
//! error or a log line (the one redaction, `accountops::redact`, on a parsed URL).

use std::process::{Command, Output};
use std::time::Duration;

use crate::harness;
use crate::support::eventually;
use crate::support::operator::Operator;

const TAIL: &str = "SECRETTAIL";

fn accountops(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_accountops"));
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

#[test]
fn help_names_environment_variables_but_never_shows_their_values() {
    let env = [
        ("DATABASE_URL", "postgres://app:db-SECRETTAIL@db.example/platform"),
        ("SMTP_URL", "smtp://mailer:smtp-SECRETTAIL@relay.example:587"),
        ("MAIL_FROM", "From SECRETTAIL <a@example.com>"),
        ("ACCEPT_URL_BASE", "https://app.example/accept?key=SECRETTAIL"),
        ("KUBECONFIG", "/home/ops/SECRETTAIL/kubeconfig"),
        ("ACCOUNTOPS_CLUSTER_ID", "cluster-SECRETTAIL"),
    ];
    for args in [
        &["run", "--help"][..],
        &["migrate", "--help"],
        &["apply", "--help"],
        &["plan", "--help"],
        &["invitation", "accept", "--help"],
        &["tenant-link", "reject", "--help"],
    ] {
        let out = accountops(args, &env);
        let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{args:?}: {shown}");
        assert!(shown.contains("[env: DATABASE_URL]"), "{args:?} names the variable: {shown}");
        assert!(!shown.contains(TAIL), "{args:?} shows a value: {shown}");
    }
}

#[test]
fn passwords_with_url_delimiters_never_reach_an_error() {
    for password in ["pa#ss", "pa/ss", "pa?ss", "pa@ss", "5432/ss", "pa%23ss"] {
        let url = format!("postgres://app:{password}{TAIL}@127.0.0.1:1/platform");
        let out = accountops(&["migrate", "--database", &url], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {err}");
        assert_eq!(err.lines().count(), 1, "{url}: one line: {err}");
        assert!(!err.contains(TAIL), "{url}: {err}");
    }
    // Escaped correctly, it is a password like any other: hidden, the rest of the URL shown.
    let out =
        accountops(&["migrate", "--database", &format!("postgres://app:pa%23ss{TAIL}@127.0.0.1:1/platform")], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to database postgres://app:***@127.0.0.1:1/platform"), "{err}");
}

#[tokio::test]
async fn the_operator_logs_an_unusable_database_url_without_its_password() {
    let Some(env) = harness::test_env().await else { return };
    let url = format!("postgres://accountops:wrong#{TAIL}@127.0.0.1:5432/platform");
    let mut operator = Operator::start(&env, &url, &format!("test-{}", env.ns), Duration::from_secs(5));
    let log = eventually("the operator to report the database", Duration::from_secs(30), || async {
        let log = operator.log();
        log.contains("database not reachable").then_some(log)
    })
    .await;
    assert!(log.contains("percent-encode"), "says what to do: {log}");
    assert!(!log.contains(TAIL), "{log}");
    operator.stop();
}
