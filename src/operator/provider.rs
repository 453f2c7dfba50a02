//! A service provider's current code, kept in a Secret `<organization>-provider-code` (key
//! `code`) in the Organization's namespace, and withdrawn when it stops being a provider.
//!
//! ```text
//! Secret's code ─┐
//! unused codes ──┴─► provider_code::current ─► open: keep it (look again at its expiry)
//!                                            └► none: fresh code ─► replace() in a short transaction ─► Secret
//! ```
//!
//! The code's hash is stored (and committed) before the Secret is written, so a link the
//! Secret's change wakes finds the code; no transaction is held across the Kubernetes call. A
//! failure in between leaves an open row whose code is in no Secret (the Secret still holds the
//! old, now revoked code), which the next reconcile replaces. A Secret that went missing or was
//! edited gets a fresh code (the old ones are revoked).

use std::time::Duration;

use jiff::Timestamp;

use super::context::Context;
use super::secrets;
use crate::api::Organization;
use crate::core::provider_code::{self, CodeText};
use crate::core::{CoreError, tokens::Token};
use crate::store::provider_codes;

/// The provider's code Secret and when its code expires (the object is looked at again then).
pub struct CurrentCode {
    pub secret: String,
    pub expires_at: Timestamp,
}

fn unavailable(name: &str) -> impl Fn(kube::Error) -> CoreError + '_ {
    move |e| CoreError::Input { what: format!("Secret {name}"), reason: e.to_string() }
}

/// Makes sure the provider has an open code in its Secret.
pub async fn ensure_code(
    ctx: &Context,
    org: &Organization,
    organization_id: &str,
    lifetime: Duration,
    now: Timestamp,
) -> Result<CurrentCode, CoreError> {
    let name = secrets::provider_code_secret_name(org);
    let namespace = kube::ResourceExt::namespace(org).unwrap_or_default();
    let in_secret = secrets::read_key(&ctx.client, &namespace, &name, "code")
        .await
        .map_err(unavailable(&name))?
        .and_then(|text| CodeText::new(&text));
    let unused = {
        let mut conn = ctx.store.acquire().await?;
        provider_codes::list_unused(&mut conn, organization_id).await?
    };
    if let Some(code) = provider_code::current(in_secret.as_ref(), &unused, now) {
        return Ok(CurrentCode { secret: name, expires_at: code.expires_at });
    }
    let token = Token::generate()?;
    let mut tx = ctx.store.begin().await?;
    let row = provider_code::replace(&mut tx, organization_id, &token, lifetime, now).await?;
    crate::core::db::commit(&ctx.store, tx).await?;
    secrets::write_provider_code(&ctx.client, org, token.expose()).await.map_err(unavailable(&name))?;
    Ok(CurrentCode { secret: name, expires_at: row.expires_at })
}

/// An Organization that is no provider (any more): its Secret goes, if this operator wrote it
/// for this very object (label and controller owner reference); a Secret of the same name
/// someone else made is left alone. Its stored codes are revoked by the core's plan.
pub async fn withdraw_code(ctx: &Context, org: &Organization) -> Result<(), CoreError> {
    let name = secrets::provider_code_secret_name(org);
    secrets::delete_provider_code(&ctx.client, org).await.map_err(unavailable(&name))
}
