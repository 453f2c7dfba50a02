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
//! The plaintext leaves [`issue`]/[`rotate`] once, for the shell to write where the provider
//! reads it (the operator: a Secret; local mode: in process); a code already issued cannot be
//! shown again (only its hash is kept). The operator keeps its Secret while [`current`] finds
//! the Secret's code open, else writes a fresh code into the Secret and then [`replace`]s the
//! stored ones in a short transaction, so no transaction is open across a Kubernetes call.
//! [`CodeText`] (the code a tenant hands over) prints `CodeText(redacted)`, like [`Token`].

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

/// The open code `in_secret` holds, if it holds one: only then can the Secret be kept. Pure.
/// A Secret whose code matches no open row (used, expired, revoked, or never stored because
/// the run that wrote it failed before its commit) gets a fresh code.
pub fn current<'a>(
    in_secret: Option<&CodeText>,
    unused: &'a [ProviderCode],
    now: Timestamp,
) -> Option<&'a ProviderCode> {
    let hash = in_secret?.hash();
    unused.iter().find(|c| c.code_hash == hash && c.is_open(now))
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
    let row = provider_codes::insert(conn, &code_row(organization_id, &token, lifetime, now), now).await?;
    Ok((token, row))
}

/// The row of `token` as a code of `organization_id`, valid for `lifetime` from `now`.
fn code_row(organization_id: &str, token: &Token, lifetime: Duration, now: Timestamp) -> NewProviderCode {
    NewProviderCode {
        organization_id: organization_id.to_owned(),
        code_hash: token.hash(),
        expires_at: expiry(now, lifetime),
    }
}

/// Withdraw every open code of the organization and make `token` its one open code: when
/// the plaintext of the current code is lost (the Secret was deleted), it was used or expired,
/// or a code must be withdrawn. The shell writes `token` where the provider reads it first.
pub async fn replace(
    conn: &mut Conn,
    organization_id: &str,
    token: &Token,
    lifetime: Duration,
    now: Timestamp,
) -> Result<ProviderCode, CoreError> {
    provider_codes::revoke_open(conn, organization_id, now).await?;
    Ok(provider_codes::insert(conn, &code_row(organization_id, token, lifetime, now), now).await?)
}

/// [`replace`] with a newly generated code.
pub async fn rotate(
    conn: &mut Conn,
    organization_id: &str,
    lifetime: Duration,
    now: Timestamp,
) -> Result<(Token, ProviderCode), CoreError> {
    provider_codes::revoke_open(conn, organization_id, now).await?;
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

    #[test]
    fn the_secret_is_kept_only_while_it_holds_an_open_code() {
        let now: Timestamp = "2025-03-01T12:00:00Z".parse().expect("time");
        let later = expiry(now, Duration::from_secs(60));
        let text = CodeText::new("the-code").expect("code");
        let mine = ProviderCode { code_hash: text.hash(), ..code(later, false, false) };
        let other = ProviderCode { id: "pc-2".into(), ..code(later, false, false) };
        assert_eq!(current(Some(&text), &[other.clone(), mine.clone()], now), Some(&mine));
        assert_eq!(current(None, std::slice::from_ref(&mine), now), None, "no Secret");
        assert_eq!(current(Some(&text), std::slice::from_ref(&other), now), None, "a code no row holds");
        let expired = ProviderCode { expires_at: now, ..mine.clone() };
        assert_eq!(current(Some(&text), &[expired], now), None, "expired");
        let revoked = ProviderCode { revoked_at: Some(now), ..mine.clone() };
        assert_eq!(current(Some(&text), &[revoked], now), None, "revoked");
    }

    #[tokio::test]
    async fn issue_stores_only_the_hash_and_replace_leaves_one_open_code() {
        let store = fixtures::memory_store().await;
        let now = fixtures::now();
        let (_, org, _) = crate::core::tenant_link::apply_tests::orgs(&store).await;
        let mut conn = store.acquire().await.expect("conn");
        let (token, row) = issue(&mut conn, &org, DEFAULT_LIFETIME, now).await.expect("issue");
        assert_eq!(row.code_hash, token.hash());
        assert_ne!(row.code_hash, token.expose());
        assert_eq!(row.expires_at, expiry(now, DEFAULT_LIFETIME));
        let (_, _) = issue(&mut conn, &org, DEFAULT_LIFETIME, now).await.expect("a second one");
        let (third, _) = rotate(&mut conn, &org, DEFAULT_LIFETIME, now).await.expect("rotate");
        let unused = provider_codes::list_unused(&mut conn, &org).await.expect("list");
        assert_eq!(unused.len(), 1, "rotate revoked the others");
        assert_eq!(unused[0].code_hash, third.hash());
        let all = provider_codes::list_by_organization(&mut conn, &org).await.expect("list");
        assert_eq!(all.iter().filter(|c| c.revoked_at.is_some()).count(), 2);
        // A code that expired unused stays expired (a tenant holding it hears CodeExpired).
        let (stale, _) = issue(&mut conn, &org, Duration::from_secs(60), now).await.expect("short-lived");
        let after = expiry(now, Duration::from_secs(60));
        rotate(&mut conn, &org, DEFAULT_LIFETIME, after).await.expect("rotate");
        let stale = provider_codes::find_by_hash(&mut conn, &stale.hash()).await.expect("read").expect("row");
        assert_eq!(stale.revoked_at, None);
        // Withdrawing everything takes the expired one too.
        assert_eq!(provider_codes::revoke_unused(&mut conn, &org, after).await.expect("revoke"), 2);
        assert!(provider_codes::list_unused(&mut conn, &org).await.expect("list").is_empty());
    }
}
