//! Changes to memberships that happen outside Kubernetes: the platform's web app accepting an
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

use crate::api::Membership;
use crate::store::{Store, time};

/// Rows changed within this margin before the last poll are looked at again, so a commit that
/// raced the previous poll is not missed (a repeated re-queue is harmless).
const OVERLAP: Duration = Duration::from_secs(2);

const CHANGED_SINCE: &str = "SELECT DISTINCT m.owner_namespace AS ns, m.owner_name AS name \
     FROM memberships m JOIN invitations i ON i.membership_id = m.id \
     WHERE m.owner_cluster = $1 AND m.owner_uid IS NOT NULL AND ( \
       i.updated_at > $2 OR EXISTS (SELECT 1 FROM mail_outbox o \
         WHERE o.related_table = 'invitations' AND o.related_id = i.id AND o.updated_at > $2))";

/// Memberships (owned by `cluster`) whose invitation or invitation mail changed, polled every
/// `every`; errors are logged and the next poll tries again.
pub fn membership_changes(store: Store, cluster: String, every: Duration) -> impl Stream<Item = ObjectRef<Membership>> {
    let start = Timestamp::now();
    futures::stream::unfold((store, cluster, start), move |(store, cluster, since)| async move {
        tokio::time::sleep(every).await;
        let polled_at = Timestamp::now();
        let refs = match changed_since(&store, &cluster, since).await {
            Ok(refs) => refs,
            Err(e) => {
                warn!(error = %e, "polling for accepted invitations failed; retrying");
                Vec::new()
            }
        };
        let next = polled_at.checked_sub(OVERLAP).unwrap_or(polled_at);
        Some((futures::stream::iter(refs), (store, cluster, next)))
    })
    .flatten()
}

async fn changed_since(
    store: &Store,
    cluster: &str,
    since: Timestamp,
) -> Result<Vec<ObjectRef<Membership>>, sqlx::Error> {
    let mut conn = store.pool().acquire().await?;
    let rows = sqlx::query(CHANGED_SINCE).bind(cluster).bind(time::encode(since)).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            let ns: String = row.try_get("ns")?;
            let name: String = row.try_get("name")?;
            Ok(ObjectRef::new(&name).within(&ns))
        })
        .collect()
}
