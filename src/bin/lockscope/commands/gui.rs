//! `lockscope gui` (and `lockscope` alone): runs the desktop app's own executable,
//! `lockscope-app` (src/bin/lockscope-app), in this process's place. The app lives in its own
//! executable so that this one, which scripts run in loops, starts without mapping the app's
//! code (BENCHMARKS.md, issue 24).

use crate::output::{Failure, Outcome};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

const APP: &str = "lockscope-app";

pub(crate) fn run(watchlist: Option<String>, config_dir: Option<PathBuf>) -> Outcome {
    let app = app_executable()?;
    let mut command = Command::new(&app);
    // `--opt=VALUE`: a value that starts with `-` stays a value.
    if let Some(watchlist) = watchlist {
        command.arg(format!("--watchlist={watchlist}"));
    }
    if let Some(dir) = config_dir {
        let mut arg = OsString::from("--config-dir=");
        arg.push(dir);
        command.arg(arg);
    }
    match crate::sys::run_in_place(&mut command) {
        Ok(code) => Ok(code),
        Err(e) => Err(Failure::error(format!(
            "cannot start the desktop app {}: {e}",
            app.display()
        ))),
    }
}

/// The app's executable: beside this one (a cargo build or `cargo install`), else where the
/// Debian package installs it (`/usr/bin/../libexec/lockscope/`).
fn app_executable() -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::error(format!("cannot find lockscope's own executable: {e}")))?;
    let dir = exe.parent().unwrap_or(&exe);
    let candidates = [dir.join(APP), dir.join("../libexec/lockscope").join(APP)];
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| {
            Failure::error(format!(
                "the desktop app is not installed: no {APP} in {} or {}",
                dir.display(),
                dir.join("../libexec/lockscope").display()
            ))
            .with_hint(
                "lockscope-cli has no desktop app; install the lockscope package for it, or use \
                 the command line (`lockscope --help`).\n",
            )
        })
}
