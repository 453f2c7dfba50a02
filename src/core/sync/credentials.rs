//! The SCIM credentials of a ProvisioningSync, from the content of its credentials Secret.
//!
//! Both shells hand the Secret here (the operator reads it from the apiserver, local mode from
//! a Secret of the manifest set), so they agree on which Secrets may be used at all, on the
//! keys (`token` for `Bearer`, `username` and `password` for `Basic`), on what a missing key
//! says, and on the hash kept in status to notice a rotation. The values leave this module
//! only inside [`Credentials`], whose `Debug` redacts them.
//!
//! ```text
//! CredentialsSecret{type, data} ──refusal()──► Some(outcome CredentialsNotOptedIn): nothing sent
//!                               └─from_secret(key)──► (Credentials, HMAC-SHA256(key, content))
//! ```
//!
//! Opt-in: only a Secret of type [`CREDENTIALS_SECRET_TYPE`] is used, so a ProvisioningSync
//! cannot make the operator read and send a Secret its author may not read (a service
//! account's token, another application's password) just by naming it: the operator acts for
//! the Secret's owner only where that owner said so. A Secret's type is immutable, and
//! `kubernetes.io/service-account-token` Secrets are refused by name as well.
//!
//! The hash is keyed ([`HashKey`], kept in the database, see [`crate::store::keys`]), so a
//! `credentialsHash` read from a status cannot confirm a guessed token.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

use crate::api::Reason;
use crate::api::provisioning_sync::{ProvisioningSyncSpec, ScimAuth};
use crate::core::error::CoreError;
use crate::core::outcome::{Action, Kind, Outcome};
use crate::scim::Credentials;
pub use crate::store::keys::HashKey;

/// The data of a Secret, by key (`data` decoded, `stringData` merged under it).
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// The Secret type that lets ProvisioningSyncs of its namespace use a Secret as SCIM
/// credentials.
pub const CREDENTIALS_SECRET_TYPE: &str = "accountops.dev/scim-credentials";

const SERVICE_ACCOUNT_TOKEN: &str = "kubernetes.io/service-account-token";

/// A credentials Secret as a shell found it: its type (`Opaque` when not given) and data.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialsSecret {
    pub secret_type: Option<String>,
    pub data: SecretData,
}

impl std::fmt::Debug for CredentialsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self.data.keys().collect();
        f.debug_struct("CredentialsSecret").field("secret_type", &self.secret_type).field("keys", &keys).finish()
    }
}

/// Why a Secret may not be used as SCIM credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotOptedIn {
    /// A service account's token: never sent anywhere.
    ServiceAccountToken,
    /// Any other type than [`CREDENTIALS_SECRET_TYPE`].
    OtherType,
}

/// Whether a Secret of `secret_type` opted in as SCIM credentials.
pub fn opted_in(secret_type: Option<&str>) -> Result<(), NotOptedIn> {
    match secret_type {
        Some(CREDENTIALS_SECRET_TYPE) => Ok(()),
        Some(SERVICE_ACCOUNT_TOKEN) => Err(NotOptedIn::ServiceAccountToken),
        _ => Err(NotOptedIn::OtherType),
    }
}

/// The outcome when the credentials Secret did not opt in: `CredentialsNotOptedIn`, nothing
/// read from it, nothing sent; looked at again when the Secret changes (and at `resync`).
pub fn refusal(
    spec: &ProvisioningSyncSpec,
    namespace: &str,
    secret: &CredentialsSecret,
    resync: Duration,
    now: Timestamp,
) -> Option<Outcome> {
    let name = spec.endpoint.credentials_secret_ref.name.as_str();
    let shown = secret.secret_type.as_deref().unwrap_or("Opaque");
    let message = match opted_in(secret.secret_type.as_deref()).err()? {
        NotOptedIn::ServiceAccountToken => format!(
            "spec.endpoint.credentialsSecretRef: Secret {name} in {namespace} is a service account token \
             ({SERVICE_ACCOUNT_TOKEN}); the operator never sends one to a SCIM system"
        ),
        NotOptedIn::OtherType => format!(
            "spec.endpoint.credentialsSecretRef: Secret {name} in {namespace} has type {shown}; only a Secret \
             of type {CREDENTIALS_SECRET_TYPE} is used as SCIM credentials (recreate it with that type)"
        ),
    };
    Some(Outcome {
        kind: Kind::ProvisioningSync,
        action: Action::Conflict,
        id: None,
        account_id: None,
        changes: Vec::new(),
        children: None,
        reason: Reason::CredentialsNotOptedIn,
        message,
        requeue_at: SignedDuration::try_from(resync).ok().and_then(|d| now.checked_add(d).ok()),
        facts: crate::core::facts::KindFacts::None,
    })
}

/// The credentials of `spec.endpoint.auth` from the Secret's data, and the keyed hash of its
/// content. A missing or empty key is an input error naming the Secret and the key. Call
/// [`refusal`] first: this does not look at the Secret's type.
pub fn from_secret(
    spec: &ProvisioningSyncSpec,
    secret: &CredentialsSecret,
    key: &HashKey,
) -> Result<(Credentials, String), CoreError> {
    let data = &secret.data;
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
    Ok((credentials, content_hash(data, key)))
}

/// HMAC-SHA256 under `key` over a Secret's keys and values (each length-prefixed), so a
/// rotation is noticed without keeping the values, and the hash confirms no guess.
pub fn content_hash(data: &SecretData, key: &HashKey) -> String {
    // A key of any length is valid for HMAC: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.bytes()) else { return String::new() };
    for (k, v) in data {
        mac.update(&(k.len() as u64).to_be_bytes());
        mac.update(k.as_bytes());
        mac.update(&(v.len() as u64).to_be_bytes());
        mac.update(v);
    }
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
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
        reason: Reason::CredentialsSecretNotFound,
        message: format!("Secret {name} with the SCIM credentials does not exist in {namespace}"),
        requeue_at: SignedDuration::try_from(resync).ok().and_then(|d| now.checked_add(d).ok()),
        facts: crate::core::facts::KindFacts::None,
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

    fn opted(pairs: &[(&str, &str)]) -> CredentialsSecret {
        CredentialsSecret { secret_type: Some(CREDENTIALS_SECRET_TYPE.to_owned()), data: data(pairs) }
    }

    fn key() -> HashKey {
        HashKey::random().expect("random")
    }

    #[test]
    fn bearer_and_basic_read_their_keys_trimmed() {
        let key = key();
        let (creds, hash) = from_secret(&spec("Bearer"), &opted(&[("token", " t0k \n")]), &key).expect("bearer");
        assert_eq!(creds, Credentials::Bearer("t0k".into()));
        assert_eq!(hash, content_hash(&data(&[("token", " t0k \n")]), &key));
        let basic = opted(&[("username", "u"), ("password", "p")]);
        let (creds, _) = from_secret(&spec("Basic"), &basic, &key).expect("basic");
        assert_eq!(creds, Credentials::Basic { username: "u".into(), password: "p".into() });
    }

    #[test]
    fn a_missing_or_empty_key_names_the_secret_and_the_key() {
        let err = from_secret(&spec("Bearer"), &opted(&[("tokn", "x")]), &key()).expect_err("no token");
        assert_eq!(err.to_string(), "reading Secret creds: key token is missing or empty (auth Bearer needs it)");
        let empty = opted(&[("username", "u"), ("password", "  ")]);
        let err = from_secret(&spec("Basic"), &empty, &key()).expect_err("empty");
        assert!(err.to_string().contains("key password is missing or empty"), "{err}");
        let shown = format!("{:?}", opted(&[("password", "hunter2")]));
        assert!(shown.contains("password") && !shown.contains("hunter2"), "no values in Debug: {shown}");
    }

    #[test]
    fn only_secrets_of_the_credentials_type_are_used() {
        assert_eq!(opted_in(Some(CREDENTIALS_SECRET_TYPE)), Ok(()));
        assert_eq!(opted_in(Some("kubernetes.io/service-account-token")), Err(NotOptedIn::ServiceAccountToken));
        for other in [None, Some("Opaque"), Some("kubernetes.io/basic-auth"), Some("accountops.dev/scim")] {
            assert_eq!(opted_in(other), Err(NotOptedIn::OtherType), "{other:?}");
        }
        let now = Timestamp::UNIX_EPOCH;
        let resync = Duration::from_secs(60);
        assert_eq!(refusal(&spec("Bearer"), "team-a", &opted(&[("token", "t")]), resync, now), None);
        let opaque = CredentialsSecret { secret_type: None, data: data(&[("token", "t")]) };
        let o = refusal(&spec("Bearer"), "team-a", &opaque, resync, now).expect("refused");
        assert_eq!((o.action, o.reason), (Action::Conflict, Reason::CredentialsNotOptedIn));
        assert_eq!(
            o.message,
            "spec.endpoint.credentialsSecretRef: Secret creds in team-a has type Opaque; only a Secret of type \
             accountops.dev/scim-credentials is used as SCIM credentials (recreate it with that type)"
        );
        assert_eq!(o.requeue_at, now.checked_add(SignedDuration::from_secs(60)).ok());
        let sa = CredentialsSecret {
            secret_type: Some("kubernetes.io/service-account-token".into()),
            data: data(&[("token", "eyJ...")]),
        };
        let o = refusal(&spec("Bearer"), "team-a", &sa, resync, now).expect("refused");
        assert!(o.message.contains("is a service account token"), "{}", o.message);
        assert!(!o.message.contains("eyJ"), "{}", o.message);
    }

    #[test]
    fn the_hash_is_keyed_and_changes_with_any_key_or_value_and_only_then() {
        let key = key();
        let a = data(&[("token", "one")]);
        let b = data(&[("token", "two")]);
        let c = data(&[("tokens", "one")]);
        assert_eq!(content_hash(&a, &key), content_hash(&a.clone(), &key));
        assert_ne!(content_hash(&a, &key), content_hash(&b, &key));
        assert_ne!(content_hash(&a, &key), content_hash(&c, &key));
        assert_eq!(content_hash(&a, &key).len(), 64);
        assert!(!content_hash(&a, &key).contains("one"));
        // Another key (another database): another hash, so a guess cannot be confirmed offline.
        assert_ne!(content_hash(&a, &key), content_hash(&a, &HashKey::random().expect("random")));
        let plain: String = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(5u64.to_be_bytes());
            h.update(b"token");
            h.update(3u64.to_be_bytes());
            h.update(b"one");
            h.finalize().iter().map(|b| format!("{b:02x}")).collect()
        };
        assert_ne!(content_hash(&a, &key), plain, "not the unkeyed SHA-256 of before");
    }

    #[test]
    fn a_missing_secret_waits_until_the_next_resync() {
        let now = Timestamp::UNIX_EPOCH;
        let o = secret_missing(&spec("Bearer"), "team-a", Duration::from_secs(60), now);
        assert_eq!((o.action, o.reason), (Action::Waiting, Reason::CredentialsSecretNotFound));
        assert_eq!(o.message, "Secret creds with the SCIM credentials does not exist in team-a");
        assert_eq!(o.requeue_at, now.checked_add(SignedDuration::from_secs(60)).ok());
    }
}
