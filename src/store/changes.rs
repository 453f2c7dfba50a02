//! Rows changed outside Kubernetes since a moment: invitations accepted or rejected by the
//! platform's web app, invitation mails the dispatcher delivered or gave up on, and assets the
//! customer portal activated. The
//! operator polls this every few seconds (operator/changes.rs), so it must cost what changed,
//! not the size of the tables:
//!
//! ```text
//!  invitations.updated_at > since ──(index invitations_updated_idx)──┐
//!  mail_outbox.updated_at > since ──(index mail_outbox_related_updated_idx)─┴─► invitation ids
//!     ─► invitations by id ─► memberships / tenant_links by id ─► this cluster's owners
//!  assets.activated_at > since ──(index assets_activated_idx)─► provisioning_syncs by id ─► owners
//! ```
//!
//! Only `activated_at` is watched for assets: the operator's own asset writes (an order
//! executed, its mail recorded) happen inside the sync's reconcile and must not bring it back.

use jiff::Timestamp;
use sqlx::Row;

use super::{Store, StoreError, time};

/// Which managed table's owners to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Memberships,
    TenantLinks,
    /// ProvisioningSyncs whose asset was activated.
    ProvisioningSyncs,
}

impl Subject {
    fn sql(self) -> &'static str {
        match self {
            Subject::Memberships => OWNERS_OF_MEMBERSHIPS,
            Subject::TenantLinks => OWNERS_OF_TENANT_LINKS,
            Subject::ProvisioningSyncs => OWNERS_OF_SYNCS,
        }
    }
}

macro_rules! owners_sql {
    ($table:literal, $fk:literal) => {
        concat!(
            "SELECT DISTINCT x.owner_namespace AS ns, x.owner_name AS name \
             FROM ",
            $table,
            " x JOIN invitations i ON i.",
            $fk,
            " = x.id \
             WHERE x.owner_cluster = $1 AND x.owner_uid IS NOT NULL AND i.id IN ( \
               SELECT id FROM invitations WHERE updated_at > $2 \
               UNION \
               SELECT related_id FROM mail_outbox WHERE related_table = 'invitations' AND updated_at > $2)"
        )
    };
}

const OWNERS_OF_MEMBERSHIPS: &str = owners_sql!("memberships", "membership_id");
const OWNERS_OF_TENANT_LINKS: &str = owners_sql!("tenant_links", "tenant_link_id");
const OWNERS_OF_SYNCS: &str = "SELECT DISTINCT x.owner_namespace AS ns, x.owner_name AS name \
     FROM provisioning_syncs x \
     WHERE x.owner_cluster = $1 AND x.owner_uid IS NOT NULL AND x.id IN ( \
       SELECT sync_id FROM assets WHERE activated_at > $2)";

/// The (namespace, name) of `cluster`'s objects whose invitation, or its mail, changed after
/// `since` (for syncs: whose asset was activated after `since`).
pub async fn changed_owners(
    store: &Store,
    subject: Subject,
    cluster: &str,
    since: Timestamp,
) -> Result<Vec<(String, String)>, StoreError> {
    let query_err = |source| StoreError::Query { what: "poll changed invitations and assets".to_owned(), source };
    let mut conn = store.acquire().await?;
    let rows = sqlx::query(subject.sql())
        .bind(cluster)
        .bind(time::encode(since))
        .fetch_all(&mut *conn)
        .await
        .map_err(query_err)?;
    rows.iter()
        .map(|row| Ok((row.try_get::<String, _>("ns")?, row.try_get::<String, _>("name")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(query_err)
}
