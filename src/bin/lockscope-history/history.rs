//! `lockscope history`: what the flight recorder kept: hold intervals (and refused attempts) per
//! directory in time order, in the local zone for people and RFC 3339 UTC in JSON; `--at T`
//! answers "who held it at T".

use crate::args::HistoryArgs;
use crate::output::{Failure, Outcome, buffered_stdout, exit, output_failed, time_style};
use lockscope::escape::{escape, escape_path};
use lockscope::history::{Hold, Refused, Store};
use lockscope::local_time::{TimeStyle, format_time};
use std::io::Write;

/// One row of the output, in time order.
enum Row {
    Hold(Hold),
    Refused(Refused),
}

impl Row {
    fn time(&self) -> jiff::Timestamp {
        match self {
            Row::Hold(h) => h.start,
            Row::Refused(r) => r.time,
        }
    }
}

/// Exit codes: 0 (rows or none), 2 when the history cannot be read.
pub(crate) fn run(options: HistoryArgs) -> Outcome {
    let path = options
        .store
        .unwrap_or_else(lockscope::history::default_store_path);
    if !path.exists() {
        return Err(Failure::error(format!(
            "no history at {}: start `lockscope record` first (or pass --store FILE)",
            path.display()
        )));
    }
    let store = Store::open_read_only(&path).map_err(Failure::error)?;
    let style = time_style(options.utc);
    let (since, until) = match options.at {
        Some(at) => (Some(at), Some(at)),
        None => (options.since, options.until),
    };
    let mut rows: Vec<Row> = Vec::new();
    for dir in &options.dirs {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        if !options.refused {
            let holds = match options.at {
                Some(at) => store.held_at(&dir, at).map(|h| h.into_iter().collect()),
                None => store.holds(&dir, since, until),
            }
            .map_err(Failure::error)?;
            rows.extend(holds.into_iter().map(Row::Hold));
        }
        if options.at.is_none() {
            let refused = store.refused(&dir, since, until).map_err(Failure::error)?;
            rows.extend(refused.into_iter().map(Row::Refused));
        }
    }
    rows.sort_by_key(Row::time);
    let written = (|| -> std::io::Result<()> {
        let mut out = buffered_stdout();
        if options.json {
            // One array, a row per line: written as it goes, greppable, still one JSON value.
            write!(out, "[")?;
            for (i, row) in rows.iter().enumerate() {
                out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
                match row {
                    Row::Hold(h) => serde_json::to_writer(&mut out, h)?,
                    Row::Refused(r) => serde_json::to_writer(&mut out, r)?,
                }
            }
            writeln!(out, "{}]", if rows.is_empty() { "" } else { "\n" })?;
        } else if rows.is_empty() {
            writeln!(out, "nothing recorded for these directories in that time")?;
        } else {
            for row in &rows {
                writeln!(out, "{}", text_line(row, style))?;
            }
        }
        out.flush()
    })();
    written.map_or_else(|e| output_failed(&e), |()| Ok(exit::OK))
}

/// "2026-12-07 03:00:12 CET – 03:04:40 CET  /etc/letsencrypt  held by pid 812 (root): certbot
/// renew  [released]". Escaped: paths and command lines are other users' text.
fn text_line(row: &Row, style: TimeStyle) -> String {
    match row {
        Row::Hold(h) => {
            let start = format_time(h.start, style);
            let start = if h.start_seen {
                start
            } else {
                format!("≤ {start}")
            };
            let end = h.end.map_or("…".to_string(), |e| format_time(e, style));
            let who = match (h.pid, &h.user) {
                (Some(pid), Some(user)) => format!("pid {pid} ({})", escape(user)),
                (Some(pid), None) => format!("pid {pid}"),
                _ => "a process not visible here".to_string(),
            };
            let command = h
                .command
                .as_deref()
                .map(|c| format!(": {}", escape(c)))
                .unwrap_or_default();
            let ended = h.ended_by.map_or("held", |e| e.name());
            format!(
                "{start} – {end}  {}  held by {who}{command}  [{ended}, {}]",
                escape_path(&h.dir),
                h.source.name()
            )
        }
        Row::Refused(r) => format!(
            "{}  {}  refused: pid {}{} while pid {} held it",
            format_time(r.time, style),
            escape_path(&r.dir),
            r.pid.map_or("?".into(), |p| p.to_string()),
            r.command
                .as_deref()
                .map(|c| format!(" ({})", escape(c)))
                .unwrap_or_default(),
            r.holder_pid.map_or("?".into(), |p| p.to_string()),
        ),
    }
}
