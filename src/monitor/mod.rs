//! Live lock state for many directories: filesystem watchers plus a periodic pass.
//!
//! Facts that shape it (measured, see ARCHITECTURE.md): inotify sees no lock operation, only
//! the opens, creates, closes and deletes around it; certbot creates and deletes its file on
//! each run, and a lock can be taken or dropped on a file opened long before. So lock-file
//! events trigger re-probes of their directory (with follow-ups, since an event comes just
//! before the change it announces), and a periodic pass re-probes every directory with a lock
//! file to catch what no event shows. Probes read the kernel's lock table where it can vouch
//! for a file and query the file directly where it cannot; the engine recognizes the open
//! events of its own direct queries. Every filesystem call runs on a worker pool, so a stuck
//! filesystem stalls only its own directories (`not-responding`).

mod engine;
mod fs_jobs;
mod fs_pool;
#[cfg_attr(target_os = "linux", path = "sys_linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "sys_other.rs")]
mod sys;

use crate::diagnose::Diagnosis;
use crate::holder::Holder;
use crate::path_error::PathError;
pub use crate::probe::LockState;
use crate::record::State;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// A directory's lock state as the monitor reports it: what the probe found (the probe's own
/// [`LockState`]), or what only a watched directory can be (missing, not responding), or the
/// probe's typed error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirState {
    /// What the probe found: absent, free, held, or held by this process.
    Lock(LockState),
    /// The directory does not exist (deleted, or not yet created).
    Missing,
    /// A filesystem call for this directory has not returned (a stopped FUSE daemon, a hung
    /// NFS server): no state is known until it does. Other directories are not held up.
    NotResponding,
    /// The directory or lock path cannot be probed.
    Error(DirError),
    /// Nothing is known now, and why: a remote directory whose host cannot be asked
    /// ("connection lost: …"). Never produced by the local monitor; never a stale state.
    Unknown(String),
}

impl DirState {
    /// The state as the wire format names it.
    pub fn state(&self) -> State {
        match self {
            DirState::Lock(state) => state.state(),
            DirState::Missing => State::Missing,
            DirState::Error(_) => State::Error,
            DirState::NotResponding => State::NotResponding,
            DirState::Unknown(_) => State::Unknown,
        }
    }

    /// The state's name in `lockscope watch` output.
    pub fn name(&self) -> &'static str {
        self.state().name()
    }

    /// The holder, if held (this process included).
    pub fn holder(&self) -> Option<Holder> {
        match self {
            DirState::Lock(state) => state.holder(),
            _ => None,
        }
    }

    /// Whether someone (this process included) holds the lock.
    pub fn is_held(&self) -> bool {
        matches!(self, DirState::Lock(state) if state.is_held())
    }

    /// Why the directory cannot be probed, for `error` and `not-responding`.
    pub fn error(&self) -> Option<&str> {
        match self {
            DirState::Error(e) => Some(e.message()),
            DirState::NotResponding => Some("the filesystem is not responding"),
            DirState::Unknown(reason) => Some(reason),
            _ => None,
        }
    }
}

impl From<Result<crate::LockState, PathError>> for DirState {
    /// The probe's answer as a directory's state (a missing directory is `Missing`).
    fn from(probed: Result<crate::LockState, PathError>) -> DirState {
        match probed {
            Ok(state) => DirState::Lock(state),
            Err(PathError::DirMissing(_)) => DirState::Missing,
            Err(e) => DirState::Error(DirError::new(e)),
        }
    }
}

/// Why a directory cannot be probed: the probe's typed [`PathError`], shared (states are
/// cloned to every consumer), compared by what it says.
#[derive(Debug, Clone)]
pub struct DirError {
    error: Arc<PathError>,
    message: String,
}

impl DirError {
    fn new(error: PathError) -> DirError {
        DirError {
            message: error.to_string(),
            error: Arc::new(error),
        }
    }

    /// The typed error.
    pub fn error(&self) -> &PathError {
        &self.error
    }

    /// What it says (the error's `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl PartialEq for DirError {
    fn eq(&self, other: &DirError) -> bool {
        self.message == other.message
    }
}

impl Eq for DirError {}

impl std::fmt::Display for DirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What made the monitor look (its names are the wire format's).
pub use crate::record::Cause;

/// A state change of one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The directory, as the caller spelled it in [`Monitor::add`].
    pub dir: PathBuf,
    /// Its lock file, under that spelling.
    pub lock_file: PathBuf,
    /// `None` for the initial report.
    pub old: Option<DirState>,
    /// The state now.
    pub new: DirState,
    /// Why: the holder's details, since when, the lock set, hazards (empty for states that
    /// are not a lock state: missing, not responding, error).
    pub diagnosis: Arc<Diagnosis>,
    /// When the change was found.
    pub at: SystemTime,
    /// What made the monitor look.
    pub cause: Cause,
}

/// What the monitor sends: state changes, and rare notices (e.g. watch limits reached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// A directory's state changed (or was found for the first time).
    Change(Change),
    /// Something the user should know once (e.g. the inotify watch limit was reached).
    Notice(String),
}

#[derive(Debug, Clone)]
/// How the monitor works: the period of its pass and the lock file's name.
pub struct MonitorOptions {
    /// Period of the pass that catches what no filesystem event shows. Longer than a century
    /// counts as a century (`u64::MAX` seconds cannot be added to an `Instant`).
    pub interval: Duration,
    /// The lock file's name inside each directory.
    pub lock_name: String,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions {
            interval: Duration::from_secs(1),
            lock_name: crate::LOCK_FILE_NAME.to_string(),
        }
    }
}

/// Work counters, for tests and benchmarks: an idle engine only makes periodic passes.
#[derive(Debug, Default)]
pub struct Counters {
    /// Filesystem events received.
    pub fs_events: AtomicU64,
    /// Probes made because of events (and their follow-ups) or rechecks.
    pub event_probes: AtomicU64,
    /// Periodic passes made.
    pub passes: AtomicU64,
    /// Probes made by the passes.
    pub pass_probes: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Filesystem events received.
    pub fs_events: u64,
    /// Probes made because of events (and their follow-ups) or rechecks.
    pub event_probes: u64,
    /// Periodic passes made.
    pub passes: u64,
    /// Probes made by the passes.
    pub pass_probes: u64,
}

/// Why the monitor could not start.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("cannot start the monitor thread: {0}")]
    /// The engine's thread could not be started.
    Thread(#[from] std::io::Error),
}

pub(crate) enum Command {
    Add(PathBuf),
    Remove(PathBuf),
    Recheck(PathBuf),
    Fs(notify::Result<notify::Event>),
    /// A filesystem call the engine gave up waiting for has returned.
    FsRecovered(fs_pool::StuckKey),
    Stop,
}

/// Where a [`Monitor`] delivers its updates, as notify's `EventHandler` does for events: a
/// closure `FnMut(Update)`, or a channel's `Sender<Update>`. Called on the monitor's thread:
/// keep it short (send it on, request a repaint).
pub trait UpdateHandler: Send + 'static {
    /// One update.
    fn handle_update(&mut self, update: Update);
    /// After each batch of updates (a GUI requests one repaint here).
    fn batch_done(&mut self) {}
}

impl<F: FnMut(Update) + Send + 'static> UpdateHandler for F {
    fn handle_update(&mut self, update: Update) {
        self(update);
    }
}

impl UpdateHandler for Sender<Update> {
    fn handle_update(&mut self, update: Update) {
        let _ = self.send(update);
    }
}

/// [`Monitor::start`]'s handler: the updates into a channel, `wake` after each batch.
struct ChannelAndWake<W> {
    updates: Sender<Update>,
    wake: W,
}

impl<W: Fn() + Send + 'static> UpdateHandler for ChannelAndWake<W> {
    fn handle_update(&mut self, update: Update) {
        let _ = self.updates.send(update);
    }

    fn batch_done(&mut self) {
        (self.wake)();
    }
}

/// The running engine. Dropping it stops its thread.
pub struct Monitor {
    commands: Sender<Command>,
    counters: Arc<Counters>,
    worker: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Starts the engine. `wake` is called after each batch of updates is sent (a GUI requests a
    /// repaint there); updates arrive on the returned channel.
    pub fn start(
        options: MonitorOptions,
        wake: impl Fn() + Send + 'static,
    ) -> Result<(Monitor, Receiver<Update>), MonitorError> {
        let (updates_tx, updates) = mpsc::channel();
        let monitor = Monitor::start_with(
            options,
            ChannelAndWake {
                updates: updates_tx,
                wake,
            },
        )?;
        Ok((monitor, updates))
    }

    /// Starts the engine with updates going to `handler` (a closure or a `Sender<Update>`).
    pub fn start_with(
        options: MonitorOptions,
        handler: impl UpdateHandler,
    ) -> Result<Monitor, MonitorError> {
        let (commands, inbox) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let engine = engine::Engine::new(
            options,
            commands.clone(),
            Box::new(handler),
            counters.clone(),
        );
        let worker = std::thread::Builder::new()
            .name("lockscope-monitor".into())
            .spawn(move || engine.run(inbox))?;
        Ok(Monitor {
            commands,
            counters,
            worker: Some(worker),
        })
    }

    /// Watches `dir` (its first state arrives with cause `initial`). Adding twice is harmless.
    pub fn add(&self, dir: impl Into<PathBuf>) {
        let _ = self.commands.send(Command::Add(dir.into()));
    }

    /// Stops watching `dir` (spelled as it was added).
    pub fn remove(&self, dir: impl Into<PathBuf>) {
        let _ = self.commands.send(Command::Remove(dir.into()));
    }

    /// Re-probes `dir` now, reporting a change with cause `action` (call after taking or
    /// releasing a lock in this process).
    pub fn recheck(&self, dir: impl Into<PathBuf>) {
        let _ = self.commands.send(Command::Recheck(dir.into()));
    }

    /// The work done so far.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            fs_events: c.fs_events.load(Ordering::Relaxed),
            event_probes: c.event_probes.load(Ordering::Relaxed),
            passes: c.passes.load(Ordering::Relaxed),
            pass_probes: c.pass_probes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
