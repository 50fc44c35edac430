//! The state of a lock, found without disturbing it.
//!
//! A probe never creates, truncates, writes, locks or changes the mtime of a lock file. It reads
//! metadata with lstat, and, when a file exists and this process does not hold it, opens it
//! read-only (`O_NOFOLLOW`) for one lock query (`F_OFD_GETLK` on Linux) and closes it. A file this
//! process holds is answered from the held-locks registry without being opened.

mod proc_parse;
#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(windows, path = "windows.rs")]
#[cfg_attr(not(any(target_os = "linux", windows)), path = "other.rs")]
mod sys;

use crate::holder::Holder;
use crate::lock::{
    self,
    sys::{Conflict, LockMeta},
};
use crate::path_error::{PathError, parent_problem};
use serde::Serialize;
use std::io;
use std::path::Path;

pub use proc_parse::{ProcLock, dev_major_minor};

/// What a probe found at a lock path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "holder", rename_all = "snake_case")]
pub enum LockState {
    /// No lock file: certbot is not running here (it deletes the file on release).
    Absent,
    /// A lock file nobody holds: left by a process that was killed (or is being released now).
    Free,
    /// Another process holds the lock. Either holder field may be unknown.
    Held(Holder),
    /// A [`lock::LockFile`] in this process holds the lock.
    HeldByThisProcess,
}

impl LockState {
    /// The state's name in lockscope's CLI and JSON output.
    pub fn name(&self) -> &'static str {
        match self {
            LockState::Absent => "absent",
            LockState::Free => "free",
            LockState::Held(_) | LockState::HeldByThisProcess => "held",
        }
    }

    pub fn is_held(&self) -> bool {
        matches!(self, LockState::Held(_) | LockState::HeldByThisProcess)
    }

    /// The holder, if held (this process included).
    pub fn holder(&self) -> Option<Holder> {
        match self {
            LockState::Held(h) => Some(h.clone()),
            LockState::HeldByThisProcess => Some(Holder::this_process()),
            _ => None,
        }
    }
}

/// A snapshot of every fcntl lock on the system (Linux: one read of `/proc/locks`), for probing
/// many lock files cheaply: each probe is then one lstat, and no lock file is opened (so a
/// monitor's periodic pass causes no filesystem events of its own).
pub struct LockTable {
    locks: std::collections::HashMap<(u32, u32, u64), Option<u32>>,
}

impl LockTable {
    /// `None` where the platform has no lock table; use [`probe`] there.
    pub fn read() -> Option<LockTable> {
        sys::lock_table().map(|locks| LockTable { locks })
    }

    /// Like [`probe`], answered from this snapshot. The holder's pid is the table's (classic
    /// locks); for OFD locks it is `None` and the caller may run [`identify_holder`].
    pub fn probe(&self, lock_path: &Path) -> Result<RawState, PathError> {
        let Some(meta) = lock_file_metadata(lock_path)? else {
            return Ok(RawState::Absent);
        };
        if lock::held_here(lock_path, &meta) {
            return Ok(RawState::HeldByThisProcess);
        }
        let id = sys::file_id(&meta);
        Ok(match self.locks.get(&id) {
            None => RawState::Free,
            Some(&pid) => RawState::Held { pid, file_id: id },
        })
    }
}

/// A probe result before the holder's command line is looked up (see [`LockTable::probe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawState {
    Absent,
    Free,
    HeldByThisProcess,
    /// `file_id` is (major, minor, inode): with `pid` a cache key for the holder lookup.
    Held {
        pid: Option<u32>,
        file_id: (u32, u32, u64),
    },
}

/// Probes `<dir>/<name>`.
pub fn probe_dir(dir: impl AsRef<Path>, name: &str) -> Result<LockState, PathError> {
    probe(dir.as_ref().join(name))
}

/// Reports the state of the lock file at `lock_path` without disturbing it.
///
/// ```
/// use lockscope::probe::{probe, LockState};
/// # let dir = tempfile::tempdir().unwrap();
/// let lock_file = dir.path().join(".certbot.lock");
/// assert_eq!(probe(&lock_file)?, LockState::Absent);
/// std::fs::write(&lock_file, b"")?; // what a killed certbot leaves behind
/// assert_eq!(probe(&lock_file)?, LockState::Free);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn probe(lock_path: impl AsRef<Path>) -> Result<LockState, PathError> {
    let path = lock_path.as_ref();
    let Some(meta) = lock_file_metadata(path)? else {
        return Ok(LockState::Absent);
    };
    let queried = lock::query_unless_held_here(path, &meta, || lock::sys::probe_lock(path, &meta));
    let conflict = match queried {
        None => return Ok(LockState::HeldByThisProcess),
        Some(Ok(Some(c))) => c,
        // Deleted between lstat and open: a holder released it.
        Some(Ok(None)) => return absent_or_parent_problem(path),
        Some(Err(e)) if e.kind() == io::ErrorKind::PermissionDenied => {
            sys::query_without_opening(&meta)
                .ok_or_else(|| PathError::PermissionDenied(path.into()))?
        }
        Some(Err(e)) => return Err(PathError::from_io(path, e)),
    };
    Ok(match conflict {
        Conflict::None => LockState::Free,
        Conflict::Held { pid } => {
            let holder = identify_holder(path, pid);
            if holder.is_this_process() {
                LockState::HeldByThisProcess
            } else {
                LockState::Held(holder)
            }
        }
    })
}

/// lstat of the lock path: `None` when absent, an error when it is not a regular file or its
/// directory is unusable. (On Windows without opening the file: see `lock/windows.rs`.)
fn lock_file_metadata(path: &Path) -> Result<Option<LockMeta>, PathError> {
    let meta = match lock::sys::lstat(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return absent_or_parent_problem(path).map(|_| None);
        }
        Err(e) => return Err(PathError::from_io(path, e)),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        Err(PathError::Symlink(path.into()))
    } else if kind.is_dir() {
        Err(PathError::IsDirectory(path.into()))
    } else if !kind.is_file() {
        Err(PathError::SpecialFile(path.into()))
    } else {
        Ok(Some(meta))
    }
}

fn absent_or_parent_problem(path: &Path) -> Result<LockState, PathError> {
    match parent_problem(path) {
        Some(problem) => Err(problem),
        None => Ok(LockState::Absent),
    }
}

/// Finds the process behind a conflicting lock: `pid` as the kernel reported it (classic
/// locks), or, for locks without an owner pid (OFD), through the platform's process tables.
pub fn identify_holder(lock_path: &Path, pid: Option<u32>) -> Holder {
    let (pid, name) = match pid {
        Some(pid) => (Some(pid), None),
        None => match sys::find_lock_owner(lock_path) {
            Some((pid, name)) => (Some(pid), name),
            None => (None, None),
        },
    };
    Holder {
        pid,
        // The lookup's own name for the process (Windows: the Restart Manager's app name)
        // when its command line cannot be read.
        command: pid.and_then(command_line).or(name),
    }
}

/// A process's command line, arguments joined by spaces, when the platform shows it.
pub fn command_line(pid: u32) -> Option<String> {
    sys::command_line(pid)
}
