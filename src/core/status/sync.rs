//! A ProvisioningSync's status: `syncStatus`, external ID, counts, drift corrected so far, the
//! credentials hash, assets, and the `OrdersExecuted` condition. A run that did not see a
//! value (a failed push) keeps what the status had.

use jiff::Timestamp;

use super::{KindStatus, condition_accessors, put_condition};
use crate::api::{ConditionStatus, ProvisioningSyncStatus, Reason};
use crate::core::sync::SyncFacts;
use crate::core::{Action, Outcome};

/// The condition a ProvisioningSync reports its orders on.
pub const ORDERS_EXECUTED: &str = "OrdersExecuted";

/// `OrdersExecuted`: False while an executed order is edited (`OrderImmutable`) or
/// orders wait for the first successful sync (`OrdersPending`), True once every order ran.
fn orders_condition(facts: &SyncFacts) -> (ConditionStatus, Reason, String) {
    if let Some(hold) = &facts.order_hold {
        return (ConditionStatus::False, Reason::OrderImmutable, hold.clone());
    }
    if !facts.orders_pending.is_empty() {
        let message = format!(
            "{} wait for the account to be synchronized: {}",
            facts.orders_pending.len(),
            facts.orders_pending.join(", ")
        );
        return (ConditionStatus::False, Reason::OrdersPending, message);
    }
    (ConditionStatus::True, Reason::OrdersExecuted, format!("{} assets created by orders", facts.assets.len()))
}

impl KindStatus for ProvisioningSyncStatus {
    const OWN_CONDITIONS: &'static [&'static str] = &[ORDERS_EXECUTED];

    condition_accessors!();

    fn absorb(&mut self, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.facts.sync() else { return };
        if !facts.deletion_finished && outcome.action != Action::DeletionBlocked {
            let orders = orders_condition(facts);
            put_condition(&mut self.conditions, ORDERS_EXECUTED, orders, self.observed_generation, now);
        }
        self.sync_status = Some(facts.sync_status);
        if facts.external_id.is_some() {
            self.external_id.clone_from(&facts.external_id);
        }
        if let Some(at) = facts.last_sync_time {
            self.last_sync_time = Some(at.to_string());
        }
        if facts.user_count.is_some() {
            self.user_count = facts.user_count;
        }
        if facts.group_count.is_some() {
            self.group_count = facts.group_count;
        }
        let corrected = i64::try_from(facts.drift_corrections).unwrap_or(i64::MAX);
        if corrected > 0 || self.drift_corrections.is_none() {
            self.drift_corrections = Some(self.drift_corrections.unwrap_or(0).saturating_add(corrected));
        }
        if !facts.credentials_hash.is_empty() {
            self.credentials_hash = Some(facts.credentials_hash.clone());
        }
        if facts.sync_id.is_some() && (facts.external_id.is_some() || !facts.assets.is_empty()) {
            self.assets.clone_from(&facts.assets);
        }
    }
}
