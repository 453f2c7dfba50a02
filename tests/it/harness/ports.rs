//! Listening ports for the servers the tests start, handed out once per test process.
//!
//! Asking the kernel for port 0 and closing it again races: the kernel hands the same
//! ephemeral ports to every other port-0 bind and to outgoing connections, so between the
//! pick and the server's own bind another test's server could take it, and a readiness probe
//! would then be answered by the wrong server (a CI run saw a SCIM test talk to another test's
//! health endpoint). Ports come from below the ephemeral range (32768-60999 on Linux) instead,
//! each one at most once per process, and only if nothing listens there now.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// Below the kernel's ephemeral range, so no outgoing connection or port-0 bind lands here.
const FIRST: u32 = 20_000;
const LAST: u32 = 32_000;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A port on `ip` that no one listens on and that this process has not handed out before.
pub fn free_port_on(ip: [u8; 4]) -> u16 {
    // Start at a spot derived from the pid, so two test processes on one machine rarely meet.
    let _ = NEXT.compare_exchange(0, std::process::id() % (LAST - FIRST), Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..(LAST - FIRST) {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % (LAST - FIRST);
        let port = u16::try_from(FIRST + offset).expect("below 32000");
        if TcpListener::bind(SocketAddr::from((ip, port))).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {LAST}");
}

/// [`free_port_on`] 127.0.0.1.
pub fn free_port() -> u16 {
    free_port_on([127, 0, 0, 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_handed_out_once_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        assert!(ports.iter().all(|p| (FIRST..LAST).contains(&u32::from(*p))), "{ports:?}");
    }
}
