//! A hostile SCIM server (`tests/tools/hostile_scim.py`, Python's stdlib http.server) on a free
//! loopback port: endless bodies, endless pages, absurd totals, silence, redirects. Every
//! request it gets is logged, so a test can also prove that nothing reached it.
//!
//! ```text
//! HostileServer::start() ── python3 hostile_scim.py PORT LOG    (supervised)
//!   url("huge") = http://127.0.0.1:PORT/huge/v2     requests() = ["GET /huge/v2/Groups?…", …]
//! ```
#![allow(dead_code)] // each test uses part of it

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::harness::Supervised;

pub struct HostileServer {
    pub addr: SocketAddr,
    log: PathBuf,
    _process: Supervised,
    _dir: tempfile::TempDir,
}

impl HostileServer {
    pub async fn start() -> HostileServer {
        HostileServer::start_on([127, 0, 0, 1]).await
    }

    /// On another loopback address (all of 127/8 is loopback).
    pub async fn start_on(ip: [u8; 4]) -> HostileServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let bind = SocketAddr::from((ip, 0));
        let port = TcpListener::bind(bind).and_then(|l| l.local_addr()).expect("a free port").port();
        let addr = SocketAddr::from((ip, port));
        let log = dir.path().join("requests.log");
        std::fs::write(&log, "").expect("request log");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/hostile_scim.py");
        let args =
            vec![script.display().to_string(), port.to_string(), log.display().to_string(), addr.ip().to_string()];
        let out = dir.path().join("hostile_scim.out");
        let mut process =
            Supervised::spawn("hostile_scim", &PathBuf::from("python3"), &args, &out).expect("hostile server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = process.exited() {
                panic!("hostile_scim exited ({status}):\n{}", process.log_tail());
            }
            assert!(Instant::now() < deadline, "hostile_scim did not listen on {addr}:\n{}", process.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        HostileServer { addr, log, _process: process, _dir: dir }
    }

    /// The SCIM base URL of behaviour `mode` (see the script).
    pub fn url(&self, mode: &str) -> String {
        format!("http://{}/{mode}/v2", self.addr)
    }

    /// `METHOD PATH` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// The requests whose path starts with `/{mode}/`.
    pub fn requests_to(&self, mode: &str) -> Vec<String> {
        let prefix = format!(" /{mode}/");
        self.requests().into_iter().filter(|r| r.contains(&prefix)).collect()
    }
}
