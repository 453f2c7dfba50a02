//! Issuing an invitation in the caller's transaction: the token, its hash in a new
//! `invitations` row, and the mail with the accept link in the outbox, together or not at all.
//! Also withdrawing the open one when its subject goes.

use jiff::Timestamp;

use crate::api::Locale;
use crate::core::error::CoreError;
use crate::core::tokens::Token;
use crate::mail::{self, MailContext, MailSettings, Template};
use crate::store::Conn;
use crate::store::invitations::{self, Invitation, InvitationKind, NewInvitation, Subject};
use crate::store::outbox::{self, Mail, Related};

/// An invitation to issue: to whom, for what, and what its mail says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub subject: Subject,
    pub email: String,
    pub locale: Locale,
    pub expires_at: Timestamp,
    /// The subject's re-send nonce it answers (Membership `spec.invitation.resendNonce`).
    pub resend_nonce: Option<String>,
    /// What the mail shows besides the accept link and the expiry, which [`issue`] fills in.
    pub letter: MailContext,
}

/// What an issued invitation left in the database, for the kind's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub invitation: Invitation,
    /// The queued mail (the dispatcher records its Message-ID and `sent_at` once delivered).
    pub mail: Mail,
}

/// The mail an invitation of `kind` goes out as.
fn template(kind: InvitationKind) -> Template {
    match kind {
        InvitationKind::Membership => Template::Invitation,
        InvitationKind::TenantLink => Template::PartnerInvitation,
    }
}

/// Issue `new` on `conn` (a transaction): a fresh token, only its hash stored, the mail with
/// its accept link queued. The token is dropped once the mail is rendered.
pub async fn issue(conn: &mut Conn, new: Issue, now: Timestamp, settings: &MailSettings) -> Result<Issued, CoreError> {
    let token = Token::generate()?;
    let row = NewInvitation {
        subject: new.subject,
        email: new.email,
        token_hash: token.hash(),
        locale: new.locale.as_str().to_owned(),
        expires_at: new.expires_at,
        resend_nonce: new.resend_nonce,
    };
    let invitation = invitations::insert(conn, &row, now).await?;
    let letter = MailContext {
        accept_url: Some(settings.accept_url(token.expose())),
        expires_at: Some(new.expires_at),
        ..new.letter
    };
    drop(token);
    let related = Related { table: invitations::TABLE.to_owned(), id: invitation.id.clone() };
    let template = template(invitation.subject.kind());
    let mail = mail::compose(settings, template, new.locale, &invitation.email, &letter, related, &invitation.id);
    let mail = outbox::enqueue(conn, &mail, now).await?.mail().clone();
    Ok(Issued { invitation, mail })
}

/// Revoke `subject`'s unanswered invitation, if any: the link in a mail not yet used stops
/// working with the membership or link it was for.
pub async fn withdraw(conn: &mut Conn, subject: &Subject, now: Timestamp) -> Result<(), CoreError> {
    if let Some(open) = invitations::find_open(conn, subject).await? {
        invitations::revoke(conn, &open.id, now).await?;
    }
    Ok(())
}
