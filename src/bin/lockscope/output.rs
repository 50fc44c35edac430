//! What every subcommand shares: exit codes, messages on stderr, stdout write errors, and
//! stop requests (SIGINT/SIGTERM).

use anyhow::Context;
use lockscope::escape::escape;
use std::io;

use lockscope::local_time::TimeStyle;
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// Exit codes shared by every subcommand.
pub(crate) mod exit {
    pub const OK: u8 = 0;
    /// `hold`: the lock is held by someone else (also after `--wait` timed out).
    pub const BUSY: u8 = 1;
    /// A path could not be probed or locked, or the command line was wrong.
    pub const ERROR: u8 = 2;
}

/// Why a command could not do its job, and the exit code that says so. Commands return it;
/// `main` prints each message once (escaped, as [`report`]) and exits with the code: the one
/// place a failure becomes an exit code. Warnings and per-row problems a command reports as it
/// goes are not failures; it returns the exit code they call for.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: u8,
    pub messages: Vec<String>,
    /// Our own text to print after the messages as it is (what to do instead).
    pub hint: Option<&'static str>,
}

impl Failure {
    /// Exit 2: a path that cannot be used, a usage error, output that cannot be written.
    pub(crate) fn error(message: impl std::fmt::Display) -> Failure {
        Failure {
            code: exit::ERROR,
            messages: vec![message.to_string()],
            hint: None,
        }
    }

    /// Exit 1: the lock is busy (`hold`), or still held (`terminate`).
    pub(crate) fn busy(message: impl std::fmt::Display) -> Failure {
        Failure {
            code: exit::BUSY,
            messages: vec![message.to_string()],
            hint: None,
        }
    }

    /// Adds our own text, printed unescaped after the messages.
    #[cfg_attr(not(feature = "gui"), allow(dead_code))]
    pub(crate) fn with_hint(self, hint: &'static str) -> Failure {
        Failure {
            hint: Some(hint),
            ..self
        }
    }
}

/// What a command ends with: its exit code after it did its job (2 when some rows were errors,
/// already shown in them), or a [`Failure`].
pub(crate) type Outcome = Result<u8, Failure>;

/// The one place a command's outcome becomes the process's exit code: each message of a
/// failure once, escaped, then its hint.
pub(crate) fn exit_code(outcome: Outcome) -> std::process::ExitCode {
    std::process::ExitCode::from(match outcome {
        Ok(code) => code,
        Err(failure) => {
            for message in &failure.messages {
                report(message);
            }
            if let Some(hint) = failure.hint {
                eprint!("{hint}");
            }
            failure.code
        }
    })
}

/// Prints `lockscope: MESSAGE` on stderr, escaped: messages carry paths and holders' command
/// lines, which local users choose (a newline or an ANSI sequence would forge output).
pub(crate) fn report(message: impl std::fmt::Display) {
    eprintln!("lockscope: {}", escape(&message.to_string()));
}

/// What a failed write to stdout means for the exit code. A reader that went away (`| head -1`)
/// is not an error: like ripgrep, exit 0 without a message (Rust ignores SIGPIPE, so it arrives
/// as EPIPE). Any other write error (`> /dev/full`, EIO) is reported and exits 2.
pub(crate) fn output_failed(e: &io::Error) -> Outcome {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(exit::OK)
    } else {
        Err(Failure::error(format!("cannot write output: {e}")))
    }
}

/// Standard output, locked, for every subcommand's output. A stdout that was closed when
/// lockscope started (`>&-`) fails every write with "standard output is closed" (exit 2 through
/// [`output_failed`]): a closed stdout is a write error, not a reader that left, and Rust's
/// runtime would otherwise hand us a silent /dev/null.
pub(crate) fn stdout() -> Stdout {
    Stdout {
        inner: io::stdout().lock(),
        closed: crate::sys::closed_at_start(),
    }
}

pub(crate) struct Stdout {
    inner: io::StdoutLock<'static>,
    closed: bool,
}

impl Stdout {
    fn check(&self) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::other("standard output is closed"));
        }
        Ok(())
    }
}

impl io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        self.inner.flush()
    }
}

/// Calls `stop` on SIGINT/SIGTERM (Ctrl-C / Ctrl-Break on Windows).
pub(crate) fn on_stop(stop: impl FnMut() + Send + 'static) -> anyhow::Result<()> {
    ctrlc::set_handler(stop).context("cannot install the SIGINT/SIGTERM handler")
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

/// Like [`print_json`], each record written as it comes (the same bytes as a slice's).
pub(crate) fn print_json_each(records: impl Iterator<Item = impl Serialize>) -> io::Result<()> {
    use serde::ser::{SerializeSeq, Serializer};
    let mut out = buffered_stdout();
    let mut json = serde_json::Serializer::pretty(&mut out);
    let mut seq = json.serialize_seq(None).map_err(io::Error::from)?;
    for record in records {
        seq.serialize_element(&record).map_err(io::Error::from)?;
    }
    seq.end().map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
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

pub(crate) fn time_style(utc: bool) -> TimeStyle {
    if utc {
        TimeStyle::Utc
    } else {
        TimeStyle::Local
    }
}
