//! The monitor's worker thread: owns the watchers, the directory table and the watch groups.

use super::fs_jobs::{
    Diagnosers, Observation, WatchAnswer, WatchError, Watchers, observe, watch_dir,
};
use super::fs_pool::{FsPool, StuckKey, locked};
use super::{Cause, Change, Command, Counters, DirState, MonitorOptions, Update, UpdateHandler};
use crate::diagnose::{Diagnosis, WarningKind};
use crate::probe::{LockState, LockTable};
use notify::Watcher;
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A directory's identity (device, inode): rows that name one directory under several paths
/// (a relative and an absolute spelling, a bind mount, a symlinked parent) share one watch.
/// inotify gives one watch descriptor per inode, so a second watch of the same directory under
/// another path would steal the first one's events, and unwatching either would end both.
use super::sys::{DirId, DirIdentity, dir_identity};

/// One inotify watch and the rows it serves.
struct WatchGroup {
    /// What the paths named when the watch was registered (inode, mount, birth). Every pass
    /// re-checks it (`pass`): a path that names something else now has a useless watch.
    identity: DirIdentity,
    /// The absolute paths the watch was registered with (one per spelling; inotify keeps one
    /// watch per inode): events name their files under the latest of them.
    paths: Vec<PathBuf>,
    /// Usually one; a few when one directory is watched under several spellings.
    rows: Vec<PathBuf>,
    /// When this engine's own probes opened the lock file here (direct queries where the lock
    /// table cannot tell): the open events they cause are not arrivals.
    own_opens: Vec<Instant>,
}

/// How long an own open's event is waited for before the expectation is dropped (events arrive
/// within milliseconds; a watch that went away meanwhile never delivers one).
const OWN_OPEN_EVENT_WAIT: Duration = Duration::from_secs(1);

pub(super) struct Engine {
    options: MonitorOptions,
    /// Where the watchers' events go (each watcher's handler sends `Command::Fs`).
    commands: Sender<Command>,
    watchers: Watchers,
    /// Every filesystem call for a directory runs here, never on the engine's thread.
    pool: FsPool,
    /// Filesystems (or directories) with a call that has not returned: no more calls are made
    /// for them until it does (`Command::FsRecovered`); their rows say not responding.
    stuck: HashSet<StuckKey>,
    /// Where updates go (a closure or a channel, see `UpdateHandler`).
    handler: Box<dyn UpdateHandler>,
    counters: Arc<Counters>,
    /// The rows, by the directory path as the caller spelled it (that spelling is reported).
    dirs: HashMap<PathBuf, Watched>,
    groups: HashMap<DirId, WatchGroup>,
    /// The absolute path of each watch, for routing events to their group.
    watch_paths: HashMap<PathBuf, DirId>,
    limit_noticed: bool,
    sent: bool,
    /// Directories added in this batch: the first `WATCH_BUDGET` are watched before their
    /// first probe, the rest after it (so the first snapshot does not wait for thousands of
    /// watch registrations).
    new_dirs: Vec<PathBuf>,
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
    /// The directory's filesystem (stat's device), once a watch attempt has seen it.
    dev: Option<u64>,
    state: Option<DirState>,
    /// The hazards of the diagnosis last reported (see [`hazards_of`]).
    hazards: Option<Vec<Hazard>>,
    watch: Watch,
    follow_up: Option<FollowUp>,
    /// Local filesystem: no lock file can appear without an event (see `needs_pass`).
    events_complete: bool,
}

impl Watched {
    /// What a stuck call for this row quarantines: its filesystem where known.
    fn stuck_key(&self) -> StuckKey {
        match self.dev {
            Some(dev) => StuckKey::Device(dev),
            None => StuckKey::Dir(self.abs.clone()),
        }
    }

    /// Whether the periodic pass must probe this directory. An absent lock file in an actively
    /// watched directory on a local filesystem cannot appear without a create or rename event,
    /// so only a full pass (every `FULL_PASS_EVERY`) looks at it. Everything else (a file that
    /// exists and may be locked or unlocked silently, a missing or unwatched directory, a
    /// network filesystem) is probed on every pass.
    fn needs_pass(&self) -> bool {
        !(self.watch == Watch::Active
            && self.events_complete
            && self.state == Some(DirState::Lock(LockState::Absent)))
    }
}

/// How many directories one identity-check job of the pass stats (a job per directory would
/// cost more in thread hand-offs than the `statx` calls).
const IDENTITY_CHUNK: usize = 256;

/// Every this many passes, probe every directory regardless (a safety net for changes no event
/// reports, e.g. a bind mount over a watched directory).
const FULL_PASS_EVERY: u64 = 60;

/// How many directories of one batch of additions are watched before their first probe.
/// notify's inotify backend costs a thread round trip per watch (~0.1 ms here), so a few
/// hundred directories are watched before they are probed (no gap in which an event could be
/// missed), and a list of thousands reports its first snapshot at once and is watched right
/// after, with a catch-up probe.
const WATCH_BUDGET: usize = 500;

/// The longest period of the pass: about a century. Longer ones are cut to it.
const MAX_INTERVAL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Re-probes shortly after a lock-file event. An event comes just BEFORE the change it
/// announces: certbot creates or opens the file, then locks it; a dying OFD holder's close
/// event fires before the kernel drops its lock. So the first probe may see the old state.
struct FollowUp {
    due: Instant,
    step: usize,
    /// After a create or open, a `free` (or, for a file this process may not open and the
    /// lock table does not list yet, "cannot tell") file is usually about to be locked:
    /// report that only if it persists at the last follow-up, so a lock taken shows as one
    /// change. Until when: set by the first arrival of an episode and never pushed back by
    /// later ones, so opens by other readers (another monitor's direct queries, `status` in a
    /// loop) cannot hold a `free` back forever (they did: an unprivileged watch stayed
    /// `absent`, a root watch `held` by a dead holder, while someone kept opening the file).
    defer_until: Option<Instant>,
}

impl FollowUp {
    fn defers_free(&self, now: Instant) -> bool {
        self.defer_until.is_some_and(|until| now < until)
    }
}

/// The longest a `free` is held back after the first arrival of an episode: past the last
/// follow-up.
const DEFER_FREE_AT_MOST: Duration = Duration::from_millis(100);

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
        handler: Box<dyn UpdateHandler>,
        counters: Arc<Counters>,
    ) -> Engine {
        Engine {
            options,
            pool: FsPool::new(commands.clone()),
            commands,
            watchers: Arc::new(Mutex::new(HashMap::new())),
            stuck: HashSet::new(),
            handler,
            counters,
            dirs: HashMap::new(),
            groups: HashMap::new(),
            watch_paths: HashMap::new(),
            limit_noticed: false,
            sent: false,
            new_dirs: Vec::new(),
            probes_open_files: LockTable::read().is_none(),
        }
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
                    Command::FsRecovered(key) => {
                        self.stuck.remove(&key);
                        for (dir, w) in &self.dirs {
                            if w.stuck_key() == key {
                                dirty.entry(dir.clone()).or_insert((Cause::Poll, None));
                            }
                        }
                    }
                }
            }
            if !self.new_dirs.is_empty() {
                let budget = self.new_dirs.len().min(WATCH_BUDGET);
                let first: Vec<PathBuf> = self.new_dirs.drain(..budget).collect();
                self.watch_rows(first);
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
                self.handler.batch_done();
            }
        }
    }

    /// Probes the marked directories, from one lock-table snapshot where there is one.
    fn probe_batch(&mut self, dirty: BTreeMap<PathBuf, (Cause, Option<Trigger>)>) {
        let mut probes = Vec::with_capacity(dirty.len());
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
                (Some(t), old) => {
                    // An episode lasts while follow-ups are pending: its first arrival's
                    // deadline stands, even when passed (continuous opens never renew it).
                    let defer_until = (t == Trigger::Arrival).then(|| {
                        old.and_then(|f| f.defer_until)
                            .unwrap_or(now + DEFER_FREE_AT_MOST)
                    });
                    let follow_up = FollowUp {
                        due: now + FOLLOW_UPS[0],
                        step: 0,
                        defer_until,
                    };
                    let defer = follow_up.defers_free(now);
                    watched.follow_up = Some(follow_up);
                    defer
                }
                // A due follow-up: schedule the next one, if any.
                (None, Some(f)) if cause == Cause::FsEvent => {
                    let step = f.step + 1;
                    if let Some(delay) = FOLLOW_UPS.get(step) {
                        let due = now + (*delay - FOLLOW_UPS[f.step]);
                        watched.follow_up = Some(FollowUp { due, step, ..f });
                        f.defers_free(now)
                    } else {
                        false
                    }
                }
                (None, old) => {
                    watched.follow_up = old;
                    false
                }
            };
            probes.push((dir, cause, defer_free));
        }
        self.refresh_many(probes);
    }

    /// Watches the directories whose first state was just reported, then probes them once more:
    /// a change between that first probe and the watch would otherwise wait for the pass.
    fn watch_new_dirs(&mut self) {
        let new_dirs = std::mem::take(&mut self.new_dirs);
        self.watch_rows(new_dirs.clone());
        self.refresh_many(
            new_dirs
                .into_iter()
                .map(|dir| (dir, Cause::Poll, false))
                .collect(),
        );
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
                events_complete: false,
                abs,
                lock_file,
                group: None,
                dev: None,
                state: None,
                hazards: None,
                watch: Watch::Retry,
                follow_up: None,
            },
        );
        self.new_dirs.push(dir);
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
        group.rows.retain(|row| row != dir);
        if !group.rows.is_empty() {
            return;
        }
        let Some(group) = self.groups.remove(&id) else {
            return;
        };
        for path in &group.paths {
            self.watch_paths.remove(path);
        }
        let Some(watcher) = locked(&self.watchers).get(&id.0).cloned() else {
            return;
        };
        // On the pool: the watcher's thread may be stuck registering another watch there.
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let mut watcher = locked(&watcher);
            for path in &group.paths {
                let _ = watcher.unwatch(path);
            }
        });
        if !self.stuck.contains(&StuckKey::Device(id.0)) {
            let answers = self.pool.run(vec![(StuckKey::Device(id.0), job)]);
            if answers[0].is_none() {
                self.stuck.insert(StuckKey::Device(id.0));
            }
        }
    }

    /// Watches each row's directory, or joins the watch that already serves that directory
    /// under another path. The registrations run on the filesystem pool.
    fn watch_rows(&mut self, rows: Vec<PathBuf>) {
        let mut jobs: Vec<(StuckKey, Box<dyn FnOnce() -> WatchAnswer + Send>)> = Vec::new();
        let mut asked = Vec::new();
        for dir in rows {
            self.leave_group(&dir);
            let Some(w) = self.dirs.get(&dir) else {
                continue;
            };
            let key = w.stuck_key();
            if self.stuck.contains(&key) {
                continue;
            }
            let abs = w.abs.clone();
            let watchers = self.watchers.clone();
            let commands = self.commands.clone();
            jobs.push((key, Box::new(move || watch_dir(&abs, &watchers, commands))));
            asked.push(dir);
        }
        let answers = self.pool.run(jobs);
        for (dir, answer) in asked.into_iter().zip(answers) {
            let Some(answer) = answer else {
                self.mark_stuck(&dir);
                continue;
            };
            let abs = match self.dirs.get_mut(&dir) {
                Some(w) => {
                    if let Some((identity, complete)) = answer.dir {
                        w.dev = Some(identity.id.0);
                        w.events_complete = complete;
                    }
                    w.abs.clone()
                }
                None => continue,
            };
            match (answer.dir, answer.watch) {
                (Some((identity, _)), Ok(())) => {
                    let id = identity.id;
                    let group = self.groups.entry(id).or_insert_with(|| WatchGroup {
                        identity,
                        paths: Vec::new(),
                        rows: Vec::new(),
                        own_opens: Vec::new(),
                    });
                    // A later registration of the same inode number is the live one (a group
                    // left from a deleted directory whose number was reused is replaced).
                    group.identity = identity;
                    if !group.rows.contains(&dir) {
                        group.rows.push(dir.clone());
                    }
                    if !group.paths.contains(&abs) {
                        group.paths.push(abs.clone());
                    }
                    self.watch_paths.insert(abs, id);
                    self.set_watch(&dir, Watch::Active);
                    if let Some(w) = self.dirs.get_mut(&dir) {
                        w.group = Some(id);
                    }
                }
                (_, Err(WatchError::Limit(message))) => {
                    self.notice_limit(&message);
                    self.set_watch(&dir, Watch::PollOnly);
                }
                _ => self.set_watch(&dir, Watch::Retry),
            }
        }
    }

    /// A call for row `dir` did not return in time: quarantine its filesystem and say so.
    fn mark_stuck(&mut self, dir: &Path) {
        let Some(key) = self.dirs.get(dir).map(Watched::stuck_key) else {
            return;
        };
        self.stuck.insert(key.clone());
        let rows: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|(_, w)| w.stuck_key() == key)
            .map(|(d, _)| d.clone())
            .collect();
        for row in rows {
            self.report(&row, DirState::NotResponding, None, Cause::Poll, false);
        }
    }

    fn set_watch(&mut self, dir: &Path, watch: Watch) {
        if let Some(w) = self.dirs.get_mut(dir) {
            w.watch = watch;
        }
    }

    fn notice_limit(&mut self, err: &str) {
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
            .map(|g| g.rows.to_vec())
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

    /// The periodic pass: every watched path's identity re-checked (a path that names another
    /// directory now is re-watched and probed), then every directory that needs it (all of
    /// them every `FULL_PASS_EVERY` passes), from one lock-table snapshot where there is one.
    fn pass(&mut self) {
        let full = self.counters.passes.fetch_add(1, Ordering::Relaxed) % FULL_PASS_EVERY
            == FULL_PASS_EVERY - 1;
        let moved = self.recheck_identities();
        let probes: Vec<(PathBuf, Cause, bool)> = self
            .dirs
            .iter()
            .filter(|(d, w)| full || w.needs_pass() || moved.contains(*d))
            .map(|(d, w)| {
                let defer_free = w
                    .follow_up
                    .as_ref()
                    .is_some_and(|f| f.defers_free(Instant::now()));
                (d.clone(), Cause::Poll, defer_free)
            })
            .collect();
        self.counters
            .pass_probes
            .fetch_add(probes.len() as u64, Ordering::Relaxed);
        let dirs: Vec<PathBuf> = probes.iter().map(|(d, _, _)| d.clone()).collect();
        self.refresh_many(probes);
        // Re-watch only a path that probed as a working directory: inotify would happily
        // watch a regular file put in its place, or fail again on an unreadable one.
        let retry: Vec<PathBuf> = dirs
            .into_iter()
            .filter(|dir| {
                self.dirs.get(dir).is_some_and(|w| {
                    // Any lock state: the probe could look into the directory.
                    w.watch == Watch::Retry && matches!(w.state, Some(DirState::Lock(_)))
                })
            })
            .collect();
        if !retry.is_empty() {
            self.watch_rows(retry);
        }
    }

    /// Where the watch's cached fact ("this path names the inode we watch") is re-validated:
    /// one `statx` per watched directory, in chunks per filesystem on the pool. A group any of
    /// whose paths names something else now (a mount over it, a renamed or re-pointed parent, a
    /// directory deleted and made again) is dissolved: its rows go back to `Retry`, so this
    /// pass probes them and re-watches what their paths name. Returns those rows.
    fn recheck_identities(&mut self) -> HashSet<PathBuf> {
        let mut by_key: HashMap<StuckKey, Vec<(PathBuf, PathBuf)>> = HashMap::new();
        for (dir, w) in &self.dirs {
            if w.watch != Watch::Active || w.group.is_none() {
                continue;
            }
            let key = w.stuck_key();
            if self.stuck.contains(&key) {
                continue;
            }
            by_key
                .entry(key)
                .or_default()
                .push((dir.clone(), w.abs.clone()));
        }
        type Seen = Vec<(PathBuf, Option<DirIdentity>)>;
        let mut jobs: Vec<(StuckKey, Box<dyn FnOnce() -> Seen + Send>)> = Vec::new();
        let mut asked: Vec<Vec<PathBuf>> = Vec::new();
        for (key, rows) in by_key {
            for chunk in rows.chunks(IDENTITY_CHUNK) {
                let chunk = chunk.to_vec();
                asked.push(chunk.iter().map(|(dir, _)| dir.clone()).collect());
                jobs.push((
                    key.clone(),
                    Box::new(move || {
                        chunk
                            .into_iter()
                            .map(|(dir, abs)| (dir, dir_identity(&abs)))
                            .collect()
                    }),
                ));
            }
        }
        let mut moved = HashSet::new();
        for (rows, answer) in asked.into_iter().zip(self.pool.run(jobs)) {
            let Some(seen) = answer else {
                if let Some(dir) = rows.first() {
                    self.mark_stuck(dir);
                }
                continue;
            };
            for (dir, identity) in seen {
                let Some(id) = self.dirs.get(&dir).and_then(|w| w.group) else {
                    continue;
                };
                let watched = self.groups.get(&id).map(|g| g.identity);
                if watched.is_some() && identity == watched {
                    continue;
                }
                for row in self.group_rows(id) {
                    self.leave_group(&row);
                    self.set_watch(&row, Watch::Retry);
                    moved.insert(row);
                }
            }
        }
        moved
    }

    /// Probes the rows (dir, cause, defer_free) on the filesystem pool, from one lock-table
    /// snapshot where there is one, and reports what changed. A row whose filesystem is stuck
    /// is not probed (it says not responding until its call returns).
    fn refresh_many(&mut self, rows: Vec<(PathBuf, Cause, bool)>) {
        let table = LockTable::read().map(Arc::new);
        let diagnosers = Arc::new(Diagnosers::default());
        let mut jobs: Vec<(StuckKey, Box<dyn FnOnce() -> Observation + Send>)> = Vec::new();
        let mut asked = Vec::new();
        for (dir, cause, defer_free) in rows {
            let Some(w) = self.dirs.get(&dir) else {
                continue;
            };
            let key = w.stuck_key();
            if self.stuck.contains(&key) {
                continue;
            }
            let previous = w.state.clone();
            // A row showing warnings is diagnosed again even when its state stays: that is the
            // re-check of what they say (an orphaned lock seen between certbot's removal of its
            // lock file and its letting go stayed on the row until the next change of state).
            let recheck = w.hazards.as_ref().is_some_and(|h| !h.is_empty());
            let (abs_dir, lock_file, table, diagnosers) = (
                w.abs.clone(),
                w.abs_lock_file.clone(),
                table.clone(),
                diagnosers.clone(),
            );
            jobs.push((
                key,
                Box::new(move || {
                    observe(
                        table.as_deref(),
                        &abs_dir,
                        &lock_file,
                        previous.as_ref(),
                        recheck,
                        &diagnosers,
                    )
                }),
            ));
            asked.push((dir, cause, defer_free));
        }
        let answers = self.pool.run(jobs);
        for ((dir, cause, defer_free), answer) in asked.into_iter().zip(answers) {
            let Some(seen) = answer else {
                self.mark_stuck(&dir);
                continue;
            };
            if seen.opened > 0
                && let Some(group) = self
                    .dirs
                    .get(&dir)
                    .and_then(|w| w.group)
                    .and_then(|id| self.groups.get_mut(&id))
            {
                let now = Instant::now();
                group
                    .own_opens
                    .extend(std::iter::repeat_n(now, seen.opened as usize));
            }
            self.report(&dir, seen.state, seen.diagnosis, cause, defer_free);
        }
    }

    /// Reports row `dir`'s new state if it differs (a `free` state is held back while
    /// `defer_free`).
    fn report(
        &mut self,
        dir: &Path,
        state: DirState,
        diagnosis: Option<Arc<Diagnosis>>,
        cause: Cause,
        defer_free: bool,
    ) {
        let Some(watched) = self.dirs.get_mut(dir) else {
            return;
        };
        // Right after a lock file appeared, "free" and "cannot tell" (a file this process may
        // not open, not yet in the lock table) are the moment between certbot's create and
        // its lock: held back until the follow-ups settle.
        let in_between = state == DirState::Lock(LockState::Free)
            || matches!(&state, DirState::Error(e)
                if matches!(e.error(), crate::PathError::Undecidable { .. }));
        // A held lock whose owner cannot be found right after a known holder's: usually that
        // holder dying (its descriptors go a moment before its lock). A follow-up is due
        // (every event schedules them): it reports what settles, or this if it persists.
        let holder_vanished = matches!(
            (&watched.state, &state),
            (Some(DirState::Lock(LockState::Held(before))), DirState::Lock(LockState::Held(now)))
                if before.pid.is_some() && now.pid.is_none()
        );
        // The hazards the diagnosis found (kind, holder): a change of them is news even when the
        // state is not. certbot's release removes its lock file a moment before it lets go, so
        // the probe of that delete event finds an orphaned lock; the follow-up finds it gone,
        // and that must replace the warning (it stayed until the next change of state).
        let hazards = diagnosis.as_ref().map(|d| hazards_of(d));
        let same_hazards = hazards.is_none() || hazards == watched.hazards;
        // An orphaned lock that appears with an event is usually certbot between removing its
        // lock file and letting go: held back while follow-ups are due (they report what
        // settles, or this if it persists), so an ordinary release is not reported as one.
        let orphan_of = |h: &Option<Vec<Hazard>>| {
            h.as_ref()
                .is_some_and(|h| h.iter().any(|(kind, _)| *kind == WarningKind::OrphanedLock))
        };
        let new_orphan = orphan_of(&hazards) && !orphan_of(&watched.hazards);
        if (watched.state.as_ref() == Some(&state) && same_hazards)
            || (defer_free && in_between)
            || (holder_vanished && watched.follow_up.is_some())
            || (new_orphan && watched.follow_up.is_some())
        {
            return;
        }
        if hazards.is_some() {
            watched.hazards = hazards;
        }
        let old = watched.state.replace(state.clone());
        let change = Change {
            dir: dir.to_path_buf(),
            lock_file: watched.lock_file.clone(),
            old,
            new: state,
            diagnosis: diagnosis.unwrap_or_default(),
            at: SystemTime::now(),
            cause,
        };
        self.send(Update::Change(change));
    }

    fn send(&mut self, update: Update) {
        self.handler.handle_update(update);
        self.sent = true;
    }
}

/// What a warning warns of: its kind and the pid it names.
type Hazard = (WarningKind, Option<u32>);

/// A diagnosis's warnings as what they warn of.
fn hazards_of(diagnosis: &Diagnosis) -> Vec<Hazard> {
    diagnosis
        .warnings
        .iter()
        .map(|w| (w.kind, w.holder.as_ref().and_then(|h| h.pid)))
        .collect()
}
