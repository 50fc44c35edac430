//! The monitor's worker thread: owns the watcher, the directory table and the holder cache.

use super::{Cause, Change, Command, Counters, DirState, MonitorError, MonitorOptions, Update};
use crate::holder::Holder;
use crate::path_error::PathError;
use crate::probe::{self, LockState, LockTable, RawState};
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Instant, SystemTime};

type HolderKey = (Option<u32>, (u32, u32, u64));

pub(super) struct Engine {
    options: MonitorOptions,
    watcher: Option<notify::RecommendedWatcher>,
    updates: Sender<Update>,
    wake: Box<dyn Fn() + Send>,
    counters: Arc<Counters>,
    dirs: HashMap<PathBuf, Watched>,
    holders: HashMap<HolderKey, Holder>,
    limit_noticed: bool,
    sent: bool,
}

struct Watched {
    lock_file: PathBuf,
    state: Option<DirState>,
    watch: Watch,
}

#[derive(PartialEq, Eq)]
enum Watch {
    Active,
    /// Not watched now (directory missing, unreadable, moved away): retried on each pass.
    Retry,
    /// The system's watch limit was reached: this directory is polled only.
    PollOnly,
}

impl Engine {
    pub(super) fn new(
        options: MonitorOptions,
        commands: Sender<Command>,
        updates: Sender<Update>,
        wake: Box<dyn Fn() + Send>,
        counters: Arc<Counters>,
    ) -> Result<Engine, MonitorError> {
        let handler = move |event| {
            let _ = commands.send(Command::Fs(event));
        };
        let mut engine = Engine {
            options,
            watcher: None,
            updates,
            wake,
            counters,
            dirs: HashMap::new(),
            holders: HashMap::new(),
            limit_noticed: false,
            sent: false,
        };
        match notify::recommended_watcher(handler) {
            Ok(w) => engine.watcher = Some(w),
            // Out of inotify instances: every directory is polled.
            Err(e) if is_limit(&e) => engine.notice_limit(&e),
            Err(e) => return Err(e.into()),
        }
        Ok(engine)
    }

    pub(super) fn run(mut self, inbox: Receiver<Command>) {
        let interval = self.options.interval;
        let mut next_pass = Instant::now() + interval;
        loop {
            let first =
                match inbox.recv_timeout(next_pass.saturating_duration_since(Instant::now())) {
                    Ok(cmd) => Some(cmd),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                };
            // Everything already queued is one batch: a burst of events re-probes a directory once.
            let mut dirty: BTreeMap<PathBuf, Cause> = BTreeMap::new();
            for cmd in first
                .into_iter()
                .chain(std::iter::from_fn(|| inbox.try_recv().ok()))
            {
                match cmd {
                    Command::Stop => return,
                    Command::Add(dir) => self.add(dir),
                    Command::Remove(dir) => self.remove(&dir),
                    Command::Recheck(dir) => {
                        dirty.insert(dir, Cause::Action);
                    }
                    Command::Fs(event) => self.on_event(event, &mut dirty),
                }
            }
            for (dir, cause) in dirty {
                self.counters.event_probes.fetch_add(1, Ordering::Relaxed);
                self.refresh(&dir, cause, None);
            }
            if Instant::now() >= next_pass {
                self.pass();
                next_pass = (next_pass + interval).max(Instant::now());
            }
            if std::mem::take(&mut self.sent) {
                (self.wake)();
            }
        }
    }

    fn add(&mut self, dir: PathBuf) {
        if self.dirs.contains_key(&dir) {
            return;
        }
        let lock_file = dir.join(&self.options.lock_name);
        self.dirs.insert(
            dir.clone(),
            Watched {
                lock_file,
                state: None,
                watch: Watch::Retry,
            },
        );
        self.try_watch(&dir);
        self.refresh(&dir, Cause::Initial, None);
    }

    fn remove(&mut self, dir: &Path) {
        if let Some(w) = self.dirs.remove(dir)
            && w.watch == Watch::Active
            && let Some(watcher) = self.watcher.as_mut()
        {
            let _ = watcher.unwatch(dir);
        }
    }

    fn try_watch(&mut self, dir: &Path) {
        let Some(watcher) = self.watcher.as_mut() else {
            self.set_watch(dir, Watch::PollOnly);
            return;
        };
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => self.set_watch(dir, Watch::Active),
            Err(e) if is_limit(&e) => {
                self.notice_limit(&e);
                self.set_watch(dir, Watch::PollOnly);
            }
            Err(_) => self.set_watch(dir, Watch::Retry),
        }
    }

    fn set_watch(&mut self, dir: &Path, watch: Watch) {
        if let Some(w) = self.dirs.get_mut(dir) {
            w.watch = watch;
        }
    }

    fn notice_limit(&mut self, err: &notify::Error) {
        if !std::mem::replace(&mut self.limit_noticed, true) {
            self.send(Update::Notice(format!(
                "filesystem watch limit reached ({err}); further directories are polled every {}",
                humantime::format_duration(self.options.interval)
            )));
        }
    }

    /// Lock-file creates, deletes and renames, and anything happening to a watched directory
    /// itself, mark that directory dirty. Opens and closes (our own probes cause those) do not.
    fn on_event(
        &mut self,
        event: notify::Result<notify::Event>,
        dirty: &mut BTreeMap<PathBuf, Cause>,
    ) {
        let Ok(event) = event else { return };
        self.counters.fs_events.fetch_add(1, Ordering::Relaxed);
        if !matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Any
                | EventKind::Other
        ) {
            return;
        }
        for path in &event.paths {
            if self.dirs.contains_key(path) {
                // The directory itself was deleted or moved: its watch is gone or follows the
                // old inode. Drop it; the pass re-watches whatever the path names later.
                if let Some(watcher) = self.watcher.as_mut() {
                    let _ = watcher.unwatch(path);
                }
                self.set_watch(path, Watch::Retry);
                dirty.entry(path.clone()).or_insert(Cause::FsEvent);
            } else if path
                .file_name()
                .is_some_and(|n| n == self.options.lock_name.as_str())
                && let Some(dir) = path.parent()
                && self.dirs.contains_key(dir)
            {
                dirty.entry(dir.to_path_buf()).or_insert(Cause::FsEvent);
            }
        }
    }

    /// The periodic pass: every directory, from one lock-table snapshot where there is one.
    fn pass(&mut self) {
        self.counters.passes.fetch_add(1, Ordering::Relaxed);
        let table = LockTable::read();
        let dirs: Vec<PathBuf> = self.dirs.keys().cloned().collect();
        let mut used = HashSet::new();
        for dir in dirs {
            self.counters.pass_probes.fetch_add(1, Ordering::Relaxed);
            if let Some(key) = self.refresh(&dir, Cause::Poll, table.as_ref()) {
                used.insert(key);
            }
            let retry = self
                .dirs
                .get(&dir)
                .is_some_and(|w| w.watch == Watch::Retry && w.state != Some(DirState::Missing));
            if retry {
                self.try_watch(&dir);
            }
        }
        self.holders.retain(|k, _| used.contains(k));
    }

    /// Probes one directory and reports a change if its state differs. Returns the holder-cache
    /// key it used, if any.
    fn refresh(
        &mut self,
        dir: &Path,
        cause: Cause,
        table: Option<&LockTable>,
    ) -> Option<HolderKey> {
        let lock_file = self.dirs.get(dir)?.lock_file.clone();
        let (state, key) = match table {
            Some(t) => self.state_from_table(t, &lock_file),
            None => (dir_state(probe::probe(&lock_file)), None),
        };
        let watched = self.dirs.get_mut(dir)?;
        if watched.state.as_ref() != Some(&state) {
            let old = watched.state.replace(state.clone());
            let change = Change {
                dir: dir.to_path_buf(),
                lock_file,
                old,
                new: state,
                at: SystemTime::now(),
                cause,
            };
            self.send(Update::Change(change));
        }
        key
    }

    fn state_from_table(
        &mut self,
        table: &LockTable,
        lock_file: &Path,
    ) -> (DirState, Option<HolderKey>) {
        match table.probe(lock_file) {
            Ok(RawState::Absent) => (DirState::Absent, None),
            Ok(RawState::Free) => (DirState::Free, None),
            Ok(RawState::HeldByThisProcess) => (DirState::HeldByThisProcess, None),
            Ok(RawState::Held { pid, file_id }) => {
                let key = (pid, file_id);
                let holder = self
                    .holders
                    .entry(key)
                    .or_insert_with(|| probe::identify_holder(lock_file, pid))
                    .clone();
                if holder.is_this_process() {
                    (DirState::HeldByThisProcess, Some(key))
                } else {
                    (DirState::Held(holder), Some(key))
                }
            }
            Err(e) => (path_error_state(e), None),
        }
    }

    fn send(&mut self, update: Update) {
        if self.updates.send(update).is_ok() {
            self.sent = true;
        }
    }
}

fn dir_state(result: Result<LockState, PathError>) -> DirState {
    match result {
        Ok(LockState::Absent) => DirState::Absent,
        Ok(LockState::Free) => DirState::Free,
        Ok(LockState::Held(h)) => DirState::Held(h),
        Ok(LockState::HeldByThisProcess) => DirState::HeldByThisProcess,
        Err(e) => path_error_state(e),
    }
}

fn path_error_state(err: PathError) -> DirState {
    match err {
        PathError::DirMissing(_) => DirState::Missing,
        e => DirState::Error(e.to_string()),
    }
}

fn is_limit(err: &notify::Error) -> bool {
    matches!(err.kind, notify::ErrorKind::MaxFilesWatch)
        || matches!(&err.kind, notify::ErrorKind::Io(io) if matches!(io.raw_os_error(), Some(24) | Some(28)))
}
