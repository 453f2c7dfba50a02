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
//!  tenant_links.updated_at > since ──(index tenant_links_updated_idx)─► provider organizations ─► owners
//!  memberships placed by a provider, updated_at > since ──(partial index)─► tenant_links ─► owners
//! ```
//!
//! The last two carry provider-managed staff across namespaces: a link becoming Active or
//! ending brings its provider Organization back (its `serviceProvider.staff` are placed or
//! refused), and the provider placing or removing staff brings the tenant's TenantLink back
//! (its `status.providerStaff`). Neither reconcile writes what the other polls, so they do
//! not bring each other back in a loop.
//!
//! An invitation or mail row that was only inserted (`updated_at = created_at`) is left out:
//! the owner's own reconcile wrote it, and waking the owner for it would reconcile every new
//! invitee twice. Its answer, delivery or refusal updates the row, and that is reported.
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
    /// Organizations that are the provider of a link that changed (accepted, revoked).
    ProviderOrganizations,
}

impl Subject {
    fn sql(self) -> &'static [&'static str] {
        match self {
            Subject::Memberships => &[OWNERS_OF_MEMBERSHIPS],
            Subject::TenantLinks => &[OWNERS_OF_TENANT_LINKS, LINKS_WITH_CHANGED_PROVIDER_STAFF],
            Subject::ProvisioningSyncs => &[OWNERS_OF_SYNCS],
            Subject::ProviderOrganizations => &[PROVIDERS_OF_CHANGED_LINKS],
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
               SELECT id FROM invitations WHERE updated_at > $2 AND updated_at <> created_at \
               UNION \
               SELECT related_id FROM mail_outbox WHERE related_table = 'invitations' AND updated_at > $2 \
                 AND updated_at <> created_at)"
        )
    };
}

const OWNERS_OF_MEMBERSHIPS: &str = owners_sql!("memberships", "membership_id");
const OWNERS_OF_TENANT_LINKS: &str = owners_sql!("tenant_links", "tenant_link_id");
const OWNERS_OF_SYNCS: &str = "SELECT DISTINCT x.owner_namespace AS ns, x.owner_name AS name \
     FROM provisioning_syncs x \
     WHERE x.owner_cluster = $1 AND x.owner_uid IS NOT NULL AND x.id IN ( \
       SELECT sync_id FROM assets WHERE activated_at > $2)";

const LINKS_WITH_CHANGED_PROVIDER_STAFF: &str = "SELECT DISTINCT x.owner_namespace AS ns, x.owner_name AS name \
     FROM tenant_links x \
     WHERE x.owner_cluster = $1 AND x.owner_uid IS NOT NULL AND x.id IN ( \
       SELECT tenant_link_id FROM memberships WHERE placed_by = 'provider' AND updated_at > $2)";
const PROVIDERS_OF_CHANGED_LINKS: &str = "SELECT DISTINCT x.owner_namespace AS ns, x.owner_name AS name \
     FROM organizations x \
     WHERE x.owner_cluster = $1 AND x.owner_uid IS NOT NULL AND x.id IN ( \
       SELECT provider_organization_id FROM tenant_links WHERE updated_at > $2)";

/// The (namespace, name) of `cluster`'s objects whose invitation, or its mail, changed after
/// `since` (for syncs: whose asset was activated after `since`; for TenantLinks also: whose
/// provider-placed staff changed; for provider Organizations: whose links changed).
pub async fn changed_owners(
    store: &Store,
    subject: Subject,
    cluster: &str,
    since: Timestamp,
) -> Result<Vec<(String, String)>, StoreError> {
    let query_err = |source| StoreError::Query { what: "poll changed invitations and assets".to_owned(), source };
    let mut conn = store.acquire().await?;
    let mut owners = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for &sql in subject.sql() {
        let rows =
            sqlx::query(sql).bind(cluster).bind(time::encode(since)).fetch_all(&mut *conn).await.map_err(query_err)?;
        for row in &rows {
            let owner = (
                row.try_get::<String, _>("ns").map_err(query_err)?,
                row.try_get::<String, _>("name").map_err(query_err)?,
            );
            if seen.insert(owner.clone()) {
                owners.push(owner);
            }
        }
    }
    Ok(owners)
}
