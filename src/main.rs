//! The `lockscope` command.

mod cli;
mod watch;

fn main() -> std::process::ExitCode {
    cli::main()
}
