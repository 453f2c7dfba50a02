//! The SCIM client's DNS resolver: resolve, then check every address against the
//! [`EndpointPolicy`] before hyper connects to any of them.
//!
//! The check runs on the addresses the connection will use, not on an earlier lookup, so a
//! name that resolves to a public address once and to `169.254.169.254` the next time (DNS
//! rebinding) is refused on the lookup that matters. A name with one refused address is
//! refused as a whole: no connection is attempted. IP-literal hosts never reach a resolver;
//! [`EndpointPolicy::check_url`] judges them when the client is built.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::{EndpointPolicy, Refusal};

/// Resolves through the system (`getaddrinfo`, as reqwest's default) and applies the policy.
#[derive(Debug, Clone)]
pub(crate) struct CheckedResolver {
    policy: Arc<EndpointPolicy>,
    /// The endpoint is `http://`: only loopback addresses (or `--scim-allow-http`) pass.
    plain_http: bool,
}

impl CheckedResolver {
    pub(crate) fn new(policy: Arc<EndpointPolicy>, plain_http: bool) -> CheckedResolver {
        CheckedResolver { policy, plain_http }
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: hyper sets the URL's port on the addresses it is given.
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            resolver.admit(&host, &addrs)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl CheckedResolver {
    /// Every address passes, or the first refusal.
    fn admit(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), Refusal> {
        addrs.iter().try_for_each(|a| self.policy.check_address(host, a.ip(), self.plain_http))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::policy::Rule;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| SocketAddr::new(a.parse().expect("ip"), 0)).collect()
    }

    #[test]
    fn one_refused_address_refuses_the_name() {
        let r = CheckedResolver::new(Arc::new(EndpointPolicy::default()), false);
        assert_eq!(r.admit("scim.example.com", &addrs(&["93.184.215.14", "2606:4700::1"])), Ok(()));
        let rebound = r.admit("scim.example.com", &addrs(&["93.184.215.14", "169.254.169.254"])).expect_err("metadata");
        assert_eq!(rebound.rule, Rule::LinkLocal);
        assert_eq!(rebound.subject, "scim.example.com (169.254.169.254)");
        let http = CheckedResolver::new(Arc::new(EndpointPolicy::default()), true);
        assert_eq!(http.admit("localhost", &addrs(&["127.0.0.1", "::1"])), Ok(()));
        assert_eq!(
            http.admit("scim.example.com", &addrs(&["93.184.215.14"])).map_err(|r| r.rule),
            Err(Rule::PlainHttp)
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_before_anything_connects() {
        let strict = EndpointPolicy { allow_loopback: false, ..EndpointPolicy::default() };
        let r = CheckedResolver::new(Arc::new(strict), false);
        let name: Name = "localhost".parse().expect("a name");
        let err = match r.resolve(name).await {
            Ok(_) => panic!("localhost is loopback, denied"),
            Err(e) => e,
        };
        let refusal = err.downcast_ref::<Refusal>().expect("a policy refusal");
        assert_eq!(refusal.rule, Rule::Loopback);
    }
}
