//! The executables `lockscope` runs in its own place (exec: the pid, signals and exit status stay
//! the command's): `lockscope-app` (the desktop app) and `lockscope-history` (`record` and
//! `history`, which link SQLite). They live apart so that this program, which scripts run in
//! loops, does not map and relocate their code at every start (BENCHMARKS.md, issue 24).

use crate::output::{Failure, Outcome};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// A companion executable and what to say when it is missing.
pub(crate) struct Companion {
    pub name: &'static str,
    pub what: &'static str,
    pub hint: &'static str,
}

#[cfg(feature = "gui")]
pub(crate) const APP: Companion = Companion {
    name: "lockscope-app",
    what: "the desktop app",
    hint: "lockscope-cli has no desktop app; install the lockscope package for it, or use the \
           command line (`lockscope --help`).\n",
};

pub(crate) const HISTORY: Companion = Companion {
    name: "lockscope-history",
    what: "the flight recorder (record, history)",
    hint: "a cargo build makes it beside lockscope (`cargo build`); both Debian packages \
           install it in /usr/libexec/lockscope/.\n",
};

impl Companion {
    /// Runs it with `args` in this process's place; returns only if it could not be started.
    pub(crate) fn run_in_place(&self, args: impl IntoIterator<Item = OsString>) -> Outcome {
        let exe = self.executable()?;
        match crate::sys::run_in_place(Command::new(&exe).args(args)) {
            Ok(code) => Ok(code),
            Err(e) => Err(Failure::error(format!(
                "cannot start {} ({}): {e}",
                self.what,
                exe.display()
            ))),
        }
    }

    /// Runs it with `args` as a child and returns what it printed (its standard error passes
    /// through) once it exits successfully.
    pub(crate) fn output(
        &self,
        args: impl IntoIterator<Item = OsString>,
    ) -> Result<Vec<u8>, Failure> {
        let exe = self.executable()?;
        let output = Command::new(&exe)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| {
                Failure::error(format!(
                    "cannot start {} ({}): {e}",
                    self.what,
                    exe.display()
                ))
            })?;
        if !output.status.success() {
            return Err(Failure::error(format!(
                "{} ({}) failed: {}",
                self.what,
                exe.display(),
                output.status
            )));
        }
        Ok(output.stdout)
    }

    /// Beside this executable (a cargo build or `cargo install`), else where the Debian
    /// packages install it (`/usr/bin/../libexec/lockscope/`).
    fn executable(&self) -> Result<PathBuf, Failure> {
        let exe = std::env::current_exe()
            .map_err(|e| Failure::error(format!("cannot find lockscope's own executable: {e}")))?;
        let dir = exe.parent().unwrap_or(&exe);
        let libexec = dir.join("../libexec/lockscope");
        [dir.join(self.name), libexec.join(self.name)]
            .into_iter()
            .find(|c| c.is_file())
            .ok_or_else(|| {
                Failure::error(format!(
                    "{} is not installed: no {} in {} or {}",
                    self.what,
                    self.name,
                    dir.display(),
                    libexec.display()
                ))
                .with_hint(self.hint)
            })
    }
}
