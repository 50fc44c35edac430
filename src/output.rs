//! What every subcommand shares: exit codes, messages on stderr, stdout write errors, and
//! stop requests (SIGINT/SIGTERM).

use anyhow::Context;
use lockscope::escape::escape;
use std::io;

/// Exit codes shared by every subcommand.
pub(crate) mod exit {
    pub const OK: u8 = 0;
    /// `hold`: the lock is held by someone else (also after `--wait` timed out).
    pub const BUSY: u8 = 1;
    /// A path could not be probed or locked, or the command line was wrong.
    pub const ERROR: u8 = 2;
}

/// Prints `lockscope: MESSAGE` on stderr, escaped: messages carry paths and holders' command
/// lines, which local users choose (a newline or an ANSI sequence would forge output).
pub(crate) fn report(message: impl std::fmt::Display) {
    eprintln!("lockscope: {}", escape(&message.to_string()));
}

/// What a failed write to stdout means for the exit code. A reader that went away (`| head -1`)
/// is not an error: like ripgrep, exit 0 without a message (Rust ignores SIGPIPE, so it arrives
/// as EPIPE). Any other write error (`> /dev/full`, EIO) is reported and exits 2.
pub(crate) fn output_failed(e: &io::Error) -> u8 {
    if e.kind() == io::ErrorKind::BrokenPipe {
        exit::OK
    } else {
        report(format!("cannot write output: {e}"));
        exit::ERROR
    }
}

/// Standard output, locked, for every subcommand's output. A stdout that was closed when
/// lockscope started (`>&-`) fails every write with "standard output is closed" (exit 2 through
/// [`output_failed`]): a closed stdout is a write error, not a reader that left, and Rust's
/// runtime would otherwise hand us a silent /dev/null.
pub(crate) fn stdout() -> Stdout {
    Stdout {
        inner: io::stdout().lock(),
        closed: crate::closed_stdout::closed_at_start(),
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
