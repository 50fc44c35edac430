//! `lockscope gui` (and `lockscope` alone): runs the desktop app's own executable,
//! `lockscope-app` (src/bin/lockscope-app), in this process's place.

use crate::companion::APP;
use crate::output::Outcome;
use std::ffi::OsString;
use std::path::PathBuf;

pub(crate) fn run(
    watchlist: Option<String>,
    config_dir: Option<PathBuf>,
    history: Option<PathBuf>,
) -> Outcome {
    let mut args = Vec::new();
    // `--opt=VALUE`: a value that starts with `-` stays a value.
    if let Some(watchlist) = watchlist {
        args.push(OsString::from(format!("--watchlist={watchlist}")));
    }
    if let Some(dir) = config_dir {
        let mut arg = OsString::from("--config-dir=");
        arg.push(dir);
        args.push(arg);
    }
    if let Some(file) = history {
        let mut arg = OsString::from("--history=");
        arg.push(file);
        args.push(arg);
    }
    APP.run_in_place(args)
}
