//! Turning an outbox row into a MIME message and handing it to SMTP or a directory.
//!
//! ```text
//! Mail (outbox row) ── build_message(sender) ──► lettre Message
//!     From / Reply-To / To / Subject (RFC 2047 for non-ASCII), Message-ID = row.message_id,
//!     multipart/alternative: text/plain + text/html (UTF-8)
//!        │
//!        └─ Transport::send ──► smtp:// | smtps://  (lettre, rustls with ring, pooled)
//!                          └──► file://DIR          (DIR/<message-id>.eml, written atomically)
//! ```
//!
//! The file transport names each file after the Message-ID, so sending the same mail twice
//! (at-least-once delivery) leaves one file. See [`super::endpoint`] for the URL forms.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::MailError;
use super::compose::MailSettings;
use super::endpoint::{Endpoint, Security};
use crate::store::outbox::Mail;

/// How long one SMTP command (and connecting) may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The From and Reply-To of every mail, parsed once.
#[derive(Debug, Clone)]
pub struct Sender {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
}

impl Sender {
    pub fn new(settings: &MailSettings) -> Result<Sender, MailError> {
        Ok(Sender { from: settings.from_mailbox()?, reply_to: settings.reply_to_mailbox()? })
    }
}

/// Where mails are delivered.
#[derive(Clone)]
pub struct Transport {
    inner: Inner,
    description: String,
}

#[derive(Clone)]
enum Inner {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("endpoint", &self.description).finish()
    }
}

impl Transport {
    /// A transport for `url` (credentials from the URL or `SMTP_USERNAME`/`SMTP_PASSWORD`).
    /// Call within a Tokio runtime.
    pub fn from_url(url: &str) -> Result<Transport, MailError> {
        Transport::new(Endpoint::parse(url)?)
    }

    /// Call within a Tokio runtime: SMTP connections are pooled by a background task.
    pub fn new(endpoint: Endpoint) -> Result<Transport, MailError> {
        let description = endpoint.describe();
        let inner = match endpoint {
            Endpoint::File { dir } => Inner::File(dir),
            Endpoint::Smtp { host, port, security, credentials, ca } => {
                let bad = |reason: String| MailError::BadUrl { url: description.clone(), reason };
                let tls_parameters = || -> Result<TlsParameters, MailError> {
                    let mut builder = TlsParameters::builder(host.clone());
                    if let Some(ca) = &ca {
                        let pem = std::fs::read(ca)
                            .map_err(|e| bad(format!("cannot read the CA file {}: {e}", ca.display())))?;
                        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                            return Err(bad(format!("the CA file {} has no PEM certificate", ca.display())));
                        }
                        let cert = Certificate::from_pem(&pem)
                            .map_err(|e| bad(format!("the CA file {} is not PEM: {e}", ca.display())))?;
                        builder = builder.add_root_certificate(cert);
                    }
                    builder.build().map_err(|e| bad(format!("TLS setup failed: {e}")))
                };
                let tls = match security {
                    Security::StartTls => Tls::Required(tls_parameters()?),
                    Security::Implicit => Tls::Wrapper(tls_parameters()?),
                    Security::None => Tls::None,
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                    .port(port)
                    .tls(tls)
                    .timeout(Some(SMTP_TIMEOUT));
                if let Some(c) = credentials {
                    builder = builder.credentials(SmtpCredentials::new(c.username, c.password));
                }
                Inner::Smtp(builder.build())
            }
        };
        Ok(Transport { inner, description })
    }

    /// The endpoint, without a password: for logs and status.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Deliver one message. The error text names the endpoint and never a password.
    pub async fn send(&self, message: &Message) -> Result<(), SendFailure> {
        match &self.inner {
            Inner::Smtp(smtp) => smtp.send(message.clone()).await.map(drop).map_err(|e| {
                let text = format!("{}: {}", self.description, chain(&e));
                // Only a 5xx reply is the relay saying no for good; a refused connection, a
                // timeout, TLS trouble or a 4xx may pass.
                if e.is_permanent() { SendFailure::Refused(text) } else { SendFailure::Failed(text) }
            }),
            Inner::File(dir) => {
                write_eml(dir, message).await.map_err(|e| SendFailure::Failed(format!("{}: {e}", self.description)))
            }
        }
    }
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// The relay refused it permanently (a 5xx reply): counts toward the attempt limit.
    Refused(String),
    /// Anything that may pass: connection refused, timeout, TLS, a 4xx reply, a full disk.
    Failed(String),
}

impl SendFailure {
    pub fn message(&self) -> &str {
        let (SendFailure::Refused(m) | SendFailure::Failed(m)) = self;
        m
    }
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// An error with its sources, `a: b: c` (lettre's Display already includes one level).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source().and_then(|s| s.source());
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The file name of a message: its Message-ID without brackets, made safe for a path.
pub fn eml_file_name(message_id: &str) -> String {
    let bare = message_id.trim().trim_start_matches('<').trim_end_matches('>');
    let safe: String = bare
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '=') { c } else { '_' })
        .collect();
    let safe = safe.trim_start_matches('.');
    format!("{}.eml", if safe.is_empty() { "mail" } else { safe })
}

async fn write_eml(dir: &Path, message: &Message) -> std::io::Result<()> {
    let id = message.headers().get_raw("Message-ID").unwrap_or_default();
    let name = eml_file_name(id);
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, message.formatted()).await?;
    tokio::fs::rename(&tmp, dir.join(&name)).await
}

/// The MIME message for an outbox row. Fails only on an unusable recipient (retrying cannot
/// help: the dispatcher marks such a mail dead at once).
pub fn build_message(sender: &Sender, mail: &Mail) -> Result<Message, String> {
    let to: Mailbox =
        mail.recipient.parse().map_err(|e| format!("invalid recipient address {:?}: {e}", mail.recipient))?;
    let mut builder = Message::builder()
        .from(sender.from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()))
        .date_now();
    if let Some(reply_to) = &sender.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    if !mail.locale.is_empty() && mail.locale.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        builder = builder.header(ContentLanguage(mail.locale.clone()));
    }
    let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.body_text.clone());
    let result = match &mail.body_html {
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(text)
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
        ),
        None => builder.singlepart(text),
    };
    result.map_err(|e| format!("cannot build the message: {e}"))
}

/// `Content-Language: pl` (RFC 3282): the locale the mail was rendered in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ContentLanguage(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[cfg(test)]
mod tests;
