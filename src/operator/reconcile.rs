//! One reconcile of one object, for any [`Managed`] kind:
//!
//! ```text
//! object ─► annotations ─► paused? ───────────────► Synced=False/ReconcilePaused, generation not observed
//!              │
//!              ├─ deleting: core (deleting) ─► finished? remove finalizer : status "blocked", retry
//!              │               └─ database down + force-orphan annotation ─► remove finalizer
//!              └─ live: storable? ─► finalizer ─► core ─► Outcome ─► status (only if changed) + Event ─► resync
//! ```
//!
//! Errors become `Synced=False` conditions and a Warning Event, then [`error_policy`] backs off.

use std::sync::Arc;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use serde_json::json;
use tracing::{info, warn};

use super::context::{Context, FINALIZER, MANAGER};
use super::kinds::{Managed, Request};
use crate::core::status::KindStatus;
use crate::core::{CoreError, Event, Flags, Outcome};
use crate::store::Owner;

/// Why a reconcile could not finish; the error policy decides when to try again.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no {0}")]
    Incomplete(&'static str),
}

impl Error {
    /// A short static label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Core(e) => e.category(),
            Error::Kube(_) => "kubernetes",
            Error::Incomplete(_) => "incomplete_object",
        }
    }
}

fn key<K: Managed>(obj: &K) -> String {
    format!("{}/{}/{}", K::KIND.as_str(), obj.namespace().unwrap_or_default(), obj.name_any())
}

#[tracing::instrument(skip(obj, ctx), fields(reconcile_id = crate::logs::reconcile_id(), kind = K::KIND.as_str(), namespace = obj.namespace().unwrap_or_default(), name = obj.name_any()))]
pub async fn reconcile<K: Managed>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let kind = K::KIND.as_str();
    let in_flight = ctx.metrics.in_flight.get_or_create(&super::metrics::KindLabels { kind }).clone();
    in_flight.inc();
    let started = std::time::Instant::now();
    let result = reconcile_inner(obj.as_ref(), &ctx).await;
    in_flight.dec();
    ctx.metrics.observe(kind, started.elapsed(), result.as_ref().err().map(Error::category));
    if result.is_ok() {
        ctx.succeeded(&key(obj.as_ref()));
    }
    result
}

async fn reconcile_inner<K: Managed>(obj: &K, ctx: &Context) -> Result<Action, Error> {
    let namespace = obj.namespace().ok_or(Error::Incomplete("namespace"))?;
    let uid = obj.uid().ok_or(Error::Incomplete("uid"))?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let owner = Owner { cluster: ctx.cluster_id.clone(), namespace, name: obj.name_any(), uid };
    let deleting = obj.meta().deletion_timestamp.is_some();
    let now = Timestamp::now();
    let annotations = obj.annotations().iter().map(|(k, v)| (k.as_str(), v.as_str()));

    let flags = match Flags::from_annotations(annotations) {
        Ok(flags) => flags,
        // A bad annotation must not wedge deletion: delete as if there were none.
        Err(_) if deleting => Flags::default(),
        Err(e) => {
            report_error(&api, obj, ctx, &e, now).await?;
            return Ok(Action::await_change());
        }
    };

    if deleting {
        return delete(&api, obj, ctx, owner, flags, now).await;
    }
    if flags.paused {
        // Not reconciled: the generation observed stays the one the status had (kstatus then
        // shows an edit made while paused as in progress).
        let previous = obj.status().cloned().unwrap_or_default();
        write_status(&api, obj, K::Status::paused(&previous, now)).await?;
        return Ok(Action::await_change());
    }
    // Permanent, like a bad annotation: nothing is written until the object changes.
    if let Err(e) = crate::core::storable::check(obj) {
        report_error(&api, obj, ctx, &e, now).await?;
        return Ok(Action::await_change());
    }
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        let mut finalizers = obj.finalizers().to_vec();
        finalizers.push(FINALIZER.to_owned());
        patch_finalizers(&api, obj, finalizers).await?;
    }
    match obj.reconcile(ctx, Request { owner, deleting: false, flags, now }).await {
        Ok(mut outcome) => {
            if wrote(&outcome) {
                super::wake_mail(&ctx.mail_wake);
            }
            report(&api, obj, ctx, &mut outcome, now, true).await?;
            info!(%outcome, "reconciled");
            Ok(Action::requeue(next_look(&outcome, ctx.resync, now)))
        }
        Err(e) => {
            report_error(&api, obj, ctx, &e, now).await?;
            Err(e.into())
        }
    }
}

async fn delete<K: Managed>(
    api: &Api<K>,
    obj: &K,
    ctx: &Context,
    owner: Owner,
    flags: Flags,
    now: Timestamp,
) -> Result<Action, Error> {
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let force_orphan = flags.force_orphan;
    match obj.reconcile(ctx, Request { owner, deleting: true, flags, now }).await {
        Ok(outcome) if outcome.action.deletion_finished() => {
            if let Some(event) = outcome.event(false) {
                publish(ctx, obj, &event).await;
            }
            info!(%outcome, "deleted");
            release(api, obj).await?;
            Ok(Action::await_change())
        }
        Ok(mut outcome) => {
            report(api, obj, ctx, &mut outcome, now, false).await?;
            Ok(Action::requeue(ctx.blocked_retry))
        }
        Err(e) if force_orphan => {
            let note = format!("the database could not be reached ({}); the platform row is left as it is", e.chain());
            publish(ctx, obj, &Event { reason: "ForceOrphaned", note, warning: true }).await;
            warn!(error = %e.chain(), "force-orphaned");
            release(api, obj).await?;
            Ok(Action::await_change())
        }
        Err(e) => {
            report_error(api, obj, ctx, &e, now).await?;
            Err(e.into())
        }
    }
}

/// Drop our finalizer so the object can go.
async fn release<K: Managed>(api: &Api<K>, obj: &K) -> Result<(), Error> {
    let finalizers: Vec<String> = obj.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    patch_finalizers(api, obj, finalizers).await
}

/// Replace the finalizer list, failing if the object changed since it was read.
async fn patch_finalizers<K: Managed>(api: &Api<K>, obj: &K, finalizers: Vec<String>) -> Result<(), Error> {
    let patch = json!({ "metadata": { "resourceVersion": obj.resource_version(), "finalizers": finalizers } });
    match api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        // Already gone: nothing left to release.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Status (the core's, then what `enrich` adds) and Event for an outcome.
async fn report<K: Managed>(
    api: &Api<K>,
    obj: &K,
    ctx: &Context,
    outcome: &mut Outcome,
    now: Timestamp,
    live: bool,
) -> Result<(), Error> {
    let generation = obj.meta().generation;
    let previous = obj.status().cloned().unwrap_or_default();
    let mut status = K::Status::next(&previous, outcome, generation, now);
    if live && let Err(e) = obj.enrich(ctx, outcome, &mut status, now).await {
        report_error(api, obj, ctx, &e, now).await?;
        return Err(e.into());
    }
    let changed = status != previous;
    let spec_changed = previous.conditions().iter().all(|c| c.observed_generation != generation);
    if (changed || wrote(outcome))
        && let Some(event) = outcome.event(spec_changed)
    {
        publish(ctx, obj, &event).await;
    }
    write_status(api, obj, status).await
}

/// `Synced=False` (and `Ready` Unknown or False) for an error, with a Warning Event when that
/// is news.
async fn report_error<K: Managed>(
    api: &Api<K>,
    obj: &K,
    ctx: &Context,
    err: &CoreError,
    now: Timestamp,
) -> Result<(), Error> {
    let generation = obj.meta().generation;
    let previous = obj.status().cloned().unwrap_or_default();
    let status = K::Status::failed(&previous, &err.failure(), generation, now);
    warn!(error = %err.chain(), category = err.category(), "reconcile failed");
    if status != previous {
        publish(ctx, obj, &Event { reason: err.reason().as_str(), note: err.chain(), warning: true }).await;
    }
    write_status(api, obj, status).await
}

/// Server-side apply of the status, only when it differs from what the object shows.
async fn write_status<K: Managed>(api: &Api<K>, obj: &K, status: K::Status) -> Result<(), Error> {
    if obj.status() == Some(&status) {
        return Ok(());
    }
    let patch = json!({ "apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status });
    let params = PatchParams::apply(MANAGER).force();
    match api.patch_status(&obj.name_any(), &params, &Patch::Apply(&patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Events are best effort: a failure to record one is logged, never a failed reconcile.
async fn publish<K: Managed>(ctx: &Context, obj: &K, event: &Event) {
    let kube_event = KubeEvent {
        type_: if event.warning { EventType::Warning } else { EventType::Normal },
        reason: event.reason.to_owned(),
        note: Some(event.note.chars().take(1000).collect()),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&kube_event, &obj.object_ref(&())).await {
        warn!(error = %e, reason = event.reason, "could not record an Event");
    }
}

/// Back off per object: 1s, 2s, 4s … up to 5 minutes while failures repeat, each spread by a
/// tenth either way so objects that failed together (a database outage) do not retry together.
pub fn error_policy<K: Managed>(obj: Arc<K>, err: &Error, ctx: Arc<Context>) -> Action {
    let delay = crate::jitter::spread(ctx.backoff(&key(obj.as_ref())));
    warn!(kind = K::KIND.as_str(), namespace = obj.namespace(), name = obj.name_any(), category = err.category(), error = %err, retry_in = ?delay, "will retry");
    Action::requeue(delay)
}

/// The resync (jittered), or sooner when the outcome has a deadline (an invitation's expiry): the object
/// is looked at again right after it passes.
fn next_look(outcome: &Outcome, resync: std::time::Duration, now: Timestamp) -> std::time::Duration {
    let resync = crate::jitter::spread(resync);
    let Some(at) = outcome.requeue_at else { return resync };
    let until = at.duration_since(now);
    let until = std::time::Duration::try_from(until).unwrap_or_default() + std::time::Duration::from_millis(500);
    until.min(resync)
}

/// Outcomes that changed the platform: each is worth an Event even when status stays the same
/// (a drift correction leaves the status as it was).
fn wrote(outcome: &Outcome) -> bool {
    use crate::core::Action::*;
    matches!(outcome.action, Created | Updated | Adopted | Imported | Archived | Orphaned)
}
