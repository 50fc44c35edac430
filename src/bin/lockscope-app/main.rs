//! `lockscope-app`: the desktop app's own executable. `lockscope gui` (and `lockscope` alone)
//! execs it, so its pid and exit status are the command's. It is kept out of the `lockscope`
//! binary because every start of a program maps and relocates all of its code: with the app's
//! 16 MB inside, each `lockscope status` a script runs in a loop paid ~0.5 ms more than the
//! command line alone (BENCHMARKS.md, issue 24). Installed beside `lockscope` (cargo) or in
//! `/usr/libexec/lockscope/` (the Debian package); its options are `lockscope gui`'s.

use clap::Parser;
use lockscope::escape::escape;
use lockscope::gui::{GuiOptions, OpenList};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Open the lockscope desktop app (what `lockscope gui` runs).
#[derive(Parser)]
#[command(name = "lockscope gui", version)]
struct Args {
    /// A saved watch list to open, by name, or a watch-list file to import and open.
    #[arg(long, value_name = "NAME|FILE")]
    watchlist: Option<String>,
    /// Where watch lists and settings are kept (default: the platform config directory).
    #[arg(long, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// The flight recorder's history file the timeline shows.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
}

/// What to do instead when the app has no display (a headless server, an SSH session).
const WITHOUT_A_DISPLAY: &str = "\
Without a working display, use lockscope's command line:
  lockscope status /etc/letsencrypt /var/lib/letsencrypt /var/log/letsencrypt
  lockscope explain /etc/letsencrypt
  lockscope watch /etc/letsencrypt
  lockscope hold --for 30s /etc/letsencrypt
  lockscope terminate /etc/letsencrypt
`lockscope --help` lists every command and option.
";

/// Exit status 2, as every `lockscope` command's error.
const ERROR: u8 = 2;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { ERROR } else { 0 });
        }
    };
    // An existing file is imported; anything else names a saved list.
    let watchlist = args.watchlist.map(|w| {
        if Path::new(&w).is_file() {
            OpenList::File(w.into())
        } else {
            OpenList::Name(w)
        }
    });
    match lockscope::gui::run(GuiOptions {
        config_dir: args.config_dir,
        watchlist,
        history: args.history,
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Messages carry paths a local user chose: escaped, as the CLI's.
            eprintln!("lockscope: {}", escape(&format!("{e:#}")));
            if e.is_display_missing() {
                eprint!("{WITHOUT_A_DISPLAY}");
            }
            ExitCode::from(ERROR)
        }
    }
}
