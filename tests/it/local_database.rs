//! Which databases local mode changes the schema of: `plan` never; `apply` its own (no schema
//! yet, or only local mode's rows), anyone else's only with `--migrate`. Run with the real
//! binary on SQLite files an older accountops left behind.

use accountops::store::{Store, footprint, migrate};

use crate::local::workspace::{Workspace, text};

/// The schema this binary's predecessor left: every migration but the newest.
fn older() -> i64 {
    let versions = migrate::versions();
    versions[versions.len() - 2]
}

async fn version(ws: &Workspace) -> i64 {
    let store = Store::connect(&ws.url()).await.expect("open");
    let v = footprint::schema_version(&store).await.expect("version");
    store.close().await;
    v
}

/// An older schema holding one account row of an operator's cluster.
async fn operators_old_database(ws: &Workspace) {
    let store = Store::connect(&ws.url()).await.expect("create");
    migrate::migrate_up_to(&store, older()).await.expect("older schema");
    sqlx::query(
        "INSERT INTO accounts (id, legal_name, street_line1, city, postal_code, country, billing_email, currency, \
         invoice_language, owner_cluster, owner_namespace, owner_name, owner_uid, created_at, updated_at) \
         VALUES ('acct-prod', 'Prod', 'ul. 1', 'Gdańsk', '80-001', 'PL', 'b@prod.example', 'PLN', 'pl', \
         'k8s-prod', 'billing', 'prod', 'uid-1', '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z')",
    )
    .execute(store.pool())
    .await
    .expect("an operator's row");
    store.close().await;
}

#[tokio::test]
async fn plan_never_migrates_and_apply_upgrades_someone_elses_database_only_when_asked() {
    let ws = Workspace::with_examples_but_the_sync();
    operators_old_database(&ws).await;

    let plan = ws.run("plan", &[]);
    let stderr = text(&plan.stderr);
    assert_eq!(plan.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("plan never migrates") && stderr.contains(&format!("version {}", older())), "{stderr}");
    assert_eq!(version(&ws).await, older(), "plan left the schema alone");
    let refused = ws.run("plan", &["--migrate"]);
    assert!(text(&refused.stderr).contains("--migrate is for apply"), "{}", text(&refused.stderr));

    let apply = ws.run("apply", &[]);
    let stderr = text(&apply.stderr);
    assert_eq!(apply.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not local mode's own database"), "{stderr}");
    assert!(stderr.contains("accounts owned by cluster k8s-prod") && stderr.contains("--migrate"), "{stderr}");
    assert_eq!(version(&ws).await, older(), "apply left someone else's schema alone");

    let apply = ws.run("apply", &["--migrate"]);
    assert!(apply.status.success(), "{}{}", text(&apply.stdout), text(&apply.stderr));
    assert_eq!(version(&ws).await, migrate::latest_version());
    let plan = ws.run("plan", &[]);
    assert!(plan.status.success(), "a current schema plans: {}", text(&plan.stderr));
    let apply = ws.run("apply", &[]);
    assert!(apply.status.success(), "a current schema applies without the flag: {}", text(&apply.stderr));
}

#[tokio::test]
async fn apply_upgrades_its_own_database_and_plan_reads_an_empty_one_without_touching_it() {
    // Local mode's own: an older schema with nothing but local mode's rows in it.
    let ws = Workspace::with_examples_but_the_sync();
    let store = Store::connect(&ws.url()).await.expect("create");
    migrate::migrate_up_to(&store, older()).await.expect("older schema");
    store.close().await;
    let apply = ws.run("apply", &[]);
    assert!(apply.status.success(), "{}", text(&apply.stderr));
    assert_eq!(version(&ws).await, migrate::latest_version());

    // An empty file (no schema): plan reads an empty database and leaves the file empty.
    let empty = Workspace::with_examples_but_the_sync();
    std::fs::write(empty.db(), b"").expect("an empty file");
    let plan = empty.run("plan", &[]);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    assert!(text(&plan.stderr).contains("has no schema yet"), "{}", text(&plan.stderr));
    assert_eq!(version(&empty).await, 0);
}
