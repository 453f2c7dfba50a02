//! The `accountops` binary driven the way a user drives it: help, crds, validate (files or
//! standard input, text or JSON), plan/apply from standard input, shell completions.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn accountops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the accountops binary runs")
}

/// The binary with `input` on its standard input, in `dir`.
fn accountops_with_stdin(args: &[&str], input: &str, dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the accountops binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    // A writer thread: the binary may print before it has read everything.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("waits");
    writer.join().expect("writer").expect("stdin written");
    out
}

/// The examples as one stream, as `kustomize build examples/` prints them.
fn examples_stream() -> String {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(repo("examples")).expect("examples").map(|e| e.expect("entry").path()).collect();
    files.sort();
    files.iter().map(|f| format!("---\n{}", std::fs::read_to_string(f).expect("example"))).collect()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn help_lists_every_subcommand_and_each_has_its_own_help() {
    let out = accountops(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for sub in [
        "run",
        "crds",
        "validate",
        "migrate",
        "plan",
        "apply",
        "completion",
        "trace",
        "asset",
        "invitation",
        "tenant-link",
        "tenants",
    ] {
        assert!(text.contains(sub), "--help lists {sub}: {text}");
        let sub_help = accountops(&[sub, "--help"]);
        assert!(sub_help.status.success(), "{sub} --help");
        assert!(stdout(&sub_help).contains("Usage: accountops"), "{sub} --help shows usage");
    }
    assert!(stdout(&accountops(&["validate", "--help"])).contains("-f, --filename <PATH>"));
}

#[test]
fn unknown_subcommand_fails_with_usage() {
    let out = accountops(&["frobnicate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

#[test]
fn crds_prints_what_crds_directory_holds() {
    let out = accountops(&["crds"]);
    assert!(out.status.success());
    let printed = stdout(&out);
    let mut on_disk = String::new();
    for name in ["accounts", "organizations", "memberships", "tenantlinks", "provisioningsyncs"] {
        on_disk += &std::fs::read_to_string(repo(&format!("crds/{name}.accountops.dev.yaml"))).expect("crd file");
    }
    assert_eq!(printed, on_disk);
}

#[test]
fn validate_accepts_every_example() {
    let out = accountops(&["validate", "-f", "examples/"]);
    assert!(out.status.success(), "examples are valid: {}", stdout(&out));
    assert!(stdout(&out).contains("18 objects in 19 documents: valid"), "{}", stdout(&out));
}

/// Each fixture names the field and message the apiserver and `validate` must both report.
pub fn invalid_fixtures() -> Vec<(PathBuf, String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("tests/fixtures/invalid"))
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("fixture");
        let header = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| panic!("{} has a '{key}' header", file.display()))
        };
        let field = header("# expect-field:");
        let message = header("# expect:");
        out.push((file, field, message));
    }
    out
}

#[test]
fn validate_rejects_each_invalid_fixture_naming_file_line_object_and_field() {
    let fixtures = invalid_fixtures();
    assert!(fixtures.len() >= 10);
    let kind_ns_name = regex::Regex::new(r": [A-Za-z]+/default/[A-Za-z0-9_.-]+: ").expect("regex");
    for (file, field, message) in fixtures {
        let rel = file.strip_prefix(env!("CARGO_MANIFEST_DIR")).expect("in repo");
        let out = accountops(&["validate", "-f", rel.to_str().expect("utf-8")]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{} is rejected: {text}", rel.display());
        let line = text
            .lines()
            .find(|l| l.contains(&message))
            .unwrap_or_else(|| panic!("{}: expected {message:?} in {text}", rel.display()));
        let prefix = format!("{}:", rel.display());
        assert!(line.starts_with(&prefix), "names the file: {line}");
        let line_no: usize =
            line[prefix.len()..].split(':').next().and_then(|n| n.parse().ok()).expect("a line number");
        assert!(line_no > 2, "points past the header comments: {line}");
        assert!(kind_ns_name.is_match(line), "names Kind/namespace/name: {line}");
        if !field.is_empty() {
            assert!(line.contains(&format!(": {field}: ")), "names the field {field}: {line}");
        }
    }
}

#[test]
fn validate_reports_every_problem_not_just_the_first() {
    let out = accountops(&["validate", "-f", "tests/fixtures/invalid"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for (file, _, message) in invalid_fixtures() {
        let name = file.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        assert!(text.lines().any(|l| l.contains(&name) && l.contains(&message)), "{name}: {message} in\n{text}");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("problem(s) found"));
}

#[test]
fn validate_checks_references_between_manifests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let org = r#"apiVersion: accountops.dev/v1alpha1
kind: Organization
metadata:
  name: lonely
  namespace: team-a
spec:
  accountRef:
    name: nowhere
  displayName: Lonely
  roles:
    - name: Admin
---
apiVersion: accountops.dev/v1alpha1
kind: Membership
metadata:
  name: ghost-role
  namespace: team-a
spec:
  organizationRef:
    name: lonely
  email: ghost@example.com
  roles: [Admin, Ghost]
"#;
    std::fs::write(dir.path().join("refs.yaml"), org).expect("write");
    let out = accountops(&["validate", "-f", dir.path().to_str().expect("utf-8")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(":8: Organization/team-a/lonely: spec.accountRef.name: Account \"nowhere\" is not defined in namespace \"team-a\""), "{text}");
    assert!(text.contains(":22: Membership/team-a/ghost-role: spec.roles[1]: role \"Ghost\" is not one of Organization \"lonely\"'s roles (Admin)"), "{text}");
}

#[test]
fn validate_of_a_missing_path_is_a_one_line_error() {
    let out = accountops(&["validate", "-f", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no/such/dir"), "{err}");
}

#[test]
fn validate_reports_broken_yaml_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("broken.yaml"), "apiVersion: v1\nkind: ConfigMap\n---\nkind: [unclosed\n")
        .expect("write");
    let out = accountops(&["validate", "-f", dir.path().to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("broken.yaml:4: invalid YAML"), "{}", stdout(&out));
}

#[test]
fn migrate_builds_the_schema_on_sqlite_and_is_harmless_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("nested/platform.db").display());
    let first = accountops(&["migrate", "--database", &url]);
    assert!(first.status.success(), "{first:?}");
    let v = accountops::store::migrate::latest_version();
    let n = accountops::store::migrate::versions().len();
    let applied = format!("schema at version {v} ({n} migration(s) applied)");
    assert!(stdout(&first).contains(&applied), "{}", stdout(&first));
    let second = accountops(&["migrate", "--database", &url]);
    assert!(stdout(&second).contains("(0 migration(s) applied)"), "{}", stdout(&second));
}

#[tokio::test]
async fn migrate_builds_the_schema_on_postgres() {
    let Some(db) = crate::store_pg::fresh().await else { return };
    let out = accountops(&["migrate", "--database", &db.url]);
    assert!(out.status.success(), "{out:?}");
    let v = accountops::store::migrate::latest_version();
    assert!(stdout(&out).contains(&format!("schema at version {v}")), "{}", stdout(&out));
    assert!(!stdout(&out).contains(":accountops@"), "the password is redacted: {}", stdout(&out));
}

#[test]
fn a_bad_database_url_is_a_one_line_error_not_a_panic() {
    for (url, expected) in [
        ("mysql://root:secret@db/x", "unsupported scheme 'mysql'"),
        ("postgres://accountops:secret@127.0.0.1:1/x", "cannot connect to database"),
        ("not a url", "invalid database URL"),
    ] {
        let out = accountops(&["migrate", "--database", url]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {err}");
        assert_eq!(err.lines().count(), 1, "{url}: one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(expected), "{url}: {err}");
        assert!(!err.contains("secret") && !err.contains("panicked"), "{url}: {err}");
    }
}

#[test]
fn validate_reports_an_annotation_value_the_engine_would_not_understand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = r#"apiVersion: accountops.dev/v1alpha1
kind: Account
metadata:
  name: alpha
  annotations:
    accountops.dev/adopt: "yes"
spec:
  legalName: Alpha
  billingAddress: {street: ["ul. Prosta 1"], city: Warszawa, postalCode: "00-001", country: PL}
  billingEmail: a@example.pl
  currency: PLN
"#;
    std::fs::write(dir.path().join("a.yaml"), manifest).expect("write");
    let out = accountops(&["validate", "-f", dir.path().to_str().expect("utf-8")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Account/default/alpha: metadata.annotations: annotation accountops.dev/adopt"), "{text}");
}

#[test]
fn validate_reads_standard_input_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = accountops_with_stdin(&["validate", "-f", "-"], &examples_stream(), dir.path());
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("18 objects in 19 documents: valid"), "{}", stdout(&ok));

    let broken = examples_stream().replace("country: PL", "country: XK");
    let out = accountops_with_stdin(&["validate", "-f", "-", "-f", "examples/00-accounts.yaml"], &broken, &repo(""));
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("XK") || l.contains("ISO 3166")).unwrap_or_else(|| panic!("{text}"));
    let line_no = broken.lines().position(|l| l.contains("country: XK")).expect("in the stream") + 1;
    assert!(
        line.starts_with(&format!("<stdin>:{line_no}: Account/default/acme-polska: spec.billingAddress.country: ")),
        "{line}"
    );
    assert!(text.contains("defined twice"), "stdin and files make one set: {text}");

    let twice = accountops_with_stdin(&["validate", "-f", "-", "-f", "-"], "", dir.path());
    assert_eq!(twice.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("`-f -` can be given only once"), "{twice:?}");
}

#[test]
fn validate_json_has_the_documented_shape() {
    let ok = accountops(&["validate", "-f", "examples/", "-o", "json"]);
    assert!(ok.status.success());
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("JSON on stdout");
    assert_eq!(report, serde_json::json!({"valid": true, "documents": 19, "objects": 18, "problems": []}));

    let out = accountops(&[
        "validate",
        "-f",
        "tests/fixtures/invalid/bad-country.yaml",
        "-f",
        "tests/fixtures/invalid/both-membership-scopes.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "JSON mode prints nothing else: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["valid"], false);
    assert_eq!((report["documents"].as_u64(), report["objects"].as_u64()), (Some(2), Some(0)));
    assert_eq!(
        report["problems"],
        serde_json::json!([
            {
                "file": "tests/fixtures/invalid/bad-country.yaml",
                "line": 13,
                "object": "Account/default/bad-country",
                "field": "spec.billingAddress.country",
                "message": "must be an ISO 3166-1 alpha-2 country code in upper case, such as PL or DE"
            },
            {
                "file": "tests/fixtures/invalid/both-membership-scopes.yaml",
                "line": 3,
                "object": "Membership/default/both-scopes",
                "field": null,
                "message": "set exactly one of spec.organizationRef and spec.accountRef"
            }
        ])
    );
    let yaml_error = accountops_with_stdin(&["validate", "-f", "-", "-o", "json"], "kind: [unclosed\n", &repo(""));
    let report: serde_json::Value = serde_json::from_slice(&yaml_error.stdout).expect("JSON on stdout");
    assert_eq!(report["problems"][0]["file"], "<stdin>");
    assert_eq!(report["problems"][0]["object"], serde_json::Value::Null);
}

#[test]
fn plan_and_apply_read_manifests_from_standard_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stream: String = examples_stream()
        .split("---\n")
        .filter(|d| !d.contains("kind: ProvisioningSync"))
        .collect::<Vec<_>>()
        .join("---\n");
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let plan = accountops_with_stdin(&["plan", "-f", "-", "--database", &db], &stream, dir.path());
    assert!(plan.status.success(), "{}{}", stdout(&plan), String::from_utf8_lossy(&plan.stderr));
    assert!(stdout(&plan).contains("+ Account default/acme-polska (create)"), "{}", stdout(&plan));
    assert!(!dir.path().join("state.db").exists(), "plan wrote nothing");
    let apply = accountops_with_stdin(&["apply", "-f", "-", "--database", &db, "-o", "json"], &stream, dir.path());
    assert!(apply.status.success(), "{}{}", stdout(&apply), String::from_utf8_lossy(&apply.stderr));
    let report: serde_json::Value = serde_json::from_slice(&apply.stdout).expect("JSON");
    let created = report["objects"].as_array().expect("objects").iter().filter(|o| o["action"] == "Created").count();
    assert_eq!(created, 16, "{report:#}");
    // A broken stream is reported as `validate` reports it, and the database is not touched.
    let broken = stream.replace("currency: PLN", "currency: ZLT");
    let out = accountops_with_stdin(&["apply", "-f", "-", "--database", &db], &broken, dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("<stdin>:") && stdout(&out).contains("spec.currency"), "{}", stdout(&out));
}

#[test]
fn completion_scripts_complete_subcommands_and_flags() {
    for (shell, marker) in
        [("bash", "complete -F _accountops"), ("zsh", "#compdef accountops"), ("fish", "complete -c accountops")]
    {
        let out = accountops(&["completion", shell]);
        assert!(out.status.success(), "{shell}");
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: {marker} in {script:.300}");
        for word in ["validate", "apply", "completion", "filename"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    assert!(!accountops(&["completion", "tcsh"]).status.success(), "an unknown shell is refused");

    // Real bash, completing the way it does at a prompt.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("accountops.bash");
    std::fs::write(&script, stdout(&accountops(&["completion", "bash"]))).expect("write script");
    let complete = |words: &str, index: usize| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={index}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; \
             _accountops accountops \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").args(["--norc", "-c", &program]).output().expect("bash runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    let subcommands = complete("accountops va", 1);
    assert_eq!(subcommands.lines().collect::<Vec<_>>(), ["validate"], "{subcommands}");
    let flags = complete("accountops validate --out", 2);
    assert!(flags.lines().any(|l| l == "--output"), "{flags}");
    let formats = complete("accountops validate -o ''", 3);
    assert!(formats.lines().any(|l| l == "json") && formats.lines().any(|l| l == "text"), "{formats}");
}
