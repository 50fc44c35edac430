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

/// The identity of the directory at `path`, following symlinks as inotify does.
pub(super) fn dir_id(path: &Path) -> Option<DirId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}
