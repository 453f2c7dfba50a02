//! A real SCIM 2.0 server for the provisioning tests: scim2-server (PyPI) on a free loopback
//! port, in memory, with a static bearer token.
//!
//! ```text
//! ScimServer::start() ── scim2-server --hostname 127.0.0.1 --port PORT --bearer-token TOKEN
//!     (supervised: never outlives the test binary)  base URL http://127.0.0.1:PORT/v2
//! stop() / start_again()  ── the same port: "the system is down, then back" (state is lost)
//! ```
//!
//! Without scim2-server a test skips (`start` returns `None`), and fails under `CI=true` with
//! how to install it.
//!
//! [`World`] is the platform side of a ProvisioningSync test, made through the core on a
//! SQLite file: account `acme`, organizations `eng` (anna, bob) and `ops` (bob, carol; dave a
//! contact without login).
#![allow(dead_code)] // each test uses part of it

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accountops::api::provisioning_sync::ProvisioningSyncSpec;
use accountops::core::account::{self, DesiredAccount};
use accountops::core::membership::{self, DesiredMembership};
use accountops::core::organization::{self, DesiredOrganization};
use accountops::core::sync::DesiredSync;
use accountops::core::{Flags, Outcome};
use accountops::mail::MailSettings;
use accountops::scim::{Credentials, EndpointGuard, GuardSettings, RetryPolicy, ScimClient, ScimConfig, User};
use accountops::store::{Owner, Store};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::harness::Supervised;

pub struct ScimServer {
    pub addr: SocketAddr,
    pub token: String,
    program: PathBuf,
    dir: tempfile::TempDir,
    process: Option<Supervised>,
}

/// Where `scim2-server` is, if installed: skip, or panic under CI.
fn scim2_server() -> Option<PathBuf> {
    let found = Command::new("sh")
        .args(["-c", "command -v scim2-server"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if found.is_none() {
        let how = "scim2-server is missing: install it with `python3 -m pip install scim2-server==0.8.3`";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{how}");
        eprintln!("skipping: {how}");
    }
    found
}

use crate::harness::ports::{free_port, free_port_on};

impl ScimServer {
    /// A running server, or `None` when scim2-server is not installed (outside CI).
    pub async fn start() -> Option<ScimServer> {
        ScimServer::start_on([127, 0, 0, 1]).await
    }

    /// [`ScimServer::start`] on another loopback address (all of 127/8 is loopback), so a test
    /// can deny 127.0.0.1 in the operator's endpoint policy and still reach this server.
    pub async fn start_on(ip: [u8; 4]) -> Option<ScimServer> {
        let program = scim2_server()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = SocketAddr::from((ip, free_port_on(ip)));
        let token = format!("test-token-{}", addr.port());
        let mut server = ScimServer { addr, token, program, dir, process: None };
        server.start_again().await;
        Some(server)
    }

    /// The SCIM base URL.
    pub fn url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// Stop the server; the port refuses connections until [`ScimServer::start_again`].
    pub fn stop(&mut self) {
        drop(self.process.take());
    }

    /// (Re)start on the same port and wait until it answers HTTP.
    pub async fn start_again(&mut self) {
        assert!(self.process.is_none(), "the SCIM server is already running");
        let host = self.addr.ip().to_string();
        let args: Vec<String> =
            ["--hostname", &host, "--port", &self.addr.port().to_string(), "--bearer-token", &self.token]
                .map(String::from)
                .into();
        let log = self.dir.path().join("scim2-server.log");
        let mut process = Supervised::spawn("scim2-server", &self.program, &args, &log).expect("start scim2-server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !answers(self.addr, &self.token) {
            if let Some(status) = process.exited() {
                panic!("scim2-server exited ({status}):\n{}", process.log_tail());
            }
            assert!(Instant::now() < deadline, "scim2-server did not answer on {}:\n{}", self.addr, process.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.process = Some(process);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("scim2-server.log")).unwrap_or_default()
    }
}

/// A TLS front (`tests/tools/tls_proxy.py`) for a [`ScimServer`], with a certificate from a
/// fresh CA: the SCIM base URL over HTTPS, and the CA's PEM.
pub struct TlsFront {
    pub addr: SocketAddr,
    pub ca_pem: Vec<u8>,
    // Stopped before its directory goes.
    _process: Supervised,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    pub async fn start(server: &ScimServer) -> TlsFront {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, cert, key) = crate::support::smtp::make_certificates(dir.path());
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/tls_proxy.py");
        let args: Vec<String> = [
            script.display().to_string(),
            addr.port().to_string(),
            server.addr.port().to_string(),
            cert.display().to_string(),
            key.display().to_string(),
        ]
        .into();
        let log = dir.path().join("tls_proxy.log");
        let mut process = Supervised::spawn("tls_proxy", &PathBuf::from("python3"), &args, &log).expect("tls proxy");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = process.exited() {
                panic!("tls_proxy exited ({status}):\n{}", process.log_tail());
            }
            assert!(Instant::now() < deadline, "tls_proxy did not listen on {addr}:\n{}", process.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ca_pem = std::fs::read(ca).expect("read the CA");
        TlsFront { addr, ca_pem, _process: process, _dir: dir }
    }

    /// The SCIM base URL through the front.
    pub fn url(&self) -> String {
        format!("https://localhost:{}/v2", self.addr.port())
    }
}

/// Does an HTTP request to `/v2/ServiceProviderConfig` get a status line back?
/// Whether this very server answers: an authenticated request must get a 200, so a port some
/// other server answers on (another token, or not SCIM at all) does not count as ready.
fn answers(addr: SocketAddr, token: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /v2/ServiceProviderConfig HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/") && head.ends_with(b" 200")
}

fn owner(name: &str) -> Owner {
    Owner {
        cluster: "it".to_owned(),
        namespace: "billing".to_owned(),
        name: name.to_owned(),
        uid: format!("uid-{name}"),
    }
}

fn spec<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid spec")
}

/// A client of `server` with `token`, `retry`, `guard` and a 5 s request timeout.
pub fn client_with(server: &ScimServer, token: &str, retry: RetryPolicy, guard: GuardSettings) -> ScimClient {
    let mut config = ScimConfig::new(&server.url(), Credentials::Bearer(token.to_owned()));
    config.retry = retry;
    config.timeout = Some(Duration::from_secs(5));
    ScimClient::new(&config, Arc::new(EndpointGuard::new(&server.url(), guard))).expect("client")
}

/// A client of `server` with its token, the default retry policy and guard.
pub fn client(server: &ScimServer) -> ScimClient {
    client_with(server, &server.token, RetryPolicy::default(), GuardSettings::default())
}

/// The ID the server gave `user`.
pub fn id(user: &User) -> String {
    user.id.clone().expect("the server assigns an id")
}

pub fn mail_settings() -> MailSettings {
    MailSettings::new("accountops <noreply@example.com>", None, "https://platform.example.com/invitations/accept")
        .expect("mail settings")
}

/// `(object name, organization, e-mail, login)` of the members.
const MEMBERS: [(&str, &str, &str, bool); 5] = [
    ("anna-eng", "eng", "anna@acme.example", true),
    ("bob-eng", "eng", "bob@acme.example", true),
    ("bob-ops", "ops", "bob@acme.example", true),
    ("carol-ops", "ops", "carol@acme.example", true),
    ("dave-ops", "ops", "dave@acme.example", false),
];

/// The platform side: a migrated SQLite file with the account, organizations and members.
pub struct World {
    _dir: tempfile::TempDir,
    pub store: Store,
    pub account_id: String,
    /// Organization object name → organization ID.
    pub orgs: BTreeMap<&'static str, String>,
    /// E-mail → user ID.
    pub users: BTreeMap<&'static str, String>,
}

impl World {
    pub async fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("psync.db").display())).await.expect("db");
        store.migrate().await.expect("migrate");
        let now = Timestamp::now();
        let account = spec(json!({
            "legalName": "Acme Sp. z o.o.", "taxId": "PL5260250274", "billingEmail": "billing@acme.example",
            "currency": "PLN", "invoiceLanguage": "pl",
            "billingAddress": {"street": ["ul. Prosta 1"], "city": "Warszawa", "postalCode": "00-838", "country": "PL"},
        }));
        let a = DesiredAccount::new(owner("acme"), account, false, Flags::default());
        let account_id = account::reconcile(&store, &a, now).await.expect("account").id.expect("account id");
        let mut orgs = BTreeMap::new();
        for (name, display) in [("eng", "Acme Engineering"), ("ops", "Acme Operations")] {
            let o = spec(json!({
                "accountRef": {"name": "acme"}, "displayName": display,
                "roles": [{"name": "Admin", "permissions": ["org.admin"]}, {"name": "Engineer", "permissions": ["t.w"]}],
            }));
            let d = DesiredOrganization::new(owner(name), o, false, Flags::default());
            orgs.insert(name, organization::reconcile(&store, &d, now).await.expect("org").id.expect("org id"));
        }
        let mut world = World { _dir: dir, store, account_id, orgs, users: BTreeMap::new() };
        for (name, _, email, _) in MEMBERS {
            let outcome = world.member(name, false).await;
            let user = outcome.facts.membership().and_then(|m| m.user_id.clone()).expect("a user");
            world.users.insert(email, user);
        }
        world
    }

    /// Reconcile member `name` (see [`MEMBERS`]); `revoke`: its object deleted (policy Delete).
    pub async fn member(&self, name: &str, revoke: bool) -> Outcome {
        let (_, org, email, login) = MEMBERS.into_iter().find(|m| m.0 == name).expect("a known member");
        let m = spec(json!({
            "organizationRef": {"name": org}, "email": email, "roles": ["Engineer"], "login": login,
            "displayName": email.split('@').next(),
        }));
        let d = DesiredMembership::new(owner(name), m, revoke, Flags::default());
        membership::reconcile(&self.store, &d, Timestamp::now(), &mail_settings()).await.expect("membership")
    }

    /// A membership `name` of `email` in organization `org` (an object name known to the
    /// store: `eng`, `ops`, or one made by [`World::second_account`]), with login.
    pub async fn join(&self, name: &str, org: &str, email: &str, revoke: bool) -> Outcome {
        let m = spec(json!({
            "organizationRef": {"name": org}, "email": email, "roles": ["Engineer"], "login": true,
            "displayName": email.split('@').next(),
        }));
        let d = DesiredMembership::new(owner(name), m, revoke, Flags::default());
        membership::reconcile(&self.store, &d, Timestamp::now(), &mail_settings()).await.expect("membership")
    }

    /// Delete organization object `name` (policy Delete): its row is archived once its
    /// memberships are revoked.
    pub async fn archive_org(&self, name: &str) -> Outcome {
        let d = DesiredOrganization::deleted(owner(name), accountops::api::DeletionPolicy::Delete, Flags::default());
        organization::reconcile(&self.store, &d, Timestamp::now()).await.expect("org deletion")
    }

    /// Another account `globex` with organization `globex-eng`, in the same database; returns
    /// the sync of that account (`globex-scim`) against `url`.
    pub async fn second_account(&self, url: &str, token: &str) -> DesiredSync {
        let now = Timestamp::now();
        let account = spec(json!({
            "legalName": "Globex GmbH", "billingEmail": "billing@globex.example", "currency": "EUR",
            "billingAddress": {"street": ["Hauptstr. 1"], "city": "Berlin", "postalCode": "10115", "country": "DE"},
        }));
        let a = DesiredAccount::new(owner("globex"), account, false, Flags::default());
        account::reconcile(&self.store, &a, now).await.expect("account").id.expect("account id");
        let o = spec(json!({
            "accountRef": {"name": "globex"}, "displayName": "Globex Engineering",
            "roles": [{"name": "Engineer", "permissions": ["t.w"]}],
        }));
        let d = DesiredOrganization::new(owner("globex-eng"), o, false, Flags::default());
        organization::reconcile(&self.store, &d, now).await.expect("org").id.expect("org id");
        let mut sync = self.sync(url, token, json!({"accountRef": {"name": "globex"}}));
        sync.owner = owner("globex-scim");
        sync
    }

    /// The ProvisioningSync `acme-scim` against `url`; `extra` is merged into the spec.
    pub fn sync(&self, url: &str, token: &str, extra: Value) -> DesiredSync {
        let mut value = json!({
            "accountRef": {"name": "acme"},
            "endpoint": {"url": url, "credentialsSecretRef": {"name": "scim-credentials"}},
            "portalUrl": "https://portal.example.com/start",
        });
        if let (Some(base), Value::Object(extra)) = (value.as_object_mut(), extra) {
            base.extend(extra);
        }
        let spec: ProvisioningSyncSpec = spec(value);
        DesiredSync {
            owner: owner("acme-scim"),
            spec,
            deleting: false,
            flags: Flags::default(),
            credentials: Credentials::Bearer(token.to_owned()),
            credentials_hash: "0".repeat(64),
            ca_pem: None,
        }
    }
}
