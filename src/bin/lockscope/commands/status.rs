//! `lockscope status`: each lock's state and holder, as a table, JSON or Prometheus metrics
//! (`--format prometheus [--output FILE]`, for node_exporter's textfile collector), for local
//! paths (probed in one batch) and `HOST:DIR` operands (each host asked once, in parallel).

use crate::metrics::{LockMetrics, MetricsOptions, SharedMetrics, render};
use crate::output::{
    Failure, Outcome, buffered_stdout, exit, output_failed, print_json, print_json_each,
    print_table, report,
};
use crate::remote::{Operands, RemoteArgs, remote_detail, remote_name, unknown_rows};
use crate::rows::{
    StatusRecord, each_status_record, lossy_string, probe_and_diagnose, status_records,
};
use lockscope::escape::escape;
use lockscope::local_time::{age_at, format_age};
use lockscope::monitor::DirState;
use lockscope::remote::{self, Host, Operand, RemoteRow};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) fn local(paths: &[PathBuf], lock_name: &str, json: bool) -> Outcome {
    let mut error = false;
    let records = each_status_record(paths, lock_name).inspect(|r| error |= r.has_error());
    // JSON rows are printed as they are made; the table needs every row for its widths.
    let printed = if json {
        print_json_each(records)
    } else {
        print_table(records.map(|r| table_row(&r)).collect())
    };
    if let Err(e) = printed {
        return output_failed(&e);
    }
    if error { Ok(exit::ERROR) } else { Ok(exit::OK) }
}

/// `status --all`: the directories discovery finds (`lockscope::discover`), as `status` rows
/// with how each was found (JSON: `found_by`; the table: a FOUND BY column).
pub(crate) fn all(lock_name: &str, json: bool) -> Outcome {
    let discovery = lockscope::discover::discover(lock_name);
    let dirs: Vec<PathBuf> = discovery.found.iter().map(|f| f.dir.clone()).collect();
    let mut error = false;
    let mut held = 0;
    let records = each_status_record(&dirs, lock_name)
        .zip(&discovery.found)
        .inspect(|(r, _)| {
            error |= r.has_error();
            held += usize::from(r.row.state == lockscope::record::State::Held);
        })
        .map(|(record, found)| FoundRecord {
            record,
            found_by: found.found_by.clone(),
        });
    let printed = if json {
        print_json_each(records)
    } else {
        let rows: Vec<[String; 5]> = records
            .map(|r| {
                let mut cells = table_row(&r.record);
                let how: Vec<&str> = r.found_by.iter().map(|h| h.name()).collect();
                cells[0] = format!("{}  ({})", cells[0], how.join(", "));
                cells
            })
            .collect();
        print_table(rows)
    };
    if let Err(e) = printed {
        return output_failed(&e);
    }
    if !json && held == 0 {
        eprintln!(
            "lockscope: no certbot lock is held now (looked in the kernel's lock table, {} running \
             certbot process(es) and certbot's default directories)",
            discovery.certbot_processes
        );
    }
    Ok(if error { exit::ERROR } else { exit::OK })
}

/// A `status --all` row: the status row's keys, then how the directory was found.
#[derive(Serialize)]
struct FoundRecord {
    #[serde(flatten)]
    record: StatusRecord,
    found_by: Vec<lockscope::discover::FoundBy>,
}

/// A local record's table cells (DIR, STATE, PID, HELD FOR, COMMAND), escaped.
pub(crate) fn table_row(record: &StatusRecord) -> [String; 5] {
    let r = &record.row;
    let pid = r
        .holder
        .as_ref()
        .and_then(|h| h.holder.pid)
        .map_or("-".into(), |p| p.to_string());
    let detail = match (&r.error, &r.holder) {
        (Some(e), _) => escape(e).into_owned(),
        (None, Some(h)) => h
            .holder
            .command
            .as_deref()
            .map_or("-".into(), |c| escape(c).into_owned()),
        (None, None) => "-".into(),
    };
    let held_for = record.held_for.map_or("-".into(), format_age);
    let detail = r.diagnosis.warnings.iter().fold(detail, |detail, w| {
        let warning = escape(&w.message).into_owned();
        if detail == "-" {
            warning
        } else {
            format!("{detail}; {warning}")
        }
    });
    [
        escape(&r.dir).into_owned(),
        r.state.name().to_string(),
        pid,
        held_for,
        detail,
    ]
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
pub(crate) fn remote(ops: &Operands, lock_name: &str, json: bool, args: &RemoteArgs) -> Outcome {
    let ssh = args.ssh()?;
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
    let mut local = status_records(&ops.local(), lock_name).into_iter();
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
        Ok(()) if failed => Ok(exit::ERROR),
        Ok(()) => Ok(exit::OK),
    }
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

pub(crate) fn prometheus(
    paths: &[PathBuf],
    lock_name: &str,
    output: Option<&Path>,
    options: MetricsOptions,
) -> Outcome {
    let mut metrics = LockMetrics::new(options);
    let mut any_error = false;
    for (probed, diagnosis) in probe_and_diagnose(paths, lock_name) {
        let state = DirState::from(probed.state);
        // As the table and JSON: a missing directory is an error for `status`.
        any_error |= matches!(state, DirState::Error(_) | DirState::Missing);
        metrics.set(lossy_string(probed.dir), &state, &diagnosis);
    }
    let text = render(&SharedMetrics::new(metrics).registry());
    match output {
        Some(file) => {
            if let Err(e) = lockscope::atomic_file::write(file, text.as_bytes()) {
                return Err(Failure::error(format!(
                    "cannot write {}: {e}",
                    file.display()
                )));
            }
        }
        None => {
            let mut out = buffered_stdout();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                return output_failed(&e);
            }
        }
    }
    Ok(if any_error { exit::ERROR } else { exit::OK })
}
