//! A real SMTP server for the mail tests: aiosmtpd on a free loopback port, writing a Maildir.
//!
//! ```text
//! SmtpServer::start(Security) ── python3 -m aiosmtpd -n -l 127.0.0.1:PORT
//!     -c aiosmtpd.handlers.Mailbox DIR/maildir   (supervised: never outlives the test binary)
//!   [--tlscert / --smtpscert from a fresh rcgen CA: STARTTLS required, or implicit TLS]
//! messages() ── python3 email parser (policy.default) ──► ParsedMail { raw, headers, text, html }
//! stop() / start_again()  ── the same port: "the relay is down, then back"
//! start_with_policy()      ── refuses recipients by local part: `refuse…@` 550 (for good),
//!                             `defer…@` 451 (try later); everyone else is accepted
//! ```
//!
//! Headers are decoded by Python's `email` package, an independent parser, so a test checks
//! the encoded-words lettre writes, not our own reading of them. Without aiosmtpd a test skips
//! (`start` returns `None`), and fails under `CI=true` with how to install it.
#![allow(dead_code)] // each test uses part of it

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde::Deserialize;

use crate::harness::Supervised;

/// How the server secures connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    /// STARTTLS offered and required before mail is accepted.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

/// One received mail, parsed by Python's `email` package.
#[derive(Debug, Clone, Deserialize)]
pub struct ParsedMail {
    pub file: String,
    /// The message as stored, headers still encoded.
    pub raw: String,
    /// Decoded headers, in order.
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

impl ParsedMail {
    /// The first decoded header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The raw (still encoded, unfolded) header `name`.
    pub fn raw_header(&self, name: &str) -> Option<String> {
        let head = self.raw.replace("\r\n", "\n");
        let head = head.split("\n\n").next().unwrap_or_default().replace("\n ", " ").replace("\n\t", " ");
        let prefix = format!("{}:", name.to_ascii_lowercase());
        head.lines().find(|l| l.to_ascii_lowercase().starts_with(&prefix)).map(|l| l[prefix.len()..].trim().to_string())
    }
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    pub security: Security,
    dir: tempfile::TempDir,
    /// The CA that signed the server's certificate (TLS modes).
    pub ca_cert: Option<PathBuf>,
    tls_files: Option<(PathBuf, PathBuf)>,
    /// Run the refusing handler ([`POLICY`]) instead of the plain Mailbox.
    policy: bool,
    process: Option<Supervised>,
}

/// An aiosmtpd Mailbox that answers by the recipient's local part, so a test can have a real
/// server refuse a mail permanently (5xx) or for now (4xx), or take its time accepting one.
const POLICY: &str = r#"
import asyncio
from aiosmtpd.handlers import Mailbox

class Policy(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        # slow...@: the mail is stored and accepted only after 1.5 s (a window to cut things).
        if any(a.split("@", 1)[0].lower().startswith("slow") for a in envelope.rcpt_tos):
            await asyncio.sleep(1.5)
        return await super().handle_DATA(server, session, envelope)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("refuse"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("defer"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

const PARSE: &str = r#"
import email, email.policy, json, os, sys
root = sys.argv[1]
out = []
for sub in ("new", "cur"):
    d = os.path.join(root, sub)
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        path = os.path.join(d, name)
        raw = open(path, "rb").read()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        def part(kind):
            p = msg.get_body(preferencelist=(kind,))
            return p.get_content() if p is not None else None
        out.append({"file": path, "raw": raw.decode("utf-8", "replace"),
                    "headers": [[k, str(v)] for k, v in msg.items()],
                    "content_type": msg.get_content_type(), "text": part("plain"), "html": part("html")})
print(json.dumps(out))
"#;

/// Is aiosmtpd importable? If not: skip, or panic under CI.
fn aiosmtpd_available() -> bool {
    let ok = Command::new("python3").args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        let how = "aiosmtpd is missing: install it with `python3 -m pip install aiosmtpd`";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{how}");
        eprintln!("skipping: {how}");
    }
    ok
}

use crate::harness::ports::free_port;

impl SmtpServer {
    /// A running server, or `None` when aiosmtpd is not installed (outside CI).
    pub async fn start(security: Security) -> Option<SmtpServer> {
        SmtpServer::launch(security, false).await
    }

    /// Like [`SmtpServer::start`], refusing `refuse…@` recipients with 550 and `defer…@`
    /// recipients with 451, and accepting mail to `slow…@` 1.5 s after its DATA.
    pub async fn start_with_policy(security: Security) -> Option<SmtpServer> {
        SmtpServer::launch(security, true).await
    }

    async fn launch(security: Security, policy: bool) -> Option<SmtpServer> {
        if !aiosmtpd_available() {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca_cert, tls_files) = match security {
            Security::Plain => (None, None),
            Security::StartTls | Security::Implicit => {
                let (ca, cert, key) = make_certificates(dir.path());
                (Some(ca), Some((cert, key)))
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        if policy {
            std::fs::write(dir.path().join("accountops_smtp_policy.py"), POLICY).expect("write the policy handler");
        }
        let mut server = SmtpServer { addr, security, dir, ca_cert, tls_files, policy, process: None };
        server.start_again().await;
        Some(server)
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// The transport URL for this server (trusting its CA in the TLS modes).
    pub fn url(&self) -> String {
        let ca = self.ca_cert.as_ref().map(|c| c.display().to_string()).unwrap_or_default();
        match self.security {
            Security::Plain => format!("smtp://{}?tls=none", self.addr),
            Security::StartTls => format!("smtp://{}?ca={ca}", self.addr),
            Security::Implicit => format!("smtps://{}?ca={ca}", self.addr),
        }
    }

    /// Stop the server; the port refuses connections until [`SmtpServer::start_again`].
    pub fn stop(&mut self) {
        drop(self.process.take());
    }

    /// (Re)start on the same port and wait until it accepts connections.
    pub async fn start_again(&mut self) {
        assert!(self.process.is_none(), "the SMTP server is already running");
        // Through env(1), so the policy module is importable without touching our environment.
        let mut args: Vec<String> = vec![format!("PYTHONPATH={}", self.dir.path().display()), "python3".to_owned()];
        args.extend(["-m", "aiosmtpd", "-n", "-l", &self.addr.to_string()].map(String::from));
        if let Some((cert, key)) = &self.tls_files {
            let (c, k) = if self.security == Security::Implicit {
                ("--smtpscert", "--smtpskey")
            } else {
                ("--tlscert", "--tlskey")
            };
            args.extend([c.to_string(), cert.display().to_string(), k.to_string(), key.display().to_string()]);
        }
        let handler = if self.policy { "accountops_smtp_policy.Policy" } else { "aiosmtpd.handlers.Mailbox" };
        args.extend(["-c".to_string(), handler.to_string(), self.maildir().display().to_string()]);
        let log = self.dir.path().join("aiosmtpd.log");
        let mut process =
            Supervised::spawn("aiosmtpd", Path::new("/usr/bin/env"), &args, &log).expect("start aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = process.exited() {
                panic!("aiosmtpd exited ({status}):\n{}", process.log_tail());
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {}:\n{}", self.addr, process.log_tail());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.process = Some(process);
    }

    /// Every mail received so far, oldest file name first.
    pub fn messages(&self) -> Vec<ParsedMail> {
        parse_maildir(&self.maildir())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("aiosmtpd.log")).unwrap_or_default()
    }
}

/// Parse every mail in a Maildir (`new/`, `cur/`) or a plain directory of `.eml` files.
pub fn parse_maildir(dir: &Path) -> Vec<ParsedMail> {
    let output = Command::new("python3").args(["-c", PARSE]).arg(dir).output().expect("run python3");
    assert!(output.status.success(), "parsing {}: {}", dir.display(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("parser output is JSON")
}

/// Parse `.eml` files in `dir` (the file transport's output).
pub fn parse_eml_dir(dir: &Path) -> Vec<ParsedMail> {
    let staging = tempfile::tempdir().expect("tempdir");
    let new = staging.path().join("new");
    std::fs::create_dir_all(&new).expect("mkdir");
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "eml") {
            std::fs::copy(&path, new.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    parse_maildir(staging.path())
}

/// A CA and a server certificate for 127.0.0.1, as PEM files: (ca, cert, key).
/// A fresh CA and a certificate for `127.0.0.1`/`localhost` signed by it, written into `dir`:
/// `(ca.pem, server.pem, server.key)`.
pub(crate) fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, "accountops-test-smtp-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    server.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let key = KeyPair::generate().expect("key");
    let cert = server.signed_by(&key, &ca).expect("sign");
    let paths = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&paths.0, ca.pem()).expect("write ca");
    std::fs::write(&paths.1, cert.pem()).expect("write cert");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write key");
    paths
}
