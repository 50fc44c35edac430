//! Remote hosts over SSH: `HOST:DIR` operands (scp's rule), the system's `ssh` running the
//! remote `lockscope` (one connection per host however many directories), its JSON parsed
//! strictly, and failures classified (authentication, host key, unreachable, remote lockscope
//! missing or too old). Nothing here runs a local shell; every remote word is quoted for the
//! remote one. Everything read from a remote is hostile text: escape it before printing.
//!
//! - [`parse_operand`]: `web1:/etc/letsencrypt` → [`Operand::Remote`].
//! - [`Ssh`]: the ssh program (`--ssh-command` / `LOCKSCOPE_SSH_COMMAND`) and the remote
//!   program (`--remote-command`); [`Ssh::run`] for one-shot commands, bounded.
//! - [`status`]: one remote `status --json` per host, its rows matched to the directories
//!   asked by the names they give ([`answers`], [`parse_status`]); [`RemoteWatch`]: one remote
//!   `watch --json` per host with reconnects, matched the same way; [`RemoteMonitor`]: many hosts whose directories
//!   come and go (the app); [`start_hold`]: a remote hold tied to the session.

mod error;
mod hold;
mod hub;
mod operand;
mod record;
mod ssh;
#[cfg_attr(unix, path = "sys_unix.rs")]
#[cfg_attr(not(unix), path = "sys_other.rs")]
mod sys;
mod watch;

use std::collections::HashMap;
use std::path::Path;

pub use error::{ConnectionError, INSTALL_HINT, classify_failure};
pub use hold::{HoldError, RemoteHold, RemoteWait, start_hold};
pub use hub::{RemoteMonitor, SETTLE};
pub use operand::{Host, Operand, OperandError, RemoteDir, parse_operand};
pub use record::{
    LINE_LIMIT, RemoteHolder, RemoteRow, RemoteState, RemoteWarning, STATUS_LIMIT, StatusAnswer,
    answers, parse_status, parse_watch_line,
};
pub use ssh::{
    CommandError, DEFAULT_REMOTE_COMMAND, Finished, SSH_COMMAND_ENV, Ssh, read_line_bounded,
};
pub use watch::{
    ConnectionState, FIRST_BACKOFF, FIRST_REPORT_DEADLINE, MAX_BACKOFF, RemoteEvent, RemoteWatch,
    WatchOptions,
};

/// Asks `host` for the state of `dirs` with one remote `lockscope status --json -- DIR...`
/// (each directory once, however many spellings of it were given). The rows come in the order
/// asked, one per directory, `host` set, each matched to its directory by the name it gives
/// ([`parse_status`]): a directory the answer does not answer exactly once gets an `unknown`
/// row saying so; rows for directories not asked are counted in [`StatusAnswer::ignored`]. A
/// remote that answered with JSON is believed even when it exits 2 (some directory could not
/// be probed: its row says why).
pub fn status(
    ssh: &Ssh,
    host: &Host,
    dirs: &[String],
    lock_name: &str,
) -> Result<StatusAnswer, ConnectionError> {
    // Spellings lockscope takes for one path (`d`, `d/`) are asked once: two rows for one
    // directory are then always a contradiction.
    let mut distinct: Vec<String> = Vec::new();
    let mut seen: HashMap<&Path, usize> = HashMap::new();
    let place: Vec<usize> = dirs
        .iter()
        .map(|dir| {
            *seen.entry(Path::new(dir.as_str())).or_insert_with(|| {
                distinct.push(dir.clone());
                distinct.len() - 1
            })
        })
        .collect();
    let mut args: Vec<&str> = vec!["status", "--json", "--lock-name", lock_name, "--"];
    args.extend(distinct.iter().map(String::as_str));
    let finished = ssh.run(host, &args, STATUS_LIMIT)?;
    let code = finished.status.code();
    if !(matches!(code, Some(0) | Some(2)) && finished.stdout.first() == Some(&b'[')) {
        return Err(ssh.classify(finished.status, &finished.stderr));
    }
    let answer = parse_status(host, &finished.stdout, &distinct, lock_name)?;
    let rows = dirs
        .iter()
        .zip(place)
        .map(|(dir, i)| {
            let row = &answer.rows[i];
            match (&row.state, &row.error) {
                // This side's row names the directory as this operand spells it.
                (RemoteState::Unknown, Some(why)) => {
                    RemoteRow::unknown(host, dir, lock_name, why.clone())
                }
                _ => row.clone(),
            }
        })
        .collect();
    Ok(StatusAnswer { rows, ..answer })
}
