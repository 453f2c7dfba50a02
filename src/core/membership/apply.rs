//! Carry out a [`MembershipPlan`] in one transaction: the user, the membership, the
//! invitation with its token hash and the outbox row of its mail commit together or not at all
//! (the invitation itself is [`invitation::issue`]'s).

use jiff::Timestamp;

use super::facts::{InvitationFacts, MembershipFacts};
use super::{Delivery, MembershipPlan, MembershipWrite, NOTICE_RELATED_TABLE, UserWrite};
use crate::api::Reason;
use crate::api::membership::MembershipPhase as ApiPhase;
use crate::core::db;
use crate::core::error::CoreError;
use crate::core::invitation::{self, Issue};
use crate::core::outcome::{Kind, Outcome};
use crate::core::plan::Plan;
use crate::mail::{self, MailContext, MailSettings, Template};
use crate::store::invitations::{self, Invitation, Subject};
use crate::store::memberships::{self, MembershipPhase, NewMembership};
use crate::store::outbox::{self, Mail, Related};
use crate::store::time::shown;
use crate::store::{Conn, ManagedTable, Store, ownership, users};

/// The rows a write made that the outcome reports.
#[derive(Debug, Clone, Default)]
pub(super) struct Written {
    membership_id: Option<String>,
    user_id: Option<String>,
    invitation: Option<(Invitation, Mail)>,
}

/// Execute `plan` in one transaction (nothing is opened for a plan that writes nothing).
pub async fn apply(
    store: &Store,
    plan: &MembershipPlan,
    now: Timestamp,
    mail: &MailSettings,
) -> Result<Outcome, CoreError> {
    if !plan.writes() {
        return Ok(outcome(plan, None));
    }
    let mut tx = store.begin().await?;
    let written = write(&mut tx, plan, now, mail).await?;
    db::commit(store, tx).await?;
    Ok(outcome(plan, written))
}

/// The writes of `plan` on `conn` (a transaction).
pub(super) async fn write(
    conn: &mut Conn,
    plan: &MembershipPlan,
    now: Timestamp,
    settings: &MailSettings,
) -> Result<Option<Written>, CoreError> {
    let table = ManagedTable::Memberships;
    match &plan.plan {
        Plan::Create { owner, write, .. } => {
            let user_id = user(conn, &write.user, now).await?;
            let new = NewMembership {
                user_id: user_id.clone(),
                scope: write.scope.clone(),
                settings: write.settings.clone(),
                phase: write.phase.unwrap_or(MembershipPhase::Pending),
                owner: Some(owner.clone()),
            };
            let row = memberships::insert(conn, &new, now).await?;
            let invitation = mails(conn, &row.id, write, now, settings).await?;
            Ok(Some(Written { membership_id: Some(row.id), user_id: Some(user_id), invitation }))
        }
        Plan::Update { id, reactivate, write, .. } => {
            correct(conn, id, *reactivate, write.as_ref(), now, settings).await
        }
        Plan::TakeOver { id, owner, reactivate, write, .. } => {
            ownership::adopt(conn, table, id, owner, now).await?;
            correct(conn, id, *reactivate, write.as_ref(), now, settings).await
        }
        Plan::Archive { id } => {
            invitation::withdraw(conn, &Subject::Membership(id.clone()), now).await?;
            memberships::revoke(conn, id, now).await?;
            ownership::release(conn, table, id, now).await?;
            Ok(None)
        }
        // Memberships have no orphaned state: detaching is letting go of the row.
        Plan::Orphan { id } | Plan::Release { id } => {
            ownership::release(conn, table, id, now).await?;
            Ok(None)
        }
        Plan::NoOp { .. } | Plan::Gone | Plan::Hold(_) => Ok(None),
    }
}

async fn correct(
    conn: &mut Conn,
    id: &str,
    reactivate: bool,
    write: Option<&MembershipWrite>,
    now: Timestamp,
    settings: &MailSettings,
) -> Result<Option<Written>, CoreError> {
    let Some(write) = write else { return Ok(None) };
    let phase = write.phase.unwrap_or(MembershipPhase::Pending);
    if reactivate {
        memberships::reinstate(conn, id, phase, now).await?;
    }
    let user_id = user(conn, &write.user, now).await?;
    if write.settings_changed {
        memberships::update(conn, id, &write.settings, now).await?;
    }
    if let (Some(phase), false) = (write.phase, reactivate) {
        memberships::set_phase(conn, id, phase, now).await?;
    }
    let invitation = mails(conn, id, write, now, settings).await?;
    Ok(Some(Written { membership_id: Some(id.to_owned()), user_id: Some(user_id), invitation }))
}

/// Insert or correct the person's user; returns its ID.
async fn user(conn: &mut Conn, write: &UserWrite, now: Timestamp) -> Result<String, CoreError> {
    Ok(match write {
        UserWrite::Insert(new) => users::insert(conn, new, now).await?.id,
        UserWrite::Update { id, update, reactivate } => {
            if *reactivate {
                users::reactivate(conn, id, now).await?;
            }
            users::update(conn, id, update, now).await?.id
        }
        UserWrite::Keep { id } => id.clone(),
    })
}

/// Revoke the invitation the plan retires, issue the new one with its mail, queue the notice.
async fn mails(
    conn: &mut Conn,
    membership_id: &str,
    write: &MembershipWrite,
    now: Timestamp,
    settings: &MailSettings,
) -> Result<Option<(Invitation, Mail)>, CoreError> {
    if let Some(old) = &write.revoke_invitation {
        invitations::revoke(conn, old, now).await?;
    }
    let facts = &write.mail;
    let letter = MailContext {
        recipient_name: facts.recipient_name.clone(),
        organization_name: facts.organization.clone(),
        roles: facts.roles.clone(),
        ..MailContext::default()
    };
    if write.notice {
        let related = Related { table: NOTICE_RELATED_TABLE.to_owned(), id: membership_id.to_owned() };
        let template = Template::ExistingUserNotice;
        let new = mail::compose(settings, template, facts.locale, &facts.to, &letter, related, membership_id);
        outbox::enqueue(conn, &new, now).await?;
    }
    let Some(invite) = &write.invite else { return Ok(None) };
    let new = Issue {
        subject: Subject::Membership(membership_id.to_owned()),
        email: facts.to.clone(),
        locale: invite.locale,
        expires_at: invite.expires_at,
        resend_nonce: invite.resend_nonce.clone(),
        letter,
    };
    let issued = invitation::issue(conn, new, now, settings).await?;
    Ok(Some((issued.invitation, issued.mail)))
}

/// The outcome of `plan` once written (`written` is `None` for a plan that wrote nothing).
pub(super) fn outcome(plan: &MembershipPlan, written: Option<Written>) -> Outcome {
    let written = written.unwrap_or_default();
    let mut facts = plan.facts.clone();
    if facts.membership_id.is_none() {
        facts.membership_id.clone_from(&written.membership_id);
    }
    if written.user_id.is_some() {
        facts.user_id.clone_from(&written.user_id);
    }
    if let Some((invitation, mail)) = &written.invitation {
        facts.invitation = Some(InvitationFacts::from_rows(invitation, Some(mail)));
    }
    let id = written.membership_id.or_else(|| plan.plan.id().map(str::to_owned));
    let mut outcome = plan.plan.outcome(Kind::Membership, id, None);
    if outcome.action.is_ready() {
        let (reason, message) = describe(plan, &facts);
        outcome.reason = reason;
        outcome.message = message;
    }
    outcome.requeue_at = plan.requeue_at.filter(|_| facts.phase == ApiPhase::Invited);
    outcome.facts = crate::core::facts::KindFacts::Membership(Box::new(facts));
    outcome
}

/// The `Ready` reason and message of a membership whose row is in place: its phase.
pub(crate) fn describe(plan: &MembershipPlan, facts: &MembershipFacts) -> (Reason, String) {
    let (email, scope) = (&plan.email, &plan.scope_name);
    let invitation = facts.invitation.as_ref();
    let expires = invitation.map(|i| shown(i.expires_at)).unwrap_or_default();
    match facts.phase {
        ApiPhase::Active => (Reason::Active, format!("{email} is an active member of {scope}")),
        ApiPhase::Invited => {
            let mail = match invitation.map(|i| &i.delivery) {
                Some(Delivery::Sent) => "delivered",
                Some(Delivery::Retrying { .. }) => "being retried",
                Some(Delivery::Dead { .. }) => "undeliverable",
                _ => "queued",
            };
            (
                Reason::Invited,
                format!("{email} is invited to {scope} (mail {mail}); the invitation expires at {expires}"),
            )
        }
        ApiPhase::Expired => (
            Reason::InvitationExpired,
            format!(
                "the invitation of {email} to {scope} expired at {expires} unaccepted; change \
                 spec.invitation.resendNonce to send a new one"
            ),
        ),
        ApiPhase::Failed => {
            let error = match invitation.map(|i| &i.delivery) {
                Some(Delivery::Dead { last_error }) => last_error.as_str(),
                _ => "delivery gave up",
            };
            (
                Reason::InvitationFailed,
                format!(
                    "the invitation mail to {email} could not be delivered ({error}); change \
                     spec.invitation.resendNonce to send a new one"
                ),
            )
        }
        ApiPhase::Pending | ApiPhase::Revoked => (Reason::Available, format!("membership of {email} in {scope}")),
    }
}
