//! The kernel's own lock events into holds and refused attempts: the recorder's source where it
//! runs as root on Linux (tracefs `filelock`, filtered in the kernel to the watched
//! filesystems). Every hold is seen however short, and every refused attempt with the holder of
//! that instant, which no look at the present can show.
//!
//! Events name files by the lock table's (device, inode); certbot's lock file is a new inode at
//! each run, so the watched lock files' names are looked up again when an event names a file
//! not known yet (at most every [`RESOLVE_EVERY`]).

use super::recorder::Recorded;
use super::{EndedBy, HistoryError, Hold, Refused, Source, Store};
use crate::holder::DetailsCache;
use crate::probe::{LockState, ProbeBatch};
use crate::sys::{self, TableKey, TraceEvent};
use jiff::Timestamp;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the watched lock files' (device, inode) are looked up again for an unknown event.
const RESOLVE_EVERY: Duration = Duration::from_millis(20);

/// EAGAIN and EDEADLK: the answers of a refused attempt.
const REFUSED: [i32; 2] = [-11, -35];

struct Open {
    id: i64,
    hold: Hold,
    /// The lock's owner as the kernel names it (unknown for a hold found at the start).
    owner: Option<u64>,
}

/// Records the kernel's lock events of some directories' lock files into a [`Store`].
pub struct KernelRecorder {
    store: Store,
    trace: sys::LockTrace,
    /// Each watched directory and its lock file.
    watched: Vec<(PathBuf, PathBuf)>,
    /// The lock table's name of each watched lock file, as last looked up.
    keys: HashMap<TableKey, PathBuf>,
    resolved_at: Option<Instant>,
    open: HashMap<PathBuf, Open>,
}

impl KernelRecorder {
    /// Starts tracing the filesystems of `dirs` (their lock files `DIR/lock_name`), after
    /// recording the holds already there (held before the recording began: `start_seen` false).
    /// Fails where the kernel's events cannot be traced (not root, no tracefs, not Linux),
    /// handing the store back with why.
    pub fn start(
        store: Store,
        dirs: &[PathBuf],
        lock_name: &str,
    ) -> Result<KernelRecorder, Box<(Store, String)>> {
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
            return Err(Box::new((
                store,
                "none of the directories is there to trace".into(),
            )));
        }
        let trace = match sys::LockTrace::start(&devices) {
            Ok(trace) => trace,
            Err(e) => return Err(Box::new((store, e.to_string()))),
        };
        let mut recorder = KernelRecorder {
            store,
            trace,
            watched: dirs
                .iter()
                .map(|d| (d.clone(), d.join(lock_name)))
                .collect(),
            keys: HashMap::new(),
            resolved_at: None,
            open: HashMap::new(),
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
                let Ok(id) = recorder.store.begin_hold(&hold) else {
                    continue; // written at its first event instead
                };
                recorder.open.insert(
                    dir,
                    Open {
                        id,
                        hold,
                        owner: None,
                    },
                );
            }
        }
        Ok(recorder)
    }

    /// Waits up to `wait` for events and records them.
    pub fn poll(&mut self, wait: Duration) -> Result<Vec<Recorded>, HistoryError> {
        let events = self.trace.next_events(wait).map_err(HistoryError::Trace)?;
        let mut details = DetailsCache::default();
        let mut recorded = Vec::new();
        for event in events {
            let Some(dir) = self.dir_of(event.key) else {
                continue;
            };
            self.apply(&dir, &event, &mut details, &mut recorded)?;
        }
        Ok(recorded)
    }

    fn apply(
        &mut self,
        dir: &Path,
        event: &TraceEvent,
        details: &mut DetailsCache,
        recorded: &mut Vec<Recorded>,
    ) -> Result<(), HistoryError> {
        let at = Timestamp::try_from(sys::boot_to_wall(event.boot_ns))
            .unwrap_or_else(|_| Timestamp::now());
        let is_owner = |open: &Open| match open.owner {
            Some(owner) => owner == event.owner,
            None => open.hold.pid == Some(event.pid),
        };
        if event.unlock {
            // Every close() of a file with locks drops locks, held or not: only the holder's
            // drop ends the hold.
            if event.ret == 0
                && self.open.get(dir).is_some_and(is_owner)
                && let Some(open) = self.open.remove(dir)
            {
                self.store.end_hold(open.id, Some(at), EndedBy::Released)?;
                let mut hold = open.hold;
                hold.end = Some(at);
                hold.ended_by = Some(EndedBy::Released);
                recorded.push(Recorded::Ended(hold));
            }
            return Ok(());
        }
        if REFUSED.contains(&event.ret) {
            let refused = Refused {
                dir: dir.to_path_buf(),
                pid: Some(event.pid),
                command: crate::holder::command_line(event.pid),
                user: details.details(event.pid).user,
                time: at,
                holder_pid: self.open.get(dir).and_then(|o| o.hold.pid),
                source: Source::Kernel,
            };
            self.store.add_refused(&refused)?;
            recorded.push(Recorded::Refused(refused));
            return Ok(());
        }
        if event.ret != 0 {
            return Ok(());
        }
        match self.open.get_mut(dir) {
            // The holder taking it again (a lock upgrade or a second range): the same hold.
            Some(open) if is_owner(open) => {
                open.owner.get_or_insert(event.owner);
                return Ok(());
            }
            Some(_) => {
                // Another owner has it: the last holder's drop was not seen (its file was
                // renamed away, say); it ended by now.
                if let Some(open) = self.open.remove(dir) {
                    self.store
                        .end_hold(open.id, Some(at), EndedBy::HandedOver)?;
                    let mut hold = open.hold;
                    hold.end = Some(at);
                    hold.ended_by = Some(EndedBy::HandedOver);
                    recorded.push(Recorded::Ended(hold));
                }
            }
            None => {}
        }
        let hold = Hold {
            dir: dir.to_path_buf(),
            pid: Some(event.pid),
            command: crate::holder::command_line(event.pid),
            user: details.details(event.pid).user,
            start: at,
            start_seen: true,
            end: None,
            ended_by: None,
            source: Source::Kernel,
        };
        let id = self.store.begin_hold(&hold)?;
        self.open.insert(
            dir.to_path_buf(),
            Open {
                id,
                hold: hold.clone(),
                owner: Some(event.owner),
            },
        );
        recorded.push(Recorded::Began(hold));
        Ok(())
    }

    /// The watched directory whose lock file the table names `key`: looked up again (at most
    /// every [`RESOLVE_EVERY`]) when no watched file has that name yet.
    fn dir_of(&mut self, key: TableKey) -> Option<PathBuf> {
        if let Some(dir) = self.keys.get(&key) {
            return Some(dir.clone());
        }
        if self
            .resolved_at
            .is_some_and(|at| at.elapsed() < RESOLVE_EVERY)
        {
            return None;
        }
        self.resolve();
        self.keys.get(&key).cloned()
    }

    /// Looks up each watched lock file's name in the lock table (re-validating the cache: a
    /// name stays only while the path still names that file).
    fn resolve(&mut self) {
        self.resolved_at = Some(Instant::now());
        self.keys.retain(|_, _| false);
        for (dir, lock_file) in &self.watched {
            if let Some(name) =
                sys::file_id(lock_file).and_then(|id| sys::table_name(lock_file, id))
            {
                self.keys.insert(name.key, dir.clone());
            }
        }
    }

    /// The recording stops: holds still open end as "recording-stopped" now.
    pub fn stop(&mut self) -> Result<(), HistoryError> {
        let now = Timestamp::now();
        for (_, open) in self.open.drain() {
            self.store
                .end_hold(open.id, Some(now), EndedBy::RecordingStopped)?;
        }
        Ok(())
    }
}
