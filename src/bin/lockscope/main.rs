//! The `lockscope` command: a thin layer over the library. `main` parses the arguments (args.rs),
//! hands each subcommand to its file in `commands/` (each owns its local and its `HOST:DIR`
//! path) and turns the outcome into the exit code. Output plumbing is in output.rs, the JSON rows
//! in rows.rs, `HOST:DIR` operands in remote.rs. Commands never import each other; `anyhow` is
//! used only here, in the binary.

mod args;
mod commands;
mod companion;
mod http;
mod metrics;
mod output;
mod remote;
mod rows;
#[cfg_attr(unix, path = "sys_unix.rs")]
#[cfg_attr(not(unix), path = "sys_other.rs")]
mod sys;
mod watchlists;

use args::{Cli, Command, StatusFormat};
use clap::Parser;
use commands::{explain, hold, serve, status, terminate, watch};
use metrics::MetricsOptions;
use output::{Failure, Outcome, exit, time_style};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    output::exit_code(run(cli))
}

/// Hands the command to its file in `commands/`.
fn run(cli: Cli) -> Outcome {
    let remote = cli.remote;
    match cli.command {
        #[cfg(feature = "gui")]
        None => commands::gui::run(None, None, None),
        #[cfg(not(feature = "gui"))]
        None => print_help(),
        #[cfg(feature = "gui")]
        Some(Command::Gui {
            watchlist,
            config_dir,
            history,
        }) => commands::gui::run(watchlist, config_dir, history),
        Some(Command::Status {
            json,
            format,
            output,
            metrics_command_line,
            lock_name,
            all,
            paths,
        }) => {
            if all {
                return status::all(&lock_name, json);
            }
            let ops = remote::Operands::parse(&paths)?;
            match (format, output) {
                (Some(StatusFormat::Prometheus), _) if !ops.all_local() => Err(Failure::error(
                    "--format prometheus reads local directories only (no HOST:DIR)",
                )),
                (Some(StatusFormat::Prometheus), output) => status::prometheus(
                    &paths,
                    &lock_name,
                    output.as_deref(),
                    MetricsOptions {
                        command_line: metrics_command_line,
                    },
                ),
                (_, Some(_)) => Err(Failure::error("--output needs --format prometheus")),
                (format, None) => {
                    let json = json || format == Some(StatusFormat::Json);
                    if ops.all_local() {
                        status::local(&paths, &lock_name, json)
                    } else {
                        status::remote(&ops, &lock_name, json, &remote)
                    }
                }
            }
        }
        Some(Command::Explain {
            utc,
            lock_name,
            all,
            history,
            paths,
        }) => {
            let history = history.as_deref();
            if all {
                let found = lockscope::discover::discover(&lock_name).found;
                let dirs: Vec<_> = found.into_iter().map(|f| f.dir).collect();
                return explain::local(&dirs, &lock_name, time_style(utc), history);
            }
            let ops = remote::Operands::parse(&paths)?;
            if ops.all_local() {
                explain::local(&paths, &lock_name, time_style(utc), history)
            } else {
                explain::remote(&ops, &lock_name, utc, &remote, history)
            }
        }
        Some(Command::Watch {
            json,
            utc,
            interval,
            lock_name,
            dirs,
        }) => {
            let ops = remote::Operands::parse(&dirs)?;
            watch::run(&ops, interval, lock_name, json, time_style(utc), &remote)
        }
        // The flight recorder links SQLite: its own executable (companion.rs), given this
        // command line as it is.
        Some(Command::Record(_) | Command::History(_)) => {
            companion::HISTORY.run_in_place(std::env::args_os().skip(1))
        }
        Some(Command::Serve {
            metrics,
            interval,
            lock_name,
            metrics_command_line,
            watchlist,
            config_dir,
            dirs,
        }) => {
            if !remote::Operands::parse(&dirs)?.all_local() {
                return Err(Failure::error(
                    "serve watches local directories only (no HOST:DIR)",
                ));
            }
            serve::run(serve::ServeOptions {
                listen: metrics,
                interval,
                lock_name,
                metrics: MetricsOptions {
                    command_line: metrics_command_line,
                },
                dirs,
                watchlist,
                config_dir,
            })
        }
        Some(Command::Hold {
            hold_for,
            wait,
            lock_name,
            until_stdin_closes,
            dir,
        }) => match remote::remote_operand(&dir)? {
            None => hold::local(&dir.join(lock_name), hold_for, wait, until_stdin_closes),
            Some(target) => hold::remote(&target, &lock_name, hold_for, wait, &remote),
        },
        Some(Command::Terminate {
            signal,
            grace,
            yes,
            expect_pid,
            lock_name,
            dir,
        }) => match remote::remote_operand(&dir)? {
            None => terminate::local(&dir, &lock_name, signal, grace, yes, expect_pid),
            Some(target) => terminate::remote(&target, &lock_name, &signal, grace, yes, &remote),
        },
    }
}

#[cfg_attr(feature = "gui", allow(dead_code))]
fn print_help() -> Outcome {
    use clap::CommandFactory;
    let _ = Cli::command().print_help();
    Ok(exit::OK)
}
