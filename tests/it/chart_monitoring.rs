//! The chart's alerts and Grafana dashboard (`metrics.prometheusRule`, `metrics.dashboard`):
//! off by default; when on, rendered, accepted by the apiserver, every PromQL expression parses
//! (promql-parser, the Prometheus grammar) and every metric it names is one the real operator
//! serves on `/metrics`.

use std::collections::BTreeSet;
use std::time::Duration;

use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};
use serde_json::Value;

use crate::chart::{of_kind, one, render};
use crate::harness::{self, TestEnv};
use crate::provisioning_e2e;
use crate::store_pg;
use crate::support::operator::Operator;
use crate::support::proxy::Proxy;
use crate::support::{eventually, http};

const ON: [&str; 3] = [
    "metrics.prometheusRule.enabled=true",
    "metrics.dashboard.enabled=true",
    "metrics.prometheusRule.labels.release=kps",
];

const ALERTS: [&str; 6] = [
    "AccountopsObjectsNotReady",
    "AccountopsReconcileErrors",
    "AccountopsMailNotDelivered",
    "AccountopsMailDead",
    "AccountopsNoLeader",
    "AccountopsScimCircuitOpen",
];

/// A stand-in for one of the Prometheus Operator's CRDs: any content is accepted.
const STAND_IN_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: PLURAL.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: KIND, listKind: KINDList, plural: PLURAL, singular: SINGULAR}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

/// Installs [`STAND_IN_CRD`] for `kind`, so the apiserver checks what the chart renders of it.
pub(crate) async fn install_stand_in_crd(env: &TestEnv, kind: &str, plural: &str) {
    let crd = STAND_IN_CRD.replace("PLURAL", plural).replace("SINGULAR", &kind.to_lowercase()).replace("KIND", kind);
    env.apply(&crd).await;
    let name = format!("crd/{plural}.monitoring.coreos.com");
    env.kubectl(["wait", "--for=condition=Established", &name, "--timeout=30s"]).await.ok();
}

/// Parses `expr` and returns the metric names it selects.
fn metric_names(expr: &str) -> BTreeSet<String> {
    struct Names(BTreeSet<String>);
    impl ExprVisitor for Names {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
            let selector = match expr {
                Expr::VectorSelector(vs) => Some(vs),
                Expr::MatrixSelector(ms) => Some(&ms.vs),
                _ => None,
            };
            self.0.extend(selector.and_then(|s| s.name.clone()));
            Ok(true)
        }
    }
    let ast = parser::parse(expr).unwrap_or_else(|e| panic!("PromQL does not parse ({e}): {expr}"));
    let mut names = Names(BTreeSet::new());
    let Ok(_) = walk_expr(&mut names, &ast);
    assert!(!names.0.is_empty(), "names no metric: {expr}");
    names.0
}

/// The dashboard's Grafana variables, replaced by what Grafana would put there.
fn grafana_to_promql(expr: &str) -> String {
    let expr = expr.replace("$__rate_interval", "5m").replace("$namespace", ".*");
    assert!(!expr.contains('$'), "a variable the dashboard does not define: {expr}");
    expr
}

/// (where, expression) for every alert of the rule and every query of the dashboard.
fn queries(docs: &[Value]) -> Vec<(String, String)> {
    let rule = one(docs, "PrometheusRule");
    let mut out = Vec::new();
    for group in rule["spec"]["groups"].as_array().expect("groups") {
        for r in group["rules"].as_array().expect("rules") {
            let expr = r["expr"].as_str().expect("expr");
            out.push((format!("alert {}", r["alert"]), expr.to_owned()));
        }
    }
    for panel in dashboard(docs)["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            out.push((format!("panel {}", panel["title"]), grafana_to_promql(expr)));
        }
    }
    out
}

fn dashboard(docs: &[Value]) -> Value {
    let maps = of_kind(docs, "ConfigMap");
    let boards: Vec<_> = maps.into_iter().filter(|m| m["metadata"]["labels"]["grafana_dashboard"] == "1").collect();
    let [map] = boards[..] else { panic!("one ConfigMap labelled grafana_dashboard: \"1\", not {}", boards.len()) };
    let json = map["data"]["accountops.json"].as_str().expect("accountops.json");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("dashboard JSON: {e}"))
}

/// The sample names `/metrics` serves, from its `# TYPE` lines (OpenMetrics: a counter `x` is
/// sampled as `x_total`, a histogram as `x_bucket`, `x_sum`, `x_count`, an info as `x_info`),
/// so a family with no samples yet still counts.
fn served(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some((name, kind)) = line.strip_prefix("# TYPE ").and_then(|t| t.split_once(' ')) else { continue };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            "info" => &["_info"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
    }
    names
}

async fn server_accepts(env: &TestEnv, manifests: String) {
    install_stand_in_crd(env, "PrometheusRule", "prometheusrules").await;
    let out = env.kubectl_cmd().args(["apply", "--dry-run=server", "-f", "-"]).stdin(manifests).run().await;
    assert!(out.success(), "{out:?}");
}

#[tokio::test]
async fn alerts_and_dashboard_are_off_by_default_and_render_valid_when_on() {
    let Some(env) = harness::test_env().await else { return };
    let (_, docs) = render(&env, &[]).await;
    assert!(of_kind(&docs, "PrometheusRule").is_empty(), "no rule by default");
    let boards =
        of_kind(&docs, "ConfigMap").into_iter().filter(|m| m["metadata"]["labels"]["grafana_dashboard"] == "1");
    assert_eq!(boards.count(), 0, "no dashboard by default");

    let mut lint = env.helm().args(["lint", "--strict"]).arg(crate::chart::chart());
    for value in ON {
        lint = lint.args(["--set", value]);
    }
    let out = lint.run().await.ok();
    assert!(out.stdout.contains("0 chart(s) failed"), "{out:?}");
    let (manifests, docs) = render(&env, &ON).await;
    server_accepts(&env, manifests).await;
    let rule = one(&docs, "PrometheusRule");
    assert_eq!(rule["metadata"]["labels"]["release"], "kps", "the labels a Prometheus selects rules on");
    let rules: Vec<&Value> =
        rule["spec"]["groups"].as_array().into_iter().flatten().flat_map(|g| g["rules"].as_array()).flatten().collect();
    let alerts: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    assert_eq!(alerts, ALERTS);
    for r in &rules {
        assert!(["warning", "critical"].contains(&r["labels"]["severity"].as_str().unwrap_or_default()), "{r}");
        let summary = r["annotations"]["summary"].as_str().unwrap_or_default();
        assert!(!summary.is_empty() && !summary.contains("{{`"), "a Prometheus template, not Helm's: {r}");
    }
    let not_ready = rules.iter().find(|r| r["alert"] == ALERTS[0]).expect("the not-Ready alert");
    assert_eq!(not_ready["for"], "15m");
    let (_, docs) =
        render(&env, &["metrics.prometheusRule.enabled=true", "metrics.prometheusRule.notReadyFor=1h"]).await;
    let rule = one(&docs, "PrometheusRule");
    assert_eq!(rule["spec"]["groups"][0]["rules"][0]["for"], "1h");

    let (_, docs) = render(&env, &ON).await;
    let board = dashboard(&docs);
    assert_eq!(board["uid"], "accountops");
    let panels = board["panels"].as_array().expect("panels");
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        assert!(panel["targets"].as_array().is_some_and(|t| !t.is_empty()), "a panel without a query: {panel}");
    }
    // Every expression parses and names a metric (or the test panics saying which).
    for (place, expr) in queries(&docs) {
        assert!(!metric_names(&expr).is_empty(), "{place}");
    }
    let (_, docs) = render(&env, &["metrics.dashboard.enabled=true", "metrics.dashboard.namespace=monitoring"]).await;
    assert_eq!(one(&docs, "ConfigMap")["metadata"]["namespace"], "monitoring");
}

/// The operator's `/metrics` once it contains `series`.
async fn scrape_until(addr: std::net::SocketAddr, series: &str) -> String {
    eventually(series, Duration::from_secs(90), || async {
        let (status, body) = http::get(addr, "/metrics").await?;
        (status == 200 && body.contains(series)).then_some(body)
    })
    .await
}

#[tokio::test]
async fn every_metric_the_alerts_and_dashboard_name_is_served_by_the_operator() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let (_, docs) = render(&env, &ON).await;
    // A family with labels is served once it has a sample: the operator is made to reconcile,
    // fail a SCIM request (nothing listens on the discard port) and lose its database.
    let host_port = db.url.split('@').nth(1).and_then(|r| r.split('/').next()).expect("host:port");
    let target = tokio::net::lookup_host(host_port).await.expect("resolve").next().expect("address");
    let mut proxy = Proxy::start(target).await;
    let url = db.url.replace(&format!(":{}/", target.port()), &format!(":{}/", proxy.addr.port()));
    let operator = Operator::start(&env, &url, &format!("test-{}", env.ns), Duration::from_secs(2));
    env.apply(&provisioning_e2e::secret("t0ken")).await;
    env.apply(&provisioning_e2e::OBJECTS.replace("SCIM_URL", "http://127.0.0.1:9/scim/v2")).await;
    scrape_until(operator.health, r#"outcome="failed"}"#).await;
    scrape_until(operator.health, r#"accountops_objects{kind="ProvisioningSync"} 1"#).await;
    proxy.cut();
    let metrics = scrape_until(operator.health, "accountops_reconcile_errors_total{").await;
    let served = served(&metrics);
    let mut named = BTreeSet::new();
    for (place, expr) in queries(&docs) {
        for name in metric_names(&expr) {
            assert!(served.contains(&name), "{place} uses {name}, which /metrics does not serve:\n{metrics}");
            named.insert(name);
        }
    }
    for gauge in ["accountops_objects_not_ready", "accountops_objects_not_synced", "accountops_objects_paused"] {
        assert!(named.contains(gauge), "the alerts or the dashboard show {gauge}");
    }
}

#[test]
fn served_names_follow_the_openmetrics_suffixes() {
    let text = "# HELP a_x x.\n# TYPE a_x counter\na_x_total 1\n# TYPE a_d histogram\n# TYPE a_b info\n\
                # TYPE a_g gauge\n# EOF\n";
    let names: Vec<String> = served(text).into_iter().collect();
    assert_eq!(names, ["a_b_info", "a_d_bucket", "a_d_count", "a_d_sum", "a_g", "a_x_total"]);
    assert_eq!(
        metric_names("sum(rate(a_x_total[5m])) / on() group_left max(a_g{k=\"v\"})"),
        BTreeSet::from(["a_g".to_owned(), "a_x_total".to_owned()])
    );
}

#[tokio::test]
async fn bad_monitoring_values_are_rejected_naming_the_value() {
    let Some(env) = harness::test_env().await else { return };
    for (set, named) in [
        ("metrics.prometheusRule.notReadyFor=a while", "notReadyFor"),
        ("metrics.prometheusRule.enabled=yes", "enabled"),
        ("metrics.prometheusRule.severity=page", "severity"),
        ("metrics.dashboard.labels.grafana_dashboard=1", "grafana_dashboard"),
        ("metrics.dashboard.folder=ops", "folder"),
    ] {
        let out =
            env.helm().args(["template", "accountops"]).arg(crate::chart::chart()).args(["--set", set]).run().await;
        let out = out.failed();
        assert!(out.stderr.contains(named), "{set}: names {named}: {}", out.stderr);
    }
}
