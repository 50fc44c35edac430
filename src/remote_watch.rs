//! `lockscope watch HOST:DIR`: a remote host's rows and connection states as text or JSON
//! lines (beside the local ones). Rows have the keys of local rows with `host` set; connection
//! lines are `{"time", "host", "connection": "connecting"|"connected"|"lost", "reason",
//! "reason_kind", "retry_in_ms"}` and have no `dir`.

use crate::remote_cli::{remote_detail, remote_name};
use lockscope::escape::escape;
use lockscope::local_time::{TimeStyle, format_time_precise};
use lockscope::remote::{ConnectionState, RemoteEvent, RemoteRow, RemoteState};
use serde::Serialize;
use std::io::{self, Write};
use std::time::SystemTime;

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
                    describe(&row),
                    escape(&cause)
                )?;
            }
            out.flush()
        }
    }
}

fn describe(row: &RemoteRow) -> String {
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
