//! The one way a URL reaches output (logs, status, Events, metric labels, errors): parsed with
//! the `url` crate, rebuilt from its parts, and failing closed.
//!
//! ```text
//! raw ──Url::parse──► ok:  scheme://user:***@host:port/path?safe=value&other=***   (#fragment → #***)
//!                          any '@' after the host (a password that was not percent-encoded
//!                          and broke the parse into host:port + path) → scheme://user@host:port/***
//!                 └─► err: scheme://<redacted: not a valid URL>    (no scheme: <N characters, not a URL>)
//! ```
//!
//! Query values are shown only for keys known to carry no secret (`sslmode`, `tls`, paths of CA
//! files, ...); every other value is `***`. A password with `#`, `/`, `?` or `@` that was not
//! percent-encoded therefore never shows: either the URL does not parse, or what follows the
//! misread host is hidden.

/// Query keys whose values are shown: modes and file paths, never credentials.
const SHOWN_KEYS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "tls",
    "ca",
    "mode",
    "cache",
    "application_name",
    "connect_timeout",
    "statement-cache-capacity",
];

/// `raw` fit for output: no password, no secret query value, nothing after a stray `@`.
pub fn redact(raw: &str) -> String {
    let raw = raw.trim();
    let mut url = match url::Url::parse(raw) {
        Ok(url) => url,
        Err(_) => return unparsable(raw),
    };
    if url.cannot_be_a_base() && url.scheme() != "sqlite" {
        // `user:password` parses as scheme `user`: nothing here is known to be a URL.
        return format!("<{} characters, not a URL>", raw.chars().count());
    }
    if url.password().is_some() {
        // Fails only for URLs that cannot carry a password, which this one does.
        let _ = url.set_password(Some("***"));
    }
    let tail_has_at = url.path().contains('@')
        || url.query().is_some_and(|q| q.contains('@'))
        || url.fragment().is_some_and(|f| f.contains('@'));
    if tail_has_at {
        url.set_query(None);
        url.set_fragment(None);
        if url.cannot_be_a_base() {
            return format!("{}:***", url.scheme());
        }
        url.set_path("/***");
        return url.to_string();
    }
    if let Some(query) = url.query().map(str::to_owned) {
        let shown: Vec<String> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) if SHOWN_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) => {
                    format!("{key}={value}")
                }
                Some((key, _)) => format!("{key}=***"),
                None => pair.to_owned(),
            })
            .collect();
        url.set_query(Some(&shown.join("&")));
    }
    if url.fragment().is_some() {
        url.set_fragment(Some("***"));
    }
    let mut out = url.to_string();
    // `Url` adds a `/` to `http://host`; keep what was written.
    if out.ends_with('/') && !raw.ends_with('/') && url.path() == "/" && url.query().is_none() {
        out.pop();
    }
    out
}

/// [`redact`] for a URL whose user info can only be a credential (a SCIM endpoint, where
/// `https://TOKEN@host` would carry a token as the user name): the whole user info goes.
pub fn redact_endpoint(raw: &str) -> String {
    match url::Url::parse(raw.trim()) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            // Fails only for URLs that cannot have user info, which this one has.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            redact(url.as_str())
        }
        _ => redact(raw),
    }
}

/// Nothing of an unparsable URL but its scheme: its text may be a secret (a password that
/// broke the parse, or a value pasted into the wrong field).
fn unparsable(raw: &str) -> String {
    match raw.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            format!("{scheme}://<redacted: not a valid URL>")
        }
        _ => format!("<{} characters, not a URL>", raw.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_the_rest_is_kept() {
        assert_eq!(redact("postgres://app:s3cret@db:5432/platform"), "postgres://app:***@db:5432/platform");
        assert_eq!(redact("postgres://app@db/platform"), "postgres://app@db/platform");
        assert_eq!(redact("smtp://u:pw@h:25?tls=none"), "smtp://u:***@h:25?tls=none");
        assert_eq!(redact("smtps://relay.example:465"), "smtps://relay.example:465");
        assert_eq!(redact("https://scim.example/v2"), "https://scim.example/v2");
        assert_eq!(redact("http://scim.example"), "http://scim.example");
        assert_eq!(redact("sqlite://state.db"), "sqlite://state.db");
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact("file:///var/mail"), "file:///var/mail");
        assert_eq!(redact("postgres://a:p%23w@db/x"), "postgres://a:***@db/x", "escaped password");
    }

    #[test]
    fn passwords_with_url_delimiters_never_show() {
        for (raw, secret) in [
            ("postgres://app:pa#ss@db:5432/platform", "ss"),
            ("postgres://app:pa/ss@db:5432/platform", "ss"),
            ("postgres://app:pa?ss@db:5432/platform", "ss"),
            ("postgres://app:5432/s3cret@db/platform", "s3cret"),
            ("postgres://app:5432?s3cret@db/platform", "s3cret"),
            ("postgres://app:5432#s3cret@db/platform", "s3cret"),
            ("smtp://u:p@w@h:25", "p@w"),
            ("smtp://user:hunter#2@relay:587", "hunter"),
            ("https://sync:to/ken@scim.example/v2", "ken"),
            ("user:password", "password"),
        ] {
            let shown = redact(raw);
            assert!(!shown.contains(secret), "{raw:?} showed {shown:?}");
            assert!(!shown.contains("@db") || shown.contains("***"), "{raw:?} showed {shown:?}");
        }
        assert_eq!(redact("postgres://app:pa#ss@db/x"), "postgres://<redacted: not a valid URL>");
        assert_eq!(redact("postgres://app:5432/s3cret@db/x"), "postgres://app:5432/***");
        assert_eq!(redact("user:password"), "<13 characters, not a URL>");
        assert_eq!(redact("smtp://u:p@w@h:25"), "smtp://u:***@h:25", "the last @ ends the user info");
    }

    #[test]
    fn endpoints_lose_their_whole_user_info() {
        assert_eq!(redact_endpoint("https://sync:s3cret@scim.example/v2"), "https://scim.example/v2");
        assert_eq!(redact_endpoint("https://tok3n@scim.example/v2?x=1"), "https://scim.example/v2?x=***");
        assert_eq!(redact_endpoint("https://scim.example/v2"), "https://scim.example/v2");
        assert_eq!(redact_endpoint("https://t:pa#ss@scim.example/v2"), "https://<redacted: not a valid URL>");
    }

    #[test]
    fn query_values_show_only_for_keys_that_hold_no_secret() {
        assert_eq!(
            redact("postgres://app@db/platform?password=s3cret&sslmode=verify-full&sslrootcert=/etc/ca.crt"),
            "postgres://app@db/platform?password=***&sslmode=verify-full&sslrootcert=/etc/ca.crt"
        );
        assert_eq!(
            redact("https://scim.example/v2?token=abc&access_token=def"),
            "https://scim.example/v2?token=***&access_token=***"
        );
        assert_eq!(redact("https://scim.example/v2#s3cret"), "https://scim.example/v2#***");
        assert_eq!(redact("smtp://h:25/x@y"), "smtp://h:25/***");
    }
}
