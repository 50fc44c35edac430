//! The `lockscope` command: a thin layer over the library (argument parsing, output formats,
//! exit codes). `anyhow` is used only here.

mod cli;
#[cfg_attr(unix, path = "closed_stdout_unix.rs")]
#[cfg_attr(not(unix), path = "closed_stdout_other.rs")]
mod closed_stdout;
mod diagnosis_json;
mod end_holder;
mod explain;
mod http;
mod metrics;
mod output;
mod remote_cli;
mod remote_watch;
mod serve;
mod textfile;
mod watch;

fn main() -> std::process::ExitCode {
    cli::main()
}
