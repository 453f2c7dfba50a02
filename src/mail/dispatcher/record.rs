//! Recording sent mails: `outbox::mark_sent` and the Message-ID on the invitation a mail
//! carries, one mail per transaction or a claim's sends in one ([`DispatcherConfig::mark_together`]).
//!
//! ```text
//! sent ─► tx { per mail: outbox::mark_sent (claim still held?) ─► invitations::mark_sent } ─► commit
//!           └─ the database unreachable: tried again while the claim lasts
//! ```
//!
//! [`DispatcherConfig::mark_together`]: super::DispatcherConfig::mark_together

use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::{Dispatcher, lease_left};
use crate::mail::MailError;
use crate::store::outbox::{self, Mail};
use crate::store::{Conn, StoreError, invitations};

impl Dispatcher {
    /// [`Dispatcher::record_sent`], tried again while the database is unreachable for as long as
    /// the claim lasts: the relay has the mail, so giving up here would have the next sender
    /// send it again once the claim runs out (a database restart used to duplicate mails).
    pub(super) async fn record_sent_within(&self, mail: &Mail, claim_ends: Instant) -> Result<bool, MailError> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.record_sent(mail).await {
                Err(MailError::Store(e)) if e.is_transient() && Instant::now() + delay < claim_ends => {
                    tracing::warn!(message_id = %mail.message_id, error = %e, retry_in = ?delay, "sent, but not yet recorded");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                result => return result,
            }
        }
    }

    /// The mail is sent: mark it, and record its Message-ID on the invitation it carries.
    /// `false` when the claim was lost meanwhile (another sender may send it again).
    async fn record_sent(&self, mail: &Mail) -> Result<bool, MailError> {
        let mut tx = self.store.begin().await?;
        if !self.mark_sent(&mut tx, mail, Timestamp::now()).await? {
            return Ok(false);
        }
        tx.commit().await.map_err(|source| StoreError::Query { what: "commit a sent mail".to_owned(), source })?;
        Ok(true)
    }

    /// Every mail of `sent` recorded in one transaction, tried again as
    /// [`Dispatcher::record_sent_within`] does while the claim (held until `until`) lasts.
    pub(super) async fn record_together_within(&self, sent: &[&Mail], until: Timestamp) -> Result<(), MailError> {
        if sent.is_empty() {
            return Ok(());
        }
        let claim_ends = Instant::now() + lease_left(until, Duration::ZERO);
        let mut delay = Duration::from_millis(100);
        loop {
            match self.record_together(sent).await {
                Err(MailError::Store(e)) if e.is_transient() && Instant::now() + delay < claim_ends => {
                    tracing::warn!(mails = sent.len(), error = %e, retry_in = ?delay, "sent, but not yet recorded");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                result => return result,
            }
        }
    }

    async fn record_together(&self, sent: &[&Mail]) -> Result<(), MailError> {
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        let mut marked = Vec::with_capacity(sent.len());
        for mail in sent {
            if self.mark_sent(&mut tx, mail, now).await? {
                marked.push(mail);
            }
        }
        let commit = tx.commit().await;
        commit.map_err(|source| StoreError::Query { what: "commit sent mails".to_owned(), source })?;
        self.stats.sent.fetch_add(marked.len() as u64, Ordering::Relaxed);
        for mail in marked {
            tracing::info!(message_id = %mail.message_id, kind = %mail.kind, "mail sent");
        }
        Ok(())
    }

    /// Mark `mail` sent on `conn` (a transaction); `false`, writing nothing, when the claim ran
    /// out first.
    async fn mark_sent(&self, conn: &mut Conn, mail: &Mail, now: Timestamp) -> Result<bool, MailError> {
        if outbox::mark_sent(conn, &mail.id, &self.claimant.sender, now).await?.is_none() {
            tracing::warn!(message_id = %mail.message_id, "sent, but the claim ran out first: it may go out again");
            return Ok(false);
        }
        if let Some(related) = mail.related.as_ref().filter(|r| r.table == invitations::TABLE) {
            if invitations::find(conn, &related.id).await?.is_some() {
                invitations::mark_sent(conn, &related.id, &mail.message_id, now).await?;
            } else {
                tracing::warn!(message_id = %mail.message_id, invitation = %related.id, "sent mail's invitation is gone");
            }
        }
        Ok(true)
    }
}
