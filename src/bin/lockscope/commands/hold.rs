//! `lockscope hold`: take the certbot lock on DIR (or on `HOST:DIR` through a remote lockscope),
//! announce it with one `held` line, hold it for a duration or until stopped, release it.

use crate::args::Wait;
use crate::output::{Failure, Outcome, exit, install_stop_handler, report};
use crate::remote::RemoteArgs;
use lockscope::escape::{escape, escape_path};
use lockscope::remote::{self, HoldError, RemoteDir, RemoteWait};
use lockscope::{LockError, LockFile};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How often a running hold checks that its lock file is still there.
const HOLD_CHECK_EVERY: Duration = Duration::from_secs(1);

pub(crate) fn local(
    lock_path: &Path,
    hold_for: Option<Duration>,
    wait: Option<Wait>,
    until_stdin_closes: bool,
) -> Outcome {
    let (stop_rx, stop_flag) =
        install_stop_handler().map_err(|e| Failure::error(format!("{e:#}")))?;
    let stop_rx = if until_stdin_closes {
        stop_on_stdin_eof(stop_rx, stop_flag.clone())
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
            return Err(Failure::busy(e));
        }
        Err(e) if e.is_busy() => return Err(Failure::busy(e)),
        Err(e) => return Err(Failure::error(e)),
    }
    if let Err(e) = announce_held(lock_path) {
        // The `held` line is the caller's only word that the lock is taken (a script waits for
        // it before starting certbot). If it cannot be delivered (`> /dev/full`, a reader that
        // is gone), holding on would block every certbot run for the whole duration (without
        // --for: forever) with nobody told why. Fail loudly instead: release, exit 2.
        let mut failure = Failure::error(format!("cannot write the \"held\" line to stdout: {e}"));
        if let Err(e) = lock.release() {
            failure
                .messages
                .push(format!("released the lock, but: {e}"));
        }
        return Err(failure);
    }
    wait_while_held(&lock, hold_for, &stop_rx);
    match lock.release() {
        Ok(()) => Ok(exit::OK),
        Err(e) => Err(Failure::error(format!("released the lock, but: {e}"))),
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

/// `hold HOST:DIR`: a remote `lockscope hold --until-stdin-closes` whose stdin is this
/// process's pipe through ssh, so the lock is released when this process ends (however it
/// ends) or the connection drops. Prints `held HOST:LOCK_FILE pid REMOTE_PID`.
pub(crate) fn remote(
    target: &RemoteDir,
    lock_name: &str,
    hold_for: Option<Duration>,
    wait: Option<Wait>,
    args: &RemoteArgs,
) -> Outcome {
    let ssh = args.ssh()?;
    let (stop_rx, _stop_flag) =
        install_stop_handler().map_err(|e| Failure::error(format!("{e:#}")))?;
    let wait = match wait {
        None => RemoteWait::No,
        Some(Wait::Forever) => RemoteWait::Forever,
        Some(Wait::Upto(d)) => RemoteWait::Upto(d),
    };
    // The acquire runs on its own thread, so that a stop request is answered at once (this
    // process then exits; its end of the pipe closes and the remote gives up).
    let (started_tx, started) = mpsc::channel();
    let (thread_target, name) = (target.clone(), lock_name.to_string());
    std::thread::spawn(move || {
        let started = remote::start_hold(
            &ssh,
            &thread_target.host,
            &thread_target.dir,
            &name,
            hold_for,
            wait,
        );
        let _ = started_tx.send(started);
    });
    let mut held = loop {
        if stop_rx.try_recv().is_ok() {
            return Err(Failure::busy("stopped before the lock was taken"));
        }
        match started.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(held)) => break held,
            Ok(Err(HoldError::Busy(why))) => {
                return Err(Failure::busy(format!("{}: {why}", target.host)));
            }
            Ok(Err(HoldError::Connection(e))) => {
                return Err(Failure::error(format!("{}: {e}", target.host)));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Failure::error(format!(
                    "{}: the hold ended unexpectedly",
                    target.host
                )));
            }
        }
    };
    let line = held
        .held_line
        .strip_prefix("held ")
        .unwrap_or(&held.held_line);
    let announced = {
        let mut out = crate::output::stdout();
        writeln!(out, "held {}:{}", target.host, escape(line)).and_then(|()| out.flush())
    };
    if let Err(e) = announced {
        let _ = held.release(Duration::from_secs(5));
        return Err(Failure::error(format!(
            "cannot write the \"held\" line to stdout: {e}"
        )));
    }
    loop {
        match stop_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                return match held.release(Duration::from_secs(10)) {
                    Ok(()) => Ok(exit::OK),
                    Err(e) => Err(Failure::error(format!("{}: {e}", target.host))),
                };
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if held.ended() {
            return match held.outcome() {
                Ok(()) => Ok(exit::OK),
                Err(e) => Err(Failure::error(format!(
                    "{}: the remote hold ended, the lock is no longer held: {e}",
                    target.host
                ))),
            };
        }
    }
}

/// For `hold --until-stdin-closes`: a receiver that also gets a stop when stdin reaches its
/// end or fails (the ssh session is gone); `flag` is set too (it cancels a waiting acquire).
pub(crate) fn stop_on_stdin_eof(
    stop_rx: mpsc::Receiver<()>,
    flag: Arc<AtomicBool>,
) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    let signal_tx = tx.clone();
    std::thread::spawn(move || {
        if stop_rx.recv().is_ok() {
            let _ = signal_tx.send(());
        }
    });
    std::thread::spawn(move || {
        let mut sink = [0u8; 4096];
        let mut stdin = io::stdin().lock();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        flag.store(true, Ordering::SeqCst);
        let _ = tx.send(());
    });
    rx
}
