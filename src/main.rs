//! The `accountops` command line: the operator, local mode and the tools around them.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use accountops::api;
use accountops::local::{manifest, validate};

/// Manage a multi-tenant platform's billing accounts, organizations, members, tenant links and
/// provisioning syncs as Kubernetes resources.
#[derive(Parser)]
#[command(name = "accountops", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions of all five kinds as YAML, or write one file per CRD.
    Crds {
        /// Write `<plural>.accountops.dev.yaml` files into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Check manifests the way the apiserver would (schema and CEL rules) plus the references
    /// between them; print every problem as `file:line: Kind/namespace/name: field: message`.
    Validate {
        /// Manifest file or directory (searched recursively for *.yaml and *.yml); repeatable.
        #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Crds { out_dir: None } => {
            print!("{}", api::crds::all_yaml().context("rendering CRDs")?);
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
        Command::Validate { paths } => {
            let docs = manifest::read_documents(&paths).context("reading manifests")?;
            let (set, problems) = validate::validate(&docs);
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("{} objects in {} documents: valid", set.len(), docs.len());
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{} problem(s) found", problems.len());
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
