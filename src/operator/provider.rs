//! A service provider's current code, kept in a Secret `<organization>-provider-code` (key
//! `code`) in the Organization's namespace. The code's hash is written in a transaction that
//! commits only after the Secret holds the plaintext, so a failed write never strands a code
//! nobody can read; a Secret that went missing gets a fresh code (the old ones are revoked).

use std::time::Duration;

use jiff::Timestamp;

use super::context::Context;
use super::secrets;
use crate::api::Organization;
use crate::core::{CoreError, provider_code};

/// Makes sure the provider has an open code in its Secret; returns the Secret's name.
pub async fn ensure_code(
    ctx: &Context,
    org: &Organization,
    organization_id: &str,
    lifetime: Duration,
    now: Timestamp,
) -> Result<String, CoreError> {
    let name = secrets::provider_code_secret_name(org);
    let namespace = kube::ResourceExt::namespace(org).unwrap_or_default();
    let unavailable = |e: kube::Error| CoreError::Input { what: format!("Secret {name}"), reason: e.to_string() };
    let present = secrets::read_key(&ctx.client, &namespace, &name, "code").await.map_err(unavailable)?.is_some();
    let mut tx = ctx.store.begin().await?;
    let issued = if present {
        provider_code::current_or_fresh(&mut tx, organization_id, lifetime, now).await?
    } else {
        Some(provider_code::rotate(&mut tx, organization_id, lifetime, now).await?)
    };
    if let Some((token, _)) = issued {
        secrets::write_provider_code(&ctx.client, org, token.expose()).await.map_err(unavailable)?;
        ctx.store.check_fence()?;
        tx.commit().await.map_err(|source| crate::store::StoreError::Query { what: "commit".into(), source })?;
    }
    Ok(name)
}
