//! Podman through `tests/tools/image.sh` (its runtime, containers.conf and rootfs cache), with
//! storage of its own per test (`ACCOUNTOPS_IMAGE_STORE` in a temp dir), so runs never see each
//! other's images or containers; dropping it removes everything it stored.
//!
//! ```text
//! Podman::new() ── podman, runc, mmdebstrap on PATH? (no: skip, or fail under CI=true)
//!   build(binary, tag) ── image.sh build ── ~/.cache/accountops/image/rootfs-*.tar (cached)
//!   podman()           ── image.sh podman ARGS (inspect, stop, ...)
//!   run(args, log)     ── image.sh podman run ARGS, supervised: never outlives the test binary
//!   drop               ── podman system reset --force (unmounts its overlay), temp dir removed
//! ```
#![allow(dead_code)] // each test uses part of it

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{Cmd, Supervised};

pub const IMAGE_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/image.sh");

pub struct Podman {
    store: tempfile::TempDir,
}

/// Whether `program` is an executable file in a directory of PATH.
fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]).any(|dir| dir.join(program).is_file())
}

impl Podman {
    /// Podman with a fresh store, or `None` (skip) when the tools are missing outside CI.
    pub fn new() -> Option<Podman> {
        let missing: Vec<&str> = ["podman", "runc", "mmdebstrap"].into_iter().filter(|p| !on_path(p)).collect();
        if !missing.is_empty() {
            let how = format!("{missing:?} missing: install them with `tests/tools/image.sh install`");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{how}");
            eprintln!("skipping: {how}");
            return None;
        }
        // Short: podman's run root holds sockets, whose paths are limited to ~100 bytes.
        let store = tempfile::Builder::new().prefix("podman-").tempdir_in("/tmp").expect("tempdir");
        Some(Podman { store })
    }

    /// `tests/tools/image.sh` with this store.
    pub fn image_sh(&self) -> Cmd {
        Cmd::new(IMAGE_SH).env("ACCOUNTOPS_IMAGE_STORE", self.store.path())
    }

    /// `podman` as image.sh configures it, with this store.
    pub fn podman(&self) -> Cmd {
        self.image_sh().arg("podman")
    }

    /// Builds `tag` from `binary` (the Dockerfile's runtime stage on the Debian rootfs).
    pub async fn build(&self, binary: &Path, tag: &str) {
        let out = self.image_sh().arg("build").arg(binary).arg(tag).run().await.ok();
        assert_eq!(out.stdout.trim(), tag, "image.sh prints the tag it built: {out:?}");
    }

    /// `podman image inspect`'s `Config` of `tag`.
    pub async fn config(&self, tag: &str) -> Value {
        let out = self.podman().args(["image", "inspect", tag]).run().await.ok();
        let images: Value = serde_json::from_str(&out.stdout).expect("podman image inspect prints JSON");
        images[0]["Config"].clone()
    }

    /// `podman run ARGS`, its output appended to `log`; stopped (SIGTERM, which podman hands to
    /// the container) when dropped.
    pub fn run(&self, args: &[String], log: &Path) -> Supervised {
        let mut argv = vec![format!("ACCOUNTOPS_IMAGE_STORE={}", self.store.path().display()), IMAGE_SH.to_owned()];
        argv.extend(["podman".to_owned(), "run".to_owned()]);
        argv.extend(args.iter().cloned());
        // Through env(1), so the store reaches image.sh without touching our environment.
        Supervised::spawn("podman run", Path::new("/usr/bin/env"), &argv, log).expect("podman run starts")
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Removes the containers and images and unmounts the overlay, so the temp dir can go.
        let out = self.podman().args(["system", "reset", "--force"]).run_blocking();
        if !out.success() {
            eprintln!("could not reset podman's test store: {out:?}");
        }
    }
}
