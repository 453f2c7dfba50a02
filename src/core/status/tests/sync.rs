//! ProvisioningSync's status: counts, drift added up, what a failed run did not see kept,
//! and `OrdersExecuted`.

use crate::api::Reason;
use jiff::Timestamp;

use super::super::{KindStatus, ORDERS_EXECUTED};
use crate::api::{ConditionStatus, ProvisioningSyncStatus};

#[test]
fn a_sync_status_adds_up_drift_and_keeps_what_a_failed_run_did_not_see() {
    use crate::api::provisioning_sync::{AssetRef, SyncStatus};
    use crate::core::sync::SyncFacts;
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().expect("timestamp");
    let facts = SyncFacts {
        sync_status: SyncStatus::Synchronized,
        sync_id: Some("psync-1".to_owned()),
        external_id: Some("scim-1".to_owned()),
        user_count: Some(3),
        group_count: Some(2),
        drift_corrections: 2,
        last_sync_time: Some(now),
        assets: vec![AssetRef {
            order: "starter".to_owned(),
            asset_id: "asset-1".to_owned(),
            executed_at: now.to_string(),
            activated_at: None,
        }],
        reason: crate::core::sync::SyncReason::Synchronized,
        ..SyncFacts::new("a".repeat(64))
    };
    let status = ProvisioningSyncStatus { drift_corrections: Some(5), ..Default::default() };
    let synced = facts.clone().into_outcome(false, std::time::Duration::from_secs(60), now);
    let status = ProvisioningSyncStatus::next(&status, &synced, None, now);
    assert_eq!(status.sync_status, Some(SyncStatus::Synchronized));
    assert_eq!(
        (status.external_id.as_deref(), status.user_count, status.group_count),
        (Some("scim-1"), Some(3), Some(2))
    );
    assert_eq!(status.drift_corrections, Some(7));
    assert_eq!(status.last_sync_time.as_deref(), Some("2026-11-22T12:00:00Z"));
    assert_eq!(status.assets.len(), 1);
    let orders = |status: &ProvisioningSyncStatus| {
        let c = status.conditions.0.iter().find(|c| c.type_ == ORDERS_EXECUTED).expect("OrdersExecuted");
        (c.status, c.reason.clone(), c.message.clone())
    };
    assert_eq!(orders(&status), (ConditionStatus::True, "OrdersExecuted".into(), "1 assets created by orders".into()));
    let held = SyncFacts { order_hold: Some("order starter was executed for product \"a\"".into()), ..facts.clone() };
    let status_held = ProvisioningSyncStatus::next(
        &status,
        &held.into_outcome(false, std::time::Duration::from_secs(60), now),
        None,
        now,
    );
    assert_eq!(orders(&status_held).0, ConditionStatus::False);
    assert_eq!(orders(&status_held).1, "OrderImmutable");
    let waiting = SyncFacts { orders_pending: vec!["a".into(), "b".into()], ..facts.clone() };
    let status_waiting = ProvisioningSyncStatus::next(
        &ProvisioningSyncStatus::default(),
        &waiting.into_outcome(false, std::time::Duration::from_secs(60), now),
        None,
        now,
    );
    assert_eq!(
        orders(&status_waiting),
        (ConditionStatus::False, "OrdersPending".into(), "2 wait for the account to be synchronized: a, b".into())
    );
    let failed = SyncFacts {
        sync_status: SyncStatus::Error,
        external_id: None,
        user_count: None,
        group_count: None,
        drift_corrections: 0,
        assets: Vec::new(),
        reason: crate::core::sync::SyncReason::External { category: Reason::Unauthorized, transient: false },
        ..facts
    }
    .into_outcome(false, std::time::Duration::from_secs(60), now);
    let status = ProvisioningSyncStatus::next(&status, &failed, None, now);
    assert_eq!(status.sync_status, Some(SyncStatus::Error));
    assert_eq!((status.external_id.as_deref(), status.user_count), (Some("scim-1"), Some(3)));
    assert_eq!((status.drift_corrections, status.assets.len()), (Some(7), 1));
}

#[test]
fn a_blocked_or_finished_deletion_leaves_orders_executed_as_it_was() {
    use crate::core::sync::SyncFacts;
    use crate::core::{Action, Kind, Outcome};
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().expect("timestamp");
    let with = |facts: SyncFacts, action| Outcome {
        kind: Kind::ProvisioningSync,
        facts: crate::core::facts::KindFacts::Sync(Box::new(facts)),
        ..crate::core::fixtures::outcome(action, Reason::Available)
    };
    let ran = ProvisioningSyncStatus::next(
        &Default::default(),
        &with(SyncFacts::new(String::new()), Action::Created),
        Some(1),
        now,
    );
    let before = ran.conditions.0.iter().find(|c| c.type_ == ORDERS_EXECUTED).cloned();
    assert_eq!(before.as_ref().map(|c| c.status), Some(ConditionStatus::True));
    let pending = SyncFacts { orders_pending: vec!["a".into()], ..SyncFacts::new(String::new()) };
    let blocked = ProvisioningSyncStatus::next(&ran, &with(pending.clone(), Action::DeletionBlocked), Some(1), now);
    assert_eq!(blocked.conditions.0.iter().find(|c| c.type_ == ORDERS_EXECUTED).cloned(), before);
    let finished = SyncFacts { deletion_finished: true, ..pending };
    let gone = ProvisioningSyncStatus::next(&ran, &with(finished, Action::Archived), Some(1), now);
    assert_eq!(gone.conditions.0.iter().find(|c| c.type_ == ORDERS_EXECUTED).cloned(), before);
    assert_eq!(ran.credentials_hash, None, "no credentials hash: none shown");
    assert_eq!(ran.drift_corrections, Some(0), "counted from the first run on");
}
