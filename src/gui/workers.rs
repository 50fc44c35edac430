//! Everything the window asks for that touches the filesystem runs here, on threads of its own:
//! taking and releasing locks, loading and saving watch lists, the folder dialog, fresh
//! diagnoses for the details pane, and ending a lock's holder. Results come
//! back on ONE channel ([`WorkerEvent`], sent through [`Events`], which also wakes the UI); the UI
//! thread never blocks on any of it. Nothing here knows the app: it only sees [`Events`].

use super::model::Fresh;
use super::notify::{Notice, NoticeSink};
use crate::diagnose::Diagnoser;
use crate::lock::{LockError, LockFile};
use crate::monitor::DirState;
use crate::probe::ProbeBatch;
use crate::terminate::{self, Outcome, Signal, Target};
use crate::watchlist::{self, Loaded, State, Store, WatchList, WatchListError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Wakes the UI (egui's `Context::request_repaint` in the app, a no-op in some tests).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Runs on the store thread before every watch-list load (tests block in it to stand in for a
/// config directory on a hung network filesystem).
pub type LoadHook = Arc<dyn Fn() + Send + Sync>;

/// Everything a worker reports, on the one channel into the app.
pub enum WorkerEvent {
    Lock(LockOutcome),
    Store(StoreOutcome),
    /// A dialog's answer; `None` if its thread ended without one (the picker panicked).
    Dialog(Option<DialogOutcome>),
    /// A diagnosis asked for with [`Diagnoses::request`].
    Diagnosed {
        dir: PathBuf,
        fresh: Fresh,
    },
    /// Progress of [`identify_holder`] or [`end_holder`].
    End(EndEvent),
    /// Paths to add, resolved by [`resolve_paths`].
    Resolved(Vec<Resolved>),
    /// What [`find_locks`] found on this machine.
    Discovered(Discovered),
    /// [`open_folder`] is done; `error` if the file manager could not be run or failed.
    Opened {
        dir: PathBuf,
        error: Option<String>,
    },
    /// A desktop notification could not be shown (no notification service, ...).
    NoticeFailed(String),
    /// What the remote hub saw (rows of `HOST:DIR` directories, connection states).
    Remote(crate::remote::RemoteEvent),
    /// The flight recorder's history, read again ([`super::recorded::HistoryReader`]).
    Recorded(super::recorded::RecordedLoad),
    /// A remote hold's session ended by itself: its time ran out (`error` none), or the
    /// connection or the remote hold went away (why). Either way the remote lock is released.
    RemoteHoldEnded {
        dir: PathBuf,
        error: Option<String>,
    },
}

/// The sending end of the app's event channel, cloned into every worker: sends, then wakes the UI.
#[derive(Clone)]
pub struct Events {
    tx: Sender<WorkerEvent>,
    wake: Waker,
}

impl Events {
    /// The channel: this end for the workers, the receiver for the app to drain each frame.
    pub fn channel(wake: Waker) -> (Events, Receiver<WorkerEvent>) {
        let (tx, rx) = mpsc::channel();
        (Events { tx, wake }, rx)
    }

    pub fn send(&self, event: WorkerEvent) {
        let _ = self.tx.send(event);
        (self.wake)();
    }
}

// ---- paths to add -----------------------------------------------------------------------------

/// A path to add, resolved as `lockscope status` resolves one ([`crate::probe::resolve_path`]):
/// a path whose name is the lock name, or an existing non-directory, is a lock file, and its row
/// is its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The path as given.
    pub path: PathBuf,
    /// The row's directory.
    pub dir: PathBuf,
    /// The path named a lock file: `dir` is its directory.
    pub was_file: bool,
}

/// Resolves `paths` on a thread of its own (a stat can hang on a dead filesystem); the answer
/// comes as [`WorkerEvent::Resolved`]. False if no thread could be started.
pub fn resolve_paths(events: &Events, paths: Vec<PathBuf>, lock_name: String) -> bool {
    let events = events.clone();
    std::thread::Builder::new()
        .name("lockscope-resolve".into())
        .spawn(move || {
            let resolved = paths
                .into_iter()
                .map(|path| {
                    if crate::watchlist::is_remote(&path) {
                        // HOST:DIR: nothing here to look at.
                        return Resolved {
                            dir: path.clone(),
                            path,
                            was_file: false,
                        };
                    }
                    let (dir, lock_file) = crate::probe::resolve_path(&path, &lock_name);
                    Resolved {
                        was_file: lock_file == path,
                        dir,
                        path,
                    }
                })
                .collect();
            events.send(WorkerEvent::Resolved(resolved));
        })
        .is_ok()
}

// ---- finding certbot's locks ------------------------------------------------------------------

/// A directory [`find_locks`] found, and its lock's state when it looked.
#[derive(Debug, Clone)]
pub struct FoundDir {
    pub dir: PathBuf,
    pub found_by: Vec<crate::discover::FoundBy>,
    /// The probe's answer (an error as its sentence: hostile text, escaped when shown).
    pub state: Result<crate::probe::LockState, String>,
}

/// What [`find_locks`] found, and where it looked.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub dirs: Vec<FoundDir>,
    pub certbot_processes: usize,
    /// certbot's default directories on this OS (looked at; listed when they exist).
    pub presets: Vec<PathBuf>,
}

/// Finds certbot's locks on this machine (`discover`: the kernel's lock table, running certbot
/// processes' directories, the defaults) and probes each, on a thread of its own (it reads
/// `/proc` and stats directories); the answer comes as [`WorkerEvent::Discovered`]. False if no
/// thread could be started.
pub fn find_locks(events: &Events, lock_name: String) -> bool {
    let events = events.clone();
    std::thread::Builder::new()
        .name("lockscope-discover".into())
        .spawn(move || {
            let discovery = crate::discover::discover(&lock_name);
            let mut batch = crate::probe::ProbeBatch::new();
            let dirs = discovery
                .found
                .into_iter()
                .map(|found| {
                    let probed = batch.probe_path(&found.dir, &lock_name);
                    FoundDir {
                        dir: found.dir,
                        found_by: found.found_by,
                        state: probed.state.map_err(|e| e.to_string()),
                    }
                })
                .collect();
            events.send(WorkerEvent::Discovered(Discovered {
                dirs,
                certbot_processes: discovery.certbot_processes,
                presets: crate::watchlist::certbot_defaults(),
            }));
        })
        .is_ok()
}

// ---- locks ----------------------------------------------------------------------------------

enum LockCommand {
    /// Take DIR/NAME; hold until released, or for the duration.
    Acquire {
        dir: PathBuf,
        lock_name: String,
        hold_for: Option<Duration>,
    },
    Release(PathBuf),
}

/// What became of a lock request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    Held {
        dir: PathBuf,
        until: Option<Instant>,
        /// A remote hold's pid on its host (the row then shows "held by this app").
        remote_pid: Option<u32>,
    },
    /// Busy, or the path cannot be locked: the message says why.
    Refused {
        dir: PathBuf,
        reason: String,
    },
    Released {
        dir: PathBuf,
        error: Option<String>,
    },
    /// The lock file was removed or replaced while held (someone ran `rm`): the lock this app
    /// holds is on a file certbot no longer opens, so it excludes nobody. Still held until
    /// released.
    Orphaned {
        dir: PathBuf,
    },
}

/// How often the held locks are checked for a removed or replaced lock file.
const ORPHAN_CHECK: Duration = Duration::from_secs(1);

/// How long quitting waits for the lock thread to release everything. A lock request stuck on
/// a filesystem that stopped answering must not keep the app from exiting (the kernel drops
/// the process's locks at exit anyway).
const RELEASE_ON_QUIT_WAIT: Duration = Duration::from_secs(2);

/// The thread that owns every lock this app holds. Dropping the handle releases them all.
pub struct Locks {
    commands: Option<Sender<LockCommand>>,
    worker: Option<JoinHandle<()>>,
    /// Closed by the worker when it has released everything and exits.
    finished: Receiver<()>,
}

impl Locks {
    /// Outcomes arrive as [`WorkerEvent::Lock`]; the app then asks the monitor to recheck (cause
    /// "action").
    pub fn start(events: Events) -> Locks {
        let (commands, inbox) = mpsc::channel();
        let (finished_tx, finished) = mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("lockscope-locks".into())
            .spawn(move || {
                run_locks(inbox, events);
                drop(finished_tx);
            })
            .ok();
        Locks {
            commands: Some(commands),
            worker,
            finished,
        }
    }

    pub fn acquire(&self, dir: &Path, lock_name: &str, hold_for: Option<Duration>) {
        self.send(LockCommand::Acquire {
            dir: dir.to_path_buf(),
            lock_name: lock_name.to_string(),
            hold_for,
        });
    }

    pub fn release(&self, dir: &Path) {
        self.send(LockCommand::Release(dir.to_path_buf()));
    }

    fn send(&self, command: LockCommand) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(command);
        }
    }
}

impl Drop for Locks {
    fn drop(&mut self) {
        drop(self.commands.take()); // the worker sees the channel close, releases all, exits
        if let Some(worker) = self.worker.take() {
            // Joined only once it has finished: a worker stuck in a filesystem call is left.
            if let Err(RecvTimeoutError::Disconnected) =
                self.finished.recv_timeout(RELEASE_ON_QUIT_WAIT)
            {
                let _ = worker.join();
            }
        }
    }
}

struct HeldLock {
    lock: LockFile,
    until: Option<Instant>,
    /// Its lock file was found removed or replaced (reported once).
    orphaned: bool,
}

fn run_locks(inbox: Receiver<LockCommand>, events: Events) {
    let mut held: HashMap<PathBuf, HeldLock> = HashMap::new();
    let report = |outcome: LockOutcome| events.send(WorkerEvent::Lock(outcome));
    loop {
        let next_check = (!held.is_empty()).then(|| Instant::now() + ORPHAN_CHECK);
        let next_expiry = held
            .values()
            .filter_map(|h| h.until)
            .chain(next_check)
            .min();
        let command = match next_expiry {
            Some(t) => inbox.recv_timeout(t.saturating_duration_since(Instant::now())),
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match command {
            Ok(LockCommand::Acquire {
                dir,
                lock_name,
                hold_for,
            }) => {
                report(acquire(&mut held, &dir, &lock_name, hold_for));
            }
            Ok(LockCommand::Release(dir)) => {
                if let Some(h) = held.remove(&dir) {
                    report(release(dir, h.lock));
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let expired: Vec<PathBuf> = held
                    .iter()
                    .filter(|(_, h)| h.until.is_some_and(|u| u <= now))
                    .map(|(d, _)| d.clone())
                    .collect();
                for dir in expired {
                    if let Some(h) = held.remove(&dir) {
                        report(release(dir, h.lock));
                    }
                }
                for (dir, h) in held.iter_mut().filter(|(_, h)| !h.orphaned) {
                    if matches!(h.lock.still_named(), Ok(false)) {
                        h.orphaned = true;
                        report(LockOutcome::Orphaned { dir: dir.clone() });
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // The app is closing: every lock it holds is released (unlink, then close) on drop here.
    drop(held);
}

fn acquire(
    held: &mut HashMap<PathBuf, HeldLock>,
    dir: &Path,
    lock_name: &str,
    hold_for: Option<Duration>,
) -> LockOutcome {
    if held.contains_key(dir) {
        return LockOutcome::Refused {
            dir: dir.to_path_buf(),
            reason: "already held by this app".into(),
        };
    }
    match crate::lock::lock_dir_with_name(dir, lock_name) {
        Ok(lock) => {
            let until = hold_for.and_then(|d| Instant::now().checked_add(d));
            held.insert(
                dir.to_path_buf(),
                HeldLock {
                    lock,
                    until,
                    orphaned: false,
                },
            );
            LockOutcome::Held {
                dir: dir.to_path_buf(),
                until,
                remote_pid: None,
            }
        }
        Err(e) => LockOutcome::Refused {
            dir: dir.to_path_buf(),
            reason: refusal(&e),
        },
    }
}

/// "held by pid 4563: certbot renew", or the path problem.
fn refusal(err: &LockError) -> String {
    match err {
        LockError::Busy {
            holder: Some(h), ..
        } => format!("held by {h}"),
        LockError::Busy { holder: None, .. } => "held by another process".into(),
        other => other.to_string(),
    }
}

fn release(dir: PathBuf, mut lock: LockFile) -> LockOutcome {
    let error = lock.release().err().map(|e| e.to_string());
    LockOutcome::Released { dir, error }
}

// ---- watch lists ----------------------------------------------------------------------------

enum StoreCommand {
    Load,
    Save(State),
    Import(PathBuf),
    /// The list, the file, and whether an existing file may be replaced.
    Export(WatchList, PathBuf, bool),
}

#[derive(Debug)]
pub enum StoreOutcome {
    Loaded(Result<Loaded, WatchListError>),
    Saved(Result<(), WatchListError>),
    Imported(Result<watchlist::Imported, WatchListError>),
    Exported(PathBuf, Result<(), WatchListError>),
    /// Nothing written: the file exists and replacing it was not confirmed (list name, file).
    ExportWouldReplace(String, PathBuf),
}

/// The thread that reads and writes watch lists. Saves are applied in order; the last wins.
pub struct StoreWorker {
    commands: Option<Sender<StoreCommand>>,
    worker: Option<JoinHandle<()>>,
    /// Saves queued or running: quitting waits for these (briefly), never for a load.
    saves_pending: Arc<AtomicUsize>,
}

impl StoreWorker {
    /// Outcomes arrive as [`WorkerEvent::Store`]; the first is the load, which starts at once.
    pub fn start(store: Store, before_load: Option<LoadHook>, events: Events) -> StoreWorker {
        let (commands, inbox) = mpsc::channel::<StoreCommand>();
        let saves_pending = Arc::new(AtomicUsize::new(0));
        let pending = saves_pending.clone();
        let worker = std::thread::Builder::new()
            .name("lockscope-store".into())
            .spawn(move || {
                for command in inbox {
                    let outcome = match command {
                        StoreCommand::Load => {
                            if let Some(hook) = &before_load {
                                hook();
                            }
                            StoreOutcome::Loaded(store.load())
                        }
                        StoreCommand::Save(state) => {
                            let saved = store.save(&state);
                            pending.fetch_sub(1, Ordering::SeqCst);
                            StoreOutcome::Saved(saved)
                        }
                        StoreCommand::Import(path) => {
                            StoreOutcome::Imported(watchlist::import_skipping(&path))
                        }
                        // (Checked here, not on the UI thread: the path may be on a hung mount.)
                        StoreCommand::Export(list, path, false)
                            if std::fs::symlink_metadata(&path).is_ok() =>
                        {
                            StoreOutcome::ExportWouldReplace(list.name.clone(), path)
                        }
                        StoreCommand::Export(list, path, _) => {
                            let result = watchlist::export(&list, &path);
                            StoreOutcome::Exported(path, result)
                        }
                    };
                    events.send(WorkerEvent::Store(outcome));
                }
            })
            .ok();
        let me = StoreWorker {
            commands: Some(commands),
            worker,
            saves_pending,
        };
        me.send(StoreCommand::Load);
        me
    }

    pub fn save(&self, state: &State) {
        self.saves_pending.fetch_add(1, Ordering::SeqCst);
        self.send(StoreCommand::Save(state.clone()));
    }

    pub fn import(&self, path: PathBuf) {
        self.send(StoreCommand::Import(path));
    }

    /// Writes `list` to `path`; an existing file is replaced only if `replace` (else
    /// [`StoreOutcome::ExportWouldReplace`]).
    pub fn export(&self, list: WatchList, path: PathBuf, replace: bool) {
        self.send(StoreCommand::Export(list, path, replace));
    }

    fn send(&self, command: StoreCommand) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(command);
        }
    }
}

/// How long quitting waits for pending saves. A config directory on a hung network mount must
/// not keep the window from closing; a save cut short leaves the old file intact (atomic rename).
const SAVE_GRACE: Duration = Duration::from_secs(3);

impl Drop for StoreWorker {
    fn drop(&mut self) {
        drop(self.commands.take()); // the worker finishes what is queued, then exits
        let Some(worker) = self.worker.take() else {
            return;
        };
        let deadline = Instant::now() + SAVE_GRACE;
        while !worker.is_finished()
            && self.saves_pending.load(Ordering::SeqCst) > 0
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        if worker.is_finished() {
            let _ = worker.join();
        }
        // Otherwise it is stuck in the filesystem (a load, or a save past the grace time): leave
        // it; the process exit ends it. Saves queued behind a stuck load are lost, as they must be.
    }
}

// ---- folder dialog --------------------------------------------------------------------------

/// Picks folders for the user. The app's is rfd's native dialog; tests inject their own.
pub trait FolderPicker: Send + Sync {
    /// Blocks until the user picks (Some, maybe several) or cancels (None).
    fn pick_folders(&self) -> Option<Vec<PathBuf>>;
    /// Blocks until the user picks a file to import (Some) or cancels.
    fn pick_file(&self) -> Option<PathBuf>;
    /// Blocks until the user names a file to export to (Some) or cancels.
    fn save_file(&self, suggested_name: &str) -> Option<PathBuf>;
}

/// rfd's dialogs (GTK or the desktop portal on Linux).
pub struct NativePicker;

impl FolderPicker for NativePicker {
    fn pick_folders(&self) -> Option<Vec<PathBuf>> {
        rfd::FileDialog::new()
            .set_title("Directories to watch")
            .pick_folders()
    }

    fn pick_file(&self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .add_filter("watch list", &["toml"])
            .pick_file()
    }

    fn save_file(&self, suggested_name: &str) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .add_filter("watch list", &["toml"])
            .set_file_name(suggested_name)
            .save_file()
    }
}

/// What a dialog run on its thread produced, and how fast: an answer within a few
/// milliseconds means no dialog could be shown at all (no portal, no zenity).
pub enum DialogOutcome {
    Folders(Option<Vec<PathBuf>>, Duration),
    ImportFile(Option<PathBuf>, Duration),
    ExportFile(String, Option<PathBuf>, Duration),
}

/// Runs one dialog on a thread of its own; its answer arrives as [`WorkerEvent::Dialog`].
/// False if no thread could be started (then no event comes: the app shows its hint at once).
pub fn run_dialog(
    picker: Arc<dyn FolderPicker>,
    events: Events,
    job: impl FnOnce(&dyn FolderPicker) -> DialogOutcome + Send + 'static,
) -> bool {
    std::thread::Builder::new()
        .name("lockscope-dialog".into())
        .spawn(move || {
            // A panicking picker still ends the dialog (the app then shows its hint).
            let answer =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(picker.as_ref())));
            events.send(WorkerEvent::Dialog(answer.ok()));
        })
        .is_ok()
}

/// How fast an empty dialog answer must be to mean "no dialog was shown".
pub const NO_DIALOG_WITHIN: Duration = Duration::from_millis(300);

// ---- the local time zone ----------------------------------------------------------------------

/// How often the local zone is read again (a change of `/etc/localtime` shows within this).
const ZONE_REFRESH: Duration = Duration::from_secs(60);

/// Resolves the local time zone now and every [`ZONE_REFRESH`] on a thread of its own, for
/// [`crate::local_time::TimeStyle::Resolved`], and wakes the UI when it changed. Never joined.
pub fn watch_local_zone(wake: Waker) {
    let _detached = std::thread::Builder::new()
        .name("lockscope-zone".into())
        .spawn(move || {
            loop {
                if crate::local_time::resolve_local_zone() {
                    wake();
                }
                std::thread::sleep(ZONE_REFRESH);
            }
        });
}

// ---- desktop notifications ---------------------------------------------------------------------

/// The thread that shows desktop notifications (a D-Bus call may wait on a slow or absent
/// notification service). Dropping the handle ends the thread after its current notice;
/// nothing waits for it.
pub struct Notices {
    outbox: Sender<Notice>,
}

impl Notices {
    /// Failures arrive as [`WorkerEvent::NoticeFailed`], the first of each run of failures only
    /// (one "no notification service" message, not one per notice).
    pub fn start(sink: Arc<dyn NoticeSink>, events: Events) -> Notices {
        let (outbox, inbox) = mpsc::channel::<Notice>();
        let _detached = std::thread::Builder::new()
            .name("lockscope-notices".into())
            .spawn(move || {
                let mut failing = false;
                while let Ok(notice) = inbox.recv() {
                    match sink.show(&notice) {
                        Ok(()) => failing = false,
                        Err(e) if !failing => {
                            failing = true;
                            events.send(WorkerEvent::NoticeFailed(e));
                        }
                        Err(_) => {}
                    }
                }
            });
        Notices { outbox }
    }

    pub fn send(&self, notice: Notice) {
        let _ = self.outbox.send(notice);
    }
}

// ---- fresh diagnoses (the details pane) --------------------------------------------------------

struct DiagnoseRequest {
    dir: PathBuf,
    lock_name: String,
    observed_since: Option<SystemTime>,
}

/// The thread that probes and diagnoses a directory on request (the details pane's, every few
/// seconds while a held row is selected). Requests queued meanwhile for the same directory are
/// answered once. Dropping the handle ends the thread after its current request; nothing waits
/// for it (a probe stuck on a dead filesystem is left behind).
pub struct Diagnoses {
    commands: Sender<DiagnoseRequest>,
}

impl Diagnoses {
    /// Answers arrive as [`WorkerEvent::Diagnosed`].
    pub fn start(events: Events) -> Diagnoses {
        let (commands, inbox) = mpsc::channel::<DiagnoseRequest>();
        let _detached = std::thread::Builder::new()
            .name("lockscope-diagnose".into())
            .spawn(move || {
                while let Ok(first) = inbox.recv() {
                    let mut batch = vec![first];
                    while let Ok(more) = inbox.try_recv() {
                        batch.retain(|r| r.dir != more.dir);
                        batch.push(more);
                    }
                    for request in batch {
                        let fresh = diagnose(&request);
                        events.send(WorkerEvent::Diagnosed {
                            dir: request.dir,
                            fresh,
                        });
                    }
                }
            });
        Diagnoses { commands }
    }

    /// Asks for `dir`'s state and diagnosis now. `observed_since`: when the app saw the lock
    /// taken.
    pub fn request(&self, dir: &Path, lock_name: &str, observed_since: Option<SystemTime>) {
        let _ = self.commands.send(DiagnoseRequest {
            dir: dir.to_path_buf(),
            lock_name: lock_name.to_string(),
            observed_since,
        });
    }
}

fn diagnose(request: &DiagnoseRequest) -> Fresh {
    let at = SystemTime::now();
    let probe = ProbeBatch::new().probe_path(&request.dir, &request.lock_name);
    let diagnosis = Diagnoser::new().diagnose(&probe, request.observed_since);
    Fresh {
        state: DirState::from(probe.state),
        diagnosis: Arc::new(diagnosis),
        at,
    }
}

// ---- ending a lock's holder --------------------------------------------------------------------

/// What [`identify_holder`] and [`end_holder`] report. Errors are `TerminateError`'s sentences
/// (unescaped: they name paths and commands).
#[derive(Debug)]
pub enum EndEvent {
    /// Who holds `dir`'s lock (for the confirmation dialog), or why it cannot be ended.
    Identified {
        dir: PathBuf,
        result: Result<Target, String>,
    },
    /// The signal was sent; the wait for the lock to go has begun.
    Signalled { dir: PathBuf, pid: u32 },
    /// "Resume": the stopped holder that was sent SIGCONT, or why none was.
    Resumed {
        dir: PathBuf,
        result: Result<u32, String>,
    },
    /// How the attempt ended: the wait's outcome, or why nothing was (or could be) signalled.
    Finished {
        dir: PathBuf,
        pid: u32,
        signal: Signal,
        grace: Duration,
        result: Result<Outcome, String>,
    },
}

/// Identifies `dir`'s holder on a thread of its own; the answer arrives as
/// [`EndEvent::Identified`]. False if no thread could be started.
pub fn identify_holder(events: &Events, dir: PathBuf, lock_name: String) -> bool {
    let events = events.clone();
    std::thread::Builder::new()
        .name("lockscope-identify".into())
        .spawn(move || {
            let result = terminate::identify(&dir, &lock_name).map_err(|e| e.to_string());
            events.send(WorkerEvent::End(EndEvent::Identified { dir, result }));
        })
        .is_ok()
}

/// Ends the holder the user confirmed, on a thread of its own: identifies `dir`'s holder again
/// (it must still be the confirmed process: same pid and start time), pins it (a pidfd: a
/// recycled pid cannot be hit), sends `signal`, reports [`EndEvent::Signalled`], waits up to
/// `grace` for the lock to go and reports [`EndEvent::Finished`]. The thread is never joined:
/// quitting while it waits does not wait for it. False if no thread could be started.
pub fn end_holder(
    events: &Events,
    dir: PathBuf,
    lock_name: String,
    confirmed: Target,
    signal: Signal,
    grace: Duration,
) -> bool {
    let events = events.clone();
    std::thread::Builder::new()
        .name("lockscope-end-holder".into())
        .spawn(move || {
            let pid = confirmed.pid;
            let result = (|| {
                let now = terminate::identify(&dir, &lock_name).map_err(|e| e.to_string())?;
                if (now.pid, now.start_time) != (confirmed.pid, confirmed.start_time) {
                    return Err(format!(
                        "the lock is now held by another process (pid {}) than the one \
                         confirmed (pid {pid}): nothing was signalled",
                        now.pid
                    ));
                }
                let pinned = confirmed.pin().map_err(|e| e.to_string())?;
                pinned.signal(signal).map_err(|e| e.to_string())?;
                events.send(WorkerEvent::End(EndEvent::Signalled {
                    dir: dir.clone(),
                    pid,
                }));
                pinned.wait_released(grace).map_err(|e| e.to_string())
            })();
            events.send(WorkerEvent::End(EndEvent::Finished {
                dir,
                pid,
                signal,
                grace,
                result,
            }));
        })
        .is_ok()
}

/// Sends SIGCONT to `dir`'s holder on a thread of its own (identified and pinned afresh:
/// [`terminate::resume`]); the answer arrives as [`EndEvent::Resumed`]. False if no thread
/// could be started.
pub fn resume_holder(events: &Events, dir: PathBuf, lock_name: String) -> bool {
    let events = events.clone();
    std::thread::Builder::new()
        .name("lockscope-resume".into())
        .spawn(move || {
            let result = terminate::resume(&dir, &lock_name)
                .map(|target| target.pid)
                .map_err(|e| e.to_string());
            events.send(WorkerEvent::End(EndEvent::Resumed { dir, result }));
        })
        .is_ok()
}

// ---- opening a folder -----------------------------------------------------------------------

/// The system's program that opens a folder in the file manager.
pub fn default_file_manager() -> PathBuf {
    PathBuf::from(if cfg!(windows) {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    })
}

/// Opens `dir` with `program` on a thread of its own (it may wait for the file manager), and
/// reports a failure as [`WorkerEvent::Opened`]. False if no thread could be started.
pub fn open_folder(events: &Events, program: PathBuf, dir: PathBuf) -> bool {
    let events = events.clone();
    std::thread::Builder::new()
        .name("lockscope-open".into())
        .spawn(move || {
            let status = std::process::Command::new(&program)
                .arg(&dir)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            let error = match status {
                Err(e) => Some(format!("could not run {}: {e}", program.display())),
                // explorer.exe exits with 1 even when it opened the folder.
                Ok(s) if !s.success() && !cfg!(windows) => {
                    Some(format!("{} failed ({s})", program.display()))
                }
                Ok(_) => None,
            };
            events.send(WorkerEvent::Opened { dir, error });
        })
        .is_ok()
}
