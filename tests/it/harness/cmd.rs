//! Running the real kubectl and helm (or any binary) and capturing what they print.

use std::fmt;
use std::io::Write;
use std::process::{Command, ExitStatus, Stdio};

/// A command to run, built by `ControlPlane::kubectl` / `helm` or `TestEnv::kubectl` / `helm`
/// with the kubeconfig (and namespace) already set.
pub struct Cmd {
    cmd: Command,
    stdin: Option<String>,
}

/// What a finished command printed.
pub struct CmdOutput {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Cmd {
    pub fn new(program: impl AsRef<std::ffi::OsStr>) -> Cmd {
        Cmd { cmd: Command::new(program), stdin: None }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.cmd.env(key, value);
        self
    }

    /// Text for the command's stdin (`kubectl apply -f -`).
    pub fn stdin(mut self, input: impl Into<String>) -> Cmd {
        self.stdin = Some(input.into());
        self
    }

    /// Runs it without blocking the test's runtime, so a controller spawned on the same
    /// runtime keeps reconciling while e.g. `kubectl wait` runs.
    pub async fn run(self) -> CmdOutput {
        let command = self.to_string();
        let mut cmd = tokio::process::Command::from(self.cmd);
        cmd.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        // Feed stdin while reading the output: either can fill a pipe and stall the other.
        let pipe = child.stdin.take();
        let feed = async move {
            if let (Some(mut pipe), Some(input)) = (pipe, self.stdin) {
                use tokio::io::AsyncWriteExt;
                // A command that exits without reading its stdin is reported by its status.
                let _ = pipe.write_all(input.as_bytes()).await;
            }
        };
        let ((), out) = tokio::join!(feed, child.wait_with_output());
        CmdOutput::new(command, out.expect("waiting for command"))
    }

    /// Runs it on the calling thread (for `Drop` and other sync code).
    pub fn run_blocking(mut self) -> CmdOutput {
        let command = self.to_string();
        self.cmd
            .stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        let feeder = match (child.stdin.take(), self.stdin) {
            (Some(mut pipe), Some(input)) => Some(std::thread::spawn(move || pipe.write_all(input.as_bytes()))),
            _ => None,
        };
        let out = child.wait_with_output().expect("waiting for command");
        if let Some(feeder) = feeder {
            let _ = feeder.join();
        }
        CmdOutput::new(command, out)
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = self.cmd.get_program().to_string_lossy();
        // The program path is long and always the same; its file name says enough.
        write!(f, "{}", program.rsplit('/').next().unwrap_or(&program))?;
        for arg in self.cmd.get_args() {
            write!(f, " {}", arg.to_string_lossy())?;
        }
        Ok(())
    }
}

impl CmdOutput {
    fn new(command: String, out: std::process::Output) -> CmdOutput {
        CmdOutput {
            command,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics, showing both streams, unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> CmdOutput {
        assert!(self.success(), "{self:?}");
        self
    }

    /// Panics unless the command failed; for "this must be refused" checks.
    #[track_caller]
    pub fn failed(self) -> CmdOutput {
        assert!(!self.success(), "expected a failure: {self:?}");
        self
    }
}

impl fmt::Debug for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited with {}\n--- stdout\n{}--- stderr\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}
