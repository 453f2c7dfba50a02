//! Leader election on a coordination.k8s.io Lease (kube-lease-manager), so replicas > 1 is
//! safe: only the holder reconciles; a standby takes over within the lease duration after the
//! leader dies, and a leader that stops on SIGTERM releases the lease for an immediate handover.

use std::time::Duration;

use anyhow::Context as _;
use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tracing::{info, warn};

use super::context::MANAGER;

/// How to take part in the election.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    pub lease_name: String,
    pub namespace: String,
    /// This replica's identity (the pod name in a cluster).
    pub identity: String,
    /// How long a lease stays valid without renewal: the longest a dead leader blocks others.
    pub duration: Duration,
}

/// The lease while this replica holds it.
pub struct Lease {
    manager: LeaseManager,
}

impl LeaderElection {
    /// Waits until this replica holds the lease.
    pub async fn acquire(&self, client: &Client) -> anyhow::Result<Lease> {
        let duration = self.duration.as_secs().max(2);
        let manager = LeaseManagerBuilder::new(client.clone(), &self.lease_name)
            .with_namespace(&self.namespace)
            .with_identity(&self.identity)
            .with_duration(duration)
            .with_grace((duration / 3).max(1))
            .with_field_manager(format!("{MANAGER}-{}", self.identity))
            .build()
            .await
            .with_context(|| format!("preparing the Lease {}/{}", self.namespace, self.lease_name))?;
        info!(lease = %self.lease_name, identity = %self.identity, "waiting for the leader lease");
        loop {
            let leading = manager
                .changed()
                .await
                .with_context(|| format!("competing for the Lease {}/{}", self.namespace, self.lease_name))?;
            if leading {
                info!(lease = %self.lease_name, identity = %self.identity, "acquired the leader lease");
                return Ok(Lease { manager });
            }
        }
    }
}

impl Lease {
    /// Renews the lease for as long as it is held; returns why it was lost.
    pub async fn hold(&self) -> anyhow::Error {
        loop {
            match self.manager.changed().await {
                Ok(true) => continue,
                Ok(false) => return anyhow::anyhow!("lost the leader lease to another replica"),
                Err(e) => return anyhow::Error::new(e).context("renewing the leader lease"),
            }
        }
    }

    /// Gives the lease up so a standby takes over at once.
    pub async fn release(self) {
        match self.manager.release().await {
            Ok(()) => info!("released the leader lease"),
            Err(e) => warn!(error = %e, "could not release the leader lease; it expires by itself"),
        }
    }
}
