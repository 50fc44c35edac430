//! The engine's jobs that run on filesystem workers (`fs_pool`), where a stuck filesystem
//! blocks only its own worker: one row's probe and the diagnosis of a change (`observe`), and a
//! directory's watch registration with its filesystem's watcher (`watch_dir`). Each works on
//! what the engine hands it (the watchers are the one thing shared) and returns its answer to
//! the engine thread, which alone keeps the rows.

use super::fs_pool::locked;
use super::sys::{DirIdentity, dir_identity};
use super::{Command, DirState};
use crate::diagnose::{Diagnoser, Diagnosis};
use crate::probe::{self, LockState, LockTable};
use notify::{RecursiveMode, Watcher};
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// One watcher per filesystem (stat's device): a watch being registered on a stuck filesystem
/// blocks that watcher's thread, and only it.
pub(super) type Watchers = Arc<Mutex<HashMap<u64, Arc<Mutex<notify::RecommendedWatcher>>>>>;

/// The diagnosers of one batch: the `/proc` reads a diagnosis makes (the lock table, each
/// locker's lock files, process details) are shared by the rows of a batch (the first look at
/// 2,000 directories made 2,000 times the same reads). A worker takes one for a diagnosis and
/// gives it back after; the mutex is never held while diagnosing, so a worker stuck in a
/// diagnosis holds up nobody (its diagnoser is simply lost).
#[derive(Default)]
pub(super) struct Diagnosers(Mutex<Vec<Diagnoser>>);

impl Diagnosers {
    fn take(&self) -> Diagnoser {
        locked(&self.0).pop().unwrap_or_default()
    }

    fn give_back(&self, diagnoser: Diagnoser) {
        locked(&self.0).push(diagnoser);
    }
}

/// What a filesystem worker found for one row.
pub(super) struct Observation {
    pub(super) state: DirState,
    /// When the state differs from the row's previous one: its diagnosis.
    pub(super) diagnosis: Option<Arc<Diagnosis>>,
    /// How many times the probe opened the lock file (each causes an open event).
    pub(super) opened: u64,
}

/// One row's probe, on a filesystem worker: from the lock-table snapshot where there is one
/// (no lock file opened), directly where there is none or it cannot tell. A state that differs
/// from `previous` is diagnosed here too (on the worker: the diagnosis stats the lock file),
/// so each change carries why; so is every state but held while `recheck` (the row shows
/// warnings, which are re-checked by this).
pub(super) fn observe(
    table: Option<&LockTable>,
    dir: &Path,
    lock_file: &Path,
    previous: Option<&DirState>,
    recheck: bool,
    diagnosers: &Diagnosers,
) -> Observation {
    let opens_before = probe::opens_by_probes();
    let free_is_news = previous != Some(&DirState::Lock(LockState::Free));
    let state = keep_exiting_holders_command(
        DirState::from(match table {
            Some(t) => t.probe_watched(lock_file, free_is_news),
            None => probe::probe(lock_file),
        }),
        previous,
    );
    let diagnosis = match &state {
        // A held row keeps the diagnosis of its change (its `observed` time is that look's).
        DirState::Lock(lock) if (recheck && !lock.is_held()) || previous != Some(&state) => {
            // Taken while watched: only a look that found the lock not held (or no directory)
            // saw it taken; the first look, or one after a stuck or failed look, only finds
            // it held.
            let seen_free = matches!(previous, Some(DirState::Lock(l)) if !l.is_held())
                || previous == Some(&DirState::Missing);
            let observed = (seen_free && lock.is_held()).then(SystemTime::now);
            let flocks = match lock {
                LockState::Absent => Vec::new(),
                _ => probe::flock_holders_at(lock_file),
            };
            let mut diagnoser = diagnosers.take();
            let diagnosis = diagnoser.diagnose_lock(dir, lock_file, Some(lock), &flocks, observed);
            diagnosers.give_back(diagnoser);
            Some(Arc::new(diagnosis))
        }
        _ => None,
    };
    Observation {
        state,
        diagnosis,
        opened: probe::opens_by_probes().saturating_sub(opens_before),
    }
}

/// A holder that is exiting has no command line and no descriptors any more while the kernel
/// has not yet dropped its lock (a SIGKILLed certbot or `hold`, for a moment): the fresh lookup
/// finds `[comm]` or nothing for the pid the row names, or no owner at all for an OFD lock.
/// When the previous holder is that exiting process (re-checked now:
/// `sys::process_is_exiting`, which a zombie is not: it has released every file), it is
/// still the holder: kept, rather than reporting a holder change that is only its death. A
/// row naming another pid is never overridden.
fn keep_exiting_holders_command(state: DirState, previous: Option<&DirState>) -> DirState {
    let Some(DirState::Lock(LockState::Held(before))) = previous else {
        return state;
    };
    let DirState::Lock(LockState::Held(now)) = &state else {
        return state;
    };
    let same_or_unseen = now.pid.is_none() || now.pid == before.pid;
    match before.pid {
        Some(pid) if now != before && same_or_unseen && crate::sys::process_is_exiting(pid) => {
            DirState::Lock(LockState::Held(before.clone()))
        }
        _ => state,
    }
}

/// What a watch registration found.
pub(super) struct WatchAnswer {
    /// The directory's identity and whether events on its filesystem are complete; `None` if
    /// the path is not a directory now.
    pub(super) dir: Option<(DirIdentity, bool)>,
    pub(super) watch: Result<(), WatchError>,
}

pub(super) enum WatchError {
    /// Out of inotify watches or instances: the directory is polled instead.
    Limit(String),
    /// Not watchable now (missing, unreadable, not a directory): retried by the pass.
    Other,
}

/// Watches the directory at `abs` with its filesystem's watcher (created on first use), on a
/// filesystem worker: stat, statfs and `inotify_add_watch` all wait for a stuck filesystem.
pub(super) fn watch_dir(abs: &Path, watchers: &Watchers, commands: Sender<Command>) -> WatchAnswer {
    let Some(identity) = dir_identity(abs) else {
        return WatchAnswer {
            dir: None,
            watch: Err(WatchError::Other),
        };
    };
    let id = identity.id;
    let dir = Some((identity, super::sys::events_are_complete(abs)));
    let watcher = {
        let mut map = locked(watchers);
        match map.get(&id.0) {
            Some(w) => w.clone(),
            None => {
                let handler = move |event| {
                    let _ = commands.send(Command::Fs(event));
                };
                match notify::recommended_watcher(handler) {
                    Ok(w) => map.entry(id.0).or_insert(Arc::new(Mutex::new(w))).clone(),
                    // Out of inotify instances, or no event API at all: polled.
                    Err(e) => {
                        return WatchAnswer {
                            dir,
                            watch: Err(WatchError::Limit(e.to_string())),
                        };
                    }
                }
            }
        }
    };
    let watched = locked(&watcher).watch(abs, RecursiveMode::NonRecursive);
    WatchAnswer {
        dir,
        watch: match watched {
            Ok(()) => Ok(()),
            Err(e) if is_limit(&e) => Err(WatchError::Limit(e.to_string())),
            Err(_) => Err(WatchError::Other),
        },
    }
}

fn is_limit(err: &notify::Error) -> bool {
    matches!(err.kind, notify::ErrorKind::MaxFilesWatch)
        || matches!(&err.kind, notify::ErrorKind::Io(io) if matches!(io.raw_os_error(), Some(24) | Some(28)))
}
