//! ProvisioningSync in the operator: its credentials and CA from Secrets of its own namespace,
//! the core's reconcile, and the status it writes (`syncStatus`, counts, assets, drift, the
//! credentials hash and the `OrdersExecuted` condition).

use jiff::Timestamp;

use super::context::Context;
use super::kinds::{Managed, Request, merge_own, put_condition, status_accessors};
use crate::api::{Condition, ConditionStatus, DeletionPolicy, ProvisioningSync, ProvisioningSyncStatus};
use crate::core::sync::{self, DesiredSync};
use crate::core::{CoreError, Kind, Outcome};

/// `OrdersExecuted`: False while an executed order is edited (`OrderImmutable`) or
/// orders wait for the first successful sync (`OrdersPending`), True once every order ran.
fn orders_condition(facts: &sync::SyncFacts) -> (ConditionStatus, &'static str, String) {
    if let Some(hold) = &facts.order_hold {
        return (ConditionStatus::False, "OrderImmutable", hold.clone());
    }
    if !facts.orders_pending.is_empty() {
        let message = format!(
            "{} wait for the account to be synchronized: {}",
            facts.orders_pending.len(),
            facts.orders_pending.join(", ")
        );
        return (ConditionStatus::False, "OrdersPending", message);
    }
    (ConditionStatus::True, "OrdersExecuted", format!("{} assets created by orders", facts.assets.len()))
}

/// The Secret `spec.endpoint.credentialsSecretRef` with its type, `None` when it does not
/// exist (see [`sync::credentials`]).
async fn credentials_secret(
    ctx: &Context,
    sync: &ProvisioningSync,
    namespace: &str,
) -> Result<Option<sync::credentials::CredentialsSecret>, CoreError> {
    let name = sync.spec.endpoint.credentials_secret_ref.name.as_str();
    let read = super::secrets::read_typed(&ctx.client, namespace, name).await;
    read.map_err(|e| CoreError::Input { what: format!("Secret {name}"), reason: e.to_string() })
}

/// The condition a ProvisioningSync reports its orders on.
pub const ORDERS_EXECUTED: &str = "OrdersExecuted";

impl Managed for ProvisioningSync {
    type Status = ProvisioningSyncStatus;
    const KIND: Kind = Kind::ProvisioningSync;
    const OWN_CONDITIONS: &'static [&'static str] = &[ORDERS_EXECUTED];

    status_accessors!(ProvisioningSyncStatus);

    async fn reconcile(&self, ctx: &Context, req: Request) -> Result<Outcome, CoreError> {
        let Request { owner, deleting, flags, now } = req;
        let resync = sync::resync_interval(&self.spec);
        // Credentials and the CA are read from this object's own namespace only, and the
        // credentials only from a Secret that opted in.
        use sync::credentials::{from_secret, refusal, secret_missing};
        let secret = credentials_secret(ctx, self, &owner.namespace).await?;
        let refused = secret.as_ref().and_then(|s| refusal(&self.spec, &owner.namespace, s, resync, now));
        let (credentials, credentials_hash) = match (secret, refused) {
            (Some(secret), None) => from_secret(&self.spec, &secret, &ctx.credentials_key(now).await?)?,
            // Deletion goes on without them: an Orphan needs none, a Delete reports the error.
            _ if deleting => (crate::scim::Credentials::Bearer(String::new()), String::new()),
            (_, Some(refused)) => return Ok(refused),
            (None, None) => return Ok(secret_missing(&self.spec, &owner.namespace, resync, now)),
        };
        let ca_pem = match &self.spec.endpoint.ca_secret_ref {
            Some(ca) => super::secrets::read(&ctx.client, &owner.namespace, ca.name.as_str())
                .await
                .map_err(|e| CoreError::Input { what: format!("Secret {}", ca.name), reason: e.to_string() })?
                .and_then(|mut data| data.remove("ca.crt")),
            None => None,
        };
        let desired =
            DesiredSync { owner, spec: self.spec.clone(), deleting, flags, credentials, credentials_hash, ca_pem };
        let facts = sync::reconcile(&ctx.store, &ctx.scim_guards, &desired, &ctx.mail_settings, now).await?;
        Ok(facts.into_outcome(deleting, resync, now))
    }

    fn absorb(status: &mut ProvisioningSyncStatus, outcome: &Outcome, now: Timestamp) {
        let Some(facts) = outcome.provisioning.as_deref() else { return };
        if !facts.deletion_finished && outcome.action != crate::core::Action::DeletionBlocked {
            let orders = orders_condition(facts);
            put_condition(&mut status.conditions.0, ORDERS_EXECUTED, orders, status.observed_generation, now);
        }
        status.sync_status = Some(facts.sync_status);
        if facts.external_id.is_some() {
            status.external_id.clone_from(&facts.external_id);
        }
        if let Some(at) = facts.last_sync_time {
            status.last_sync_time = Some(at.to_string());
        }
        if facts.user_count.is_some() {
            status.user_count = facts.user_count;
        }
        if facts.group_count.is_some() {
            status.group_count = facts.group_count;
        }
        let corrected = i64::try_from(facts.drift_corrections).unwrap_or(i64::MAX);
        if corrected > 0 || status.drift_corrections.is_none() {
            status.drift_corrections = Some(status.drift_corrections.unwrap_or(0).saturating_add(corrected));
        }
        if !facts.credentials_hash.is_empty() {
            status.credentials_hash = Some(facts.credentials_hash.clone());
        }
        if facts.sync_id.is_some() && (facts.external_id.is_some() || !facts.assets.is_empty()) {
            status.assets.clone_from(&facts.assets);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut status = ProvisioningSyncStatus { drift_corrections: Some(5), ..Default::default() };
        let synced = facts.clone().into_outcome(false, std::time::Duration::from_secs(60), now);
        ProvisioningSync::absorb(&mut status, &synced, now);
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
        assert_eq!(
            orders(&status),
            (ConditionStatus::True, "OrdersExecuted".into(), "1 assets created by orders".into())
        );
        let held =
            SyncFacts { order_hold: Some("order starter was executed for product \"a\"".into()), ..facts.clone() };
        let mut status_held = status.clone();
        ProvisioningSync::absorb(
            &mut status_held,
            &held.into_outcome(false, std::time::Duration::from_secs(60), now),
            now,
        );
        assert_eq!(orders(&status_held).0, ConditionStatus::False);
        assert_eq!(orders(&status_held).1, "OrderImmutable");
        let waiting = SyncFacts { orders_pending: vec!["a".into(), "b".into()], ..facts.clone() };
        let mut status_waiting = ProvisioningSyncStatus::default();
        ProvisioningSync::absorb(
            &mut status_waiting,
            &waiting.into_outcome(false, std::time::Duration::from_secs(60), now),
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
            reason: crate::core::sync::SyncReason::External { category: "Unauthorized", transient: false },
            ..facts
        }
        .into_outcome(false, std::time::Duration::from_secs(60), now);
        ProvisioningSync::absorb(&mut status, &failed, now);
        assert_eq!(status.sync_status, Some(SyncStatus::Error));
        assert_eq!((status.external_id.as_deref(), status.user_count), (Some("scim-1"), Some(3)));
        assert_eq!((status.drift_corrections, status.assets.len()), (Some(7), 1));
    }
}
