//! `lockscope status|explain|hold|watch|terminate`: the command-line contract (names, exit
//! codes, JSON keys) that scripts depend on. See README.md.

mod args;

use crate::diagnosis_json::{DiagnosisFields, HolderRecord, diagnosis_fields, holder_record};
use crate::metrics::MetricsOptions;
use crate::output::{exit, on_stop, output_failed, report};
pub(crate) use args::RemoteArgs;
pub(crate) use args::Wait;
use args::{Cli, Command, StatusFormat};
use clap::Parser;
use lockscope::diagnose::{Diagnoser, Diagnosis};
use lockscope::escape::{escape, escape_path};
use lockscope::local_time::{TimeStyle, age_at, format_age};
use lockscope::probe::{PathProbe, ProbeBatch};
use lockscope::{LockError, LockFile};
use serde::Serialize;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    let remote = cli.remote;
    let code = match cli.command {
        #[cfg(feature = "gui")]
        None => gui(None, None),
        #[cfg(not(feature = "gui"))]
        None => print_help(),
        #[cfg(feature = "gui")]
        Some(Command::Gui {
            watchlist,
            config_dir,
        }) => gui(watchlist, config_dir),
        Some(Command::Status {
            json,
            format,
            output,
            metrics_command_line,
            lock_name,
            paths,
        }) => match crate::remote_cli::Operands::parse(&paths) {
            Err(code) => code,
            Ok(ops) => match (format, output) {
                (Some(StatusFormat::Prometheus), _) if !ops.all_local() => {
                    report("--format prometheus reads local directories only (no HOST:DIR)");
                    exit::ERROR
                }
                (Some(StatusFormat::Prometheus), output) => crate::textfile::run(
                    &paths,
                    &lock_name,
                    output.as_deref(),
                    MetricsOptions {
                        command_line: metrics_command_line,
                    },
                ),
                (_, Some(_)) => {
                    report("--output needs --format prometheus");
                    exit::ERROR
                }
                (format, None) => {
                    let json = json || format == Some(StatusFormat::Json);
                    if ops.all_local() {
                        status(&paths, &lock_name, json)
                    } else {
                        crate::remote_cli::status(&ops, &lock_name, json, &remote)
                    }
                }
            },
        },
        Some(Command::Explain {
            utc,
            lock_name,
            paths,
        }) => match crate::remote_cli::Operands::parse(&paths) {
            Err(code) => code,
            Ok(ops) if ops.all_local() => crate::explain::run(&paths, &lock_name, time_style(utc)),
            Ok(ops) => crate::remote_cli::explain(&ops, &lock_name, utc, &remote),
        },
        Some(Command::Watch {
            json,
            utc,
            interval,
            lock_name,
            dirs,
        }) => match crate::remote_cli::Operands::parse(&dirs) {
            Err(code) => code,
            Ok(ops) => crate::watch::run(&ops, interval, lock_name, json, time_style(utc), &remote),
        },
        Some(Command::Serve {
            metrics,
            interval,
            lock_name,
            metrics_command_line,
            watchlist,
            config_dir,
            dirs,
        }) => match crate::remote_cli::Operands::parse(&dirs) {
            Err(code) => code,
            Ok(ops) if !ops.all_local() => {
                report("serve watches local directories only (no HOST:DIR)");
                exit::ERROR
            }
            Ok(_) => crate::serve::run(crate::serve::ServeOptions {
                listen: metrics,
                interval,
                lock_name,
                metrics: MetricsOptions {
                    command_line: metrics_command_line,
                },
                dirs,
                watchlist,
                config_dir,
            }),
        },
        Some(Command::Hold {
            hold_for,
            wait,
            lock_name,
            until_stdin_closes,
            dir,
        }) => match crate::remote_cli::remote_operand(&dir) {
            Err(code) => code,
            Ok(None) => hold(&dir.join(lock_name), hold_for, wait, until_stdin_closes),
            Ok(Some(target)) => {
                crate::remote_cli::hold(&target, &lock_name, hold_for, wait, &remote)
            }
        },
        Some(Command::Terminate {
            signal,
            grace,
            yes,
            expect_pid,
            lock_name,
            dir,
        }) => match crate::remote_cli::remote_operand(&dir) {
            Err(code) => code,
            Ok(None) => crate::end_holder::run(&dir, &lock_name, signal, grace, yes, expect_pid),
            Ok(Some(target)) => {
                crate::remote_cli::terminate(&target, &lock_name, &signal, grace, yes, &remote)
            }
        },
    };
    ExitCode::from(code)
}

pub(crate) fn time_style(utc: bool) -> TimeStyle {
    if utc {
        TimeStyle::Utc
    } else {
        TimeStyle::Local
    }
}

#[cfg(feature = "gui")]
fn gui(watchlist: Option<String>, config_dir: Option<PathBuf>) -> u8 {
    use lockscope::gui::OpenList;
    // An existing file is imported; anything else names a saved list.
    let watchlist = watchlist.map(|w| {
        if Path::new(&w).is_file() {
            OpenList::File(w.into())
        } else {
            OpenList::Name(w)
        }
    });
    match lockscope::gui::run(lockscope::gui::GuiOptions {
        config_dir,
        watchlist,
    }) {
        Ok(()) => exit::OK,
        Err(e) => {
            report(format!("{e:#}"));
            if e.is_display_missing() {
                eprint!("{WITHOUT_A_DISPLAY}");
            }
            exit::ERROR
        }
    }
}

/// What to do instead when the app has no display (a headless server, an SSH session).
#[cfg(feature = "gui")]
const WITHOUT_A_DISPLAY: &str = "\
Without a working display, use lockscope's command line:
  lockscope status /etc/letsencrypt /var/lib/letsencrypt /var/log/letsencrypt
  lockscope explain /etc/letsencrypt
  lockscope watch /etc/letsencrypt
  lockscope hold --for 30s /etc/letsencrypt
  lockscope terminate /etc/letsencrypt
`lockscope --help` lists every command and option.
";

#[cfg_attr(feature = "gui", allow(dead_code))]
fn print_help() -> u8 {
    use clap::CommandFactory;
    let _ = Cli::command().print_help();
    exit::OK
}

/// One object of `status --json`. The keys are a contract. Paths that are not UTF-8 are shown
/// with U+FFFD in place of the bad bytes (JSON strings must be Unicode).
#[derive(Serialize)]
pub(crate) struct StatusRecord {
    /// null: this machine (remote rows are `remote::RemoteRow`s).
    host: Option<String>,
    dir: String,
    lock_file: String,
    state: &'static str,
    holder: Option<HolderRecord>,
    error: Option<String>,
    #[serde(flatten)]
    diagnosis: DiagnosisFields,
    /// For the table: how long the lock has been held.
    #[serde(skip)]
    held_for: Option<Duration>,
}

fn status_record(probed: PathProbe, diagnosis: &Diagnosis, now: jiff::Timestamp) -> StatusRecord {
    let (state, holder, error) = match &probed.state {
        Ok(state) => (state.name(), state.holder(), None),
        Err(e) => ("error", None, Some(e.to_string())),
    };
    StatusRecord {
        host: None,
        dir: lossy_string(probed.dir),
        lock_file: lossy_string(probed.lock_file),
        state,
        holder: holder_record(holder, diagnosis),
        error,
        diagnosis: diagnosis_fields(diagnosis),
        held_for: diagnosis.held_since.map(|h| age_at(h.time, now)),
    }
}

impl StatusRecord {
    pub(crate) fn has_error(&self) -> bool {
        self.error.is_some()
    }
}

/// The path as a string, U+FFFD in place of bytes that are not UTF-8 (no copy when all are).
pub(crate) fn lossy_string(path: PathBuf) -> String {
    path.into_os_string()
        .into_string()
        .unwrap_or_else(|raw| raw.to_string_lossy().into_owned())
}

/// Probes every PATH in one batch (each holder's command line is read once, however many locks
/// it holds) and diagnoses them together.
pub(crate) fn probe_and_diagnose(
    paths: &[PathBuf],
    lock_name: &str,
) -> Vec<(PathProbe, Diagnosis)> {
    let mut batch = ProbeBatch::new();
    let probes: Vec<PathProbe> = paths
        .iter()
        .map(|p| batch.probe_path(p, lock_name))
        .collect();
    let diagnoses = Diagnoser::new().diagnose_all(&probes);
    probes.into_iter().zip(diagnoses).collect()
}

/// The status rows of local PATHs, probed in one batch.
pub(crate) fn status_records(paths: &[PathBuf], lock_name: &str) -> Vec<StatusRecord> {
    let now = jiff::Timestamp::now();
    probe_and_diagnose(paths, lock_name)
        .into_iter()
        .map(|(probed, diagnosis)| status_record(probed, &diagnosis, now))
        .collect()
}

fn status(paths: &[PathBuf], lock_name: &str, json: bool) -> u8 {
    let records = status_records(paths, lock_name);
    let printed = if json {
        print_json(&records)
    } else {
        print_table(records.iter().map(table_row).collect())
    };
    if let Err(e) = printed {
        return output_failed(&e);
    }
    if records.iter().any(|r| r.error.is_some()) {
        exit::ERROR
    } else {
        exit::OK
    }
}

/// Standard output in large writes: stdout alone is line-buffered, one write(2) per line.
pub(crate) fn buffered_stdout() -> std::io::BufWriter<crate::output::Stdout> {
    std::io::BufWriter::with_capacity(64 * 1024, crate::output::stdout())
}

pub(crate) fn print_json(records: &[impl Serialize]) -> io::Result<()> {
    let mut out = buffered_stdout();
    // serde_json's error converts back into the io::Error it wraps (a broken pipe stays one).
    serde_json::to_writer_pretty(&mut out, records).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A local record's table cells (DIR, STATE, PID, HELD FOR, COMMAND), escaped.
pub(crate) fn table_row(r: &StatusRecord) -> [String; 5] {
    let pid = r
        .holder
        .as_ref()
        .and_then(|h| h.pid())
        .map_or("-".into(), |p| p.to_string());
    let detail = match (&r.error, &r.holder) {
        (Some(e), _) => escape(e).into_owned(),
        (None, Some(h)) => h.command().map_or("-".into(), |c| escape(c).into_owned()),
        (None, None) => "-".into(),
    };
    let held_for = r.held_for.map_or("-".into(), format_age);
    let detail = r.diagnosis.warnings().iter().fold(detail, |detail, w| {
        let warning = escape(&w.message).into_owned();
        if detail == "-" {
            warning
        } else {
            format!("{detail}; {warning}")
        }
    });
    [
        escape(&r.dir).into_owned(),
        r.state.to_string(),
        pid,
        held_for,
        detail,
    ]
}

/// The table. Every cell is escaped before the column widths are measured, so a name with a
/// control character can neither break the row nor misalign the columns.
pub(crate) fn print_table(rows: Vec<[String; 5]>) -> io::Result<()> {
    let header = ["DIR", "STATE", "PID", "HELD FOR", "COMMAND"].map(String::from);
    let width = |col: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    let mut out = buffered_stdout();
    for row in std::iter::once(&header).chain(&rows) {
        writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {}",
            row[0], row[1], row[2], row[3], row[4]
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Stop requests (SIGINT/SIGTERM) arrive on a channel; the flag also cancels a waiting acquire.
pub(crate) fn install_stop_handler() -> anyhow::Result<(mpsc::Receiver<()>, Arc<AtomicBool>)> {
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    on_stop(move || {
        flag.store(true, Ordering::SeqCst);
        let _ = tx.send(());
    })?;
    Ok((rx, stop))
}

/// How often a running hold checks that its lock file is still there.
const HOLD_CHECK_EVERY: Duration = Duration::from_secs(1);

fn hold(
    lock_path: &Path,
    hold_for: Option<Duration>,
    wait: Option<Wait>,
    until_stdin_closes: bool,
) -> u8 {
    let (stop_rx, stop_flag) = match install_stop_handler() {
        Ok(s) => s,
        Err(e) => {
            report(format!("{e:#}"));
            return exit::ERROR;
        }
    };
    let stop_rx = if until_stdin_closes {
        crate::remote_cli::stop_on_stdin_eof(stop_rx, stop_flag.clone())
    } else {
        stop_rx
    };
    let mut lock = LockFile::new(lock_path);
    let acquired = match wait {
        None => lock.acquire(),
        Some(Wait::Forever) => lock.acquire_until(None, &stop_flag),
        Some(Wait::Upto(t)) => lock.acquire_until(Instant::now().checked_add(t), &stop_flag),
    };
    match acquired {
        Ok(()) => {}
        Err(e @ LockError::Cancelled(_)) => {
            // Stopped while the lock was still busy: the lock was never ours.
            report(e);
            return exit::BUSY;
        }
        Err(e) => {
            report(&e);
            return if e.is_busy() { exit::BUSY } else { exit::ERROR };
        }
    }
    if let Err(e) = announce_held(lock_path) {
        // The `held` line is the caller's only word that the lock is taken (a script waits for
        // it before starting certbot). If it cannot be delivered (`> /dev/full`, a reader that
        // is gone), holding on would block every certbot run for the whole duration (without
        // --for: forever) with nobody told why. Fail loudly instead: release, exit 2.
        report(format!("cannot write the \"held\" line to stdout: {e}"));
        if let Err(e) = lock.release() {
            report(format!("released the lock, but: {e}"));
        }
        return exit::ERROR;
    }
    wait_while_held(&lock, hold_for, &stop_rx);
    match lock.release() {
        Ok(()) => exit::OK,
        Err(e) => {
            report(format!("released the lock, but: {e}"));
            exit::ERROR
        }
    }
}

/// Holds until `hold_for` has passed or a stop request arrives, checking about once a second
/// that the lock path still names the locked file: once someone removes or replaces it, a new
/// certbot creates a new file and takes its lock, so ours excludes nobody. That is said once;
/// the hold goes on (the user asked for a duration; the exit code stays 0).
fn wait_while_held(lock: &LockFile, hold_for: Option<Duration>, stop_rx: &mpsc::Receiver<()>) {
    let deadline = hold_for.and_then(|d| Instant::now().checked_add(d));
    let mut warned = false;
    loop {
        let tick = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(HOLD_CHECK_EVERY),
                _ => return,
            },
            None => HOLD_CHECK_EVERY,
        };
        match stop_rx.recv_timeout(tick) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if !warned && matches!(lock.still_named(), Ok(false)) {
            warned = true;
            report(format!(
                "warning: {} was removed or replaced while held; this lock no longer excludes \
                 certbot",
                lock.path().display()
            ));
        }
    }
}

/// The one `held PATH pid N` line (the path escaped: it must stay one line), flushed.
fn announce_held(lock_path: &Path) -> io::Result<()> {
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "held {} pid {}",
        escape_path(lock_path),
        std::process::id()
    )?;
    out.flush()
}
