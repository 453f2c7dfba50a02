//! The printed table and JSON of a small tree, character for character.

use super::*;
use crate::core::Kind;

fn at(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn found(kind: Kind, name: &str, ready: ConditionStatus, reason: &str, children: Vec<Node>) -> Node {
    let health = Health {
        ready: Some(ready),
        synced: Some(ConditionStatus::True),
        reason: Some(reason.into()),
        message: (ready != ConditionStatus::True).then(|| format!("{name} waits\nfor it")),
        created: Some(at("2026-12-02T10:00:00Z")),
        id: Some(format!("id-{name}")),
        ids: Default::default(),
    };
    Node {
        kind,
        namespace: "team".into(),
        name: name.into(),
        relation: Relation::Child,
        state: State::Found(health),
        children,
    }
}

fn tree() -> Node {
    let mut counterpart = found(Kind::Organization, "northwind", ConditionStatus::True, "Available", vec![]);
    counterpart.relation = Relation::Counterpart;
    counterpart.namespace = "msp".into();
    let link = found(Kind::TenantLink, "appoint", ConditionStatus::True, "Available", vec![counterpart]);
    let jan = found(Kind::Membership, "jan", ConditionStatus::False, "InvitationPending", vec![]);
    let eng = found(Kind::Organization, "eng", ConditionStatus::True, "Available", vec![jan, link]);
    let forbidden = Node {
        kind: Kind::ProvisioningSync,
        namespace: "team".into(),
        name: "*".into(),
        relation: Relation::Child,
        state: State::Forbidden("provisioningsyncs is forbidden".into()),
        children: vec![],
    };
    let account = found(Kind::Account, "acme", ConditionStatus::True, "Available", vec![eng, forbidden]);
    Node {
        kind: Kind::Account,
        namespace: "team".into(),
        name: "closed".into(),
        relation: Relation::Child,
        state: State::Missing,
        children: vec![account],
    }
}

const NOW: &str = "2026-12-02T10:05:10Z";

#[test]
fn the_table_draws_the_tree_in_the_name_column() {
    let text = render(&tree(), Format::Text, at(NOW));
    let expected = "\
NAME                                                      READY   SYNCED   REASON              AGE
Account/closed (team)                                     -       -        NotFound            -
└─ Account/acme                                           True    True     Available           5m10s
   ├─ Organization/eng                                    True    True     Available           5m10s
   │  ├─ Membership/jan                                   False   True     InvitationPending   5m10s
   │  └─ TenantLink/appoint                               True    True     Available           5m10s
   │     └─ Organization/northwind (counterpart in msp)   True    True     Available           5m10s
   └─ ProvisioningSync/*                                  -       -        Forbidden           -
";
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn wide_adds_the_id_and_the_message_on_one_line() {
    let text = render(&tree(), Format::Wide, at(NOW));
    let expected = "\
NAME                                                      READY   SYNCED   REASON              AGE     ID             MESSAGE
Account/closed (team)                                     -       -        NotFound            -       -              Account \"closed\" is not in namespace \"team\"
└─ Account/acme                                           True    True     Available           5m10s   id-acme
   ├─ Organization/eng                                    True    True     Available           5m10s   id-eng
   │  ├─ Membership/jan                                   False   True     InvitationPending   5m10s   id-jan         jan waits for it
   │  └─ TenantLink/appoint                               True    True     Available           5m10s   id-appoint
   │     └─ Organization/northwind (counterpart in msp)   True    True     Available           5m10s   id-northwind
   └─ ProvisioningSync/*                                  -       -        Forbidden           -       -              provisioningsyncs is forbidden
";
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn json_is_the_tree_with_every_field() {
    let value = json(&tree());
    assert_eq!(value["state"], "missing");
    assert_eq!(value["message"], "Account \"closed\" is not in namespace \"team\"");
    let acme = &value["children"][0];
    assert_eq!(
        (acme["kind"].as_str(), acme["ready"].as_str(), acme["id"].as_str()),
        (Some("Account"), Some("True"), Some("id-acme"))
    );
    assert_eq!(acme["createdAt"], "2026-12-02T10:00:00Z");
    let northwind = &acme["children"][0]["children"][1]["children"][0];
    assert_eq!((northwind["relation"].as_str(), northwind["namespace"].as_str()), (Some("counterpart"), Some("msp")));
    let forbidden = &acme["children"][1];
    assert_eq!((forbidden["state"].as_str(), forbidden["ready"].is_null()), (Some("forbidden"), true));
    let text = render(&tree(), Format::Json, at(NOW));
    assert_eq!(serde_json::from_str::<Value>(&text).expect("valid JSON"), value);
}

#[test]
fn ages_read_like_kubectl_get() {
    let cases = [
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (310, "5m10s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 120, "3h2m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (40 * 86400, "40d"),
        (3 * 365 * 86400 + 5 * 86400, "3y5d"),
        (9 * 365 * 86400, "9y"),
        (-5, "0s"),
    ];
    for (seconds, shown) in cases {
        assert_eq!(age(SignedDuration::from_secs(seconds)), shown, "{seconds}s");
    }
}
