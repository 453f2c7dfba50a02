//! Watching a list of namespaces (`run --namespace a,b`, the chart's `watchNamespaces`): the
//! chart grants a Role in each listed namespace and nothing cluster-wide, and the operator
//! reconciles objects there and never touches an object in any other namespace.

use std::process::Command;
use std::time::Duration;

use accountops::api::Account;
use accountops::store::testkit::TestDatabase;
use accountops::store::{ManagedTable, ownership};
use kube::api::Api;

use crate::chart::{self, of_kind, render, strings};
use crate::harness::{self, Credential, TestEnv};
use crate::operator::{ACCOUNT, wait_ready};
use crate::store_pg;
use crate::support::operator::Operator;

/// `kubectl auth can-i` as `credential` in `namespace`: a plain yes or no.
async fn can_i(env: &TestEnv, credential: &Credential, namespace: &str, args: &[&str]) -> bool {
    let out = env
        .kubectl_as(credential)
        .args(["auth", "can-i"])
        .args(args)
        .arg(format!("--namespace={namespace}"))
        .run()
        .await;
    match out.stdout.trim() {
        "yes" => true,
        "no" if out.stderr.trim().is_empty() => false,
        _ => panic!("{out:?}"),
    }
}

#[tokio::test]
async fn the_chart_with_a_list_of_namespaces_renders_a_role_in_each_and_passes_them() {
    let Some(env) = harness::test_env().await else { return };
    let (_, docs) = render(&env, &["watchNamespaces={team-a,team-b}", "clusterId=cluster-a"]).await;
    assert!(of_kind(&docs, "ClusterRole").is_empty() && of_kind(&docs, "ClusterRoleBinding").is_empty());
    let mut roles: Vec<&str> = of_kind(&docs, "Role")
        .iter()
        .filter(|r| r["metadata"]["name"] == "accountops")
        .filter_map(|r| r["metadata"]["namespace"].as_str())
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["team-a", "team-b"]);
    let bindings: Vec<&str> =
        of_kind(&docs, "RoleBinding").iter().filter_map(|b| b["metadata"]["namespace"].as_str()).collect();
    assert!(bindings.contains(&"team-a") && bindings.contains(&"team-b"), "{bindings:?}");
    let container = &chart::one(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert!(strings(&container["args"]).contains(&"--namespace=team-a,team-b"), "{container}");
    let env_names: Vec<&str> =
        container["env"].as_array().expect("env").iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(!env_names.contains(&"WATCH_NAMESPACE"), "{env_names:?}");

    for (set, named) in [
        (vec!["watchNamespace=team-a", "watchNamespaces={team-b}", "clusterId=c"], "not both"),
        (vec!["watchNamespaces={team-a}"], "clusterId"),
        (vec!["watchNamespaces={Team_A}", "clusterId=c"], "watchNamespaces"),
    ] {
        let mut helm = env.helm().args(["template", "accountops"]).arg(chart::chart());
        for value in &set {
            helm = helm.args(["--set", value]);
        }
        let out = helm.run().await.failed();
        assert!(out.stderr.contains(named), "{set:?}: names {named}: {}", out.stderr);
    }
}

#[tokio::test]
async fn helm_install_with_two_namespaces_grants_exactly_those_two() {
    let Some(release) = harness::test_env().await else { return };
    let Some(team_a) = harness::test_env().await else { return };
    let Some(team_b) = harness::test_env().await else { return };
    let list = format!("watchNamespaces={{{},{}}}", team_a.ns, team_b.ns);
    let cluster = format!("clusterId=test-{}", release.ns);
    let out = release
        .helm()
        .args(["install", "accountops"])
        .arg(chart::chart())
        .args(["--set", &list, "--set", &cluster])
        .run()
        .await
        .ok();
    assert!(out.stdout.contains("STATUS: deployed"), "{out:?}");
    for team in [&team_a, &team_b] {
        let roles = team.kubectl(["get", "role,rolebinding", "-o", "name"]).await.ok();
        assert!(roles.stdout.contains("role.rbac.authorization.k8s.io/accountops"), "{}: {}", team.ns, roles.stdout);
        assert!(roles.stdout.contains("rolebinding.rbac.authorization.k8s.io/accountops"), "{}", roles.stdout);
    }
    let cluster_role = format!("clusterrole/{}-accountops", release.ns);
    let out = release.kubectl(["get", &cluster_role]).await;
    assert!(!out.success(), "no ClusterRole in list mode: {out:?}");

    let sa = release.service_account("accountops").await;
    for team in [&team_a, &team_b] {
        for allowed in [
            &["list", "memberships.accountops.dev"][..],
            &["patch", "accounts.accountops.dev", "--subresource=status"],
            &["update", "organizations.accountops.dev", "--subresource=finalizers"],
            &["list", "secrets"],
        ] {
            assert!(can_i(&release, &sa, &team.ns, allowed).await, "may {allowed:?} in {}", team.ns);
        }
    }
    for refused in [&["list", "memberships.accountops.dev"][..], &["list", "secrets"]] {
        assert!(!can_i(&release, &sa, &release.ns, refused).await, "must not {refused:?} in the release namespace");
        assert!(!can_i(&release, &sa, "default", refused).await, "must not {refused:?} in default");
    }
    assert!(!can_i(&release, &sa, &team_a.ns, &["list", "accounts.accountops.dev", "--all-namespaces"]).await);
    release.helm().args(["uninstall", "accountops", "--wait"]).run().await.ok();
}

#[tokio::test]
async fn the_operator_reconciles_the_listed_namespaces_and_never_a_third() {
    let Some(team_a) = harness::test_env().await else { return };
    let Some(team_b) = harness::test_env().await else { return };
    let Some(other) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let cluster = format!("test-{}", team_a.ns);
    // The harness passes --namespace=<team_a>; a second flag adds to the list.
    let second = format!("--namespace={}", team_b.ns);
    let _operator = Operator::start_with(&team_a, &db.url, &cluster, Duration::from_secs(2), &[&second]);
    // The object outside the list goes first, so it had every chance to be picked up.
    for env in [&other, &team_a, &team_b] {
        env.apply(ACCOUNT).await;
    }
    for env in [&team_a, &team_b] {
        let accounts: Api<Account> = env.api();
        let account = wait_ready(&accounts, "billing", "True", Some("Available")).await;
        assert!(account.metadata.finalizers.is_some_and(|f| !f.is_empty()), "{}: finalizer", env.ns);
    }
    // A few resyncs later the third namespace's Account is still untouched.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let untouched = other.api::<Account>().get("billing").await.expect("the Account");
    assert_eq!(untouched.metadata.finalizers.unwrap_or_default(), Vec::<String>::new(), "no finalizer");
    assert!(untouched.status.is_none(), "no status: {:?}", untouched.status);
    let mut conn = db.store().acquire().await.expect("connection");
    for (env, owned) in [(&team_a, true), (&team_b, true), (&other, false)] {
        let row = ownership::find_by_owner(&mut conn, ManagedTable::Accounts, &cluster, &env.ns, "billing").await;
        assert_eq!(row.expect("lookup").is_some(), owned, "a row for {}", env.ns);
    }
}

#[test]
fn leader_election_over_several_namespaces_asks_where_the_lease_is() {
    let out = Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["run", "--database=sqlite::memory:", "--namespace=team-a,team-b", "--leader-election"])
        .env_remove("POD_NAMESPACE")
        .env_remove("WATCH_NAMESPACE")
        .output()
        .expect("the accountops binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--lease-namespace") && stderr.contains("team-a, team-b"), "{stderr}");
}
