use super::*;
use crate::mail::catalog::{CATALOG, Entry, Text};

const LOCALES: [Locale; 2] = [Locale::En, Locale::Pl];

fn full() -> MailContext {
    MailContext {
        recipient_name: Some("Łucja Żółć".into()),
        organization_name: "Acme Sp. z o.o.".into(),
        inviter: Some("Jan Kowalski".into()),
        roles: vec!["admin".into(), "billing".into()],
        accept_url: Some("https://platform.example.com/invitations/accept?token=T0K3N".into()),
        expires_at: Some("2025-03-14T09:05:00Z".parse().expect("timestamp")),
        activation_code: Some("CODE-123".into()),
        portal_url: Some("https://portal.example.com/".into()),
        product: Some("Cloud Backup".into()),
    }
}

fn minimal() -> MailContext {
    MailContext { organization_name: "Acme".into(), ..Default::default() }
}

#[test]
fn catalog_has_every_template_in_every_locale_once() {
    for template in Template::ALL {
        for locale in LOCALES {
            let n = CATALOG.iter().filter(|e| e.template == template && e.locale == locale).count();
            assert_eq!(n, 1, "{template:?} in {locale:?}");
            assert!(!render(template, locale, &full()).fell_back, "{template:?} in {locale:?}");
        }
    }
}

#[test]
fn catalog_uses_only_known_placeholders_and_every_line_can_render() {
    for entry in CATALOG {
        for alt in entry.text.subject.iter().chain(entry.text.body.iter().flat_map(|a| a.iter())) {
            let mut rest = *alt;
            while let Some(start) = rest.find('{') {
                let end = rest[start..].find('}').map(|e| start + e).unwrap_or_else(|| panic!("unclosed in {alt:?}"));
                assert!(Field::parse(&rest[start + 1..end]).is_some(), "unknown placeholder in {alt:?}");
                rest = &rest[end + 1..];
            }
        }
        // With every value present, every line renders.
        let r = render(entry.template, entry.locale, &full());
        assert_eq!(r.text.split("\n\n").count(), entry.text.body.len(), "{:?} {:?}", entry.template, entry.locale);
    }
}

#[test]
fn invitation_in_english_has_everything() {
    let r = render(Template::Invitation, Locale::En, &full());
    assert_eq!(r.subject, "Invitation to the organization Acme Sp. z o.o.");
    assert_eq!((r.locale, r.fell_back), (Locale::En, false));
    for needle in [
        "Hello Łucja Żółć,",
        "Jan Kowalski has invited you to join the organization Acme Sp. z o.o.",
        "Your roles: admin, billing.",
        "https://platform.example.com/invitations/accept?token=T0K3N",
        "expires on 14 March 2025, 09:05 UTC",
    ] {
        assert!(r.text.contains(needle), "{needle:?} not in {}", r.text);
    }
    assert!(r.html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"), "{}", r.html);
    assert!(r.html.contains("<a href=\"https://platform.example.com/invitations/accept?token=T0K3N\">"));
    assert!(r.html.contains("<p>Your roles: admin, billing.</p>"));
}

#[test]
fn invitation_in_polish_has_everything() {
    let r = render(Template::Invitation, Locale::Pl, &full());
    assert_eq!(r.subject, "Zaproszenie do organizacji Acme Sp. z o.o.");
    assert_eq!((r.locale, r.fell_back), (Locale::Pl, false));
    for needle in [
        "Dzień dobry, Łucja Żółć!",
        "Jan Kowalski zaprasza Cię do organizacji Acme Sp. z o.o.",
        "Twoje role: admin, billing.",
        "?token=T0K3N",
        "Zaproszenie wygasa 14 marca 2025, 09:05 UTC.",
    ] {
        assert!(r.text.contains(needle), "{needle:?} not in {}", r.text);
    }
    assert!(r.html.contains("<html lang=\"pl\">"));
    assert!(r.html.contains("<title>Zaproszenie do organizacji Acme Sp. z o.o.</title>"));
}

#[test]
fn optional_lines_fall_back_or_disappear() {
    for locale in LOCALES {
        let r = render(Template::Invitation, locale, &minimal());
        assert!(!r.text.contains('{') && !r.html.contains('{'), "{}", r.text);
        assert!(!r.text.contains("role"), "{}", r.text);
        assert!(!r.text.contains("UTC"), "{}", r.text);
        let greeting = r.text.lines().next().unwrap_or_default();
        assert!(greeting == "Hello," || greeting == "Dzień dobry!", "{greeting:?}");
        assert!(r.text.contains("Acme"));
    }
}

#[test]
fn existing_user_notice_in_both_locales() {
    let en = render(Template::ExistingUserNotice, Locale::En, &full());
    assert_eq!(en.subject, "You now have access to the organization Acme Sp. z o.o.");
    assert!(en.text.contains("You already have a login"), "{}", en.text);
    assert!(en.text.contains("https://portal.example.com/") && !en.text.contains("token"), "{}", en.text);
    let pl = render(Template::ExistingUserNotice, Locale::Pl, &full());
    assert_eq!(pl.subject, "Masz dostęp do organizacji Acme Sp. z o.o.");
    assert!(pl.text.contains("Masz już login"), "{}", pl.text);
    assert!(pl.html.contains("<a href=\"https://portal.example.com/\">"), "{}", pl.html);
}

#[test]
fn partner_invitation_in_both_locales() {
    let en = render(Template::PartnerInvitation, Locale::En, &full());
    assert_eq!(en.subject, "Partner invitation from Acme Sp. z o.o.");
    assert!(en.text.contains("Partner roles: admin, billing.") && en.text.contains("?token=T0K3N"), "{}", en.text);
    let pl = render(Template::PartnerInvitation, Locale::Pl, &full());
    assert_eq!(pl.subject, "Zaproszenie do współpracy od organizacji Acme Sp. z o.o.");
    assert!(pl.text.contains("Role partnera: admin, billing.") && pl.text.contains("14 marca 2025"), "{}", pl.text);
}

#[test]
fn welcome_in_both_locales() {
    let en = render(Template::Welcome, Locale::En, &full());
    assert_eq!(en.subject, "Welcome: Cloud Backup for Acme Sp. z o.o. is ready");
    assert!(en.text.contains("Activation code: CODE-123") && en.text.contains("Portal: https://portal"));
    let pl = render(Template::Welcome, Locale::Pl, &full());
    assert_eq!(pl.subject, "Witamy: usługa Cloud Backup dla organizacji Acme Sp. z o.o. jest gotowa");
    assert!(pl.text.contains("Kod aktywacyjny: CODE-123"), "{}", pl.text);
    // When the activation code stops working, in the mail's locale.
    assert!(en.text.contains("The code works once and expires 14 March 2025, 09:05 UTC."), "{}", en.text);
    assert!(pl.text.contains("Kod działa tylko raz i wygasa 14 marca 2025, 09:05 UTC."), "{}", pl.text);
    let bare = render(Template::Welcome, Locale::En, &minimal());
    assert_eq!(bare.subject, "Welcome: your service for Acme is ready");
    assert!(!bare.text.contains("Activation code") && !bare.text.contains("expires"));
}

#[test]
fn every_value_is_html_escaped_and_stripped_of_control_characters() {
    let evil = "<script>alert('x')</script> & \"q\"";
    let ctx = MailContext {
        recipient_name: Some(evil.into()),
        organization_name: format!("{evil}\r\nBcc: victim@example.com"),
        inviter: Some(evil.into()),
        roles: vec![evil.into()],
        accept_url: Some("https://x.example/a?token=t&x=\"><b>".into()),
        portal_url: Some("javascript:alert(1)".into()),
        activation_code: Some(evil.into()),
        product: Some(evil.into()),
        ..Default::default()
    };
    for template in Template::ALL {
        for locale in LOCALES {
            let r = render(template, locale, &ctx);
            assert!(!r.html.contains("<script>") && !r.html.contains("<b>"), "{}", r.html);
            assert!(
                r.html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"),
                "{}",
                r.html
            );
            assert!(!r.subject.contains(['\r', '\n']), "{:?}", r.subject);
            assert!(!r.text.contains("\r\nBcc"), "{}", r.text);
            assert!(!r.html.contains("href=\"javascript"), "{}", r.html);
        }
    }
    let r = render(Template::Invitation, Locale::En, &ctx);
    assert!(r.html.contains("<a href=\"https://x.example/a?token=t&amp;x=&quot;&gt;&lt;b&gt;\">"), "{}", r.html);
    // The plain text part is not escaped.
    assert!(r.text.contains("<script>alert('x')</script> & \"q\""), "{}", r.text);
}

#[test]
fn a_template_missing_in_a_locale_falls_back_to_english() {
    let partial = [Entry {
        template: Template::Invitation,
        locale: Locale::En,
        text: Text { subject: &["Join {organization}"], body: &[&["Expires {expires}."]] },
    }];
    let r = render_from(&partial, Template::Invitation, Locale::Pl, &full());
    assert_eq!((r.locale, r.fell_back), (Locale::En, true));
    assert_eq!(r.subject, "Join Acme Sp. z o.o.");
    // English content, English date format.
    assert_eq!(r.text, "Expires 14 March 2025, 09:05 UTC.\n");
    let direct = render_from(&partial, Template::Invitation, Locale::En, &full());
    assert!(!direct.fell_back);
}

#[test]
fn timestamps_are_formatted_per_locale_in_utc() {
    let ts: Timestamp = "2025-12-01T23:59:59+02:00".parse().expect("timestamp");
    assert_eq!(format_timestamp(ts, Locale::En), "1 December 2025, 21:59 UTC");
    assert_eq!(format_timestamp(ts, Locale::Pl), "1 grudnia 2025, 21:59 UTC");
    let sept: Timestamp = "2026-09-30T00:00:00Z".parse().expect("timestamp");
    assert_eq!(format_timestamp(sept, Locale::Pl), "30 września 2026, 00:00 UTC");
}

#[test]
fn blank_values_count_as_missing() {
    let ctx = MailContext { recipient_name: Some("  \n ".into()), roles: vec![" ".into()], ..minimal() };
    let r = render(Template::Invitation, Locale::En, &ctx);
    assert!(r.text.starts_with("Hello,\n"), "{}", r.text);
    assert!(!r.text.contains("roles"), "{}", r.text);
}
