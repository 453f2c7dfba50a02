//! `accountops trace KIND/NAME`: an object, its Account and everything between or under them,
//! with Ready, Synced, reason and age per node (like `crossplane beta trace`).
//!
//! ```text
//! KIND/NAME ─► target (kind, plural or short name, any case)
//!   cluster (kubeconfig) ─► cluster::inventory ─┐
//!   -f PATH --database URL ─► local::inventory ─┴─► tree::build (pure) ─► print::render ─► stdout
//! ```
//!
//! Both sources give the same [`tree::Inventory`]: the objects of the namespace with their
//! status (the cluster's, or what local mode's plan says it would be), so the tree and its
//! printing are one code path. Installed as `kubectl-accountops` on the PATH, the binary is a
//! kubectl plugin: `kubectl accountops trace account/acme -n team`.

pub mod cluster;
pub mod local;
pub mod print;
pub mod tree;

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionNames;
use kube::CustomResourceExt;

use crate::api::{Account, Membership, Organization, ProvisioningSync, TenantLink};
use crate::core::Kind;

/// The kinds in the order `--help` lists them.
pub const KINDS: [Kind; 5] =
    [Kind::Account, Kind::Organization, Kind::Membership, Kind::TenantLink, Kind::ProvisioningSync];

/// `accountops trace` arguments.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "KIND is a kind, its plural or short name in any case: account, accounts, acct, \
    organization, org, membership, mbr, tenantlink, tl, provisioningsync, psync (also \
    accounts.accountops.dev).\n\nExit status: 0 when the tree was printed (whatever the objects' \
    status), 1 when the object is not there, the kind is unknown or the source cannot be read.")]
pub struct TraceArgs {
    /// The object to trace: KIND/NAME, e.g. account/acme-polska or mbr/jan-nowak.
    // Parsed by `run`, not clap, so a bad one exits 1 like a missing object (clap exits 2).
    #[arg(value_name = "KIND/NAME")]
    pub target: String,
    /// The object's namespace (default: the kubeconfig context's, else `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Output format: `text`, `wide` (adds the platform ID and the message) or `json`.
    #[arg(short = 'o', long, value_enum, default_value_t = print::Format::Text)]
    pub output: print::Format,
    /// Local mode: trace these manifests (files or directories; `-` reads standard input)
    /// as `accountops plan` sees them against --database, instead of the cluster.
    #[arg(short = 'f', long = "filename", value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    pub paths: Vec<PathBuf>,
    /// Local mode: the database the manifests are planned against (read, never written).
    #[arg(long, requires = "paths", default_value = crate::local::command::DEFAULT_DATABASE)]
    pub database: String,
    /// Local mode: the owner cluster ID of local mode's rows (as `plan --cluster-id`).
    #[arg(long, value_name = "ID", requires = "paths", default_value = crate::local::desired::DEFAULT_CLUSTER_ID)]
    pub cluster_id: String,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long, conflicts_with = "paths")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, conflicts_with = "paths")]
    pub context: Option<String>,
}

/// What `trace` is asked to show: `KIND/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub name: String,
}

/// Why `trace` printed no tree.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{given:?} is not KIND/NAME (e.g. account/acme-polska)")]
    NotKindSlashName { given: String },
    #[error("unknown kind {given:?}: use one of {}", known_kinds())]
    UnknownKind { given: String },
    #[error(transparent)]
    Tree(#[from] tree::TreeError),
    #[error("cannot list {plural} in namespace {namespace:?}: {message}")]
    Forbidden { plural: String, namespace: String, message: String },
    #[error("reading {what} from the cluster")]
    Cluster {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{0:#}")]
    Config(anyhow::Error),
    #[error("{0:#}")]
    Local(anyhow::Error),
    #[error("the manifests have {0} problem(s) (see above): fix them or run `accountops validate`")]
    Invalid(usize),
    #[error("writing to stdout")]
    Output(#[source] std::io::Error),
}

fn names(kind: Kind) -> CustomResourceDefinitionNames {
    match kind {
        Kind::Account => Account::crd(),
        Kind::Organization => Organization::crd(),
        Kind::Membership => Membership::crd(),
        Kind::TenantLink => TenantLink::crd(),
        Kind::ProvisioningSync => ProvisioningSync::crd(),
    }
    .spec
    .names
}

/// The plural resource name (`accounts`), for messages like the apiserver's.
pub fn plural(kind: Kind) -> String {
    names(kind).plural
}

fn known_kinds() -> String {
    let each = KINDS.map(|k| {
        let n = names(k);
        format!("{} ({})", n.kind, n.short_names.unwrap_or_default().join(", "))
    });
    each.join(", ")
}

/// The kind a name means: the kind, its singular, plural or short name from the CRD, in any
/// case, optionally with the group (`accounts.accountops.dev`).
pub fn parse_kind(given: &str) -> Result<Kind, TraceError> {
    let lower = given.to_ascii_lowercase();
    let bare = lower.strip_suffix(&format!(".{}", crate::api::GROUP)).unwrap_or(&lower);
    KINDS
        .into_iter()
        .find(|k| {
            let n = names(*k);
            let mut all = vec![n.kind.to_ascii_lowercase(), n.plural];
            all.extend(n.singular);
            all.extend(n.short_names.unwrap_or_default());
            all.iter().any(|name| name == bare)
        })
        .ok_or_else(|| TraceError::UnknownKind { given: given.to_owned() })
}

impl FromStr for Target {
    type Err = TraceError;

    fn from_str(s: &str) -> Result<Target, TraceError> {
        let not = || TraceError::NotKindSlashName { given: s.to_owned() };
        let (kind, name) = s.split_once('/').ok_or_else(not)?;
        if name.is_empty() || name.contains('/') {
            return Err(not());
        }
        Ok(Target { kind: parse_kind(kind)?, name: name.to_owned() })
    }
}

/// Runs `trace`: reads the inventory, builds the tree and prints it.
pub async fn run(args: TraceArgs) -> Result<ExitCode, TraceError> {
    let target: Target = args.target.parse()?;
    let (inventory, namespace) = if args.paths.is_empty() {
        let client = cluster::client(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let namespace = args.namespace.clone().unwrap_or_else(|| client.default_namespace().to_owned());
        (cluster::inventory(&client, &namespace, target.kind).await?, namespace)
    } else {
        let namespace = args.namespace.clone().unwrap_or_else(|| "default".to_owned());
        (local::inventory(&args.paths, &args.database, &args.cluster_id).await?, namespace)
    };
    let root = tree::build(&inventory, &namespace, target.kind, &target.name)?;
    let text = print::render(&root, args.output, jiff::Timestamp::now());
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A reader that went away (`| head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(TraceError::Output(e)),
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_known_by_kind_plural_and_short_name_in_any_case() {
        let cases = [
            ("account", Kind::Account),
            ("Accounts", Kind::Account),
            ("ACCT", Kind::Account),
            ("accounts.accountops.dev", Kind::Account),
            ("Organization", Kind::Organization),
            ("org", Kind::Organization),
            ("membership", Kind::Membership),
            ("mbr", Kind::Membership),
            ("TenantLinks", Kind::TenantLink),
            ("tl", Kind::TenantLink),
            ("psync", Kind::ProvisioningSync),
            ("provisioningsync", Kind::ProvisioningSync),
        ];
        for (given, kind) in cases {
            assert_eq!(parse_kind(given).expect(given), kind, "{given}");
        }
    }

    #[test]
    fn targets_are_kind_slash_name_and_refusals_say_why() {
        assert_eq!(
            "acct/acme-polska".parse::<Target>().expect("parses"),
            Target { kind: Kind::Account, name: "acme-polska".into() }
        );
        let unknown = "pod/x".parse::<Target>().expect_err("not ours").to_string();
        assert!(
            unknown.starts_with("unknown kind \"pod\": use one of Account (acct), Organization (org)"),
            "{unknown}"
        );
        assert!(unknown.contains("ProvisioningSync (psync)"), "{unknown}");
        for bad in ["account", "account/", "account/a/b"] {
            let err = bad.parse::<Target>().expect_err(bad).to_string();
            assert_eq!(err, format!("{bad:?} is not KIND/NAME (e.g. account/acme-polska)"));
        }
    }
}
