//! The dispatcher: delivers committed outbox mails, retries with backoff, gives up after N.
//!
//! ```text
//! loop ──► outbox::due(now, batch) ──► for each mail:
//!   │        token bucket (rate_per_minute) ── wait if over budget
//!   │        build_message ── invalid recipient ──► mark_dead (no retry can help)
//!   │        [failpoint after-commit-before-send]
//!   │        Transport::send
//!   │          ok  ──► [failpoint after-send-before-mark]
//!   │                  tx { outbox::mark_sent; invitations::mark_sent(message_id) }
//!   │          err ──► attempts < max ? mark_failed(now + backoff) : mark_dead(error)
//!   └── idle: sleep(idle) or DispatchHandle::notify() (after a commit), until shutdown
//! ```
//!
//! **Delivery is at-least-once.** A mail is committed to the outbox before any send, so a
//! crash never loses it; a crash between the send and `mark_sent` sends it again on restart,
//! with the same Message-ID, so receivers (and the `file://` transport) can deduplicate. No
//! "sending" claim would close that window: after a crash nobody knows whether the relay got
//! the mail. Run one dispatcher per database (the operator's leader).
//!
//! **Failpoints** (debug builds only, for crash tests): with `ACCOUNTOPS_FAILPOINT` set to
//! `after-commit-before-send` or `after-send-before-mark`, the process aborts at that point.
//! Release builds compile the check out.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::MailError;
use super::compose::MailSettings;
use super::rate::{TokenBucket, backoff};
use super::transport::{Sender, Transport, build_message};
use crate::store::outbox::{self, Mail};
use crate::store::{Store, StoreError, invitations};

/// How long a stopping dispatcher may take to finish the mail it is sending.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often a dispatcher waiting for its rate budget checks for shutdown.
const BUDGET_POLL: Duration = Duration::from_millis(200);

/// Timing and limits of delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatcherConfig {
    /// Attempts before a mail is dead (the last error is kept).
    pub max_attempts: u32,
    /// Delay after the first failure; doubles per failure.
    pub base_backoff: Duration,
    /// The longest delay between attempts.
    pub max_backoff: Duration,
    /// Sends per minute through this relay; 0 means no limit.
    pub rate_per_minute: u32,
    /// Mails fetched per query.
    pub batch: i64,
    /// Wait between polls when nothing is due (a notify ends it early).
    pub idle: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            max_attempts: 8,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            rate_per_minute: 600,
            batch: 100,
            idle: Duration::from_secs(1),
        }
    }
}

/// Counters for metrics (`delivery_failures_total`, ...); share one with the dispatcher.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Mails delivered.
    pub sent: AtomicU64,
    /// Failed delivery attempts (each retry counts).
    pub failures: AtomicU64,
    /// Mails given up on.
    pub dead: AtomicU64,
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: u64,
    /// Failed attempts that will be retried.
    pub retrying: u64,
    pub dead: u64,
}

impl DeliveryReport {
    fn add(&mut self, other: DeliveryReport) {
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.dead += other.dead;
    }
}

/// Wakes a dispatcher early, e.g. right after a transaction that enqueued mail commits.
#[derive(Debug, Clone, Default)]
pub struct DispatchHandle(Arc<Notify>);

impl DispatchHandle {
    /// Ask for a delivery pass now; a notify while a pass runs starts another right after it.
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Delivers the outbox of one database through one transport.
pub struct Dispatcher {
    store: Store,
    transport: Transport,
    sender: Sender,
    config: DispatcherConfig,
    stats: Arc<DeliveryStats>,
    wake: DispatchHandle,
    bucket: Mutex<TokenBucket>,
    clock: Instant,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        transport: Transport,
        settings: &MailSettings,
        config: DispatcherConfig,
    ) -> Result<Dispatcher, MailError> {
        let bucket = Mutex::new(TokenBucket::per_minute(config.rate_per_minute));
        Ok(Dispatcher {
            store,
            transport,
            sender: Sender::new(settings)?,
            config,
            stats: Arc::default(),
            wake: DispatchHandle::default(),
            bucket,
            clock: Instant::now(),
        })
    }

    /// Count into `stats` (e.g. shared with the metrics endpoint).
    pub fn with_stats(mut self, stats: Arc<DeliveryStats>) -> Dispatcher {
        self.stats = stats;
        self
    }

    pub fn stats(&self) -> Arc<DeliveryStats> {
        Arc::clone(&self.stats)
    }

    pub fn handle(&self) -> DispatchHandle {
        self.wake.clone()
    }

    /// Deliver until `shutdown` completes. Store and transport errors are logged and retried.
    /// On shutdown the mail being sent is finished and recorded (for at most
    /// [`SHUTDOWN_GRACE`]), so a clean stop does not send it twice.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tracing::info!(transport = self.transport.describe(), "mail dispatcher started");
        let mut shutdown = std::pin::pin!(shutdown);
        let stopping = AtomicBool::new(false);
        loop {
            let pass = self.pass(Timestamp::now(), &stopping);
            let mut pass = std::pin::pin!(pass);
            let result = tokio::select! {
                result = &mut pass => result,
                () = &mut shutdown => {
                    stopping.store(true, Ordering::SeqCst);
                    if tokio::time::timeout(SHUTDOWN_GRACE, pass).await.is_err() {
                        tracing::warn!("mail dispatcher stopped during a send: that mail may go out again");
                    }
                    break;
                }
            };
            let more = match result {
                Ok((fetched, _)) => fetched >= self.batch(),
                Err(e) => {
                    tracing::warn!(error = %e, "mail delivery pass failed");
                    false
                }
            };
            if more {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.idle) => {}
                () = self.wake.0.notified() => {}
                () = &mut shutdown => break,
            }
        }
        tracing::info!("mail dispatcher stopped");
    }

    /// Deliver every mail due now, without idling (local mode); failures are scheduled for
    /// later as usual. Waits only for the rate budget.
    pub async fn deliver_due_once(&self) -> Result<DeliveryReport, MailError> {
        let now = Timestamp::now();
        let mut total = DeliveryReport::default();
        loop {
            let (fetched, report) = self.pass(now, &AtomicBool::new(false)).await?;
            total.add(report);
            if fetched < self.batch() || report.sent + report.dead == 0 {
                return Ok(total);
            }
        }
    }

    fn batch(&self) -> usize {
        usize::try_from(self.config.batch.max(1)).unwrap_or(usize::MAX)
    }

    /// One query of due mails, each delivered, until `stopping`. Returns how many were fetched.
    async fn pass(&self, now: Timestamp, stopping: &AtomicBool) -> Result<(usize, DeliveryReport), MailError> {
        let due = {
            let mut conn = self.store.acquire().await?;
            outbox::due(&mut conn, now, self.config.batch.max(1)).await?
        };
        let mut report = DeliveryReport::default();
        for mail in &due {
            if !self.wait_for_budget(stopping).await {
                break;
            }
            report.add(self.deliver(mail).await?);
        }
        Ok((due.len(), report))
    }

    /// Wait for a token; `false` if `stopping` was set first.
    async fn wait_for_budget(&self, stopping: &AtomicBool) -> bool {
        loop {
            if stopping.load(Ordering::SeqCst) {
                return false;
            }
            let decision = self.bucket.lock().map(|mut b| b.try_take(self.clock.elapsed())).unwrap_or(Ok(()));
            match decision {
                Ok(()) => return true,
                Err(wait) => tokio::time::sleep(wait.min(BUDGET_POLL)).await,
            }
        }
    }

    async fn deliver(&self, mail: &Mail) -> Result<DeliveryReport, MailError> {
        let message = match build_message(&self.sender, mail) {
            Ok(message) => message,
            Err(reason) => {
                let mut conn = self.store.acquire().await?;
                outbox::mark_dead(&mut conn, &mail.id, &reason, Timestamp::now()).await?;
                self.stats.dead.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(message_id = %mail.message_id, kind = %mail.kind, error = %reason, "mail is undeliverable");
                return Ok(DeliveryReport { dead: 1, ..Default::default() });
            }
        };
        failpoint("after-commit-before-send");
        match self.transport.send(&message).await {
            Ok(()) => {
                failpoint("after-send-before-mark");
                self.record_sent(mail).await?;
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(message_id = %mail.message_id, kind = %mail.kind, "mail sent");
                Ok(DeliveryReport { sent: 1, ..Default::default() })
            }
            Err(error) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                let attempts = u32::try_from(mail.attempts).unwrap_or(u32::MAX).saturating_add(1);
                let now = Timestamp::now();
                let mut conn = self.store.acquire().await?;
                if attempts >= self.config.max_attempts {
                    outbox::mark_dead(&mut conn, &mail.id, &error, now).await?;
                    self.stats.dead.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(message_id = %mail.message_id, attempts, %error, "mail delivery gave up");
                    Ok(DeliveryReport { dead: 1, ..Default::default() })
                } else {
                    let delay = backoff(self.config.base_backoff, self.config.max_backoff, attempts);
                    let next = now.checked_add(delay).unwrap_or(Timestamp::MAX);
                    outbox::mark_failed(&mut conn, &mail.id, &error, next, now).await?;
                    tracing::info!(message_id = %mail.message_id, attempts, retry_in = ?delay, %error, "mail delivery failed");
                    Ok(DeliveryReport { retrying: 1, ..Default::default() })
                }
            }
        }
    }

    /// The mail is sent: mark it, and record its Message-ID on the invitation it carries.
    async fn record_sent(&self, mail: &Mail) -> Result<(), MailError> {
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        outbox::mark_sent(&mut tx, &mail.id, now).await?;
        if let Some(related) = mail.related.as_ref().filter(|r| r.table == invitations::TABLE) {
            if invitations::find(&mut tx, &related.id).await?.is_some() {
                invitations::mark_sent(&mut tx, &related.id, &mail.message_id, now).await?;
            } else {
                tracing::warn!(message_id = %mail.message_id, invitation = %related.id, "sent mail's invitation is gone");
            }
        }
        tx.commit().await.map_err(|source| StoreError::Query { what: "commit a sent mail".to_owned(), source })?;
        Ok(())
    }
}

/// Abort the process here when `ACCOUNTOPS_FAILPOINT` names this point (debug builds only).
#[cfg(debug_assertions)]
fn failpoint(name: &str) {
    if std::env::var("ACCOUNTOPS_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("accountops: failpoint {name} reached, aborting");
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn failpoint(_: &str) {}
