//! Provider codes: the single-use secret a service provider gives a customer, who redeems it
//! with a TenantLink (`spec.providerCode`) to appoint the provider.
//!
//! ```text
//! serviceProvider Organization ─► fresh(open codes, now) ─► Issue? ─► issue(): Token (256 bits)
//!                                   pure: is one still open?            │ only its SHA-256 hex stored
//!                                                                       └─► plaintext to the shell (a Secret)
//! TenantLink ─► CodeText (from the Secret) ─► .hash() ─► provider_codes.code_hash lookup
//! ```
//!
//! The plaintext leaves [`issue`] once, for the shell to write into the provider's Secret; a
//! code already issued cannot be shown again (only its hash is kept), so
//! [`current_or_fresh`] returns a plaintext only when it issues a new code. [`CodeText`]
//! (the code a tenant hands over) prints `CodeText(redacted)`, like [`Token`].

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::error::CoreError;
use super::tokens::{self, Token};
use crate::store::Conn;
use crate::store::provider_codes::{self, NewProviderCode, ProviderCode};

/// Default lifetime of a provider code (`serviceProvider.codeLifetime`).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A provider code as a tenant hands it over (the value of a Secret key). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeText(String);

impl CodeText {
    /// The code in `text`, trimmed; `None` when blank.
    pub fn new(text: &str) -> Option<CodeText> {
        let t = text.trim();
        (!t.is_empty()).then(|| CodeText(t.to_owned()))
    }

    /// What `provider_codes.code_hash` holds for this code.
    pub fn hash(&self) -> String {
        tokens::hash(&self.0)
    }
}

impl fmt::Debug for CodeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeText(redacted)")
    }
}

/// Whether a new code is needed: no code of the organization is open (unused, not revoked,
/// unexpired) at `now`. Pure.
pub fn needs_fresh(codes: &[ProviderCode], now: Timestamp) -> bool {
    !codes.iter().any(|c| c.is_open(now))
}

/// When a code issued at `now` with `lifetime` expires (saturating far in the future).
pub fn expiry(now: Timestamp, lifetime: Duration) -> Timestamp {
    SignedDuration::try_from(lifetime).ok().and_then(|d| now.checked_add(d).ok()).unwrap_or(Timestamp::MAX)
}

/// Issue a new code for `organization_id`, valid for `lifetime` from `now`. Returns the code
/// (for the provider's Secret, nowhere else) and its row (which holds only the hash).
pub async fn issue(
    conn: &mut Conn,
    organization_id: &str,
    lifetime: Duration,
    now: Timestamp,
) -> Result<(Token, ProviderCode), CoreError> {
    let token = Token::generate()?;
    let new = NewProviderCode {
        organization_id: organization_id.to_owned(),
        code_hash: token.hash(),
        expires_at: expiry(now, lifetime),
    };
    let row = provider_codes::insert(conn, &new, now).await?;
    Ok((token, row))
}

/// For a service-provider organization: issue a code when none is open (after a use, an
/// expiry or a revocation, or the first time). `Some` only for a code issued now: the shell
/// writes it into the provider-code Secret; `None` means the code already in the Secret is
/// still the current one.
pub async fn current_or_fresh(
    conn: &mut Conn,
    organization_id: &str,
    lifetime: Duration,
    now: Timestamp,
) -> Result<Option<(Token, ProviderCode)>, CoreError> {
    let codes = provider_codes::list_by_organization(conn, organization_id).await?;
    if !needs_fresh(&codes, now) {
        return Ok(None);
    }
    Ok(Some(issue(conn, organization_id, lifetime, now).await?))
}

/// Revoke every open code of the organization and issue a new one: when the plaintext of the
/// current code is lost (the Secret was deleted) or a code must be withdrawn.
pub async fn rotate(
    conn: &mut Conn,
    organization_id: &str,
    lifetime: Duration,
    now: Timestamp,
) -> Result<(Token, ProviderCode), CoreError> {
    for code in provider_codes::list_by_organization(conn, organization_id).await? {
        if code.is_open(now) {
            provider_codes::revoke(conn, &code.id, now).await?;
        }
    }
    issue(conn, organization_id, lifetime, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures;

    fn code(expires_at: Timestamp, used: bool, revoked: bool) -> ProviderCode {
        let t0: Timestamp = "2025-01-01T00:00:00Z".parse().expect("time");
        ProviderCode {
            id: "pc-1".into(),
            organization_id: "org-1".into(),
            code_hash: "0".repeat(64),
            expires_at,
            used_at: used.then_some(t0),
            used_by_tenant_link_id: used.then(|| "tl-1".into()),
            revoked_at: revoked.then_some(t0),
            created_at: t0,
            updated_at: t0,
        }
    }

    #[test]
    fn a_fresh_code_is_needed_only_when_none_is_open() {
        let now: Timestamp = "2025-03-01T12:00:00Z".parse().expect("time");
        let later = expiry(now, Duration::from_secs(60));
        assert!(needs_fresh(&[], now));
        assert!(!needs_fresh(&[code(later, false, false)], now));
        assert!(needs_fresh(&[code(later, true, false)], now), "used");
        assert!(needs_fresh(&[code(later, false, true)], now), "revoked");
        assert!(needs_fresh(&[code(now, false, false)], now), "expired at now");
        assert!(!needs_fresh(&[code(now, true, false), code(later, false, false)], now));
        assert_eq!(expiry(now, Duration::from_secs(u64::MAX)), Timestamp::MAX);
    }

    #[test]
    fn code_text_is_trimmed_hashed_and_never_shown() {
        assert_eq!(CodeText::new("  \n"), None);
        let c = CodeText::new(" secret-code \n").expect("code");
        assert_eq!(c.hash(), tokens::hash("secret-code"));
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[tokio::test]
    async fn issue_stores_only_the_hash_and_fresh_codes_follow_use() {
        let store = fixtures::memory_store().await;
        let now = fixtures::now();
        let (_, org, _) = crate::core::tenant_link::apply_tests::orgs(&store).await;
        let mut conn = store.acquire().await.expect("conn");
        let (token, row) = current_or_fresh(&mut conn, &org, DEFAULT_LIFETIME, now)
            .await
            .expect("issue")
            .expect("first code is fresh");
        assert_eq!(row.code_hash, token.hash());
        assert_ne!(row.code_hash, token.expose());
        assert_eq!(row.expires_at, expiry(now, DEFAULT_LIFETIME));
        assert!(current_or_fresh(&mut conn, &org, DEFAULT_LIFETIME, now).await.expect("read").is_none());
        // Expired: a fresh one.
        let after = expiry(now, DEFAULT_LIFETIME);
        let (second, _) =
            current_or_fresh(&mut conn, &org, DEFAULT_LIFETIME, after).await.expect("issue").expect("fresh");
        assert_ne!(second.expose(), token.expose());
        let (third, _) = rotate(&mut conn, &org, DEFAULT_LIFETIME, after).await.expect("rotate");
        let codes = provider_codes::list_by_organization(&mut conn, &org).await.expect("list");
        let open: Vec<_> = codes.iter().filter(|c| c.is_open(after)).collect();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].code_hash, third.hash());
    }
}
