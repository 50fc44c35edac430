//! `lockscope watch`: the monitor engine's changes as text or JSON lines.

use crate::closed_stdout;
use crate::diagnosis_json::{DiagnosisFields, HolderRecord, diagnosis_fields, holder_record};
use crate::output::{exit, on_stop, output_failed, report};
use crate::remote_cli::{Operands, RemoteArgs};
use lockscope::escape::{escape, escape_path};
use lockscope::local_time::{TimeStyle, format_time_precise};
use lockscope::monitor::{Change, DirState, Monitor, MonitorOptions, Update};
use lockscope::remote::{RemoteEvent, RemoteWatch, WatchOptions};
use serde::Serialize;
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

/// One JSON line. The keys are a contract (as `status --json`, plus `time` and `cause`).
#[derive(Serialize)]
struct WatchRecord<'a> {
    time: String,
    /// null: this machine (remote rows: remote_watch.rs).
    host: Option<&'a str>,
    dir: String,
    lock_file: String,
    state: &'static str,
    holder: Option<HolderRecord>,
    error: Option<&'a str>,
    cause: lockscope::monitor::Cause,
    #[serde(flatten)]
    diagnosis: DiagnosisFields,
}

enum Event {
    Update(Update),
    Remote(RemoteEvent),
    Stop,
    /// Standard output's reader went away (`watch | head -1`).
    OutputClosed,
}

pub fn run(
    operands: &Operands,
    interval: Duration,
    lock_name: String,
    json: bool,
    style: TimeStyle,
    remote: &RemoteArgs,
) -> u8 {
    let hosts = operands.by_host();
    let ssh = if hosts.is_empty() {
        None
    } else {
        match remote.ssh() {
            Ok(ssh) => Some(ssh),
            Err(code) => return code,
        }
    };
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
    let remote_tx = events_tx.clone();
    let remote_lock_name = lock_name.clone();
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
    closed_stdout::notice(move || {
        let _ = events_tx.send(Event::OutputClosed);
    });
    for dir in operands.local() {
        monitor.add(dir);
    }
    // One remote `watch --json` per host, for all its directories.
    let _remote_watches: Vec<RemoteWatch> = ssh
        .into_iter()
        .flat_map(|ssh| {
            hosts
                .clone()
                .into_iter()
                .map(move |(host, dirs)| (ssh.clone(), host, dirs))
        })
        .map(|(ssh, host, dirs)| {
            let tx = remote_tx.clone();
            let options = WatchOptions {
                interval,
                lock_name: remote_lock_name.clone(),
            };
            RemoteWatch::start(ssh, host, dirs, options, move |event| {
                let _ = tx.send(Event::Remote(event));
            })
        })
        .collect();
    let mut out = crate::output::stdout();
    let mut code = exit::OK;
    for event in events {
        let written = match event {
            // Nobody reads any more: stop quietly, as after a broken pipe.
            Event::Stop | Event::OutputClosed => break,
            Event::Update(Update::Notice(text)) => {
                report(text);
                Ok(())
            }
            Event::Update(Update::Change(change)) => print_change(&mut out, &change, json, style),
            Event::Remote(event) => crate::remote_watch::print_event(&mut out, event, json, style),
        };
        if let Err(e) = written {
            code = output_failed(&e);
            break;
        }
    }
    drop(monitor);
    code
}

fn print_change(
    out: &mut impl Write,
    change: &Change,
    json: bool,
    style: TimeStyle,
) -> std::io::Result<()> {
    if json {
        let record = WatchRecord {
            time: humantime::format_rfc3339_millis(change.at).to_string(),
            host: None,
            dir: change.dir.to_string_lossy().into_owned(),
            lock_file: change.lock_file.to_string_lossy().into_owned(),
            state: change.new.name(),
            holder: holder_record(change.new.holder(), &change.diagnosis),
            error: change.new.error(),
            cause: change.cause,
            diagnosis: diagnosis_fields(&change.diagnosis),
        };
        serde_json::to_writer(&mut *out, &record)?;
        writeln!(out)
    } else {
        let time = jiff::Timestamp::try_from(change.at)
            .map(|t| format_time_precise(t, style))
            .unwrap_or_default();
        let warnings: String = change
            .diagnosis
            .warnings
            .iter()
            .map(|w| format!("; warning ({}): {}", w.kind.name(), w.message))
            .collect();
        // Escaped: a newline in a name or command line must not forge a line.
        writeln!(
            out,
            "{time}  {}  {}{}  ({})",
            escape_path(&change.dir),
            escape(&describe(&change.new)),
            escape(&warnings),
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
