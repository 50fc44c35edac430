//! The monitor's worker thread: owns the watcher, the directory table and the holder cache.

use super::{Cause, Change, Command, Counters, DirState, MonitorOptions, Update};
use crate::holder::Holder;
use crate::path_error::PathError;
use crate::probe::{self, LockState, LockTable, RawState};
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

type HolderKey = (Option<u32>, (u32, u32, u64));

/// A directory's identity (device, inode): rows that name one directory under several paths
/// (a relative and an absolute spelling, a bind mount, a symlinked parent) share one watch.
/// inotify gives one watch descriptor per inode, so a second watch of the same directory under
/// another path would steal the first one's events, and unwatching either would end both.
use super::sys::{DirId, dir_id};

/// One inotify watch and the rows it serves.
struct WatchGroup {
    /// The absolute path the watch was registered with: events name their files under it.
    path: PathBuf,
    rows: HashSet<PathBuf>,
    /// When this engine's own probes opened the lock file here (direct queries where the lock
    /// table cannot tell): the open events they cause are not arrivals.
    own_opens: Vec<Instant>,
}

/// How long an own open's event is waited for before the expectation is dropped (events arrive
/// within milliseconds; a watch that went away meanwhile never delivers one).
const OWN_OPEN_EVENT_WAIT: Duration = Duration::from_secs(1);

pub(super) struct Engine {
    options: MonitorOptions,
    watcher: Option<notify::RecommendedWatcher>,
    updates: Sender<Update>,
    wake: Box<dyn Fn() + Send>,
    counters: Arc<Counters>,
    /// The rows, by the directory path as the caller spelled it (that spelling is reported).
    dirs: HashMap<PathBuf, Watched>,
    groups: HashMap<DirId, WatchGroup>,
    /// The absolute path of each watch, for routing events to their group.
    watch_paths: HashMap<PathBuf, DirId>,
    holders: HashMap<HolderKey, Holder>,
    limit_noticed: bool,
    sent: bool,
    /// Directories added in this batch beyond `WATCH_BUDGET`, watched after their first probe
    /// (so the first snapshot does not wait for thousands of watch registrations).
    new_dirs: Vec<PathBuf>,
    /// Until when this batch may register watches before probing.
    watch_deadline: Instant,
    /// Whether probing opens lock files (no kernel lock table on this platform). Then open
    /// events must be ignored, or the engine would feed on its own probes.
    probes_open_files: bool,
}

struct Watched {
    /// The directory made absolute once (lexically: `..` and symlinks kept), for the watcher
    /// and the probe alike: a relative path would follow the process's working directory.
    abs: PathBuf,
    /// The lock file as reported: in the caller's spelling of the directory.
    lock_file: PathBuf,
    /// The lock file as probed: under `abs`.
    abs_lock_file: PathBuf,
    /// The watch group this row belongs to while `watch` is `Active`.
    group: Option<DirId>,
    state: Option<DirState>,
    watch: Watch,
    follow_up: Option<FollowUp>,
    /// Local filesystem: no lock file can appear without an event (see `needs_pass`).
    events_complete: bool,
}

impl Watched {
    /// Whether the periodic pass must probe this directory. An absent lock file in an actively
    /// watched directory on a local filesystem cannot appear without a create or rename event,
    /// so only a full pass (every `FULL_PASS_EVERY`) looks at it. Everything else (a file that
    /// exists and may be locked or unlocked silently, a missing or unwatched directory, a
    /// network filesystem) is probed on every pass.
    fn needs_pass(&self) -> bool {
        !(self.watch == Watch::Active
            && self.events_complete
            && self.state == Some(DirState::Absent))
    }
}

/// Every this many passes, probe every directory regardless (a safety net for changes no event
/// reports, e.g. a bind mount over a watched directory).
const FULL_PASS_EVERY: u64 = 60;

/// How long one batch of added directories may spend registering watches before their first
/// probe. notify's inotify backend costs a thread round trip per watch (~0.1 ms here), so a few
/// hundred directories are watched before they are probed (no gap in which an event could be
/// missed), and a list of thousands reports its first snapshot at once and is watched right
/// after, with a catch-up probe.
const WATCH_BUDGET: Duration = Duration::from_millis(50);

/// The longest period of the pass: about a century. Longer ones are cut to it.
const MAX_INTERVAL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Re-probes shortly after a lock-file event. An event comes just BEFORE the change it
/// announces: certbot creates or opens the file, then locks it; a dying OFD holder's close
/// event fires before the kernel drops its lock. So the first probe may see the old state.
struct FollowUp {
    due: Instant,
    step: usize,
    /// After a create or open, a `free` file is usually about to be locked: report `free`
    /// only if it is still free at the last follow-up, so a lock taken shows as one change.
    defer_free: bool,
}

/// Delays of the follow-up probes after a lock-file event.
const FOLLOW_UPS: [Duration; 4] = [
    Duration::from_millis(1),
    Duration::from_millis(4),
    Duration::from_millis(16),
    Duration::from_millis(64),
];

/// What kind of event marked a directory for probing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The lock file was created or opened: a lock is probably about to be taken.
    Arrival,
    /// Deleted, renamed, closed after writing, or the directory itself changed.
    Other,
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
    ) -> Engine {
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
            groups: HashMap::new(),
            watch_paths: HashMap::new(),
            holders: HashMap::new(),
            limit_noticed: false,
            sent: false,
            new_dirs: Vec::new(),
            watch_deadline: Instant::now(),
            probes_open_files: LockTable::read().is_none(),
        };
        match notify::recommended_watcher(handler) {
            Ok(w) => engine.watcher = Some(w),
            // Out of inotify instances, or no event API at all: every directory is polled.
            Err(e) => engine.notice_limit(&e),
        }
        engine
    }

    pub(super) fn run(mut self, inbox: Receiver<Command>) {
        // Capped so that deadlines never overflow an Instant (which panics): a pass a century
        // away is as good as never, which is what such an interval asks for.
        let interval = self.options.interval.min(MAX_INTERVAL);
        let mut next_pass = Instant::now() + interval;
        loop {
            let wake_at = self
                .next_follow_up()
                .map_or(next_pass, |f| f.min(next_pass));
            let first = match inbox.recv_timeout(wake_at.saturating_duration_since(Instant::now()))
            {
                Ok(cmd) => Some(cmd),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // Everything already queued is one batch: a burst of events re-probes a directory once.
            let mut dirty: BTreeMap<PathBuf, (Cause, Option<Trigger>)> = BTreeMap::new();
            self.watch_deadline = Instant::now() + WATCH_BUDGET;
            for cmd in first
                .into_iter()
                .chain(std::iter::from_fn(|| inbox.try_recv().ok()))
            {
                match cmd {
                    Command::Stop => return,
                    Command::Add(dir) => {
                        if self.add(dir.clone()) {
                            dirty.insert(dir, (Cause::Initial, None));
                        }
                    }
                    Command::Remove(dir) => self.remove(&dir),
                    Command::Recheck(dir) => {
                        dirty.insert(dir, (Cause::Action, None));
                    }
                    Command::Fs(event) => self.on_event(event, &mut dirty),
                }
            }
            self.take_due_follow_ups(&mut dirty);
            if !dirty.is_empty() {
                self.probe_batch(dirty);
            }
            if !self.new_dirs.is_empty() {
                self.watch_new_dirs();
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

    /// Probes the marked directories, from one lock-table snapshot where there is one.
    fn probe_batch(&mut self, dirty: BTreeMap<PathBuf, (Cause, Option<Trigger>)>) {
        let table = LockTable::read();
        for (dir, (cause, trigger)) in dirty {
            if cause != Cause::Initial {
                self.counters.event_probes.fetch_add(1, Ordering::Relaxed);
            }
            let Some(watched) = self.dirs.get_mut(&dir) else {
                continue;
            };
            let now = Instant::now();
            let defer_free = match (trigger, watched.follow_up.take()) {
                // A new event restarts the follow-ups.
                // Only an arrival defers `free`: a close or delete right after a lock was taken
                // (a holder killed at once) must show `free` immediately.
                (Some(t), _) => {
                    let defer = t == Trigger::Arrival;
                    watched.follow_up = Some(FollowUp {
                        due: now + FOLLOW_UPS[0],
                        step: 0,
                        defer_free: defer,
                    });
                    defer
                }
                // A due follow-up: schedule the next one, if any.
                (None, Some(f)) if cause == Cause::FsEvent => {
                    let step = f.step + 1;
                    if let Some(delay) = FOLLOW_UPS.get(step) {
                        let due = now + (*delay - FOLLOW_UPS[f.step]);
                        watched.follow_up = Some(FollowUp { due, step, ..f });
                        f.defer_free
                    } else {
                        false
                    }
                }
                (None, old) => {
                    watched.follow_up = old;
                    false
                }
            };
            self.refresh(&dir, cause, table.as_ref(), defer_free);
        }
    }

    /// Watches the directories whose first state was just reported, then probes them once more:
    /// a change between that first probe and the watch would otherwise wait for the pass.
    fn watch_new_dirs(&mut self) {
        let new_dirs = std::mem::take(&mut self.new_dirs);
        for dir in &new_dirs {
            self.try_watch(dir);
        }
        let table = LockTable::read();
        for dir in &new_dirs {
            self.refresh(dir, Cause::Poll, table.as_ref(), false);
        }
    }

    fn next_follow_up(&self) -> Option<Instant> {
        self.dirs
            .values()
            .filter_map(|w| w.follow_up.as_ref().map(|f| f.due))
            .min()
    }

    fn take_due_follow_ups(&mut self, dirty: &mut BTreeMap<PathBuf, (Cause, Option<Trigger>)>) {
        let now = Instant::now();
        for (dir, w) in &self.dirs {
            if w.follow_up.as_ref().is_some_and(|f| f.due <= now) {
                dirty.entry(dir.clone()).or_insert((Cause::FsEvent, None));
            }
        }
    }

    /// Starts watching `dir`; false if it was already watched.
    fn add(&mut self, dir: PathBuf) -> bool {
        if self.dirs.contains_key(&dir) {
            return false;
        }
        let lock_file = dir.join(&self.options.lock_name);
        let abs = std::path::absolute(&dir).unwrap_or_else(|_| dir.clone());
        self.dirs.insert(
            dir.clone(),
            Watched {
                abs_lock_file: abs.join(&self.options.lock_name),
                events_complete: super::sys::events_are_complete(&abs),
                abs,
                lock_file,
                group: None,
                state: None,
                watch: Watch::Retry,
                follow_up: None,
            },
        );
        if Instant::now() < self.watch_deadline {
            self.try_watch(&dir);
        } else {
            self.new_dirs.push(dir);
        }
        true
    }

    fn remove(&mut self, dir: &Path) {
        self.leave_group(dir);
        self.dirs.remove(dir);
    }

    /// Takes row `dir` out of its watch group; the last row out ends the watch.
    fn leave_group(&mut self, dir: &Path) {
        let Some(id) = self.dirs.get_mut(dir).and_then(|w| w.group.take()) else {
            return;
        };
        let Some(group) = self.groups.get_mut(&id) else {
            return;
        };
        group.rows.remove(dir);
        if group.rows.is_empty()
            && let Some(group) = self.groups.remove(&id)
        {
            self.watch_paths.remove(&group.path);
            if let Some(watcher) = self.watcher.as_mut() {
                let _ = watcher.unwatch(&group.path);
            }
        }
    }

    /// Watches row `dir`'s directory, or joins the watch that already serves that directory
    /// under another path.
    fn try_watch(&mut self, dir: &Path) {
        let Some(abs) = self.dirs.get(dir).map(|w| w.abs.clone()) else {
            return;
        };
        self.leave_group(dir);
        let Some(id) = dir_id(&abs) else {
            self.set_watch(dir, Watch::Retry);
            return;
        };
        if let Some(group) = self.groups.get_mut(&id) {
            group.rows.insert(dir.to_path_buf());
            self.set_watch(dir, Watch::Active);
            if let Some(w) = self.dirs.get_mut(dir) {
                w.group = Some(id);
            }
            return;
        }
        let Some(watcher) = self.watcher.as_mut() else {
            self.set_watch(dir, Watch::PollOnly);
            return;
        };
        match watcher.watch(&abs, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.groups.insert(
                    id,
                    WatchGroup {
                        path: abs.clone(),
                        rows: HashSet::from([dir.to_path_buf()]),
                        own_opens: Vec::new(),
                    },
                );
                self.watch_paths.insert(abs, id);
                self.set_watch(dir, Watch::Active);
                if let Some(w) = self.dirs.get_mut(dir) {
                    w.group = Some(id);
                }
            }
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
                "filesystem events unavailable or watch limit reached ({err}); directories without a watch are polled every {}",
                humantime::format_duration(self.options.interval)
            )));
        }
    }

    /// Classifies an event on a lock file. Creates and opens announce a lock about to be taken;
    /// deletes, renames and closes-after-write a lock given up (a killed holder's fds are closed
    /// by the kernel, so even SIGKILL shows). Opens are ignored where probing opens lock files,
    /// so the engine never feeds on its own probes.
    fn lock_file_trigger(&self, kind: &EventKind) -> Option<Trigger> {
        match kind {
            EventKind::Create(_) => Some(Trigger::Arrival),
            EventKind::Access(AccessKind::Open(_)) if !self.probes_open_files => {
                Some(Trigger::Arrival)
            }
            EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Any
            | EventKind::Other => Some(Trigger::Other),
            _ => None,
        }
    }

    fn on_event(
        &mut self,
        event: notify::Result<notify::Event>,
        dirty: &mut BTreeMap<PathBuf, (Cause, Option<Trigger>)>,
    ) {
        let Ok(event) = event else { return };
        self.counters.fs_events.fetch_add(1, Ordering::Relaxed);
        if event.need_rescan() {
            // The kernel's event queue overflowed: anything may have changed.
            for dir in self.dirs.keys() {
                dirty.insert(dir.clone(), (Cause::FsEvent, None));
            }
            return;
        }
        for path in &event.paths {
            if let Some(&id) = self.watch_paths.get(path) {
                // No follow-ups: a directory's own change is complete when its event arrives.
                for dir in self.group_rows(id) {
                    dirty.insert(dir, (Cause::FsEvent, None));
                }
                self.on_directory_event(id, &event.kind);
            } else if path
                .file_name()
                .is_some_and(|n| n == self.options.lock_name.as_str())
                && let Some(&id) = path.parent().and_then(|dir| self.watch_paths.get(dir))
                && let Some(trigger) = self.lock_file_trigger(&event.kind)
            {
                if trigger == Trigger::Arrival && self.was_own_open(id, &event.kind) {
                    continue;
                }
                // The latest event decides: create + open + close in one batch is a holder that
                // already went away, not one about to lock.
                for dir in self.group_rows(id) {
                    let entry = dirty.entry(dir).or_insert((Cause::FsEvent, None));
                    entry.1 = Some(trigger);
                }
            }
        }
    }

    fn group_rows(&self, id: DirId) -> Vec<PathBuf> {
        self.groups
            .get(&id)
            .map(|g| g.rows.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether an open event in group `id` is one of this engine's own direct probes (each
    /// expected open is used up by one event, or expires).
    fn was_own_open(&mut self, id: DirId, kind: &EventKind) -> bool {
        if !matches!(kind, EventKind::Access(AccessKind::Open(_))) {
            return false;
        }
        let Some(group) = self.groups.get_mut(&id) else {
            return false;
        };
        let now = Instant::now();
        group
            .own_opens
            .retain(|at| now.duration_since(*at) < OWN_OPEN_EVENT_WAIT);
        if group.own_opens.is_empty() {
            return false;
        }
        group.own_opens.remove(0);
        true
    }

    /// The watched directory itself was deleted or moved: its watch is gone, or follows the old
    /// inode. Drop it; the pass re-watches whatever the paths name later.
    fn on_directory_event(&mut self, id: DirId, kind: &EventKind) {
        let rows = self.group_rows(id);
        for dir in &rows {
            if let Some(w) = self.dirs.get_mut(dir) {
                w.follow_up = None; // the lock-file events they followed are moot now
            }
        }
        if matches!(
            kind,
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
        ) {
            for dir in &rows {
                self.leave_group(dir);
                self.set_watch(dir, Watch::Retry);
            }
        }
    }

    /// The periodic pass: every directory that needs it (all of them every `FULL_PASS_EVERY`
    /// passes), from one lock-table snapshot where there is one.
    fn pass(&mut self) {
        let full = self.counters.passes.fetch_add(1, Ordering::Relaxed) % FULL_PASS_EVERY
            == FULL_PASS_EVERY - 1;
        let table = LockTable::read();
        let dirs: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|(_, w)| full || w.needs_pass())
            .map(|(d, _)| d.clone())
            .collect();
        let mut used = HashSet::new();
        for dir in dirs {
            self.counters.pass_probes.fetch_add(1, Ordering::Relaxed);
            let defer_free = self
                .dirs
                .get(&dir)
                .and_then(|w| w.follow_up.as_ref())
                .is_some_and(|f| f.defer_free);
            if let Some(key) = self.refresh(&dir, Cause::Poll, table.as_ref(), defer_free) {
                used.insert(key);
            }
            // Re-watch only a path that probed as a working directory: inotify would happily
            // watch a regular file put in its place, or fail again on an unreadable one.
            let retry = self.dirs.get(&dir).is_some_and(|w| {
                w.watch == Watch::Retry
                    && matches!(
                        w.state,
                        Some(
                            DirState::Absent
                                | DirState::Free
                                | DirState::Held(_)
                                | DirState::HeldByThisProcess
                        )
                    )
            });
            if retry {
                self.try_watch(&dir);
            }
        }
        self.holders.retain(|k, _| used.contains(k));
    }

    /// Probes one directory and reports a change if its state differs (a `free` state is held
    /// back while `defer_free`). Returns the holder-cache key it used, if any.
    fn refresh(
        &mut self,
        dir: &Path,
        cause: Cause,
        table: Option<&LockTable>,
        defer_free: bool,
    ) -> Option<HolderKey> {
        let watched = self.dirs.get(dir)?;
        let (lock_file, abs_lock_file, group) = (
            watched.lock_file.clone(),
            watched.abs_lock_file.clone(),
            watched.group,
        );
        let (state, key) = match table {
            Some(t) => {
                let was_held = matches!(
                    watched.state,
                    Some(DirState::Held(_) | DirState::HeldByThisProcess)
                );
                self.state_from_table(t, &abs_lock_file, group, was_held)
            }
            None => (dir_state(probe::probe(&abs_lock_file)), None),
        };
        let watched = self.dirs.get_mut(dir)?;
        if watched.state.as_ref() != Some(&state) && !(defer_free && state == DirState::Free) {
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

    /// A held lock the snapshot shows gone: read the table twice more before believing it (see
    /// `state_from_table`). Not a direct lock query: opening the file would cause an open event,
    /// whose follow-ups would confirm again, for ever.
    fn confirm_free(
        &mut self,
        lock_file: &Path,
        group: Option<DirId>,
    ) -> (DirState, Option<HolderKey>) {
        for _ in 0..2 {
            let Some(table) = LockTable::read() else {
                break;
            };
            if let Ok(RawState::Held { .. }) = table.probe(lock_file) {
                return self.state_from_table(&table, lock_file, group, false);
            }
        }
        (DirState::Free, None)
    }

    /// Probes the lock file itself (opening it), where the lock table cannot tell. The open
    /// causes an open event in its directory: remembered, so that it is not taken for an
    /// arrival (which would probe again, for ever).
    fn probe_directly(&mut self, lock_file: &Path, group: Option<DirId>) -> DirState {
        let opens_before = probe::opens_by_probes();
        let state = dir_state(probe::probe(lock_file));
        let opened = probe::opens_by_probes().saturating_sub(opens_before);
        if let Some(group) = group.and_then(|id| self.groups.get_mut(&id)) {
            let now = Instant::now();
            group
                .own_opens
                .extend(std::iter::repeat_n(now, opened as usize));
        }
        state
    }

    /// The state from the lock-table snapshot. `/proc/locks` comes in page-sized reads, each
    /// consistent on its own; between two reads rows can shift and a lock held throughout can
    /// be skipped (seen under load with a few hundred locks on the system). So a held lock that
    /// the table shows gone is confirmed by fresh snapshots before it is reported free.
    fn state_from_table(
        &mut self,
        table: &LockTable,
        lock_file: &Path,
        group: Option<DirId>,
        was_held: bool,
    ) -> (DirState, Option<HolderKey>) {
        match table.probe(lock_file) {
            Ok(RawState::Absent) => (DirState::Absent, None),
            Ok(RawState::Unsure) => (self.probe_directly(lock_file, group), None),
            Ok(RawState::Free) if was_held => self.confirm_free(lock_file, group),
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
