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
                Some(p) if sys::holds_lock_on(p, &meta, key, false) => RawState::Held { pid },
                _ => RawState::Unsure,
            },
            Some(&pid) => RawState::Held { pid },
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
    /// `pid`: the table's (classic locks); `None` for OFD locks.
    Held {
        pid: Option<u32>,
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
    /// few hundred locks on the system, and whenever other processes churn the table; under
    /// heavy churn even three reads in a row missed a held lock). So a `free` that would be
    /// reported is confirmed by the kernel itself first: a direct query of the file (its open
    /// is counted in `probe::opens_by_probes`, and the engine drops that open's event), or,
    /// where the file cannot be opened, the probe's own confirmed table reads. A `free` that
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
            RawState::Free if free_is_news && !fresh => confirm_free(lock_path),
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
                            LockState::Free if free_is_news => confirm_free(lock_path),
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
}

/// A `free` from a snapshot, asked again of the kernel (see [`LockTable::probe_watched`]): the
/// direct probe, which queries the file, or confirms the table where it cannot.
fn confirm_free(lock_path: &Path) -> Result<LockState, PathError> {
    super::probe(lock_path)
}
