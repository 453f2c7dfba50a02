//! One watch and one cache per kind, shared by every controller that reads or is triggered by
//! that kind (kube-runtime's `Controller::new` and `.watches` would each open their own watch
//! and deserialize every event again).
//!
//! ```text
//!  scope::reflected (one watch per namespace, merged) ─► strip managedFields ─► Store<K>
//!        │
//!        └─► fan-out ─► applied_if(key): the kind's own controller (appeared or changed)
//!                   ├─► touched(): another controller's trigger (appeared, changed or went)
//!                   └─► touched_if(key): the same, only when `key(obj)` changed
//! ```
//!
//! The fan-out sends `Arc`s through unbounded channels: the controllers drain their triggers
//! into their schedulers at once (which deduplicate), so nothing piles up.

use std::collections::HashMap;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::warn;

use super::FINALIZER;
use super::scope::{self, Scope};

/// What of an object, when changed, makes a subscriber look (see [`Informer::touched_if`]).
pub type TriggerKey<K> = fn(&K) -> Option<u64>;

/// The `kubectl apply` copy of the whole object, kept by the apiserver in an annotation; the
/// controllers never read it.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

struct Subscriber<K> {
    sender: mpsc::UnboundedSender<Arc<K>>,
    /// Deletions too, or only objects that appeared or changed.
    deletes: bool,
    key: Option<TriggerKey<K>>,
    /// The last key per (namespace, name).
    seen: HashMap<(Option<String>, String), u64>,
}

/// The shared watch and cache of kind `K`; hand out its streams, then [`Informer::run`] it.
pub struct Informer<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store: Store<K>,
    writer: Writer<K>,
    subscribers: Vec<Subscriber<K>>,
}

impl<K> Default for Informer<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    fn default() -> Self {
        let (store, writer) = reflector::store();
        Informer { store, writer, subscribers: Vec::new() }
    }
}

impl<K> Informer<K>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    /// The cache (ready once every watched namespace was listed).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    fn subscribe(&mut self, deletes: bool, key: Option<TriggerKey<K>>) -> impl Stream<Item = Arc<K>> + Send + use<K> {
        let (sender, receiver) = mpsc::unbounded();
        self.subscribers.push(Subscriber { sender, deletes, key, seen: HashMap::new() });
        receiver
    }

    /// Objects that appeared or changed, only when `key` of the object did: the kind's own
    /// controller (`Controller::for_shared_stream`), whose own status writes then trigger
    /// nothing.
    pub fn applied_if(&mut self, key: TriggerKey<K>) -> impl Stream<Item = Arc<K>> + Send + use<K> {
        self.subscribe(false, Some(key))
    }

    /// Objects that appeared, changed or went: another controller's trigger
    /// (`Controller::watches_shared_stream`).
    pub fn touched(&mut self) -> impl Stream<Item = Arc<K>> + Send + use<K> {
        self.subscribe(true, None)
    }

    /// Like [`Informer::touched`], only when `key` of the object changed, or it went.
    pub fn touched_if(&mut self, key: TriggerKey<K>) -> impl Stream<Item = Arc<K>> + Send + use<K> {
        self.subscribe(true, Some(key))
    }

    /// Watches the scope until the subscribers are gone (or forever), keeping the cache and
    /// feeding the subscribers.
    pub async fn run(self, client: Client, scope: Scope, wc: watcher::Config) {
        let Informer { store: _, writer, mut subscribers } = self;
        let events = scope::reflected_with(&client, &scope, &wc, writer, strip::<K>);
        futures::pin_mut!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Apply(obj) | Event::InitApply(obj)) => {
                    let obj = Arc::new(obj);
                    for s in &mut subscribers {
                        s.offer(&obj, false);
                    }
                }
                Ok(Event::Delete(obj)) => {
                    let obj = Arc::new(obj);
                    for s in &mut subscribers {
                        s.offer(&obj, true);
                    }
                }
                Ok(Event::Init | Event::InitDone) => {}
                Err(e) => {
                    warn!(kind = K::kind(&K::DynamicType::default()).as_ref(), error = %e, "watch failed; retrying")
                }
            }
            subscribers.retain(|s| !s.sender.is_closed());
        }
    }
}

impl<K: Resource> Subscriber<K> {
    fn offer(&mut self, obj: &Arc<K>, deleted: bool) {
        if deleted {
            if self.key.is_some() {
                self.seen.remove(&(obj.namespace(), obj.name_any()));
            }
            if self.deletes {
                let _ = self.sender.unbounded_send(obj.clone());
            }
            return;
        }
        if let Some(key) = self.key {
            let value = key(obj).unwrap_or_default();
            if self.seen.insert((obj.namespace(), obj.name_any()), value) == Some(value) {
                return;
            }
        }
        let _ = self.sender.unbounded_send(obj.clone());
    }
}

/// What the cache keeps of an object: not its managedFields nor kubectl's copy of it.
fn strip<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// A hash of what `parts` names, for a [`TriggerKey`].
pub fn hash_of(parts: impl std::hash::Hash) -> Option<u64> {
    use std::hash::Hasher;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    Some(hasher.finish())
}

/// Spec, labels, annotations, finalizers and deletion: what a controller acts on in its own
/// object (not its status, which it wrote itself). Our own finalizer counts only while the
/// object is deleted: adding it is a reconcile's first write, which must not bring the object
/// straight back for a second reconcile (that one often saw the cache before the status write
/// and wrote the status again). A live object whose finalizer someone removed gets it back at
/// its next resync.
pub fn own_changes<K: Resource>(obj: &K) -> Option<u64> {
    let meta = obj.meta();
    let deleting = meta.deletion_timestamp.is_some();
    let finalizers: Vec<&String> = meta.finalizers.iter().flatten().filter(|f| deleting || *f != FINALIZER).collect();
    hash_of((&meta.uid, meta.generation, &meta.labels, &meta.annotations, finalizers, deleting))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn cm(generation: i64, data: &str) -> Arc<ConfigMap> {
        Arc::new(ConfigMap {
            metadata: ObjectMeta {
                name: Some("x".into()),
                namespace: Some("a".into()),
                generation: Some(generation),
                ..Default::default()
            },
            data: Some([("k".to_owned(), data.to_owned())].into()),
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn a_keyed_subscriber_hears_only_changes_of_its_key_and_every_deletion() {
        let mut informer = Informer::<ConfigMap>::default();
        let keyed = informer.touched_if(own_changes::<ConfigMap>);
        let all = informer.touched();
        let applied = informer.applied_if(own_changes::<ConfigMap>);
        let mut subscribers = std::mem::take(&mut informer.subscribers);
        for (obj, deleted) in [(cm(1, "a"), false), (cm(1, "b"), false), (cm(2, "b"), false), (cm(2, "b"), true)] {
            for s in &mut subscribers {
                s.offer(&obj, deleted);
            }
        }
        drop(subscribers);
        assert_eq!(keyed.count().await, 3, "generation 1, generation 2, the deletion");
        assert_eq!(all.count().await, 4);
        assert_eq!(applied.count().await, 2, "no deletion");
    }

    #[test]
    fn our_finalizer_is_an_own_change_only_while_deleting() {
        let with = |finalizers: &[&str], deleting: bool| {
            let mut obj = (*cm(1, "a")).clone();
            obj.metadata.finalizers = Some(finalizers.iter().map(|f| (*f).to_owned()).collect());
            if deleting {
                obj.metadata.deletion_timestamp =
                    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH));
            }
            own_changes(&obj)
        };
        assert_eq!(with(&[], false), with(&[FINALIZER], false), "adding ours to a live object");
        assert_ne!(with(&[], false), with(&["example.com/other"], false), "another controller's");
        assert_ne!(with(&[FINALIZER], true), with(&[], true), "ours removed while deleting");
    }

    #[test]
    fn the_cache_keeps_neither_managed_fields_nor_kubectls_copy() {
        let mut obj = ConfigMap::default();
        obj.metadata.managed_fields = Some(vec![Default::default()]);
        obj.metadata.annotations = Some(
            [(LAST_APPLIED.to_owned(), "{…}".to_owned()), ("accountops.dev/paused".to_owned(), "true".to_owned())]
                .into(),
        );
        strip(&mut obj);
        assert!(obj.metadata.managed_fields.is_none());
        assert_eq!(
            obj.metadata.annotations.map(|a| a.into_keys().collect::<Vec<_>>()),
            Some(vec!["accountops.dev/paused".to_owned()])
        );
    }
}
