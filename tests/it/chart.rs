//! The Helm chart (`charts/accountops`) and the container image, checked the way a platform
//! team meets them: `helm lint`/`helm template` with the values they would set, the rendered
//! manifests sent to a real kube-apiserver, `helm install`, and the operator binary running with
//! nothing but the chart's ServiceAccount, proving its RBAC is enough and no broader.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize as _;
use serde_json::Value;

use crate::harness::{self, Credential, TestEnv};
use crate::store_pg;
use crate::support::operator::Operator;
use crate::support::{eventually, http};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub(crate) const KINDS: [&str; 5] = ["accounts", "organizations", "memberships", "tenantlinks", "provisioningsyncs"];

pub(crate) fn chart() -> PathBuf {
    Path::new(ROOT).join("charts/accountops")
}

fn read(path: impl AsRef<Path>) -> String {
    let path = Path::new(ROOT).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `helm template` of the chart as release `accountops` in `env`'s namespace; the documents.
pub(crate) async fn render(env: &TestEnv, set: &[&str]) -> (String, Vec<Value>) {
    let mut helm = env.helm().args(["template", "accountops"]).arg(chart());
    for value in set {
        helm = helm.args(["--set", value]);
    }
    let out = helm.run().await.ok();
    let docs = documents(&out.stdout);
    (out.stdout, docs)
}

/// `kubectl apply --dry-run=server` of `manifests`: the apiserver (schemas, admission) accepts
/// every object; the output, to count them.
pub(crate) async fn server_accepts(env: &TestEnv, manifests: String) -> String {
    let out = env.kubectl_cmd().args(["apply", "--dry-run=server", "-f", "-"]).stdin(manifests).run().await;
    assert!(out.success(), "{out:?}");
    out.stdout
}

/// `helm template` with each `--set` of `cases` fails, its message naming the value.
pub(crate) async fn refused_naming(env: &TestEnv, cases: &[(&str, &str)]) {
    for (set, named) in cases {
        let out = env.helm().args(["template", "accountops"]).arg(chart()).args(["--set", set]).run().await;
        let out = out.failed();
        assert!(out.stderr.contains(named), "{set}: names {named}: {}", out.stderr);
    }
}

/// The documents of a multi-document YAML stream (empty ones dropped).
pub(crate) fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|doc| Option::<Value>::deserialize(doc).expect("rendered YAML"))
        .collect()
}

pub(crate) fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

pub(crate) fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    match of_kind(docs, kind).as_slice() {
        [doc] => doc,
        found => panic!("expected one {kind}, found {}", found.len()),
    }
}

/// The one `kind` named `name`.
pub(crate) fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    match of_kind(docs, kind).into_iter().filter(|d| d["metadata"]["name"] == name).collect::<Vec<_>>().as_slice() {
        [doc] => doc,
        found => panic!("expected one {kind} {name}, found {}", found.len()),
    }
}

pub(crate) fn strings(value: &Value) -> Vec<&str> {
    value.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Every resource (with `/subresource`) a rule set grants `verb` on.
pub(crate) fn granted<'a>(rules: &'a Value, verb: &str) -> BTreeSet<&'a str> {
    let rules = rules.as_array().expect("rules");
    rules.iter().filter(|r| strings(&r["verbs"]).contains(&verb)).flat_map(|r| strings(&r["resources"])).collect()
}

// ---- files, no cluster ----

#[test]
fn chart_crds_are_the_repository_crds() {
    let listing = |dir: &str| -> BTreeSet<String> {
        std::fs::read_dir(Path::new(ROOT).join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    let (ours, chart) = (listing("crds"), listing("charts/accountops/crds"));
    assert_eq!(
        chart, ours,
        "charts/accountops/crds must hold the same files as crds/: cp crds/* charts/accountops/crds/"
    );
    for file in ours {
        assert!(
            read(format!("crds/{file}")) == read(format!("charts/accountops/crds/{file}")),
            "charts/accountops/crds/{file} differs from crds/{file}: cp crds/* charts/accountops/crds/"
        );
    }
}

/// Dotted paths of every value the schema declares, down to the values it does not describe.
fn schema_paths(schema: &Value, prefix: &str, out: &mut Vec<String>) {
    for (key, property) in schema["properties"].as_object().into_iter().flatten() {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if property["properties"].is_object() {
            schema_paths(property, &path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_value_is_documented_in_the_chart_readme() {
    let readme = read("charts/accountops/README.md");
    let schema: Value = serde_json::from_str(&read("charts/accountops/values.schema.json")).expect("schema JSON");
    let values = yaml("charts/accountops/values.yaml");
    let mut paths: Vec<String> = values.as_object().expect("values").keys().cloned().collect();
    schema_paths(&schema, "", &mut paths);
    let undocumented: Vec<&String> =
        paths.iter().filter(|p| !readme.contains(&format!("`{p}`")) && !readme.contains(&format!("`{p}."))).collect();
    assert!(undocumented.is_empty(), "values missing from charts/accountops/README.md: {undocumented:?}");
    for key in values.as_object().expect("values").keys() {
        assert!(schema["properties"][key].is_object(), "values.schema.json describes {key}");
    }
}

/// The Dockerfile's stages: (the FROM line, the instructions after it).
fn stages(dockerfile: &str) -> Vec<(String, Vec<String>)> {
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    // Continuation lines joined, comments dropped: one instruction per entry.
    let joined = dockerfile.replace("\\\n", " ");
    for line in joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        match stages.last_mut() {
            _ if line.starts_with("FROM ") => stages.push((line.to_owned(), Vec::new())),
            Some((_, instructions)) => instructions.push(line.to_owned()),
            None => panic!("instruction before the first FROM: {line}"),
        }
    }
    stages
}

#[test]
fn the_image_is_multi_stage_non_root_and_holds_only_the_binary() {
    let dockerfile = read("Dockerfile");
    let stages = stages(&dockerfile);
    assert!(stages.len() >= 2, "a build stage and a runtime stage");
    let (build_from, build) = &stages[0];
    assert!(build_from.starts_with("FROM rust:") && build_from.ends_with(" AS build"), "{build_from}");
    assert!(build.iter().any(|i| i.starts_with("RUN") && i.contains("cargo build --release --locked")), "{build:?}");

    let (runtime_from, runtime) = stages.last().expect("runtime stage");
    assert!(runtime_from.contains("distroless") && runtime_from.ends_with(":nonroot"), "{runtime_from}");
    let user = runtime.iter().rfind(|i| i.starts_with("USER ")).expect("an explicit USER");
    assert!(matches!(user.as_str(), "USER 65532:65532" | "USER 65532" | "USER nonroot"), "{user}");
    let copies: Vec<&String> = runtime.iter().filter(|i| i.starts_with("COPY") || i.starts_with("ADD")).collect();
    assert_eq!(copies, ["COPY --from=build /accountops /accountops"], "the runtime image gets the binary only");
    assert!(!runtime.iter().any(|i| i.starts_with("RUN")), "nothing runs in the runtime stage");
    assert!(runtime.contains(&r#"ENTRYPOINT ["/accountops"]"#.to_owned()), "{runtime:?}");
    assert!(runtime.contains(&r#"CMD ["run"]"#.to_owned()), "{runtime:?}");

    // .dockerignore keeps everything out, then lets back in exactly what the build stage copies.
    let ignore = read(".dockerignore");
    let rules: Vec<&str> = ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert_eq!(rules.first(), Some(&"*"), "{rules:?}");
    for copy in build.iter().filter(|i| i.starts_with("COPY ")) {
        let words: Vec<&str> = copy.split_whitespace().skip(1).collect();
        for source in &words[..words.len() - 1] {
            let source = source.trim_end_matches('/');
            assert!(
                rules.contains(&format!("!{source}").as_str()) || rules.contains(&format!("!{source}/").as_str()),
                "{source} is copied but excluded by .dockerignore"
            );
        }
    }
}

#[test]
fn the_chart_runs_the_image_the_dockerfile_builds_at_the_crate_version() {
    let chart = yaml("charts/accountops/Chart.yaml");
    let values = yaml("charts/accountops/values.yaml");
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"), "Chart.yaml appVersion is the crate version");
    assert_eq!(values["image"]["tag"], "", "the tag defaults to appVersion");
    let image =
        format!("{}:{}", values["image"]["repository"].as_str().expect("repository"), env!("CARGO_PKG_VERSION"));
    assert!(read("Dockerfile").contains(&format!("docker build -t {image} .")), "the Dockerfile builds {image}");
    assert!(read("charts/accountops/README.md").contains(&image), "the chart README names {image}");
}

// ---- helm and the apiserver ----

#[tokio::test]
async fn helm_lint_passes() {
    let Some(env) = harness::test_env().await else { return };
    let out = env.helm().args(["lint", "--strict"]).arg(chart()).run().await.ok();
    assert!(out.stdout.contains("0 chart(s) failed"), "{out:?}");
}

#[tokio::test]
async fn every_value_combination_renders_and_the_apiserver_accepts_it() {
    let Some(env) = harness::test_env().await else { return };
    // A stand-in for the Prometheus Operator's CRD, so the ServiceMonitor is checked too.
    crate::chart_monitoring::install_stand_in_crd(&env, "ServiceMonitor", "servicemonitors").await;

    let watch = format!("watchNamespace={}", env.ns);
    let combinations: [&[&str]; 5] = [
        &[],
        &[&watch, "clusterId=cluster-a"],
        &["replicas=2", "podDisruptionBudget.enabled=true", "metrics.serviceMonitor.enabled=true"],
        &["database.existingSecret=platform-db", "database.existingSecretKey=dsn", "smtp.existingSecret=mail"],
        &[
            "database.tls.mode=verify-full",
            "database.tls.caSecret=platform-db-ca",
            "scim.endpointPolicy.allowHttp=true",
            "scim.endpointPolicy.allowCidrs={10.20.0.0/16,fd00:1::/64}",
            "scim.endpointPolicy.allowedHosts={scim.example.com,*.okta.example}",
        ],
    ];
    for set in combinations {
        let (manifests, docs) = render(&env, set).await;
        let applied = server_accepts(&env, manifests).await;
        assert_eq!(applied.matches("(server dry run)").count(), docs.len(), "{set:?}: {applied}");
    }
}

#[tokio::test]
async fn the_deployment_is_locked_down_and_probed_on_the_health_endpoints() {
    let Some(env) = harness::test_env().await else { return };
    let (_, docs) = render(&env, &[]).await;
    let pod = &one(&docs, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], container["ports"][0]["name"]);
    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(container["resources"][bound][resource].is_string(), "resources.{bound}.{resource} set");
        }
    }
    assert_eq!(container["image"], format!("ghcr.io/accountops/accountops:{}", env!("CARGO_PKG_VERSION")));

    let env_var = |docs: &[Value], name: &str| -> Value {
        let container = &one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
        container["env"].as_array().expect("env").iter().find(|e| e["name"] == name).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(env_var(&docs, "POD_NAMESPACE")["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");
    assert_eq!(env_var(&docs, "POD_NAME")["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    assert_eq!(env_var(&docs, "LEADER_ELECTION"), Value::Null, "one replica: no election");
    assert_eq!(env_var(&docs, "SMTP_URL"), Value::Null, "no SMTP configured");
    assert!(of_kind(&docs, "Secret").is_empty(), "no URL given, no Secret rendered");

    // Two replicas elect a leader; URLs from existing Secrets are referenced, never copied.
    let (_, docs) =
        render(&env, &["replicas=2", "database.existingSecret=platform-db", "smtp.existingSecret=mail"]).await;
    assert_eq!(env_var(&docs, "LEADER_ELECTION")["value"], "true");
    assert_eq!(env_var(&docs, "DATABASE_URL")["valueFrom"]["secretKeyRef"]["name"], "platform-db");
    assert_eq!(env_var(&docs, "SMTP_URL")["valueFrom"]["secretKeyRef"]["name"], "mail");
    assert!(of_kind(&docs, "Secret").is_empty());
    let args = strings(&one(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(args.contains(&"--lease-name=accountops-leader"), "{args:?}");
    let lease_role = one(&docs, "Role");
    assert_eq!(strings(&lease_role["rules"][1]["resourceNames"]), ["accountops-leader"], "only the chart's Lease");

    // A URL given as a value goes into the release's Secret, not into the pod spec.
    let (_, docs) = render(&env, &["database.url=postgres://u:secret@db/platform"]).await;
    assert_eq!(one(&docs, "Secret")["stringData"]["database-url"], "postgres://u:secret@db/platform");
    assert!(!one(&docs, "Deployment").to_string().contains("secret@db"), "the URL stays out of the Deployment");
}

#[tokio::test]
async fn the_scim_policy_and_the_database_ca_reach_the_pod() {
    let Some(env) = harness::test_env().await else { return };
    let container = |docs: &[Value]| one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0].clone();
    let args_of = |docs: &[Value]| strings(&container(docs)["args"]).into_iter().map(str::to_owned).collect::<Vec<_>>();
    // By default: loopback (the pod itself) denied, no plain http, the documented limits.
    let (_, docs) = render(&env, &[]).await;
    let args = args_of(&docs);
    for arg in [
        "--scim-deny-loopback",
        "--scim-rate-per-minute=600",
        "--scim-breaker-failures=5",
        "--scim-breaker-cool-down=30s",
        "--scim-connect-timeout=5s",
        "--scim-timeout=20s",
        "--scim-max-response-bytes=2Mi",
        "--scim-max-resources=10000",
    ] {
        assert!(args.iter().any(|a| a == arg), "{arg} in {args:?}");
    }
    assert!(!args.iter().any(|a| a.starts_with("--scim-allow")), "{args:?}");
    let env_names = |docs: &[Value]| -> Vec<String> {
        container(docs)["env"]
            .as_array()
            .expect("env")
            .iter()
            .filter_map(|e| e["name"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(!env_names(&docs).iter().any(|n| n.starts_with("PGSSL")), "no TLS settings unless asked");

    let (_, docs) = render(
        &env,
        &[
            "scim.endpointPolicy.allowLoopback=true",
            "scim.endpointPolicy.allowHttp=true",
            "scim.endpointPolicy.allowCidrs={10.20.0.0/16,fd00:1::/64}",
            "scim.endpointPolicy.denyCidrs={203.0.113.0/24}",
            "scim.endpointPolicy.allowedHosts={scim.example.com,*.okta.example}",
            "scim.maxResources=1000000",
            "database.tls.mode=verify-full",
            "database.tls.caSecret=platform-db-ca",
            "database.tls.caSecretKey=root.crt",
        ],
    )
    .await;
    let args = args_of(&docs);
    for arg in [
        "--scim-allow-http",
        "--scim-allow-cidr=10.20.0.0/16,fd00:1::/64",
        "--scim-deny-cidr=203.0.113.0/24",
        "--scim-allowed-hosts=scim.example.com,*.okta.example",
        "--scim-max-resources=1000000",
    ] {
        assert!(args.iter().any(|a| a == arg), "{arg} in {args:?}");
    }
    assert!(!args.iter().any(|a| a == "--scim-deny-loopback"), "{args:?}");
    let c = container(&docs);
    let var = |name: &str| c["env"].as_array().expect("env").iter().find(|e| e["name"] == name).cloned();
    assert_eq!(var("PGSSLMODE").map(|v| v["value"].clone()), Some(Value::from("verify-full")));
    assert_eq!(
        var("PGSSLROOTCERT").map(|v| v["value"].clone()),
        Some(Value::from("/etc/accountops/postgres-ca/ca.crt"))
    );
    let mount = c["volumeMounts"].as_array().expect("mounts").iter().find(|m| m["name"] == "postgres-ca").cloned();
    assert_eq!(
        mount.map(|m| (m["mountPath"].clone(), m["readOnly"].clone())),
        Some(("/etc/accountops/postgres-ca".into(), true.into()))
    );
    let volumes = &one(&docs, "Deployment")["spec"]["template"]["spec"]["volumes"];
    let ca = volumes.as_array().expect("volumes").iter().find(|v| v["name"] == "postgres-ca").expect("the CA volume");
    assert_eq!(ca["secret"]["secretName"], "platform-db-ca");
    assert_eq!(
        (ca["secret"]["items"][0]["key"].clone(), ca["secret"]["items"][0]["path"].clone()),
        ("root.crt".into(), "ca.crt".into())
    );
}

#[tokio::test]
async fn rbac_names_status_and_finalizers_and_the_namespaced_mode_is_not_cluster_wide() {
    let Some(env) = harness::test_env().await else { return };
    let operator_role = format!("{}-accountops", env.ns);
    let (_, docs) = render(&env, &[]).await;
    let rules = &named(&docs, "ClusterRole", &operator_role)["rules"];
    for kind in KINDS {
        assert!(granted(rules, "patch").contains(format!("{kind}/status").as_str()), "{kind}/status: {rules}");
        assert!(granted(rules, "update").contains(format!("{kind}/finalizers").as_str()), "{kind}/finalizers");
        assert!(granted(rules, "watch").contains(kind), "{kind}");
    }
    let deleted = granted(rules, "delete");
    assert!(deleted.iter().all(|r| *r == "secrets"), "the operator deletes none of its kinds: {rules}");
    assert!(granted(rules, "create").iter().all(|r| ["events", "secrets"].contains(r)), "{rules}");
    assert!(granted(rules, "get").contains("namespaces"), "kube-system for the default cluster id");

    let (_, docs) = render(&env, &["clusterId=cluster-a", "rbac.secrets=false"]).await;
    let rules = &named(&docs, "ClusterRole", &operator_role)["rules"];
    assert!(!granted(rules, "get").contains("namespaces"), "clusterId given: no namespace access");
    assert!(!granted(rules, "get").contains("secrets"), "rbac.secrets=false: no Secrets");
    assert!(granted(rules, "delete").is_empty(), "rbac.secrets=false: it deletes nothing");

    let (_, docs) = render(&env, &[&format!("watchNamespace={}", env.ns), "clusterId=cluster-a"]).await;
    assert!(of_kind(&docs, "ClusterRole").is_empty() && of_kind(&docs, "ClusterRoleBinding").is_empty());
    let role = one(&docs, "Role");
    assert_eq!(role["metadata"]["namespace"], env.ns.as_str());
    assert!(granted(&role["rules"], "list").contains("secrets"));
    assert!(granted(&role["rules"], "patch").contains("accounts/status"));
}

#[tokio::test]
async fn bad_values_are_rejected_naming_the_value() {
    let Some(env) = harness::test_env().await else { return };
    refused_naming(
        &env,
        &[
            ("replicas=two", "replicas"),
            ("replica=2", "replica"),
            ("logFormat=xml", "logFormat"),
            ("resync=soon", "resync"),
            ("watchNamespace=team-a", "clusterId"),
            ("database.tls.mode=verify", "mode"),
            ("scim.endpointPolicy.allowCidrs={10.0.0.0}", "allowCidrs"),
            ("scim.timeout=soon", "timeout"),
            ("scim.maxResponseBytes=2G", "maxResponseBytes"),
        ],
    )
    .await;
}

#[tokio::test]
async fn helm_install_creates_the_objects_and_says_what_is_missing() {
    let Some(env) = harness::test_env().await else { return };
    let out = env.helm().args(["install", "accountops"]).arg(chart()).run().await.ok();
    assert!(out.stdout.contains("STATUS: deployed"), "{out:?}");
    assert!(out.stdout.contains("create secret generic accountops-database"), "NOTES say what to create: {out:?}");
    assert!(out.stdout.contains("--clusterrole=edit"), "NOTES say how tenants get the kinds: {out:?}");
    let cluster_role = format!("clusterrole/{}-accountops", env.ns);
    let (view, edit) = (format!("{cluster_role}-view"), format!("{cluster_role}-edit"));
    env.kubectl([
        "get",
        "deployment/accountops",
        "serviceaccount/accountops",
        "service/accountops-metrics",
        &cluster_role,
        &view,
        &edit,
    ])
    .await
    .ok();
    // Cluster-scoped objects outlive the namespace on the shared plane.
    env.helm().args(["uninstall", "accountops", "--wait"]).run().await.ok();
}

/// `kubectl auth can-i` as `credential`; panics on anything but a plain yes or no (a typo in
/// a resource name must not pass as "no").
pub(crate) async fn can_i(env: &TestEnv, credential: &Credential, args: &[&str]) -> bool {
    let out = env.kubectl_as(credential).args(["auth", "can-i"]).args(args).run().await;
    match out.stdout.trim() {
        "yes" => true,
        "no" if out.stderr.trim().is_empty() => false,
        _ => panic!("{out:?}"),
    }
}

#[tokio::test]
async fn the_operator_reconciles_the_examples_with_the_chart_rbac_and_no_more() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let cluster = format!("test-{}", env.ns);
    env.helm()
        .args(["install", "accountops"])
        .arg(chart())
        .args(["--set", &format!("watchNamespace={}", env.ns), "--set", &format!("clusterId={cluster}")])
        .args(["--set", "leaderElection.enabled=true", "--set", &format!("database.url={}", db.url)])
        .run()
        .await
        .ok();
    let managed_by = env
        .kubectl([
            "get",
            "serviceaccount",
            "accountops",
            "-o",
            r"jsonpath={.metadata.labels.app\.kubernetes\.io/managed-by}",
        ])
        .await
        .ok();
    assert_eq!(managed_by.stdout, "Helm", "the chart created the ServiceAccount");
    // A token of the chart's ServiceAccount, as the kubelet would mount it.
    let sa = env.service_account("accountops").await;

    let lease_namespace = format!("--lease-namespace={}", env.ns);
    let extra = ["--leader-election", "--lease-name=accountops-leader", &lease_namespace];
    let operator = Operator::start_as(&env, &sa, &db.url, &cluster, Duration::from_secs(2), &extra);
    env.kubectl(["apply", "-f", &format!("{ROOT}/examples")]).await.ok();
    // Only Accounts and Organizations are reconciled so far.
    env.kubectl(["wait", "--for=condition=Ready", "accounts,organizations", "--all", "--timeout=90s"]).await.ok();
    eventually("/readyz to answer 200", Duration::from_secs(30), || async {
        (http::get(operator.health, "/readyz").await?.0 == 200).then_some(())
    })
    .await;
    let holder = env.kubectl(["get", "lease", "accountops-leader", "-o", "jsonpath={.spec.holderIdentity}"]).await.ok();
    assert!(!holder.stdout.is_empty(), "the operator holds the chart's Lease");
    let reasons = env.kubectl(["get", "events.events.k8s.io", "-o", "jsonpath={.items[*].reason}"]).await.ok();
    assert!(reasons.stdout.contains("Created"), "Events recorded: {}", reasons.stdout);
    let log = operator.log().to_lowercase();
    assert!(!log.contains("forbidden"), "no request was refused:\n{log}");

    // What the chart grants, and nothing beyond it.
    for allowed in [
        &["list", "accounts.accountops.dev"][..],
        &["patch", "organizations.accountops.dev", "--subresource=status"],
        &["update", "tenantlinks.accountops.dev", "--subresource=finalizers"],
        &["create", "events.events.k8s.io"],
        &["list", "secrets"],
        // A provider's code Secret goes when the Organization stops being a provider.
        &["delete", "secrets"],
        &["update", "leases.coordination.k8s.io/accountops-leader"],
    ] {
        assert!(can_i(&env, &sa, allowed).await, "may {allowed:?}");
    }
    for refused in [
        &["list", "secrets", "--all-namespaces"][..],
        &["list", "secrets", "--namespace=default"],
        &["list", "accounts.accountops.dev", "--namespace=default"],
        &["delete", "accounts.accountops.dev"],
        &["delete", "secrets", "--namespace=default"],
        &["get", "namespaces/kube-system", "--all-namespaces"],
        &["update", "leases.coordination.k8s.io/someone-elses-lease"],
        &["create", "roles.rbac.authorization.k8s.io"],
    ] {
        assert!(!can_i(&env, &sa, refused).await, "must not {refused:?}");
    }
}

#[tokio::test]
async fn concurrency_and_the_database_pool_reach_the_args() {
    let Some(env) = harness::test_env().await else { return };
    let args = |docs: &[Value]| -> Vec<String> {
        let container = &one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
        strings(&container["args"]).into_iter().map(str::to_owned).collect()
    };
    let (_, docs) = render(&env, &[]).await;
    let defaults = args(&docs);
    for arg in ["--concurrency=8", "--database-acquire-timeout=5s"] {
        assert!(defaults.iter().any(|a| a == arg), "{arg} in {defaults:?}");
    }
    assert!(!defaults.iter().any(|a| a.starts_with("--database-max-connections")), "{defaults:?}");
    assert!(!defaults.iter().any(|a| a.starts_with("--database-statement-timeout")), "{defaults:?}");
    let set = ["concurrency=16", "database.maxConnections=20", "database.statementTimeout=30s"];
    let (_, docs) = render(&env, &set).await;
    let given = args(&docs);
    for arg in ["--concurrency=16", "--database-max-connections=20", "--database-statement-timeout=30s"] {
        assert!(given.iter().any(|a| a == arg), "{arg} in {given:?}");
    }
}
