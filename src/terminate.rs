//! Ending the process that holds a lock, without signalling the wrong one.
//!
//! The steps, each its own call so that a caller can ask a person in between:
//!
//! 1. [`identify`]: probe the lock; refuse unless another process, whose pid is visible and
//!    usable here, holds it ([`TerminateError`] says why not). The [`Target`] names the holder
//!    by pid *and* start time (`/proc/<pid>/stat`), which together name one process.
//! 2. [`Target::pin`]: open a pidfd on the pid (Linux 5.3+), then check that the pinned process
//!    is the identified one (same start time: the pid was not recycled since step 1) and that a
//!    fresh probe still names that pid as the holder. A pidfd reaches the process it was opened
//!    for or nobody, so from here on no recycled pid can receive the signal.
//! 3. [`Pinned::signal`] sends the signal with `pidfd_send_signal`.
//! 4. [`Pinned::wait_released`]: poll the lock (every ~50 ms, and at once when the process
//!    exits) until it is released or the grace period is over: an [`Outcome`].
//!
//! An OFD lock belongs to an open file description, not a process: a child that inherited
//! the descriptor holds the same lock, and it outlives the process that took it. Such sharers
//! are found when the holder is identified and pinned ([`Target::sharers`]); the lock still
//! held by one of them is [`Outcome::StillShared`], never "released".
//!
//! Nothing here prints; refusals and failures are typed. Linux only: elsewhere every step
//! returns [`TerminateError::Unsupported`].
//!
//! ```no_run
//! use lockscope::terminate::{self, Outcome, Signal};
//! use std::time::Duration;
//! let target = terminate::identify("/etc/letsencrypt".as_ref(), lockscope::LOCK_FILE_NAME)?;
//! // ... ask whether to end `target.pid` (`target.command`, `target.user`) ...
//! let pinned = target.pin()?;
//! pinned.signal(Signal::term())?;
//! match pinned.wait_released(Duration::from_secs(10))? {
//!     Outcome::Released { .. } | Outcome::PassedOn(_) => println!("released"),
//!     Outcome::StillShared { holder, .. } => println!("still held by {holder}"),
//!     Outcome::StillHeld => println!("still held; try SIGKILL"),
//! }
//! # Ok::<(), lockscope::terminate::TerminateError>(())
//! ```

use crate::holder::Holder;
use crate::path_error::PathError;
use crate::probe::{LockState, ProbeBatch};
use crate::sys;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How often [`Pinned::wait_released`] probes the lock while the process is alive.
pub const POLL_EVERY: Duration = Duration::from_millis(50);

/// How long [`Pinned::wait_released`] waits, once the lock is released, for the process to
/// count as exited. The kernel closes a dying process's files (dropping its locks) a moment
/// before its pidfd says it has exited; a process that let go of the lock and lives on costs
/// this much extra.
const EXIT_AFTER_RELEASE: Duration = Duration::from_millis(100);

/// How long [`Pinned::wait_released`] waits for the signalled process to exit once the lock is
/// known to stay held by a sharer, before saying whether it exited: it returns at the exit.
const EXIT_AFTER_SIGNAL: Duration = Duration::from_secs(1);

/// A signal, by the platform's number. Parsed from a name (`TERM`, `SIGKILL`, `int`: the
/// `SIG` prefix is optional, case does not matter) or a number (Linux: 1 to 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

impl Signal {
    /// SIGTERM, the default: asks the process to exit (certbot and Python exit at once).
    pub fn term() -> Signal {
        Signal(sys::SIGTERM)
    }

    /// SIGKILL: cannot be caught or ignored.
    pub fn kill() -> Signal {
        Signal(sys::SIGKILL)
    }

    /// SIGCONT: a stopped process (Ctrl+Z, a debugger) runs again; it could not act on any
    /// other signal but SIGKILL while stopped.
    pub fn cont() -> Signal {
        Signal(sys::SIGCONT)
    }

    /// The platform's signal number.
    pub fn number(self) -> i32 {
        self.0
    }

    /// The name without `SIG` (`TERM`), for the signals known by name.
    pub fn name(self) -> Option<&'static str> {
        sys::SIGNAL_NAMES
            .iter()
            .find(|(_, n)| *n == self.0)
            .map(|(name, _)| *name)
    }
}

impl fmt::Display for Signal {
    /// `SIGTERM`, or `signal 42` for a signal without a known name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "SIG{name}"),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// Why a text is not a [`Signal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// Not a known name or a valid number.
    #[error(
        "{0:?} is not a signal (use TERM, KILL, INT, HUP, QUIT, USR1, USR2, with or without \
         SIG, or a number from 1 to 64)"
    )]
    NotASignal(String),
    /// Signals cannot be sent on this platform.
    #[error("sending signals is not supported on this platform")]
    Unsupported,
}

impl FromStr for Signal {
    type Err = SignalError;

    fn from_str(text: &str) -> Result<Signal, SignalError> {
        if !sys::TERMINATE_SUPPORTED {
            return Err(SignalError::Unsupported);
        }
        let trimmed = text.trim();
        if let Ok(n) = trimmed.parse::<i32>() {
            return if (1..=sys::MAX_SIGNAL).contains(&n) {
                Ok(Signal(n))
            } else {
                Err(SignalError::NotASignal(text.to_string()))
            };
        }
        let upper = trimmed.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        sys::SIGNAL_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, number)| Signal(*number))
            .ok_or_else(|| SignalError::NotASignal(text.to_string()))
    }
}

/// Why a holder was not (or could not be) signalled. Each message is one line for a person.
#[derive(Debug, thiserror::Error)]
pub enum TerminateError {
    /// The lock could not be probed (missing directory, symlinked lock file, ...).
    #[error(transparent)]
    Probe(#[from] PathError),
    /// Nobody holds the lock: there is nothing to end.
    #[error("{} is not locked ({state}): nothing to end", .lock_file.display())]
    NotHeld {
        /// The lock file.
        lock_file: PathBuf,
        /// `absent` or `free`.
        state: &'static str,
    },
    /// This very process holds the lock.
    #[error("{} is held by this process itself: refusing to signal it", .lock_file.display())]
    HeldByThisProcess {
        /// The lock file.
        lock_file: PathBuf,
    },
    /// The lock is held, but its holder's pid is not known here (another pid namespace, or a
    /// process whose `/proc` entries cannot be read).
    #[error(
        "{} is locked by a process whose pid is not visible here (another pid namespace, or \
         /proc hides it): refusing to guess",
        .lock_file.display()
    )]
    HolderNotVisible {
        /// The lock file.
        lock_file: PathBuf,
    },
    /// `/proc` belongs to another pid namespace than this process: a pid read there may name
    /// a different process in ours.
    #[error(
        "{} is locked by pid {pid} as /proc numbers it, but /proc belongs to another pid \
         namespace than this process: that pid cannot be signalled safely",
        .lock_file.display()
    )]
    ForeignPidNamespace {
        /// The lock file.
        lock_file: PathBuf,
        /// The pid as `/proc` names it.
        pid: u32,
    },
    /// The holder belongs to another user, whose processes this one may not signal.
    #[error(
        "pid {pid} belongs to {owner}, and this user may not signal another user's process: \
         run lockscope as root (sudo), or as {owner}"
    )]
    NotPermitted {
        /// The holder's pid.
        pid: u32,
        /// Its user, by name where known (`root`, `uid 1000`).
        owner: String,
    },
    /// The holder exited before it could be pinned or signalled.
    #[error("pid {pid} exited before it could be signalled")]
    ProcessGone {
        /// The holder's pid.
        pid: u32,
    },
    /// The pid now names a different process than the one identified (its start time changed):
    /// the pid was recycled.
    #[error(
        "pid {pid} is now a different process than the one identified (its start time \
         changed): refusing to signal it"
    )]
    PidReused {
        /// The recycled pid.
        pid: u32,
    },
    /// The pinned process no longer holds the lock.
    #[error("pid {pid} no longer holds {} (now {now}): refusing to signal it", .lock_file.display())]
    NoLongerHolds {
        /// The pid identified.
        pid: u32,
        /// The lock file.
        lock_file: PathBuf,
        /// What a fresh probe found instead (`absent`, `free`, `held by pid 7: ...`, an error).
        now: String,
    },
    /// A system call failed (`pidfd_open`, `pidfd_send_signal`, `poll`): no permission to
    /// signal another user's process (EPERM), a kernel without pidfds (ENOSYS), ...
    #[error("{call} for pid {pid} failed: {source}")]
    System {
        /// The call.
        call: &'static str,
        /// The holder's pid.
        pid: u32,
        /// What the kernel said.
        source: io::Error,
    },
    /// Not supported on this platform (it needs Linux's pidfds).
    #[error("ending a lock's holder is not supported on this platform (it needs Linux pidfds)")]
    Unsupported,
}

/// The process identified as a lock's holder: its pid and start time (together they name one
/// process), and what a person would want to see before ending it. Fields are public so that
/// an identity can be kept and checked again later; [`Target::pin`] verifies it afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The lock file probed.
    pub lock_file: PathBuf,
    /// The holder's pid (in this process's pid namespace).
    pub pid: u32,
    /// Its start time (clock ticks since boot, `/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// Its real user id, when readable.
    pub uid: Option<u32>,
    /// Its user's name, when the password database has one.
    pub user: Option<String>,
    /// Its command line, when readable.
    pub command: Option<String>,
    /// Other processes that hold the same lock through the same open file description (they
    /// inherited the descriptor): ending `pid` alone does not release it. Empty for classic
    /// locks, which a child never shares. Found again by [`Target::pin`].
    pub sharers: Vec<Sharer>,
}

/// A process sharing the target's lock: its pid and start time (together one process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharer {
    /// Its pid.
    pub pid: u32,
    /// Its start time (as [`Target::start_time`]).
    pub start_time: u64,
}

/// The processes sharing `pid`'s lock on `lock_file`, with their start times.
fn sharers_of(lock_file: &Path, pid: u32) -> Vec<Sharer> {
    sys::lock_sharers(lock_file, pid)
        .into_iter()
        .filter_map(|pid| {
            Some(Sharer {
                pid,
                start_time: sys::start_time(pid)?,
            })
        })
        .collect()
}

/// Probes PATH (a directory, or the lock file itself: see [`ProbeBatch::probe_path`]) and names
/// the process holding its lock, or says why it will not be ended.
pub fn identify(path: &Path, lock_name: &str) -> Result<Target, TerminateError> {
    if !sys::TERMINATE_SUPPORTED {
        return Err(TerminateError::Unsupported);
    }
    let probed = ProbeBatch::new().probe_path(path, lock_name);
    let lock_file = probed.lock_file;
    let (pid, command) = match probed.state? {
        LockState::Absent => return Err(not_held(lock_file, "absent")),
        LockState::Free => return Err(not_held(lock_file, "free")),
        LockState::HeldByThisProcess => {
            return Err(TerminateError::HeldByThisProcess { lock_file });
        }
        LockState::Held(Holder { pid: None, .. }) => {
            return Err(TerminateError::HolderNotVisible { lock_file });
        }
        LockState::Held(Holder {
            pid: Some(pid),
            command,
        }) => (pid, command),
    };
    if pid == std::process::id() {
        return Err(TerminateError::HeldByThisProcess { lock_file });
    }
    if !sys::proc_view().same_namespace {
        return Err(TerminateError::ForeignPidNamespace { lock_file, pid });
    }
    let start_time = sys::start_time(pid).ok_or(TerminateError::ProcessGone { pid })?;
    let uid = sys::process_facts(pid).and_then(|f| f.uid);
    let user = uid.and_then(sys::user_name);
    if let Some(uid) = uid.filter(|&uid| !sys::may_signal(uid)) {
        let owner = user.clone().unwrap_or_else(|| format!("uid {uid}"));
        return Err(TerminateError::NotPermitted { pid, owner });
    }
    let sharers = sharers_of(&lock_file, pid);
    Ok(Target {
        lock_file,
        pid,
        start_time,
        uid,
        user,
        command,
        sharers,
    })
}

/// Lets the stopped holder of PATH's lock run again (SIGCONT to the pinned holder): a process
/// stopped by Ctrl+Z or a debugger holds its lock and cannot act on SIGTERM until it runs.
/// Returns the process resumed.
pub fn resume(path: &Path, lock_name: &str) -> Result<Target, TerminateError> {
    let target = identify(path, lock_name)?;
    target.pin()?.signal(Signal::cont())?;
    Ok(target)
}

/// Whether this process (this thread's credentials) may signal a process running as `uid`:
/// the same user, or root (CAP_KILL). Cheap, reads no file: for greying out "End holder" before
/// the user confirms.
pub fn may_signal(uid: u32) -> bool {
    sys::may_signal(uid)
}

fn not_held(lock_file: PathBuf, state: &'static str) -> TerminateError {
    TerminateError::NotHeld { lock_file, state }
}

impl Target {
    /// Pins the process with a pidfd and checks that it is still the identified holder: the
    /// same start time (not a recycled pid) and, by a fresh probe, still the lock's holder,
    /// alive throughout. Refuses otherwise.
    pub fn pin(&self) -> Result<Pinned, TerminateError> {
        if !sys::TERMINATE_SUPPORTED {
            return Err(TerminateError::Unsupported);
        }
        let pid = self.pid;
        let pidfd = sys::PidFd::open(pid).map_err(|e| match e.raw_os_error() {
            Some(sys::ESRCH) => TerminateError::ProcessGone { pid },
            _ => system("pidfd_open", pid, e),
        })?;
        // The process pinned has pid `pid`; it is the one identified if it started then.
        match sys::start_time(pid) {
            Some(t) if t == self.start_time => {}
            Some(_) => return Err(TerminateError::PidReused { pid }),
            None => return Err(TerminateError::ProcessGone { pid }),
        }
        // And it still holds the lock.
        match ProbeBatch::new().probe(&self.lock_file) {
            Ok(LockState::Held(Holder { pid: Some(p), .. })) if p == pid => {}
            other => {
                return Err(TerminateError::NoLongerHolds {
                    pid,
                    lock_file: self.lock_file.clone(),
                    now: describe(&other),
                });
            }
        }
        // Who shares its lock now (a child may have forked since `identify`).
        let mut target = self.clone();
        target.sharers = sharers_of(&self.lock_file, pid);
        // Alive throughout: the start time and the probe spoke of the pinned process.
        if pidfd
            .wait_exit(Duration::ZERO)
            .map_err(|e| system("poll", pid, e))?
        {
            return Err(TerminateError::ProcessGone { pid });
        }
        Ok(Pinned { target, pidfd })
    }
}

fn system(call: &'static str, pid: u32, source: io::Error) -> TerminateError {
    TerminateError::System { call, pid, source }
}

/// A probe result in a few words, for [`TerminateError::NoLongerHolds`].
fn describe(state: &Result<LockState, PathError>) -> String {
    match state {
        Ok(LockState::Held(holder)) => format!("held by {holder}"),
        Ok(LockState::HeldByThisProcess) => "held by this process".into(),
        Ok(state) => state.name().into(),
        Err(e) => format!("cannot probe: {e}"),
    }
}

/// The identified holder, pinned: signals reach it or nobody.
#[derive(Debug)]
pub struct Pinned {
    target: Target,
    pidfd: sys::PidFd,
}

/// How a wait for the lock ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nobody holds the lock any more (absent or free).
    Released {
        /// Whether the process has exited (otherwise it let go of the lock and lives on).
        exited: bool,
    },
    /// The process let go of the lock, and another process took it meanwhile (a new certbot).
    PassedOn(Holder),
    /// The lock was never released: a process that shared it through the same open file
    /// description (a descriptor inherited across fork) holds it. Ending that process too is
    /// what releases it.
    StillShared {
        /// The sharer holding it now.
        holder: Holder,
        /// Whether the signalled process has exited.
        exited: bool,
    },
    /// The process still held the lock when the grace period ended.
    StillHeld,
}

impl Pinned {
    /// The process pinned.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether `pid` names one of the target's sharers, the very process (same start time).
    fn is_sharer(&self, pid: Option<u32>) -> bool {
        pid.is_some_and(|pid| {
            self.target
                .sharers
                .iter()
                .any(|s| s.pid == pid && sys::start_time(pid) == Some(s.start_time))
        })
    }

    /// Sends `signal` to the pinned process (`pidfd_send_signal`).
    pub fn signal(&self, signal: Signal) -> Result<(), TerminateError> {
        let pid = self.target.pid;
        self.pidfd
            .send_signal(signal.number())
            .map_err(|e| match e.raw_os_error() {
                Some(sys::ESRCH) => TerminateError::ProcessGone { pid },
                _ => system("pidfd_send_signal", pid, e),
            })
    }

    /// Waits up to `grace` for the lock to be released: probes it every [`POLL_EVERY`], and at
    /// once when the process exits. Returns as soon as the lock is not the process's any more.
    pub fn wait_released(&self, grace: Duration) -> Result<Outcome, TerminateError> {
        let deadline = Instant::now().checked_add(grace);
        let pid = self.target.pid;
        let mut exited = false;
        loop {
            match ProbeBatch::new().probe(&self.target.lock_file)? {
                LockState::Absent | LockState::Free => {
                    // A dying process drops its locks just before it counts as exited.
                    let exited = exited
                        || self
                            .pidfd
                            .wait_exit(EXIT_AFTER_RELEASE)
                            .map_err(|e| system("poll", pid, e))?;
                    return Ok(Outcome::Released { exited });
                }
                // The same description, through a descriptor another process shares: held
                // throughout, not passed on.
                LockState::Held(holder) if self.is_sharer(holder.pid) => {
                    // The lock stays held whatever the signalled process does; whether it
                    // exited is said after giving the signal a moment (the probe can come
                    // before the dying process is scheduled: seen on a loaded machine).
                    let exited = exited
                        || self
                            .pidfd
                            .wait_exit(EXIT_AFTER_SIGNAL)
                            .map_err(|e| system("poll", pid, e))?;
                    return Ok(Outcome::StillShared { holder, exited });
                }
                // After the exit a holder with the same pid is a new process (recycled pid).
                LockState::Held(holder) if holder.pid != Some(pid) || exited => {
                    return Ok(Outcome::PassedOn(holder));
                }
                LockState::HeldByThisProcess => {
                    return Ok(Outcome::PassedOn(Holder::this_process()));
                }
                LockState::Held(_) => {}
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => POLL_EVERY,
            };
            if left.is_zero() {
                return Ok(Outcome::StillHeld);
            }
            let tick = left.min(POLL_EVERY);
            if exited {
                std::thread::sleep(tick);
            } else {
                exited = self
                    .pidfd
                    .wait_exit(tick)
                    .map_err(|e| system("poll", pid, e))?;
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_and_number() {
        for text in ["TERM", "term", "SIGTERM", "sigterm", " Term ", "15"] {
            assert_eq!(text.parse::<Signal>(), Ok(Signal::term()), "{text}");
        }
        assert_eq!("KILL".parse::<Signal>(), Ok(Signal::kill()));
        assert_eq!("9".parse::<Signal>(), Ok(Signal::kill()));
        assert_eq!("usr1".parse::<Signal>().map(Signal::number), Ok(10));
        assert_eq!(
            "SIGHUP".parse::<Signal>().map(|s| s.to_string()).as_deref(),
            Ok("SIGHUP")
        );
        assert_eq!(
            "40".parse::<Signal>().map(|s| s.to_string()).as_deref(),
            Ok("signal 40")
        );
        for bad in ["", "SIG", "TERMX", "0", "-9", "65", "SIGSIGTERM", "STOP"] {
            assert!(bad.parse::<Signal>().is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_a_lock_this_process_holds() {
        let dir = tempfile::tempdir().unwrap();
        let _held = crate::lock_dir(dir.path()).unwrap();
        let e = identify(dir.path(), crate::LOCK_FILE_NAME).unwrap_err();
        assert!(matches!(e, TerminateError::HeldByThisProcess { .. }), "{e}");
    }
}
