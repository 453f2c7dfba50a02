//! Transport URLs: where mail goes, parsed and checked before anything is sent.
//!
//! | URL | meaning | default port |
//! |---|---|---|
//! | `smtp://[user:pass@]host[:port]` | SMTP with STARTTLS **required** (no silent plaintext) | 587 |
//! | `smtp://host[:port]?tls=none` | plain SMTP, e.g. a local relay or a test server | 25 |
//! | `smtps://[user:pass@]host[:port]` | implicit TLS (SMTPS) | 465 |
//! | `file://DIR` | one `.eml` file per mail in `DIR` (local mode's default) | |
//!
//! Query parameters (`smtp`/`smtps`): `tls=starttls|none` (`smtp` only) and `ca=PATH`, a PEM
//! CA trusted in addition to the system roots (a relay with a private CA). `file://` takes
//! the rest of the URL as the path: `file:///var/mail/out` is absolute, `file://out` relative.
//!
//! AUTH credentials come from the URL's user info (percent-encoded), else from the
//! environment `SMTP_USERNAME` and `SMTP_PASSWORD` (both or neither). Credentials are refused
//! over `tls=none` except to a loopback host. Errors name the URL with its password replaced
//! by `***`; [`Endpoint`]'s `Debug` and [`Endpoint::describe`] never show it.

use std::fmt;
use std::path::PathBuf;

use super::MailError;

/// Where mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Smtp { host: String, port: u16, security: Security, credentials: Option<Credentials>, ca: Option<PathBuf> },
    File { dir: PathBuf },
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection, then STARTTLS; fails if the server does not offer it.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
    /// No TLS at all.
    None,
}

/// AUTH user name and password; `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"***").finish()
    }
}

impl Endpoint {
    /// Parse `url`, taking credentials missing from it from the process environment.
    pub fn parse(url: &str) -> Result<Endpoint, MailError> {
        Endpoint::parse_with_env(url, |name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`Endpoint::parse`] with the environment given as a lookup (for tests).
    pub fn parse_with_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Endpoint, MailError> {
        let bad = |reason: &str| MailError::BadUrl { url: redact(url), reason: reason.to_string() };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("expected smtp://, smtps:// or file://"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "file" {
            if rest.is_empty() {
                return Err(bad("file:// needs a directory, e.g. file:///var/mail/out"));
            }
            if rest.contains(['?', '#']) {
                return Err(bad("file:// takes no query or fragment"));
            }
            return Ok(Endpoint::File { dir: PathBuf::from(rest) });
        }
        let implicit = match scheme.as_str() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(bad("unknown scheme; expected smtp://, smtps:// or file://")),
        };
        if rest.contains('#') {
            return Err(bad("a fragment (#...) is not allowed"));
        }
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        if !path.is_empty() {
            return Err(bad("a path is not allowed; the URL is smtp://host:port"));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).map_err(|r| bad(&r))?;

        let mut tls = None;
        let mut ca = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).map_err(|r| bad(&r))?;
            match key {
                "tls" if tls.is_some() => return Err(bad("tls= is given twice")),
                "tls" if implicit => return Err(bad("smtps:// is always TLS; tls= applies to smtp:// only")),
                "tls" => tls = Some(value),
                "ca" if ca.is_some() => return Err(bad("ca= is given twice")),
                "ca" if value.is_empty() => return Err(bad("ca= needs the path of a PEM file")),
                "ca" => ca = Some(PathBuf::from(value)),
                _ => return Err(bad(&format!("unknown parameter {key:?}; known: tls, ca"))),
            }
        }
        let security = match (implicit, tls.as_deref()) {
            (true, _) => Security::Implicit,
            (false, None | Some("starttls")) => Security::StartTls,
            (false, Some("none")) => Security::None,
            (false, Some(other)) => return Err(bad(&format!("tls={other:?}: expected tls=starttls or tls=none"))),
        };
        if security == Security::None && ca.is_some() {
            return Err(bad("ca= makes no sense with tls=none"));
        }
        let port = port.unwrap_or(match security {
            Security::StartTls => 587,
            Security::Implicit => 465,
            Security::None => 25,
        });

        let credentials = match userinfo {
            Some(info) => {
                let (user, pass) = info.split_once(':').ok_or_else(|| bad("the user name has no password"))?;
                let username = percent_decode(user).map_err(|r| bad(&r))?;
                let password = percent_decode(pass).map_err(|r| bad(&r))?;
                if username.is_empty() || password.is_empty() {
                    return Err(bad("user name and password must both be non-empty"));
                }
                Some(Credentials { username, password })
            }
            None => match (env("SMTP_USERNAME"), env("SMTP_PASSWORD")) {
                (Some(username), Some(password)) => Some(Credentials { username, password }),
                (None, None) => None,
                (Some(_), None) => return Err(bad("SMTP_USERNAME is set but SMTP_PASSWORD is not")),
                (None, Some(_)) => return Err(bad("SMTP_PASSWORD is set but SMTP_USERNAME is not")),
            },
        };
        if credentials.is_some() && security == Security::None && !is_loopback(&host) {
            return Err(bad("refusing to send SMTP credentials without TLS to a non-loopback host"));
        }
        Ok(Endpoint::Smtp { host, port, security, credentials, ca })
    }

    /// A description for logs and status: no password.
    pub fn describe(&self) -> String {
        match self {
            Endpoint::File { dir } => format!("file://{}", dir.display()),
            Endpoint::Smtp { host, port, security, credentials, .. } => {
                let scheme = if *security == Security::Implicit { "smtps" } else { "smtp" };
                let user = credentials.as_ref().map(|c| format!("{}@", c.username)).unwrap_or_default();
                let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
                let tls = if *security == Security::None { "?tls=none" } else { "" };
                format!("{scheme}://{user}{host}:{port}{tls}")
            }
        }
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("an IPv6 host needs a closing ]")?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{v6:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected :port after the IPv6 host")?),
        };
        (v6.to_string(), port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    if !host.contains(':') && !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_') {
        return Err(format!("{host:?} is not a host name"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("{p:?} is not a port (1-65535)")),
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("a bad %-escape")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "%-escapes that are not UTF-8".to_string())
}

/// `url` fit for messages: the password and secret query values hidden (see [`crate::redact`]).
pub fn redact(url: &str) -> String {
    crate::redact::redact(url)
}

#[cfg(test)]
mod tests;
