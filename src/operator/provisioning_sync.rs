//! ProvisioningSync in the operator: its credentials and CA from Secrets of its own namespace,
//! then the core's reconcile (its status is `core::status`'s, like every kind's).

use super::context::Context;
use super::kinds::{Managed, Request, status_accessors};
use crate::api::{DeletionPolicy, ProvisioningSync, ProvisioningSyncStatus};
use crate::core::sync::{self, DesiredSync};
use crate::core::{CoreError, Kind, Outcome};

/// The Secret `spec.endpoint.credentialsSecretRef` with its type, `None` when it does not
/// exist (see [`sync::credentials`]).
async fn credentials_secret(
    ctx: &Context,
    sync: &ProvisioningSync,
    namespace: &str,
) -> Result<Option<sync::credentials::CredentialsSecret>, CoreError> {
    let name = sync.spec.endpoint.credentials_secret_ref.name.as_str();
    let read = super::secrets::read_typed(&ctx.client, namespace, name).await;
    read.map_err(|e| CoreError::Input { what: format!("Secret {name}"), reason: e.to_string() })
}

impl Managed for ProvisioningSync {
    type Status = ProvisioningSyncStatus;
    const KIND: Kind = Kind::ProvisioningSync;

    status_accessors!(ProvisioningSyncStatus);

    async fn reconcile(&self, ctx: &Context, req: Request) -> Result<Outcome, CoreError> {
        let Request { owner, deleting, flags, now } = req;
        let resync = sync::resync_interval(&self.spec);
        // Credentials and the CA are read from this object's own namespace only, and the
        // credentials only from a Secret that opted in.
        use sync::credentials::{from_secret, refusal, secret_missing};
        let secret = credentials_secret(ctx, self, &owner.namespace).await?;
        let refused = secret.as_ref().and_then(|s| refusal(&self.spec, &owner.namespace, s, resync, now));
        let (credentials, credentials_hash) = match (secret, refused) {
            (Some(secret), None) => from_secret(&self.spec, &secret, &ctx.credentials_key(now).await?)?,
            // Deletion goes on without them: an Orphan needs none, a Delete reports the error.
            _ if deleting => (crate::scim::Credentials::Bearer(String::new()), String::new()),
            (_, Some(refused)) => return Ok(refused),
            (None, None) => return Ok(secret_missing(&self.spec, &owner.namespace, resync, now)),
        };
        let ca_pem = match &self.spec.endpoint.ca_secret_ref {
            Some(ca) => super::secrets::read(&ctx.client, &owner.namespace, ca.name.as_str())
                .await
                .map_err(|e| CoreError::Input { what: format!("Secret {}", ca.name), reason: e.to_string() })?
                .and_then(|mut data| data.remove("ca.crt")),
            None => None,
        };
        let desired =
            DesiredSync { owner, spec: self.spec.clone(), deleting, flags, credentials, credentials_hash, ca_pem };
        let facts = sync::reconcile(&ctx.store, &ctx.scim_guards, &desired, &ctx.mail_settings, now).await?;
        Ok(facts.into_outcome(deleting, resync, now))
    }
}
