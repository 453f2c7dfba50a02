//! Answering an invitation with its token: what `accountops invitation accept` and
//! `accountops tenant-link accept|reject` do, and the web app's database contract
//! (docs/database.md, "Accepting an invitation", "Accepting or rejecting a partner invitation").
//!
//! ```text
//! token ─► SHA-256 hex ─► UPDATE invitations SET accepted_at (or revoked_at) = now
//!                          WHERE token_hash = $1 AND kind = $3 AND open AND expires_at > now
//!   one row ─► Membership, Accept: phase active, user gets its login
//!              TenantLink, Accept: the address still administers the partner? phase active
//!              TenantLink, Refuse: phase rejected                              ─► commit
//!   no row  ─► why, from state(): unknown / used / revoked / expired / other kind (nothing written)
//! ```
//!
//! The web app may stop after the UPDATE: the operator sees the row on its next reconcile and
//! moves the membership or link the same way. Doing it here too makes local mode and tests
//! see the result at once. A failed check drops the transaction, so the invitation stays open.

use jiff::Timestamp;

use super::{Answer, InvitationKind, State, state};
use crate::core::db;
use crate::core::error::CoreError;
use crate::core::tenant_link::admin;
use crate::core::tokens;
use crate::store::invitations::{self, AcceptOutcome, Invitation, Subject};
use crate::store::memberships::{self, MembershipPhase, Scope};
use crate::store::tenant_links::{self, TenantLinkPhase};
use crate::store::time::shown;
use crate::store::users::{self, UserUpdate};
use crate::store::{Conn, Store, accounts, organizations};

/// Why a token cannot be answered. Never holds the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvitationError {
    #[error("no invitation has this token (check that the whole link or token was copied)")]
    UnknownToken,
    #[error("this invitation was already used (accepted at {}); an invitation link works only once", shown(*at))]
    AlreadyAccepted { at: Timestamp },
    #[error("this invitation was revoked at {} ({}); use the newest link", shown(*at), words(*kind).revoked)]
    Revoked { at: Timestamp, kind: InvitationKind },
    #[error("this invitation expired at {}; ask for a new one ({})", shown(*at), words(*kind).renew)]
    Expired { at: Timestamp, kind: InvitationKind },
    #[error("this token invites to {}, not {}; {}", words(*token).noun, words(*asked).noun, words(*token).command)]
    OtherKind { token: InvitationKind, asked: InvitationKind },
    #[error(
        "a membership invitation cannot be refused; it expires unaccepted, or the Membership is deleted \
         (which revokes it)"
    )]
    NotRefusable,
    #[error(
        "{email} is no longer an active member of the partner organization {organization_id} with a role that \
         may manage members or links; only an administrator of the partner can accept its invitation"
    )]
    NotPartnerAdmin { email: String, organization_id: String },
}

/// How refusals speak of an invitation of one kind.
struct Words {
    /// What it invites to.
    noun: &'static str,
    /// Which command answers it.
    command: &'static str,
    /// Why it may have been revoked.
    revoked: &'static str,
    /// How to get a new one.
    renew: &'static str,
}

fn words(kind: InvitationKind) -> Words {
    match kind {
        InvitationKind::Membership => Words {
            noun: "a membership",
            command: "`accountops invitation accept` answers it",
            revoked: "re-sent or the membership was removed",
            renew: "change spec.invitation.resendNonce",
        },
        InvitationKind::TenantLink => Words {
            noun: "a tenant link",
            command: "`accountops tenant-link accept|reject` answers it",
            revoked: "rejected, or the link was removed",
            renew: "re-create the TenantLink",
        },
    }
}

/// Who answered what; [`Answered::summary`] is the command's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// A membership invitation was accepted: the member is active with a login.
    Membership {
        email: String,
        user_id: String,
        membership_id: String,
        /// The organization's display name (or the account's legal name).
        scope_name: String,
    },
    /// A partner invitation was accepted (the link is active) or refused (rejected).
    TenantLink {
        answer: Answer,
        link_id: String,
        email: String,
        provider_organization: String,
        tenant_organization: String,
    },
}

impl Answered {
    /// One line for the person at the terminal.
    pub fn summary(&self) -> String {
        match self {
            Answered::Membership { email, scope_name, .. } => {
                format!("accepted: {email} is now Active in {scope_name}")
            }
            Answered::TenantLink { answer: Answer::Accept, provider_organization, tenant_organization, .. } => {
                format!("accepted: {provider_organization} and {tenant_organization} are now linked")
            }
            Answered::TenantLink { answer: Answer::Refuse, .. } => {
                "rejected: the partner invitation will not be used".to_owned()
            }
        }
    }
}

/// Answer the invitation of `kind` that `token_text` names (the token, or the whole accept
/// link) at `now`, in one transaction. A token is answered once; unknown, used, revoked,
/// expired and other kinds' tokens fail with an [`InvitationError`] and change nothing.
pub async fn answer(
    store: &Store,
    kind: InvitationKind,
    answer: Answer,
    token_text: &str,
    now: Timestamp,
) -> Result<Answered, CoreError> {
    if (kind, answer) == (InvitationKind::Membership, Answer::Refuse) {
        return Err(InvitationError::NotRefusable.into());
    }
    let hash = tokens::hash(tokens::from_input(token_text));
    let mut tx = store.begin().await?;
    let invitation = match invitations::answer(&mut tx, kind, &hash, answer, now).await? {
        AcceptOutcome::Answered(invitation) => invitation,
        AcceptOutcome::NotOpen(found) => return Err(refusal(&found, kind, now).into()),
        AcceptOutcome::UnknownToken => return Err(InvitationError::UnknownToken.into()),
    };
    let answered = match invitation.subject.clone() {
        Subject::Membership(id) => joined(&mut tx, &id, invitation.email, now).await?,
        Subject::TenantLink(id) => linked(&mut tx, &id, invitation, answer, now).await?,
    };
    db::commit(store, tx).await?;
    Ok(answered)
}

/// Why `found`, not answered at `now`, cannot be answered as `asked`.
fn refusal(found: &Invitation, asked: InvitationKind, now: Timestamp) -> InvitationError {
    let token = found.subject.kind();
    if token != asked {
        return InvitationError::OtherKind { token, asked };
    }
    match state(found, now) {
        State::Accepted { at } => InvitationError::AlreadyAccepted { at },
        State::Revoked { at } => InvitationError::Revoked { at, kind: token },
        State::Expired { at } => InvitationError::Expired { at, kind: token },
        // The update would have matched, unless the clock moved back in between.
        State::Open { expires_at } => InvitationError::Expired { at: expires_at, kind: token },
    }
}

/// An accepted membership invitation: the membership is active and its user has a login.
async fn joined(conn: &mut Conn, membership_id: &str, email: String, now: Timestamp) -> Result<Answered, CoreError> {
    let membership = memberships::set_phase(conn, membership_id, MembershipPhase::Active, now).await?;
    let user = users::get(conn, &membership.user_id).await?;
    if !user.has_login {
        let update = UserUpdate { display_name: user.display_name.clone(), phone: user.phone.clone(), has_login: true };
        users::update(conn, &user.id, &update, now).await?;
    }
    let scope_name = match &membership.scope {
        Scope::Organization(id) => organizations::get(conn, id).await?.name,
        Scope::Account(id) => accounts::get(conn, id).await?.details.legal_name,
    };
    Ok(Answered::Membership { email, user_id: user.id, membership_id: membership.id, scope_name })
}

/// An answered partner invitation: accepted only while the invited address still administers
/// the partner (the token is bound to that person), refused at any time.
async fn linked(
    conn: &mut Conn,
    link_id: &str,
    invitation: Invitation,
    answer: Answer,
    now: Timestamp,
) -> Result<Answered, CoreError> {
    let Some(link) = tenant_links::find(conn, link_id).await? else {
        return Err(InvitationError::UnknownToken.into());
    };
    let phase = match answer {
        Answer::Accept => {
            let partner = admin::partner_of(&link).to_owned();
            if !admin::read(conn, &partner, &invitation.email).await?.manages() {
                let email = invitation.email;
                return Err(InvitationError::NotPartnerAdmin { email, organization_id: partner }.into());
            }
            TenantLinkPhase::Active
        }
        Answer::Refuse => TenantLinkPhase::Rejected,
    };
    let link = tenant_links::set_phase(conn, link_id, phase, now).await?;
    Ok(Answered::TenantLink {
        answer,
        link_id: link.id,
        email: invitation.email,
        provider_organization: organizations::get(conn, &link.provider_organization_id).await?.name,
        tenant_organization: organizations::get(conn, &link.tenant_organization_id).await?.name,
    })
}
