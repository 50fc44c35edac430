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
use crate::path_error::{PathError, parent_dir, parent_problem};
use serde::Serialize;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

pub use proc_parse::{ProcLock, dev_major_minor, join_cmdline};

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
    if dir.as_ref().as_os_str().is_empty() {
        return Err(PathError::EmptyDir);
    }
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
    ProbeBatch::new().probe(path)
}

/// Probes many lock files at about one moment, as `lockscope status` does. Each answer is the
/// one [`probe`] would give; what can be shared is looked up once per batch: a holder's command
/// line once per pid, and the kernel's lock table (read for lock files this process may not
/// open) once. A batch remembers what it read: use a new one for each pass.
///
/// ```
/// use lockscope::probe::{LockState, ProbeBatch};
/// # let dir = tempfile::tempdir().unwrap();
/// let mut batch = ProbeBatch::new();
/// assert_eq!(batch.probe(dir.path().join(".certbot.lock"))?, LockState::Absent);
/// # Ok::<(), lockscope::PathError>(())
/// ```
#[derive(Debug, Default)]
pub struct ProbeBatch {
    commands: HashMap<u32, Option<String>>,
    /// `/proc/locks`, read at the first lock file that could not be opened.
    lock_rows: Option<Option<Vec<ProcLock>>>,
}

impl ProbeBatch {
    pub fn new() -> ProbeBatch {
        ProbeBatch::default()
    }

    /// Like [`probe`], sharing lookups with the batch's other probes.
    pub fn probe(&mut self, lock_path: impl AsRef<Path>) -> Result<LockState, PathError> {
        let path = lock_path.as_ref();
        self.probe_lstat(path, lock_file_metadata(path))
    }

    /// Probes a PATH as `lockscope status` takes it: a directory, whose lock file is
    /// `PATH/lock_name`, unless PATH names the lock file itself (its file name is `lock_name`,
    /// or it exists and is not a directory).
    ///
    /// The answer is the one [`resolve_path`] + [`probe`] give, in fewer filesystem lookups:
    /// `PATH/lock_name` is looked at first, and if it exists PATH is a directory; if it does
    /// not and PATH is a directory, the lock is absent. Anything else takes the long way.
    pub fn probe_path(&mut self, path: &Path, lock_name: &str) -> PathProbe {
        if path.file_name().is_none_or(|n| n != lock_name) {
            let lock_file = path.join(lock_name);
            match lock::sys::lstat(&lock_file) {
                Ok(meta) => {
                    // Only a directory (or a link to one) has entries: PATH is the directory.
                    let state = self.probe_lstat(&lock_file, classify(&lock_file, meta));
                    return PathProbe::new(path.to_path_buf(), lock_file, state);
                }
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound
                        && std::fs::metadata(path).is_ok_and(|m| m.is_dir()) =>
                {
                    return PathProbe::new(path.to_path_buf(), lock_file, Ok(LockState::Absent));
                }
                Err(_) => {}
            }
        }
        let (dir, lock_file) = resolve_path(path, lock_name);
        let state = self.probe(&lock_file);
        PathProbe::new(dir, lock_file, state)
    }

    /// The probe after its lstat (`lstat`: what [`lock_file_metadata`] says of `path`).
    fn probe_lstat(
        &mut self,
        path: &Path,
        lstat: Result<Option<LockMeta>, PathError>,
    ) -> Result<LockState, PathError> {
        let Some(meta) = lstat? else {
            return Ok(LockState::Absent);
        };
        let queried =
            lock::query_unless_held_here(path, &meta, || lock::sys::probe_lock(path, &meta));
        let conflict = match queried {
            None => return Ok(LockState::HeldByThisProcess),
            Some(Ok(Some(c))) => c,
            // Deleted between lstat and open: a holder released it.
            Some(Ok(None)) => return absent_or_parent_problem(path),
            Some(Err(e)) if e.kind() == io::ErrorKind::PermissionDenied => self
                .query_without_opening(&meta)
                .ok_or_else(|| PathError::PermissionDenied(path.into()))?,
            Some(Err(e)) => return Err(PathError::from_io(path, e)),
        };
        Ok(match conflict {
            Conflict::None => LockState::Free,
            Conflict::Held { pid } => {
                let holder = holder_of(path, pid, |pid| self.command_line(pid));
                if holder.is_this_process() {
                    LockState::HeldByThisProcess
                } else {
                    LockState::Held(holder)
                }
            }
        })
    }

    fn command_line(&mut self, pid: u32) -> Option<String> {
        self.commands
            .entry(pid)
            .or_insert_with(|| command_line(pid))
            .clone()
    }

    fn query_without_opening(&mut self, meta: &LockMeta) -> Option<Conflict> {
        let rows = self
            .lock_rows
            .get_or_insert_with(sys::lock_rows)
            .as_deref()?;
        Some(sys::conflict_in(rows, meta))
    }
}

/// A PATH probed by [`ProbeBatch::probe_path`].
#[derive(Debug)]
pub struct PathProbe {
    /// The directory the lock file is in.
    pub dir: PathBuf,
    pub lock_file: PathBuf,
    pub state: Result<LockState, PathError>,
}

impl PathProbe {
    fn new(dir: PathBuf, lock_file: PathBuf, state: Result<LockState, PathError>) -> PathProbe {
        PathProbe {
            dir,
            lock_file,
            state,
        }
    }
}

/// A PATH as `lockscope status` takes it: (directory, lock file). PATH is a directory (its lock
/// file is `PATH/lock_name`) unless it names the lock file itself: its file name is
/// `lock_name`, or it exists and is not a directory.
pub fn resolve_path(path: &Path, lock_name: &str) -> (PathBuf, PathBuf) {
    let names_lock = path.file_name().is_some_and(|n| n == lock_name);
    // One lstat; only a symlink needs a second look (at what it points to) to know whether it
    // leads to a directory.
    let (exists, is_dir) = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            (true, std::fs::metadata(path).is_ok_and(|m| m.is_dir()))
        }
        Ok(m) => (true, m.is_dir()),
        Err(_) => (false, false),
    };
    if names_lock || (exists && !is_dir) {
        (parent_dir(path).to_path_buf(), path.to_path_buf())
    } else {
        (path.to_path_buf(), path.join(lock_name))
    }
}

/// lstat of the lock path: `None` when absent, an error when it is not a regular file or its
/// directory is unusable. (On Windows without opening the file: see `lock/windows.rs`.)
fn lock_file_metadata(path: &Path) -> Result<Option<LockMeta>, PathError> {
    match lock::sys::lstat(path) {
        Ok(meta) => classify(path, meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            absent_or_parent_problem(path).map(|_| None)
        }
        Err(e) => Err(PathError::from_io(path, e)),
    }
}

/// An existing lock path's metadata: only a regular file can be a lock file.
fn classify(path: &Path, meta: LockMeta) -> Result<Option<LockMeta>, PathError> {
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
    holder_of(lock_path, pid, command_line)
}

fn holder_of(
    lock_path: &Path,
    pid: Option<u32>,
    mut command_line: impl FnMut(u32) -> Option<String>,
) -> Holder {
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
        command: pid.and_then(&mut command_line).or(name),
    }
}

/// A process's command line, arguments joined by spaces, when the platform shows it.
pub fn command_line(pid: u32) -> Option<String> {
    sys::command_line(pid)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::lock::LOCK_FILE_NAME;
    use std::os::unix::fs::symlink;

    /// What a probe result says, comparable across calls (errors by their message).
    fn summary(state: &Result<LockState, PathError>) -> String {
        match state {
            Ok(s) => format!("{s:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn probe_path_answers_like_resolve_path_then_probe() {
        let root = tempfile::tempdir().unwrap();
        let at = |name: &str| root.path().join(name);
        std::fs::create_dir(at("empty")).unwrap();
        std::fs::create_dir(at("stale")).unwrap();
        std::fs::write(at("stale").join(LOCK_FILE_NAME), b"").unwrap();
        std::fs::create_dir(at("lock-is-dir")).unwrap();
        std::fs::create_dir(at("lock-is-dir").join(LOCK_FILE_NAME)).unwrap();
        std::fs::create_dir(at("lock-is-link")).unwrap();
        symlink("/etc/hostname", at("lock-is-link").join(LOCK_FILE_NAME)).unwrap();
        std::fs::write(at("plain-file"), b"").unwrap();
        symlink(at("stale"), at("link-to-dir")).unwrap();
        symlink(at("nowhere"), at("dangling")).unwrap();
        std::fs::create_dir(at("held-here")).unwrap();
        let _held = crate::lock_dir(at("held-here")).unwrap();

        let paths = [
            at("empty"),
            at("stale"),
            at("stale").join(LOCK_FILE_NAME),
            at("lock-is-dir"),
            at("lock-is-link"),
            at("plain-file"),
            at("plain-file").join("below-a-file"),
            at("link-to-dir"),
            at("dangling"),
            at("missing"),
            at("missing").join("deeper"),
            at("held-here"),
            at("empty").join(".."),
            PathBuf::from("."),
        ];
        let mut batch = ProbeBatch::new();
        for path in &paths {
            let (dir, lock_file) = resolve_path(path, LOCK_FILE_NAME);
            let expected = probe(&lock_file);
            let got = batch.probe_path(path, LOCK_FILE_NAME);
            assert_eq!(
                (&got.dir, &got.lock_file, summary(&got.state)),
                (&dir, &lock_file, summary(&expected)),
                "{path:?}"
            );
        }
    }

    #[test]
    fn a_batch_answers_like_single_probes() {
        let root = tempfile::tempdir().unwrap();
        let stale = root.path().join("stale");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join(LOCK_FILE_NAME), b"").unwrap();
        let held = root.path().join("held");
        std::fs::create_dir(&held).unwrap();
        let _lock = crate::lock_dir(&held).unwrap();
        let mut batch = ProbeBatch::new();
        for dir in [root.path(), &stale, &held, &root.path().join("missing")] {
            let lock_file = dir.join(LOCK_FILE_NAME);
            assert_eq!(
                summary(&batch.probe(&lock_file)),
                summary(&probe(&lock_file)),
                "{dir:?}"
            );
        }
    }
}
