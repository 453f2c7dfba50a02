//! The fence: until when this process may write to the platform database and send mail.
//!
//! ```text
//! leader election ── lease observed (holder = us, renewTime) ──► Fence::extend_to(deadline)
//!                                                                   │ shared by every Store clone
//! core commit / dispatcher claim / dispatcher send ── Store::check_fence() ── past the deadline?
//!                                                        └─► StoreError::Fenced (transient)
//! ```
//!
//! With leader election a replica may write only while it surely holds the Lease. It cannot
//! know that it still does once the apiserver stops answering, so it stops at the deadline it
//! last knew: the Lease's `renewTime` plus its duration, minus a margin. A standby takes over
//! only after `renewTime` plus the duration (by the same clock that wrote `renewTime`), so the
//! old leader has stopped by then. Without leader election (one replica, local mode, the CLI)
//! the fence is [`Fence::open`] and never closes.
//!
//! A check is a mutex read of an `Instant`: cheap enough before every commit and every send.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why writing is not allowed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Fenced {
    /// Leader election is on and this replica has not (yet, or any more) held the lease.
    #[error("not the leader: writing and sending wait for the leader lease")]
    NotLeading,
    /// The lease may have expired: it was last seen renewed too long ago.
    #[error("the leader lease may have expired {0:?} ago (apiserver not answering?): writing and sending stopped")]
    LeaseExpired(Duration),
}

/// Until when writes are allowed; clones share one deadline.
#[derive(Debug, Clone)]
pub struct Fence(Arc<Inner>);

#[derive(Debug)]
enum Inner {
    Open,
    Leased(Mutex<Option<Instant>>),
}

impl Default for Fence {
    fn default() -> Self {
        Fence::open()
    }
}

impl Fence {
    /// Never closes: no leader election.
    pub fn open() -> Fence {
        Fence(Arc::new(Inner::Open))
    }

    /// Closed until [`Fence::extend_to`]: leader election decides.
    pub fn leased() -> Fence {
        Fence(Arc::new(Inner::Leased(Mutex::new(None))))
    }

    /// Whether leader election drives this fence.
    pub fn is_leased(&self) -> bool {
        matches!(*self.0, Inner::Leased(_))
    }

    /// Allow writes until `deadline` (the lease was seen renewed).
    pub fn extend_to(&self, deadline: Instant) {
        if let Inner::Leased(until) = &*self.0 {
            *until.lock().unwrap_or_else(|p| p.into_inner()) = Some(deadline);
        }
    }

    /// Stop writes now (the lease was lost or released).
    pub fn close(&self) {
        if let Inner::Leased(until) = &*self.0 {
            *until.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// `Ok` while writes are allowed.
    pub fn check(&self) -> Result<(), Fenced> {
        self.check_at(Instant::now())
    }

    /// [`Fence::check`] at `now`.
    pub fn check_at(&self, now: Instant) -> Result<(), Fenced> {
        self.remaining_at(now).map(drop)
    }

    /// How long writes stay allowed from now (`None`: no limit).
    pub fn remaining(&self) -> Result<Option<Duration>, Fenced> {
        self.remaining_at(Instant::now())
    }

    fn remaining_at(&self, now: Instant) -> Result<Option<Duration>, Fenced> {
        let Inner::Leased(until) = &*self.0 else { return Ok(None) };
        match *until.lock().unwrap_or_else(|p| p.into_inner()) {
            None => Err(Fenced::NotLeading),
            Some(deadline) if deadline > now => Ok(Some(deadline - now)),
            Some(deadline) => Err(Fenced::LeaseExpired(now - deadline)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn an_open_fence_never_closes() {
        let fence = Fence::open();
        fence.close();
        assert_eq!(fence.check(), Ok(()));
        assert_eq!(fence.remaining(), Ok(None));
        assert!(!fence.is_leased());
    }

    #[test]
    fn a_leased_fence_allows_writes_until_the_deadline_only() {
        let fence = Fence::leased();
        let now = Instant::now();
        assert_eq!(fence.check_at(now), Err(Fenced::NotLeading), "closed before the lease is held");
        fence.extend_to(now + 10 * S);
        let clone = fence.clone();
        assert_eq!(clone.check_at(now + 9 * S), Ok(()), "clones share the deadline");
        assert_eq!(clone.check_at(now + 10 * S), Err(Fenced::LeaseExpired(Duration::ZERO)));
        assert_eq!(clone.check_at(now + 12 * S), Err(Fenced::LeaseExpired(2 * S)));
        fence.extend_to(now + 20 * S);
        assert_eq!(clone.check_at(now + 12 * S), Ok(()), "a renewal opens it again");
        fence.close();
        assert_eq!(clone.check_at(now), Err(Fenced::NotLeading));
        assert!(fence.is_leased());
    }
}
