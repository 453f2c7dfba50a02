//! A sync's database writes, in the caller's one transaction, after the external step: the
//! record (created, taken over, revived, released or archived), what the push wrote and how it
//! ended, and the orders (an asset and a welcome mail each) once the account is synchronized.
//!
//! ```text
//! Create / Continue ─► the record ─► Pushed: record_pushed (if it changed), record_sync
//!                                    └► synchronized (or `plan`: assumed) ─► orders::execute
//! Release ─► released │ Archive ─► deprovisioning failed on a synchronized record: Error
//!                                   recorded, record kept │ otherwise archived and released
//! ```

use super::DesiredSync;
use super::external::Answer;
use super::orders::{self, WelcomeContext};
use super::plan::{Push, SyncPlan};
use super::record::Record;
use crate::core::error::CoreError;
use crate::mail::MailSettings;
use crate::store::Conn;
use crate::store::assets::{self, Asset};
use crate::store::ownership::{self, ManagedTable};
use crate::store::syncs::{self, NewProvisioningSync, ProvisioningSync, SyncResult};
use jiff::Timestamp;

/// What the writes left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The record after the writes; `None` once it is released or archived.
    pub row: Option<ProvisioningSync>,
    /// The record was inserted now.
    pub created: bool,
    /// The orders ran: the account is known to the external system (or, in `plan`, assumed
    /// to be once pushed).
    pub orders_ran: bool,
    /// The assets the orders created now.
    pub executed: Vec<Asset>,
    /// Every asset of the record, once the orders ran.
    pub assets: Vec<Asset>,
}

/// Carry out `planned` with `answer` (`None`: the external step was skipped) on `conn`.
pub async fn write(
    conn: &mut Conn,
    desired: &DesiredSync,
    mail: &MailSettings,
    planned: &SyncPlan,
    answer: Option<&Answer>,
    now: Timestamp,
) -> Result<Written, CoreError> {
    let me = &desired.owner;
    let table = ManagedTable::ProvisioningSyncs;
    let mut written = Written::default();
    let row = match &planned.record {
        Record::Create { account_id, release } => {
            if let Some(id) = release {
                tracing::info!(sync = %id, "the record is not continued; starting a new one");
                ownership::release(conn, table, id, now).await?;
            }
            let endpoint = desired.spec.endpoint.url.clone();
            let new = NewProvisioningSync { account_id: account_id.clone(), endpoint, owner: Some(me.clone()) };
            written.created = true;
            syncs::insert(conn, &new, now).await?
        }
        Record::Continue { id, take, revive, endpoint } => {
            if *revive {
                syncs::unarchive(conn, id, now).await?;
            }
            if *take {
                let how = ownership::adopt(conn, table, id, me, now).await?;
                tracing::info!(sync = %id, ?how, "sync record taken over");
            }
            match endpoint {
                Some(url) => syncs::update_endpoint(conn, id, url, now).await?,
                None => syncs::get(conn, id).await?,
            }
        }
        Record::Release { id } => {
            // Released, so a re-created object starts afresh unless it asks to adopt the record.
            ownership::release(conn, table, id, now).await?;
            return Ok(written);
        }
        Record::Archive { id, synchronized } => {
            if let Some(Answer::Deprovisioned(Err(e))) = answer {
                let (category, error) = (e.category(), e.to_string());
                if *synchronized {
                    tracing::warn!(sync = %id, %category, %error, "deprovisioning failed");
                    let recorded = syncs::record_sync(conn, id, &SyncResult::Failed { error }, now).await?;
                    written.row = Some(recorded);
                    return Ok(written);
                }
                // Never synchronized: whatever a failed first run pushed is not worth blocking on.
                tracing::warn!(sync = %id, %category, %error, "deprovisioning skipped");
            }
            if let Some(Answer::Deprovisioned(Ok(users))) = answer {
                tracing::info!(sync = %id, users, "synced users deprovisioned before archiving the sync");
            }
            // Archived and released in one go: a re-created object of the same name makes a new
            // record (or, with accountops.dev/adopt, revives this one).
            syncs::retire(conn, id, now).await?;
            return Ok(written);
        }
        Record::Observe { .. } | Record::Gone { .. } | Record::Hold(_) => return Ok(written),
    };
    let (row, synchronized) = match (answer, &planned.push) {
        (Some(Answer::Pushed { record, result }), Push::Write(input)) => {
            // Whatever was written, even by a push that failed half-way, is recorded.
            if input.before.as_ref() != Some(record) {
                syncs::record_pushed(conn, &row.id, &record.to_json(), now).await?;
            }
            let result = match result {
                Ok(p) => SyncResult::Synchronized { external_id: p.external_id.clone() },
                Err(e) => {
                    tracing::warn!(sync = %row.id, category = %e.category(), error = %e, "SCIM sync failed");
                    SyncResult::Failed { error: e.to_string() }
                }
            };
            let recorded = syncs::record_sync(conn, &row.id, &result, now).await?;
            let synchronized = recorded.external_id.is_some();
            (recorded, synchronized)
        }
        // `plan`: what apply does once the push succeeds.
        (None, _) => (row, true),
        (Some(_), _) => {
            let synchronized = row.external_id.is_some();
            (row, synchronized)
        }
    };
    // Orders run once the account is known to the external system.
    if synchronized {
        let account_name = match &planned.push {
            Push::Write(input) => input.dir.account_name(),
            Push::Observe(_) | Push::Deprovision(_) | Push::None => "",
        };
        let welcome = WelcomeContext { portal_url: &desired.spec.portal_url, account_name };
        let created = orders::execute(conn, &row.id, &planned.orders, welcome, mail, now).await?;
        written.executed = created;
        written.assets = assets::list_by_sync(conn, &row.id).await?;
    }
    written.orders_ran = synchronized;
    written.row = Some(row);
    Ok(written)
}
