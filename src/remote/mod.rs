//! Remote hosts over SSH: `HOST:DIR` operands (scp's rule), the system's `ssh` running the
//! remote `lockscope` (one connection per host however many directories), its JSON parsed
//! strictly, and failures classified (authentication, host key, unreachable, remote lockscope
//! missing or too old). Nothing here runs a local shell; every remote word is quoted for the
//! remote one. Everything read from a remote is hostile text: escape it before printing.
//!
//! - [`parse_operand`]: `web1:/etc/letsencrypt` → [`Operand::Remote`].
//! - [`Ssh`]: the ssh program (`--ssh-command` / `LOCKSCOPE_SSH_COMMAND`) and the remote
//!   program (`--remote-command`); [`Ssh::run`] for one-shot commands, bounded.
//! - [`status`]: one remote `status --json` per host; [`RemoteWatch`]: one remote
//!   `watch --json` per host with reconnects; [`RemoteMonitor`]: many hosts whose directories
//!   come and go (the app); [`start_hold`]: a remote hold tied to the session.

mod error;
mod hold;
mod hub;
mod operand;
mod record;
#[cfg_attr(unix, path = "session_unix.rs")]
#[cfg_attr(not(unix), path = "session_other.rs")]
mod session;
mod ssh;
mod watch;

pub use error::{ConnectionError, INSTALL_HINT, classify_failure};
pub use hold::{HoldError, RemoteHold, RemoteWait, start_hold};
pub use hub::{RemoteMonitor, SETTLE};
pub use operand::{Host, Operand, OperandError, RemoteDir, parse_operand};
pub use record::{
    LINE_LIMIT, RemoteHolder, RemoteRow, RemoteState, RemoteWarning, STATUS_LIMIT, parse_status,
    parse_watch_line,
};
pub use ssh::{
    CommandError, DEFAULT_REMOTE_COMMAND, Finished, SSH_COMMAND_ENV, Ssh, read_line_bounded,
};
pub use watch::{
    ConnectionState, FIRST_BACKOFF, MAX_BACKOFF, RemoteEvent, RemoteWatch, WatchOptions,
};

/// Asks `host` for the state of `dirs` with one remote `lockscope status --json -- DIR...`.
/// The rows come in the order asked, `host` set. A remote that answered with JSON is believed
/// even when it exits 2 (some directory could not be probed: its row says why).
pub fn status(
    ssh: &Ssh,
    host: &Host,
    dirs: &[String],
    lock_name: &str,
) -> Result<Vec<RemoteRow>, ConnectionError> {
    let mut args: Vec<&str> = vec!["status", "--json", "--lock-name", lock_name, "--"];
    args.extend(dirs.iter().map(String::as_str));
    let finished = ssh.run(host, &args, STATUS_LIMIT)?;
    let code = finished.status.code();
    if matches!(code, Some(0) | Some(2)) && finished.stdout.first() == Some(&b'[') {
        return parse_status(host, &finished.stdout, dirs.len());
    }
    Err(ssh.classify(finished.status, &finished.stderr))
}
