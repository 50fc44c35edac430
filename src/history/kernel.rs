//! The kernel's own lock events into holds and refused attempts: the recorder's source where it
//! runs as root on Linux (tracefs `filelock`, filtered in the kernel to the watched
//! filesystems). Every hold is seen however short, and every refused attempt with the holder of
//! that instant, which no look at the present can show.
//!
//! Events name files by the lock table's (device, inode); certbot's lock file is a new inode at
//! each run (often a reused inode number), so the watched lock files' names are looked up again
//! whenever a batch of events has a lock taken or refused on a file not known as theirs: one
//! lstat per watched directory per batch, not per event (another process churning locks on the
//! same filesystem would otherwise cost a lookup per event). Drops (every close() of a file with locks makes one) on unknown files are not
//! looked up: a hold's drop is on the file its take named.
//!
//! It keeps no file: its events go to whoever polls (`record`'s history file, `serve`'s
//! counters).

use super::{EndedBy, Hold, Recorded, Refused, Source};
use crate::holder::DetailsCache;
use crate::probe::{LockState, ProbeBatch};
use crate::sys::{self, TableKey, TraceEvent};
use jiff::Timestamp;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// EAGAIN and EDEADLK: the answers of a refused attempt.
const REFUSED: [i32; 2] = [-11, -35];

/// How long a file found by its locker's descriptors not to be a watched lock file is not
/// searched for again (a process churning locks on its own files costs one search per file per
/// this time, not one per event).
const NOT_WATCHED_FOR: Duration = Duration::from_secs(1);

/// At most this many remembered "not a watched lock file" answers (then they are forgotten).
const NOT_WATCHED_MAX: usize = 4096;

struct Open {
    hold: Hold,
    /// The lock's owner as the kernel names it (unknown for a hold found at the start).
    owner: Option<u64>,
    /// The locked file's name in the lock table: its events end the hold even after the path
    /// names another file (the lock file deleted under its holder, then a new one).
    key: Option<TableKey>,
    /// Since when the lock file's path has been seen naming no longer this hold's file (it was
    /// deleted or replaced under the holder), as of the last look.
    file_gone_since: Option<Timestamp>,
}

/// A lock file found gone at least this long before its holder let go was deleted under it;
/// certbot's own release deletes its file a moment before it lets go.
const DELETED_UNDER_IT: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);

/// Turns the kernel's lock events of some directories' lock files into holds and refused
/// attempts.
pub struct KernelRecorder {
    trace: sys::LockTrace,
    /// Each watched directory and its lock file.
    watched: Vec<(PathBuf, PathBuf)>,
    /// The lock files' name, and the watched directories as `/proc` spells paths (resolved),
    /// for finding a lock file through its locker's descriptors.
    lock_name: std::ffi::OsString,
    canonical: Vec<(PathBuf, PathBuf)>,
    /// The lock table's name of each watched lock file, as last looked up.
    keys: HashMap<TableKey, PathBuf>,
    open: HashMap<PathBuf, Open>,
    /// The holds found at the start, for the first poll.
    found: Vec<Recorded>,
    /// Files (by locker and table name) whose locker's descriptors showed they are not a
    /// watched lock file, and when. Only that search is skipped for them: the watched lock
    /// files' names are looked up again first, so a file renamed into a watched directory is
    /// found whatever this says.
    not_watched: HashMap<(u32, TableKey), std::time::Instant>,
}

impl KernelRecorder {
    /// Starts tracing the filesystems of `dirs` (their lock files `DIR/lock_name`), after
    /// after looking for the holds already there (the first [`KernelRecorder::poll`] returns
    /// them: held before the recording began, `start_seen` false). Fails where the kernel's
    /// events cannot be traced (not root, no tracefs, not Linux), saying why.
    pub fn start(dirs: &[PathBuf], lock_name: &str) -> std::io::Result<KernelRecorder> {
        // A directory not made yet (certbot makes /etc/letsencrypt at its first run) will be on
        // its nearest existing ancestor's filesystem, unless a mount comes there meanwhile.
        let mut devices: Vec<(u32, u32)> = dirs
            .iter()
            .filter_map(|d| {
                d.ancestors()
                    .find_map(|a| sys::table_name(a, sys::file_id(a)?))
            })
            .map(|name| (name.key.0, name.key.1))
            .collect();
        devices.sort_unstable();
        devices.dedup();
        if devices.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "none of the directories is there to trace",
            ));
        }
        let trace = sys::LockTrace::start(&devices)?;
        let mut recorder = KernelRecorder {
            trace,
            watched: dirs
                .iter()
                .map(|d| (d.clone(), d.join(lock_name)))
                .collect(),
            lock_name: lock_name.into(),
            canonical: dirs
                .iter()
                .filter_map(|d| Some((std::fs::canonicalize(d).ok()?, d.clone())))
                .collect(),
            keys: HashMap::new(),
            open: HashMap::new(),
            found: Vec::new(),
            not_watched: HashMap::new(),
        };
        recorder.resolve();
        // What is held already (the trace began first: nothing falls between the two).
        let mut batch = ProbeBatch::new();
        let mut details = DetailsCache::default();
        let now = Timestamp::now();
        for (dir, lock_file) in recorder.watched.clone() {
            if let Ok(LockState::Held(holder)) = batch.probe(&lock_file) {
                let hold = Hold {
                    dir: dir.clone(),
                    pid: holder.pid,
                    command: holder.command,
                    user: holder.pid.and_then(|p| details.details(p).user),
                    start: now,
                    start_seen: false,
                    end: None,
                    ended_by: None,
                    source: Source::Kernel,
                };
                let key = sys::file_id(&lock_file)
                    .and_then(|file| sys::table_name(&lock_file, file))
                    .map(|name| name.key);
                recorder.found.push(Recorded::Began(hold.clone()));
                recorder.open.insert(
                    dir,
                    Open {
                        hold,
                        owner: None,
                        key,
                        file_gone_since: None,
                    },
                );
            }
        }
        Ok(recorder)
    }

    /// Waits up to `wait` for events and returns what they mean: holds begun and ended, refused
    /// attempts. Fails only if the kernel's events can no longer be read.
    pub fn poll(&mut self, wait: Duration) -> std::io::Result<Vec<Recorded>> {
        let mut recorded = std::mem::take(&mut self.found);
        if !recorded.is_empty() {
            return Ok(recorded);
        }
        let mut events = self.trace.next_events(wait)?;
        // This process's own locks (SQLite's on the history file, when it is on a watched
        // filesystem) are no one's holds.
        let me = std::process::id();
        events.retain(|e| e.pid != me);
        let mut details = DetailsCache::default();
        // A take or refusal on a file not known as a watched lock file, or on one known by a
        // name its path no longer gives (the file deleted, its inode number another file's
        // now): the watched lock files' names are looked up again, once for the whole batch
        // (one lstat per watched directory), before any event of it is applied.
        let mut checked = std::collections::HashSet::new();
        let mut stale = false;
        for e in &events {
            if e.unlock
                || e.kind == sys::TraceLockKind::Flock
                || self.open.values().any(|o| o.key == Some(e.key))
                || !checked.insert(e.key)
            {
                continue;
            }
            stale |= match self.keys.get(&e.key) {
                None => true,
                Some(dir) => !self.still_named(dir, e.key),
            };
        }
        if stale {
            self.resolve();
        }
        for event in events {
            // flock(2) locks do not exclude certbot (the monitor warns of them): not holds.
            if event.kind == sys::TraceLockKind::Flock {
                continue;
            }
            let look_up = (!event.unlock).then_some(event.pid);
            let Some(dir) = self.dir_of(event.key, look_up) else {
                continue;
            };
            self.apply(&dir, &event, &mut details, &mut recorded);
        }
        self.look_at_held_files();
        Ok(recorded)
    }

    fn apply(
        &mut self,
        dir: &Path,
        event: &TraceEvent,
        details: &mut DetailsCache,
        recorded: &mut Vec<Recorded>,
    ) {
        let at = Timestamp::try_from(sys::boot_to_wall(event.boot_ns))
            .unwrap_or_else(|_| Timestamp::now());
        let is_owner = |open: &Open| match open.owner {
            Some(owner) => owner == event.owner,
            None => open.hold.pid == Some(event.pid),
        };
        if event.unlock {
            // Every close() of a file with locks drops locks, held or not: only the holder's
            // drop ends the hold.
            if let Some(open) = self.open.get(dir).filter(|o| event.ret == 0 && is_owner(o)) {
                let deleted_under_it = open
                    .file_gone_since
                    .and_then(|gone| at.checked_sub(DELETED_UNDER_IT).ok().map(|t| gone <= t))
                    .unwrap_or(false);
                let how = if deleted_under_it {
                    EndedBy::LockFileDeleted
                } else {
                    EndedBy::Released
                };
                self.end_open(dir, at, how, recorded);
            }
            return;
        }
        if REFUSED.contains(&event.ret) {
            let (command, user) = who(event.pid, details);
            let refused = Refused {
                dir: dir.to_path_buf(),
                pid: Some(event.pid),
                command,
                user,
                time: at,
                holder_pid: self.open.get(dir).and_then(|o| o.hold.pid),
                source: Source::Kernel,
            };
            recorded.push(Recorded::Refused(refused));
            return;
        }
        if event.ret != 0 {
            return;
        }
        match self.open.get_mut(dir) {
            // The holder taking it again (a lock upgrade or a second range): the same hold.
            Some(open) if is_owner(open) => {
                open.owner.get_or_insert(event.owner);
                return;
            }
            // Another owner has it: the last holder's drop was not seen (its file was renamed
            // away, say); it ended by now.
            Some(_) => self.end_open(dir, at, EndedBy::HandedOver, recorded),
            None => {}
        }
        let (command, user) = who(event.pid, details);
        let hold = Hold {
            dir: dir.to_path_buf(),
            pid: Some(event.pid),
            command,
            user,
            start: at,
            start_seen: true,
            end: None,
            ended_by: None,
            source: Source::Kernel,
        };
        self.open.insert(
            dir.to_path_buf(),
            Open {
                hold: hold.clone(),
                owner: Some(event.owner),
                key: Some(event.key),
                file_gone_since: None,
            },
        );
        recorded.push(Recorded::Began(hold));
    }

    /// Ends `dir`'s open hold at `at`.
    fn end_open(&mut self, dir: &Path, at: Timestamp, ended_by: EndedBy, out: &mut Vec<Recorded>) {
        if let Some(open) = self.open.remove(dir) {
            out.push(Recorded::Ended(open.hold.ended(at, ended_by)));
        }
    }

    /// The watched directory whose lock file the table names `key` (as [`Self::resolve`] last
    /// found the names); for a take or refusal (`look_up`: by that pid) on a file not known as
    /// one (deleted or replaced before its event was read), the locker's descriptors of that
    /// file.
    fn dir_of(&mut self, key: TableKey, look_up: Option<u32>) -> Option<PathBuf> {
        // An open hold's file first: its path may name another file by now.
        if let Some((dir, _)) = self.open.iter().find(|(_, o)| o.key == Some(key)) {
            return Some(dir.clone());
        }
        if let Some(dir) = self.keys.get(&key) {
            return Some(dir.clone());
        }
        let pid = look_up?;
        let now = std::time::Instant::now();
        if self
            .not_watched
            .get(&(pid, key))
            .is_some_and(|at| now.duration_since(*at) < NOT_WATCHED_FOR)
        {
            return None;
        }
        let wanted = std::collections::HashSet::from([key]);
        let found = sys::locked_files_named(pid, &self.lock_name, &wanted, false)
            .into_iter()
            .find_map(|file| {
                let parent = file.path.parent()?;
                self.canonical
                    .iter()
                    .find(|(canonical, _)| canonical == parent)
                    .map(|(_, dir)| dir.clone())
            });
        if found.is_none() {
            if self.not_watched.len() >= NOT_WATCHED_MAX {
                self.not_watched.clear();
            }
            self.not_watched.insert((pid, key), now);
        }
        found
    }

    /// Whether `dir`'s lock file is still the file the table names `key` (re-validates a name
    /// [`Self::resolve`] found earlier: one lstat).
    fn still_named(&self, dir: &Path, key: TableKey) -> bool {
        let Some((_, lock_file)) = self.watched.iter().find(|(d, _)| d == dir) else {
            return false;
        };
        sys::file_id(lock_file)
            .and_then(|id| sys::table_name(lock_file, id))
            .is_some_and(|name| name.key == key)
    }

    /// Looks up each watched lock file's name in the lock table (re-validating the cache: a
    /// name stays only while the path still names that file).
    fn resolve(&mut self) {
        self.keys.clear();
        for (dir, lock_file) in &self.watched {
            if let Some(name) =
                sys::file_id(lock_file).and_then(|id| sys::table_name(lock_file, id))
            {
                self.keys.insert(name.key, dir.clone());
            }
        }
    }

    /// Whether each held lock file's path still names the held file (one lstat per hold): a
    /// hold whose file was deleted under it for a while is recorded so when it ends.
    fn look_at_held_files(&mut self) {
        let now = Timestamp::now();
        let named: Vec<(PathBuf, bool)> = self
            .open
            .iter()
            .filter_map(|(dir, open)| Some((dir.clone(), self.still_named(dir, open.key?))))
            .collect();
        for (dir, named) in named {
            if let Some(open) = self.open.get_mut(&dir) {
                if named {
                    open.file_gone_since = None;
                } else {
                    open.file_gone_since.get_or_insert(now);
                }
            }
        }
    }

    /// How many lock events the kernel dropped since the start because this recorder fell
    /// behind (another process churning locks on the same filesystem faster than they can be
    /// read): holds and refused attempts may be missing around then.
    pub fn lost_events(&self) -> u64 {
        self.trace.lost()
    }

    /// The recording stops: holds still open end as "recording-stopped" now.
    pub fn stop(&mut self) -> Vec<Recorded> {
        let now = Timestamp::now();
        self.open
            .drain()
            .map(|(_, open)| Recorded::Ended(open.hold.ended(now, EndedBy::RecordingStopped)))
            .collect()
    }
}

/// A locker's command line and user, as a hold or a refused attempt keeps them.
fn who(pid: u32, details: &mut DetailsCache) -> (Option<String>, Option<String>) {
    (crate::holder::command_line(pid), details.details(pid).user)
}
