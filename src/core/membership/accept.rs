//! Accepting an invitation with its token: what `accountops invitation accept` does, and the
//! database contract of the platform's web app (docs/database.md, "Accepting an invitation").
//!
//! ```text
//! token ─► SHA-256 hex ─► UPDATE invitations SET accepted_at = now
//!                          WHERE token_hash = $1 AND accepted_at IS NULL
//!                            AND revoked_at IS NULL AND expires_at > now
//!            one row ─► membership phase active, user has_login ─► commit
//!            no row  ─► unknown / already used / revoked / expired (nothing written)
//! ```
//!
//! The web app may stop after the UPDATE: the operator sees `accepted_at` on its next
//! reconcile and makes the same two changes. Doing them here too makes local mode and tests
//! see the result at once.

use jiff::Timestamp;

use super::facts::rfc3339;
use crate::core::db;
use crate::core::error::{CoreError, InvitationError};
use crate::core::tokens;
use crate::store::invitations::{self, AcceptOutcome, Subject};
use crate::store::memberships::{self, MembershipPhase, Scope};
use crate::store::users::{self, UserUpdate};
use crate::store::{Store, accounts, organizations};

/// Who accepted what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub email: String,
    pub user_id: String,
    pub membership_id: String,
    /// The organization's display name (or the account's legal name).
    pub scope_name: String,
}

/// Accept the invitation `token_text` names (the token, or the whole accept link) at `now`, in
/// one transaction. A token is accepted once; unknown, used, revoked and expired tokens fail
/// with an [`InvitationError`] and change nothing.
pub async fn accept(store: &Store, token_text: &str, now: Timestamp) -> Result<Accepted, CoreError> {
    let hash = tokens::hash(tokens::from_input(token_text));
    let mut tx = store.begin().await?;
    let invitation = match invitations::accept(&mut tx, &hash, now).await? {
        AcceptOutcome::Accepted(invitation) => invitation,
        refused => {
            // Dropping the transaction rolls it back; nothing was written anyway.
            return Err(refusal(refused).into());
        }
    };
    let Subject::Membership(membership_id) = &invitation.subject else {
        return Err(InvitationError::NotAMembership.into());
    };
    let membership = memberships::set_phase(&mut tx, membership_id, MembershipPhase::Active, now).await?;
    let user = users::get(&mut tx, &membership.user_id).await?;
    if !user.has_login {
        let update = UserUpdate { display_name: user.display_name.clone(), phone: user.phone.clone(), has_login: true };
        users::update(&mut tx, &user.id, &update, now).await?;
    }
    let scope_name = match &membership.scope {
        Scope::Organization(id) => organizations::get(&mut tx, id).await?.name,
        Scope::Account(id) => accounts::get(&mut tx, id).await?.details.legal_name,
    };
    db::commit(store, tx).await?;
    Ok(Accepted { email: user.email, user_id: user.id, membership_id: membership.id, scope_name })
}

fn refusal(outcome: AcceptOutcome) -> InvitationError {
    let at = |t: Option<Timestamp>| t.map(rfc3339).unwrap_or_default();
    match outcome {
        AcceptOutcome::AlreadyAccepted(i) => InvitationError::AlreadyAccepted { at: at(i.accepted_at) },
        AcceptOutcome::Revoked(i) => InvitationError::Revoked { at: at(i.revoked_at) },
        AcceptOutcome::Expired(i) => InvitationError::Expired { at: rfc3339(i.expires_at) },
        AcceptOutcome::UnknownToken | AcceptOutcome::Accepted(_) => InvitationError::UnknownToken,
    }
}
