//! An Account's status: its platform ID and its organizations (counted, the first listed).

use jiff::Timestamp;

use super::{KindStatus, condition_accessors, count, listed};
use crate::api::AccountStatus;
use crate::core::Outcome;

impl KindStatus for AccountStatus {
    condition_accessors!();

    fn absorb(&mut self, outcome: &Outcome, _now: Timestamp) {
        if outcome.id.is_some() {
            self.account_id.clone_from(&outcome.id);
        }
        if let Some(children) = &outcome.children {
            self.organization_count = count(children.count);
            self.organizations = listed(&children.ids);
        }
    }
}
