//! The five controllers and what triggers each, over one shared watch and cache per kind
//! ([`Informer`]).
//!
//! ```text
//!  Informer<Account> ──┬─ own changes ─────────────► Account controller
//!                      ├─ readiness ───────────────► Organization, Membership controllers
//!                      └─ reconciled ──────────────► ProvisioningSync controller
//!  Informer<Organization> ─ own changes ───────────► Organization controller
//!                      ├─ counted, coalesced ──────► Account controller (its count)
//!                      ├─ readiness ───────────────► Membership, TenantLink controllers
//!                      └─ reconciled ──────────────► ProvisioningSync controller
//!  Informer<Membership> ─ own changes ─────────────► Membership controller
//!                      ├─ counted, coalesced ──────► Organization controller (its count)
//!                      └─ reconciled ──────────────► ProvisioningSync controller
//!  Informer<TenantLink>, Informer<ProvisioningSync>: likewise; Secrets (metadata only) and the
//!  database's changes (accepted invitations, delivered mail) trigger too.
//! ```
//!
//! Each trigger fires only when what its controller acts on changed: a controller's own status
//! write ("own changes" leaves status out), a member count or a condition's time ("readiness"
//! and "reconciled" leave them out) trigger nothing. Count updates an Account or Organization
//! gets from its children are coalesced ([`coalesce`]): a few at once, then at most one per
//! [`COALESCE`] while they keep coming.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::ResourceExt;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use tokio::time::Instant;
use tracing::info;

use super::health::Readiness;
use super::informer::{Informer, hash_of, own_changes};
use super::kinds::Managed;
use super::{CHANGE_POLL, Config, Context, census, changes, reconcile, scope, wait_for_crds};
use crate::api::{Account, Membership, Organization, ProvisioningSync, TenantLink};
use crate::core::status::KindStatus;

type SecretMeta = kube::core::PartialObjectMeta<k8s_openapi::api::core::v1::Secret>;

/// How often at most an Account's or Organization's count follows its children.
pub const COALESCE: Duration = Duration::from_secs(5);

/// The controllers; completes after SIGTERM/SIGINT once in-flight reconciles finish.
pub(super) async fn run(client: &kube::Client, config: &Config, ctx: Arc<Context>, readiness: Arc<Readiness>) {
    let scope = &config.scope;
    wait_for_crds(client, scope).await;
    let wc = watcher::Config::default().any_semantic();
    let settings = controller::Config::default().concurrency(config.concurrency.max(1));
    let mut accounts = Informer::<Account>::default();
    let mut orgs = Informer::<Organization>::default();
    let mut members = Informer::<Membership>::default();
    let mut links = Informer::<TenantLink>::default();
    let mut syncs = Informer::<ProvisioningSync>::default();
    count(&ctx, &accounts);
    count(&ctx, &orgs);
    count(&ctx, &members);
    count(&ctx, &links);
    count(&ctx, &syncs);

    let account_controller = Controller::for_shared_stream(accounts.applied_if(own_changes), accounts.store())
        .with_config(settings.clone())
        // An organization appearing, moving or going changes its account's count and may
        // unblock its deletion.
        .reconcile_on(coalesce(
            orgs.touched_if(counted_org).filter_map(|org| async move {
                org.namespace().map(|ns| ObjectRef::<Account>::new(org.spec.account_ref.name.as_str()).within(&ns))
            }),
            COALESCE,
        ))
        .shutdown_on_signal()
        .run(reconcile::reconcile::<Account>, reconcile::error_policy::<Account>, ctx.clone())
        .for_each(|result| async move { log_result("Account", result) });

    let (org_cache, providers, of_account) = (orgs.store(), orgs.store(), orgs.store());
    let organization_controller = Controller::for_shared_stream(orgs.applied_if(own_changes), orgs.store())
        .with_config(settings.clone())
        // A link redeeming a provider's code (or going) changes the provider's code and counts;
        // which provider is only known from the code, so every service provider of the namespace
        // is looked at again.
        .watches_shared_stream(links.touched(), move |link| {
            let ns = link.namespace();
            let ours = link.spec.organization_ref.name.as_str().to_owned();
            matching(&providers, |o| o.namespace() == ns && (o.spec.service_provider.is_some() || o.name_any() == ours))
        })
        // A membership appearing or going changes the member count and may unblock deletion.
        .reconcile_on(coalesce(
            members.touched_if(counted_member).filter_map(|m| async move {
                let ns = m.namespace()?;
                m.spec.organization_ref.as_ref().map(|r| ObjectRef::<Organization>::new(r.name.as_str()).within(&ns))
            }),
            COALESCE,
        ))
        // An account becoming ready (or changing) re-queues the organizations waiting on it.
        .watches_shared_stream(accounts.touched_if(readiness_of::<Account>), move |account| {
            let (ns, name) = (account.namespace(), account.name_any());
            matching(&of_account, |o| o.namespace() == ns && o.spec.account_ref.name.as_str() == name)
        })
        // A tenant in any namespace redeeming the provider's code or revoking its link changes
        // rows only; the provider's staff follow within seconds.
        .reconcile_on(changes::provider_changes(ctx.store.clone(), ctx.cluster_id.clone(), CHANGE_POLL))
        .shutdown_on_signal()
        .run(reconcile::reconcile::<Organization>, reconcile::error_policy::<Organization>, ctx.clone())
        .for_each(|result| async move { log_result("Organization", result) });

    let (links_of_org, links_of_secret) = (links.store(), links.store());
    let link_controller = Controller::for_shared_stream(links.applied_if(own_changes), links.store())
        .with_config(settings.clone())
        // Our organization becoming ready (or its roles changing) lets a link go on.
        .watches_shared_stream(orgs.touched_if(readiness_of::<Organization>), move |org| {
            let (ns, name) = (org.namespace(), org.name_any());
            matching(&links_of_org, |l| l.namespace() == ns && l.spec.organization_ref.name.as_str() == name)
        })
        // A code Secret appearing or changing re-queues the links that name it. Only metadata
        // is watched: the operator never caches Secret contents.
        .watches_stream(scope::touched::<SecretMeta>(client, scope, &wc), move |secret| {
            let (ns, name) = (secret.namespace(), secret.name_any());
            matching(&links_of_secret, |l| {
                l.namespace() == ns && l.spec.provider_code.as_ref().is_some_and(|p| p.secret_ref.name.as_str() == name)
            })
        })
        // A partner accepting or rejecting in the web app changes rows only.
        .reconcile_on(changes::tenant_link_changes(ctx.store.clone(), ctx.cluster_id.clone(), CHANGE_POLL))
        .shutdown_on_signal()
        .run(reconcile::reconcile::<TenantLink>, reconcile::error_policy::<TenantLink>, ctx.clone())
        .for_each(|result| async move { log_result("TenantLink", result) });

    let inputs = SyncInputs { syncs: &mut syncs, accounts: &mut accounts, orgs: &mut orgs, members: &mut members };
    let sync_controller = sync_controller(client, scope, &wc, settings.clone(), &ctx, inputs);

    let (members_of_org, members_of_account, orgs_of_member) = (members.store(), members.store(), orgs.store());
    let membership_controller = Controller::for_shared_stream(members.applied_if(own_changes), members.store())
        .with_config(settings)
        // Roles, groups or readiness of the organization decide whether a membership can go on
        // (not its member count).
        .watches_shared_stream(orgs.touched_if(readiness_of::<Organization>), move |org| {
            let (ns, name) = (org.namespace(), org.name_any());
            matching(&members_of_org, |m| {
                m.namespace() == ns && m.spec.organization_ref.as_ref().is_some_and(|r| r.name.as_str() == name)
            })
        })
        .watches_shared_stream(accounts.touched_if(readiness_of::<Account>), move |account| {
            let (ns, name) = (account.namespace(), account.name_any());
            matching(&members_of_account, |m| {
                m.namespace() == ns && m.spec.account_ref.as_ref().is_some_and(|r| r.name.as_str() == name)
            })
        })
        // Acceptance by the web app and mail delivery change rows only; see them within seconds.
        .reconcile_on(changes::membership_changes(ctx.store.clone(), ctx.cluster_id.clone(), CHANGE_POLL))
        .shutdown_on_signal()
        .run(
            move |m: Arc<Membership>, ctx: Arc<Context>| {
                let wait = organization_unseen(&orgs_of_member, &m);
                async move {
                    match wait {
                        // The organization's first reconcile triggers this one (readiness).
                        true => Ok(kube::runtime::controller::Action::requeue(crate::jitter::spread(ctx.resync))),
                        false => reconcile::reconcile::<Membership>(m, ctx).await,
                    }
                }
            },
            reconcile::error_policy::<Membership>,
            ctx,
        )
        .for_each(|result| async move { log_result("Membership", result) });

    let (account_cache, synced_orgs) = (accounts.store(), org_cache);
    let mark_synced = async move {
        if account_cache.wait_until_ready().await.is_ok() && synced_orgs.wait_until_ready().await.is_ok() {
            readiness.caches_synced.store(true, Ordering::SeqCst);
            info!("caches synced");
        }
    };
    let informers = futures::future::join5(
        accounts.run(client.clone(), scope.clone(), wc.clone()),
        orgs.run(client.clone(), scope.clone(), wc.clone()),
        members.run(client.clone(), scope.clone(), wc.clone()),
        links.run(client.clone(), scope.clone(), wc.clone()),
        syncs.run(client.clone(), scope.clone(), wc),
    );
    let controllers = async {
        futures::join!(
            account_controller,
            organization_controller,
            membership_controller,
            link_controller,
            sync_controller,
            mark_synced
        );
    };
    // The informers watch for as long as the controllers run.
    tokio::select! {
        () = controllers => {}
        _ = informers => {}
    }
}

/// The shared watches the ProvisioningSync controller is triggered by.
struct SyncInputs<'a> {
    syncs: &'a mut Informer<ProvisioningSync>,
    accounts: &'a mut Informer<Account>,
    orgs: &'a mut Informer<Organization>,
    members: &'a mut Informer<Membership>,
}

/// The ProvisioningSync controller: a sync is looked at again when its Account, any
/// Organization or Membership of its namespace, or its credentials Secret changes.
fn sync_controller(
    client: &kube::Client,
    scope: &scope::Scope,
    wc: &watcher::Config,
    settings: controller::Config,
    ctx: &Arc<Context>,
    inputs: SyncInputs<'_>,
) -> impl std::future::Future<Output = ()> + use<> {
    let SyncInputs { syncs, accounts, orgs, members } = inputs;
    // A sync's own status write (lastSyncTime moves every run) must not trigger it again:
    // only spec, annotations, finalizers and deletion do. Its resync interval does the rest.
    let controller = Controller::for_shared_stream(syncs.applied_if(sync_trigger), syncs.store()).with_config(settings);
    let (of_account, of_org, of_membership, of_secret) = (syncs.store(), syncs.store(), syncs.store(), syncs.store());
    let in_namespace = |cache: &Store<ProvisioningSync>, ns: Option<String>| matching(cache, |s| s.namespace() == ns);
    controller
        .watches_shared_stream(accounts.touched_if(reconciled::<Account>), move |account| {
            let (ns, name) = (account.namespace(), account.name_any());
            matching(&of_account, |s| s.namespace() == ns && s.spec.account_ref.name.as_str() == name)
        })
        // Organizations and memberships are the groups and users pushed; which account they
        // belong to is only known from the database, so every sync of the namespace looks again,
        // but only once the change reached the database (see `reconciled`), not for every
        // status write (a member count, a condition's time), so SCIM is not asked for nothing.
        .watches_shared_stream(orgs.touched_if(reconciled::<Organization>), move |org| {
            in_namespace(&of_org, org.namespace())
        })
        .watches_shared_stream(members.touched_if(reconciled::<Membership>), move |m| {
            in_namespace(&of_membership, m.namespace())
        })
        // A rotated credentials Secret re-queues the syncs that name it (metadata only).
        .watches_stream(scope::touched::<SecretMeta>(client, scope, wc), move |secret| {
            let (ns, name) = (secret.namespace(), secret.name_any());
            matching(&of_secret, |s| {
                s.namespace() == ns && s.spec.endpoint.credentials_secret_ref.name.as_str() == name
            })
        })
        // An asset activated by the portal shows in status within seconds.
        .reconcile_on(changes::sync_changes(ctx.store.clone(), ctx.cluster_id.clone(), CHANGE_POLL))
        .shutdown_on_signal()
        .run(reconcile::reconcile::<ProvisioningSync>, reconcile::error_policy::<ProvisioningSync>, ctx.clone())
        .for_each(|result| async move { log_result("ProvisioningSync", result) })
}

/// Whether `m` (live) names an Organization that is cached but was never reconciled: in a
/// bulk start every Membership would otherwise write "organization not ready" first and its
/// real status a moment later. Once the organization's first reconcile is recorded (ready or
/// not, with the reason) the membership goes on and reports whatever applies.
fn organization_unseen(orgs: &Store<Organization>, m: &Membership) -> bool {
    if m.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let (Some(ns), Some(org)) = (m.namespace(), m.spec.organization_ref.as_ref()) else { return false };
    orgs.get(&ObjectRef::new(org.name.as_str()).within(&ns)).is_some_and(|o| {
        o.metadata.deletion_timestamp.is_none() && o.status.as_ref().and_then(|s| s.observed_generation).is_none()
    })
}

/// The cached objects `keep` selects, as references to reconcile.
fn matching<K: Managed>(cache: &Store<K>, keep: impl Fn(&K) -> bool) -> Vec<ObjectRef<K>> {
    cache.state().into_iter().filter(|o| keep(o)).map(|o| ObjectRef::from_obj(o.as_ref())).collect()
}

/// Changes when the object's reconciler wrote something to the database: a generation it
/// observed, a deletion started, our finalizer removed (deletion done). Status writes that only
/// move counts or condition times do not change it, nor does the finalizer being added (before
/// anything is written).
pub(super) fn reconciled<K: Managed>(obj: &K) -> Option<u64> {
    let meta = obj.meta();
    let deleting = meta.deletion_timestamp.is_some();
    hash_of((&meta.uid, obj.status().and_then(KindStatus::observed_generation), deleting, deleting && finalizing(meta)))
}

/// Our finalizer is on the object (it still holds the object's deletion).
fn finalizing(meta: &kube::api::ObjectMeta) -> bool {
    meta.finalizers.as_ref().is_some_and(|f| f.iter().any(|f| f == super::FINALIZER))
}

/// What a parent's count of `obj` follows: its row appearing (the platform ID in status),
/// moving (a later observed generation), a deletion starting and finishing (our finalizer
/// gone); not the finalizer being added, nor other status writes.
fn counted<K: Managed>(obj: &K, id: Option<&str>) -> Option<u64> {
    let meta = obj.meta();
    let deleting = meta.deletion_timestamp.is_some();
    let finalizing = deleting && finalizing(meta);
    // Before the row exists an observed generation says only "waiting": not counted.
    let observed = id.and(obj.status().and_then(KindStatus::observed_generation));
    hash_of((&meta.uid, id, observed, deleting, finalizing))
}

fn counted_org(org: &Organization) -> Option<u64> {
    counted(org, org.status.as_ref().and_then(|s| s.organization_id.as_deref()))
}

fn counted_member(m: &Membership) -> Option<u64> {
    counted(m, m.status.as_ref().and_then(|s| s.membership_id.as_deref()))
}

/// What an object waiting on `obj` acts on: [`reconciled`], its spec (generation) and whether it
/// is Ready (status and reason), not its counts or a condition's time.
pub(super) fn readiness_of<K: Managed>(obj: &K) -> Option<u64> {
    let ready = obj.status().and_then(|s| {
        s.conditions().iter().find(|c| c.type_ == "Ready").map(|c| (format!("{:?}", c.status), c.reason.clone()))
    });
    hash_of((reconciled(obj), obj.meta().generation, ready))
}

/// What of a ProvisioningSync, when changed, calls for a reconcile (not its status).
fn sync_trigger(sync: &ProvisioningSync) -> Option<u64> {
    let meta = &sync.metadata;
    hash_of((&meta.uid, meta.generation, &meta.annotations, &meta.finalizers, meta.deletion_timestamp.is_some()))
}

/// The kind's object gauges and queue depth, counted from its cache at each scrape.
fn count<K: Managed>(ctx: &Context, informer: &Informer<K>) {
    let cache = informer.store();
    ctx.metrics.track_kind(K::KIND.as_str(), Box::new(move || census::take(&cache)));
}

/// Items of one key that pass at once within a [`coalesce`] window; more wait for its end.
const BURST: u32 = 6;

/// `input` with repeats thinned out: the first [`BURST`] of an item within `window` pass at
/// once (a handful of children changing is seen as before); further ones pass once, when the
/// window ends, and that pass opens the next window with its burst used up, so an item that
/// keeps repeating (a bulk start: every child of an Organization appearing) passes once per
/// window, not a burst per window.
pub fn coalesce<T>(input: impl Stream<Item = T> + Send + 'static, window: Duration) -> impl Stream<Item = T> + Send
where
    T: Eq + Hash + Clone + Send + 'static,
{
    let (tx, rx) = futures::channel::mpsc::unbounded();
    tokio::spawn(async move {
        let input = input.fuse();
        futures::pin_mut!(input);
        // Per item: when its window started and how many passed in it.
        let mut windows: HashMap<T, (Instant, u32)> = HashMap::new();
        let mut pending: HashSet<T> = HashSet::new();
        let mut tick = tokio::time::interval(window / 4);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                item = input.next() => {
                    let Some(item) = item else {
                        for item in pending.drain() {
                            let _ = tx.unbounded_send(item);
                        }
                        return;
                    };
                    let now = Instant::now();
                    let entry = windows.entry(item.clone()).or_insert((now, 0));
                    if now.duration_since(entry.0) >= window {
                        // A waiting repeat passes as at the window's end; a quiet item starts afresh.
                        *entry = if pending.remove(&item) { (now, BURST - 1) } else { (now, 0) };
                    }
                    if entry.1 < BURST {
                        entry.1 += 1;
                        pending.remove(&item);
                        if tx.unbounded_send(item).is_err() {
                            return;
                        }
                    } else {
                        pending.insert(item);
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let due: Vec<T> = pending
                        .iter()
                        .filter(|p| windows.get(*p).is_none_or(|(at, _)| now.duration_since(*at) >= window))
                        .cloned()
                        .collect();
                    for item in due {
                        pending.remove(&item);
                        windows.insert(item.clone(), (now, BURST));
                        if tx.unbounded_send(item).is_err() {
                            return;
                        }
                    }
                    windows.retain(|item, (at, _)| pending.contains(item) || now.duration_since(*at) < window);
                }
            }
        }
    });
    rx
}

fn log_result<T: std::fmt::Debug, E: std::fmt::Display>(kind: &str, result: Result<T, E>) {
    if let Err(e) = result {
        // Reconcile errors are already logged with their object; these are queue-level.
        tracing::debug!(kind, error = %e, "controller event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn repeats_beyond_the_burst_pass_once_when_the_window_ends() {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let mut out = Box::pin(coalesce(rx, Duration::from_millis(400)));
        for item in ["org-b"].into_iter().chain(std::iter::repeat_n("org-a", 10)) {
            tx.unbounded_send(item).expect("send");
        }
        assert_eq!(out.next().await, Some("org-b"));
        for _ in 0..BURST {
            assert_eq!(out.next().await, Some("org-a"), "the burst passes at once");
        }
        let started = Instant::now();
        assert_eq!(out.next().await, Some("org-a"), "the rest, once");
        assert!(started.elapsed() >= Duration::from_millis(200), "at the end of the window");
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx.unbounded_send("org-a").expect("send");
        assert_eq!(out.next().await, Some("org-a"), "after a quiet window: at once");
        drop(tx);
        assert_eq!(out.next().await, None);
    }

    #[tokio::test]
    async fn an_item_that_keeps_repeating_passes_once_per_window() {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let mut out = Box::pin(coalesce(rx, Duration::from_millis(400)));
        for _ in 0..=BURST {
            tx.unbounded_send("org-a").expect("send");
        }
        for _ in 0..BURST {
            assert_eq!(out.next().await, Some("org-a"), "the burst passes at once");
        }
        assert_eq!(out.next().await, Some("org-a"), "the repeat, at the end of the window");
        let started = Instant::now();
        for _ in 0..3 {
            tx.unbounded_send("org-a").expect("send");
        }
        assert_eq!(out.next().await, Some("org-a"), "the next repeats, once");
        assert!(started.elapsed() >= Duration::from_millis(200), "at the end of the next window: no second burst");
        drop(tx);
        assert_eq!(out.next().await, None, "they passed as one");
    }

    #[test]
    fn readiness_ignores_counts_but_not_the_ready_condition() {
        use crate::api::{Condition, ConditionStatus, OrganizationStatus};
        let spec: crate::api::OrganizationSpec =
            serde_yaml::from_str("accountRef: {name: acme}\ndisplayName: Eng\n").expect("spec");
        let org = |members: i32, ready: ConditionStatus| {
            let mut o = Organization::new("eng", spec.clone());
            o.metadata.generation = Some(1);
            let condition = Condition {
                type_: "Ready".into(),
                status: ready,
                reason: "Available".into(),
                message: String::new(),
                last_transition_time: "2026-01-01T00:00:00Z".into(),
                observed_generation: Some(1),
            };
            o.status = Some(OrganizationStatus {
                observed_generation: Some(1),
                member_count: Some(members),
                conditions: crate::api::Conditions(vec![condition]),
                ..Default::default()
            });
            o
        };
        let base = readiness_of(&org(1, ConditionStatus::True));
        assert_eq!(readiness_of(&org(7, ConditionStatus::True)), base, "a member count");
        assert_ne!(readiness_of(&org(1, ConditionStatus::False)), base, "readiness");
    }
}
