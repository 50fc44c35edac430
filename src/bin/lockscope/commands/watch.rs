//! `lockscope watch`: the monitor engine's changes as text or JSON lines, and the events of
//! `HOST:DIR` operands' remote watches (rows, connection states), escaped.

use crate::output::{Failure, Outcome, exit, on_stop, output_failed, report};
use crate::remote::{Operands, RemoteArgs};
use lockscope::escape::{escape, escape_path};
use lockscope::local_time::{TimeStyle, format_time_precise};
use lockscope::monitor::{Change, DirState, Monitor, MonitorOptions, Update};
use lockscope::record::{DiagnosisFields, HolderRecord, WatchRow};
use lockscope::remote::{RemoteEvent, RemoteWatch, WatchOptions};
use serde::Serialize;
use std::io::{self, Write};
use std::sync::mpsc;
use std::time::Duration;

use crate::remote::{remote_detail, remote_name};
use lockscope::remote::{ConnectionState, RemoteRow, RemoteState};
use std::time::SystemTime;

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
) -> Outcome {
    let hosts = operands.by_host();
    let ssh = if hosts.is_empty() {
        None
    } else {
        match remote.ssh() {
            Ok(ssh) => Some(ssh),
            Err(failure) => return Err(failure),
        }
    };
    // Updates, stop requests and a closed stdout meet on one channel, so the main thread
    // simply blocks on it.
    let (events_tx, events) = mpsc::channel();
    let stop_tx = events_tx.clone();
    if let Err(e) = on_stop(move || {
        let _ = stop_tx.send(Event::Stop);
    }) {
        return Err(Failure::error(format!("{e:#}")));
    }
    let updates_tx = events_tx.clone();
    let remote_tx = events_tx.clone();
    let remote_lock_name = lock_name.clone();
    let monitor = Monitor::start_with(
        MonitorOptions {
            interval,
            lock_name,
        },
        move |update| {
            let _ = updates_tx.send(Event::Update(update));
        },
    )
    .map_err(Failure::error)?;
    crate::sys::notice(move || {
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
    for event in events {
        let written = match event {
            // Nobody reads any more: stop quietly, as after a broken pipe.
            Event::Stop | Event::OutputClosed => break,
            Event::Update(Update::Notice(text)) => {
                report(text);
                Ok(())
            }
            Event::Update(Update::Change(change)) => print_change(&mut out, &change, json, style),
            Event::Remote(event) => print_event(&mut out, event, json, style),
        };
        if let Err(e) = written {
            drop(monitor);
            return output_failed(&e);
        }
    }
    drop(monitor);
    Ok(exit::OK)
}

fn print_change(
    out: &mut impl Write,
    change: &Change,
    json: bool,
    style: TimeStyle,
) -> std::io::Result<()> {
    if json {
        let record = WatchRow {
            time: humantime::format_rfc3339_millis(change.at).to_string(),
            host: None,
            dir: change.dir.to_string_lossy().into_owned(),
            lock_file: change.lock_file.to_string_lossy().into_owned(),
            state: change.new.state(),
            holder: HolderRecord::new(change.new.holder(), &change.diagnosis),
            error: change.new.error().map(str::to_string),
            cause: change.cause,
            diagnosis: DiagnosisFields::new(&change.diagnosis),
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
            change.cause.name()
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

#[derive(Serialize)]
struct ConnectionRecord {
    time: String,
    host: String,
    connection: &'static str,
    reason: Option<String>,
    reason_kind: Option<&'static str>,
    retry_in_ms: Option<u128>,
}

pub(crate) fn print_event(
    out: &mut impl Write,
    event: RemoteEvent,
    json: bool,
    style: TimeStyle,
) -> io::Result<()> {
    let now = SystemTime::now();
    let time = humantime::format_rfc3339_millis(now).to_string();
    let local_time = jiff::Timestamp::try_from(now)
        .map(|t| format_time_precise(t, style))
        .unwrap_or_default();
    match event {
        RemoteEvent::Notice { host, text } => {
            crate::output::report(format!("{host}: {text}"));
            Ok(())
        }
        RemoteEvent::Connection { host, state } => {
            let (reason, kind, retry) = match &state {
                ConnectionState::Lost { reason, retry_in } => (
                    Some(reason.to_string()),
                    Some(reason.kind()),
                    Some(*retry_in),
                ),
                _ => (None, None, None),
            };
            if json {
                let record = ConnectionRecord {
                    time,
                    host: host.to_string(),
                    connection: state.name(),
                    reason,
                    reason_kind: kind,
                    retry_in_ms: retry.map(|r| r.as_millis()),
                };
                serde_json::to_writer(&mut *out, &record)?;
                writeln!(out)?;
            } else {
                let what = match (&reason, retry) {
                    (Some(reason), Some(retry)) => format!(
                        "connection lost: {reason}; retrying in {}",
                        humantime::format_duration(retry)
                    ),
                    _ => state.name().to_string(),
                };
                writeln!(
                    out,
                    "{local_time}  {}  {}",
                    escape(&host.to_string()),
                    escape(&what)
                )?;
            }
            out.flush()
        }
        RemoteEvent::Row(mut row) => {
            let cause = row
                .other
                .get("cause")
                .and_then(|c| c.as_str())
                .unwrap_or("connection")
                .to_string();
            if json {
                // This side's clock (as local rows); a lost host's rows have the cause
                // `connection`.
                row.other.insert("time".into(), time.into());
                row.other.insert("cause".into(), cause.into());
                serde_json::to_writer(&mut *out, &row)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{local_time}  {}  {}  ({})",
                    remote_name(&row),
                    describe_remote(&row),
                    escape(&cause)
                )?;
            }
            out.flush()
        }
    }
}

fn describe_remote(row: &RemoteRow) -> String {
    match (&row.state, &row.holder) {
        (RemoteState::Unknown, _) => format!("unknown ({})", remote_detail(row)),
        (RemoteState::Error, _) => format!("error: {}", remote_detail(row)),
        (RemoteState::Held, Some(h)) => {
            let pid = h
                .pid
                .map_or("an unknown pid".into(), |p| format!("pid {p}"));
            let warnings = row
                .warnings
                .iter()
                .map(|w| format!("; warning ({}): {}", w.kind, w.message))
                .collect::<String>();
            escape(&format!(
                "held by {pid}: {}{warnings}",
                h.command.as_deref().unwrap_or("?")
            ))
            .into_owned()
        }
        (state, _) => state.name().to_string(),
    }
}
