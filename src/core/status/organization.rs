//! An Organization's status: IDs, member count, staff placement and (when the shell looked
//! them up) its links. The provider-code Secret's name is the operator's (it made the Secret).

use jiff::Timestamp;

use super::{KindStatus, condition_accessors, count};
use crate::api::OrganizationStatus;
use crate::core::Outcome;

impl KindStatus for OrganizationStatus {
    condition_accessors!();

    fn absorb(&mut self, outcome: &Outcome, _now: Timestamp) {
        if outcome.id.is_some() {
            self.organization_id.clone_from(&outcome.id);
        }
        if outcome.account_id.is_some() {
            self.account_id.clone_from(&outcome.account_id);
        }
        if let Some(children) = &outcome.children {
            self.member_count = count(children.count);
        }
        if outcome.is_ready() {
            self.staff = outcome.facts.staff().map(|s| s.status()).unwrap_or_default();
        }
        // Local mode looks the links up after its run; the operator does in `enrich`.
        if let Some(links) = outcome.facts.links() {
            self.links = (links.tenant_count > 0 || links.provider_count > 0).then(|| links.clone());
        }
    }
}
