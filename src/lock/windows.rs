//! Windows system layer: certbot's `msvcrt.locking(fd, LK_NBLCK, 1)` is the CRT's `_locking`,
//! which is `LockFile` on one byte at the current position (byte 0, the file was just opened).
//! `LockFileEx` on byte 0, length 1, exclusive and fail-immediately is the same lock.
//!
//! Byte-range locks belong to the handle, so handles in one process exclude each other and a
//! probe's separate handle never drops a lock this process holds.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Foundation::{ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION, HANDLE};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY, LockFileEx, UnlockFile,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// Windows byte-range locks are per handle: closing another handle never drops one.
pub(crate) const CLOSE_DROPS_LOCKS: bool = false;

/// Identity of a lock file for the held-locks registry. Stable std has no file index, so the
/// absolute path, case-folded as NTFS compares names, stands in for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileKey(String);

pub(crate) fn file_key(path: &Path, _meta: &Metadata) -> FileKey {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    FileKey(abs.to_string_lossy().to_lowercase())
}

const SHARE_ALL: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

/// certbot opens `O_RDWR | O_CREAT | O_TRUNC`. We share read/write/delete so monitors can look,
/// and open the reparse point itself so a symlink is seen (and refused) rather than followed.
pub(crate) fn open_for_lock(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Opens an existing lock file for a lock query: read access, everything shared, no create.
pub(crate) fn open_for_probe(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

fn byte_zero() -> OVERLAPPED {
    // SAFETY: OVERLAPPED is a plain C struct; all-zero means offset 0 and no event.
    unsafe { std::mem::zeroed() }
}

fn lock_byte_zero(file: &File, flags: u32) -> io::Result<bool> {
    let mut at = byte_zero();
    let handle = file.as_raw_handle() as HANDLE;
    // SAFETY: valid handle, OVERLAPPED lives across the (fail-immediately, so synchronous) call.
    let ok = unsafe { LockFileEx(handle, flags | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &mut at) };
    if ok != 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(ERROR_LOCK_VIOLATION as i32) {
        Ok(false)
    } else {
        Err(err)
    }
}

fn unlock_byte_zero(file: &File) -> io::Result<()> {
    // SAFETY: valid handle; unlocking a range we locked.
    if unsafe { UnlockFile(file.as_raw_handle() as HANDLE, 0, 0, 1, 0) } != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Tries to take the certbot lock (byte 0, exclusive) without blocking; `Ok(false)` = busy.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    lock_byte_zero(file, LOCKFILE_EXCLUSIVE_LOCK)
}

/// What a lock query found on a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conflict {
    None,
    Held { pid: Option<u32> },
}

/// Tests for an exclusive lock on byte 0 with a shared, fail-immediately lock that is released
/// at once. Windows has no F_GETLK: the holder's pid is not reported.
pub(crate) fn query_lock(file: &File) -> io::Result<Conflict> {
    if lock_byte_zero(file, 0)? {
        unlock_byte_zero(file)?;
        Ok(Conflict::None)
    } else {
        Ok(Conflict::Held { pid: None })
    }
}

/// Windows needs no inode re-check: certbot's file cannot be deleted while it is open without
/// delete sharing, so there is no unlink race to detect.
pub(crate) fn still_names(_path: &Path, _file: &File) -> io::Result<bool> {
    Ok(true)
}

/// certbot's Windows release: unlock, close, then remove the file, ignoring removal errors
/// (another process may be opening it to acquire the lock we just released).
pub(crate) fn release(path: &Path, file: File) -> io::Result<()> {
    let unlocked = unlock_byte_zero(&file);
    drop(file);
    let _ = std::fs::remove_file(path);
    unlocked
}

pub(crate) fn is_nofollow_error(_err: &io::Error) -> bool {
    false
}

/// certbot's own open of a locked file fails (the truncate hits the locked byte, or its
/// share-mode-0 create step is in progress): those are "busy", not path problems.
pub(crate) fn open_error_means_busy(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(e) if e == ERROR_LOCK_VIOLATION as i32 || e == ERROR_SHARING_VIOLATION as i32
    )
}
