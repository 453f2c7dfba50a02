use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(url: &str) -> Result<Endpoint, MailError> {
    Endpoint::parse_with_env(url, no_env)
}

fn smtp(host: &str, port: u16, security: Security) -> Endpoint {
    Endpoint::Smtp { host: host.into(), port, security, credentials: None, ca: None }
}

#[test]
fn smtp_urls_and_their_defaults() {
    assert_eq!(parse("smtp://mail.example.com").unwrap(), smtp("mail.example.com", 587, Security::StartTls));
    assert_eq!(parse("smtp://Mail.Example.com:2525/").unwrap(), smtp("mail.example.com", 2525, Security::StartTls));
    assert_eq!(parse("smtp://relay?tls=starttls").unwrap(), smtp("relay", 587, Security::StartTls));
    assert_eq!(parse("smtp://127.0.0.1:1025?tls=none").unwrap(), smtp("127.0.0.1", 1025, Security::None));
    assert_eq!(parse("smtp://relay?tls=none").unwrap(), smtp("relay", 25, Security::None));
    assert_eq!(parse("SMTPS://mail.example.com").unwrap(), smtp("mail.example.com", 465, Security::Implicit));
    assert_eq!(parse("smtp://[::1]:25?tls=none").unwrap(), smtp("::1", 25, Security::None));
    assert_eq!(parse("smtp://[::1]?tls=none").unwrap(), smtp("::1", 25, Security::None));
    let with_ca = parse("smtps://mail.example.com?ca=/etc/ssl/relay%20ca.pem").unwrap();
    assert_eq!(
        with_ca,
        Endpoint::Smtp {
            host: "mail.example.com".into(),
            port: 465,
            security: Security::Implicit,
            credentials: None,
            ca: Some("/etc/ssl/relay ca.pem".into()),
        }
    );
}

#[test]
fn file_urls() {
    assert_eq!(parse("file:///var/mail/out").unwrap(), Endpoint::File { dir: "/var/mail/out".into() });
    assert_eq!(parse("file://out/mail").unwrap(), Endpoint::File { dir: "out/mail".into() });
}

#[test]
fn credentials_from_the_url_are_percent_decoded() {
    let e = parse("smtp://ann%40example.com:p%3Ass%40w0rd@mail.example.com:587").unwrap();
    let Endpoint::Smtp { credentials: Some(c), .. } = e else { panic!("no credentials: {e:?}") };
    assert_eq!((c.username.as_str(), c.password.as_str()), ("ann@example.com", "p:ss@w0rd"));
    assert!(!format!("{c:?}").contains("p:ss"), "{c:?}");
}

#[test]
fn credentials_from_the_environment() {
    let env = |name: &str| match name {
        "SMTP_USERNAME" => Some("bot".to_string()),
        "SMTP_PASSWORD" => Some("s3cret".to_string()),
        _ => None,
    };
    let e = Endpoint::parse_with_env("smtps://mail.example.com", env).unwrap();
    let Endpoint::Smtp { credentials: Some(c), .. } = &e else { panic!("no credentials: {e:?}") };
    assert_eq!((c.username.as_str(), c.password.as_str()), ("bot", "s3cret"));
    assert!(!format!("{e:?}").contains("s3cret") && !e.describe().contains("s3cret"));
    assert_eq!(e.describe(), "smtps://bot@mail.example.com:465");
    // URL credentials win over the environment.
    let e = Endpoint::parse_with_env("smtps://u:p@mail.example.com", env).unwrap();
    assert!(matches!(e, Endpoint::Smtp { credentials: Some(ref c), .. } if c.username == "u"));

    let only_user = |n: &str| (n == "SMTP_USERNAME").then(|| "bot".to_string());
    let err = Endpoint::parse_with_env("smtp://m.example", only_user).unwrap_err().to_string();
    assert!(err.contains("SMTP_PASSWORD is set but") || err.contains("SMTP_PASSWORD is not"), "{err}");
    let only_pass = |n: &str| (n == "SMTP_PASSWORD").then(|| "x".to_string());
    let err = Endpoint::parse_with_env("smtp://m.example", only_pass).unwrap_err().to_string();
    assert!(err.contains("SMTP_USERNAME is not"), "{err}");
}

#[test]
fn every_rejection_names_the_url_without_its_password() {
    let cases = [
        ("mail.example.com:25", "expected smtp://"),
        ("http://u:hunter2@mail.example.com", "unknown scheme"),
        ("file://", "needs a directory"),
        ("file:///x?y=1", "no query"),
        ("smtp://u:hunter2@mail.example.com/inbox", "path is not allowed"),
        ("smtp://u:hunter2@mail.example.com#x", "fragment"),
        ("smtp://u:hunter2@:25", "host is missing"),
        ("smtp://u:hunter2@mail.example.com:0", "is not a port"),
        ("smtp://u:hunter2@mail.example.com:99999", "is not a port"),
        ("smtp://u:hunter2@mail.example.com:x", "is not a port"),
        ("smtp://u:hunter2@[::1", "closing ]"),
        ("smtp://u:hunter2@[nope]:25", "not an IPv6"),
        ("smtp://u:hunter2@[::1]x", "expected :port"),
        ("smtp://u:hunter2@mail/example", "path is not allowed"),
        ("smtp://u:hunter2@ma il.example.com", "not a host name"),
        ("smtp://u:hunter2@mail.example.com?tls=maybe", "tls=\"maybe\""),
        ("smtp://u:hunter2@mail.example.com?tls=none&tls=none", "given twice"),
        ("smtps://u:hunter2@mail.example.com?tls=starttls", "smtps:// is always TLS"),
        ("smtp://u:hunter2@mail.example.com?port=25", "unknown parameter \"port\""),
        ("smtp://u:hunter2@mail.example.com?ca=", "needs the path"),
        ("smtp://u:hunter2@mail.example.com?ca=a&ca=b", "given twice"),
        ("smtp://mail.example.com?tls=none&ca=/x.pem", "makes no sense"),
        ("smtp://u:hunter2@mail.example.com?tls=none", "without TLS"),
        ("smtp://u@mail.example.com", "has no password"),
        ("smtp://:hunter2@mail.example.com", "must both be non-empty"),
        ("smtp://u:hunter2%zz@mail.example.com", "bad %-escape"),
        ("smtp://u:hunter2%ff@mail.example.com", "not UTF-8"),
    ];
    for (url, expected) in cases {
        let err = parse(url).expect_err(url).to_string();
        assert!(err.contains(expected), "{url}: {err}");
        assert!(!err.contains("hunter2"), "{url}: password in {err}");
        if url.contains("://") && url.contains('@') {
            let shown = ["u:***@", "//u@", "//:***@", "<redacted: not a valid URL>"];
            assert!(shown.iter().any(|s| err.contains(s)), "{url}: {err}");
        }
    }
}

#[test]
fn credentials_without_tls_are_allowed_to_loopback_only() {
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        let url = format!("smtp://u:p@{host}:1025?tls=none");
        assert!(parse(&url).is_ok(), "{url}");
    }
}

#[test]
fn redact_hides_passwords_only() {
    assert_eq!(redact("smtp://u:pw@h:25?tls=none"), "smtp://u:***@h:25?tls=none");
    assert_eq!(redact("smtp://u:p@w@h:25"), "smtp://u:***@h:25");
    assert_eq!(redact("smtp://u@h"), "smtp://u@h");
    // What follows a stray @ may be the rest of a password that was not percent-encoded.
    assert_eq!(redact("smtp://h:25/x@y"), "smtp://h:25/***");
    assert_eq!(redact("smtp://u:pa#ss@h:25"), "smtp://<redacted: not a valid URL>");
    assert_eq!(redact("user:password"), "<13 characters, not a URL>");
}

#[test]
fn describe_shows_the_endpoint() {
    assert_eq!(parse("smtp://relay:2525?tls=none").unwrap().describe(), "smtp://relay:2525?tls=none");
    assert_eq!(parse("smtp://relay").unwrap().describe(), "smtp://relay:587");
    assert_eq!(parse("smtp://[::1]?tls=none").unwrap().describe(), "smtp://[::1]:25?tls=none");
    assert_eq!(parse("file:///tmp/out").unwrap().describe(), "file:///tmp/out");
}
