//! Problems with a lock path that both locking and probing report the same way.

use std::io;
use std::path::{Path, PathBuf};

/// Why a lock path cannot be locked or probed. Every variant but `EmptyDir` names its path.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// An empty directory path. certbot would lock `./.certbot.lock`; lockscope asks instead.
    #[error("the directory path is empty (use \".\" for the current directory)")]
    EmptyDir,
    /// The lock file's directory does not exist.
    #[error("directory {0} does not exist")]
    DirMissing(PathBuf),
    /// What should be the lock file's directory is something else.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// The path may not be looked at or opened.
    #[error("permission denied: {0}")]
    PermissionDenied(PathBuf),
    /// The lock path is a symbolic link (never followed).
    #[error("lock path {0} is a symbolic link; lockscope does not follow links for lock files")]
    Symlink(PathBuf),
    /// The lock path is a directory.
    #[error("lock path {0} is a directory, not a lock file")]
    IsDirectory(PathBuf),
    /// The lock path is a FIFO, socket or device (never opened).
    #[error("lock path {0} is a special file (FIFO, socket or device), not a lock file")]
    SpecialFile(PathBuf),
    /// A lock-file name with a separator, `.`, `..` or a control character.
    #[error("{0:?} is not a plain file name for a lock file (like .certbot.lock)")]
    BadLockName(String),
    /// The lock file cannot be opened and the kernel's lock table cannot vouch that nobody
    /// holds it (`why`): the probe will not guess "free".
    #[error(
        "cannot tell whether {path} is locked: it cannot be opened (permission denied) and {why}"
    )]
    Undecidable {
        /// The lock file.
        path: PathBuf,
        /// Why the lock table cannot vouch for it.
        why: &'static str,
    },
    /// The lock file would have to be created or written on a read-only filesystem.
    #[error("read-only file system: {0}")]
    ReadOnly(PathBuf),
    /// Any other I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The path the operation was on.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

impl PathError {
    /// Maps an I/O error from an operation on `lock_path` to what it means for the user.
    /// "Not found" is resolved by looking at the parent directory: only a missing or
    /// non-directory parent is an error (a missing lock file is a state, not an error).
    pub fn from_io(lock_path: &Path, err: io::Error) -> PathError {
        let path = lock_path.to_path_buf();
        match err.kind() {
            io::ErrorKind::PermissionDenied => PathError::PermissionDenied(path),
            io::ErrorKind::IsADirectory => PathError::IsDirectory(path),
            io::ErrorKind::ReadOnlyFilesystem => PathError::ReadOnly(path),
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
                parent_problem(lock_path).unwrap_or(PathError::Io { path, source: err })
            }
            _ if is_symlink_refusal(&err) => PathError::Symlink(path),
            _ => PathError::Io { path, source: err },
        }
    }
}

/// What is wrong with the directory that should contain `lock_path`, if anything.
pub(crate) fn parent_problem(lock_path: &Path) -> Option<PathError> {
    let dir = parent_dir(lock_path);
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some(PathError::NotADirectory(dir.to_path_buf())),
        Err(e) => Some(match e.kind() {
            io::ErrorKind::NotFound => PathError::DirMissing(dir.to_path_buf()),
            io::ErrorKind::NotADirectory => PathError::NotADirectory(dir.to_path_buf()),
            io::ErrorKind::PermissionDenied => PathError::PermissionDenied(dir.to_path_buf()),
            _ => PathError::Io {
                path: dir.to_path_buf(),
                source: e,
            },
        }),
    }
}

/// Only a regular file can be a lock file: the error for anything else at a lock path (a
/// symlink is never followed, a directory or special file never opened). `meta` is what
/// lstat says is there.
pub(crate) fn require_regular_file(
    path: &Path,
    meta: &crate::sys::LockMeta,
) -> Result<(), PathError> {
    let kind = meta.file_type();
    if kind.is_symlink() {
        Err(PathError::Symlink(path.into()))
    } else if kind.is_dir() {
        Err(PathError::IsDirectory(path.into()))
    } else if !kind.is_file() {
        Err(PathError::SpecialFile(path.into()))
    } else {
        Ok(())
    }
}

/// The directory a lock file lives in (`.` for a bare file name).
pub fn parent_dir(lock_path: &Path) -> &Path {
    match lock_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `open(O_NOFOLLOW)` on a symlink fails with ELOOP (EMLINK on some BSDs).
fn is_symlink_refusal(err: &io::Error) -> bool {
    crate::sys::is_nofollow_error(err)
}
