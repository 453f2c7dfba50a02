//! A service provider's code over its lifetime on the real apiserver with PostgreSQL: turned
//! off, it is revoked and its Secret goes; expiring, it is replaced at its expiry, not at the
//! next resync.

use std::time::Duration;

use accountops::api::{Organization, TenantLink, TenantLinkPhase};
use accountops::store::testkit::TestDatabase;
use kube::api::Api;

use crate::harness::{self, TestEnv};
use crate::store_pg::{self, PgDatabase};
use crate::support::eventually;
use crate::support::operator::Operator;
use crate::tenant_link_e2e::{ORGS, WAIT, code_secret, link, provider_code, wait_phase, wait_reason};

const SECRET: &str = "provider-provider-code";

async fn setup(resync: Duration) -> Option<(TestEnv, PgDatabase, Operator)> {
    let env = harness::test_env().await?;
    let db = store_pg::fresh().await?;
    let operator = Operator::start_with(&env, &db.url, &format!("test-{}", env.ns), resync, &[]);
    Some((env, db, operator))
}

/// The provider's codes that are neither used nor revoked.
async fn unused_codes(db: &PgDatabase) -> i64 {
    let sql = "SELECT count(*) FROM provider_codes WHERE used_at IS NULL AND revoked_at IS NULL";
    sqlx::query_scalar(sql).fetch_one(db.store().pool()).await.expect("count")
}

async fn secret_in_status(orgs: &Api<Organization>) -> Option<String> {
    orgs.get("provider").await.ok()?.status?.provider_code_secret
}

#[tokio::test]
async fn a_provider_turned_off_revokes_its_codes_and_its_secret_goes() {
    let Some((env, db, operator)) = setup(Duration::from_secs(2)).await else { return };
    env.apply(&ORGS.replace("LIFETIME", "24h")).await;
    let orgs: Api<Organization> = env.api();
    let first = eventually("a code", WAIT, || async { provider_code(&env, SECRET).await }).await;
    // Its row commits right after the Secret is written.
    eventually("the code's row", WAIT, || async { (unused_codes(&db).await == 1).then_some(()) }).await;

    env.apply(&ORGS.replace("enabled: true", "enabled: false").replace("LIFETIME", "24h")).await;
    eventually("the Secret deleted", WAIT, || async { provider_code(&env, SECRET).await.is_none().then_some(()) })
        .await;
    eventually("no code Secret in status", WAIT, || async { secret_in_status(&orgs).await.is_none().then_some(()) })
        .await;
    assert_eq!(unused_codes(&db).await, 0, "the open code was revoked");

    // The code a tenant was given before cannot be redeemed any more.
    env.apply(&code_secret("given-code", &first)).await;
    env.apply(&link("too-late", "tenant-a", "given-code")).await;
    let links: Api<TenantLink> = env.api();
    wait_reason(&links, "too-late", "CodeRevoked").await;

    // On again: a fresh code in a new Secret, and it works.
    env.apply(&ORGS.replace("LIFETIME", "24h")).await;
    let fresh =
        eventually("a fresh code", WAIT, || async { provider_code(&env, SECRET).await.filter(|c| *c != first) }).await;
    env.apply(&code_secret("given-code", &fresh)).await;
    wait_phase(&links, "too-late", TenantLinkPhase::Active).await;
    assert!(!operator.log().contains(first.as_str()) && !operator.log().contains(fresh.as_str()));
}

#[tokio::test]
async fn an_expiring_code_is_replaced_at_its_expiry_not_at_the_next_resync() {
    // A resync far longer than the test: only the expiry can bring the Organization back.
    let Some((env, db, _operator)) = setup(Duration::from_secs(600)).await else { return };
    env.apply(&ORGS.replace("LIFETIME", "24h")).await;
    let orgs: Api<Organization> = env.api();
    let first = eventually("a code", WAIT, || async { provider_code(&env, SECRET).await }).await;
    eventually("the code Secret in status", WAIT, || async { secret_in_status(&orgs).await }).await;
    // The shortest lifetime a spec takes is 15m: make the open code due in a few seconds, then
    // let the operator look once (an annotation) so it learns the new expiry.
    let soon = "UPDATE provider_codes SET expires_at = to_char((now() + interval '4 seconds') AT TIME ZONE 'UTC', \
                'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') WHERE used_at IS NULL AND revoked_at IS NULL";
    let due = sqlx::query(soon).execute(db.store().pool()).await.expect("update");
    assert_eq!(due.rows_affected(), 1);
    env.kubectl(["annotate", "organization", "provider", "test/look=once", "--overwrite"]).await.ok();
    eventually("a code issued at the expiry", Duration::from_secs(60), || async {
        provider_code(&env, SECRET).await.filter(|c| *c != first)
    })
    .await;
    let open = "SELECT count(*) FROM provider_codes WHERE used_at IS NULL AND revoked_at IS NULL \
                AND expires_at > to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    // The new code's row commits (and the old one is revoked) before the Secret changes.
    eventually("the expired code replaced by one open code", WAIT, || async {
        let n: i64 = sqlx::query_scalar(open).fetch_one(db.store().pool()).await.expect("count");
        (n == 1).then_some(())
    })
    .await;
}
