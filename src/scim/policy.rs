//! Which SCIM endpoints the operator may connect to: the operator's defence against a tenant
//! aiming a ProvisioningSync (and its credentials) at the cloud metadata service, the cluster's
//! own services or anything else inside the network (SSRF).
//!
//! ```text
//! base URL ──check_url──► scheme http/https? host on the allow-list (when one is set)?
//!             │            IP literal: check_address now (no resolver runs for it)
//!             ▼
//! connect ──resolver (resolve.rs)──► every address of the name ──check_address──► connect
//!                                     one refused: no connection at all
//! check_address: allowed ranges (exemptions) ► denied ranges ► built-in ranges ► plain http
//! ```
//!
//! Built-in ranges, denied by default: unspecified (`0.0.0.0/8`, `::`), link-local
//! (`169.254.0.0/16` with the metadata address `169.254.169.254`, `fe80::/10`), multicast,
//! reserved and broadcast (`240.0.0.0/4`), private networks (`10/8`, `172.16/12`,
//! `192.168/16`, carrier-grade NAT `100.64/10` with Alibaba's metadata `100.100.100.200`,
//! unique-local `fc00::/7` with AWS's IPv6 metadata `fd00:ec2::254`). Private networks are
//! denied because inside a cluster they hold the pods, the services, the apiserver and the
//! database; a SCIM system there is allowed by `--scim-allow-cidr`. Loopback is allowed
//! (a SCIM server next to the operator: local mode, tests) unless `--scim-deny-loopback`.
//! IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::/96`) addresses are judged by the IPv4
//! address inside. `http://` is allowed to loopback only, unless `--scim-allow-http`.
//! Redirects are never followed (the client's policy), so a checked URL cannot hand the
//! request on to an unchecked one.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// What the operator may connect to. The default: https anywhere public, http and https to
/// loopback, no host allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// `http://` to hosts that are not loopback (credentials then travel in plaintext).
    pub allow_http: bool,
    /// Loopback (`127.0.0.0/8`, `::1`).
    pub allow_loopback: bool,
    /// Ranges allowed even though a built-in rule denies them (a SCIM system on a private
    /// network).
    pub allowed_ranges: Vec<IpNet>,
    /// Ranges denied in addition to the built-in ones.
    pub denied_ranges: Vec<IpNet>,
    /// Host names an endpoint may have: exact (`scim.example.com`) or a suffix
    /// (`*.example.com`, not `example.com` itself); empty: any.
    pub allowed_hosts: Vec<String>,
}

impl Default for EndpointPolicy {
    fn default() -> Self {
        EndpointPolicy {
            allow_http: false,
            allow_loopback: true,
            allowed_ranges: Vec::new(),
            denied_ranges: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }
}

/// The rule that refused an endpoint; every message says which flag changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Not `http` or `https`.
    Scheme(String),
    /// `http://` to a host that is not loopback.
    PlainHttp,
    /// The host is not on `--scim-allowed-hosts`.
    HostNotListed,
    Loopback,
    Unspecified,
    LinkLocal,
    Multicast,
    Reserved,
    Private,
    /// One of `--scim-deny-cidr`.
    DeniedRange(IpNet),
}

impl Rule {
    /// The condition-friendly name of the rule, for logs and tests.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rule::Scheme(_) => "Scheme",
            Rule::PlainHttp => "PlainHttp",
            Rule::HostNotListed => "HostNotListed",
            Rule::Loopback => "Loopback",
            Rule::Unspecified => "Unspecified",
            Rule::LinkLocal => "LinkLocal",
            Rule::Multicast => "Multicast",
            Rule::Reserved => "Reserved",
            Rule::Private => "Private",
            Rule::DeniedRange(_) => "DeniedRange",
        }
    }
}

/// Why an endpoint is refused: the host or address and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(subject, rule))]
pub struct Refusal {
    /// The host name or address refused.
    pub subject: String,
    pub rule: Rule,
}

fn describe(subject: &str, rule: &Rule) -> String {
    const EXEMPT: &str = "--scim-allow-cidr exempts a range";
    match rule {
        Rule::Scheme(scheme) => format!("scheme {scheme:?} is not http or https"),
        Rule::PlainHttp => format!(
            "http:// to {subject}, which is not loopback, would send the credentials in plaintext \
             (use https://, or --scim-allow-http)"
        ),
        Rule::HostNotListed => format!("host {subject} is not on the operator's --scim-allowed-hosts"),
        Rule::Loopback => format!("{subject} is loopback, denied by --scim-deny-loopback"),
        Rule::Unspecified => format!("{subject} is an unspecified address (0.0.0.0/8, ::)"),
        Rule::LinkLocal => {
            format!("{subject} is link-local (169.254.0.0/16, fe80::/10), where cloud metadata services live; {EXEMPT}")
        }
        Rule::Multicast => format!("{subject} is a multicast address"),
        Rule::Reserved => format!("{subject} is a reserved or broadcast address (240.0.0.0/4)"),
        Rule::Private => format!(
            "{subject} is on a private network (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), \
             which inside a cluster holds its pods and services; {EXEMPT}"
        ),
        Rule::DeniedRange(range) => format!("{subject} is in {range}, denied by --scim-deny-cidr"),
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EndpointPolicy {
    /// What can be decided from the URL alone: scheme, host allow-list, and the address of an
    /// IP-literal host (no resolver runs for one).
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refusal> {
        let refuse = |subject: &str, rule| Err(Refusal { subject: subject.to_owned(), rule });
        let plain_http = match url.scheme() {
            "https" => false,
            "http" => true,
            other => return refuse(other, Rule::Scheme(other.to_owned())),
        };
        let host = match url.host() {
            Some(host) => host,
            None => return refuse("(no host)", Rule::Unspecified),
        };
        let text = match &host {
            url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        if !self.host_listed(&text) {
            return refuse(&text, Rule::HostNotListed);
        }
        match host {
            url::Host::Ipv4(ip) => self.check_address(&text, IpAddr::V4(ip), plain_http),
            url::Host::Ipv6(ip) => self.check_address(&text, IpAddr::V6(ip), plain_http),
            url::Host::Domain(_) => Ok(()),
        }
    }

    /// Whether the operator may connect to `ip` (an address of `host`), over plain http or not.
    /// The address rules come first (a metadata address is refused as such, whatever the
    /// scheme), then plain http.
    pub fn check_address(&self, host: &str, ip: IpAddr, plain_http: bool) -> Result<(), Refusal> {
        let ip = embedded_v4(ip).map_or(ip, IpAddr::V4);
        let subject = if host == ip.to_string() { host.to_owned() } else { format!("{host} ({ip})") };
        let refuse = |rule| Err(Refusal { subject: subject.clone(), rule });
        if !self.allowed_ranges.iter().any(|r| r.contains(&ip)) {
            if let Some(range) = self.denied_ranges.iter().find(|r| r.contains(&ip)) {
                return refuse(Rule::DeniedRange(*range));
            }
            match builtin(ip) {
                Some(Rule::Loopback) if self.allow_loopback => {}
                Some(rule) => return refuse(rule),
                None => {}
            }
        }
        if plain_http && !ip.is_loopback() && !self.allow_http {
            return refuse(Rule::PlainHttp);
        }
        Ok(())
    }

    fn host_listed(&self, host: &str) -> bool {
        self.allowed_hosts.is_empty()
            || self.allowed_hosts.iter().any(|pattern| {
                let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
                match pattern.strip_prefix("*.") {
                    Some(suffix) => host.strip_suffix(suffix).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                    None => host == pattern,
                }
            })
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:0:0/96`) or NAT64 (`64:ff9b::/96`) one.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])))
}

/// The built-in rule `ip` falls under, if any.
fn builtin(ip: IpAddr) -> Option<Rule> {
    match ip {
        IpAddr::V4(v4) => builtin_v4(v4),
        IpAddr::V6(v6) => builtin_v6(v6),
    }
}

fn builtin_v4(ip: Ipv4Addr) -> Option<Rule> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(Rule::Loopback)
    } else if a == 0 {
        Some(Rule::Unspecified)
    } else if ip.is_link_local() {
        Some(Rule::LinkLocal)
    } else if ip.is_multicast() {
        Some(Rule::Multicast)
    } else if a >= 240 {
        Some(Rule::Reserved)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Rule::Private)
    } else {
        None
    }
}

fn builtin_v6(ip: Ipv6Addr) -> Option<Rule> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(Rule::Loopback)
    } else if ip.is_unspecified() {
        Some(Rule::Unspecified)
    } else if first & 0xffc0 == 0xfe80 {
        Some(Rule::LinkLocal)
    } else if ip.is_multicast() {
        Some(Rule::Multicast)
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        // Unique-local, and the deprecated site-local.
        Some(Rule::Private)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).expect("a URL")
    }

    fn rule(policy: &EndpointPolicy, text: &str) -> Option<&'static str> {
        policy.check_url(&url(text)).err().map(|r| r.rule.as_str())
    }

    #[test]
    fn metadata_link_local_and_other_special_addresses_are_refused_by_default() {
        let p = EndpointPolicy::default();
        for (text, want) in [
            ("https://169.254.169.254/latest/meta-data", "LinkLocal"),
            ("https://[fe80::1]/v2", "LinkLocal"),
            ("https://[fd00:ec2::254]/v2", "Private"),
            ("https://100.100.100.200/v2", "Private"),
            ("https://10.96.0.1/v2", "Private"),
            ("https://172.16.0.10/v2", "Private"),
            ("https://192.168.1.1/v2", "Private"),
            ("https://0.0.0.0/v2", "Unspecified"),
            ("https://[::]/v2", "Unspecified"),
            ("https://224.0.0.1/v2", "Multicast"),
            ("https://[ff02::1]/v2", "Multicast"),
            ("https://255.255.255.255/v2", "Reserved"),
            ("https://[::ffff:169.254.169.254]/v2", "LinkLocal"),
            ("https://[64:ff9b::a9fe:a9fe]/v2", "LinkLocal"),
            ("ftp://scim.example/v2", "Scheme"),
        ] {
            assert_eq!(rule(&p, text), Some(want), "{text}");
        }
        let refusal = p.check_url(&url("https://169.254.169.254/")).expect_err("metadata");
        assert!(refusal.to_string().contains("169.254.169.254 is link-local"), "{refusal}");
        assert!(refusal.to_string().contains("--scim-allow-cidr"), "{refusal}");
    }

    #[test]
    fn public_https_and_loopback_are_allowed_and_plain_http_only_to_loopback() {
        let p = EndpointPolicy::default();
        for text in [
            "https://scim.example.com/v2",
            "https://93.184.215.14/v2",
            "https://[2606:4700::1]/v2",
            "http://127.0.0.1:8080/v2",
            "http://[::1]:8080/v2",
            "https://127.0.0.2/v2",
        ] {
            assert_eq!(rule(&p, text), None, "{text}");
        }
        assert_eq!(rule(&p, "http://93.184.215.14/v2"), Some("PlainHttp"));
        // A name is judged by its addresses, when it is resolved.
        assert_eq!(rule(&p, "http://scim.example.com/v2"), None);
        let public: IpAddr = "93.184.215.14".parse().expect("ip");
        let refusal = p.check_address("scim.example.com", public, true).expect_err("plain http");
        assert_eq!(refusal.rule, Rule::PlainHttp);
        assert!(refusal.to_string().starts_with("http:// to scim.example.com (93.184.215.14)"), "{refusal}");
        let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(p.check_address("localhost", loopback, true), Ok(()));
        let open = EndpointPolicy { allow_http: true, ..EndpointPolicy::default() };
        assert_eq!(open.check_address("scim.example.com", public, true), Ok(()));
        assert_eq!(rule(&open, "http://169.254.169.254/"), Some("LinkLocal"), "http allowed, ranges still apply");
    }

    #[test]
    fn loopback_can_be_denied_and_ranges_exempted_or_added() {
        let strict = EndpointPolicy { allow_loopback: false, ..EndpointPolicy::default() };
        assert_eq!(rule(&strict, "http://127.0.0.1:8080/v2"), Some("Loopback"));
        assert_eq!(rule(&strict, "https://[::ffff:127.0.0.1]/v2"), Some("Loopback"));
        let exempt = EndpointPolicy {
            allowed_ranges: vec!["10.20.0.0/16".parse().expect("cidr")],
            denied_ranges: vec!["93.184.0.0/16".parse().expect("cidr"), "10.20.30.0/24".parse().expect("cidr")],
            ..EndpointPolicy::default()
        };
        assert_eq!(rule(&exempt, "https://10.20.1.1/v2"), None, "an exempted private range");
        assert_eq!(rule(&exempt, "https://10.20.30.1/v2"), None, "an exemption wins over a deny");
        assert_eq!(rule(&exempt, "https://10.21.0.1/v2"), Some("Private"));
        assert_eq!(rule(&exempt, "https://93.184.215.14/v2"), Some("DeniedRange"));
        let refusal = exempt.check_url(&url("https://93.184.215.14/v2")).expect_err("denied");
        assert!(refusal.to_string().contains("93.184.0.0/16, denied by --scim-deny-cidr"), "{refusal}");
        assert_eq!(rule(&exempt, "http://10.20.1.1/v2"), Some("PlainHttp"), "an exemption is not plain http");
    }

    #[test]
    fn the_host_allow_list_takes_exact_names_and_suffixes() {
        let p = EndpointPolicy {
            allowed_hosts: vec!["scim.example.com".into(), "*.okta.example".into()],
            ..EndpointPolicy::default()
        };
        for text in ["https://scim.example.com/v2", "https://SCIM.example.com./v2", "https://acme.okta.example/scim/v2"]
        {
            assert_eq!(rule(&p, text), None, "{text}");
        }
        for text in [
            "https://other.example.com/v2",
            "https://okta.example/v2",
            "https://evilokta.example/v2",
            "https://scim.example.com.evil.example/v2",
            "http://127.0.0.1:8080/v2",
        ] {
            assert_eq!(rule(&p, text), Some("HostNotListed"), "{text}");
        }
    }
}
