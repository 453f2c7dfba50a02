//! Accepting or rejecting a partner invitation with its token: what
//! `accountops tenant-link accept TOKEN` does, and the web app's database contract
//! (docs/database.md, "Accepting or rejecting a partner invitation").
//!
//! ```text
//! accept: UPDATE invitations SET accepted_at = now WHERE token_hash = $1 AND open ─► link phase active
//! reject: UPDATE invitations SET revoked_at  = now WHERE token_hash = $1 AND open ─► link phase rejected
//! ```
//!
//! Accepting checks again that the invited address is an administrator of the partner
//! organization ([`super::admin`]); the web app must accept a token only for the signed-in
//! user whose address the invitation names.
//!
//! The web app may stop after the invitation update: the operator sees `accepted_at` (or
//! `revoked_at` on the pending link's invitation) on its next reconcile and moves the link.

use jiff::Timestamp;

use crate::core::db;
use crate::core::error::{CoreError, InvitationError};
use crate::core::tokens;
use crate::store::invitations::{self, AcceptOutcome, InvitationState, Subject};
use crate::store::tenant_links::{self, TenantLinkPhase};
use crate::store::{Store, organizations};

/// Which link an accepted invitation activated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub link_id: String,
    pub email: String,
    pub provider_organization: String,
    pub tenant_organization: String,
}

/// Which link a rejected invitation ended.
pub type Rejected = Accepted;

/// Accept the partner invitation `token_text` names (the token or the accept link). A token
/// is accepted once; unknown, used, revoked and expired tokens change nothing.
pub async fn accept(store: &Store, token_text: &str, now: Timestamp) -> Result<Accepted, CoreError> {
    let hash = tokens::hash(tokens::from_input(token_text));
    let mut tx = store.begin().await?;
    let invitation = match invitations::accept(&mut tx, &hash, now).await? {
        AcceptOutcome::Accepted(invitation) => invitation,
        refused => return Err(refusal(refused).into()),
    };
    let Subject::TenantLink(link_id) = &invitation.subject else {
        return Err(InvitationError::UnknownToken.into());
    };
    // The token is bound to the invited administrator: still one when it is accepted, or
    // nothing changes (the transaction is dropped, so the invitation stays open).
    let Some(link) = tenant_links::find(&mut tx, link_id).await? else {
        return Err(InvitationError::UnknownToken.into());
    };
    let partner = super::admin::partner_of(&link).to_owned();
    if !super::admin::read(&mut tx, &partner, &invitation.email).await?.manages() {
        return Err(InvitationError::NotPartnerAdmin { email: invitation.email, organization_id: partner }.into());
    }
    let link = tenant_links::set_phase(&mut tx, link_id, TenantLinkPhase::Active, now).await?;
    let accepted = described(&mut tx, &link, invitation.email).await?;
    db::commit(store, tx).await?;
    Ok(accepted)
}

/// Reject the partner invitation `token_text` names: the invitation is revoked and the link
/// becomes `rejected`. Only an open invitation can be rejected.
pub async fn reject(store: &Store, token_text: &str, now: Timestamp) -> Result<Rejected, CoreError> {
    let hash = tokens::hash(tokens::from_input(token_text));
    let mut tx = store.begin().await?;
    let Some(invitation) = invitations::find_by_token_hash(&mut tx, &hash).await? else {
        return Err(InvitationError::UnknownToken.into());
    };
    let Subject::TenantLink(link_id) = invitation.subject.clone() else {
        return Err(InvitationError::UnknownToken.into());
    };
    match invitation.state(now) {
        InvitationState::Open => {}
        InvitationState::Accepted => return Err(refusal(AcceptOutcome::AlreadyAccepted(invitation)).into()),
        InvitationState::Revoked => return Err(refusal(AcceptOutcome::Revoked(invitation)).into()),
        InvitationState::Expired => return Err(refusal(AcceptOutcome::Expired(invitation)).into()),
    }
    invitations::revoke(&mut tx, &invitation.id, now).await?;
    let link = tenant_links::set_phase(&mut tx, &link_id, TenantLinkPhase::Rejected, now).await?;
    let rejected = described(&mut tx, &link, invitation.email).await?;
    db::commit(store, tx).await?;
    Ok(rejected)
}

async fn described(
    conn: &mut crate::store::Conn,
    link: &tenant_links::TenantLink,
    email: String,
) -> Result<Accepted, CoreError> {
    Ok(Accepted {
        link_id: link.id.clone(),
        email,
        provider_organization: organizations::get(conn, &link.provider_organization_id).await?.name,
        tenant_organization: organizations::get(conn, &link.tenant_organization_id).await?.name,
    })
}

fn refusal(outcome: AcceptOutcome) -> InvitationError {
    let at = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    match outcome {
        AcceptOutcome::AlreadyAccepted(i) => InvitationError::AlreadyAccepted { at: at(i.accepted_at) },
        AcceptOutcome::Revoked(i) => InvitationError::Revoked { at: at(i.revoked_at) },
        AcceptOutcome::Expired(i) => InvitationError::Expired { at: i.expires_at.to_string() },
        AcceptOutcome::UnknownToken | AcceptOutcome::Accepted(_) => InvitationError::UnknownToken,
    }
}
