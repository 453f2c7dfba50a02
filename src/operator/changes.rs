//! Changes to memberships, tenant links and provisioning syncs that happen outside Kubernetes:
//! the platform's web app accepting an invitation and the portal activating an asset (the
//! documented database contracts), the dispatcher delivering or giving up on an invitation
//! mail, and the other side of a tenant link (often another namespace) changing the link or the
//! staff placed through it. Both only touch rows, so the operator polls for them — on PostgreSQL and
//! SQLite alike — and re-queues the Memberships concerned within seconds instead of waiting
//! for the next resync. Each poll costs what changed ([`changes::changed_owners`], indexed on
//! `updated_at`), not the size of the tables.

use std::time::Duration;

use futures::{Stream, StreamExt};
use jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use tracing::warn;

use crate::api::{Membership, Organization, ProvisioningSync, TenantLink};
use crate::store::Store;
use crate::store::changes::{self, Subject};

/// Rows changed within this margin before the last poll are looked at again, so a commit that
/// raced the previous poll is not missed (a repeated re-queue is harmless).
const OVERLAP: Duration = Duration::from_secs(2);

/// Memberships (owned by `cluster`) whose invitation or invitation mail changed, polled every
/// `every`; errors are logged and the next poll tries again.
pub fn membership_changes(store: Store, cluster: String, every: Duration) -> impl Stream<Item = ObjectRef<Membership>> {
    invitation_changes(store, cluster, every, Subject::Memberships)
}

/// TenantLinks (owned by `cluster`) whose partner invitation was accepted, rejected or mailed,
/// or whose provider placed or removed staff through them.
pub fn tenant_link_changes(
    store: Store,
    cluster: String,
    every: Duration,
) -> impl Stream<Item = ObjectRef<TenantLink>> {
    invitation_changes(store, cluster, every, Subject::TenantLinks)
}

/// Service provider Organizations (owned by `cluster`) one of whose links changed (a tenant
/// redeemed its code, or revoked the link), so its `serviceProvider.staff` follow at once.
pub fn provider_changes(store: Store, cluster: String, every: Duration) -> impl Stream<Item = ObjectRef<Organization>> {
    invitation_changes(store, cluster, every, Subject::ProviderOrganizations)
}

/// ProvisioningSyncs (owned by `cluster`) one of whose assets the portal activated, so
/// `status.assets[].activatedAt` shows within seconds.
pub fn sync_changes(store: Store, cluster: String, every: Duration) -> impl Stream<Item = ObjectRef<ProvisioningSync>> {
    invitation_changes(store, cluster, every, Subject::ProvisioningSyncs)
}

fn invitation_changes<K>(
    store: Store,
    cluster: String,
    every: Duration,
    subject: Subject,
) -> impl Stream<Item = ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()>,
{
    let start = Timestamp::now();
    futures::stream::unfold((store, cluster, start), move |(store, cluster, since)| async move {
        tokio::time::sleep(every).await;
        let polled_at = Timestamp::now();
        let refs = match changes::changed_owners(&store, subject, &cluster, since).await {
            Ok(owners) => owners.into_iter().map(|(ns, name)| ObjectRef::new(&name).within(&ns)).collect(),
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
