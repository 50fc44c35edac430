//! Windows system layer: certbot's `msvcrt.locking(fd, LK_NBLCK, 1)` is the CRT's `_locking`,
//! which is `LockFile` on one byte at the current position (byte 0, the file was just opened).
//! `LockFileEx` on byte 0, length 1, exclusive and fail-immediately is the same lock.
//!
//! Byte-range locks belong to the handle, so handles in one process exclude each other and a
//! probe's separate handle never drops a lock this process holds.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use super::Conflict;

use windows_sys::Wdk::Storage::FileSystem::{
    FileProcessIdsUsingFileInformation, NtQueryInformationFile,
};
use windows_sys::Win32::Foundation::{ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION, HANDLE};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ATTRIBUTE_DEVICE, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT,
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, GetFileAttributesExW, GetFileExInfoStandard, LOCKFILE_EXCLUSIVE_LOCK,
    LOCKFILE_FAIL_IMMEDIATELY, LockFileEx, UnlockFile, WIN32_FILE_ATTRIBUTE_DATA,
};
use windows_sys::Win32::System::IO::{IO_STATUS_BLOCK, OVERLAPPED};

/// Windows byte-range locks are per handle: closing another handle never drops one.
pub(crate) const CLOSE_DROPS_LOCKS: bool = false;

/// Identity of a lock file for the held-locks registry. Stable std has no file index, so the
/// absolute path, case-folded as NTFS compares names, stands in for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileKey(String);

/// Opens (creating) the flight recorder's claim file beside its history.
#[cfg_attr(not(feature = "history"), allow(dead_code))]
pub(crate) fn open_claim(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// No root on Windows: per-user paths.
pub(crate) fn running_as_root() -> bool {
    false
}

pub(crate) fn file_key<M>(path: &Path, _meta: &M) -> FileKey {
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

/// The Unix fast path (create exclusively, skip the look before opening) buys nothing here: the
/// look is `GetFileAttributesExW`, which opens no handle. Always take the checked path.
pub(crate) fn create_new_for_lock(_path: &Path) -> io::Result<Option<File>> {
    Ok(None)
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

/// The probe's lstat, taken WITHOUT opening the file (`GetFileAttributesExW` reads the
/// directory entry). Any handle on the lock file, even an attribute-only one (which is what
/// `std::fs::symlink_metadata` opens), can fail a certbot acquire: when certbot's release
/// deletes the file while that handle is open, the delete stays pending until the handle closes,
/// and certbot's next create of the file fails (measured under Wine: 86 of 1,000 acquires failed
/// against a loop of `symlink_metadata` calls, 0 against `GetFileAttributesExW`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockMeta {
    attributes: u32,
    /// Last write time, in 100 ns units since 1601 (a FILETIME).
    written: u64,
    /// Creation time, likewise.
    created: u64,
}

impl LockMeta {
    /// Mirrors `Metadata::file_type()` so the probe reads both platforms' metadata alike.
    pub(crate) fn file_type(&self) -> LockMeta {
        *self
    }
    pub(crate) fn is_symlink(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0
    }
    pub(crate) fn is_dir(&self) -> bool {
        !self.is_symlink() && self.attributes & FILE_ATTRIBUTE_DIRECTORY != 0
    }
    pub(crate) fn is_file(&self) -> bool {
        !self.is_symlink()
            && self.attributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE) == 0
    }
    /// How long ago the file was last written (created or truncated), if the clock allows.
    fn written_ago(&self) -> Option<Duration> {
        SystemTime::now()
            .duration_since(filetime(self.written)?)
            .ok()
    }
}

/// A FILETIME (100 ns units since 1601) as a wall-clock time.
fn filetime(units: u64) -> Option<SystemTime> {
    // FILETIME epoch (1601) to Unix epoch (1970), in 100 ns units.
    const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
    let since_unix = units.checked_sub(UNIX_EPOCH_AS_FILETIME)?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(since_unix.saturating_mul(100)))
}

pub(crate) fn lstat(path: &Path) -> io::Result<LockMeta> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    // SAFETY: all-zero is a valid WIN32_FILE_ATTRIBUTE_DATA.
    let mut data: WIN32_FILE_ATTRIBUTE_DATA = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a buffer of the type GetFileExInfoStandard fills.
    let ok = unsafe {
        GetFileAttributesExW(
            wide.as_ptr(),
            GetFileExInfoStandard,
            (&mut data as *mut WIN32_FILE_ATTRIBUTE_DATA).cast(),
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let written = (u64::from(data.ftLastWriteTime.dwHighDateTime) << 32)
        | u64::from(data.ftLastWriteTime.dwLowDateTime);
    let created = (u64::from(data.ftCreationTime.dwHighDateTime) << 32)
        | u64::from(data.ftCreationTime.dwLowDateTime);
    Ok(LockMeta {
        attributes: data.dwFileAttributes,
        written,
        created,
    })
}

/// When the file at `path` was created, without opening it (see `lstat`).
pub(crate) fn file_birth(path: &Path) -> Option<SystemTime> {
    filetime(lstat(path).ok()?.created)
}

/// Where `FileProcessIdsUsingFileInformation` is missing (Wine 8, Windows before 7/2008 R2),
/// a lock file written this recently is reported held WITHOUT being opened: certbot writes
/// (creates or truncates) the file as it acquires and deletes it as it releases, and its
/// create step is exactly what any handle of ours could make fail.
pub(crate) const FRESH_LOCK_FILE: Duration = Duration::from_secs(2);

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

/// Whether this system lists a file's users, decided once per process on our own executable
/// (never on a lock file): Windows 7+ does, Wine 8 does not.
fn lists_file_users() -> bool {
    static LISTS: OnceLock<bool> = OnceLock::new();
    *LISTS.get_or_init(|| {
        std::env::current_exe()
            .and_then(|exe| open_attributes_only(&exe))
            .is_ok_and(|exe| other_processes_using(&exe).is_some())
    })
}

/// The probe's look at a lock file, least intrusive first.
///
/// Where the system lists a file's users: an attributes-only handle asks which processes have
/// the file open. A holder keeps it open, so none means free. Only when another process has it
/// open do we test byte 0 with a data handle and a shared lock released at once; then certbot's
/// own create would fail on that process's handle anyway.
///
/// Where it does not (Wine, old Windows): a file written in the last [`FRESH_LOCK_FILE`] is
/// reported held, holder unknown, without opening it (it cannot tell a lock being taken or held
/// right now from a file whose writer died within that time). An older file is tested with a
/// data handle: for those few microseconds a certbot starting on a stale file, or a long-running
/// certbot releasing, can fail.
/// `Ok(None)`: the file vanished.
pub(crate) fn probe_lock(path: &Path, meta: &LockMeta) -> io::Result<Option<Conflict>> {
    let users = if lists_file_users() {
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
        users
    } else {
        if meta.written_ago().is_none_or(|ago| ago < FRESH_LOCK_FILE) {
            return Ok(Some(Conflict::Held { pid: None }));
        }
        None
    };
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

/// Whether a lock file is still at `path`. certbot's own handle (no delete sharing) keeps its
/// file from being deleted, but ours shares delete so monitors can look: someone can remove it
/// while we hold it. Stable std has no file index to compare identities, and opening a handle
/// to get one could fail a certbot acquire (see `lstat`), so this asks the directory entry
/// (`GetFileAttributesExW`, no handle): gone, or no longer a regular file, is `false`. A file
/// replaced by another regular file is not detected. Other errors (a delete-pending file answers
/// "access denied") cannot tell, and keep the answer `true`.
pub(crate) fn still_names(path: &Path, _key: &FileKey) -> io::Result<bool> {
    match lstat(path) {
        Ok(meta) => Ok(meta.is_file()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(_) => Ok(true),
    }
}

/// certbot's Windows release: unlock, close, then remove the file, ignoring removal errors
/// (another process may be opening it to acquire the lock we just released).
pub(crate) fn release(path: &Path, file: File, _key: &FileKey) -> io::Result<()> {
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

/// No (device, inode) without opening the file, which a probe avoids on Windows (certbot's
/// share-mode-0 create fails while anyone has it open).
pub(crate) fn file_id(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// The file's creation time.
pub(crate) fn meta_birth(meta: &LockMeta) -> Option<SystemTime> {
    filetime(meta.created)
}

/// No (device, inode) in attributes read without a handle.
pub(crate) fn meta_id(_meta: &LockMeta) -> Option<(u64, u64)> {
    None
}

/// Not without a handle (and std's file index is unstable on Windows).
pub(crate) fn std_meta_id(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}
