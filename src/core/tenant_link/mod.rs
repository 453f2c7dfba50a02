//! TenantLink: a provider (or partner) organization linked to a tenant organization, made by
//! redeeming the provider's single-use code or by inviting a partner by its organization ID.
//!
//! ```text
//! DesiredTenantLink ──► observe(conn) ──► ObservedTenantLink ──► plan(now) ──► TenantLinkPlan ──► apply ──► Outcome
//! spec + code text      our org + roles,  code row by hash,       pure          link, code used,     one transaction
//! (from the Secret)     link row, partner org, invitations,                     invitation + mail,
//!                       derived memberships, members' users                     derived memberships
//! ```
//!
//! Who is the tenant: the organization whose data the other side sees and whose members the
//! provider staff become. Redeeming a code, ours is the tenant and the code's organization the
//! provider. Inviting a partner, ours is the tenant when the partner's role is `Partner` or
//! `ServiceProvider` (the partner sees our data, `sharingScope`), and the provider when it is
//! `Customer` (we serve the partner).
//!
//! | spec / rows | phase | what is written |
//! |---|---|---|
//! | code open | Active | link (accepted now) + code marked used, in one transaction |
//! | code unknown / used / expired / revoked, issuer no provider | – | nothing: `CodeUnknown`, `CodeAlreadyUsed`, `CodeExpired`, `CodeRevoked`, `ProviderDisabled` |
//! | partner ID unknown | – | nothing: `PartnerNotFound` (waits) |
//! | partner known | Pending | link + invitation (token hash) + PartnerInvitation mail; requeued at its expiry |
//! | invitation accepted (`accepted_at`) | Active | phase |
//! | invitation revoked by the web app (rejected) | Rejected | phase |
//! | invitation open, now ≥ `expires_at` | Expired | phase |
//! | Pending or Expired, new `resendNonce` | Pending | open invitation revoked + a fresh one + mail (daily limit: `ResendLimited`) |
//! | Active, `spec.members` | Active | memberships in the tenant (`memberships.tenant_link_id` = link) |
//! | member left the list, or link not active | – | its derived membership revoked |
//! | a member the provider placed (`serviceProvider.staff`) | Active | the row taken over: placed by the tenant, its role |
//! | deleted, `Delete` | Revoked | link revoked (kept, timestamped), derived memberships revoked, released |
//! | deleted, `Orphan` | – | released only |
//!
//! A partner invitation is issued and answered by [`invitation`](crate::core::invitation), as a
//! Membership's is. Once the link exists the code is not read again: the provider's Secret then
//! holds the provider's next code. Codes and tokens are hashed at once and never reach a plan, an
//! outcome or a log ([`CodeText`] and [`Token`](crate::core::tokens::Token) print redacted).

pub mod admin;
mod apply;
mod facts;
mod hold;
mod observe;
mod plan;

#[cfg(test)]
pub(crate) mod apply_tests;
#[cfg(test)]
mod partner_plan_tests;
#[cfg(test)]
mod plan_tests;

use jiff::Timestamp;

use super::error::CoreError;
use super::flags::Flags;
use super::membership::DEFAULT_INVITATIONS_PER_DAY;
use super::outcome::Outcome;
use super::plan::{Intent, Plan};
use super::provider_code::CodeText;
use crate::api::{DeletionPolicy, Locale, TenantLinkSpec};
use crate::mail::MailSettings;
use crate::store::Conn;
use crate::store::invitations::Invitation;
use crate::store::memberships::Membership;
use crate::store::organizations::Organization;
use crate::store::outbox::Mail;
use crate::store::provider_codes::ProviderCode;
use crate::store::roles::Role;
use crate::store::tenant_links::{LinkMode, LinkTerms, TenantLink, TenantLinkPhase};
use crate::store::users::User;
use crate::store::{Owner, Store};

pub(crate) use apply::{place, staff_settings};
pub use facts::TenantLinkFacts;
pub use hold::LinkHold;
pub use observe::{link_summary, observe};
pub use plan::plan;

/// Roles every tenant organization has for provider staff, besides its own.
pub const BUILTIN_MEMBER_ROLES: [&str; 3] = ["Admin", "Builder", "Consumer"];

/// A TenantLink object, as the shells hand it over.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredTenantLink {
    pub owner: Owner,
    pub intent: Intent<TenantLinkSpec>,
    pub flags: Flags,
    /// The provider code from `spec.providerCode.secretRef` (`None`: the Secret or key is
    /// missing, or the mode is a partner invitation).
    pub code: Option<CodeText>,
    /// At most this many partner invitations per link in any 24 hours (`resendNonce` changes
    /// beyond it wait with `ResendLimited`); the same limit as a Membership's.
    pub invitations_per_day: u32,
}

impl DesiredTenantLink {
    /// An object with its spec; `deleting` when `metadata.deletionTimestamp` is set; `code` is
    /// the text of the referenced Secret key, when there is one.
    pub fn new(owner: Owner, spec: TenantLinkSpec, deleting: bool, flags: Flags, code: Option<&str>) -> Self {
        let policy = spec.deletion_policy;
        let code = code.and_then(CodeText::new);
        DesiredTenantLink {
            owner,
            intent: Intent::new(spec, deleting, policy),
            flags,
            code,
            invitations_per_day: DEFAULT_INVITATIONS_PER_DAY,
        }
    }

    /// The same with another daily invitation limit (at least 1).
    pub fn with_invitations_per_day(self, limit: u32) -> DesiredTenantLink {
        DesiredTenantLink { invitations_per_day: limit.max(1), ..self }
    }

    /// An object that is gone and whose spec is not at hand (local `--prune`).
    pub fn deleted(owner: Owner, policy: DeletionPolicy, flags: Flags) -> Self {
        DesiredTenantLink {
            owner,
            intent: Intent::Deleting(policy),
            flags,
            code: None,
            invitations_per_day: DEFAULT_INVITATIONS_PER_DAY,
        }
    }
}

/// A provider employee named in `spec.members`, with what the database has for the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub email: String,
    pub role: String,
    pub user: Option<User>,
    /// The user's live membership in the tenant organization, if any (derived or not).
    pub live: Option<Membership>,
}

/// What the database holds for a TenantLink object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedTenantLink {
    /// Our Organization (`organizationRef`, same namespace) and its roles.
    pub organization: Option<Organization>,
    pub roles: Vec<Role>,
    /// The link owned by this object's UID, else by its namespace/name.
    pub row: Option<TenantLink>,
    /// The link the external-id annotation names.
    pub external: Option<TenantLink>,
    /// The platform offered `external` to this namespace (`import_offers`).
    pub offered: bool,
    /// Mode 1, no link yet: the code with the given text's hash.
    pub code: Option<ProviderCode>,
    /// The other organization: the code's, the partner's (by ID), or the link's counterpart.
    pub counterpart: Option<Organization>,
    /// The tenant's roles when the tenant is the counterpart (a `Customer` partner).
    pub counterpart_roles: Vec<Role>,
    /// A new partner invitation: what the partner organization says about `adminEmail`.
    pub partner_admin: admin::PartnerAdmin,
    /// Invitations of the link, oldest first.
    pub invitations: Vec<Invitation>,
    /// The outbox mail of the latest invitation.
    pub invitation_mail: Option<Mail>,
    /// Live memberships the link's `spec.members` placed, with their users' e-mail addresses.
    pub derived: Vec<(Membership, String)>,
    /// Live memberships the provider placed through the link (its `serviceProvider.staff`).
    pub provider_staff: Vec<(Membership, String)>,
    /// `spec.members`, each with its user and live tenant membership.
    pub members: Vec<MemberState>,
}

/// What to do for a TenantLink, and what its status will say once done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLinkPlan {
    pub plan: Plan<LinkWrite>,
    pub facts: TenantLinkFacts,
    /// Reconcile again at this time at the latest: an open invitation's expiry.
    pub requeue_at: Option<Timestamp>,
    /// Spec members that could not be placed (already members of the tenant otherwise).
    pub skipped_members: Vec<String>,
}

impl TenantLinkPlan {
    pub fn writes(&self) -> bool {
        self.plan.writes()
    }
}

/// The writes that bring the platform to a TenantLink spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkWrite {
    /// For a new link: which organization is which and how it is made.
    pub provider_organization_id: String,
    pub tenant_organization_id: String,
    pub mode: LinkMode,
    pub terms: LinkTerms,
    pub terms_changed: bool,
    /// Mode 1, new link: redeem the code with this hash in the same transaction.
    pub redeem: Option<String>,
    /// Mode 2: revoke this open invitation (a new `resendNonce` replaces it).
    pub revoke_invitation: Option<String>,
    /// Mode 2: invite the partner's administrator (a new link, or a new `resendNonce`).
    pub invite: Option<PartnerInvite>,
    /// The phase to record, when it moves (always set for a new link).
    pub phase: Option<TenantLinkPhase>,
    /// Derived memberships to add, re-role and revoke.
    pub members: Vec<MemberOp>,
}

/// A partner invitation to issue; its token is made when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerInvite {
    pub email: String,
    pub locale: Locale,
    pub expires_at: Timestamp,
    /// The `spec.partnerInvitation.resendNonce` it answers.
    pub resend_nonce: Option<String>,
    /// Names for the mail: inviter (our organization) and the partner roles.
    pub inviter: String,
    pub roles: Vec<String>,
}

/// One change to the provider staff in the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// A new derived membership (and the user, when `user_id` is `None`).
    Add { email: String, user_id: Option<String>, role: String },
    /// The derived membership's role differs from the spec.
    Role { membership_id: String, email: String, role: String },
    /// The provider placed the person through this link; the tenant's entry takes the row
    /// over (placed by the tenant from now on, with the tenant's role).
    Claim { membership_id: String, email: String, role: String },
    /// Revoke the derived membership (left the list, or the link is not active).
    Revoke { membership_id: String, email: String },
}

/// Observe, plan and apply one TenantLink object; the link, the code, the invitation, its mail
/// and the derived memberships are written in one transaction.
pub async fn reconcile(
    store: &Store,
    desired: &DesiredTenantLink,
    now: Timestamp,
    mail: &MailSettings,
) -> Result<Outcome, CoreError> {
    let run = Run { desired, mail: mail.for_namespace(&desired.owner.namespace) };
    crate::core::engine::reconcile(store, &run, now).await
}

/// The same in the caller's transaction.
pub async fn reconcile_in(
    conn: &mut Conn,
    desired: &DesiredTenantLink,
    now: Timestamp,
    mail: &MailSettings,
) -> Result<Outcome, CoreError> {
    let run = Run { desired, mail: mail.for_namespace(&desired.owner.namespace) };
    crate::core::engine::reconcile_in(conn, &run, now).await
}

/// One TenantLink object with the settings of the partner invitation mail.
struct Run<'a> {
    desired: &'a DesiredTenantLink,
    mail: MailSettings,
}

impl crate::core::engine::Reconcile for Run<'_> {
    type Observed = ObservedTenantLink;
    type Planned = TenantLinkPlan;
    type Written = Option<apply::Written>;

    async fn observe(&self, conn: &mut Conn) -> Result<ObservedTenantLink, CoreError> {
        observe(conn, self.desired).await
    }

    fn plan(&self, observed: &ObservedTenantLink, now: Timestamp) -> TenantLinkPlan {
        plan(self.desired, observed, now)
    }

    fn writes(planned: &TenantLinkPlan) -> bool {
        planned.writes()
    }

    async fn write(
        &self,
        conn: &mut Conn,
        planned: &TenantLinkPlan,
        now: Timestamp,
    ) -> Result<Option<apply::Written>, CoreError> {
        apply::write(conn, planned, now, &self.mail).await
    }

    fn outcome(
        &self,
        planned: &TenantLinkPlan,
        _: &ObservedTenantLink,
        written: Option<Option<apply::Written>>,
    ) -> Outcome {
        apply::outcome(planned, written.flatten())
    }
}
