//! Provider codes in local mode: where a TenantLink's `spec.providerCode.secretRef` finds its
//! code without a cluster.
//!
//! | the link's `secretRef` names | the code local mode uses |
//! |---|---|
//! | a Secret of the manifest set, in the link's namespace | its key (`stringData` first, then base64 `data`) |
//! | `<org>-provider-code` (key `code`), `<org>` a `serviceProvider` Organization of the set, ready in this run | a code the provider issues in this run, for this link |
//! | anything else | none: the link waits (`CodeSecretNotFound`) |
//!
//! The second row stands in for the Secret the operator keeps for a provider: local mode has no
//! cluster to keep it in, so it issues the code in-process when a link has to redeem one
//! ([`issue`]), uses it at once and forgets it. Only the code's hash reaches the database; the
//! code is never printed, logged or written to a file (the run reports "provider code issued
//! for …" and nothing more). A code still open from an earlier run cannot be used (its
//! plaintext was never kept), so it is withdrawn and a fresh one issued, as the operator does
//! when its Secret went missing.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;

use super::validate::{Item, ManifestSet};
use crate::api::{Organization, TenantLink};
use crate::core::provider_code::{self, CodeText};
use crate::core::tenant_link::{LinkHold, TenantLinkPlan};
use crate::core::{CoreError, Hold, Plan};
use crate::store::Conn;

/// The Secret the operator keeps a provider's current code in is named `<org>` + this.
pub const SECRET_SUFFIX: &str = "-provider-code";
/// The key of that Secret.
pub const SECRET_KEY: &str = "code";

/// A service-provider Organization of the set that is ready in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub namespace: String,
    pub name: String,
    /// Its row's ID; `None` while only planned (a row the plan creates).
    pub id: Option<String>,
    /// `serviceProvider.codeLifetime`.
    pub lifetime: Duration,
}

/// The ready service providers of a run, by (namespace, name).
pub type Providers = HashMap<(String, String), Provider>;

/// The provider an Organization of the set is, when it is one with codes enabled.
pub fn provider(item: &Item<Organization>, id: Option<String>) -> Option<Provider> {
    let sp = item.object.spec.service_provider.as_ref().filter(|p| p.enabled)?;
    Some(Provider {
        namespace: item.namespace.clone(),
        name: item.name.clone(),
        id,
        lifetime: sp.code_lifetime.to_duration().unwrap_or(provider_code::DEFAULT_LIFETIME),
    })
}

/// Where a TenantLink's code comes from (see the module documentation).
pub enum CodeSource<'a> {
    /// No code: not a provider-code link, or the Secret or its key is missing or empty.
    Missing,
    /// The value of a Secret of the set (redacted when printed).
    Given(CodeText),
    /// A code this provider issues in this run, when the link has to redeem one.
    Issued(&'a Provider),
}

/// The code source of `link`; a Secret of the set wins over a provider of the set.
pub fn source<'a>(set: &ManifestSet, providers: &'a Providers, link: &Item<TenantLink>) -> CodeSource<'a> {
    let spec = &link.object.spec;
    let Some(code_ref) = spec.provider_code.as_ref().filter(|_| spec.partner_invitation.is_none()) else {
        return CodeSource::Missing;
    };
    let (name, key) = (code_ref.secret_ref.name.as_str(), code_ref.secret_ref.key.as_str());
    // Only Secrets of the link's own namespace, as in a cluster.
    if let Some(secret) = set.secrets.iter().find(|s| s.namespace == link.namespace && s.name == name) {
        return secret_value(&secret.object, key)
            .and_then(|text| CodeText::new(&text))
            .map_or(CodeSource::Missing, CodeSource::Given);
    }
    let provider = name
        .strip_suffix(SECRET_SUFFIX)
        .filter(|_| key == SECRET_KEY)
        .and_then(|org| providers.get(&(link.namespace.clone(), org.to_owned())));
    provider.map_or(CodeSource::Missing, CodeSource::Issued)
}

/// The value of `key`: `stringData` (which the apiserver merges over `data`), else `data`.
fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    if let Some(text) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        return Some(text.clone());
    }
    let bytes = secret.data.as_ref().and_then(|d| d.get(key))?;
    String::from_utf8(bytes.0.clone()).ok()
}

/// Whether `planned` (made without a code) waits for one: only then is a code issued.
pub fn waits_for_code(planned: &TenantLinkPlan) -> bool {
    matches!(&planned.plan, Plan::Hold(Hold::TenantLink(LinkHold::CodeSecretNotFound { .. })))
}

/// Issue a code for the provider with row `organization_id` on `conn` (the run's transaction)
/// and hand it over in-process. An open code of an earlier run is withdrawn first.
pub async fn issue(
    conn: &mut Conn,
    organization_id: &str,
    lifetime: Duration,
    now: Timestamp,
) -> Result<CodeText, CoreError> {
    let (token, _) = provider_code::rotate(conn, organization_id, lifetime, now).await?;
    CodeText::new(token.expose())
        .ok_or_else(|| CoreError::Input { what: "provider code".to_owned(), reason: "issued empty".to_owned() })
}

/// A stand-in code for a plan: the plan issues nothing, so it redeems a code that cannot match
/// any real one (real codes are base64url; this is not).
pub fn planned(link_uid: &str) -> Option<CodeText> {
    CodeText::new(&format!("planned provider code for {link_uid}"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::local::manifest::split_documents;
    use crate::local::validate::validate;

    const SET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: given\nstringData:\n  code: \" abc \"\n\
        ---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: encoded\ndata:\n  code: eHl6\n---\n\
        apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n  namespace: elsewhere\nstringData:\n  code: nope\n";

    fn link(secret: &str, key: &str) -> String {
        format!(
            "---\napiVersion: accountops.dev/v1alpha1\nkind: TenantLink\nmetadata:\n  name: l-{secret}-{key}\nspec:\n  \
             organizationRef:\n    name: tenant\n  providerCode:\n    secretRef:\n      name: {secret}\n      key: {key}\n"
        )
    }

    #[test]
    fn codes_come_from_the_set_or_from_a_provider_of_the_set() {
        let text = [SET.to_owned(), link("given", "code"), link("encoded", "code"), link("other", "code")].concat()
            + &link("northwind-provider-code", "code")
            + &link("northwind-provider-code", "other")
            + &link("given", "missing");
        let docs = split_documents(Path::new("a.yaml"), &text);
        let (set, _) = validate(&docs);
        assert_eq!(set.tenant_links.len(), 6);
        let northwind = Provider {
            namespace: "default".into(),
            name: "northwind".into(),
            id: Some("org-1".into()),
            lifetime: provider_code::DEFAULT_LIFETIME,
        };
        let providers: Providers = [(("default".to_owned(), "northwind".to_owned()), northwind.clone())].into();
        let hash = |s: CodeSource<'_>| match s {
            CodeSource::Given(c) => Some(c.hash()),
            _ => None,
        };
        let links = &set.tenant_links;
        assert_eq!(hash(source(&set, &providers, &links[0])), CodeText::new("abc").map(|c| c.hash()));
        assert_eq!(hash(source(&set, &providers, &links[1])), CodeText::new("xyz").map(|c| c.hash()));
        assert!(matches!(source(&set, &providers, &links[2]), CodeSource::Missing), "another namespace's Secret");
        assert!(matches!(source(&set, &providers, &links[3]), CodeSource::Issued(p) if *p == northwind));
        assert!(matches!(source(&set, &providers, &links[4]), CodeSource::Missing), "the operator writes `code`");
        assert!(matches!(source(&set, &providers, &links[5]), CodeSource::Missing));
        assert!(matches!(source(&set, &Providers::new(), &links[3]), CodeSource::Missing), "not ready: no code");
        assert!(!format!("{:?}", planned("local:x/default/l")).contains("planned"), "redacted");
    }
}
