//! The record of what a sync pushed to its external system (`provisioning_syncs.pushed`).
//!
//! Three states meet in a sync: the platform (what should be there), the record (what our last
//! push wrote) and the external system (what is there). The system differing from the platform
//! calls for a write; only the system differing from the record is drift (someone changed it
//! there). So a member added in the platform, or one moving between organizations, is a write
//! and not drift, and a user deleted there is drift. The record also says which users this
//! sync provisioned: only those are deprovisioned when their membership ends or the sync is
//! deleted, and not while another sync of the same system still holds them (one person in two
//! accounts is one SCIM user).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::plan::{DesiredGroup, DesiredUser, classify_group, classify_user};
use crate::scim::{Group, User};

/// What the last push wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRecord {
    /// By our user ID.
    #[serde(default)]
    pub users: BTreeMap<String, PushedUser>,
    /// By our ID (the account's or an organization's).
    #[serde(default)]
    pub groups: BTreeMap<String, PushedGroup>,
}

/// A user as pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedUser {
    pub scim_id: String,
    pub email: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A group as pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedGroup {
    pub scim_id: String,
    pub display_name: String,
    /// SCIM IDs of its members.
    #[serde(default)]
    pub members: BTreeSet<String>,
}

impl PushRecord {
    /// The record stored in `pushed`: `None` when nothing was recorded, or when it cannot be
    /// read (then the sync behaves as one recorded before this record existed).
    pub fn parse(stored: Option<&str>) -> Option<PushRecord> {
        let text = stored?;
        match serde_json::from_str(text) {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::warn!(error = %e, "the record of the last push cannot be read; starting a new one");
                None
            }
        }
    }

    pub fn to_json(&self) -> String {
        // Maps of strings always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Record `user` as pushed with SCIM ID `scim_id`.
    pub fn user_pushed(&mut self, user: &DesiredUser, scim_id: &str) {
        let pushed = PushedUser {
            scim_id: scim_id.to_owned(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
        };
        self.users.insert(user.user_id.clone(), pushed);
    }

    /// Record `group` as pushed with SCIM ID `scim_id` and these SCIM member IDs.
    pub fn group_pushed(&mut self, group: &DesiredGroup, scim_id: &str, members: &BTreeSet<String>) {
        let pushed = PushedGroup {
            scim_id: scim_id.to_owned(),
            display_name: group.display_name.clone(),
            members: members.clone(),
        };
        self.groups.insert(group.external_id.clone(), pushed);
    }
}

/// Whether the observed user differs from what was pushed: drift, if the user was pushed.
pub fn user_drifted(pushed: Option<&PushedUser>, user_id: &str, observed: Option<&User>) -> bool {
    let Some(p) = pushed else { return false };
    let as_pushed =
        DesiredUser { user_id: user_id.to_owned(), email: p.email.clone(), display_name: p.display_name.clone() };
    classify_user(&as_pushed, observed).needs_write()
}

/// Whether the observed group differs from what was pushed: drift, if the group was pushed.
/// Members in `settled` (users this run created, recreated or deprovisioned, whose SCIM IDs
/// moved because of that) are left out of the comparison.
pub fn group_drifted(
    pushed: Option<&PushedGroup>,
    external_id: &str,
    observed: Option<&Group>,
    settled: &BTreeSet<String>,
) -> bool {
    let Some(p) = pushed else { return false };
    let Some(observed) = observed else { return true };
    let as_pushed = DesiredGroup {
        external_id: external_id.to_owned(),
        display_name: p.display_name.clone(),
        members: BTreeSet::new(),
    };
    let keep =
        |ids: &BTreeSet<String>| ids.iter().filter(|id| !settled.contains(*id)).cloned().collect::<BTreeSet<_>>();
    let mut trimmed = observed.clone();
    trimmed.members.retain(|m| !settled.contains(&m.value));
    classify_group(&as_pushed, &keep(&p.members), Some(&trimmed)).needs_write()
}

/// Users another sync of the same external system holds (our user IDs), from their records.
pub fn held_elsewhere<'a>(records: impl IntoIterator<Item = &'a PushRecord>) -> BTreeSet<String> {
    records.into_iter().flat_map(|r| r.users.keys().cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::Member;

    fn user(display: Option<&str>) -> DesiredUser {
        DesiredUser {
            user_id: "usr-1".into(),
            email: "ann@example.com".into(),
            display_name: display.map(str::to_owned),
        }
    }

    fn scim(display: Option<&str>, active: bool) -> User {
        let mut u = User::new("usr-1", "ann@example.com", display, active);
        u.id = Some("s1".into());
        u
    }

    fn ids(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn group(name: &str, members: &[&str]) -> Group {
        Group::new("org-1", name, members.iter().map(|m| Member::user(m)).collect())
    }

    fn record() -> PushRecord {
        let mut r = PushRecord::default();
        r.user_pushed(&user(Some("Ann")), "s1");
        let g = DesiredGroup { external_id: "org-1".into(), display_name: "Eng".into(), members: BTreeSet::new() };
        r.group_pushed(&g, "g1", &ids(&["s1", "s2"]));
        r
    }

    #[test]
    fn a_user_drifted_only_when_it_differs_from_what_was_pushed() {
        let r = record();
        let pushed = r.users.get("usr-1");
        assert!(!user_drifted(None, "usr-1", None), "never pushed: a new user, not drift");
        assert!(!user_drifted(pushed, "usr-1", Some(&scim(Some("Ann"), true))), "as pushed");
        assert!(user_drifted(pushed, "usr-1", None), "deleted there");
        assert!(user_drifted(pushed, "usr-1", Some(&scim(Some("Anna"), true))), "renamed there");
        assert!(user_drifted(pushed, "usr-1", Some(&scim(Some("Ann"), false))), "deactivated there");
        // The platform renamed her: the system still holds what was pushed, so no drift.
        let renamed = user(Some("Ann B."));
        assert!(classify_user(&renamed, Some(&scim(Some("Ann"), true))).needs_write());
        assert!(!user_drifted(pushed, "usr-1", Some(&scim(Some("Ann"), true))));
    }

    #[test]
    fn a_group_drifted_only_when_it_differs_from_what_was_pushed_beyond_this_runs_writes() {
        let r = record();
        let pushed = r.groups.get("org-1");
        let none = BTreeSet::new();
        assert!(!group_drifted(None, "org-1", Some(&group("Eng", &["s9"])), &none), "never pushed");
        assert!(group_drifted(pushed, "org-1", None, &none), "deleted there");
        assert!(!group_drifted(pushed, "org-1", Some(&group("Eng", &["s1", "s2"])), &none), "as pushed");
        assert!(
            group_drifted(pushed, "org-1", Some(&group("Eng", &["s1", "s2", "s9"])), &none),
            "a member added there"
        );
        assert!(group_drifted(pushed, "org-1", Some(&group("Ops", &["s1", "s2"])), &none), "renamed there");
        // s2 was deleted there and recreated as s3 in this run: the group lost s2 by itself.
        assert!(!group_drifted(pushed, "org-1", Some(&group("Eng", &["s1"])), &ids(&["s2", "s3"])));
    }

    #[test]
    fn the_record_round_trips_and_a_bad_one_starts_afresh() {
        let r = record();
        assert_eq!(PushRecord::parse(Some(&r.to_json())), Some(r.clone()));
        assert_eq!(PushRecord::parse(None), None);
        assert_eq!(PushRecord::parse(Some("{not json")), None);
        assert_eq!(PushRecord::parse(Some("{}")), Some(PushRecord::default()), "fields default");
        let mut other = PushRecord::default();
        other.user_pushed(&DesiredUser { user_id: "usr-2".into(), email: "b@x".into(), display_name: None }, "s7");
        assert_eq!(held_elsewhere([&r, &other]), ids(&["usr-1", "usr-2"]));
    }
}
