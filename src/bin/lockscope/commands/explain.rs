//! `lockscope explain`: each lock's diagnosis in plain sentences (see `lockscope::diagnose`),
//! for local paths and `HOST:DIR` operands (the remote lockscope explains; its text is escaped).

use crate::companion::HISTORY;
use crate::output::{Outcome, buffered_stdout, exit, output_failed, report, time_style};
use crate::rows::probe_and_diagnose;
use lockscope::escape::escape;
use lockscope::local_time::TimeStyle;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::remote::{Operands, RemoteArgs};
use lockscope::remote::STATUS_LIMIT;

pub(crate) fn local(
    paths: &[PathBuf],
    lock_name: &str,
    style: TimeStyle,
    history: Option<&std::path::Path>,
) -> Outcome {
    let now = jiff::Timestamp::now();
    let explained = probe_and_diagnose(paths, lock_name);
    let failed = explained.iter().any(|(probe, _)| probe.state.is_err());
    let written = (|| -> io::Result<()> {
        let mut out = buffered_stdout();
        for (i, (probe, diagnosis)) in explained.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            let mut paragraphs = lockscope::diagnose::explain(
                &probe.dir,
                &probe.state,
                diagnosis,
                now,
                style,
                lockscope::diagnose::Reader::Terminal,
            );
            if let Some(refused) = recently_refused(&probe.dir, now, style, history) {
                // Before "What to do", the last paragraph.
                let at = paragraphs.len().saturating_sub(1);
                paragraphs.insert(at, refused);
            }
            for paragraph in paragraphs {
                // Escaped: paths, command lines and container names are chosen by local users.
                writeln!(out, "{}", escape(&paragraph))?;
            }
        }
        out.flush()
    })();
    match written {
        Err(e) => output_failed(&e),
        Ok(()) if failed => Ok(exit::ERROR),
        Ok(()) => Ok(exit::OK),
    }
}

/// `explain` with remote operands: local paths first (as `explain` alone), then each host's
/// remote explanation under an `On HOST:` line, escaped here.
pub(crate) fn remote(
    ops: &Operands,
    lock_name: &str,
    utc: bool,
    args: &RemoteArgs,
    history: Option<&std::path::Path>,
) -> Outcome {
    let ssh = args.ssh()?;
    let local_paths = ops.local();
    let mut code = exit::OK;
    let mut first = true;
    if !local_paths.is_empty() {
        code = local(&local_paths, lock_name, time_style(utc), history)?;
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
    Ok(code)
}

/// What the flight recorder saw refused here in the last day, if a history can be read (the
/// system recorder's, then this user's): "In the last 24 hours, 3 attempts to take this lock
/// were refused, the latest at 03:00:02 by pid 955 (certbot renew) while pid 812 held it".
/// The history is read by `lockscope-history` (it links SQLite; this program does not), only
/// when a history file is there.
fn recently_refused(
    dir: &std::path::Path,
    now: jiff::Timestamp,
    style: TimeStyle,
    history: Option<&std::path::Path>,
) -> Option<String> {
    let dir = std::path::absolute(dir).ok()?;
    let since = now.checked_sub(jiff::SignedDuration::from_hours(24)).ok()?;
    let candidates = match history {
        Some(path) => vec![path.to_path_buf()],
        None => vec![
            PathBuf::from(lockscope::history::SYSTEM_STORE),
            lockscope::history::default_store_path(),
        ],
    };
    let store = candidates.into_iter().find(|path| path.is_file())?;
    let mut args: Vec<OsString> = vec!["history".into(), "--json".into(), "--refused".into()];
    args.push(format!("--since={since}").into());
    let mut store_arg = OsString::from("--store=");
    store_arg.push(&store);
    args.push(store_arg);
    args.push("--".into());
    args.push(dir.clone().into());
    let printed = HISTORY.output(args).ok()?;
    let rows: Vec<RefusedRow> = serde_json::from_slice(&printed).ok()?;
    let latest = rows.last()?;
    let times = if rows.len() == 1 {
        "1 attempt to take this lock was refused".to_string()
    } else {
        format!("{} attempts to take this lock were refused", rows.len())
    };
    let by = match (&latest.pid, &latest.command) {
        (Some(pid), Some(command)) => format!(" by pid {pid} ({command})"),
        (Some(pid), None) => format!(" by pid {pid}"),
        _ => String::new(),
    };
    let holder = latest
        .holder_pid
        .map(|pid| format!(" while pid {pid} held it"))
        .unwrap_or_default();
    Some(format!(
        "In the last 24 hours, {times}, the latest at {}{by}{holder} (the flight recorder's \
         history: `lockscope history --refused {}`).",
        lockscope::local_time::format_time(latest.time, style),
        dir.display()
    ))
}

/// A row of `history --json --refused` (README's contract), the keys used here.
#[derive(serde::Deserialize)]
struct RefusedRow {
    pid: Option<u32>,
    command: Option<String>,
    time: jiff::Timestamp,
    holder_pid: Option<u32>,
}
