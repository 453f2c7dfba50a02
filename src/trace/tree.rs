//! The trace tree as a pure function: the objects trace could see in, the tree of one of them out.
//!
//! ```text
//! Account ─┬─ Organization ─┬─ Membership
//!          │                └─ TenantLink ── counterpart Organization (a leaf, any namespace)
//!          ├─ Membership        (account-level)
//!          └─ ProvisioningSync
//! ```
//!
//! Every edge follows a spec reference in the same namespace (`accountRef`, `organizationRef`),
//! and a parent is always of a higher rank than its child (Account > Organization >
//! Membership, TenantLink), so a cycle cannot be built. The one edge across namespaces, a
//! TenantLink's counterpart (by platform ID, `status.counterpartOrganizationId`), is a leaf and
//! never expanded, so it cannot lead back into the tree either.
//!
//! Tracing an Account shows everything under it; an Organization its subtree under its Account;
//! a Membership, TenantLink or ProvisioningSync the path from the Account down to it. A parent
//! that is not there is shown as a [`State::Missing`] node in its place; a kind the caller may
//! not list as one [`State::Forbidden`] node where its objects would hang. Children are sorted
//! by kind, then name, whatever order the objects came in.
//!
//! A provider's tenants (TenantLinks of other namespaces whose counterpart is the traced
//! Organization) would be one more child list of an Organization, fed from
//! [`Inventory::objects`] of other namespaces as counterparts already are.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use crate::api::{Condition, ConditionStatus};
use crate::core::Kind;

/// The reference an object hangs under: an object of `kind` named `name` in its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRef {
    pub kind: Kind,
    pub name: String,
}

/// What trace shows of an object's status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    pub ready: Option<ConditionStatus>,
    pub synced: Option<ConditionStatus>,
    /// Why: the reason of the first of Ready, Synced that is not True, else Ready's.
    pub reason: Option<String>,
    pub message: Option<String>,
    pub created: Option<Timestamp>,
    /// The object's own platform ID (`accountId`, `organizationId`, `membershipId`, `linkId`,
    /// `externalId`; local mode: the row's ID).
    pub id: Option<String>,
    /// Every platform ID its status names, by status field.
    pub ids: BTreeMap<String, String>,
}

impl Health {
    /// From the `Ready` and `Synced` conditions, as both the operator and local mode compute them.
    pub fn from_conditions(conditions: &[Condition]) -> Health {
        let find = |type_: &str| conditions.iter().find(|c| c.type_ == type_);
        let (ready, synced) = (find(crate::core::conditions::READY), find(crate::core::conditions::SYNCED));
        let why = [ready, synced].into_iter().flatten().find(|c| c.status != ConditionStatus::True).or(ready);
        Health {
            ready: ready.map(|c| c.status),
            synced: synced.map(|c| c.status),
            reason: why.map(|c| c.reason.clone()),
            message: why.map(|c| c.message.clone()).filter(|m| !m.is_empty()),
            ..Health::default()
        }
    }
}

/// One object trace can see, whatever it was read from (the cluster, or manifests and a plan).
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    /// The object it hangs under (`None` for an Account; a Membership names either kind).
    pub parent: Option<ParentRef>,
    /// A TenantLink's counterpart: the platform ID of the provider or partner organization.
    pub counterpart_id: Option<String>,
    pub health: Health,
}

/// The status fields that hold platform IDs, the object's own first.
fn id_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Account => &["accountId"],
        Kind::Organization => &["organizationId", "accountId"],
        Kind::Membership => &["membershipId", "userId"],
        Kind::TenantLink => &["linkId", "counterpartOrganizationId"],
        Kind::ProvisioningSync => &["externalId"],
    }
}

impl Object {
    /// From an object as the apiserver serves it (or a manifest): `metadata`, `spec` references,
    /// `status` conditions and IDs.
    pub fn from_resource(kind: Kind, namespace: &str, value: &Value) -> Object {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let spec = &value["spec"];
        let reference = |field: &str| text(&spec[field]["name"]);
        let parent = match kind {
            Kind::Account => None,
            Kind::Organization | Kind::ProvisioningSync => {
                reference("accountRef").map(|name| ParentRef { kind: Kind::Account, name })
            }
            Kind::Membership => reference("organizationRef")
                .map(|name| ParentRef { kind: Kind::Organization, name })
                .or_else(|| reference("accountRef").map(|name| ParentRef { kind: Kind::Account, name })),
            Kind::TenantLink => reference("organizationRef").map(|name| ParentRef { kind: Kind::Organization, name }),
        };
        let status = &value["status"];
        let conditions: Vec<Condition> = serde_json::from_value(status["conditions"].clone()).unwrap_or_default();
        let mut health = Health::from_conditions(&conditions);
        health.created = value["metadata"]["creationTimestamp"].as_str().and_then(|t| t.parse().ok());
        let fields = id_fields(kind);
        health.ids = fields.iter().filter_map(|f| Some(((*f).to_owned(), text(&status[*f])?))).collect();
        health.id = fields.first().and_then(|f| health.ids.get(*f).cloned());
        Object {
            kind,
            namespace: namespace.to_owned(),
            name: text(&value["metadata"]["name"]).unwrap_or_default(),
            parent,
            counterpart_id: (kind == Kind::TenantLink).then(|| text(&status["counterpartOrganizationId"])).flatten(),
            health,
        }
    }
}

/// Everything trace could see, and what it was not allowed to.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The objects of the traced namespace, and Organizations of other namespaces (counterparts).
    pub objects: Vec<Object>,
    /// Kinds the caller may not list in the traced namespace, with the apiserver's message.
    pub unlistable: Vec<(Kind, String)>,
    /// Why Organizations of other namespaces could not be listed (counterparts not found in the
    /// traced namespace are then shown as forbidden, not as missing).
    pub others_forbidden: Option<String>,
}

/// How a node relates to its parent in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The root, or an object that references its parent.
    Child,
    /// The provider or partner organization of a TenantLink.
    Counterpart,
}

/// What trace knows of a node's object.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Found(Health),
    /// Referenced but not there (or, for a counterpart, not an object the caller can see).
    Missing,
    /// The caller may not list objects of this kind there.
    Forbidden(String),
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub namespace: String,
    /// The object's name; a counterpart not found is named by its platform ID, a forbidden list `*`.
    pub name: String,
    pub relation: Relation,
    pub state: State,
    pub children: Vec<Node>,
}

/// Why there is no tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("{kind} {name:?} not found in namespace {namespace:?}")]
    NotFound { kind: Kind, name: String, namespace: String },
}

/// The tree of `kind/name` in `namespace`: its Account at the root (see the module doc).
pub fn build(inventory: &Inventory, namespace: &str, kind: Kind, name: &str) -> Result<Node, TreeError> {
    let here = Scope { inventory, namespace };
    let target = here.find(kind, name).ok_or_else(|| TreeError::NotFound {
        kind,
        name: name.to_owned(),
        namespace: namespace.to_owned(),
    })?;
    let mut node = here.expand(target);
    // Climb: wrap the node in each ancestor, which shows only this branch.
    let mut parent = target.parent.clone();
    while let Some(p) = parent {
        let found = here.find(p.kind, &p.name);
        let mut up = match found {
            Some(object) => here.leaf(object, Relation::Child),
            None => here.missing(p.kind, &p.name, Relation::Child),
        };
        up.children.push(node);
        node = up;
        parent = found.and_then(|o| o.parent.clone());
    }
    Ok(node)
}

struct Scope<'a> {
    inventory: &'a Inventory,
    namespace: &'a str,
}

/// The order children are shown in, and the kinds each kind has as children.
fn rank(kind: Kind) -> u8 {
    match kind {
        Kind::Account => 0,
        Kind::Organization => 1,
        Kind::Membership => 2,
        Kind::TenantLink => 3,
        Kind::ProvisioningSync => 4,
    }
}

fn child_kinds(kind: Kind) -> &'static [Kind] {
    match kind {
        Kind::Account => &[Kind::Organization, Kind::Membership, Kind::ProvisioningSync],
        Kind::Organization => &[Kind::Membership, Kind::TenantLink],
        Kind::Membership | Kind::TenantLink | Kind::ProvisioningSync => &[],
    }
}

impl Scope<'_> {
    fn find(&self, kind: Kind, name: &str) -> Option<&Object> {
        self.inventory.objects.iter().find(|o| o.kind == kind && o.namespace == self.namespace && o.name == name)
    }

    fn leaf(&self, object: &Object, relation: Relation) -> Node {
        Node {
            kind: object.kind,
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            relation,
            state: State::Found(object.health.clone()),
            children: Vec::new(),
        }
    }

    fn missing(&self, kind: Kind, name: &str, relation: Relation) -> Node {
        let namespace = self.namespace.to_owned();
        Node { kind, namespace, name: name.to_owned(), relation, state: State::Missing, children: Vec::new() }
    }

    /// The object with everything under it.
    fn expand(&self, object: &Object) -> Node {
        let mut node = self.leaf(object, Relation::Child);
        let mut children: Vec<&Object> = self
            .inventory
            .objects
            .iter()
            .filter(|o| {
                o.namespace == self.namespace
                    && o.parent.as_ref().is_some_and(|p| p.kind == object.kind && p.name == object.name)
            })
            .collect();
        children.sort_by(|a, b| (rank(a.kind), &a.name).cmp(&(rank(b.kind), &b.name)));
        node.children = children.into_iter().map(|c| self.expand(c)).collect();
        for kind in child_kinds(object.kind) {
            if let Some((_, message)) = self.inventory.unlistable.iter().find(|(k, _)| k == kind) {
                let forbidden = Node {
                    kind: *kind,
                    namespace: self.namespace.to_owned(),
                    name: "*".to_owned(),
                    relation: Relation::Child,
                    state: State::Forbidden(message.clone()),
                    children: Vec::new(),
                };
                let at = node.children.partition_point(|c| rank(c.kind) <= rank(*kind));
                node.children.insert(at, forbidden);
            }
        }
        if let Some(id) = &object.counterpart_id {
            node.children.push(self.counterpart(id));
        }
        node
    }

    /// The organization with platform ID `id`: in this namespace first, then any other.
    fn counterpart(&self, id: &str) -> Node {
        let is_it = |o: &&Object| o.kind == Kind::Organization && o.health.id.as_deref() == Some(id);
        let objects = &self.inventory.objects;
        let found = objects.iter().filter(is_it).min_by_key(|o| (o.namespace != self.namespace, &o.namespace));
        match (found, &self.inventory.others_forbidden) {
            (Some(org), _) => self.leaf(org, Relation::Counterpart),
            (None, Some(message)) => Node {
                state: State::Forbidden(message.clone()),
                ..self.missing(Kind::Organization, id, Relation::Counterpart)
            },
            (None, None) => self.missing(Kind::Organization, id, Relation::Counterpart),
        }
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
