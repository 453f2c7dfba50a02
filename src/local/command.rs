//! `accountops plan` and `accountops apply`: the command-line side of local mode.
//!
//! ```text
//! -f PATH… ─► read ─► validate (incl. annotations) ──problems──► print as `validate` does, exit 1
//!                            │ (the database is not opened, let alone created)
//!                            ▼
//!              connect ─► migrate? ─► engine::run(Plan | Apply) ─► text or JSON ─► exit code
//!                (database.rs)                    │ apply only
//!                                                 └─► deliver this run's mails into --mailbox DIR
//! ```
//!
//! Manifests are checked before anything else so a broken set never touches the database.
//! `plan` writes nothing, not even the schema: a database (or SQLite file) without one is
//! planned against an empty in-memory database, and an older schema is refused. `apply`
//! migrates only its own database (see [`super::database`]; `--migrate` for anyone else's).
//! `apply` delivers only the mails local mode queued under its `--cluster-id`: an operator's
//! pending invitations in a shared database are never written to the mailbox.
//!
//! Exit codes, as `kubectl apply` users expect them: `plan` 0 when every object could be
//! planned. `apply` 0 when everything was applied, even if some objects wait for something
//! outside this run: the `Waiting` holds (AccountNotReady, OrganizationNotReady,
//! PartnerNotFound, CodeSecretNotFound, CredentialsSecretNotFound, …), partner invitations not
//! answered yet (AwaitingAcceptance) and external provisioning systems that did not answer
//! (Unreachable, ServerError, RateLimited, CircuitOpen: the next `apply` pushes again). Their
//! table rows still say `READY False` and why, and the summary counts them ("N waiting for
//! something outside this run"). `apply` exits 1, after printing
//! everything, on errors, conflicts (CodeAlreadyUsed, an owned or immutable row), refused codes
//! (CodeUnknown, CodeExpired, CodeRevoked, ProviderDisabled), an external system that refused the sync
//! (Unauthorized, Forbidden, BadRequest…), an executed order whose product changed
//! (OrderImmutable), blocked deletions, rows to adopt, drift under observe-only, and rows in
//! place that are not usable (an expired or failed invitation, a rejected or expired partner
//! invitation); see [`engine::Entry::fails`]. Paused objects and Secrets (inputs) do not fail
//! a run.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use jiff::Timestamp;

use super::database;
use super::desired::DEFAULT_CLUSTER_ID;
use super::engine::{self, MailDelivery, Mode, Options};
use super::validate::Problem;
use super::{manifest, render, validate};
use crate::core::invitation::{self, Answer, InvitationKind};
use crate::mail::{Dispatcher, DispatcherConfig, Endpoint, MailSettings, Transport};
use crate::store::Store;
use crate::store::outbox::Origin;

/// The database local mode uses when none is given: a SQLite file in the working directory.
pub const DEFAULT_DATABASE: &str = "sqlite://accountops.db";
/// The sender of local mode's mails.
pub const LOCAL_FROM: &str = "accountops <noreply@localhost>";
/// The accept page invitation links point to when `--accept-url-base` is not given.
pub const DEFAULT_ACCEPT_URL_BASE: &str = "http://localhost/invitations/accept";
/// Where `apply` delivers mails when `--mailbox` is not given.
pub const DEFAULT_MAILBOX: &str = "./mailbox";

/// How to print the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people: a plan or a table, and a summary.
    Text,
    /// For scripts: `{"mode", "objects": [{kind, namespace, name, action, ready, id, changes…}], "summary"}`.
    Json,
}

/// What `plan --help` and `apply --help` say about the exit status.
pub const EXIT_STATUS_HELP: &str = "Exit status:\n  \
    plan   0 when every object could be planned, 1 otherwise.\n  \
    apply  0 when everything was applied, even if some objects wait for something outside this run\n         \
    (AccountNotReady, OrganizationNotReady, PartnerNotFound, CodeSecretNotFound,\n         \
    CredentialsSecretNotFound, a partner invitation awaiting acceptance, a provisioning system\n         \
    that did not answer: Unreachable, ServerError, RateLimited, CircuitOpen): they show READY\n         \
    False with the reason and are counted in the summary.\n         \
    1 on errors, conflicts (CodeAlreadyUsed, OrderImmutable…), refused codes (CodeUnknown,\n         \
    CodeExpired, CodeRevoked, ProviderDisabled), a provisioning system that refused the sync\n         \
    (Unauthorized, Forbidden, TlsError…), blocked deletions, rows to adopt, drift under observe-only and\n         \
    unusable invitations.\n  \
    Both exit 1 without touching the database when the manifests do not validate.";

/// The options `plan` and `apply` share.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = EXIT_STATUS_HELP)]
pub struct LocalArgs {
    /// Manifest file or directory (searched recursively for *.yaml and *.yml); repeatable.
    /// `-` reads standard input (`kustomize build | accountops apply -f -`).
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true, value_hint = clap::ValueHint::AnyPath)]
    pub paths: Vec<PathBuf>,
    /// Database URL: sqlite://PATH (created and migrated on first use) or
    /// postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database: String,
    /// Owner cluster recorded on the rows local mode manages; keep it the same between runs.
    #[arg(long, value_name = "ID", default_value = DEFAULT_CLUSTER_ID)]
    pub cluster_id: String,
    /// Archive the ProvisioningSync records, Accounts and Organizations, and revoke the
    /// TenantLinks and Memberships, local mode manages under this cluster ID that are no longer
    /// in the manifests (syncs first, then TenantLinks, Memberships, Organizations; an Account
    /// with live Organizations stays). A pruned sync leaves the external system as it is.
    #[arg(long)]
    pub prune: bool,
    /// The accept page of invitation links (memberships and partner invitations); the token is
    /// added as `?token=…`.
    #[arg(long, value_name = "URL", default_value = DEFAULT_ACCEPT_URL_BASE)]
    pub accept_url_base: String,
    /// Directory `apply` delivers mails into, one `.eml` file per mail (the file transport).
    /// Only mails local mode queued under this --cluster-id go there, never an operator's.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_MAILBOX)]
    pub mailbox: PathBuf,
    /// apply: upgrade the schema of a database local mode does not own. Local mode owns a
    /// database with no schema yet, or one whose managed rows and queued mails are all local
    /// mode's under this --cluster-id; anyone else's (an operator's rows or mail, rows nobody
    /// manages) it uses as it is, and refuses when its schema is older. plan never migrates.
    #[arg(long)]
    pub migrate: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Which SCIM endpoints `apply` may contact, and what one may cost (as `accountops run`).
    #[command(flatten)]
    pub scim: Box<crate::scim::ScimArgs>,
}

/// Run `plan` or `apply`; see the module documentation.
pub async fn run(args: LocalArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    let docs = manifest::read_documents(&args.paths).context("reading manifests")?;
    let (set, mut problems) = validate::validate(&docs);
    if !problems.is_empty() {
        report_problems(&mut problems);
        return Ok(ExitCode::FAILURE);
    }

    let mail = MailSettings::new(LOCAL_FROM, None, &args.accept_url_base)
        .context("--accept-url-base")?
        .with_origin(Origin::Local(args.cluster_id.clone()));
    let url = database_url(&args.database, mode);
    let store = database::open(&url, mode, &args.cluster_id, args.migrate).await?;
    let options = Options { cluster_id: args.cluster_id.clone(), prune: args.prune, mail, scim: args.scim.settings() };
    let mut report = engine::run(&store, &set, &options, mode, Timestamp::now()).await?;
    if mode == Mode::Apply {
        report.mail = Some(deliver(&store, &options.mail, &args.mailbox).await?);
    }
    store.close().await;

    let shown = match args.output {
        Output::Text if mode == Mode::Plan => render::plan_text(&report),
        Output::Text => render::apply_text(&report),
        Output::Json => format!("{:#}\n", render::json(&report)),
    };
    emit(&shown)?;
    let ok = match mode {
        Mode::Plan => report.entries.iter().all(|e| !matches!(e.status, engine::Status::Failed(_))),
        Mode::Apply => !report.entries.iter().any(engine::Entry::fails),
    };
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `accountops invitation accept TOKEN`: accept the invitation and print who is now active
/// where. Never creates a database; never prints the token.
pub async fn accept_invitation(database: &str, token: &str) -> anyhow::Result<ExitCode> {
    answer_invitation(database, InvitationKind::Membership, Answer::Accept, token).await
}

/// `accountops asset activate CODE`: what the customer portal does with a welcome mail's code.
pub async fn activate_asset(database: &str, code: &str) -> anyhow::Result<ExitCode> {
    let store = open_existing(database).await?;
    let activated = crate::core::sync::orders::activate(&store, code, Timestamp::now()).await;
    store.close().await;
    let asset = activated.context("cannot activate the asset")?;
    emit(&format!("activated: asset {} ({}, order {})\n", asset.id, asset.product, asset.order_name))?;
    Ok(ExitCode::SUCCESS)
}

/// `accountops tenants PROVIDER_ID`: a service provider's active tenants, a page at a time (the
/// provider's tenant management view; the web app runs the same query, docs/database.md).
pub async fn list_tenants(
    database: &str,
    provider_id: &str,
    json: bool,
    limit: u32,
    offset: u64,
) -> anyhow::Result<ExitCode> {
    let store = open_existing(database).await?;
    let page = async {
        let mut conn = store.acquire().await?;
        crate::store::tenants::page(&mut conn, provider_id, limit, offset).await
    }
    .await;
    store.close().await;
    let page = page.context("cannot list the tenants")?;
    emit(&super::tenants::render(&page, json))?;
    Ok(ExitCode::SUCCESS)
}

/// Opens a database that must already exist (a token refers to rows in it).
async fn open_existing(database: &str) -> anyhow::Result<Store> {
    if let Ok(target) = crate::store::url::parse(database)
        && let Some(file) = target.file
        && !file.exists()
    {
        anyhow::bail!("{} does not exist (run `accountops apply` first, or pass --database)", file.display());
    }
    let store = Store::connect(database).await.context("opening the database")?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// `accountops tenant-link accept|reject TOKEN`: what the partner's administrator does with the
/// invitation link.
pub async fn answer_partner_invitation(database: &str, token: &str, accept: bool) -> anyhow::Result<ExitCode> {
    let answer = if accept { Answer::Accept } else { Answer::Refuse };
    answer_invitation(database, InvitationKind::TenantLink, answer, token).await
}

/// Answer an invitation of `kind` and print what it did.
async fn answer_invitation(
    database: &str,
    kind: InvitationKind,
    answer: Answer,
    token: &str,
) -> anyhow::Result<ExitCode> {
    let store = open_existing(database).await?;
    let answered = invitation::answer(&store, kind, answer, token, Timestamp::now()).await;
    store.close().await;
    let what = match kind {
        InvitationKind::Membership => "the invitation",
        InvitationKind::TenantLink => "the partner invitation",
    };
    let verb = match answer {
        Answer::Accept => "accept",
        Answer::Refuse => "reject",
    };
    let answered = answered.with_context(|| format!("cannot {verb} {what}"))?;
    emit(&format!("{}\n", answered.summary()))?;
    Ok(ExitCode::SUCCESS)
}

/// Deliver every mail local mode queued under this cluster ID that is due into `mailbox`,
/// after the run committed it (claimed, so two runs at once never both write one). A mail that
/// cannot be written stays queued for the next `apply`.
async fn deliver(store: &Store, settings: &MailSettings, mailbox: &Path) -> anyhow::Result<MailDelivery> {
    let transport = Transport::new(Endpoint::File { dir: mailbox.to_path_buf() }).context("opening the mailbox")?;
    // A directory is no relay: no rate budget. Writing a file takes milliseconds, so a run
    // that dies mid-delivery holds its claims only briefly; a claim's sends are recorded in one
    // commit, not one per mail (thousands of mails on a first run).
    let config = DispatcherConfig {
        rate_per_minute: 0,
        claim_lease: std::time::Duration::from_secs(30),
        mark_together: true,
        ..DispatcherConfig::default()
    };
    let dispatcher = Dispatcher::new(store.clone(), transport, settings, config).context("mail settings")?;
    let done = dispatcher.deliver_due_once().await.context("delivering mail")?;
    Ok(MailDelivery {
        mailbox: mailbox.display().to_string(),
        sent: done.sent,
        retrying: done.retrying,
        dead: done.dead,
    })
}

/// Print to stdout; a reader that went away (`| head`) is not an error worth a panic.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing the output"),
        _ => Ok(()),
    }
}

/// Print problems exactly as `accountops validate` does.
fn report_problems(problems: &mut [Problem]) {
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    for p in problems.iter() {
        println!("{p}");
    }
    eprintln!("{} problem(s) found", problems.len());
}

/// The URL to open: a plan of a SQLite file that does not exist yet reads an empty in-memory
/// database, so planning creates no file.
pub fn database_url(url: &str, mode: Mode) -> String {
    if mode == Mode::Plan
        && let Ok(target) = crate::store::url::parse(url)
        && let Some(file) = target.file
        && !file.exists()
    {
        eprintln!("note: {} does not exist yet; planning against an empty database", file.display());
        return "sqlite::memory:".to_owned();
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_never_creates_a_sqlite_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("state.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(database_url(&url, Mode::Plan), "sqlite::memory:");
        assert_eq!(database_url(&url, Mode::Apply), url, "apply creates it");
        std::fs::write(&file, b"").expect("touch");
        assert_eq!(database_url(&url, Mode::Plan), url, "an existing file is read");
        let pg = "postgres://u:p@db.example/platform";
        assert_eq!(database_url(pg, Mode::Plan), pg);
    }
}
