//! The pure part: spec + observed rows + the time → [`MembershipPlan`].
//!
//! Order of questions: which row (the shared ownership rules), is the scope ready, did an
//! immutable field move, do its roles and groups exist, then what the person needs (the
//! lifecycle table in the module documentation). Every write shows as a [`Change`], so a
//! plan that changes nothing is a `NoOp` and a steady state writes nothing.

use jiff::{SignedDuration, Timestamp};

use super::facts::{InvitationFacts, MembershipFacts, Milestone, api_phase};
use super::settings;
use super::{DesiredMembership, Invite, MailFacts, MembershipPlan, MembershipWrite, ObservedMembership, ScopeRow};
use crate::api::MembershipSpec;
use crate::api::membership::MembershipPhase as ApiPhase;
use crate::core::invitation::{self, State};
use crate::core::outcome::{Change, Children};
use crate::core::plan::{self, Hold, Plan, Route, RowRef, Subject, Target, Work};
use crate::store::accounts::LifecycleState;
use crate::store::invitations::Invitation;
use crate::store::memberships::{Membership, MembershipPhase};
use crate::store::outbox::MailState;
use crate::store::users::User;

/// The lifetime used when a spec's cannot be read (the CRD and `validate` reject those).
const DEFAULT_LIFETIME: SignedDuration = SignedDuration::from_hours(7 * 24);

/// Decide what to do for one Membership object at `now`. Pure: same input, same plan.
pub fn plan(desired: &DesiredMembership, observed: &ObservedMembership, now: Timestamp) -> MembershipPlan {
    let subject = Subject::new(&desired.owner, &desired.flags, &desired.intent);
    let importing = desired.flags.external_id.is_some();
    let spec = desired.intent.spec();
    let email = spec.map(|s| s.email.as_str().to_owned()).unwrap_or_default();
    let scope_name = observed.scope.as_ref().map(|s| s.name().to_owned()).unwrap_or_default();
    let held = |plan| MembershipPlan {
        plan,
        facts: observed_facts(observed, observed.focus(importing)),
        requeue_at: None,
        email: email.clone(),
        scope_name: scope_name.clone(),
    };
    let (row, external) = (observed.row.as_ref(), observed.external.as_ref());
    let sync = match plan::route(subject, row.map(row_ref), external.map(|e| row_ref(e).offered(observed.offered))) {
        Route::Gone => return held(Plan::Gone),
        Route::Hold(hold) => return held(Plan::Hold(hold)),
        Route::Delete { id, policy } => {
            let planned = plan::delete(subject, policy, &id, Children::default());
            let mut out = held(planned);
            if matches!(out.plan, Plan::Archive { .. }) {
                out.facts.phase = ApiPhase::Revoked;
                out.facts.milestone = Some(Milestone::Revoked);
            }
            return out;
        }
        Route::Work(Work::Create) => None,
        Route::Work(Work::Sync { target, claim }) => {
            let found = match target {
                Target::Row => row,
                Target::External => external,
            };
            // route() only syncs a row it was given.
            let Some(m) = found else { return held(Plan::Gone) };
            Some((claim, m))
        }
    };
    // route() works only while the intent is Present.
    let Some(spec) = spec else { return held(Plan::Gone) };
    let scope = match ready_scope(spec, observed.scope.as_ref()) {
        Ok(scope) => scope,
        Err(hold) => return held(Plan::Hold(hold)),
    };
    let current = sync.as_ref().map(|(_, m)| *m);
    if let Some(m) = current
        && let Some(hold) = settings::immutable(m, scope, observed.user.as_ref(), observed.row_user.as_ref(), spec)
    {
        return held(Plan::Hold(hold));
    }
    if let Some(hold) = settings::missing_in_scope(spec, scope, &scope_label(spec)) {
        return held(Plan::Hold(hold));
    }

    let invitations: &[Invitation] = if current.is_some() { &observed.invitations } else { &[] };
    let notice_queued = current.is_some() && observed.notice_queued;
    let life = lifecycle(spec, observed.user.as_ref(), invitations, observed, notice_queued, now);
    if life.invite.is_some()
        && let Some(until) = invitation::resend_limited(invitations, desired.invitations_per_day, now)
    {
        let mut out = held(Plan::Hold(Hold::ResendLimited { limit: desired.invitations_per_day, until }));
        out.requeue_at = Some(until);
        return out;
    }
    let (user, mut changes) = settings::user(spec, observed.user.as_ref(), life.grant_login);
    let wanted = settings::desired(spec);
    changes.extend(settings::changes(current.map(|m| &m.settings), &wanted));
    let settings_changed = current.is_none_or(|m| !settings::changes(Some(&m.settings), &wanted).is_empty());
    let phase_now = current.map(|m| m.phase);
    let phase = (phase_now != Some(life.phase)).then_some(life.phase);
    if phase.is_some() {
        changes.push(Change::new("phase", phase_now.map(|p| p.as_str().to_owned()), Some(life.phase.to_string())));
    }
    changes.extend(life.changes);
    // A milestone is news only when the phase moves or an invitation is issued.
    let issued = life.invite.is_some() || life.notice;
    let milestone = life.milestone.filter(|_| phase.is_some() || issued);
    let facts = MembershipFacts {
        phase: api_phase(life.phase),
        user_id: user.id().map(str::to_owned),
        membership_id: current.map(|m| m.id.clone()),
        invitation: life.invitation,
        milestone,
    };
    let write = MembershipWrite {
        scope: scope.scope(),
        user,
        settings: wanted.clone(),
        settings_changed,
        phase,
        revoke_invitation: life.revoke,
        invite: life.invite,
        notice: life.notice,
        mail: MailFacts {
            to: email.clone(),
            recipient_name: spec.display_name.clone(),
            organization: scope.name().to_owned(),
            roles: wanted.roles.clone(),
            locale: spec.invitation.locale,
        },
    };
    let planned = match sync {
        Some((claim, m)) => plan::sync(subject, &m.id, row_state(m), claim, Some(write), changes),
        None => plan::create(subject, write, changes),
    };
    MembershipPlan { plan: planned, facts, requeue_at: life.requeue_at, email, scope_name }
}

fn row_ref(m: &Membership) -> RowRef<'_> {
    RowRef::new(&m.id, m.owner.as_ref(), row_state(m))
}

/// A revoked membership is, to the ownership rules, an archived row.
fn row_state(m: &Membership) -> LifecycleState {
    if m.phase == MembershipPhase::Revoked { LifecycleState::Archived } else { LifecycleState::Active }
}

/// How messages name the scope object: `Organization acme-engineering`.
fn scope_label(spec: &MembershipSpec) -> String {
    match (&spec.organization_ref, &spec.account_ref) {
        (Some(org), _) => format!("Organization {}", org.name),
        (None, Some(account)) => format!("Account {}", account.name),
        (None, None) => "its scope".to_owned(),
    }
}

/// The scope row, when it is active; else why the membership waits.
fn ready_scope<'a>(spec: &MembershipSpec, scope: Option<&'a ScopeRow>) -> Result<&'a ScopeRow, Hold> {
    let detail = |what: &str| match scope {
        Some(s) => format!("its {what} {} is {}", s.id(), s.state()),
        None => format!("it has no platform {what} yet (is the {what} object in this namespace and Ready?)"),
    };
    match scope {
        Some(s) if s.state() == LifecycleState::Active => Ok(s),
        _ => match (&spec.organization_ref, &spec.account_ref) {
            (None, Some(account)) => {
                Err(Hold::AccountNotReady { account: account.name.to_string(), detail: detail("account") })
            }
            (Some(org), _) => {
                Err(Hold::OrganizationNotReady { organization: org.name.to_string(), detail: detail("organization") })
            }
            (None, None) => Err(Hold::OrganizationNotReady {
                organization: String::new(),
                detail: "the spec names neither organizationRef nor accountRef".to_owned(),
            }),
        },
    }
}

/// Where the person stands and what moves them on.
struct Lifecycle {
    phase: MembershipPhase,
    revoke: Option<String>,
    invite: Option<Invite>,
    notice: bool,
    grant_login: bool,
    milestone: Option<Milestone>,
    changes: Vec<Change>,
    invitation: Option<InvitationFacts>,
    requeue_at: Option<Timestamp>,
}

impl Lifecycle {
    fn at(phase: MembershipPhase, milestone: Milestone) -> Lifecycle {
        Lifecycle {
            phase,
            revoke: None,
            invite: None,
            notice: false,
            grant_login: false,
            milestone: Some(milestone),
            changes: Vec::new(),
            invitation: None,
            requeue_at: None,
        }
    }

    /// Revoke `open` (it is no longer the way in).
    fn revoking(mut self, open: Option<&Invitation>, now: Timestamp) -> Lifecycle {
        if let Some(open) = open {
            self.revoke = Some(open.id.clone());
            self.changes.push(Change::new(
                "invitation",
                Some(invitation::state(open, now).as_str().to_owned()),
                Some("revoked".into()),
            ));
        }
        self
    }
}

/// The lifecycle table of the module documentation. `invitations` are the row's (none for a
/// new row), oldest first.
fn lifecycle(
    spec: &MembershipSpec,
    user: Option<&User>,
    invitations: &[Invitation],
    observed: &ObservedMembership,
    notice_queued: bool,
    now: Timestamp,
) -> Lifecycle {
    let open = invitation::unanswered(invitations, now);
    let accepted = invitation::accepted(invitations, now);
    let latest_facts = || Some(InvitationFacts::from_rows(invitations.last()?, observed.invitation_mail.as_ref()));
    if !spec.login {
        return Lifecycle::at(MembershipPhase::Active, Milestone::Recorded).revoking(open, now);
    }
    if accepted.is_some() {
        let mut life = Lifecycle::at(MembershipPhase::Active, Milestone::Accepted).revoking(open, now);
        life.grant_login = true;
        life.invitation = latest_facts();
        return life;
    }
    if user.is_some_and(|u| u.has_login) {
        // Seed 002: never a second login for an address that has one; a notice instead.
        let mut life = Lifecycle::at(MembershipPhase::Active, Milestone::Linked).revoking(open, now);
        if !notice_queued {
            life.notice = true;
            life.changes.push(Change::new("mail", None, Some("existing-user notice".into())));
        }
        life.invitation = latest_facts();
        return life;
    }
    let nonce = spec.invitation.resend_nonce.as_deref();
    let Some(open) = open.filter(|o| o.resend_nonce.as_deref() == nonce) else {
        // No invitation yet (or none open any more), or a new nonce: a fresh one.
        let milestone = if open.is_some() { Milestone::Resent } else { Milestone::Invited };
        let mut life = Lifecycle::at(MembershipPhase::Invited, milestone);
        life.revoke = open.map(|o| o.id.clone());
        let lifetime = spec.invitation.lifetime.to_duration().and_then(|d| SignedDuration::try_from(d).ok());
        let expires_at = now.checked_add(lifetime.unwrap_or(DEFAULT_LIFETIME)).unwrap_or(Timestamp::MAX);
        let locale = spec.invitation.locale;
        let from = open.map(|o| invitation::state(o, now).as_str().to_owned());
        let verb = if open.is_some() { "re-sent" } else { "new" };
        let to = format!("{verb} ({}, {})", locale.as_str(), spec.invitation.lifetime);
        life.changes.push(Change::new("invitation", from, Some(to)));
        life.invite = Some(Invite { locale, expires_at, resend_nonce: nonce.map(str::to_owned) });
        life.invitation = Some(InvitationFacts::queued(expires_at));
        life.requeue_at = Some(expires_at);
        return life;
    };
    let dead = observed
        .invitation_mail
        .as_ref()
        .is_some_and(|m| m.state == MailState::Dead && m.related.as_ref().is_some_and(|r| r.id == open.id));
    let mut life = if dead {
        Lifecycle::at(MembershipPhase::Failed, Milestone::Failed)
    } else if let State::Expired { .. } = invitation::state(open, now) {
        Lifecycle::at(MembershipPhase::Expired, Milestone::Expired)
    } else {
        let mut life = Lifecycle::at(MembershipPhase::Invited, Milestone::Invited);
        life.milestone = None;
        life.requeue_at = Some(open.expires_at);
        life
    };
    life.invitation = latest_facts();
    life
}

/// Facts from the rows alone, for plans that hold, delete or find nothing to do.
fn observed_facts(observed: &ObservedMembership, focus: Option<&Membership>) -> MembershipFacts {
    let invitation = focus
        .and_then(|_| observed.invitations.last())
        .map(|latest| InvitationFacts::from_rows(latest, observed.invitation_mail.as_ref()));
    MembershipFacts {
        phase: focus.map_or(ApiPhase::Pending, |m| api_phase(m.phase)),
        user_id: focus.map(|m| m.user_id.clone()).or_else(|| observed.user.as_ref().map(|u| u.id.clone())),
        membership_id: focus.map(|m| m.id.clone()),
        invitation: focus.filter(|m| m.settings.login).and(invitation),
        milestone: None,
    }
}
