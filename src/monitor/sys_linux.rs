//! Linux: which filesystems deliver inotify events for every change.

use std::path::Path;

/// Whether inotify on `dir` sees every create, delete and rename in it. Unknown: false.
pub(super) fn events_are_complete(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs is plain C data; valid NUL-terminated path and out-pointer.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c_path.as_ptr(), &mut fs) } != 0 {
        return false;
    }
    // Filesystems whose changes may come from elsewhere (another NFS client, a FUSE daemon),
    // so inotify can miss a lock file appearing: the one list in sys.
    !crate::sys::remote_fs::events_incomplete_for_magic(fs.f_type as i64)
}

/// A directory's identity: (device, inode), as inotify (which watches inodes) sees it.
pub(super) type DirId = (u64, u64);

/// What a path names now, checked by every pass (one `statx`): the inode inotify watches, the
/// mount it was reached through, and its birth time. A mount over the directory, a renamed or
/// re-pointed parent, or a directory deleted and made again (ext4 reuses the inode number at
/// once; the birth time differs) all change it, and the watch on the old inode is then useless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DirIdentity {
    pub(super) id: DirId,
    mount: u64,
    born: (i64, u32),
}

/// The identity of the directory at `path`, following symlinks as inotify does; `None` if it is
/// not a directory now. One `statx`, never asking a network filesystem's server.
pub(super) fn dir_identity(path: &Path) -> Option<DirIdentity> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statx is plain C data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path, a live statx buffer.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::AT_STATX_DONT_SYNC,
            libc::STATX_TYPE | libc::STATX_INO | libc::STATX_MNT_ID | libc::STATX_BTIME,
            &mut stx,
        )
    };
    if rc != 0 || u32::from(stx.stx_mode) & libc::S_IFMT != libc::S_IFDIR {
        return None;
    }
    // Fields the filesystem does not give stay 0 on both sides of a comparison.
    let mount = if stx.stx_mask & libc::STATX_MNT_ID != 0 {
        stx.stx_mnt_id
    } else {
        0
    };
    let born = if stx.stx_mask & libc::STATX_BTIME != 0 {
        (stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec)
    } else {
        (0, 0)
    };
    Some(DirIdentity {
        id: (
            libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
            stx.stx_ino,
        ),
        mount,
        born,
    })
}

/// The calling thread's id, for [`thread_is_waiting`].
pub(super) fn thread_id() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

/// Whether thread `tid` of this process is asleep in the kernel waiting for something other
/// than this process's own threads (state `S` or `D`, in a system call other than `futex`:
/// such as a filesystem's answer), rather than running, waiting for a CPU (`R`), or waiting
/// for another of our threads (a mutex, a channel: notify's watcher answers `watch()` through
/// one). `None` if its state cannot be read. This is how the pool tells a stuck filesystem
/// from a loaded machine: under load a slow probe is runnable or waits for our own threads; a
/// probe on a stopped FUSE daemon or a hung NFS server sleeps in a filesystem call.
pub(super) fn thread_is_waiting(tid: i64) -> Option<bool> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses and may contain anything.
    let state = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .next()?;
    if !matches!(state, "S" | "D") {
        return Some(false);
    }
    // `/proc/<pid>/task/<tid>/syscall`: the number of the call it sleeps in, first.
    let call = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok();
    let in_futex = call
        .as_deref()
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse::<i64>().ok())
        .is_some_and(|n| n == libc::SYS_futex);
    Some(!in_futex)
}
