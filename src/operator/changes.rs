//! Changes to memberships and tenant links that happen outside Kubernetes: the platform's web app accepting an
//! invitation (the documented database contract) and the dispatcher delivering or giving up on
//! an invitation mail. Both only touch rows, so the operator polls for them — on PostgreSQL and
//! SQLite alike — and re-queues the Memberships concerned within seconds instead of waiting
//! for the next resync.

use std::time::Duration;

use futures::{Stream, StreamExt};
use jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use sqlx::Row;
use tracing::warn;

use crate::api::{Membership, TenantLink};
use crate::store::{Store, time};

/// Rows changed within this margin before the last poll are looked at again, so a commit that
/// raced the previous poll is not missed (a repeated re-queue is harmless).
const OVERLAP: Duration = Duration::from_secs(2);

/// Owners of `table` rows (memberships, tenant_links) whose invitation, or its mail, changed.
fn changed_since_sql(table: &str, fk: &str) -> String {
    format!(
        "SELECT DISTINCT x.owner_namespace AS ns, x.owner_name AS name \
         FROM {table} x JOIN invitations i ON i.{fk} = x.id \
         WHERE x.owner_cluster = $1 AND x.owner_uid IS NOT NULL AND ( \
           i.updated_at > $2 OR EXISTS (SELECT 1 FROM mail_outbox o \
             WHERE o.related_table = 'invitations' AND o.related_id = i.id AND o.updated_at > $2))"
    )
}

/// Memberships (owned by `cluster`) whose invitation or invitation mail changed, polled every
/// `every`; errors are logged and the next poll tries again.
pub fn membership_changes(store: Store, cluster: String, every: Duration) -> impl Stream<Item = ObjectRef<Membership>> {
    invitation_changes(store, cluster, every, changed_since_sql("memberships", "membership_id"))
}

/// TenantLinks (owned by `cluster`) whose partner invitation was accepted, rejected or mailed.
pub fn tenant_link_changes(
    store: Store,
    cluster: String,
    every: Duration,
) -> impl Stream<Item = ObjectRef<TenantLink>> {
    invitation_changes(store, cluster, every, changed_since_sql("tenant_links", "tenant_link_id"))
}

fn invitation_changes<K>(
    store: Store,
    cluster: String,
    every: Duration,
    sql: String,
) -> impl Stream<Item = ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()>,
{
    let start = Timestamp::now();
    futures::stream::unfold((store, cluster, start), move |(store, cluster, since)| {
        let sql = sql.clone();
        async move {
            tokio::time::sleep(every).await;
            let polled_at = Timestamp::now();
            let refs = match changed_since::<K>(&store, &sql, &cluster, since).await {
                Ok(refs) => refs,
                Err(e) => {
                    warn!(error = %e, "polling for accepted invitations failed; retrying");
                    Vec::new()
                }
            };
            let next = polled_at.checked_sub(OVERLAP).unwrap_or(polled_at);
            Some((futures::stream::iter(refs), (store, cluster, next)))
        }
    })
    .flatten()
}

async fn changed_since<K>(
    store: &Store,
    sql: &str,
    cluster: &str,
    since: Timestamp,
) -> Result<Vec<ObjectRef<K>>, sqlx::Error>
where
    K: kube::Resource<DynamicType = ()>,
{
    let mut conn = store.pool().acquire().await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(cluster)
        .bind(time::encode(since))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let ns: String = row.try_get("ns")?;
            let name: String = row.try_get("name")?;
            Ok(ObjectRef::new(&name).within(&ns))
        })
        .collect()
}
