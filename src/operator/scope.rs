//! The namespaces the operator watches (`--namespace a,b`; none: all) and the watch streams
//! over them: one watch per namespace per kind, merged into one stream.
//!
//! ```text
//!  watcher(ns a) ─┐                 first lists held back until every namespace listed,
//!  watcher(ns b) ─┴─► select_all ─► merge ─► one Init … InitDone, then live events ─► reflector
//!                     (tagged)       │
//!                                    └─ a later re-list of one namespace: applies, and deletes
//!                                       of that namespace's cached objects it no longer lists
//! ```
//!
//! kube's reflector swaps in a whole new store at every `InitDone`, so two namespace watchers
//! cannot feed one store directly (the second list would drop the first namespace's objects).
//! [`merge`] turns the per-namespace lists into one list for the store. Streams that only
//! trigger reconciles (no store) are merged with a plain `select_all` ([`touched`]).

use std::collections::{HashMap, HashSet};

use futures::stream::{BoxStream, Stream, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use kube::api::Api;
use kube::runtime::reflector::{Store, store::Writer};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// The namespaces to watch; empty means every namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    namespaces: Vec<String>,
}

impl Scope {
    /// The listed namespaces, trimmed, without empty entries or repeats (order kept).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(namespaces: I) -> Scope {
        let mut seen = HashSet::new();
        let namespaces = namespaces
            .into_iter()
            .map(|n| n.as_ref().trim().to_owned())
            .filter(|n| !n.is_empty() && seen.insert(n.clone()))
            .collect();
        Scope { namespaces }
    }

    /// Every namespace.
    pub fn all() -> Scope {
        Scope::default()
    }

    /// The watched namespaces; empty when all are.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// For logs: `(all)` or `a,b`.
    pub fn describe(&self) -> String {
        if self.namespaces.is_empty() { "(all)".to_owned() } else { self.namespaces.join(",") }
    }

    /// One `Api` per watched namespace, or one over all namespaces.
    pub fn apis<K>(&self, client: &Client) -> Vec<Api<K>>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        if self.namespaces.is_empty() {
            vec![Api::all(client.clone())]
        } else {
            self.namespaces.iter().map(|ns| Api::namespaced(client.clone(), ns)).collect()
        }
    }
}

type EventStream<K> = BoxStream<'static, Result<Event<K>, watcher::Error>>;

fn watchers<K>(client: &Client, scope: &Scope, wc: &watcher::Config) -> Vec<EventStream<K>>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    watchers_with(client, scope, wc, |_| {})
}

/// One watch per namespace, `modify` applied to every object as it arrives.
fn watchers_with<K>(client: &Client, scope: &Scope, wc: &watcher::Config, modify: fn(&mut K)) -> Vec<EventStream<K>>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    scope
        .apis::<K>(client)
        .into_iter()
        .map(|api| watcher::watcher(api, wc.clone()).default_backoff().modify(modify).boxed())
        .collect()
}

/// The objects of kind `K` that appeared, changed or went, in every watched namespace: for
/// `Controller::watches_stream` (no store).
pub fn touched<K>(
    client: &Client,
    scope: &Scope,
    wc: &watcher::Config,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + use<K>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    futures::stream::select_all(watchers::<K>(client, scope, wc)).touched_objects()
}

/// The watch events of kind `K` in every watched namespace, applied to `writer`'s store as
/// they pass (the stream a controller and its store are built from).
pub fn reflected<K>(
    client: &Client,
    scope: &Scope,
    wc: &watcher::Config,
    writer: Writer<K>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + use<K>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    reflected_with(client, scope, wc, writer, |_| {})
}

/// Like [`reflected`], `modify` applied to every object before it is cached (e.g. to drop
/// what the controllers never read).
pub fn reflected_with<K>(
    client: &Client,
    scope: &Scope,
    wc: &watcher::Config,
    writer: Writer<K>,
    modify: fn(&mut K),
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + use<K>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let mut streams = watchers_with::<K>(client, scope, wc, modify);
    let events = if streams.len() == 1 { streams.remove(0) } else { merge(streams, writer.as_reader()).boxed() };
    reflector(writer, events)
}

/// One stream of events for one store out of one watch per namespace (see the module doc).
/// `cache` is the store the merged events are applied to, read when a namespace re-lists.
pub fn merge<K>(streams: Vec<EventStream<K>>, cache: Store<K>) -> impl Stream<Item = Result<Event<K>, watcher::Error>>
where
    K: Resource + Clone + Send + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let count = streams.len();
    let tagged = futures::stream::select_all(
        streams.into_iter().enumerate().map(|(index, stream)| stream.map(move |event| (index, event))),
    );
    let mut merger = Merger::new(count, cache);
    tagged.flat_map(move |(index, event)| futures::stream::iter(merger.step(index, event)))
}

/// The state of [`merge`]: first the lists of every namespace, then live events.
struct Merger<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    phase: Phase<K>,
    /// Per stream, the names a re-list (after the first) has shown so far.
    relisting: Vec<Option<HashSet<String>>>,
    /// The namespace of each stream, learned from its objects.
    namespaces: Vec<Option<String>>,
    cache: Store<K>,
}

enum Phase<K> {
    /// Per stream: its objects by name, and whether its list is complete.
    Listing(Vec<(HashMap<String, K>, bool)>),
    Live,
}

impl<K> Merger<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    fn new(count: usize, cache: Store<K>) -> Self {
        Merger {
            phase: Phase::Listing((0..count).map(|_| (HashMap::new(), false)).collect()),
            relisting: vec![None; count],
            namespaces: vec![None; count],
            cache,
        }
    }

    fn step(&mut self, index: usize, event: Result<Event<K>, watcher::Error>) -> Vec<Result<Event<K>, watcher::Error>> {
        let event = match event {
            Ok(event) => event,
            Err(e) => return vec![Err(e)],
        };
        if let Event::Apply(obj) | Event::InitApply(obj) | Event::Delete(obj) = &event
            && let Some(slot) = self.namespaces.get_mut(index)
            && slot.is_none()
        {
            *slot = obj.namespace();
        }
        match &mut self.phase {
            Phase::Listing(lists) => {
                let Some((objects, done)) = lists.get_mut(index) else { return Vec::new() };
                match event {
                    // A namespace listing again before the others finished starts over.
                    Event::Init => {
                        objects.clear();
                        *done = false;
                    }
                    Event::InitApply(obj) | Event::Apply(obj) => {
                        objects.insert(obj.name_any(), obj);
                    }
                    Event::Delete(obj) => {
                        objects.remove(&obj.name_any());
                    }
                    Event::InitDone => *done = true,
                }
                if !lists.iter().all(|(_, done)| *done) {
                    return Vec::new();
                }
                let listed = std::mem::take(lists);
                self.phase = Phase::Live;
                let mut out = vec![Ok(Event::Init)];
                out.extend(
                    listed.into_iter().flat_map(|(objects, _)| objects.into_values().map(|o| Ok(Event::InitApply(o)))),
                );
                out.push(Ok(Event::InitDone));
                out
            }
            Phase::Live => match event {
                Event::Apply(obj) => vec![Ok(Event::Apply(obj))],
                Event::Delete(obj) => vec![Ok(Event::Delete(obj))],
                Event::Init => {
                    if let Some(slot) = self.relisting.get_mut(index) {
                        *slot = Some(HashSet::new());
                    }
                    Vec::new()
                }
                Event::InitApply(obj) => {
                    if let Some(Some(seen)) = self.relisting.get_mut(index) {
                        seen.insert(obj.name_any());
                    }
                    vec![Ok(Event::Apply(obj))]
                }
                Event::InitDone => {
                    let seen = self.relisting.get_mut(index).and_then(Option::take).unwrap_or_default();
                    let Some(namespace) = self.namespaces.get(index).cloned().flatten() else { return Vec::new() };
                    self.cache
                        .state()
                        .into_iter()
                        .filter(|o| {
                            o.namespace().as_deref() == Some(namespace.as_str()) && !seen.contains(&o.name_any())
                        })
                        .map(|o| Ok(Event::Delete(o.as_ref().clone())))
                        .collect()
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn cm(ns: &str, name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some(ns.into()), ..Default::default() },
            ..Default::default()
        }
    }

    fn names(store: &Store<ConfigMap>) -> Vec<String> {
        let mut names: Vec<String> =
            store.state().iter().map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())).collect();
        names.sort();
        names
    }

    /// Feeds `events` (stream index, event) through a merger into a store, one by one.
    fn run(events: Vec<(usize, Event<ConfigMap>)>) -> (Store<ConfigMap>, Vec<&'static str>) {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let mut merger = Merger::new(2, store.clone());
        let mut kinds = Vec::new();
        for (index, event) in events {
            for out in merger.step(index, Ok(event)) {
                let out = out.expect("no errors");
                kinds.push(match &out {
                    Event::Init => "Init",
                    Event::InitApply(_) => "InitApply",
                    Event::InitDone => "InitDone",
                    Event::Apply(_) => "Apply",
                    Event::Delete(_) => "Delete",
                });
                writer.apply_watcher_event(&out);
            }
        }
        (store, kinds)
    }

    #[test]
    fn scope_drops_empty_and_repeated_namespaces() {
        assert_eq!(Scope::new(["a", " b", "", "a"]).namespaces(), ["a", "b"]);
        assert!(Scope::new(Vec::<String>::new()).namespaces().is_empty());
        assert_eq!(Scope::all().describe(), "(all)");
        assert_eq!(Scope::new(["a", "b"]).describe(), "a,b");
    }

    #[test]
    fn the_store_gets_both_namespaces_once_both_listed() {
        let (store, kinds) = run(vec![
            (0, Event::Init),
            (0, Event::InitApply(cm("a", "x"))),
            (0, Event::InitDone),
            // A change in namespace a while b is still listing is kept for the first list.
            (0, Event::Apply(cm("a", "y"))),
            (1, Event::Init),
            (1, Event::InitApply(cm("b", "z"))),
            (1, Event::InitDone),
        ]);
        assert_eq!(kinds, ["Init", "InitApply", "InitApply", "InitApply", "InitDone"]);
        assert_eq!(names(&store), ["a/x", "a/y", "b/z"]);
    }

    #[test]
    fn nothing_reaches_the_store_before_every_namespace_listed() {
        let (store, kinds) = run(vec![(0, Event::Init), (0, Event::InitApply(cm("a", "x"))), (0, Event::InitDone)]);
        assert!(kinds.is_empty() && store.state().is_empty());
    }

    #[test]
    fn a_namespace_listing_again_keeps_the_other_and_drops_what_it_no_longer_lists() {
        let (store, kinds) = run(vec![
            (0, Event::Init),
            (0, Event::InitApply(cm("a", "x"))),
            (0, Event::InitApply(cm("a", "gone"))),
            (0, Event::InitDone),
            (1, Event::Init),
            (1, Event::InitApply(cm("b", "z"))),
            (1, Event::InitDone),
            // The watch of a desynced and lists again: `gone` was deleted meanwhile.
            (0, Event::Init),
            (0, Event::InitApply(cm("a", "x"))),
            (0, Event::InitApply(cm("a", "new"))),
            (0, Event::InitDone),
            (1, Event::Delete(cm("b", "z"))),
        ]);
        assert_eq!(&kinds[5..], ["Apply", "Apply", "Delete", "Delete"]);
        assert_eq!(names(&store), ["a/new", "a/x"]);
    }

    #[test]
    fn a_namespace_listing_again_before_the_others_finished_starts_over() {
        let (store, _) = run(vec![
            (0, Event::Init),
            (0, Event::InitApply(cm("a", "gone"))),
            (0, Event::Init),
            (0, Event::InitApply(cm("a", "x"))),
            (0, Event::InitDone),
            (1, Event::Init),
            (1, Event::InitDone),
        ]);
        assert_eq!(names(&store), ["a/x"]);
    }
}
