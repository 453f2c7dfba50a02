//! The chart README's CloudNativePG recipe, checked without CNPG itself: a Secret shaped as CNPG
//! writes `<cluster>-app` (type `kubernetes.io/basic-auth`, its keys, a `postgresql://` URI)
//! for the test PostgreSQL; the chart, told `database.existingSecret` and
//! `database.existingSecretKey=uri`, references that Secret instead of copying it; and the URL
//! the pod would read through the reference opens and migrates the database.

use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use crate::chart::{of_kind, one, render, server_accepts};
use crate::harness;
use crate::store_pg;

#[tokio::test]
async fn a_cloudnativepg_app_secret_is_referenced_as_it_is_and_its_uri_opens_the_database() {
    let Some(env) = harness::test_env().await else { return };
    let Some(db) = store_pg::fresh().await else { return };
    let url = url::Url::parse(&db.url).expect("test database URL");
    let (user, password) = (url.username(), url.password().unwrap_or_default());
    let host = url.host_str().expect("host");
    let (port, dbname) = (url.port().unwrap_or(5432), url.path().trim_start_matches('/'));
    // CNPG's `uri`: scheme postgresql, the password percent-encoded (as Go's url.UserPassword).
    let mut uri = url.clone();
    uri.set_scheme("postgresql").expect("postgresql scheme");
    let jdbc = format!("jdbc:postgresql://{host}:{port}/{dbname}?password={password}&user={user}");
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "platform-db-app", "labels": {"cnpg.io/cluster": "platform-db"}},
        "type": "kubernetes.io/basic-auth",
        "stringData": {
            "username": user, "user": user, "password": password, "dbname": dbname,
            "host": host, "hostname": format!("{host}:{port}"), "port": port.to_string(),
            "pgpass": format!("{host}:{port}:{dbname}:{user}:{password}\n"),
            "uri": uri.as_str(), "fqdn-uri": uri.as_str(), "jdbc-uri": jdbc, "fqdn-jdbc-uri": jdbc,
        },
    });
    env.apply(&secret.to_string()).await;

    let set = ["database.existingSecret=platform-db-app", "database.existingSecretKey=uri"];
    let (manifests, docs) = render(&env, &set).await;
    assert!(of_kind(&docs, "Secret").is_empty(), "the chart copies nothing");
    let container = &one(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    let var =
        container["env"].as_array().expect("env").iter().find(|e| e["name"] == "DATABASE_URL").expect("DATABASE_URL");
    let reference = &var["valueFrom"]["secretKeyRef"];
    assert_eq!((&reference["name"], &reference["key"]), (&json!("platform-db-app"), &json!("uri")));
    server_accepts(&env, manifests).await;

    // What the kubelet would put in DATABASE_URL, read back from the apiserver.
    let stored = env.api::<Secret>().get("platform-db-app").await.expect("the CNPG Secret");
    let name = reference["name"].as_str().expect("name");
    assert_eq!(stored.metadata.name.as_deref(), Some(name));
    let key = reference["key"].as_str().expect("key");
    let value = stored.data.as_ref().and_then(|d| d.get(key)).expect("the referenced key");
    let database_url = String::from_utf8(value.0.clone()).expect("UTF-8 URL");
    assert!(database_url.starts_with("postgresql://"), "{database_url}");
    let store = accountops::store::Store::connect(&database_url).await.expect("the operator accepts CNPG's uri");
    let report = store.migrate().await.expect("migrate through CNPG's uri");
    assert!(!report.applied.is_empty() && report.version > 0, "{report:?}");
}
