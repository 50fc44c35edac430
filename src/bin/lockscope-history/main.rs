//! `lockscope-history`: the flight recorder's own executable. `lockscope record` and `lockscope
//! history` exec it with their command line as it is, so their pid, signals and exit status are
//! the command's. It is kept out of the `lockscope` binary because it links SQLite: with it
//! inside, every `lockscope status` a script runs in a loop mapped 2 MB more and started
//! ~0.4 ms later (BENCHMARKS.md, issue 24). Installed beside `lockscope` (cargo) or in
//! `/usr/libexec/lockscope/` (the Debian packages).
//!
//! It parses `lockscope`'s own command line (args.rs), so help, errors and man pages are one.

// The modules it shares with `lockscope` (the options, output plumbing, saved lists): it uses
// only the part that `record` and `history` need.
#[allow(dead_code)]
#[path = "../lockscope/args.rs"]
mod args;
#[allow(dead_code)]
#[path = "../lockscope/output.rs"]
mod output;
#[allow(dead_code)]
#[cfg_attr(unix, path = "../lockscope/sys_unix.rs")]
#[cfg_attr(not(unix), path = "../lockscope/sys_other.rs")]
mod sys;
#[path = "../lockscope/watchlists.rs"]
mod watchlists;

mod history;
mod record;

use args::{Cli, Command};
use clap::Parser;
use output::Failure;
use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    // As `lockscope` (its messages and usage name the command people typed).
    let argv = std::iter::once(OsString::from("lockscope")).chain(std::env::args_os().skip(1));
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                output::exit::ERROR
            } else {
                output::exit::OK
            });
        }
    };
    let outcome = match cli.command {
        Some(Command::Record(args)) => record::run(args),
        Some(Command::History(args)) => history::run(args),
        _ => Err(Failure::error(
            "lockscope-history runs `lockscope record` and `lockscope history` only: use \
             `lockscope` for the other commands",
        )),
    };
    output::exit_code(outcome)
}
