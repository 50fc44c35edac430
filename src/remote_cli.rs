//! `HOST:DIR` operands in the CLI: the `--ssh-command` / `--remote-command` options, and
//! status, explain, hold and terminate on remote hosts (watch's part is in watch.rs). Every
//! text from a remote is escaped here before it reaches the terminal.

pub(crate) use crate::cli::RemoteArgs;
use crate::cli::{StatusRecord, Wait, buffered_stdout, print_json, print_table, table_row};
use crate::output::{exit, output_failed, report};
use lockscope::escape::escape;
use lockscope::local_time::{age_at, format_age};
use lockscope::remote::{
    self, HoldError, Host, Operand, RemoteDir, RemoteRow, RemoteState, RemoteWait, SSH_COMMAND_ENV,
    STATUS_LIMIT, Ssh,
};
use lockscope::terminate::Signal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

impl RemoteArgs {
    /// The ssh settings, or the exit code after reporting why not.
    pub(crate) fn ssh(&self) -> Result<Ssh, u8> {
        let from_env = std::env::var(SSH_COMMAND_ENV).ok();
        let ssh_command = self.ssh_command.as_deref().or(from_env.as_deref());
        Ssh::new(ssh_command, self.remote_command.as_deref()).map_err(|e| {
            report(e);
            exit::ERROR
        })
    }
}

/// The operands of one command, local and remote, in the order given.
pub(crate) struct Operands {
    items: Vec<Operand>,
}

impl Operands {
    /// Reads every operand; a refused one is reported (all of them), exit 2, and ssh never runs.
    pub(crate) fn parse(paths: &[PathBuf]) -> Result<Operands, u8> {
        let mut items = Vec::with_capacity(paths.len());
        let mut failed = false;
        for path in paths {
            match remote::parse_operand(path.as_os_str()) {
                Ok(op) => items.push(op),
                Err(e) => {
                    report(e);
                    failed = true;
                }
            }
        }
        if failed {
            Err(exit::ERROR)
        } else {
            Ok(Operands { items })
        }
    }

    pub(crate) fn all_local(&self) -> bool {
        self.items.iter().all(|op| matches!(op, Operand::Local(_)))
    }

    pub(crate) fn local(&self) -> Vec<PathBuf> {
        self.items
            .iter()
            .filter_map(|op| match op {
                Operand::Local(p) => Some(p.clone()),
                Operand::Remote(_) => None,
            })
            .collect()
    }

    /// Each host's directories, in the order given (one connection per host).
    pub(crate) fn by_host(&self) -> BTreeMap<Host, Vec<String>> {
        let mut hosts: BTreeMap<Host, Vec<String>> = BTreeMap::new();
        for op in &self.items {
            if let Operand::Remote(r) = op {
                hosts.entry(r.host.clone()).or_default().push(r.dir.clone());
            }
        }
        hosts
    }

    pub(crate) fn items(&self) -> &[Operand] {
        &self.items
    }
}

/// The one operand of hold / terminate: `Ok(None)` for a local path.
pub(crate) fn remote_operand(path: &std::path::Path) -> Result<Option<RemoteDir>, u8> {
    match remote::parse_operand(path.as_os_str()) {
        Ok(Operand::Local(_)) => Ok(None),
        Ok(Operand::Remote(r)) => Ok(Some(r)),
        Err(e) => {
            report(e);
            Err(exit::ERROR)
        }
    }
}

/// A `status` row: local or remote (the same keys; `host` null for local).
#[derive(Serialize)]
#[allow(clippy::large_enum_variant)] // a few per directory printed; boxing buys nothing
#[serde(untagged)]
enum StatusRow {
    Local(StatusRecord),
    Remote(RemoteRow),
}

/// `status` with remote operands: each host asked once (in parallel), local paths probed in
/// one batch meanwhile; rows in the order given.
pub(crate) fn status(ops: &Operands, lock_name: &str, json: bool, args: &RemoteArgs) -> u8 {
    let ssh = match args.ssh() {
        Ok(ssh) => ssh,
        Err(code) => return code,
    };
    let asked: Vec<_> = ops
        .by_host()
        .into_iter()
        .map(|(host, dirs)| {
            let (ssh, thread_host, thread_dirs, name) = (
                ssh.clone(),
                host.clone(),
                dirs.clone(),
                lock_name.to_string(),
            );
            let answer =
                std::thread::spawn(move || remote::status(&ssh, &thread_host, &thread_dirs, &name));
            (host, dirs, answer)
        })
        .collect();
    let mut local = crate::cli::status_records(&ops.local(), lock_name).into_iter();
    let mut remote_rows: BTreeMap<Host, std::vec::IntoIter<RemoteRow>> = BTreeMap::new();
    let mut failed = false;
    for (host, dirs, answer) in asked {
        let rows = match answer.join() {
            Ok(Ok(answer)) => {
                if let Some(notice) = answer.notice() {
                    report(format!("{host}: {notice}"));
                }
                answer.rows
            }
            Ok(Err(e)) => {
                failed = true;
                report(format!("{host}: {e}"));
                unknown_rows(&host, &dirs, lock_name, &format!("connection failed: {e}"))
            }
            Err(_) => {
                failed = true;
                unknown_rows(&host, &dirs, lock_name, "connection failed: internal error")
            }
        };
        remote_rows.insert(host, rows.into_iter());
    }
    let rows: Vec<StatusRow> = ops
        .items()
        .iter()
        .filter_map(|op| match op {
            Operand::Local(_) => local.next().map(StatusRow::Local),
            Operand::Remote(r) => remote_rows
                .get_mut(&r.host)
                .and_then(Iterator::next)
                .map(StatusRow::Remote),
        })
        .collect();
    let failed = failed
        || rows.iter().any(|row| match row {
            StatusRow::Local(r) => r.has_error(),
            StatusRow::Remote(r) => r.error.is_some(),
        });
    let printed = if json {
        print_json(&rows)
    } else {
        let now = jiff::Timestamp::now();
        print_table(
            rows.iter()
                .map(|row| match row {
                    StatusRow::Local(r) => table_row(r),
                    StatusRow::Remote(r) => remote_table_row(r, now),
                })
                .collect(),
        )
    };
    match printed {
        Err(e) => output_failed(&e),
        Ok(()) if failed => exit::ERROR,
        Ok(()) => exit::OK,
    }
}

fn unknown_rows(host: &Host, dirs: &[String], lock_name: &str, reason: &str) -> Vec<RemoteRow> {
    dirs.iter()
        .map(|dir| RemoteRow::unknown(host, dir, lock_name, reason.to_string()))
        .collect()
}

/// `HOST:DIR` as shown (escaped).
pub(crate) fn remote_name(row: &RemoteRow) -> String {
    escape(&format!(
        "{}:{}",
        row.host.as_deref().unwrap_or("?"),
        row.dir
    ))
    .into_owned()
}

/// What a remote row says after its state: the holder or the error, then warnings (escaped).
pub(crate) fn remote_detail(row: &RemoteRow) -> String {
    let detail = match (&row.error, &row.holder) {
        (Some(e), _) => e.clone(),
        (None, Some(h)) => h.command.clone().unwrap_or_else(|| "-".into()),
        (None, None) => "-".into(),
    };
    let detail = row.warnings.iter().fold(detail, |detail, w| {
        if detail == "-" {
            w.message.clone()
        } else {
            format!("{detail}; {}", w.message)
        }
    });
    escape(&detail).into_owned()
}

/// A remote row's table cells (DIR as `HOST:DIR`), escaped.
fn remote_table_row(row: &RemoteRow, now: jiff::Timestamp) -> [String; 5] {
    let pid = row
        .holder
        .as_ref()
        .and_then(|h| h.pid)
        .map_or("-".into(), |p| p.to_string());
    let held_for = row
        .held_since
        .map_or("-".into(), |since| format_age(age_at(since, now)));
    [
        remote_name(row),
        row.state.name().to_string(),
        pid,
        held_for,
        remote_detail(row),
    ]
}

/// `explain` with remote operands: local paths first (as `explain` alone), then each host's
/// remote explanation under an `On HOST:` line, escaped here.
pub(crate) fn explain(ops: &Operands, lock_name: &str, utc: bool, args: &RemoteArgs) -> u8 {
    let ssh = match args.ssh() {
        Ok(ssh) => ssh,
        Err(code) => return code,
    };
    let local = ops.local();
    let mut code = exit::OK;
    let mut first = true;
    if !local.is_empty() {
        code = crate::explain::run(&local, lock_name, crate::cli::time_style(utc));
        first = false;
    }
    for (host, dirs) in ops.by_host() {
        let mut remote_args: Vec<&str> = vec!["explain", "--lock-name", lock_name];
        if utc {
            remote_args.push("--utc");
        }
        remote_args.push("--");
        remote_args.extend(dirs.iter().map(String::as_str));
        let answer = match ssh.run(&host, &remote_args, STATUS_LIMIT) {
            Ok(f) if matches!(f.status.code(), Some(0) | Some(2)) && !f.stdout.is_empty() => {
                if f.status.code() == Some(2) {
                    code = exit::ERROR;
                }
                Ok(f.stdout)
            }
            Ok(f) => Err(ssh.classify(f.status, &f.stderr)),
            Err(e) => Err(e),
        };
        let text = match answer {
            Ok(text) => text,
            Err(e) => {
                report(format!("{host}: {e}"));
                code = exit::ERROR;
                continue;
            }
        };
        let written = (|| -> io::Result<()> {
            let mut out = buffered_stdout();
            if !first {
                writeln!(out)?;
            }
            writeln!(out, "On {}:", escape(&host.to_string()))?;
            for line in String::from_utf8_lossy(&text).lines() {
                writeln!(out, "{}", escape(line))?;
            }
            out.flush()
        })();
        first = false;
        if let Err(e) = written {
            return output_failed(&e);
        }
    }
    code
}

/// `hold HOST:DIR`: a remote `lockscope hold --until-stdin-closes` whose stdin is this
/// process's pipe through ssh, so the lock is released when this process ends (however it
/// ends) or the connection drops. Prints `held HOST:LOCK_FILE pid REMOTE_PID`.
pub(crate) fn hold(
    target: &RemoteDir,
    lock_name: &str,
    hold_for: Option<Duration>,
    wait: Option<Wait>,
    args: &RemoteArgs,
) -> u8 {
    let ssh = match args.ssh() {
        Ok(ssh) => ssh,
        Err(code) => return code,
    };
    let (stop_rx, _stop_flag) = match crate::cli::install_stop_handler() {
        Ok(s) => s,
        Err(e) => {
            report(format!("{e:#}"));
            return exit::ERROR;
        }
    };
    let wait = match wait {
        None => RemoteWait::No,
        Some(Wait::Forever) => RemoteWait::Forever,
        Some(Wait::Upto(d)) => RemoteWait::Upto(d),
    };
    // The acquire runs on its own thread, so that a stop request is answered at once (this
    // process then exits; its end of the pipe closes and the remote gives up).
    let (started_tx, started) = mpsc::channel();
    let (thread_target, name) = (target.clone(), lock_name.to_string());
    std::thread::spawn(move || {
        let started = remote::start_hold(
            &ssh,
            &thread_target.host,
            &thread_target.dir,
            &name,
            hold_for,
            wait,
        );
        let _ = started_tx.send(started);
    });
    let mut held = loop {
        if stop_rx.try_recv().is_ok() {
            report("stopped before the lock was taken");
            return exit::BUSY;
        }
        match started.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(held)) => break held,
            Ok(Err(HoldError::Busy(why))) => {
                report(format!("{}: {why}", target.host));
                return exit::BUSY;
            }
            Ok(Err(HoldError::Connection(e))) => {
                report(format!("{}: {e}", target.host));
                return exit::ERROR;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return exit::ERROR,
        }
    };
    let line = held
        .held_line
        .strip_prefix("held ")
        .unwrap_or(&held.held_line);
    let announced = {
        let mut out = crate::output::stdout();
        writeln!(out, "held {}:{}", target.host, escape(line)).and_then(|()| out.flush())
    };
    if let Err(e) = announced {
        report(format!("cannot write the \"held\" line to stdout: {e}"));
        let _ = held.release(Duration::from_secs(5));
        return exit::ERROR;
    }
    loop {
        match stop_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                return match held.release(Duration::from_secs(10)) {
                    Ok(()) => exit::OK,
                    Err(e) => {
                        report(format!("{}: {e}", target.host));
                        exit::ERROR
                    }
                };
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if held.ended() {
            return match held.outcome() {
                Ok(()) => exit::OK,
                Err(e) => {
                    report(format!(
                        "{}: the remote hold ended, the lock is no longer held: {e}",
                        target.host
                    ));
                    exit::ERROR
                }
            };
        }
    }
}

/// `terminate HOST:DIR`: the holder is shown and confirmed here (unless --yes), then the
/// remote lockscope ends it (`--yes --expect-pid PID`: a different holder by then is refused).
pub(crate) fn terminate(
    target: &RemoteDir,
    lock_name: &str,
    signal: &Signal,
    grace: Duration,
    yes: bool,
    args: &RemoteArgs,
) -> u8 {
    let ssh = match args.ssh() {
        Ok(ssh) => ssh,
        Err(code) => return code,
    };
    let host = &target.host;
    let row = match remote::status(&ssh, host, std::slice::from_ref(&target.dir), lock_name) {
        Ok(answer) => {
            if let Some(notice) = answer.notice() {
                report(format!("{host}: {notice}"));
            }
            match answer.rows.into_iter().next() {
                Some(row) => row,
                None => return exit::ERROR,
            }
        }
        Err(e) => {
            report(format!("{host}: {e}"));
            return exit::ERROR;
        }
    };
    let name = remote_name(&row);
    let pid = match (&row.state, row.holder.as_ref().and_then(|h| h.pid)) {
        (RemoteState::Held, Some(pid)) => pid,
        (RemoteState::Held, None) => {
            report(format!(
                "{name} is held, but its holder is not visible there"
            ));
            return exit::ERROR;
        }
        _ => {
            report(format!(
                "{name} is not held ({}): nothing to end",
                remote_detail(&row)
            ));
            return exit::ERROR;
        }
    };
    if !yes && let Err(why) = confirm(host, pid, &row) {
        report(why);
        return exit::ERROR;
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
            report(format!("{host}: {e}"));
            return exit::ERROR;
        }
    };
    let code = finished.status.code();
    if !matches!(code, Some(0..=2)) || (code == Some(2) && looks_like_clap(&finished.stderr)) {
        report(format!(
            "{host}: {}",
            ssh.classify(finished.status, &finished.stderr)
        ));
        return exit::ERROR;
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
        Ok(()) => code
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(exit::ERROR),
    }
}

fn looks_like_clap(stderr: &str) -> bool {
    stderr.contains("unexpected argument") || stderr.contains("unrecognized subcommand")
}

/// Asks on stderr whether to end the remote holder, when stdin is a terminal.
fn confirm(host: &Host, pid: u32, row: &RemoteRow) -> Result<(), String> {
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
    crate::end_holder::ask_yes_no(
        &stdin,
        &format!("End pid {pid} on {host} (user {user}): {command}?"),
    )
}

/// For `hold --until-stdin-closes`: a receiver that also gets a stop when stdin reaches its
/// end or fails (the ssh session is gone); `flag` is set too (it cancels a waiting acquire).
pub(crate) fn stop_on_stdin_eof(
    stop_rx: mpsc::Receiver<()>,
    flag: Arc<AtomicBool>,
) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    let signal_tx = tx.clone();
    std::thread::spawn(move || {
        if stop_rx.recv().is_ok() {
            let _ = signal_tx.send(());
        }
    });
    std::thread::spawn(move || {
        let mut sink = [0u8; 4096];
        let mut stdin = io::stdin().lock();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        flag.store(true, Ordering::SeqCst);
        let _ = tx.send(());
    });
    rx
}
