//! Child processes that cannot outlive the test binary.
//!
//! The control plane lives in a `static`, which is never dropped, and a test binary can also
//! end by a panic with `panic = "abort"`, a timeout's SIGKILL or Ctrl-C. Kill-on-drop guards
//! don't run then, and `prctl(PR_SET_PDEATHSIG)` needs `unsafe` `pre_exec`. Instead each
//! child is started by a small `sh` supervisor whose stdin is a pipe from this process:
//!
//! ```text
//!   test binary --(pipe: we hold the write end, never write)--> sh supervisor --> etcd
//!        |  exits, however it dies: the kernel closes the write end   |
//!        v                                                            v
//!                 `cat` in the supervisor reads EOF --> SIGTERM, then SIGKILL after 5s
//! ```
//!
//! The kernel closes our file descriptors on every kind of exit, so EOF always arrives; no
//! polling of parent pids, no pidfiles. Rust opens pipes close-on-exec, so other children
//! (kubectl, helm) don't keep the write end open. The same trick removes the temp dir.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};

use anyhow::{Context, Result};

/// `sh -c SUPERVISE supervise PROGRAM ARGS...`. A non-interactive shell gives background jobs
/// /dev/null as stdin, so the pipe is kept on fd 3 for the watcher's `cat`; the child gets
/// neither. The supervisor exits with the child's status, so `try_wait` on it tells whether
/// the child died.
const SUPERVISE: &str = r#"
exec 3<&0
"$@" </dev/null 3<&- &
child=$!
(
  cat <&3 >/dev/null
  kill -TERM "$child" 2>/dev/null
  i=0
  while kill -0 "$child" 2>/dev/null; do
    if [ "$i" -ge 50 ]; then kill -KILL "$child" 2>/dev/null; break; fi
    sleep 0.1; i=$((i + 1))
  done
) &
watcher=$!
wait "$child"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

/// After our exit, wait for the supervised children to be gone, then remove the directory.
const JANITOR: &str = r#"cat >/dev/null; sleep 6; rm -rf -- "$1""#;

pub struct Supervised {
    pub name: String,
    pub log: PathBuf,
    child: Child,
    /// Dropping it (or our exit) stops the child.
    lifeline: Option<ChildStdin>,
}

impl Supervised {
    /// Starts `program args` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, program: &Path, args: &[String], log: &Path) -> Result<Supervised> {
        let out = File::options().create(true).append(true).open(log)?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISE)
            .arg("supervise")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        let lifeline = child.stdin.take();
        Ok(Supervised { name: name.into(), log: log.into(), child, lifeline })
    }

    /// The pid of the supervised program (the supervisor `sh` forks it; `env` and `exec`
    /// keep the pid), found as the supervisor's child that is not a shell.
    pub fn program_pid(&self) -> Option<u32> {
        let supervisor = self.child.id().to_string();
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
            let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let ppid = rest.split_whitespace().nth(1)?;
            (ppid == supervisor && comm != "sh").then_some(pid)
        })
    }

    /// The exit status if the child has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The end of the child's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.child.wait();
    }
}

/// Removes `dir` once this process has exited. The returned handle must be kept alive (in
/// the `static` control plane) for as long as the directory is needed.
pub fn remove_after_exit(dir: &Path) -> Result<Child> {
    Command::new("sh")
        .arg("-c")
        .arg(JANITOR)
        .arg("janitor")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the temp dir janitor")
}
