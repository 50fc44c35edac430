//! `lockscope watch`: the monitor engine's changes as text or JSON lines.

use crate::cli::{exit, on_stop, output_failed, report};
use lockscope::Holder;
use lockscope::escape::{escape, escape_path};
use lockscope::monitor::{Change, DirState, Monitor, MonitorOptions, Update};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// One JSON line. The keys are a contract (as `status --json`, plus `time` and `cause`).
#[derive(Serialize)]
struct WatchRecord<'a> {
    time: String,
    dir: String,
    lock_file: String,
    state: &'static str,
    holder: Option<Holder>,
    error: Option<&'a str>,
    cause: lockscope::monitor::Cause,
}

enum Event {
    Update(Update),
    Stop,
    /// Standard output's reader went away (`watch | head -1`).
    OutputClosed,
}

pub fn run(dirs: &[PathBuf], interval: Duration, lock_name: String, json: bool) -> u8 {
    // Updates, stop requests and a closed stdout meet on one channel, so the main thread
    // simply blocks on it.
    let (events_tx, events) = mpsc::channel();
    let stop_tx = events_tx.clone();
    if let Err(e) = on_stop(move || {
        let _ = stop_tx.send(Event::Stop);
    }) {
        report(format!("{e:#}"));
        return exit::ERROR;
    }
    let updates_tx = events_tx.clone();
    let monitor = match Monitor::start_with(
        MonitorOptions {
            interval,
            lock_name,
        },
        move |update| {
            let _ = updates_tx.send(Event::Update(update));
        },
    ) {
        Ok(m) => m,
        Err(e) => {
            report(e);
            return exit::ERROR;
        }
    };
    notice_closed_stdout(events_tx);
    for dir in dirs {
        monitor.add(dir.clone());
    }
    let mut out = std::io::stdout().lock();
    let mut code = exit::OK;
    for event in events {
        let written = match event {
            // Nobody reads any more: stop quietly, as after a broken pipe.
            Event::Stop | Event::OutputClosed => break,
            Event::Update(Update::Notice(text)) => {
                report(text);
                Ok(())
            }
            Event::Update(Update::Change(change)) => print_change(&mut out, &change, json),
        };
        if let Err(e) = written {
            code = output_failed(&e);
            break;
        }
    }
    drop(monitor);
    code
}

/// Sends [`Event::OutputClosed`] as soon as standard output is a pipe (or socket, or terminal)
/// whose other end has gone away, without waiting for the next change to fail its write: a
/// thread blocks in `poll` on fd 1 asking for no events, so only POLLERR (a pipe without
/// readers) or POLLHUP (a hung-up terminal or socket) wake it. Files and /dev/null never do.
#[cfg(unix)]
fn notice_closed_stdout(events: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        loop {
            let mut fd = libc::pollfd {
                fd: libc::STDOUT_FILENO,
                events: 0,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut fd, 1, -1) } < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            if fd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                let _ = events.send(Event::OutputClosed);
            }
            // POLLNVAL (no fd 1): the writes will tell.
            return;
        }
    });
}

/// Elsewhere a closed reader is noticed at the next write.
#[cfg(not(unix))]
fn notice_closed_stdout(_events: mpsc::Sender<Event>) {}

fn print_change(out: &mut impl Write, change: &Change, json: bool) -> std::io::Result<()> {
    let time = humantime::format_rfc3339_millis(change.at).to_string();
    if json {
        let record = WatchRecord {
            time,
            dir: change.dir.to_string_lossy().into_owned(),
            lock_file: change.lock_file.to_string_lossy().into_owned(),
            state: change.new.name(),
            holder: change.new.holder(),
            error: change.new.error(),
            cause: change.cause,
        };
        serde_json::to_writer(&mut *out, &record)?;
        writeln!(out)
    } else {
        // Escaped: a newline in a name or command line must not forge a line.
        writeln!(
            out,
            "{time}  {}  {}  ({})",
            escape_path(&change.dir),
            escape(&describe(&change.new)),
            cause_name(change)
        )
    }
}

fn describe(state: &DirState) -> String {
    match (state, state.holder()) {
        (DirState::Error(e), _) => format!("error: {e}"),
        (_, Some(holder)) => format!("held by {holder}"),
        _ => state.name().to_string(),
    }
}

fn cause_name(change: &Change) -> &'static str {
    match change.cause {
        lockscope::monitor::Cause::Initial => "initial",
        lockscope::monitor::Cause::FsEvent => "fs-event",
        lockscope::monitor::Cause::Poll => "poll",
        lockscope::monitor::Cause::Action => "action",
    }
}
