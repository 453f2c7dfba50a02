use super::*;
use crate::store::outbox::MailState;

const POLISH_SUBJECT: &str = "Zaproszenie do organizacji Źdźbło Sp. z o.o. — długi temat, który trzeba złamać na linie";

fn sender() -> Sender {
    let settings =
        MailSettings::new("Zespół Łódź <noreply@example.com>", Some("pomoc@example.com"), "https://x.example/a")
            .expect("settings");
    Sender::new(&settings).expect("sender")
}

fn mail(message_id: &str) -> Mail {
    let now = jiff::Timestamp::now();
    Mail {
        id: "mail-1".into(),
        message_id: message_id.into(),
        kind: "membership_invitation".into(),
        recipient: "Łucja Żółć <lucja@example.com>".into(),
        subject: POLISH_SUBJECT.into(),
        body_text: "Dzień dobry!\n\nZażółć gęślą jaźń.\n".into(),
        body_html: Some("<p>Zażółć gęślą jaźń</p>".into()),
        locale: "pl".into(),
        related: None,
        origin: None,
        namespace: None,
        state: MailState::Pending,
        attempts: 0,
        refusals: 0,
        next_attempt_at: now,
        last_error: None,
        dead_reason: None,
        claim: None,
        last_sender: None,
        sent_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64 character");
        acc = (acc << 6) | u32::try_from(v).expect("small");
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).expect("byte"));
        }
    }
    out
}

/// Decode an unfolded header value with RFC 2047 `=?utf-8?b?...?=` words.
fn decode_header(value: &str) -> String {
    let mut out = Vec::new();
    let mut previous_encoded = false;
    for (i, token) in value.split(' ').enumerate() {
        let encoded = token.strip_prefix("=?utf-8?b?").and_then(|t| t.strip_suffix("?="));
        if i > 0 && !(previous_encoded && encoded.is_some()) {
            out.push(b' ');
        }
        match encoded {
            Some(b64) => out.extend(base64(b64)),
            None => out.extend(token.as_bytes()),
        }
        previous_encoded = encoded.is_some();
    }
    String::from_utf8(out).expect("UTF-8")
}

/// The unfolded value of header `name` in a formatted message.
fn header(raw: &str, name: &str) -> String {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ");
    let prefix = format!("{name}: ");
    head.lines().find_map(|l| l.strip_prefix(&prefix)).map(str::to_string).unwrap_or_default()
}

#[test]
fn non_ascii_headers_are_rfc2047_encoded_and_round_trip() {
    let message = build_message(&sender(), &mail("<membership_invitation.inv-1@example.com>")).expect("message");
    let raw = String::from_utf8(message.formatted()).expect("UTF-8");
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    assert!(head.is_ascii(), "raw non-ASCII in headers:\n{head}");
    assert!(head.lines().all(|l| l.len() <= 998), "{head}");
    assert!(header(&raw, "Subject").contains("=?utf-8?b?"), "{raw}");
    assert_eq!(decode_header(&header(&raw, "Subject")), POLISH_SUBJECT);
    assert_eq!(decode_header(&header(&raw, "From")), "Zespół Łódź <noreply@example.com>");
    assert_eq!(decode_header(&header(&raw, "To")), "Łucja Żółć <lucja@example.com>");
    assert_eq!(header(&raw, "Reply-To"), "pomoc@example.com");
    assert_eq!(header(&raw, "Content-Language"), "pl");
}

#[test]
fn the_message_id_is_the_rows_and_both_parts_are_there() {
    let message = build_message(&sender(), &mail("<welcome.asset-7@example.com>")).expect("message");
    let raw = String::from_utf8(message.formatted()).expect("UTF-8");
    assert_eq!(header(&raw, "Message-ID"), "<welcome.asset-7@example.com>");
    assert!(header(&raw, "Content-Type").starts_with("multipart/alternative;"), "{raw}");
    let parts: Vec<&str> = raw.split("Content-Transfer-Encoding: base64\r\n\r\n").skip(1).collect();
    assert_eq!(parts.len(), 2, "{raw}");
    let decode =
        |part: &str| String::from_utf8(base64(part.split("\r\n--").next().unwrap_or_default())).expect("UTF-8");
    assert_eq!(decode(parts[0]).replace("\r\n", "\n"), "Dzień dobry!\n\nZażółć gęślą jaźń.\n");
    assert_eq!(decode(parts[1]), "<p>Zażółć gęślą jaźń</p>");
    let plain = raw.find("Content-Type: text/plain; charset=utf-8").expect("text part");
    let html = raw.find("Content-Type: text/html; charset=utf-8").expect("html part");
    assert!(plain < html, "the preferred (HTML) part must come last");
}

#[test]
fn a_mail_without_html_is_plain_text() {
    let mut m = mail("<a@example.com>");
    m.body_html = None;
    let raw = String::from_utf8(build_message(&sender(), &m).expect("message").formatted()).expect("UTF-8");
    assert!(header(&raw, "Content-Type").starts_with("text/plain; charset=utf-8"), "{raw}");
}

#[test]
fn an_invalid_recipient_cannot_be_built() {
    let mut m = mail("<a@example.com>");
    m.recipient = "not an address".into();
    let err = build_message(&sender(), &m).expect_err("invalid recipient");
    assert!(err.contains("invalid recipient address \"not an address\""), "{err}");
}

#[test]
fn eml_file_names_are_safe() {
    assert_eq!(eml_file_name("<welcome.a=20b@example.com>"), "welcome.a=20b@example.com.eml");
    assert_eq!(eml_file_name("<../../etc/passwd>"), "_.._etc_passwd.eml");
    assert_eq!(eml_file_name(""), "mail.eml");
}

#[tokio::test]
async fn the_file_transport_writes_one_eml_per_mail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("outbox");
    let transport = Transport::from_url(&format!("file://{}", out.display())).expect("transport");
    assert_eq!(transport.describe(), format!("file://{}", out.display()));
    let first = build_message(&sender(), &mail("<one@example.com>")).expect("message");
    let second = build_message(&sender(), &mail("<two@example.com>")).expect("message");
    transport.send(&first).await.expect("send");
    transport.send(&second).await.expect("send");
    // At-least-once: the same mail again replaces its file.
    transport.send(&first).await.expect("send again");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["one@example.com.eml", "two@example.com.eml"]);
    let raw = std::fs::read_to_string(out.join("one@example.com.eml")).expect("eml");
    assert_eq!(header(&raw, "Message-ID"), "<one@example.com>");
}

#[tokio::test]
async fn a_file_transport_that_cannot_write_says_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").expect("write");
    let transport = Transport::from_url(&format!("file://{}/sub", blocker.display())).expect("transport");
    let err = transport.send(&build_message(&sender(), &mail("<x@example.com>")).expect("m")).await.unwrap_err();
    assert!(matches!(err, SendFailure::Failed(_)), "a full or unwritable mailbox may pass: {err:?}");
    assert!(err.message().starts_with(&format!("file://{}/sub: ", blocker.display())), "{err}");
}

#[tokio::test]
async fn smtp_transports_are_built_without_connecting() {
    let t = Transport::from_url("smtp://127.0.0.1:1?tls=none").expect("plain");
    assert_eq!(t.describe(), "smtp://127.0.0.1:1?tls=none");
    assert!(Transport::from_url("smtp://mail.example.com").is_ok());
    assert!(
        Transport::from_url("smtps://u:hunter2@mail.example.com").is_ok_and(|t| !format!("{t:?}").contains("hunter2"))
    );
}

#[tokio::test]
async fn a_bad_ca_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.pem");
    let err = Transport::from_url(&format!("smtps://u:hunter2@mail.example.com?ca={}", missing.display())).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("cannot read the CA file") && text.contains("missing.pem"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let err = Transport::from_url(&format!("smtp://mail.example.com?ca={}", garbage.display())).unwrap_err();
    assert!(err.to_string().contains("garbage.pem has no PEM certificate"), "{err}");
}
