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
#![allow(dead_code)] // each test uses part of it

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

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

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl ScimServer {
    /// A running server, or `None` when scim2-server is not installed (outside CI).
    pub async fn start() -> Option<ScimServer> {
        let program = scim2_server()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
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
        let args: Vec<String> =
            ["--hostname", "127.0.0.1", "--port", &self.addr.port().to_string(), "--bearer-token", &self.token]
                .map(String::from)
                .into();
        let log = self.dir.path().join("scim2-server.log");
        let mut process = Supervised::spawn("scim2-server", &self.program, &args, &log).expect("start scim2-server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !answers(self.addr) {
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

/// Does an HTTP request to `/v2/ServiceProviderConfig` get a status line back?
fn answers(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ServiceProviderConfig HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/")
}
