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

use windows_sys::Wdk::Storage::FileSystem::{
    FileProcessIdsUsingFileInformation, NtQueryInformationFile,
};
use windows_sys::Win32::Foundation::{ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION, HANDLE};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY, LockFileEx, UnlockFile,
};
use windows_sys::Win32::System::IO::{IO_STATUS_BLOCK, OVERLAPPED};

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
/// A handle with data access conflicts with certbot's share-mode-0 create: keep it rare.
fn open_for_lock_test(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Opens a file with attribute access only. Share-mode checks ignore such handles, so this can
/// never make certbot's share-mode-0 create fail.
fn open_attributes_only(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .access_mode(FILE_READ_ATTRIBUTES)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// The ids of the processes that have the file open (`FileProcessIdsUsingFileInformation`),
/// other than this one. `None` when the system cannot tell (older Windows, Wine).
fn other_processes_using(file: &File) -> Option<Vec<u32>> {
    #[repr(C)]
    struct ProcessIds {
        count: u32,
        ids: [usize; 256],
    }
    // SAFETY: plain C data; all-zero is valid.
    let mut info: ProcessIds = unsafe { std::mem::zeroed() };
    let mut status_block: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
    // SAFETY: valid handle; the buffer and its length match; the call writes only into them.
    let status = unsafe {
        NtQueryInformationFile(
            file.as_raw_handle() as HANDLE,
            &mut status_block,
            (&mut info as *mut ProcessIds).cast(),
            std::mem::size_of::<ProcessIds>() as u32,
            FileProcessIdsUsingFileInformation,
        )
    };
    if status < 0 {
        return None;
    }
    let me = std::process::id();
    let listed = (info.count as usize).min(info.ids.len());
    Some(
        info.ids[..listed]
            .iter()
            .map(|&id| id as u32)
            .filter(|&id| id != me)
            .collect(),
    )
}

/// The probe's look at a lock file, least intrusive first. A lock holder keeps the file open, so
/// "no other process has it open" (asked through an attributes-only handle) already means free.
/// Only when another process has it open do we test byte 0 with a data handle and a shared lock
/// released at once; then certbot's own create would fail on that process's handle anyway.
/// `Ok(None)`: the file vanished.
pub(crate) fn probe_lock(path: &Path) -> io::Result<Option<Conflict>> {
    let attributes = match open_attributes_only(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !attributes.metadata()?.is_file() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let users = other_processes_using(&attributes);
    drop(attributes);
    if users.as_ref().is_some_and(|u| u.is_empty()) {
        return Ok(Some(Conflict::None));
    }
    let file = match open_for_lock_test(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // Another process's share-mode-0 handle: certbot creating the file right now.
        Err(e) if open_error_means_busy(&e) => return Ok(Some(Conflict::Held { pid: None })),
        Err(e) => return Err(e),
    };
    Ok(Some(match query_lock(&file)? {
        Conflict::Held { .. } => Conflict::Held {
            // With exactly one other process using the file, it is the holder.
            pid: users.filter(|u| u.len() == 1).map(|u| u[0]),
        },
        free => free,
    }))
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
