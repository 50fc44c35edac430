//! certbot's lock protocol (`certbot/_internal/lock.py`, certbot 5.8.0), ported to Rust.
//!
//! - Unix: open `<dir>/.certbot.lock` (`O_CREAT|O_WRONLY`, mode 0600, plus `O_NOFOLLOW`), take a
//!   whole-file fcntl write lock without blocking, then check that the path still names the
//!   locked inode (a releasing holder may have unlinked it in between) and retry if not.
//!   Release: unlink, then close.
//! - Windows: open read/write + create + truncate, lock byte 0 (what `msvcrt.locking` locks).
//!   Release: unlock, close, delete (best effort).
//!
//! Beyond certbot: a typed busy error naming the holder, a blocking acquire with a timeout,
//! refusal to follow symlinks, and exclusion between threads and handles of one process.

pub(crate) mod registry;

use crate::holder::{self, Holder};
use crate::path_error::PathError;
use crate::sys;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The lock file certbot places at the root of each directory it locks.
pub const LOCK_FILE_NAME: &str = ".certbot.lock";

/// Why a lock could not be taken or released.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone holds the lock: certbot's "Another instance of Certbot is already running."
    #[error("{path} is locked by {}", holder_text(.holder))]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, when that can be found.
        holder: Option<Holder>,
    },
    /// A waiting acquire ran out of time; `holder` is who held the lock at the last try.
    #[error("timed out after {} waiting for {path}, locked by {}",
        crate::duration::readable(*.waited), holder_text(.holder))]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// Who held it at the last try, when that could be found.
        holder: Option<Holder>,
        /// How long the acquire waited.
        waited: Duration,
    },
    /// A waiting acquire was cancelled by its caller.
    #[error("gave up waiting for {0}: cancelled")]
    Cancelled(PathBuf),
    /// The lock path cannot be locked at all (missing directory, symlink, ...).
    #[error(transparent)]
    Path(#[from] PathError),
}

fn holder_text(holder: &Option<Holder>) -> String {
    match holder {
        Some(h) => h.to_string(),
        None => Holder::unknown().to_string(),
    }
}

impl LockError {
    /// Whether the lock is held by someone else (as opposed to a problem with the path).
    pub fn is_busy(&self) -> bool {
        matches!(self, LockError::Busy { .. } | LockError::Timeout { .. })
    }
}

/// A lock on one lock file, certbot-compatible. Dropping it releases the lock.
#[derive(Debug)]
pub struct LockFile {
    path: PathBuf,
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    file: File,
    key: sys::FileKey,
}

/// Locks `<dir>/.certbot.lock`, exactly where certbot's `lock_dir` does. Fails at once if busy.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let lock = lockscope::lock_dir(dir.path())?;
/// // certbot (and any other lockscope handle) is now refused:
/// assert!(lockscope::lock_dir(dir.path()).unwrap_err().is_busy());
/// drop(lock); // releases: unlink, then close
/// assert!(!dir.path().join(".certbot.lock").exists());
/// # Ok::<(), lockscope::LockError>(())
/// ```
pub fn lock_dir(dir: impl AsRef<Path>) -> Result<LockFile, LockError> {
    lock_dir_with_name(dir, LOCK_FILE_NAME)
}

/// Whether `name` can name a lock file inside a directory: a plain file name, no separators,
/// not `.` or `..`, no control characters.
pub fn is_plain_lock_name(name: &str) -> bool {
    Path::new(name).file_name().is_some_and(|n| n == name)
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// Like [`lock_dir`] with another lock-file name (which must be [plain](is_plain_lock_name)).
pub fn lock_dir_with_name(dir: impl AsRef<Path>, name: &str) -> Result<LockFile, LockError> {
    if !is_plain_lock_name(name) {
        return Err(PathError::BadLockName(name.to_string()).into());
    }
    if dir.as_ref().as_os_str().is_empty() {
        return Err(PathError::EmptyDir.into());
    }
    let mut lock = LockFile::new(dir.as_ref().join(name));
    lock.acquire()?;
    Ok(lock)
}

/// Delay between tries of a waiting acquire: 5 ms doubling to 250 ms, so a lock released soon
/// is taken soon and a long wait costs a few syscalls a second.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(5u64 << attempt.min(6)).min(Duration::from_millis(250))
}

impl LockFile {
    /// A handle on the lock file at `path`, not yet acquired (certbot's constructor also acquires;
    /// use [`lock_dir`] for that).
    pub fn new(path: impl Into<PathBuf>) -> LockFile {
        LockFile {
            path: path.into(),
            held: None,
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this handle holds the lock now.
    pub fn is_locked(&self) -> bool {
        self.held.is_some()
    }

    /// Whether the lock path still names the file this handle holds locked. `false` once
    /// someone removed or replaced it (e.g. `rm`): the lock is still ours, but a new certbot
    /// creates a new file there and takes its lock, so ours no longer excludes it. `false` when
    /// not held. (On Windows, whether the file is still there: its identity is not compared.)
    pub fn still_named(&self) -> Result<bool, LockError> {
        let Some(held) = &self.held else {
            return Ok(false);
        };
        sys::still_names(&self.path, &held.key)
            .map_err(|e| PathError::from_io(&self.path, e).into())
    }

    /// Takes the lock without waiting. Succeeds at once if this handle already holds it.
    pub fn acquire(&mut self) -> Result<(), LockError> {
        if self.held.is_some() {
            return Ok(());
        }
        self.held = Some(acquire_once(&self.path)?);
        Ok(())
    }

    /// Takes the lock, retrying with backoff until `timeout` has passed.
    pub fn acquire_timeout(&mut self, timeout: Duration) -> Result<(), LockError> {
        self.acquire_until(Instant::now().checked_add(timeout), &AtomicBool::new(false))
    }

    /// Takes the lock, retrying with backoff until `deadline` (`None`: forever) or until
    /// `cancel` becomes true.
    pub fn acquire_until(
        &mut self,
        deadline: Option<Instant>,
        cancel: &AtomicBool,
    ) -> Result<(), LockError> {
        let started = Instant::now();
        for attempt in 0.. {
            let holder = match self.acquire() {
                Err(LockError::Busy { holder, .. }) => holder,
                done => return done,
            };
            if cancel.load(Ordering::Relaxed) {
                return Err(LockError::Cancelled(self.path.clone()));
            }
            let now = Instant::now();
            let remaining = match deadline {
                Some(d) if now >= d => {
                    return Err(LockError::Timeout {
                        path: self.path.clone(),
                        holder,
                        waited: now - started,
                    });
                }
                Some(d) => d - now,
                None => Duration::MAX,
            };
            std::thread::sleep(backoff(attempt).min(remaining));
        }
        unreachable!("the retry loop only ends by returning")
    }

    /// Releases the lock (unlink then close on Unix; unlock, close, delete on Windows).
    /// Does nothing if not held. The lock is dropped even when removing the file fails.
    pub fn release(&mut self) -> Result<(), LockError> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        let mut registry = registry::Session::begin();
        let result = sys::release(&self.path, held.file, &held.key);
        registry.remove(&held.key);
        result.map_err(|e| PathError::from_io(&self.path, e).into())
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// One try of certbot's acquire loop: open, lock, check the path still names the locked file,
/// and go round again if it does not (the previous holder unlinked it in between).
fn acquire_once(path: &Path) -> Result<Held, LockError> {
    loop {
        let mut registry = registry::Session::begin();
        let file = open_checked(path, &registry)?;
        let meta = file.metadata().map_err(|e| PathError::from_io(path, e))?;
        if !meta.is_file() {
            return Err(PathError::SpecialFile(path.to_path_buf()).into());
        }
        if !sys::try_lock(&file).map_err(|e| PathError::from_io(path, e))? {
            let conflict = sys::query_lock(&file).ok();
            drop(file);
            drop(registry);
            return Err(busy(path, conflict));
        }
        let key = sys::file_key(path, &meta);
        if sys::still_names(path, &key).map_err(|e| PathError::from_io(path, e))? {
            registry.insert(key.clone());
            return Ok(Held { file, key });
        }
        // The previous holder unlinked the file between our open and our lock: we locked an
        // orphaned inode. Close it (this drops that useless lock) and try again.
    }
}

/// Opens the lock file for locking. Usually it is absent (every release unlinks it), and then
/// creating it exclusively needs no look first: a file we just created is a regular file no
/// handle of this process can hold. Only an existing path is checked before it is opened.
fn open_checked(path: &Path, registry: &registry::Session) -> Result<File, LockError> {
    let opened = match sys::create_new_for_lock(path) {
        Ok(Some(file)) => return Ok(file),
        Ok(None) => {
            refuse_unusable_path(path, registry)?;
            sys::open_for_lock(path)
        }
        Err(e) => Err(e),
    };
    opened.map_err(|e| {
        if sys::open_error_means_busy(&e) {
            busy(path, None)
        } else if let Some(conflict) = held_though_unwritable(path, &e) {
            busy(path, Some(conflict))
        } else {
            PathError::from_io(path, e).into()
        }
    })
}

/// When the lock file cannot be opened for writing (a read-only mount, a file or directory we
/// may not write) someone may still hold it: certbot on a writable view of the same directory.
/// Then "busy" is the truth, not "read-only". Asks the kernel through a read-only open (the
/// probe's own query, which takes nothing); `None` if it is not held or cannot be asked.
/// (The path is not a file this process holds, and where a close drops classic locks the
/// caller holds the registry, so the probe's close cannot drop a lock of ours.)
fn held_though_unwritable(path: &Path, err: &io::Error) -> Option<sys::Conflict> {
    if !matches!(
        err.kind(),
        io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
    ) {
        return None;
    }
    let meta = sys::lstat(path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    match sys::probe_lock(path, &meta) {
        Ok(Some(conflict @ sys::Conflict::Held { .. })) => Some(conflict),
        _ => None,
    }
}

/// Checks the path before opening it: the lock must be a regular file (or absent), and not
/// one this process already holds. Opening a held file would let a classic-lock platform drop
/// the lock on close, and would make two handles in one process both "hold" it.
fn refuse_unusable_path(path: &Path, registry: &registry::Session) -> Result<(), LockError> {
    let meta = match sys::lstat(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(PathError::from_io(path, e).into()),
    };
    crate::path_error::require_regular_file(path, &meta)?;
    if registry.contains(&sys::file_key(path, &meta)) {
        return Err(LockError::Busy {
            path: path.to_path_buf(),
            holder: Some(Holder::this_process()),
        });
    }
    Ok(())
}

fn busy(path: &Path, conflict: Option<sys::Conflict>) -> LockError {
    let holder = match conflict {
        Some(sys::Conflict::Held { pid }) => Some(holder::identify_query_holder(path, pid)),
        _ => None,
    };
    LockError::Busy {
        path: path.to_path_buf(),
        holder,
    }
}

/// Whether a `LockFile` of this process holds the file `meta` describes.
pub(crate) fn held_here(path: &Path, meta: &sys::LockMeta) -> bool {
    registry::lock().contains(&sys::file_key(path, meta))
}

/// Runs `query` (which opens and closes the lock file at `path`) unless this process holds that
/// file, in which case it returns `None` without opening anything. Where a close drops classic
/// POSIX locks, the registry stays locked across `query`, so no thread of this process can take
/// the lock between the check and the probe's close.
pub(crate) fn query_unless_held_here<T>(
    path: &Path,
    meta: &sys::LockMeta,
    query: impl FnOnce() -> T,
) -> Option<T> {
    let registry = registry::lock();
    if registry.contains(&sys::file_key(path, meta)) {
        return None;
    }
    if !sys::CLOSE_DROPS_LOCKS {
        drop(registry);
    }
    Some(query())
}
