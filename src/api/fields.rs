//! Validated scalar field types shared by the five kinds.
//!
//! Each newtype carries its own OpenAPI schema (pattern, length and a CEL rule with a readable
//! message), so one definition serves the CRD, `kubectl explain`, the apiserver's checks and
//! local `validate`, which runs the same schema.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::iso;

/// Shape of an e-mail address: one `@`, a dot in the domain, no spaces. Deliverability is the
/// mail relay's business; this only catches typos such as a missing domain.
pub const EMAIL_PATTERN: &str = r"^[^@\s]+@[^@\s]+\.[^@\s]+$";
/// A lifetime or interval: a whole number and one unit (s, m, h, d), e.g. `168h` or `7d`.
pub const DURATION_PATTERN: &str = r"^[0-9]{1,6}(s|m|h|d)$";
/// A Kubernetes object name: a DNS-1123 subdomain (dot-separated labels), as the apiserver
/// checks `metadata.name`.
pub const NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// The one character a platform database cannot store in a TEXT column: PostgreSQL refuses
/// U+0000 in any text value (`invalid byte sequence for encoding "UTF8": 0x00`), SQLite stores
/// it. Every other Unicode scalar value (all a Rust or JSON string can hold) is stored by both.
pub const UNSTORABLE: char = '\0';
/// The CEL rule [`crds`](super::crds) puts on every string of a spec, refusing [`UNSTORABLE`].
pub const STORABLE_RULE: &str = r"!self.contains('\u0000')";
/// Its message (the apiserver and `validate` print it after the field's path).
pub const STORABLE_MESSAGE: &str = "must not contain the NUL character (U+0000): the platform database cannot store it";

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $schema:expr) => {
        $(#[$meta])*
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}

string_newtype!(
    /// An e-mail address.
    Email,
    json_schema!({
        "type": "string",
        "minLength": 3,
        "maxLength": 254,
        "x-kubernetes-validations": [{
            "rule": format!("self.matches('{}')", EMAIL_PATTERN.replace('\\', "\\\\")),
            "message": "must be an e-mail address such as name@example.com"
        }]
    })
);

string_newtype!(
    /// An ISO 3166-1 alpha-2 country code.
    CountryCode,
    json_schema!({
        "type": "string",
        "minLength": 2,
        "maxLength": 2,
        "x-kubernetes-validations": [{
            "rule": iso::cel_in_list(iso::COUNTRIES),
            "message": "must be an ISO 3166-1 alpha-2 country code in upper case, such as PL or DE"
        }]
    })
);

string_newtype!(
    /// An ISO 4217 currency code.
    CurrencyCode,
    json_schema!({
        "type": "string",
        "minLength": 3,
        "maxLength": 3,
        "x-kubernetes-validations": [{
            "rule": iso::cel_in_list(iso::CURRENCIES),
            "message": "must be an ISO 4217 currency code in upper case, such as PLN or EUR"
        }]
    })
);

string_newtype!(
    /// A duration: a whole number and one unit (`s`, `m`, `h` or `d`), e.g. `168h`, `7d`.
    Lifetime,
    json_schema!({
        "type": "string",
        "maxLength": 8,
        "x-kubernetes-validations": [{
            "rule": format!("self.matches('{DURATION_PATTERN}')"),
            "message": "must be a whole number followed by one unit: s, m, h or d (for example 168h or 7d)"
        }]
    })
);

string_newtype!(
    /// The name of an object in the same namespace.
    ObjectName,
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "x-kubernetes-validations": [{
            "rule": format!("self.matches('{}')", NAME_PATTERN.replace('\\', "\\\\")),
            "message": "must be a Kubernetes object name: lower-case letters, digits, '-' and '.'"
        }]
    })
);

/// The shortest and longest value a [`Lifetime`] field accepts, checked by a CEL rule on the
/// field (so by the apiserver and `validate`); the field's description states both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub min: &'static str,
    pub max: &'static str,
}

/// `Membership` `spec.invitation.lifetime` and `TenantLink` `spec.partnerInvitation.lifetime`:
/// long enough to reach someone across time zones, short enough that a forgotten link dies.
pub const INVITATION_LIFETIME: Bounds = Bounds { min: "1h", max: "30d" };
/// `Organization` `spec.serviceProvider.codeLifetime`: time to pass the code on, at most a month.
pub const CODE_LIFETIME: Bounds = Bounds { min: "15m", max: "30d" };
/// `ProvisioningSync` `spec.resyncInterval`: no tighter than a minute (each resync reads the
/// whole external directory), at least daily.
pub const RESYNC_INTERVAL: Bounds = Bounds { min: "1m", max: "24h" };

impl Bounds {
    /// Seconds of a bound (bounds are written in the field's own shape, e.g. `30d`).
    fn seconds(text: &str) -> u64 {
        Lifetime::from(text).to_duration().map_or(0, |d| d.as_secs())
    }

    /// Whether `value` lies within the bounds (both included).
    pub fn admits(&self, value: &Lifetime) -> bool {
        value.to_duration().is_some_and(|d| (Self::seconds(self.min)..=Self::seconds(self.max)).contains(&d.as_secs()))
    }

    /// The CEL rule: the value in seconds lies within the bounds. A value without the
    /// documented shape is left to the shape rule of [`Lifetime`], so it gets one message.
    pub fn rule(&self) -> kube::core::Rule {
        let seconds = "int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 86400 : \
                       self.endsWith('h') ? 3600 : self.endsWith('m') ? 60 : 1)";
        let rule = format!(
            "!self.matches('{DURATION_PATTERN}') || ({seconds} >= {min} && {seconds} <= {max})",
            min = Self::seconds(self.min),
            max = Self::seconds(self.max),
        );
        kube::core::Rule::new(rule)
            .message(kube::core::Message::Message(format!("must be between {} and {}", self.min, self.max)))
    }
}

impl Lifetime {
    /// The duration this lifetime names; `None` when it does not have the documented shape.
    pub fn to_duration(&self) -> Option<std::time::Duration> {
        let s = self.0.as_str();
        let split = s.len().checked_sub(1)?;
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits.parse().ok()?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return None,
        };
        Some(std::time::Duration::from_secs(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_parses_each_unit() {
        let d = |s: &str| Lifetime::from(s).to_duration().map(|d| d.as_secs());
        assert_eq!(d("90s"), Some(90));
        assert_eq!(d("15m"), Some(900));
        assert_eq!(d("168h"), Some(604_800));
        assert_eq!(d("7d"), Some(604_800));
        assert_eq!(d("7w"), None);
        assert_eq!(d("h"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("-1h"), None);
    }

    #[test]
    fn bounds_parse_are_ordered_and_include_themselves() {
        for bounds in [INVITATION_LIFETIME, CODE_LIFETIME, RESYNC_INTERVAL] {
            let (min, max) = (Bounds::seconds(bounds.min), Bounds::seconds(bounds.max));
            assert!(0 < min && min < max, "{bounds:?}");
            assert!(bounds.admits(&Lifetime::from(bounds.min)) && bounds.admits(&Lifetime::from(bounds.max)));
            assert!(!bounds.admits(&Lifetime(format!("{}s", min - 1))), "{bounds:?} below");
            assert!(!bounds.admits(&Lifetime(format!("{}s", max + 1))), "{bounds:?} above");
            assert!(!bounds.admits(&Lifetime::from("0s")) && !bounds.admits(&Lifetime::from("soon")));
        }
        assert!(INVITATION_LIFETIME.admits(&Lifetime::from("7d")), "the default");
        assert!(CODE_LIFETIME.admits(&Lifetime::from("24h")), "the default");
        assert!(RESYNC_INTERVAL.admits(&Lifetime::from("10m")), "the default");
    }

    #[test]
    fn name_pattern_is_a_dns_subdomain() {
        let re = regex::Regex::new(NAME_PATTERN).expect("pattern compiles");
        for ok in ["a", "acme-polska", "a.b-c.d", "0x1"] {
            assert!(re.is_match(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a..b", "a.-b", "a-.b", ".a", "A", "a_b"] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn email_pattern_accepts_addresses_and_rejects_typos() {
        let re = regex::Regex::new(EMAIL_PATTERN).expect("pattern compiles");
        for ok in ["anna.kowalska@example.pl", "ops+billing@sub.example.com"] {
            assert!(re.is_match(ok), "{ok}");
        }
        for bad in ["anna", "anna@example", "an na@example.pl", "a@b@c.pl", "@example.pl"] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }
}
