//! The SCIM credentials of a ProvisioningSync, from the content of its credentials Secret.
//!
//! Both shells hand the Secret's data here (the operator reads it from the apiserver, local
//! mode from a Secret of the manifest set), so they agree on the keys (`token` for `Bearer`,
//! `username` and `password` for `Basic`), on what a missing key says, and on the hash kept in
//! status to notice a rotation. The values leave this module only inside [`Credentials`],
//! whose `Debug` redacts them.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::api::provisioning_sync::{ProvisioningSyncSpec, ScimAuth};
use crate::core::error::CoreError;
use crate::core::outcome::{Action, Kind, Outcome};
use crate::provisioning::Credentials;

/// The data of a Secret, by key (`data` decoded, `stringData` merged under it).
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// The credentials of `spec.endpoint.auth` from the Secret's `data`, and the SHA-256 of its
/// content. A missing or empty key is an input error naming the Secret and the key.
pub fn from_secret(spec: &ProvisioningSyncSpec, data: &SecretData) -> Result<(Credentials, String), CoreError> {
    let name = spec.endpoint.credentials_secret_ref.name.as_str();
    let text = |key: &str| {
        data.get(key).map(|v| String::from_utf8_lossy(v).trim().to_owned()).filter(|v| !v.is_empty()).ok_or_else(|| {
            CoreError::Input {
                what: format!("Secret {name}"),
                reason: format!("key {key} is missing or empty (auth {:?} needs it)", spec.endpoint.auth),
            }
        })
    };
    let credentials = match spec.endpoint.auth {
        ScimAuth::Bearer => Credentials::Bearer(text("token")?),
        ScimAuth::Basic => Credentials::Basic { username: text("username")?, password: text("password")? },
    };
    Ok((credentials, content_hash(data)))
}

/// SHA-256 over a Secret's keys and values, so a rotation is noticed without keeping the values.
pub fn content_hash(data: &SecretData) -> String {
    let mut hasher = Sha256::new();
    for (k, v) in data {
        hasher.update((k.len() as u64).to_be_bytes());
        hasher.update(k.as_bytes());
        hasher.update((v.len() as u64).to_be_bytes());
        hasher.update(v);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The outcome while the credentials Secret does not exist: waiting, looked at again after
/// `resync` (and, in a cluster, as soon as the Secret appears).
pub fn secret_missing(spec: &ProvisioningSyncSpec, namespace: &str, resync: Duration, now: Timestamp) -> Outcome {
    let name = spec.endpoint.credentials_secret_ref.name.as_str();
    Outcome {
        kind: Kind::ProvisioningSync,
        action: Action::Waiting,
        id: None,
        account_id: None,
        changes: Vec::new(),
        children: None,
        reason: "CredentialsSecretNotFound",
        message: format!("Secret {name} with the SCIM credentials does not exist in {namespace}"),
        requeue_at: SignedDuration::try_from(resync).ok().and_then(|d| now.checked_add(d).ok()),
        membership: None,
        tenant_link: None,
        provisioning: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(auth: &str) -> ProvisioningSyncSpec {
        serde_yaml::from_str(&format!(
            "accountRef: {{name: acme}}\nendpoint: {{url: 'https://scim.example/v2', auth: {auth}, \
             credentialsSecretRef: {{name: creds}}}}\nportalUrl: https://portal.example\n"
        ))
        .expect("spec")
    }

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect()
    }

    #[test]
    fn bearer_and_basic_read_their_keys_trimmed() {
        let (creds, hash) = from_secret(&spec("Bearer"), &data(&[("token", " t0k \n")])).expect("bearer");
        assert_eq!(creds, Credentials::Bearer("t0k".into()));
        assert_eq!(hash, content_hash(&data(&[("token", " t0k \n")])));
        let (creds, _) = from_secret(&spec("Basic"), &data(&[("username", "u"), ("password", "p")])).expect("basic");
        assert_eq!(creds, Credentials::Basic { username: "u".into(), password: "p".into() });
    }

    #[test]
    fn a_missing_or_empty_key_names_the_secret_and_the_key() {
        let err = from_secret(&spec("Bearer"), &data(&[("tokn", "x")])).expect_err("no token");
        assert_eq!(err.to_string(), "reading Secret creds: key token is missing or empty (auth Bearer needs it)");
        let err = from_secret(&spec("Basic"), &data(&[("username", "u"), ("password", "  ")])).expect_err("empty");
        assert!(err.to_string().contains("key password is missing or empty"), "{err}");
    }

    #[test]
    fn the_hash_changes_with_any_key_or_value_and_only_then() {
        let a = data(&[("token", "one")]);
        let b = data(&[("token", "two")]);
        let c = data(&[("tokens", "one")]);
        assert_eq!(content_hash(&a), content_hash(&a.clone()));
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
        assert_eq!(content_hash(&a).len(), 64);
        assert!(!content_hash(&a).contains("one"));
    }

    #[test]
    fn a_missing_secret_waits_until_the_next_resync() {
        let now = Timestamp::UNIX_EPOCH;
        let o = secret_missing(&spec("Bearer"), "team-a", Duration::from_secs(60), now);
        assert_eq!((o.action, o.reason), (Action::Waiting, "CredentialsSecretNotFound"));
        assert_eq!(o.message, "Secret creds with the SCIM credentials does not exist in team-a");
        assert_eq!(o.requeue_at, now.checked_add(SignedDuration::from_secs(60)).ok());
    }
}
