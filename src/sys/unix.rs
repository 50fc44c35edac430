//! Unix system layer: fcntl record locks, exactly the kind certbot takes with `fcntl.lockf`.
//!
//! Linux uses open-file-description locks (`F_OFD_SETLK`): they conflict with certbot's classic
//! POSIX locks both ways, exclude other handles in this process, and survive this process closing
//! some other fd of the same file. Other Unixes only have classic `F_SETLK` locks, which belong
//! to the process: the registry in `lock/registry.rs` keeps this process from opening (and so
//! silently dropping) a lock file it holds.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::Conflict;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod cmd {
    pub const SET_LOCK: libc::c_int = libc::F_OFD_SETLK;
    pub const GET_LOCK: libc::c_int = libc::F_OFD_GETLK;
}
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod cmd {
    pub const SET_LOCK: libc::c_int = libc::F_SETLK;
    pub const GET_LOCK: libc::c_int = libc::F_GETLK;
}

/// Classic POSIX locks are dropped when the process closes ANY fd of the locked file, so on
/// those platforms a probe must never open a file this process holds.
pub(crate) const CLOSE_DROPS_LOCKS: bool = !cfg!(any(target_os = "linux", target_os = "android"));

/// Identity of a file for the held-locks registry: device and inode, as certbot compares them.
/// (Not `Copy`: the Windows key is a string, and both share one API.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

/// What the probe's lstat returns (Windows has its own, gathered without opening the file).
pub(crate) type LockMeta = Metadata;

/// Whether this process runs as root (effective uid 0): where system-wide files go.
pub(crate) fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The probe's lstat of a lock path.
pub(crate) fn lstat(path: &Path) -> io::Result<LockMeta> {
    std::fs::symlink_metadata(path)
}

pub(crate) fn file_key(_path: &Path, meta: &Metadata) -> FileKey {
    FileKey {
        dev: meta.dev(),
        ino: meta.ino(),
    }
}

/// Opens (creating, mode 0600) the lock file for locking, as certbot does, but never through a
/// symlink and never blocking on a FIFO.
pub(crate) fn open_for_lock(path: &Path) -> io::Result<File> {
    lock_open_options().create(true).open(path)
}

/// Creates the lock file for locking only if nothing is at the path (`O_EXCL`, which never
/// follows a symlink). `Ok(None)`: something exists there.
pub(crate) fn create_new_for_lock(path: &Path) -> io::Result<Option<File>> {
    match lock_open_options().create_new(true).open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

fn lock_open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    options
}

/// Opens (creating, mode 0600) the flight recorder's claim file beside its history, never
/// through a symlink: a claim nobody else may plant or follow.
#[cfg_attr(not(feature = "history"), allow(dead_code))]
pub(crate) fn open_claim(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
}

/// Opens an existing lock file read-only for a lock query: no create, no truncate, no write.
fn open_for_probe(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// `flock.l_type` values. The field is a `c_short` everywhere, but libc types the constants
/// `c_int` on Linux and `c_short` on macOS and the BSDs: convert once, here.
const WRITE_LOCK: libc::c_short = libc::F_WRLCK as libc::c_short;
const UNLOCKED: libc::c_short = libc::F_UNLCK as libc::c_short;

fn whole_file(lock_type: libc::c_short) -> libc::flock {
    // SAFETY: flock is a plain C struct; all-zero is a valid value (and OFD locks require l_pid 0).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = lock_type;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 0; // to end of file, however it grows: certbot's lockf(LOCK_EX) range
    fl
}

/// Tries to take the whole-file write lock without blocking. `Ok(false)` means someone else
/// holds a conflicting lock (EACCES or EAGAIN, the errnos certbot turns into its LockError).
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    let fl = whole_file(WRITE_LOCK);
    // SAFETY: valid fd, pointer to a live flock struct.
    if unsafe { libc::fcntl(file.as_raw_fd(), cmd::SET_LOCK, &fl) } == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EAGAIN) => Ok(false),
        _ => Err(err),
    }
}

/// Asks the kernel whether a whole-file write lock would conflict, without taking one.
/// Works on a read-only fd. Never sees this process's own classic locks (they do not conflict).
pub(crate) fn query_lock(file: &File) -> io::Result<Conflict> {
    let mut fl = whole_file(WRITE_LOCK);
    // SAFETY: valid fd, pointer to a live flock struct the kernel fills in.
    if unsafe { libc::fcntl(file.as_raw_fd(), cmd::GET_LOCK, &mut fl) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if fl.l_type == UNLOCKED {
        return Ok(Conflict::None);
    }
    // l_pid is -1 for OFD locks: keep it out of any Pid type that rejects it.
    let pid = u32::try_from(fl.l_pid).ok().filter(|&p| p > 0);
    Ok(Conflict::Held { pid })
}

/// The probe's one look at a lock file: open it read-only (never creating it), ask the kernel
/// whether a write lock would conflict, close. `Ok(None)`: the file vanished since the caller's
/// lstat (a holder released it).
pub(crate) fn probe_lock(path: &Path, _meta: &LockMeta) -> io::Result<Option<Conflict>> {
    let file = match open_for_probe(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        // Replaced by something else since the lstat: never query a FIFO or device.
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    query_lock(&file).map(Some)
}

/// certbot's "did we lock the file that the path still names?" check (st_dev and st_ino of the
/// path against those of our open file, `key`, taken by fstat). Uses lstat: a symlink swapped in
/// after our O_NOFOLLOW open is not our file.
pub(crate) fn still_names(path: &Path, key: &FileKey) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(on_disk) => Ok(on_disk.dev() == key.dev && on_disk.ino() == key.ino),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// certbot's release order: remove the path FIRST, then close. Closing first would let a third
/// process lock the old file while a new file at the same path is locked by someone else.
/// Only our own inode is ever removed (see [`remove_if_ours`]).
pub(crate) fn release(path: &Path, file: File, key: &FileKey) -> io::Result<()> {
    let removed = remove_if_ours(path, key);
    drop(file); // close: the kernel drops the lock here
    removed
}

/// Removes the lock file at `path` if it is our file `key`. There is no "unlink if it is this
/// inode" call, and a look then an unlink would delete whatever the path names by the unlink:
/// after an outside `rm` and a new certbot in between, that certbot's live lock file (and a
/// second certbot gets in). So the path is first renamed to a name only we use, in the same
/// directory (atomic: whatever it names moves), and that name is looked at: ours is unlinked
/// there, anything else is put back, never over a file created at the path meanwhile.
/// What remains: in that race (rm + new lock between our look and our rename), the other
/// holder's file is away from the path for two syscalls, and a certbot starting in exactly
/// that moment gets in (or, when the put-back finds a new file, that file is left and ours is
/// an error naming where the other one is). certbot's own release unlinks unconditionally.
fn remove_if_ours(path: &Path, key: &FileKey) -> io::Result<()> {
    // The usual cases cost one lstat: our file (go on), or nothing / another file (leave it).
    if !still_names(path, key)? {
        return Ok(());
    }
    let aside = aside_name(path);
    match std::fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    if still_names(&aside, key)? {
        return std::fs::remove_file(&aside).or_else(ignore_not_found);
    }
    put_back(&aside, path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "the lock file was replaced during release; the other holder's file, moved \
                 aside, could not be put back from {}: {e}",
                aside.display()
            ),
        )
    })
}

/// A name beside `path` that no other process uses: `<name>.lockscope-release-<pid>-<n>`.
fn aside_name(path: &Path) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".lockscope-release-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    path.with_file_name(name)
}

/// Renames `from` back to `to` unless something exists at `to` (never replaces a newer lock
/// file): Linux's `RENAME_NOREPLACE`, else a hard link (which fails on an existing name) and
/// an unlink.
fn put_back(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let (Ok(from_c), Ok(to_c)) = (
            std::ffi::CString::new(from.as_os_str().as_bytes()),
            std::ffi::CString::new(to.as_os_str().as_bytes()),
        ) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        // SAFETY: two NUL-terminated paths relative to the working directory, flags by value.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                from_c.as_ptr(),
                libc::AT_FDCWD,
                to_c.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // EINVAL / ENOSYS: this filesystem or kernel has no RENAME_NOREPLACE; link instead.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from).or_else(ignore_not_found)
}

fn ignore_not_found(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// Whether this error is how `open(O_NOFOLLOW)` refuses a symlink on this platform.
pub(crate) fn is_nofollow_error(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::EMLINK))
}

/// Whether an open error means "busy" rather than a problem with the path. On Unix the open
/// itself never conflicts with a lock.
pub(crate) fn open_error_means_busy(_err: &io::Error) -> bool {
    false
}

/// The (device, inode) of the file at `path` itself (not following a final symlink).
pub(crate) fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// A file's birth time, where its filesystem keeps one (statx's btime).
pub(crate) fn meta_birth(meta: &LockMeta) -> Option<std::time::SystemTime> {
    meta.created().ok()
}

/// The (device, inode) of a file's metadata.
pub(crate) fn meta_id(meta: &LockMeta) -> Option<(u64, u64)> {
    std_meta_id(meta)
}

/// The (device, inode) of std's metadata of any file.
pub(crate) fn std_meta_id(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

/// When the file at `path` was created (statx's btime on Linux, st_birthtime on macOS and the
/// BSDs), where the filesystem keeps it.
pub(crate) fn file_birth(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::symlink_metadata(path).ok()?.created().ok()
}
