//! The operator image, really built and run: `tests/tools/image.sh` rebuilds the Dockerfile's
//! runtime stage on a Debian root filesystem (the Dockerfile's base images live in registries
//! these machines cannot reach), and podman runs it the way the chart does, against the test
//! control plane, PostgreSQL and SMTP on the host network, until the examples are Ready.
//!
//! ```text
//! Dockerfile ── runtime stage ──> image.sh containerfile ──> podman build (FROM the rootfs)
//!      │                                                          │
//!      └─ support::dockerfile::ImageSpec ══ equal ══ podman image inspect's Config
//!
//! podman run --network host --read-only --user 65532 (kubeconfig mounted read-only)
//!   /accountops run  ──> kube-apiserver, PostgreSQL (a fresh database), aiosmtpd
//! kubectl apply -f examples/ ──> every object Ready (or waiting with its reason) ──> podman stop
//! ```
//!
//! CI builds debug only, so the test puts the debug binary (`CARGO_BIN_EXE_accountops`) in the
//! image; `tests/tools/image.sh build` run by hand takes the release binary.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize as _;
use serde_json::Value;

use crate::harness::{self, TestEnv};
use crate::store_pg;
use crate::support::dockerfile::{self, ImageSpec, Stage};
use crate::support::podman::{IMAGE_SH, Podman};
use crate::support::smtp::{Security, SmtpServer};
use crate::support::{eventually, http};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KINDS: &str = "accounts,organizations,memberships,tenantlinks,provisioningsyncs";
const WAIT: Duration = Duration::from_secs(90);
/// For all examples to settle: the image runs with the chart's defaults, and under CI load the
/// two links redeeming one provider's codes in turn take a while.
const SETTLE: Duration = Duration::from_secs(180);
/// The container log lines a failure prints (the whole log is kept under the target dir).
const LOG_TAIL: usize = 60;
/// The examples that wait for something outside the cluster, and why (see the README): the
/// SCIM system that does not exist is unreachable, then its breaker opens.
const WAITING: [(&str, &str, &[&str]); 2] = [
    ("TenantLink", "acme-retail-invites-logistics-partner", &["PartnerNotFound"]),
    ("ProvisioningSync", "acme-provisioning", &["Unreachable", "CircuitOpen"]),
];

/// The Dockerfile's last stage: the runtime image.
fn runtime_stage(text: &str) -> Stage {
    dockerfile::stages(text).pop().expect("a FROM")
}

fn dockerfile_text() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).expect("Dockerfile")
}

fn image_sh(args: &[&str], dockerfile: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new(IMAGE_SH);
    cmd.args(args);
    if let Some(path) = dockerfile {
        cmd.env("ACCOUNTOPS_DOCKERFILE", path);
    }
    cmd.output().expect("image.sh runs")
}

// ---- the description, no podman ----

#[test]
fn image_sh_builds_the_dockerfiles_runtime_stage_with_only_the_base_and_the_binarys_source_changed() {
    let out = image_sh(&["containerfile", "localhost/accountops-base:test"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = dockerfile::stages(&String::from_utf8_lossy(&out.stdout));
    let [generated] = generated.as_slice() else { panic!("one stage: {generated:?}") };
    let runtime = runtime_stage(&dockerfile_text());
    assert_eq!(generated.from, "localhost/accountops-base:test");
    assert_eq!(generated.spec(), runtime.spec(), "entrypoint, command, user, labels and binary path");

    let spec = runtime.spec();
    let binary = spec.binary.as_deref().expect("the runtime stage copies the binary");
    let expected: Vec<(String, String)> = runtime
        .instructions
        .iter()
        .map(|(keyword, rest)| match keyword.as_str() {
            "COPY" if rest.starts_with("--from=") => (keyword.clone(), format!("accountops {binary}")),
            _ => (keyword.clone(), rest.clone()),
        })
        .collect();
    assert_eq!(generated.instructions, expected, "every other line is the Dockerfile's own");
    assert_eq!(spec.entrypoint.first().map(String::as_str), Some(binary), "the entrypoint is the binary copied in");
}

#[test]
fn image_sh_refuses_a_missing_binary_and_a_runtime_stage_it_cannot_rebuild() {
    let missing = image_sh(&["build", "/nonexistent/accountops"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no binary at /nonexistent/accountops"), "{missing:?}");

    let dir = tempfile::tempdir().expect("tempdir");
    let dockerfile = dir.path().join("Dockerfile");
    let runtime = "FROM rust:1 AS build\nFROM gcr.io/distroless/cc-debian12:nonroot";
    let cases = [
        ("# nothing".to_owned(), "has no FROM"),
        (
            "FROM rust:1 AS build\nFROM gcr.io/distroless/cc-debian11:nonroot".to_owned(),
            "cannot tell the Debian release of the runtime base",
        ),
        (
            format!("{runtime}\nCOPY --from=build /a /a\nCOPY --from=build /b /b"),
            "must copy one file from the build stage (the binary), found 2",
        ),
        (format!("{runtime}\nUSER 65532"), "found 0"),
        (format!("{runtime}\nCOPY --from=build /a /b /c"), "expected COPY --from=STAGE SOURCE DEST"),
    ];
    for (text, message) in cases {
        std::fs::write(&dockerfile, format!("{text}\n")).expect("write");
        let out = image_sh(&["build", env!("CARGO_BIN_EXE_accountops")], Some(&dockerfile));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {stderr}");
        assert!(stderr.contains(message), "{text}: {stderr}");
    }
}

// ---- built and run ----

/// `podman image inspect`'s Config as an [`ImageSpec`] (the binary path is not part of it).
fn spec_of(config: &Value) -> ImageSpec {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
    };
    let labels = config["Labels"].as_object().into_iter().flatten();
    ImageSpec {
        user: config["User"].as_str().map(str::to_owned),
        entrypoint: strings(&config["Entrypoint"]),
        cmd: strings(&config["Cmd"]),
        labels: labels.filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect(),
        binary: None,
    }
}

/// (kind, name) of every accountops object in examples/.
fn example_objects() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(Path::new(ROOT).join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("example");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let Some(doc) = Option::<Value>::deserialize(doc).expect("example YAML") else { continue };
            if doc["apiVersion"].as_str().is_some_and(|v| v.starts_with("accountops.dev/")) {
                let name = doc["metadata"]["name"].as_str().expect("name");
                objects.push((doc["kind"].as_str().expect("kind").to_owned(), name.to_owned()));
            }
        }
    }
    objects
}

/// (kind, name) -> (Ready status, reason) of every object whose Ready is at its generation.
async fn readiness(env: &TestEnv) -> BTreeMap<(String, String), (String, String)> {
    let out = env.kubectl(["get", KINDS, "-o", "json"]).await.ok();
    let list: Value = serde_json::from_str(&out.stdout).expect("kubectl JSON");
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|obj| {
            let conditions = obj["status"]["conditions"].as_array()?;
            let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
            (ready["observedGeneration"] == obj["metadata"]["generation"]).then_some(())?;
            let key = (obj["kind"].as_str()?.to_owned(), obj["metadata"]["name"].as_str()?.to_owned());
            Some((key, (ready["status"].as_str()?.to_owned(), ready["reason"].as_str()?.to_owned())))
        })
        .collect()
}

/// The admin kubeconfig with certificates inline, readable by the container's user.
async fn flat_kubeconfig(env: &TestEnv, dir: &Path) -> std::path::PathBuf {
    let out = env.plane.kubectl().args(["config", "view", "--raw", "--flatten", "--minify"]).run().await.ok();
    let path = dir.join("kubeconfig");
    std::fs::write(&path, out.stdout).expect("write kubeconfig");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod kubeconfig");
    path
}

/// The image's files: the binary at the Dockerfile's path, and what image.sh adds to the Debian
/// packages as distroless does (the CA bundle, the `nonroot` user).
async fn assert_contents(podman: &Podman, tag: &str, binary: &str) {
    let mounted = podman.podman().args(["image", "mount", tag]).run().await.ok();
    let root = Path::new(mounted.stdout.trim());
    let copied = root.join(binary.trim_start_matches('/'));
    let same = Command::new("cmp").arg("-s").arg(env!("CARGO_BIN_EXE_accountops")).arg(&copied).status();
    assert!(same.expect("cmp runs").success(), "{binary} in the image is the binary built");
    let mode = std::fs::metadata(&copied).expect("the binary in the image").permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "{binary} is executable by anyone: {mode:o}");
    let bundle = std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).expect("the CA bundle");
    assert!(bundle.matches("BEGIN CERTIFICATE").count() > 100, "the CA bundle holds Debian's roots");
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("/etc/passwd");
    assert!(passwd.lines().any(|l| l.starts_with("nonroot:x:65532:65532:")), "{passwd}");
    podman.podman().args(["image", "unmount", tag]).run().await.ok();
}

/// The uid the container's main process runs as, seen from the host (no user namespace).
async fn container_uid(podman: &Podman, name: &str) -> String {
    let out = podman.podman().args(["inspect", "--format", "{{.State.Pid}}", name]).run().await.ok();
    let status = std::fs::read_to_string(format!("/proc/{}/status", out.stdout.trim())).expect("/proc/PID/status");
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).expect("Uid line");
    uid.split_whitespace().next().expect("real uid").to_owned()
}

#[tokio::test]
async fn the_image_built_here_runs_the_operator_read_only_and_non_root_until_the_examples_are_ready() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let Some(smtp) = SmtpServer::start(Security::Plain).await else { return };
    let Some(podman) = Podman::new() else { return };
    let tag = "localhost/accountops:it";
    podman.build(Path::new(env!("CARGO_BIN_EXE_accountops")), tag).await;
    let expected = runtime_stage(&dockerfile_text()).spec();
    let built = spec_of(&podman.config(tag).await);
    assert_eq!((&built.user, &built.entrypoint, &built.cmd), (&expected.user, &expected.entrypoint, &expected.cmd));
    for (key, value) in &expected.labels {
        assert_eq!(built.labels.get(key), Some(value), "label {key} in {:?}", built.labels);
    }

    assert_contents(&podman, tag, expected.binary.as_deref().expect("the binary's path")).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = flat_kubeconfig(&env, dir.path()).await;
    let health = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    let name = format!("accountops-{}", env.ns);
    // As the chart runs it: read-only root with a writable /tmp only, configured through the
    // environment, the image's own command (`run`).
    let vars = [
        format!("DATABASE_URL={}", db.url),
        format!("SMTP_URL={}", smtp.url()),
        format!("WATCH_NAMESPACE={}", env.ns),
        format!("ACCOUNTOPS_CLUSTER_ID=image-{}", env.ns),
        format!("HEALTH_ADDR={health}"),
        "KUBECONFIG=/etc/accountops/kubeconfig".to_owned(),
    ];
    let mut args: Vec<String> = ["--rm", "--name", &name, "--network", "host", "--user", "65532"]
        .into_iter()
        .chain(["--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp"])
        .map(str::to_owned)
        .collect();
    args.extend(["--volume".to_owned(), format!("{}:/etc/accountops/kubeconfig:ro", kubeconfig.display())]);
    args.extend(vars.iter().flat_map(|v| ["--env".to_owned(), v.clone()]));
    args.push(tag.to_owned());
    let log = dir.path().join("container.log");
    let mut container = podman.run(&args, &log);
    let log_on_panic = LogOnPanic(&log);

    eventually("/readyz to answer 200 from the container", WAIT, || async {
        (http::get(health, "/readyz").await?.0 == 200).then_some(())
    })
    .await;
    assert_eq!(container_uid(&podman, &name).await, "65532", "the operator runs as user 65532");

    env.kubectl(["apply", "-f", &format!("{ROOT}/examples")]).await.ok();
    let objects = example_objects();
    let settled = |seen: &BTreeMap<(String, String), (String, String)>| {
        objects.iter().all(|(kind, name)| {
            let Some((status, reason)) = seen.get(&(kind.clone(), name.clone())) else { return false };
            match WAITING.iter().find(|(k, n, _)| k == kind && n == name) {
                Some((_, _, waiting)) => status == "False" && waiting.contains(&reason.as_str()),
                None => status == "True",
            }
        })
    };
    let deadline = Instant::now() + SETTLE;
    loop {
        let seen = readiness(&env).await;
        if settled(&seen) {
            break;
        }
        if Instant::now() >= deadline {
            // The log first, then the panic: CI shows the end of the output.
            log_on_panic.print();
            std::mem::forget(log_on_panic);
            panic!("every example Ready, or waiting with its reason, within {SETTLE:?}: {seen:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mails = eventually("the five invitation mails", WAIT, || async {
        let mails = smtp.messages();
        (mails.len() >= 5).then_some(mails)
    })
    .await;
    assert_eq!(mails.len(), 5, "one per example login");

    // SIGTERM to the container's PID 1, the operator itself: it shuts down cleanly (exit 0),
    // not killed at the end of the grace period.
    podman.podman().args(["stop", "--time", "30", &name]).run().await.ok();
    let status = eventually("podman run to exit", WAIT, || {
        let exited = container.exited();
        async move { exited }
    })
    .await;
    assert!(status.success(), "the operator exits 0 on SIGTERM: {status:?}");
    drop(log_on_panic);
}

/// Prints the end of the container's log when the test fails, and keeps all of it.
struct LogOnPanic<'a>(&'a Path);

impl LogOnPanic<'_> {
    fn print(&self) {
        let log = std::fs::read_to_string(self.0).unwrap_or_default();
        let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image-container.log");
        let kept = match std::fs::write(&kept, &log) {
            Ok(()) => kept.display().to_string(),
            Err(e) => format!("not kept: {e}"),
        };
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n");
        eprintln!("---- end of the container log (all of it: {kept}) ----\n{tail}\n---- end ----");
    }
}

impl Drop for LogOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print();
        }
    }
}
