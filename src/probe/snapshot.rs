//! Probing many lock files from one snapshot of the kernel's lock table (the monitor's way:
//! no lock file opened where the table can vouch for it), with the holder lookups cached
//! across snapshots.

use super::{LockState, lock_file_metadata};
use crate::holder::{self, Holder};
use crate::lock;
use crate::path_error::PathError;
use crate::sys::{self, TableKey};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

/// A snapshot of every fcntl lock on the system (Linux: one read of `/proc/locks`), for probing
/// many lock files cheaply: each probe is then one lstat, and no lock file is opened (so a
/// monitor's periodic pass causes no filesystem events of its own). Where the snapshot cannot
/// tell (see [`RawState::Unsure`]), the caller probes the file directly.
pub(crate) struct LockTable {
    locks: HashMap<TableKey, Option<u32>>,
    /// The table lists every lock of the system (its pid namespace is the initial one).
    complete: bool,
}

impl LockTable {
    /// `None` where the platform has no lock table; use [`probe`] there.
    pub(crate) fn read() -> Option<LockTable> {
        sys::lock_table().map(|locks| LockTable {
            locks,
            complete: sys::proc_view().initial_namespace,
        })
    }

    /// Like [`probe`], answered from this snapshot. The holder's pid is the table's (classic
    /// locks, as `/proc` numbers processes); for OFD locks it is `None` and the caller may run
    /// [`crate::holder::identify_holder`].
    pub(crate) fn probe(&self, lock_path: &Path) -> Result<RawState, PathError> {
        let Some(meta) = lock_file_metadata(lock_path)? else {
            return Ok(RawState::Absent);
        };
        if lock::held_here(lock_path, &meta) {
            return Ok(RawState::HeldByThisProcess);
        }
        let (key, trust) = sys::table_key(lock_path, &meta);
        Ok(match self.locks.get(&key) {
            // A row on a name other files share (btrfs snapshots and subvolumes, overlayfs
            // layers) may be another file's: evidence for neither, unless the owner's
            // descriptors show the lock on this very file (root can read them); otherwise a
            // direct query decides.
            Some(&pid) if !sys::table_key_is_unique(&meta, key) => match pid {
                Some(p) if sys::holds_lock_on(p, &meta, key, false) => {
                    RawState::Held { pid, file_id: key }
                }
                _ => RawState::Unsure,
            },
            Some(&pid) => RawState::Held { pid, file_id: key },
            None if self.complete && trust.table_says_free() => RawState::Free,
            None => RawState::Unsure,
        })
    }
}

/// A probe result before the holder's command line is looked up (see [`LockTable::probe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawState {
    Absent,
    Free,
    HeldByThisProcess,
    /// `file_id` is (major, minor, inode): with `pid` a cache key for the holder lookup.
    Held {
        pid: Option<u32>,
        file_id: (u32, u32, u64),
    },
    /// The table cannot vouch for this file. Silence that proves nothing: a pid namespace
    /// whose table leaves out other namespaces' locks, a filesystem whose locks live elsewhere
    /// (NFS, FUSE) or whose naming is not yet confirmed. Or a row that may be another file's:
    /// the table names the file by a device other files share (btrfs, overlayfs), and an
    /// inode number can be on several of them. Probe it directly.
    Unsure,
}

/// A holder lookup's cache key: the table's pid (`None` for OFD locks) and the file.
pub(crate) type HolderKey = (Option<u32>, TableKey);

/// Holder lookups (command line; the `/proc` fd scan for OFD locks) by (pid, file): a new
/// holder is a new key, so an entry is never stale. Shared by the threads that probe.
#[derive(Default)]
pub(crate) struct HolderCache(Mutex<HashMap<HolderKey, Holder>>);

impl HolderCache {
    fn get_or_find(&self, key: HolderKey, find: impl FnOnce() -> Holder) -> Holder {
        let cached = self.lock().get(&key).cloned();
        cached.unwrap_or_else(|| {
            // Not under the lock: the lookup reads /proc, and other probes go on meanwhile.
            let found = find();
            self.lock().insert(key, found.clone());
            found
        })
    }

    /// Drops the entries no directory used in the last full look.
    pub(crate) fn retain_used(&self, used: &HashSet<HolderKey>) {
        self.lock().retain(|k, _| used.contains(k));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<HolderKey, Holder>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LockTable {
    /// The state of the lock file at `lock_path` as [`super::probe`] reports it, answered from
    /// this snapshot where the table can vouch for the file and by a direct query where it
    /// cannot ([`RawState::Unsure`]; that query opens the file, see `probe::opens_by_probes`).
    /// Returns the holder-cache key used, if any.
    ///
    /// `was_held`: the last answer for this file was held. `/proc/locks` comes in page-sized
    /// reads, each consistent on its own; between two reads rows can shift and a lock held
    /// throughout can be skipped (seen under load with a few hundred locks on the system). So
    /// a held lock that the snapshot shows gone is confirmed by two fresh snapshots before it
    /// is reported free (never by opening the file: its open event would trigger the
    /// confirmation again).
    pub(crate) fn probe_watched(
        &self,
        lock_path: &Path,
        was_held: bool,
        holders: &HolderCache,
    ) -> (Result<LockState, PathError>, Option<HolderKey>) {
        match self.probe(lock_path) {
            Ok(RawState::Absent) => (Ok(LockState::Absent), None),
            Ok(RawState::Unsure) => (super::probe(lock_path), None),
            Ok(RawState::Free) if was_held => confirm_free(lock_path, holders),
            Ok(RawState::Free) => (Ok(LockState::Free), None),
            Ok(RawState::HeldByThisProcess) => (Ok(LockState::HeldByThisProcess), None),
            Ok(RawState::Held { pid, file_id }) => {
                let key = (pid, file_id);
                let holder = holders.get_or_find(key, || holder::identify_holder(lock_path, pid));
                if holder.is_this_process() {
                    (Ok(LockState::HeldByThisProcess), Some(key))
                } else {
                    (Ok(LockState::Held(holder)), Some(key))
                }
            }
            Err(e) => (Err(e), None),
        }
    }
}

/// A held lock the snapshot shows gone: read the table twice more before believing it.
fn confirm_free(
    lock_path: &Path,
    holders: &HolderCache,
) -> (Result<LockState, PathError>, Option<HolderKey>) {
    for _ in 0..2 {
        let Some(table) = LockTable::read() else {
            break;
        };
        // A row that may be another file's (`Unsure`) is no proof of free either.
        if let Ok(RawState::Held { .. } | RawState::Unsure) = table.probe(lock_path) {
            return table.probe_watched(lock_path, false, holders);
        }
    }
    (Ok(LockState::Free), None)
}
