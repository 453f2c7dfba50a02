//! From a template and its context to an outbox row ([`NewMail`]), with a stable Message-ID.
//!
//! ```text
//! engine: compose(settings, template, locale, to, ctx, related, key) ──► NewMail
//!         outbox::enqueue(tx, &new_mail)   (same transaction as the row that needs it)
//! ```
//!
//! Each row records the shell that queued it ([`MailSettings::origin`]) and the namespace of
//! the object that did ([`MailSettings::for_namespace`]): only a dispatcher of that origin sends
//! it, and each namespace gets its share of the relay.
//!
//! The Message-ID is `<{kind}.{key}@{sender domain}>`: the same key (an invitation ID, an
//! asset ID) always gives the same ID, so enqueueing the same mail again is a no-op in the
//! store, and a re-send after a crash carries an ID receivers can deduplicate. A re-sent
//! invitation has a new invitation row, hence a new key and a new mail.

use lettre::message::Mailbox;

use super::MailError;
use super::template::{MailContext, Template, render};
use crate::api::Locale;
use crate::store::outbox::{NewMail, Origin, Related};

/// Where mails come from and where their links point (configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The From header, e.g. `accountops <noreply@example.com>`.
    pub from: String,
    pub reply_to: Option<String>,
    /// The web app's accept page, e.g. `https://platform.example.com/invitations/accept`.
    pub accept_base_url: String,
    /// The shell queuing the mails: only its dispatchers send them. Set by the shell
    /// ([`MailSettings::with_origin`]); local mode's default cluster until then.
    pub origin: Origin,
    /// The namespace of the object whose reconcile queues the mails (its fair share of the
    /// relay); set per object with [`MailSettings::for_namespace`].
    pub namespace: Option<String>,
}

impl Default for MailSettings {
    /// The flags' defaults: `accountops <noreply@localhost>`, accept page on localhost.
    fn default() -> Self {
        MailSettings {
            from: "accountops <noreply@localhost>".to_owned(),
            reply_to: None,
            accept_base_url: "http://localhost/invitations/accept".to_owned(),
            origin: Origin::Local(DEFAULT_LOCAL_CLUSTER.to_owned()),
            namespace: None,
        }
    }
}

/// Local mode's default `--cluster-id`, the origin of settings no shell has set.
const DEFAULT_LOCAL_CLUSTER: &str = "local";

/// Used when the From address has no usable domain (never for a validated [`MailSettings`]).
const FALLBACK_DOMAIN: &str = "accountops.invalid";

impl MailSettings {
    /// Settings checked up front: addresses parse and the base URL is `http(s)`.
    pub fn new(from: &str, reply_to: Option<&str>, accept_base_url: &str) -> Result<MailSettings, MailError> {
        let settings = MailSettings {
            from: from.to_string(),
            reply_to: reply_to.map(str::to_string),
            accept_base_url: accept_base_url.to_string(),
            ..MailSettings::default()
        };
        settings.validate()?;
        Ok(settings)
    }

    /// These settings for mails queued by `origin`.
    pub fn with_origin(mut self, origin: Origin) -> MailSettings {
        self.origin = origin;
        self
    }

    /// These settings for the mails an object of `namespace` queues.
    pub fn for_namespace(&self, namespace: &str) -> MailSettings {
        MailSettings { namespace: Some(namespace.to_owned()), ..self.clone() }
    }

    /// Check the addresses and the accept URL.
    pub fn validate(&self) -> Result<(), MailError> {
        self.from_mailbox()?;
        self.reply_to_mailbox()?;
        let lower = self.accept_base_url.to_ascii_lowercase();
        let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) || self.accept_base_url.contains(char::is_whitespace)
        {
            return Err(MailError::Settings {
                what: "accept base URL",
                value: self.accept_base_url.clone(),
                reason: "must be an http:// or https:// URL with a host".into(),
            });
        }
        Ok(())
    }

    pub fn from_mailbox(&self) -> Result<Mailbox, MailError> {
        parse_mailbox("From address", &self.from)
    }

    pub fn reply_to_mailbox(&self) -> Result<Option<Mailbox>, MailError> {
        self.reply_to.as_deref().map(|r| parse_mailbox("Reply-To address", r)).transpose()
    }

    /// The accept link for `token`: the base URL with `token=` added to its query.
    pub fn accept_url(&self, token: &str) -> String {
        let base = self.accept_base_url.trim_end_matches(['?', '&']);
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}token={}", percent_encode(token))
    }

    /// The domain of the From address: the right-hand side of Message-IDs.
    pub fn domain(&self) -> String {
        self.from_mailbox()
            .ok()
            .map(|m| m.email.domain().to_ascii_lowercase())
            .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or_else(|| FALLBACK_DOMAIN.to_string())
    }
}

fn parse_mailbox(what: &'static str, value: &str) -> Result<Mailbox, MailError> {
    value.parse::<Mailbox>().map_err(|e| MailError::Settings { what, value: value.to_string(), reason: e.to_string() })
}

/// Build the outbox row for one mail. `key` is unique per mail of this template (e.g. the
/// invitation ID): it makes the Message-ID, so the same key is the same mail.
pub fn compose(
    settings: &MailSettings,
    template: Template,
    locale: Locale,
    to_address: &str,
    ctx: &MailContext,
    related: Related,
    key: &str,
) -> NewMail {
    let rendered = render(template, locale, ctx);
    NewMail {
        message_id: message_id(template, key, &settings.domain()),
        kind: template.kind().to_string(),
        recipient: to_address.trim().to_string(),
        subject: rendered.subject,
        body_text: rendered.text,
        body_html: Some(rendered.html),
        locale: rendered.locale.as_str().to_string(),
        related: Some(related),
        origin: settings.origin.clone(),
        namespace: settings.namespace.clone(),
    }
}

/// `<{kind}.{key}@{domain}>`, the key encoded so any string makes a valid, distinct msg-id.
pub fn message_id(template: Template, key: &str, domain: &str) -> String {
    let mut local = String::with_capacity(key.len() + 24);
    local.push_str(template.kind());
    local.push('.');
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            local.push(char::from(b));
        } else {
            local.push_str(&format!("={b:02X}"));
        }
    }
    format!("<{local}@{domain}>")
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MailSettings {
        MailSettings::new(
            "accountops <noreply@Example.com>",
            Some("support@example.com"),
            "https://platform.example.com/invitations/accept",
        )
        .expect("valid settings")
    }

    fn related() -> Related {
        Related { table: "invitations".into(), id: "inv-1".into() }
    }

    fn ctx() -> MailContext {
        MailContext {
            organization_name: "Acme".into(),
            accept_url: Some("https://x/a?token=t".into()),
            ..Default::default()
        }
    }

    #[test]
    fn accept_url_appends_the_token_to_the_query() {
        let s = settings();
        assert_eq!(s.accept_url("abc_DEF-123"), "https://platform.example.com/invitations/accept?token=abc_DEF-123");
        let with_query = MailSettings { accept_base_url: "https://p.example/accept?lang=pl".into(), ..s.clone() };
        assert_eq!(with_query.accept_url("t"), "https://p.example/accept?lang=pl&token=t");
        assert_eq!(s.accept_url("a+b/c="), "https://platform.example.com/invitations/accept?token=a%2Bb%2Fc%3D");
    }

    #[test]
    fn settings_are_validated() {
        let bad_from = MailSettings::new("not an address", None, "https://x.example/a").unwrap_err();
        assert!(bad_from.to_string().contains("From address"), "{bad_from}");
        let bad_reply = MailSettings::new("a@b.example", Some("@@"), "https://x.example/a").unwrap_err();
        assert!(bad_reply.to_string().contains("Reply-To"), "{bad_reply}");
        for url in ["ftp://x.example/a", "https:///a", "x.example/a", "https://x.example/a b"] {
            let err = MailSettings::new("a@b.example", None, url).unwrap_err();
            assert!(err.to_string().contains("accept base URL"), "{url}: {err}");
        }
    }

    #[test]
    fn message_id_is_stable_per_key_and_distinct_across_keys_and_templates() {
        let s = settings();
        let a = compose(&s, Template::Invitation, Locale::Pl, "ann@example.com", &ctx(), related(), "inv-1");
        let again = compose(&s, Template::Invitation, Locale::Pl, "ann@example.com", &ctx(), related(), "inv-1");
        assert_eq!(a, again);
        assert_eq!(a.message_id, "<membership_invitation.inv-1@example.com>");
        let other = compose(&s, Template::Invitation, Locale::Pl, "ann@example.com", &ctx(), related(), "inv-2");
        assert_ne!(a.message_id, other.message_id);
        let welcome = compose(&s, Template::Welcome, Locale::Pl, "ann@example.com", &ctx(), related(), "inv-1");
        assert_ne!(a.message_id, welcome.message_id);
        assert_eq!(message_id(Template::Welcome, "a b@c>", "d.example"), "<welcome.a=20b=40c=3E@d.example>");
        assert_ne!(message_id(Template::Welcome, "a=20", "d"), message_id(Template::Welcome, "a ", "d"));
    }

    #[test]
    fn compose_fills_the_outbox_row() {
        let mail = compose(&settings(), Template::Invitation, Locale::Pl, " ann@example.com ", &ctx(), related(), "k");
        assert_eq!(mail.kind, "membership_invitation");
        assert_eq!(mail.recipient, "ann@example.com");
        assert_eq!(mail.locale, "pl");
        assert_eq!(mail.subject, "Zaproszenie do organizacji Acme");
        assert!(mail.body_text.contains("https://x/a?token=t"));
        assert!(mail.body_html.as_deref().is_some_and(|h| h.contains("href=\"https://x/a?token=t\"")));
        assert_eq!(mail.related, Some(related()));
        assert_eq!((mail.origin, mail.namespace), (Origin::Local("local".into()), None));
        let operator = settings().with_origin(Origin::Operator("k8s-1".into()));
        let mail = compose(
            &operator.for_namespace("team-a"),
            Template::Welcome,
            Locale::En,
            "a@b.example",
            &ctx(),
            related(),
            "k",
        );
        assert_eq!((mail.origin, mail.namespace.as_deref()), (Origin::Operator("k8s-1".into()), Some("team-a")));
    }

    #[test]
    fn domain_falls_back_when_from_is_unusable() {
        let s = MailSettings { from: "nonsense".into(), ..settings() };
        assert_eq!(s.domain(), FALLBACK_DOMAIN);
    }
}
