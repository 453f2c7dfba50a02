use std::collections::BTreeSet;

use super::plan::*;
use crate::api::provisioning_sync::OrderSpec;
use crate::scim::{Group, Member, User};
use crate::store::assets::{Asset, InvoiceChoice};

pub(super) fn order(name: &str, product: &str) -> OrderSpec {
    serde_json::from_value(serde_json::json!({
        "name": name, "product": product, "quantity": 1, "notificationEmail": "ops@example.com"
    }))
    .expect("order")
}

pub(super) fn asset(order: &str, product: &str) -> Asset {
    let now = crate::core::fixtures::now();
    Asset {
        id: format!("asset-{order}"),
        sync_id: "psync-1".to_owned(),
        order_name: order.to_owned(),
        product: product.to_owned(),
        quantity: 1,
        notification_email: "ops@example.com".to_owned(),
        invoice: InvoiceChoice::NextInvoice,
        locale: "en".to_owned(),
        activation_code_hash: Some("h".to_owned()),
        activation_expires_at: None,
        activated_at: None,
        external_id: None,
        welcome_message_id: None,
        archived_at: None,
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn every_executed_field_is_immutable_not_only_the_product() {
    let executed = [asset("a", "migrate")];
    let edited = |json: serde_json::Value| -> Vec<OrderEdit> {
        let mut o = serde_json::json!({"name": "a", "product": "migrate", "quantity": 1, "notificationEmail": "ops@example.com"});
        if let (Some(o), Some(extra)) = (o.as_object_mut(), json.as_object()) {
            o.extend(extra.clone());
        }
        let order: OrderSpec = serde_json::from_value(o).expect("order");
        match plan_orders(&[order], &executed).remove(0) {
            OrderStep::Edited { edits, .. } => edits,
            OrderStep::Done { .. } => Vec::new(),
            other => panic!("{other:?}"),
        }
    };
    assert!(edited(serde_json::json!({})).is_empty(), "unchanged");
    let field = |json| edited(json).into_iter().map(|e| e.field).collect::<Vec<_>>();
    assert_eq!(field(serde_json::json!({"quantity": 5})), ["quantity"]);
    assert_eq!(field(serde_json::json!({"notificationEmail": "new@example.com"})), ["notificationEmail"]);
    assert_eq!(field(serde_json::json!({"invoice": "DoNotInvoice"})), ["invoice"]);
    assert_eq!(field(serde_json::json!({"locale": "pl"})), ["locale"]);
    assert_eq!(field(serde_json::json!({"product": "x", "quantity": 2})), ["product", "quantity"]);
    let steps = plan_orders(
        &[serde_json::from_value(serde_json::json!({"name": "a", "product": "migrate", "quantity": 3, "notificationEmail": "ops@example.com"})).expect("order")],
        &executed,
    );
    let msg = immutable_message(&steps).expect("refused");
    assert!(msg.contains("spec.orders[a] quantity \"1\" cannot become \"3\""), "{msg}");
}

#[test]
fn orders_execute_once_and_products_are_immutable() {
    let orders = [order("a", "migrate"), order("b", "backup"), order("c", "mail")];
    let assets = [asset("a", "migrate"), asset("b", "archive"), asset("gone", "x")];
    let steps = plan_orders(&orders, &assets);
    assert_eq!(steps[0], OrderStep::Done { name: "a".to_owned() });
    let OrderStep::Edited { name, edits } = &steps[1] else { panic!("{:?}", steps[1]) };
    assert_eq!(name, "b");
    assert_eq!(
        edits,
        &[OrderEdit { field: "product", executed: "archive".to_owned(), requested: "backup".to_owned() }]
    );
    assert!(matches!(&steps[2], OrderStep::Execute(o) if o.name == "c"));
    assert_eq!(steps.len(), 3, "the removed order keeps its asset and is not planned");
    let msg = immutable_message(&steps).expect("a message");
    assert!(msg.contains("order b") && msg.contains("product \"archive\" cannot become \"backup\""), "{msg}");
    assert_eq!(immutable_message(&steps[..1]), None);
}

#[test]
fn user_drift_is_classified_by_attribute() {
    let desired =
        DesiredUser { user_id: "usr-1".into(), email: "a@example.com".into(), display_name: Some("A".into()) };
    assert_eq!(classify_user(&desired, None), Drift::Missing);
    let same = scim_user(&desired);
    assert_eq!(classify_user(&desired, Some(&same)), Drift::InSync);
    let mut edited = same.clone();
    edited.display_name = Some("Mallory".into());
    edited.active = Some(false);
    assert_eq!(classify_user(&desired, Some(&edited)), Drift::Changed(vec!["displayName", "active"]));
    let mut case = same;
    case.user_name = "A@Example.com".into();
    assert_eq!(classify_user(&desired, Some(&case)), Drift::InSync, "user names compare case-insensitively");
    let _: Option<User> = None;
}

#[test]
fn group_drift_compares_names_and_member_sets() {
    let desired = DesiredGroup { external_id: "org-1".into(), display_name: "Eng".into(), members: BTreeSet::new() };
    let members: BTreeSet<String> = ["s1".to_owned(), "s2".to_owned()].into();
    let observed = Group::new("org-1", "Eng", vec![Member::user("s2"), Member::user("s1")]);
    assert_eq!(classify_group(&desired, &members, Some(&observed)), Drift::InSync);
    let fewer: BTreeSet<String> = ["s1".to_owned()].into();
    assert_eq!(classify_group(&desired, &fewer, Some(&observed)), Drift::Changed(vec!["members"]));
    assert_eq!(classify_group(&desired, &fewer, None), Drift::Missing);
}
