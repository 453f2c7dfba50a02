//! Mail templates: text and HTML per locale, rendered from a [`MailContext`] (pure).
//!
//! ```text
//! (Template, Locale) ──lookup──► catalog entry (or English, fell_back = true)
//!        MailContext ──values──► {organization} {inviter} {roles} {accept_url} {expires} ...
//!                                   │
//!                      fill lines ──┴──► Rendered { subject, text, html, locale, fell_back }
//! ```
//!
//! The wording lives in `catalog.rs` as data: each line lists alternatives with
//! `{placeholder}`s, and the first alternative whose placeholders all have values is used (a
//! line with none is left out), so "Hello {recipient_name}," falls back to "Hello," and a
//! mail without roles has no roles line. Values are stripped of control characters (no header
//! or line injection) and HTML-escaped in the HTML part; URLs become links only when they are
//! `http(s)`. Expiry is formatted per locale, in UTC.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::catalog::{CATALOG, Entry, Text};
use crate::api::Locale;

/// The mails accountops sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// A membership invitation with a single-use accept link.
    Invitation,
    /// The address already has a login: the membership is active, no invitation (seed 002).
    ExistingUserNotice,
    /// A partner organization's administrator is invited to link (tenant link).
    PartnerInvitation,
    /// A provisioning order is done: activation code and portal link.
    Welcome,
}

impl Template {
    pub const ALL: [Template; 4] =
        [Template::Invitation, Template::ExistingUserNotice, Template::PartnerInvitation, Template::Welcome];

    /// The outbox `kind` of this template's mails.
    pub fn kind(self) -> &'static str {
        match self {
            Template::Invitation => "membership_invitation",
            Template::ExistingUserNotice => "existing_user_notice",
            Template::PartnerInvitation => "partner_invitation",
            Template::Welcome => "welcome",
        }
    }
}

/// Everything a template may show; unused fields stay `None`/empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailContext {
    pub recipient_name: Option<String>,
    /// The inviting / target organization.
    pub organization_name: String,
    /// Who invites (e.g. the organization or account name).
    pub inviter: Option<String>,
    pub roles: Vec<String>,
    /// Full link including the token (invitations).
    pub accept_url: Option<String>,
    pub expires_at: Option<Timestamp>,
    /// Welcome mail (provisioning orders).
    pub activation_code: Option<String>,
    pub portal_url: Option<String>,
    pub product: Option<String>,
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The locale actually rendered.
    pub locale: Locale,
    /// The requested locale had no such template: English was used (record a warning).
    pub fell_back: bool,
}

/// A `{placeholder}` a template line may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    RecipientName,
    Organization,
    Inviter,
    Roles,
    AcceptUrl,
    Expires,
    ActivationCode,
    PortalUrl,
    Product,
}

impl Field {
    pub(crate) fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "recipient_name" => Field::RecipientName,
            "organization" => Field::Organization,
            "inviter" => Field::Inviter,
            "roles" => Field::Roles,
            "accept_url" => Field::AcceptUrl,
            "expires" => Field::Expires,
            "activation_code" => Field::ActivationCode,
            "portal_url" => Field::PortalUrl,
            "product" => Field::Product,
            _ => return None,
        })
    }

    fn is_url(self) -> bool {
        matches!(self, Field::AcceptUrl | Field::PortalUrl)
    }
}

/// Render `template` in `locale` (English if the catalog lacks it). Pure.
pub fn render(template: Template, locale: Locale, ctx: &MailContext) -> Rendered {
    render_from(CATALOG, template, locale, ctx)
}

/// [`render`] over a given catalog (the fallback path is tested with a partial one).
pub(crate) fn render_from(catalog: &[Entry], template: Template, locale: Locale, ctx: &MailContext) -> Rendered {
    let find = |l: Locale| catalog.iter().find(|e| e.template == template && e.locale == l);
    let (entry, fell_back) = match find(locale) {
        Some(entry) => (entry, false),
        None => (find(Locale::En).expect("the catalog has every template in English (unit-tested)"), true),
    };
    let values = Values::new(ctx, entry.locale);
    let Text { subject, body } = &entry.text;
    let subject = pick(subject, &values, Mode::Plain).unwrap_or_default();
    let text_lines: Vec<String> = body.iter().filter_map(|alts| pick(alts, &values, Mode::Plain)).collect();
    let html_lines: Vec<String> = body.iter().filter_map(|alts| pick(alts, &values, Mode::Html)).collect();
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n",
        entry.locale.as_str(),
        escape_html(&subject)
    );
    for line in &html_lines {
        html.push_str("<p>");
        html.push_str(line);
        html.push_str("</p>\n");
    }
    html.push_str("</body>\n</html>\n");
    Rendered { subject, text: text_lines.join("\n\n") + "\n", html, locale: entry.locale, fell_back }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Html,
}

/// The context's values, cleaned, in the rendered locale's formats.
struct Values {
    recipient_name: Option<String>,
    organization: Option<String>,
    inviter: Option<String>,
    roles: Option<String>,
    accept_url: Option<String>,
    expires: Option<String>,
    activation_code: Option<String>,
    portal_url: Option<String>,
    product: Option<String>,
}

impl Values {
    fn new(ctx: &MailContext, locale: Locale) -> Values {
        let opt = |v: &Option<String>| v.as_deref().and_then(clean);
        let roles: Vec<String> = ctx.roles.iter().filter_map(|r| clean(r)).collect();
        Values {
            recipient_name: opt(&ctx.recipient_name),
            organization: clean(&ctx.organization_name),
            inviter: opt(&ctx.inviter),
            roles: (!roles.is_empty()).then(|| roles.join(", ")),
            accept_url: opt(&ctx.accept_url),
            expires: ctx.expires_at.map(|t| format_timestamp(t, locale)),
            activation_code: opt(&ctx.activation_code),
            portal_url: opt(&ctx.portal_url),
            product: opt(&ctx.product),
        }
    }

    fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::RecipientName => &self.recipient_name,
            Field::Organization => &self.organization,
            Field::Inviter => &self.inviter,
            Field::Roles => &self.roles,
            Field::AcceptUrl => &self.accept_url,
            Field::Expires => &self.expires,
            Field::ActivationCode => &self.activation_code,
            Field::PortalUrl => &self.portal_url,
            Field::Product => &self.product,
        }
        .as_deref()
    }
}

/// Control characters (newlines, tabs, escapes) become spaces; `None` when blank.
fn clean(value: &str) -> Option<String> {
    let cleaned: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// The first alternative whose placeholders all have values, filled in.
fn pick(alternatives: &[&str], values: &Values, mode: Mode) -> Option<String> {
    alternatives.iter().find_map(|line| fill(line, values, mode))
}

/// Fill `{placeholder}`s; `None` if one has no value (or is unknown).
fn fill(line: &str, values: &Values, mode: Mode) -> Option<String> {
    let mut out = String::with_capacity(line.len() * 2);
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        let (literal, tail) = rest.split_at(start);
        push_literal(&mut out, literal, mode);
        let end = tail.find('}')?;
        let field = Field::parse(&tail[1..end])?;
        let value = values.get(field)?;
        match mode {
            Mode::Plain => out.push_str(value),
            Mode::Html if field.is_url() && is_web_url(value) => {
                let v = escape_html(value);
                out.push_str(&format!("<a href=\"{v}\">{v}</a>"));
            }
            Mode::Html => out.push_str(&escape_html(value)),
        }
        rest = &tail[end + 1..];
    }
    push_literal(&mut out, rest, mode);
    Some(out)
}

fn push_literal(out: &mut String, literal: &str, mode: Mode) {
    match mode {
        Mode::Plain => out.push_str(literal),
        Mode::Html => out.push_str(&escape_html(literal)),
    }
}

fn is_web_url(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Escape `& < > " '` for HTML text and attribute values.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// Polish month names in the genitive, as dates are written ("14 marca 2025").
const MONTHS_PL: [&str; 12] = [
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
];

/// `14 March 2025, 09:05 UTC` / `14 marca 2025, 09:05 UTC`.
pub fn format_timestamp(ts: Timestamp, locale: Locale) -> String {
    let z = ts.to_zoned(TimeZone::UTC);
    let months = match locale {
        Locale::En => &MONTHS_EN,
        Locale::Pl => &MONTHS_PL,
    };
    let month = months[usize::from(z.month().unsigned_abs()).saturating_sub(1) % 12];
    format!("{} {} {}, {:02}:{:02} UTC", z.day(), month, z.year(), z.hour(), z.minute())
}

#[cfg(test)]
mod tests;
