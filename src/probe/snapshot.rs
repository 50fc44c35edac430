//! Probing many lock files from one snapshot of the kernel's lock table (the monitor's way:
//! no lock file opened where the table can vouch for it).
//!
//! No holder is cached here: a held row's holder is looked up again at every probe (the table's
//! pid and its command line, or the OFD owner through `sys`'s hints, each re-checked against
//! `/proc/<pid>/fdinfo`). A holder cached per file named the previous holder when a new lock
//! file got the old one's inode number (ext4 reuses it at once), which every hand-over does.

use super::{LockState, lock_file_metadata};
use crate::holder;
use crate::lock;
use crate::path_error::PathError;
use crate::sys::{self, TableKey};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// A snapshot of every fcntl lock on the system (Linux: one read of `/proc/locks`), for probing
/// many lock files cheaply: each probe is then one lstat, and no lock file is opened (so a
/// monitor's periodic pass causes no filesystem events of its own). Where the snapshot cannot
/// tell (see [`RawState::Unsure`]), the caller probes the file directly.
pub(crate) struct LockTable {
    locks: HashMap<TableKey, Option<u32>>,
    /// The table lists every lock of the system (its pid namespace is the initial one).
    complete: bool,
    /// Two snapshots read after this one, the first time a probe from it must confirm a
    /// `free` (see [`LockTable::probe_watched`]): shared by every probe of the batch, so a batch
    /// costs at most two more reads however many of its files look free.
    confirmations: OnceLock<Vec<LockTable>>,
}

impl LockTable {
    /// `None` where the platform has no lock table; use [`probe`] there.
    pub(crate) fn read() -> Option<LockTable> {
        sys::lock_table().map(|locks| LockTable {
            locks,
            complete: sys::proc_view().initial_namespace,
            confirmations: OnceLock::new(),
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
    /// `file_id` is the file as the table names it (major, minor, inode).
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

impl LockTable {
    /// The state of the lock file at `lock_path` as [`super::probe`] reports it, answered from
    /// this snapshot where the table can vouch for the file and by a direct query where it
    /// cannot ([`RawState::Unsure`]; that query opens the file, see `probe::opens_by_probes`).
    ///
    /// `free_is_news`: the last answer for this file was not `free` (held, absent, or none
    /// yet). `/proc/locks` comes in page-sized reads, each consistent on its own; between two
    /// reads rows can shift and a lock held throughout can be skipped (seen under load with a
    /// few hundred locks on the system, and whenever other processes churn the table). So a
    /// `free` that would be reported is confirmed by two more snapshots first (never by
    /// opening the file: its open event would trigger the confirmation again). A `free` that
    /// repeats the last answer reports nothing and needs no confirmation.
    pub(crate) fn probe_watched(
        &self,
        lock_path: &Path,
        free_is_news: bool,
    ) -> Result<LockState, PathError> {
        self.answer(lock_path, free_is_news, false)
    }

    /// [`Self::probe_watched`]; `fresh`: this table was read after the lookups began (a
    /// confirmation), so its rows are not re-checked against yet another read.
    fn answer(
        &self,
        lock_path: &Path,
        free_is_news: bool,
        fresh: bool,
    ) -> Result<LockState, PathError> {
        match self.probe(lock_path)? {
            RawState::Absent => Ok(LockState::Absent),
            RawState::Unsure => super::probe(lock_path),
            RawState::Free if free_is_news && !fresh => self.confirm_free(lock_path),
            RawState::Free => Ok(LockState::Free),
            RawState::HeldByThisProcess => Ok(LockState::HeldByThisProcess),
            RawState::Held { pid, .. } => {
                // Looked up now, from this row: see the module's header.
                let holder = holder::identify_holder(lock_path, pid);
                let gone =
                    holder.command.is_none() || holder.pid.is_none_or(sys::process_is_exiting);
                if gone && !fresh {
                    // No live process behind the row: the snapshot may predate the holder's
                    // exit (it is read once per batch, before the lookups). A fresh table
                    // says whether the lock is still there.
                    if let Some(table) = LockTable::read() {
                        return match table.answer(lock_path, free_is_news, true)? {
                            LockState::Free if free_is_news => table.confirm_free(lock_path),
                            state => Ok(state),
                        };
                    }
                }
                if holder.is_this_process() {
                    Ok(LockState::HeldByThisProcess)
                } else {
                    Ok(LockState::Held(holder))
                }
            }
        }
    }

    /// A `free` from this snapshot, checked against the two read after it: held if either
    /// shows the lock (answered from that one), free if neither does. A row that may be
    /// another file's (`Unsure`) is no proof of free either.
    fn confirm_free(&self, lock_path: &Path) -> Result<LockState, PathError> {
        let later = self
            .confirmations
            .get_or_init(|| (0..2).filter_map(|_| LockTable::read()).collect());
        for table in later {
            if let Ok(RawState::Held { .. } | RawState::Unsure) = table.probe(lock_path) {
                return table.answer(lock_path, false, true);
            }
        }
        Ok(LockState::Free)
    }
}
