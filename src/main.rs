//! The `accountops` command line: the operator, local mode and the tools around them.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueHint};

use accountops::api;
use accountops::local::command::LocalArgs;
use accountops::local::engine::Mode;
use accountops::local::{command, manifest, validate};
use accountops::logs;
use accountops::operator;
use accountops::store::Store;

/// Manage a multi-tenant platform's billing accounts, organizations, members, tenant links and
/// provisioning syncs as Kubernetes resources.
#[derive(Parser)]
#[command(name = "accountops", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the `run` variant's flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions of all five kinds as YAML, or write one file per CRD.
    Crds {
        /// Write `<plural>.accountops.dev.yaml` files into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Check manifests the way the apiserver would (metadata, schema and CEL rules) plus the
    /// references between them; print every problem as `file:line: Kind/namespace/name: field:
    /// message`. Exits 1 when there is a problem.
    Validate {
        /// Manifest file or directory (searched recursively for *.yaml and *.yml); repeatable.
        /// `-` reads standard input (`kustomize build | accountops validate -f -`), reported as
        /// `<stdin>:LINE`.
        #[arg(short = 'f', long = "filename", value_name = "PATH", required = true, value_hint = ValueHint::AnyPath)]
        paths: Vec<PathBuf>,
        /// Output format: `text`, or `json` for scripts: {"valid", "documents", "objects",
        /// "problems": [{"file", "line", "object", "field", "message"}]}.
        #[arg(short = 'o', long, value_enum, default_value_t = validate::Format::Text)]
        output: validate::Format,
    },
    /// Print a shell completion script. Bash: `source <(accountops completion bash)` (in
    /// ~/.bashrc); zsh: save it as `_accountops` in a directory on $fpath; fish: save it as
    /// ~/.config/fish/completions/accountops.fish.
    Completion {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Create or upgrade the platform database schema (migrations are embedded in the binary;
    /// running them again is harmless).
    Migrate {
        /// Database URL: postgres://USER:PASSWORD@HOST/DB, sqlite://PATH or sqlite::memory:.
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
    },
    /// Show what `apply` would do: per Account, Organization, Membership, TenantLink and
    /// ProvisioningSync, create, update or archive, field by field, against the database.
    /// Writes nothing and contacts no external provisioning system.
    Plan(LocalArgs),
    /// Reconcile the manifests' Accounts, Organizations, Memberships, TenantLinks and
    /// ProvisioningSyncs into the database (a sync also pushes to its external system), deliver
    /// invitation mails to the mailbox, and print a table of the outcomes; running it again on
    /// unchanged manifests changes nothing.
    Apply(LocalArgs),
    /// Invitations by mail: accept one with its token, as the platform's web app does.
    #[command(subcommand)]
    Invitation(InvitationCommand),
    /// Partner invitations between organizations: accept or reject one with its token, as the
    /// partner's administrator does in the platform's web app.
    #[command(subcommand)]
    TenantLink(TenantLinkCommand),
    /// Assets created by ProvisioningSync orders: redeem a welcome mail's activation code, as
    /// the customer portal does.
    #[command(subcommand)]
    Asset(AssetCommand),
    /// A service provider's active tenants from the database, a page at a time: organization,
    /// account, when it joined, how (code or partner invitation), granted roles, members, staff
    /// the provider placed, and synced accounts (the provider's tenant management view).
    Tenants {
        /// The provider organization's platform ID (`status.organizationId`).
        #[arg(value_name = "PROVIDER_ID")]
        provider: String,
        /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = TableOrJson::Text)]
        output: TableOrJson,
        /// Tenants per page (1 to 1000), oldest link first.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Tenants to skip (the page's start).
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Show an object as a tree: its Account, Organizations, Memberships, TenantLinks and
    /// ProvisioningSyncs with Ready, Synced, reason and age, from the cluster or (with -f) from
    /// manifests planned against a database.
    Trace(accountops::trace::TraceArgs),
    /// Run the operator: reconcile accountops objects from the cluster into the platform database.
    Run {
        /// Database URL: postgres://USER:PASSWORD@HOST/DB or sqlite://PATH.
        #[arg(long, env = "DATABASE_URL")]
        database: String,
        /// Watch only these namespaces (comma-separated or repeated; default: all namespaces).
        #[arg(long, env = "WATCH_NAMESPACE", value_delimiter = ',', value_name = "NAMESPACE")]
        namespace: Vec<String>,
        /// Identity recorded as the owner of every row (default: the kube-system namespace's UID).
        #[arg(long, env = "ACCOUNTOPS_CLUSTER_ID")]
        cluster_id: Option<String>,
        /// How often converged objects are compared with the database again to correct drift.
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        resync: Duration,
        /// Reconciles running at once per kind; they share the database pool.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: u16,
        /// Database connections at most (default: 10 for PostgreSQL, 4 for an SQLite file).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        database_max_connections: Option<u32>,
        /// How long a reconcile waits for a free database connection before it fails and is
        /// retried.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        database_acquire_timeout: Duration,
        /// PostgreSQL statement_timeout of every connection (default: the server's).
        #[arg(long, value_parser = parse_duration)]
        database_statement_timeout: Option<Duration>,
        /// Do not run the embedded migrations at start-up.
        #[arg(long)]
        no_migrate: bool,
        /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster).
        #[arg(long, env = "KUBECONFIG")]
        kubeconfig: Option<PathBuf>,
        /// Log format.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Address of /healthz, /readyz, /leader and /metrics; `off` to serve none.
        #[arg(long, env = "HEALTH_ADDR", default_value = "0.0.0.0:8080")]
        health_addr: String,
        /// Reconcile only while holding a Lease, so several replicas can run.
        #[arg(long, env = "LEADER_ELECTION")]
        leader_election: bool,
        /// Name of the leader Lease.
        #[arg(long, default_value = "accountops-leader")]
        lease_name: String,
        /// Namespace of the leader Lease (in a pod: its own namespace). Without it, the one
        /// watched namespace; with several, it must be given.
        #[arg(long, env = "POD_NAMESPACE")]
        lease_namespace: Option<String>,
        /// How long the lease stays valid without renewal; a standby takes over after it.
        #[arg(long, default_value = "15s", value_parser = parse_duration)]
        lease_duration: Duration,
        #[command(flatten)]
        mail: MailArgs,
        #[command(flatten)]
        scim: Box<accountops::scim::ScimArgs>,
    },
}

use accountops::local::command::DEFAULT_DATABASE;

#[derive(Subcommand)]
enum InvitationCommand {
    /// Accept an invitation: the membership becomes Active and the person gets a login. A token
    /// works once; an unknown, used, revoked or expired one fails and changes nothing.
    Accept {
        /// The token from the invitation mail's link (or the whole link). A token may start
        /// with `-`; it is still read as the token.
        #[arg(value_name = "TOKEN", allow_hyphen_values = true)]
        token: String,
        /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
    },
}

/// How `tenants` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
enum TableOrJson {
    /// A table, one tenant a row.
    Text,
    /// A JSON array, one object a tenant.
    Json,
}

#[derive(Subcommand)]
enum AssetCommand {
    /// Activate an asset with the code from its welcome mail. A code works once and expires 30
    /// days after the order executed; an unknown, used, expired or archived one fails and
    /// changes nothing.
    Activate {
        /// The activation code from the welcome mail. A code may start with `-`.
        #[arg(value_name = "CODE", allow_hyphen_values = true)]
        code: String,
        /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
    },
}

#[derive(Subcommand)]
enum TenantLinkCommand {
    /// Accept a partner invitation: the link becomes Active. A token works once.
    Accept {
        /// The token from the invitation mail's link (or the whole link).
        #[arg(value_name = "TOKEN", allow_hyphen_values = true)]
        token: String,
        /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
    },
    /// Reject a partner invitation: the link becomes Rejected.
    Reject {
        /// The token from the invitation mail's link (or the whole link).
        #[arg(value_name = "TOKEN", allow_hyphen_values = true)]
        token: String,
        /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
    },
}

/// How the operator sends mail.
#[derive(clap::Args)]
struct MailArgs {
    /// Mail relay: smtp://[USER:PASS@]HOST:PORT (STARTTLS; ?tls=none for plain), smtps://HOST:PORT
    /// (implicit TLS) or file://DIR. Without it, mails wait in the outbox.
    #[arg(long, env = "SMTP_URL")]
    smtp_url: Option<String>,
    /// The From of every mail.
    #[arg(long, env = "MAIL_FROM", default_value = "accountops <noreply@localhost>")]
    mail_from: String,
    /// An optional Reply-To.
    #[arg(long, env = "MAIL_REPLY_TO")]
    mail_reply_to: Option<String>,
    /// The platform's page that accepts invitations; the token is appended as ?token=.
    #[arg(long, env = "ACCEPT_URL_BASE", default_value = "http://localhost/invitations/accept")]
    accept_url_base: String,
    /// Mails per minute the relay accepts from us (0: no limit); namespaces with mail waiting
    /// share it in turns.
    #[arg(long, default_value_t = 600)]
    mail_rate_per_minute: u32,
    /// Permanent refusals (5xx replies) before a mail is given up (dead letter, reported on its
    /// object). Other failures (connection refused, timeouts, 4xx) do not count: see
    /// --mail-max-age.
    #[arg(long, default_value_t = 5)]
    mail_max_attempts: u32,
    /// A mail not delivered within this age of being queued is given up (30m, 12h, 3d).
    #[arg(long, default_value = "3d", value_parser = parse_duration)]
    mail_max_age: Duration,
    /// The delay after a mail's first failed attempt; it doubles per failure.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    mail_retry_base: Duration,
    /// The longest delay between a mail's attempts.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    mail_retry_max: Duration,
    /// How long a sender holds the mails it claimed; after a crash they go out again (same
    /// Message-ID) once it runs out.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    mail_claim_lease: Duration,
    /// At most this many invitations a day for one Membership (the first one included); more
    /// `resendNonce` changes wait (reason ResendLimited) instead of mailing again.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    invitation_resends_per_day: u32,
}

impl MailArgs {
    fn config(self) -> anyhow::Result<operator::MailConfig> {
        let settings =
            accountops::mail::MailSettings::new(&self.mail_from, self.mail_reply_to.as_deref(), &self.accept_url_base)
                .context("mail settings")?;
        let dispatcher = accountops::mail::DispatcherConfig {
            max_attempts: self.mail_max_attempts.max(1),
            max_age: self.mail_max_age,
            base_backoff: self.mail_retry_base,
            max_backoff: self.mail_retry_max.max(self.mail_retry_base),
            rate_per_minute: self.mail_rate_per_minute,
            claim_lease: self.mail_claim_lease,
            ..Default::default()
        };
        Ok(operator::MailConfig {
            settings,
            transport_url: self.smtp_url,
            dispatcher,
            invitations_per_day: self.invitation_resends_per_day,
        })
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// A duration such as `30s`, `5m`, `1h` (the same shape the CRDs accept).
fn parse_duration(text: &str) -> Result<Duration, String> {
    api::Lifetime::from(text)
        .to_duration()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} is not a duration such as 30s, 5m or 1h"))
}

/// The Lease's namespace when none is given: the watched namespace, if there is exactly one.
/// With several (or all) there is no obvious choice, so it must be named.
fn lease_namespace_of(scope: &operator::Scope) -> anyhow::Result<String> {
    match scope.namespaces() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("--leader-election needs --lease-namespace (or POD_NAMESPACE, or one --namespace)"),
        several => anyhow::bail!(
            "--leader-election watching {} namespaces needs --lease-namespace (or POD_NAMESPACE): \
             which of {} holds the Lease?",
            several.len(),
            several.join(", ")
        ),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube_runtime=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => {
            builder.fmt_fields(tracing_subscriber::fmt::format::JsonFields::new()).event_format(logs::FlatJson).init()
        }
    }
}

/// `plan` and `apply` keep this process (and the threads it starts, which inherit the mask)
/// on one of the CPUs it may use. A run is one transaction, one statement at a time: the
/// caller and SQLite's worker thread take turns, never work at once, and every turn across two
/// cores waited for the other core to wake. Measured on 2 cores, an unchanged apply of 10,000
/// Memberships took 13.6 s free and 5.7 s on one core. Where the mask cannot be read or set,
/// the run goes on as it is.
fn one_core() {
    if let Some(core) = core_affinity::get_core_ids().and_then(|cores| cores.into_iter().next()) {
        core_affinity::set_for_current(core);
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

async fn kube_config(kubeconfig: Option<PathBuf>) -> anyhow::Result<kube::Config> {
    Ok(match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(&path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("using kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer().await.context("finding a kubeconfig or in-cluster configuration")?,
    })
}

/// `--help` names the environment variable behind an argument but never shows its value:
/// `DATABASE_URL`, `SMTP_URL` and others carry passwords. Applied to every argument of every
/// subcommand, so an argument added later cannot leak one either.
fn hide_env_values(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| arg.hide_env_values(true)).mut_subcommands(hide_env_values)
}

/// The command as invoked: `kubectl accountops` when run as the kubectl plugin
/// (`kubectl-accountops` on the PATH), so `--help` shows what the user types.
fn invoked_command() -> clap::Command {
    let argv0 = std::env::args_os().next().map(PathBuf::from);
    let plugin = argv0.as_deref().and_then(|p| p.file_name()).is_some_and(|n| n == "kubectl-accountops");
    let command = hide_env_values(Cli::command());
    if plugin { command.bin_name("kubectl accountops") } else { command }
}

fn main() -> ExitCode {
    let matches = invoked_command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// The error and its causes on one line, skipping a cause whose text is already there (sqlx
/// and the store repeat their sources in their own messages).
fn one_line(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Crds { out_dir: None } => {
            emit(&api::crds::all_yaml().context("rendering CRDs")?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crds { out_dir: Some(dir) } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for crd in api::crds::all() {
                let path = dir.join(api::crds::file_name(&crd));
                let yaml = api::crds::to_yaml(&crd).context("rendering CRD")?;
                std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { paths, output } => {
            let docs = manifest::read_documents(&paths).context("reading manifests")?;
            let (set, problems) = validate::validate(&docs);
            match output {
                validate::Format::Json => emit(&format!("{:#}\n", validate::json(&set, docs.len(), &problems)))?,
                validate::Format::Text => {
                    let report: String = problems.iter().map(|p| format!("{p}\n")).collect();
                    emit(&report)?;
                    if problems.is_empty() {
                        emit(&format!("{} objects in {} documents: valid\n", set.len(), docs.len()))?;
                    } else {
                        eprintln!("{} problem(s) found", problems.len());
                    }
                }
            }
            Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Completion { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "accountops", &mut script);
            emit(&String::from_utf8_lossy(&script))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { database } => runtime()?.block_on(async {
            let store = Store::connect(&database).await?;
            let report = store.migrate().await?;
            println!(
                "{}: schema at version {} ({} migration(s) applied)",
                store.redacted_url(),
                report.version,
                report.applied.len()
            );
            Ok(ExitCode::SUCCESS)
        }),
        Command::Invitation(InvitationCommand::Accept { token, database }) => {
            runtime()?.block_on(command::accept_invitation(&database, &token))
        }
        Command::Tenants { provider, database, output, limit, offset } => {
            let json = matches!(output, TableOrJson::Json);
            runtime()?.block_on(command::list_tenants(&database, &provider, json, limit, offset))
        }
        Command::Asset(AssetCommand::Activate { code, database }) => {
            runtime()?.block_on(command::activate_asset(&database, &code))
        }
        Command::TenantLink(TenantLinkCommand::Accept { token, database }) => {
            runtime()?.block_on(command::answer_partner_invitation(&database, &token, true))
        }
        Command::TenantLink(TenantLinkCommand::Reject { token, database }) => {
            runtime()?.block_on(command::answer_partner_invitation(&database, &token, false))
        }
        Command::Trace(args) => Ok(runtime()?.block_on(accountops::trace::run(args))?),
        Command::Plan(args) => {
            one_core();
            runtime()?.block_on(command::run(args, Mode::Plan))
        }
        Command::Apply(args) => {
            one_core();
            runtime()?.block_on(command::run(args, Mode::Apply))
        }
        Command::Run {
            database,
            namespace,
            cluster_id,
            resync,
            concurrency,
            database_max_connections,
            database_acquire_timeout,
            database_statement_timeout,
            no_migrate,
            kubeconfig,
            log_format,
            health_addr,
            leader_election,
            lease_name,
            lease_namespace,
            lease_duration,
            mail,
            scim,
        } => {
            let mail = mail.config()?;
            init_logging(log_format);
            let health_addr = match health_addr.as_str() {
                "off" => None,
                addr => Some(addr.parse().with_context(|| format!("--health-addr {addr:?} is not HOST:PORT"))?),
            };
            let scope = operator::Scope::new(&namespace);
            let leader_election = if leader_election {
                let namespace = lease_namespace.map_or_else(|| lease_namespace_of(&scope), Ok)?;
                let identity = std::env::var("POD_NAME")
                    .unwrap_or_else(|_| format!("accountops-{}", uuid::Uuid::new_v4().simple()));
                let election = operator::LeaderElection {
                    lease_name,
                    namespace,
                    identity,
                    duration: lease_duration,
                    client_config: None,
                };
                Some(election)
            } else {
                None
            };
            runtime()?.block_on(async {
                let kube_config = kube_config(kubeconfig).await?;
                // The Lease gets a client of its own with short timeouts (see operator::leader).
                let leader_election =
                    leader_election.map(|e| operator::LeaderElection { client_config: Some(kube_config.clone()), ..e });
                let client = kube::Client::try_from(kube_config).context("creating the Kubernetes client")?;
                let config = operator::Config {
                    database_url: database,
                    scope,
                    cluster_id,
                    resync,
                    concurrency,
                    pool: accountops::store::PoolSettings {
                        max_connections: database_max_connections,
                        acquire_timeout: database_acquire_timeout,
                        statement_timeout: database_statement_timeout,
                    },
                    migrate: !no_migrate,
                    health_addr,
                    leader_election,
                    mail,
                    scim: scim.settings(),
                };
                operator::run(client, config).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}
