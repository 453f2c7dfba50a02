//! The tree from hand-made objects: shape, orphans, missing parents, counterparts, order.

use super::*;

fn obj(kind: Kind, name: &str, parent: Option<(Kind, &str)>) -> Object {
    Object {
        kind,
        namespace: "team".into(),
        name: name.into(),
        parent: parent.map(|(kind, name)| ParentRef { kind, name: name.into() }),
        counterpart_id: None,
        health: Health { ready: Some(ConditionStatus::True), ..Health::default() },
    }
}

fn org_with_id(namespace: &str, name: &str, id: &str) -> Object {
    let mut org = obj(Kind::Organization, name, Some((Kind::Account, "other")));
    org.namespace = namespace.into();
    org.health.id = Some(id.into());
    org
}

/// `Kind/name` lines indented by depth, for comparing shapes.
fn shape(node: &Node) -> Vec<String> {
    fn walk(node: &Node, depth: usize, out: &mut Vec<String>) {
        let state = match &node.state {
            State::Found(_) => "",
            State::Missing => " missing",
            State::Forbidden(_) => " forbidden",
        };
        let relation = if node.relation == Relation::Counterpart { " counterpart" } else { "" };
        out.push(format!("{}{}/{}{relation}{state}", "  ".repeat(depth), node.kind, node.name));
        for child in &node.children {
            walk(child, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(node, 0, &mut out);
    out
}

fn set() -> Vec<Object> {
    let mut link = obj(Kind::TenantLink, "appoint-msp", Some((Kind::Organization, "eng")));
    link.counterpart_id = Some("org-msp".into());
    vec![
        obj(Kind::ProvisioningSync, "push", Some((Kind::Account, "acme"))),
        obj(Kind::Membership, "zofia", Some((Kind::Organization, "eng"))),
        link,
        obj(Kind::Organization, "retail", Some((Kind::Account, "acme"))),
        obj(Kind::Membership, "finance", Some((Kind::Account, "acme"))),
        obj(Kind::Organization, "eng", Some((Kind::Account, "acme"))),
        obj(Kind::Membership, "jan", Some((Kind::Organization, "eng"))),
        obj(Kind::Account, "acme", None),
        obj(Kind::Account, "other", None),
        obj(Kind::Organization, "elsewhere", Some((Kind::Account, "other"))),
        org_with_id("msp", "northwind", "org-msp"),
        // Orphans: their parents are not there.
        obj(Kind::Membership, "lost", Some((Kind::Organization, "gone"))),
        obj(Kind::Organization, "stray", Some((Kind::Account, "closed"))),
        obj(Kind::Membership, "stray-member", Some((Kind::Organization, "stray"))),
    ]
}

fn inventory(objects: Vec<Object>) -> Inventory {
    Inventory { objects, ..Inventory::default() }
}

/// The subtree of `eng` as an account's child, as tracing the account or `eng` itself shows it.
const ENG: [&str; 6] = [
    "Account/acme",
    "  Organization/eng",
    "    Membership/jan",
    "    Membership/zofia",
    "    TenantLink/appoint-msp",
    "      Organization/northwind counterpart",
];

#[test]
fn an_account_shows_everything_under_it_sorted_by_kind_then_name() {
    let tree = build(&inventory(set()), "team", Kind::Account, "acme").expect("found");
    let rest = ["  Organization/retail", "  Membership/finance", "  ProvisioningSync/push"];
    assert_eq!(shape(&tree), [&ENG[..], &rest[..]].concat());
}

#[test]
fn the_order_does_not_depend_on_the_order_objects_came_in() {
    let forward = build(&inventory(set()), "team", Kind::Account, "acme").expect("found");
    let mut reversed = set();
    reversed.reverse();
    assert_eq!(build(&inventory(reversed), "team", Kind::Account, "acme").expect("found"), forward);
}

#[test]
fn an_organization_shows_its_subtree_under_its_account_and_no_siblings() {
    let tree = build(&inventory(set()), "team", Kind::Organization, "eng").expect("found");
    assert_eq!(shape(&tree), ENG);
}

#[test]
fn a_membership_shows_its_path() {
    let tree = build(&inventory(set()), "team", Kind::Membership, "zofia").expect("found");
    assert_eq!(shape(&tree), ["Account/acme", "  Organization/eng", "    Membership/zofia"]);
    let account_level = build(&inventory(set()), "team", Kind::Membership, "finance").expect("found");
    assert_eq!(shape(&account_level), ["Account/acme", "  Membership/finance"]);
    let sync = build(&inventory(set()), "team", Kind::ProvisioningSync, "push").expect("found");
    assert_eq!(shape(&sync), ["Account/acme", "  ProvisioningSync/push"]);
}

#[test]
fn orphans_hang_under_a_missing_parent_and_nowhere_else() {
    let objects = set();
    let lost = build(&inventory(objects.clone()), "team", Kind::Membership, "lost").expect("found");
    assert_eq!(shape(&lost), ["Organization/gone missing", "  Membership/lost"], "the account is unknown");
    let stray = build(&inventory(objects.clone()), "team", Kind::Membership, "stray-member").expect("found");
    assert_eq!(shape(&stray), ["Account/closed missing", "  Organization/stray", "    Membership/stray-member"]);
    let acme = shape(&build(&inventory(objects), "team", Kind::Account, "acme").expect("found"));
    assert!(!acme.iter().any(|l| l.contains("lost") || l.contains("stray")), "{acme:?}");
}

#[test]
fn objects_of_other_namespaces_are_not_children() {
    let mut objects = set();
    let mut intruder = obj(Kind::Organization, "intruder", Some((Kind::Account, "acme")));
    intruder.namespace = "elsewhere".into();
    objects.push(intruder);
    let tree = shape(&build(&inventory(objects.clone()), "team", Kind::Account, "acme").expect("found"));
    assert!(!tree.iter().any(|l| l.contains("intruder")), "{tree:?}");
    let err = build(&inventory(objects), "elsewhere", Kind::Account, "acme").expect_err("no acme there");
    assert_eq!(err.to_string(), "Account \"acme\" not found in namespace \"elsewhere\"");
}

#[test]
fn a_counterpart_that_is_in_the_tree_is_a_leaf_so_no_cycle() {
    // The link's counterpart is its own organization (and the account's other one): shown as
    // a leaf, never expanded again.
    let mut objects = set();
    let eng = objects.iter_mut().find(|o| o.name == "eng").expect("eng");
    eng.health.id = Some("org-eng".into());
    let link = objects.iter_mut().find(|o| o.name == "appoint-msp").expect("link");
    link.counterpart_id = Some("org-eng".into());
    let tree = build(&inventory(objects), "team", Kind::TenantLink, "appoint-msp").expect("found");
    assert_eq!(
        shape(&tree),
        ["Account/acme", "  Organization/eng", "    TenantLink/appoint-msp", "      Organization/eng counterpart"]
    );
}

#[test]
fn a_counterpart_prefers_the_traced_namespace_and_says_when_it_cannot_be_seen() {
    let mut objects = set();
    objects.push(org_with_id("team", "local-msp", "org-msp"));
    let tree = build(&inventory(objects), "team", Kind::TenantLink, "appoint-msp").expect("found");
    assert_eq!(shape(&tree).last().map(String::as_str), Some("      Organization/local-msp counterpart"));

    let unseen: Vec<Object> = set().into_iter().filter(|o| o.name != "northwind").collect();
    let missing = build(&inventory(unseen.clone()), "team", Kind::TenantLink, "appoint-msp").expect("found");
    assert_eq!(shape(&missing).last().map(String::as_str), Some("      Organization/org-msp counterpart missing"));
    let hidden = Inventory {
        objects: unseen,
        others_forbidden: Some("organizations is forbidden".into()),
        ..Inventory::default()
    };
    let forbidden = build(&hidden, "team", Kind::TenantLink, "appoint-msp").expect("found");
    let last = forbidden.children[0].children[0].children[0].clone();
    assert_eq!(last.state, State::Forbidden("organizations is forbidden".into()));
    assert_eq!((last.name.as_str(), last.relation), ("org-msp", Relation::Counterpart));
}

#[test]
fn a_kind_the_caller_cannot_list_is_one_forbidden_node_where_it_would_hang() {
    let objects: Vec<Object> = set().into_iter().filter(|o| o.kind != Kind::Membership).collect();
    let inventory = Inventory { objects, unlistable: vec![(Kind::Membership, "no".into())], ..Inventory::default() };
    let tree = build(&inventory, "team", Kind::Account, "acme").expect("found");
    assert_eq!(
        shape(&tree),
        [
            "Account/acme",
            "  Organization/eng",
            "    Membership/* forbidden",
            "    TenantLink/appoint-msp",
            "      Organization/northwind counterpart",
            "  Organization/retail",
            "    Membership/* forbidden",
            "  Membership/* forbidden",
            "  ProvisioningSync/push",
        ]
    );
}

#[test]
fn an_unknown_name_is_not_found_naming_kind_name_and_namespace() {
    let err = build(&inventory(set()), "team", Kind::Organization, "nope").expect_err("absent");
    assert_eq!(err, TreeError::NotFound { kind: Kind::Organization, name: "nope".into(), namespace: "team".into() });
    assert_eq!(err.to_string(), "Organization \"nope\" not found in namespace \"team\"");
}

#[test]
fn health_and_parents_come_from_the_resource_as_served() {
    let served = serde_json::json!({
        "metadata": {"name": "zofia", "creationTimestamp": "2026-12-01T10:00:00Z"},
        "spec": {"organizationRef": {"name": "eng"}, "email": "z@example.com"},
        "status": {
            "membershipId": "mem-1", "userId": "usr-1",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Available", "message": "",
                 "lastTransitionTime": "2026-12-01T10:00:00Z"},
                {"type": "Synced", "status": "False", "reason": "Paused", "message": "paused by annotation",
                 "lastTransitionTime": "2026-12-01T10:00:00Z"}
            ]
        }
    });
    let object = Object::from_resource(Kind::Membership, "team", &served);
    assert_eq!(object.parent, Some(ParentRef { kind: Kind::Organization, name: "eng".into() }));
    let h = &object.health;
    assert_eq!((h.ready, h.synced), (Some(ConditionStatus::True), Some(ConditionStatus::False)));
    assert_eq!(h.reason.as_deref(), Some("Paused"), "the condition that is not True says why");
    assert_eq!(h.message.as_deref(), Some("paused by annotation"));
    assert_eq!(h.id.as_deref(), Some("mem-1"));
    assert_eq!(h.ids.get("userId").map(String::as_str), Some("usr-1"));
    assert_eq!(h.created, Some("2026-12-01T10:00:00Z".parse().expect("time")));

    let fresh = serde_json::json!({"metadata": {"name": "new"}, "spec": {"accountRef": {"name": "acme"}}});
    let object = Object::from_resource(Kind::Membership, "team", &fresh);
    assert_eq!(object.parent, Some(ParentRef { kind: Kind::Account, name: "acme".into() }));
    assert_eq!(object.health, Health::default(), "no status yet: nothing to show");
    let link = serde_json::json!({"metadata": {"name": "l"}, "spec": {"organizationRef": {"name": "eng"}},
        "status": {"linkId": "tl-1", "counterpartOrganizationId": "org-msp"}});
    let object = Object::from_resource(Kind::TenantLink, "team", &link);
    assert_eq!(object.counterpart_id.as_deref(), Some("org-msp"));
    assert_eq!(object.health.id.as_deref(), Some("tl-1"));
}
