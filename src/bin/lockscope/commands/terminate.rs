//! `lockscope terminate`: ends the process holding DIR's lock (after asking, unless `--yes`),
//! then waits for the lock to go. The safe sequence (identify, pin, re-check, signal, wait) is
//! the library's `lockscope::terminate`; this is its text, questions and exit codes.

use crate::output::{Failure, Outcome, exit, output_failed, report};
use lockscope::escape::{escape, escape_path};
use lockscope::terminate::{self, Signal, Target};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use crate::remote::{RemoteArgs, looks_like_clap, remote_detail, remote_name};
use lockscope::remote::{self, Host, RemoteDir, RemoteRow, RemoteState};

/// Exit codes: 0 released, 1 still held (after the grace period, or at once by a process sharing
/// the lock's open file description), 2 refused or failed.
pub(crate) fn local(
    path: &Path,
    lock_name: &str,
    signal: Signal,
    grace: Duration,
    yes: bool,
    expect_pid: Option<u32>,
) -> Outcome {
    let target = match terminate::identify(path, lock_name) {
        Ok(target) => target,
        Err(e) => {
            return Err(Failure::error(e));
        }
    };
    if let Some(expected) = expect_pid
        && target.pid != expected
    {
        return Err(Failure::error(format!(
            "not ending pid {}: the confirmed holder was pid {expected}, the lock changed hands",
            target.pid
        )));
    }
    if !yes && let Err(why) = confirm(&target) {
        return Err(Failure::error(why));
    }
    let pinned = match target.pin() {
        Ok(pinned) => pinned,
        Err(e) => {
            return Err(Failure::error(e));
        }
    };
    if let Err(e) = pinned.signal(signal) {
        return Err(Failure::error(e));
    }
    let pid = target.pid;
    let lock_file = escape_path(&target.lock_file);
    let grace_text = humantime::format_duration(grace);
    report(format!(
        "sent {signal} to pid {pid}; waiting up to {grace_text} for the lock to be released"
    ));
    let line = match pinned.wait_released(grace) {
        Ok(terminate::Outcome::Released { exited: true }) => {
            format!("released {lock_file}: pid {pid} exited")
        }
        Ok(terminate::Outcome::Released { exited: false }) => {
            format!("released {lock_file}: pid {pid} let go of the lock")
        }
        Ok(terminate::Outcome::PassedOn(holder)) => format!(
            "released {lock_file} by pid {pid}; it is now held by {}",
            escape(&holder.to_string())
        ),
        Ok(terminate::Outcome::StillShared { holder, exited }) => {
            let signalled = if exited {
                format!("pid {pid} exited")
            } else {
                format!("pid {pid} lives on")
            };
            let again = match lock_name {
                lockscope::LOCK_FILE_NAME => String::new(),
                name => format!(" --lock-name {}", escape(name)),
            };
            return Err(Failure::busy(format!(
                "{lock_file} is still held through the same open file description by {}, \
                 which inherited the descriptor (or was passed it): {signalled}, but the lock \
                 is held while any process keeps that description open; to end it, end that \
                 process too (lockscope terminate{again} {})",
                escape(&holder.to_string()),
                escape_path(path)
            )));
        }
        Ok(terminate::Outcome::StillHeld) => {
            let hint = if signal == Signal::kill() {
                "it may be stuck in the kernel (uninterruptible sleep)"
            } else {
                "try --signal KILL"
            };
            return Err(Failure::busy(format!(
                "{lock_file} is still held by pid {pid} after {grace_text}; {hint}"
            )));
        }
        Err(e) => {
            return Err(Failure::error(e));
        }
    };
    let mut out = crate::output::stdout();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(exit::OK),
        Err(e) => output_failed(&e),
    }
}

/// Asks on stderr whether to end the target, when stdin is a terminal; without one, refuses
/// (a script must say `--yes`). The error is the message to report.
fn confirm(target: &Target) -> Result<(), String> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(format!(
            "not ending pid {} without confirmation: stdin is not a terminal; pass --yes",
            target.pid
        ));
    }
    let user = match (&target.user, target.uid) {
        (Some(name), _) => escape(name).into_owned(),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "unknown".into(),
    };
    let command = target
        .command
        .as_deref()
        .map_or("(command unknown)".into(), |c| escape(c).into_owned());
    let shared = match target.sharers.as_slice() {
        [] => String::new(),
        sharers => {
            let pids: Vec<String> = sharers.iter().map(|s| s.pid.to_string()).collect();
            format!(
                " (its lock is shared through the same open file description by pid {}: \
                 ending pid {} alone will not release it)",
                pids.join(", "),
                target.pid
            )
        }
    };
    ask_yes_no(
        &stdin,
        &format!("End pid {} (user {user}): {command}{shared}?", target.pid),
    )
}

/// Asks `question` with ` [y/N] ` on stderr and reads the answer from `stdin` (a terminal):
/// Ok only for y or yes. `question` is already escaped.
pub(crate) fn ask_yes_no(stdin: &io::Stdin, question: &str) -> Result<(), String> {
    let mut err = io::stderr().lock();
    write!(err, "{question} [y/N] ")
        .and_then(|()| err.flush())
        .map_err(|e| format!("cannot ask for confirmation: {e}"))?;
    drop(err);
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err("not confirmed".into()),
    }
}

/// `terminate HOST:DIR`: the holder is shown and confirmed here (unless --yes), then the
/// remote lockscope ends it (`--yes --expect-pid PID`: a different holder by then is refused).
pub(crate) fn remote(
    target: &RemoteDir,
    lock_name: &str,
    signal: &Signal,
    grace: Duration,
    yes: bool,
    args: &RemoteArgs,
) -> Outcome {
    let ssh = args.ssh()?;
    let host = &target.host;
    let row = match remote::status(&ssh, host, std::slice::from_ref(&target.dir), lock_name) {
        Ok(answer) => {
            if let Some(notice) = answer.notice() {
                report(format!("{host}: {notice}"));
            }
            match answer.rows.into_iter().next() {
                Some(row) => row,
                None => {
                    return Err(Failure::error(format!(
                        "{host}: no answer for {}",
                        target.dir
                    )));
                }
            }
        }
        Err(e) => {
            return Err(Failure::error(format!("{host}: {e}")));
        }
    };
    let name = remote_name(&row);
    let pid = match (&row.state, row.holder.as_ref().and_then(|h| h.pid)) {
        (RemoteState::Held, Some(pid)) => pid,
        (RemoteState::Held, None) => {
            return Err(Failure::error(format!(
                "{name} is held, but its holder is not visible there"
            )));
        }
        _ => {
            return Err(Failure::error(format!(
                "{name} is not held ({}): nothing to end",
                remote_detail(&row)
            )));
        }
    };
    if !yes && let Err(why) = confirm_remote(host, pid, &row) {
        return Err(Failure::error(why));
    }
    let signal_word = signal
        .name()
        .map_or_else(|| signal.number().to_string(), str::to_string);
    let grace_word = format!("{}ms", grace.as_millis());
    let pid_word = pid.to_string();
    let remote_args = [
        "terminate",
        "--yes",
        "--expect-pid",
        &pid_word,
        "--signal",
        &signal_word,
        "--grace",
        &grace_word,
        "--lock-name",
        lock_name,
        "--",
        &target.dir,
    ];
    let finished = match ssh.run(host, &remote_args, 1024 * 1024) {
        Ok(f) => f,
        Err(e) => {
            return Err(Failure::error(format!("{host}: {e}")));
        }
    };
    let code = finished.status.code();
    if !matches!(code, Some(0..=2)) || (code == Some(2) && looks_like_clap(&finished.stderr)) {
        return Err(Failure::error(format!(
            "{host}: {}",
            ssh.classify(finished.status, &finished.stderr)
        )));
    }
    for line in finished.stderr.lines() {
        let line = line.strip_prefix("lockscope: ").unwrap_or(line);
        report(format!("{host}: {line}"));
    }
    let mut out = crate::output::stdout();
    let written = String::from_utf8_lossy(&finished.stdout)
        .lines()
        .try_for_each(|line| writeln!(out, "{host}: {}", escape(line)))
        .and_then(|()| out.flush());
    match written {
        Err(e) => output_failed(&e),
        Ok(()) => Ok(code
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(exit::ERROR)),
    }
}

/// Asks on stderr whether to end the remote holder, when stdin is a terminal.
fn confirm_remote(host: &Host, pid: u32, row: &RemoteRow) -> Result<(), String> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(format!(
            "not ending pid {pid} on {host} without confirmation: stdin is not a terminal; \
             pass --yes"
        ));
    }
    let holder = row.holder.as_ref();
    let user = holder
        .and_then(|h| h.other.get("user"))
        .and_then(|u| u.as_str())
        .map_or("unknown".into(), |u| escape(u).into_owned());
    let command = holder
        .and_then(|h| h.command.as_deref())
        .map_or("(command unknown)".into(), |c| escape(c).into_owned());
    ask_yes_no(
        &stdin,
        &format!("End pid {pid} on {host} (user {user}): {command}?"),
    )
}
