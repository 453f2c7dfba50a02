//! The `accountops` binary driven the way a user drives it: help, crds, validate.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn accountops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the accountops binary runs")
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
    for sub in ["run", "crds", "validate", "migrate", "plan", "apply"] {
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
    assert!(stdout(&out).contains("13 objects in 14 documents: valid"), "{}", stdout(&out));
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
    let kind_ns_name = regex::Regex::new(r": [A-Za-z]+/default/[a-z0-9-]+: ").expect("regex");
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
