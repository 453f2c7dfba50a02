//! The `--scim-*` flags of `accountops run`: endpoint policy, client limits, rate budget and
//! breaker, turned into the [`GuardSettings`] every SCIM client of the process shares.

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::guard::GuardSettings;
use super::limits::ClientLimits;
use super::policy::EndpointPolicy;

/// What SCIM endpoints the operator connects to, and what one may cost.
#[derive(Debug, Clone, clap::Args)]
pub struct ScimArgs {
    /// Allow http:// SCIM endpoints that are not loopback (the credentials then travel in
    /// plaintext). Without it, http:// works for loopback only.
    #[arg(long)]
    pub scim_allow_http: bool,
    /// Refuse loopback SCIM endpoints (127.0.0.0/8, ::1); in a pod, loopback is the operator
    /// itself.
    #[arg(long)]
    pub scim_deny_loopback: bool,
    /// Address ranges SCIM endpoints may be in although a built-in rule denies them (private
    /// networks, link-local), e.g. 10.20.0.0/16; comma-separated or repeated.
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    pub scim_allow_cidr: Vec<IpNet>,
    /// Address ranges denied besides the built-in ones; comma-separated or repeated.
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    pub scim_deny_cidr: Vec<IpNet>,
    /// Host names SCIM endpoints may have: exact, or *.example.com for its subdomains;
    /// comma-separated or repeated. Default: any host the address rules allow.
    #[arg(long, value_name = "HOST", value_delimiter = ',')]
    pub scim_allowed_hosts: Vec<String>,
    /// Requests a minute to one SCIM endpoint, shared by every sync using it (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 600)]
    pub scim_rate_per_minute: u32,
    /// Consecutive failures after which an endpoint's circuit breaker opens.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub scim_breaker_failures: u32,
    /// How long an open breaker waits before one probe request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub scim_breaker_cool_down: Duration,
    /// Time to connect to a SCIM endpoint (TCP and TLS).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub scim_connect_timeout: Duration,
    /// Time for a whole SCIM request, reading the answer included.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    pub scim_timeout: Duration,
    /// Bytes read from one SCIM response at most; a larger one fails the sync
    /// (ResponseTooLarge). Suffixes Ki and Mi are accepted.
    #[arg(long, value_name = "BYTES", default_value = "2Mi", value_parser = parse_bytes)]
    pub scim_max_response_bytes: usize,
    /// Resources one SCIM list may hold; a larger one fails (TooManyResources).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub scim_max_resources: usize,
}

impl ScimArgs {
    pub fn settings(&self) -> GuardSettings {
        let policy = EndpointPolicy {
            allow_http: self.scim_allow_http,
            allow_loopback: !self.scim_deny_loopback,
            allowed_ranges: self.scim_allow_cidr.clone(),
            denied_ranges: self.scim_deny_cidr.clone(),
            allowed_hosts: self
                .scim_allowed_hosts
                .iter()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect(),
        };
        GuardSettings {
            requests_per_minute: self.scim_rate_per_minute,
            failure_threshold: self.scim_breaker_failures,
            cool_down: self.scim_breaker_cool_down,
            policy: Arc::new(policy),
            limits: ClientLimits {
                max_response_bytes: self.scim_max_response_bytes,
                max_resources: self.scim_max_resources,
                connect_timeout: self.scim_connect_timeout,
                timeout: self.scim_timeout,
            },
        }
    }
}

/// A duration such as `30s`, `5m`, `1h` (the shape the CRDs accept), not zero.
fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::api::Lifetime::from(text)
        .to_duration()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} is not a duration such as 30s, 5m or 1h"))
}

/// `1048576`, `512Ki` or `2Mi`, at least 1 KiB.
fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = match text.strip_suffix("Mi") {
        Some(d) => (d, 1 << 20),
        None => match text.strip_suffix("Ki") {
            Some(d) => (d, 1 << 10),
            None => (text, 1),
        },
    };
    let bytes = digits.parse::<usize>().ok().and_then(|n| n.checked_mul(unit));
    bytes.filter(|b| *b >= 1024).ok_or_else(|| format!("{text:?} is not a size of at least 1Ki, such as 2Mi or 524288"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        scim: ScimArgs,
    }

    fn parse(args: &[&str]) -> Result<GuardSettings, clap::Error> {
        Cli::try_parse_from(std::iter::once("accountops").chain(args.iter().copied())).map(|c| c.scim.settings())
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let settings = parse(&[]).expect("defaults");
        assert_eq!(settings, GuardSettings::default());
    }

    #[test]
    fn flags_fill_the_policy_and_the_limits() {
        let s = parse(&[
            "--scim-allow-http",
            "--scim-deny-loopback",
            "--scim-allow-cidr=10.20.0.0/16,fd00:1::/64",
            "--scim-deny-cidr=203.0.113.0/24",
            "--scim-allowed-hosts=scim.example.com, *.okta.example",
            "--scim-rate-per-minute=60",
            "--scim-breaker-failures=2",
            "--scim-breaker-cool-down=1m",
            "--scim-connect-timeout=2s",
            "--scim-timeout=3s",
            "--scim-max-response-bytes=512Ki",
            "--scim-max-resources=50",
        ])
        .expect("flags");
        assert!(s.policy.allow_http && !s.policy.allow_loopback);
        assert_eq!(s.policy.allowed_ranges.len(), 2);
        assert_eq!(s.policy.denied_ranges, vec!["203.0.113.0/24".parse::<IpNet>().expect("cidr")]);
        assert_eq!(s.policy.allowed_hosts, vec!["scim.example.com".to_owned(), "*.okta.example".to_owned()]);
        assert_eq!((s.requests_per_minute, s.failure_threshold, s.cool_down), (60, 2, Duration::from_secs(60)));
        assert_eq!(
            s.limits,
            ClientLimits {
                max_response_bytes: 512 << 10,
                max_resources: 50,
                connect_timeout: Duration::from_secs(2),
                timeout: Duration::from_secs(3),
            }
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (arg, flag) in [
            ("--scim-allow-cidr=10.0.0.0/33", "--scim-allow-cidr"),
            ("--scim-deny-cidr=example.com", "--scim-deny-cidr"),
            ("--scim-timeout=0s", "--scim-timeout"),
            ("--scim-max-response-bytes=12", "--scim-max-response-bytes"),
            ("--scim-max-response-bytes=2Gi", "--scim-max-response-bytes"),
            ("--scim-breaker-failures=0", "--scim-breaker-failures"),
        ] {
            let err = parse(&[arg]).err().unwrap_or_else(|| panic!("{arg} is refused"));
            assert!(err.to_string().contains(flag), "{arg}: {err}");
        }
    }
}
