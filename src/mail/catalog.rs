//! The wording of every mail, per template and locale, as data (see [`super::template`]).
//!
//! Each line lists alternatives; the first whose `{placeholder}`s all have values is used,
//! a line with none is left out. Placeholders: `recipient_name`, `organization`, `inviter`,
//! `roles`, `accept_url`, `expires`, `activation_code`, `portal_url`, `product`.
//! A template missing in a locale renders in English (`fell_back`).

use super::template::Template;
use crate::api::Locale;

/// One template in one locale.
pub(crate) struct Text {
    pub subject: &'static [&'static str],
    pub body: &'static [&'static [&'static str]],
}

pub(crate) struct Entry {
    pub template: Template,
    pub locale: Locale,
    pub text: Text,
}

const AUTOMATED_EN: &[&str] = &["This message was sent automatically by accountops."];
const AUTOMATED_PL: &[&str] = &["Ta wiadomość została wysłana automatycznie przez accountops."];
const HELLO_EN: &[&str] = &["Hello {recipient_name},", "Hello,"];
const HELLO_PL: &[&str] = &["Dzień dobry, {recipient_name}!", "Dzień dobry!"];

pub(crate) static CATALOG: &[Entry] = &[
    Entry {
        template: Template::Invitation,
        locale: Locale::En,
        text: Text {
            subject: &["Invitation to the organization {organization}"],
            body: &[
                HELLO_EN,
                &[
                    "{inviter} has invited you to join the organization {organization}.",
                    "You have been invited to join the organization {organization}.",
                ],
                &["Your roles: {roles}."],
                &["To accept the invitation, open this link: {accept_url}"],
                &["The invitation expires on {expires}. The link works only once."],
                &["If you did not expect this invitation, you can ignore this message."],
                AUTOMATED_EN,
            ],
        },
    },
    Entry {
        template: Template::Invitation,
        locale: Locale::Pl,
        text: Text {
            subject: &["Zaproszenie do organizacji {organization}"],
            body: &[
                HELLO_PL,
                &[
                    "{inviter} zaprasza Cię do organizacji {organization}.",
                    "Otrzymujesz zaproszenie do organizacji {organization}.",
                ],
                &["Twoje role: {roles}."],
                &["Aby przyjąć zaproszenie, otwórz ten link: {accept_url}"],
                &["Zaproszenie wygasa {expires}. Link działa tylko raz."],
                &["Jeśli nie spodziewasz się tego zaproszenia, zignoruj tę wiadomość."],
                AUTOMATED_PL,
            ],
        },
    },
    Entry {
        template: Template::ExistingUserNotice,
        locale: Locale::En,
        text: Text {
            subject: &["You now have access to the organization {organization}"],
            body: &[
                HELLO_EN,
                &[
                    "{inviter} has added you to the organization {organization}.",
                    "You have been added to the organization {organization}.",
                ],
                &["Your roles: {roles}."],
                &["You already have a login, so no new one was created: sign in as usual."],
                &["Sign in here: {portal_url}"],
                AUTOMATED_EN,
            ],
        },
    },
    Entry {
        template: Template::ExistingUserNotice,
        locale: Locale::Pl,
        text: Text {
            subject: &["Masz dostęp do organizacji {organization}"],
            body: &[
                HELLO_PL,
                &["{inviter} dodaje Cię do organizacji {organization}.", "Dodano Cię do organizacji {organization}."],
                &["Twoje role: {roles}."],
                &["Masz już login, więc nie utworzono nowego: zaloguj się jak zwykle."],
                &["Logowanie: {portal_url}"],
                AUTOMATED_PL,
            ],
        },
    },
    Entry {
        template: Template::PartnerInvitation,
        locale: Locale::En,
        text: Text {
            subject: &["Partner invitation from {organization}"],
            body: &[
                HELLO_EN,
                &[
                    "{inviter} invites your organization to become a partner of {organization}.",
                    "Your organization has been invited to become a partner of {organization}.",
                ],
                &["Partner roles: {roles}."],
                &["As the administrator, accept the invitation with this link: {accept_url}"],
                &["The invitation expires on {expires}. The link works only once."],
                &["If you did not expect this invitation, you can ignore this message."],
                AUTOMATED_EN,
            ],
        },
    },
    Entry {
        template: Template::PartnerInvitation,
        locale: Locale::Pl,
        text: Text {
            subject: &["Zaproszenie do współpracy od organizacji {organization}"],
            body: &[
                HELLO_PL,
                &[
                    "{inviter} zaprasza Twoją organizację do współpracy jako partner organizacji {organization}.",
                    "Twoja organizacja otrzymuje zaproszenie do współpracy jako partner organizacji {organization}.",
                ],
                &["Role partnera: {roles}."],
                &["Jako administrator przyjmij zaproszenie, otwierając ten link: {accept_url}"],
                &["Zaproszenie wygasa {expires}. Link działa tylko raz."],
                &["Jeśli nie spodziewasz się tego zaproszenia, zignoruj tę wiadomość."],
                AUTOMATED_PL,
            ],
        },
    },
    Entry {
        template: Template::Welcome,
        locale: Locale::En,
        text: Text {
            subject: &[
                "Welcome: {product} for {organization} is ready",
                "Welcome: your service for {organization} is ready",
            ],
            body: &[
                HELLO_EN,
                &["Your {product} for {organization} is ready.", "Your service for {organization} is ready."],
                &["Activation code: {activation_code}"],
                &["The code works once and expires {expires}."],
                &["Portal: {portal_url}"],
                AUTOMATED_EN,
            ],
        },
    },
    Entry {
        template: Template::Welcome,
        locale: Locale::Pl,
        text: Text {
            subject: &[
                "Witamy: usługa {product} dla organizacji {organization} jest gotowa",
                "Witamy: usługa dla organizacji {organization} jest gotowa",
            ],
            body: &[
                HELLO_PL,
                &[
                    "Usługa {product} dla organizacji {organization} jest gotowa.",
                    "Usługa dla organizacji {organization} jest gotowa.",
                ],
                &["Kod aktywacyjny: {activation_code}"],
                &["Kod działa tylko raz i wygasa {expires}."],
                &["Portal: {portal_url}"],
                AUTOMATED_PL,
            ],
        },
    },
];
