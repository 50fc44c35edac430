//! `lockscope watch`: the monitor engine's changes as text or JSON lines.

use crate::cli::{exit, install_stop_handler};
use lockscope::Holder;
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
}

pub fn run(dirs: &[PathBuf], interval: Duration, lock_name: String, json: bool) -> u8 {
    let (stop_rx, _flag) = match install_stop_handler() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lockscope: {e:#}");
            return exit::ERROR;
        }
    };
    let (monitor, updates) = match Monitor::start(
        MonitorOptions {
            interval,
            lock_name,
        },
        || {},
    ) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("lockscope: {e}");
            return exit::ERROR;
        }
    };
    // Updates and stop requests meet on one channel, so the main thread simply blocks.
    let (events_tx, events) = mpsc::channel();
    let forward = events_tx.clone();
    std::thread::spawn(move || {
        for update in updates {
            if forward.send(Event::Update(update)).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        if stop_rx.recv().is_ok() {
            let _ = events_tx.send(Event::Stop);
        }
    });
    for dir in dirs {
        monitor.add(dir.clone());
    }
    let mut out = std::io::stdout().lock();
    for event in events {
        let written = match event {
            Event::Stop => break,
            Event::Update(Update::Notice(text)) => {
                eprintln!("lockscope: {text}");
                Ok(())
            }
            Event::Update(Update::Change(change)) => print_change(&mut out, &change, json),
        };
        if written.is_err() {
            // stdout closed (e.g. `| head`): nothing left to report to.
            break;
        }
    }
    drop(monitor);
    exit::OK
}

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
        writeln!(
            out,
            "{time}  {}  {}  ({})",
            change.dir.display(),
            describe(&change.new),
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
