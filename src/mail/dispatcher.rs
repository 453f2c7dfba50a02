//! The dispatcher: claims committed outbox mails of its own origin, delivers them within the
//! relay's budget, retries with backoff, and gives up only on repeated refusals or old age.
//!
//! ```text
//! loop ──► fence? ── token bucket (rate_per_minute) ── outbox::claim(origin, lease, fair) ──►
//!   │        for each claimed mail (one namespace's mail per round):
//!   │          older than max_age            ──► mark_dead(expired)
//!   │          build_message fails           ──► mark_dead(undeliverable: no retry can help)
//!   │          too little lease left / stop  ──► release the rest (another pass takes them)
//!   │          fence? [failpoint after-commit-before-send]
//!   │          Transport::send (within the lease)
//!   │            ok  ──► [failpoint after-send-before-mark]
//!   │                    tx { outbox::mark_sent; invitations::mark_sent(message_id) },
//!   │                    tried again while the database is down, as long as the claim lasts
//!   │                    (`mark_together`: one tx for the claim's sends, after it; record.rs)
//!   │            5xx ──► refusals < max_attempts ? mark_failed(now + backoff) : mark_dead(refused)
//!   │            else ──► (connection, timeout, TLS, 4xx) mark_failed(now + backoff), or
//!   │                     mark_dead(expired) once older than max_age
//!   └── idle: sleep(idle) or DispatchHandle::notify() (after a commit), until shutdown
//! ```
//!
//! **One sender per mail.** A dispatcher sends only mails it claimed ([`outbox::claim`]): of
//! its origin (its cluster, or local mode), not held by another sender's live claim, fairly
//! across namespaces. It claims no more than its budget sends in half a lease, and starts a
//! send only with enough lease left, so a claim does not run out mid-send in normal operation.
//!
//! **Delivery is at-least-once.** A mail is committed before any send, so a crash never loses
//! it; a crash between the send and `mark_sent` (or a database down for longer than the claim's
//! lease, while the mark is tried again) leaves the claim to run out, and the next
//! sender sends the mail again with the same Message-ID, which receivers (and the `file://`
//! transport) can deduplicate. Nobody can know after a crash whether the relay got the mail.
//!
//! **Fencing.** Before each claim and each send the dispatcher checks the store's fence
//! ([`Store::check_fence`]): a leader whose lease may have expired sends nothing more. It writes
//! nothing then either, except to record a send already made and to hand back its claims on
//! mails it did not send (so the next leader need not wait for their lease).
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
use super::transport::{SendFailure, Sender, Transport, build_message};
use crate::store::outbox::{self, Attempt, Claimant, DeadReason, Mail};
use crate::store::{Store, StoreError};

mod record;

/// How long a stopping dispatcher may take to finish the mail it is sending.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often a dispatcher waiting for its rate budget checks for shutdown.
const BUDGET_POLL: Duration = Duration::from_millis(200);

/// Timing and limits of delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatcherConfig {
    /// Permanent refusals (5xx) before a mail is dead; other failures do not count.
    pub max_attempts: u32,
    /// A mail not delivered within this age (transient failures, no relay) is dead.
    pub max_age: Duration,
    /// Delay after the first failure; doubles per failure.
    pub base_backoff: Duration,
    /// The longest delay between attempts.
    pub max_backoff: Duration,
    /// Sends per minute through this relay; 0 means no limit.
    pub rate_per_minute: u32,
    /// The most mails claimed at once.
    pub batch: i64,
    /// Wait between polls when nothing is due (a notify ends it early).
    pub idle: Duration,
    /// How long a claim holds a mail for this sender: after a crash, its mails wait this long.
    pub claim_lease: Duration,
    /// Record a claim's sends in one transaction after the claim instead of one per mail:
    /// one commit (one fsync) per claim. For a transport that takes thousands of mails in a
    /// second (local mode's mailbox directory); a crash before that commit sends the claim's
    /// mails again, with the same Message-IDs.
    pub mark_together: bool,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            max_attempts: 5,
            max_age: Duration::from_secs(3 * 86_400),
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            rate_per_minute: 600,
            batch: 100,
            idle: Duration::from_secs(1),
            claim_lease: Duration::from_secs(120),
            mark_together: false,
        }
    }
}

impl DispatcherConfig {
    /// How many mails one claim takes: what the budget sends in half a lease, at most a batch.
    pub fn claim_size(&self) -> i64 {
        let batch = self.batch.max(1);
        if self.rate_per_minute == 0 {
            return batch;
        }
        let affordable = f64::from(self.rate_per_minute) / 60.0 * self.claim_lease.as_secs_f64() / 2.0;
        // A float to a count: truncation is the intent, and the clamp bounds it.
        #[allow(clippy::cast_possible_truncation)]
        let affordable = affordable.floor().min(i64::MAX as f64) as i64;
        affordable.clamp(1, batch)
    }

    /// Leave this much of a claim unused at the end of a send (clock skew, the mark).
    fn lease_margin(&self) -> Duration {
        self.claim_lease / 10
    }

    /// A send starts only with this much of its claim left.
    fn min_send_window(&self) -> Duration {
        self.claim_lease / 4
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

/// Delivers the outbox mails of one origin through one transport.
pub struct Dispatcher {
    store: Store,
    transport: Transport,
    sender: Sender,
    claimant: Claimant,
    config: DispatcherConfig,
    stats: Arc<DeliveryStats>,
    wake: DispatchHandle,
    bucket: Mutex<TokenBucket>,
    clock: Instant,
}

impl Dispatcher {
    /// A dispatcher of `settings.origin`'s mails, as a sender of its own (random) identity.
    pub fn new(
        store: Store,
        transport: Transport,
        settings: &MailSettings,
        config: DispatcherConfig,
    ) -> Result<Dispatcher, MailError> {
        let bucket = Mutex::new(TokenBucket::per_minute(config.rate_per_minute));
        let claimant = Claimant { origin: settings.origin.clone(), sender: sender_id(settings, "dispatcher") };
        Ok(Dispatcher {
            store,
            transport,
            sender: Sender::new(settings)?,
            claimant,
            config,
            stats: Arc::default(),
            wake: DispatchHandle::default(),
            bucket,
            clock: Instant::now(),
        })
    }

    /// Name this sender after `instance` (the pod), so claims say who holds them; a random
    /// suffix still tells a restarted process from its predecessor.
    pub fn with_instance(mut self, settings: &MailSettings, instance: &str) -> Dispatcher {
        self.claimant.sender = sender_id(settings, instance);
        self
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

    /// The identity recorded on this dispatcher's claims.
    pub fn sender_id(&self) -> &str {
        &self.claimant.sender
    }

    /// Deliver until `shutdown` completes. Store and transport errors are logged and retried.
    /// On shutdown the mail being sent is finished and recorded (for at most
    /// [`SHUTDOWN_GRACE`]) and the rest of the claim released, so a clean stop sends nothing
    /// twice and leaves nothing waiting for a lease.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tracing::info!(transport = self.transport.describe(), sender = %self.claimant.sender, "mail dispatcher started");
        let mut shutdown = std::pin::pin!(shutdown);
        let stopping = AtomicBool::new(false);
        let mut fenced = false;
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
                Ok((claimed, _)) => {
                    fenced = false;
                    i64::try_from(claimed).unwrap_or(i64::MAX) >= self.config.claim_size()
                }
                Err(MailError::Store(StoreError::Fenced(why))) => {
                    if !fenced {
                        tracing::warn!(reason = %why, "mail dispatcher fenced: sending nothing until the lease is held again");
                    }
                    fenced = true;
                    false
                }
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
        let due_by = Timestamp::now();
        let mut total = DeliveryReport::default();
        loop {
            let (claimed, report) = self.pass(due_by, &AtomicBool::new(false)).await?;
            total.add(report);
            if i64::try_from(claimed).unwrap_or(i64::MAX) < self.config.claim_size() || report.sent + report.dead == 0 {
                return Ok(total);
            }
        }
    }

    /// One claim of mails due by `due_by`, each delivered, until `stopping`. Returns how many
    /// were claimed.
    async fn pass(&self, due_by: Timestamp, stopping: &AtomicBool) -> Result<(usize, DeliveryReport), MailError> {
        self.store.check_fence()?;
        // Take the first token before claiming, so a claim never waits out its lease for it.
        if !self.wait_for_budget(stopping).await {
            return Ok((0, DeliveryReport::default()));
        }
        let now = Timestamp::now();
        let until = now.checked_add(self.config.claim_lease).unwrap_or(Timestamp::MAX);
        let claimed = {
            let mut conn = self.store.acquire().await?;
            outbox::claim(&mut conn, &self.claimant, due_by, now, until, self.config.claim_size()).await?
        };
        if claimed.is_empty() {
            self.give_back_budget();
            return Ok((0, DeliveryReport::default()));
        }
        let mut report = DeliveryReport::default();
        // With `mark_together`: the mails sent so far, recorded once the claim is done.
        let mut sent = self.config.mark_together.then(Vec::new);
        for (n, mail) in claimed.iter().enumerate() {
            let go = n == 0 || self.wait_for_budget(stopping).await;
            let window = lease_left(until, self.config.lease_margin());
            if !go || window < self.config.min_send_window() {
                self.release(&claimed[n..]).await;
                break;
            }
            let failed = match self.deliver(mail, window, sent.as_mut()).await {
                Ok(done) => {
                    report.add(done);
                    continue;
                }
                // Fenced before this mail went out (the fence is checked before each send): hand
                // it and the rest back, so the next leader need not wait for their lease.
                Err(e @ MailError::Store(StoreError::Fenced(_))) => {
                    self.release(&claimed[n..]).await;
                    e
                }
                Err(e) => {
                    self.release(&claimed[n + 1..]).await;
                    e
                }
            };
            // What went out before the failure is still recorded.
            if let Some(sent) = &sent
                && let Err(e) = self.record_together_within(sent, until).await
            {
                tracing::warn!(error = %e, "sent mails not recorded: they may go out again");
            }
            return Err(failed);
        }
        if let Some(sent) = &sent {
            self.record_together_within(sent, until).await?;
        }
        Ok((claimed.len(), report))
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

    fn give_back_budget(&self) {
        if let Ok(mut bucket) = self.bucket.lock() {
            bucket.give_back();
        }
    }

    /// Hand claimed mails back unsent; a failure only means they wait for their lease. Allowed
    /// while fenced: it clears only this sender's claims on mails it did not send, so another
    /// sender may send them sooner, never twice.
    async fn release(&self, mails: &[Mail]) {
        if mails.is_empty() {
            return;
        }
        let Ok(mut conn) = self.store.acquire().await else { return };
        for mail in mails {
            if let Err(e) = outbox::release(&mut conn, &mail.id, &self.claimant.sender).await {
                tracing::debug!(message_id = %mail.message_id, error = %e, "could not release a claim; it runs out by itself");
            }
        }
    }

    /// Deliver one claimed mail; the send may take at most `window`. A sent mail is recorded
    /// at once, or pushed onto `together` to be recorded with the rest of its claim.
    async fn deliver<'m>(
        &self,
        mail: &'m Mail,
        window: Duration,
        together: Option<&mut Vec<&'m Mail>>,
    ) -> Result<DeliveryReport, MailError> {
        if let Some(age) = self.too_old(mail, Timestamp::now()) {
            let last = mail.last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default();
            let error =
                format!("not delivered within {} of being queued ({age} ago){last}", human(self.config.max_age));
            return self.dead(mail, DeadReason::Expired, &error, Attempt::NotMade).await;
        }
        let message = match build_message(&self.sender, mail) {
            Ok(message) => message,
            Err(reason) => return self.dead(mail, DeadReason::Undeliverable, &reason, Attempt::Failed).await,
        };
        self.store.check_fence()?;
        failpoint("after-commit-before-send");
        let claim_ends = Instant::now() + window;
        let sent = match tokio::time::timeout(window, self.transport.send(&message)).await {
            Ok(result) => result,
            Err(_) => Err(SendFailure::Failed(format!(
                "{}: no answer within {window:?} (the claim's lease)",
                self.transport.describe()
            ))),
        };
        match sent {
            Ok(()) => {
                failpoint("after-send-before-mark");
                if let Some(together) = together {
                    together.push(mail);
                } else if self.record_sent_within(mail, claim_ends).await? {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(message_id = %mail.message_id, kind = %mail.kind, "mail sent");
                }
                Ok(DeliveryReport { sent: 1, ..Default::default() })
            }
            Err(failure) => self.failed(mail, &failure).await,
        }
    }

    /// A failed attempt: retry later, or give up on too many refusals or old age.
    async fn failed(&self, mail: &Mail, failure: &SendFailure) -> Result<DeliveryReport, MailError> {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        let (attempt, refusals) = match failure {
            SendFailure::Refused(_) => (Attempt::Refused, mail.refusals.saturating_add(1)),
            SendFailure::Failed(_) => (Attempt::Failed, mail.refusals),
        };
        let error = failure.message();
        self.store.check_fence()?;
        if attempt == Attempt::Refused && refusals >= i64::from(self.config.max_attempts) {
            return self.dead(mail, DeadReason::Refused, error, attempt).await;
        }
        let now = Timestamp::now();
        if self.too_old(mail, now).is_some() {
            let error = format!("not delivered within {} of being queued: {error}", human(self.config.max_age));
            return self.dead(mail, DeadReason::Expired, &error, attempt).await;
        }
        let attempts = u32::try_from(mail.attempts).unwrap_or(u32::MAX).saturating_add(1);
        let delay = crate::jitter::spread(backoff(self.config.base_backoff, self.config.max_backoff, attempts));
        let next = now.checked_add(delay).unwrap_or(Timestamp::MAX);
        let mut conn = self.store.acquire().await?;
        if outbox::mark_failed(&mut conn, &mail.id, &self.claimant.sender, attempt, error, next, now).await?.is_none() {
            tracing::warn!(message_id = %mail.message_id, "claim lost before the failure was recorded");
        }
        tracing::info!(message_id = %mail.message_id, attempts, refusals, retry_in = ?delay, %error, "mail delivery failed");
        Ok(DeliveryReport { retrying: 1, ..Default::default() })
    }

    async fn dead(
        &self,
        mail: &Mail,
        reason: DeadReason,
        error: &str,
        attempt: Attempt,
    ) -> Result<DeliveryReport, MailError> {
        self.store.check_fence()?;
        let mut conn = self.store.acquire().await?;
        let now = Timestamp::now();
        if outbox::mark_dead(&mut conn, &mail.id, &self.claimant.sender, reason, error, attempt, now).await?.is_none() {
            tracing::warn!(message_id = %mail.message_id, "claim lost before the mail was given up");
            return Ok(DeliveryReport::default());
        }
        self.stats.dead.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(message_id = %mail.message_id, kind = %mail.kind, %reason, %error, "mail given up");
        Ok(DeliveryReport { dead: 1, ..Default::default() })
    }

    /// How long ago `mail` was queued, when that is more than the maximum age.
    fn too_old(&self, mail: &Mail, now: Timestamp) -> Option<String> {
        let age = now.duration_since(mail.created_at);
        let max = jiff::SignedDuration::try_from(self.config.max_age).unwrap_or(jiff::SignedDuration::MAX);
        (age >= max).then(|| human(age.unsigned_abs()))
    }
}

/// `<origin>/<instance>#<random>`: unique per process, readable in the outbox.
fn sender_id(settings: &MailSettings, instance: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}/{instance}#{}", settings.origin, &random[..8])
}

/// How much of a claim lasting until `until` is left, minus `margin`.
fn lease_left(until: Timestamp, margin: Duration) -> Duration {
    let left = until.duration_since(Timestamp::now());
    left.unsigned_abs().checked_sub(margin).filter(|_| left.is_positive()).unwrap_or(Duration::ZERO)
}

/// `3d`, `12h`, `5m`, `90s`: the largest whole unit.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{}ms", d.as_millis()),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_holds_what_the_budget_sends_in_half_a_lease() {
        let config = |rate, lease, batch| DispatcherConfig {
            rate_per_minute: rate,
            claim_lease: Duration::from_secs(lease),
            batch,
            ..DispatcherConfig::default()
        };
        assert_eq!(config(600, 120, 100).claim_size(), 100, "10/s for 60 s, capped at a batch");
        assert_eq!(config(60, 120, 100).claim_size(), 60);
        assert_eq!(config(1, 120, 100).claim_size(), 1, "one a minute: one at a time");
        assert_eq!(config(1, 10, 100).claim_size(), 1, "never zero");
        assert_eq!(config(0, 120, 7).claim_size(), 7, "no budget: a batch");
        assert_eq!(config(0, 120, 0).claim_size(), 1);
    }

    #[test]
    fn ages_read_in_their_largest_whole_unit() {
        assert_eq!(human(Duration::from_secs(3 * 86_400)), "3d");
        assert_eq!(human(Duration::from_secs(7_200)), "2h");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(90)), "90s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn the_lease_left_never_goes_negative() {
        let soon = Timestamp::now().checked_add(Duration::from_secs(10)).expect("ts");
        let left = lease_left(soon, Duration::from_secs(1));
        assert!(left <= Duration::from_secs(9) && left > Duration::from_secs(8), "{left:?}");
        let past = Timestamp::now().checked_sub(Duration::from_secs(10)).expect("ts");
        assert_eq!(lease_left(past, Duration::ZERO), Duration::ZERO);
        assert_eq!(lease_left(soon, Duration::from_secs(60)), Duration::ZERO);
    }
}
