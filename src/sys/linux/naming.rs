//! How the kernel's lock tables (`/proc/locks`, `fdinfo` `lock:` lines) name a file, and when
//! their silence may be believed.
//!
//! The tables print the device of the file's superblock, which is not always the `st_dev` that
//! stat reports: btrfs gives each subvolume its own anonymous device (table 0:40, stat 0:41),
//! overlayfs with its upper layer on another filesystem reports a per-layer device (table 0:44,
//! stat 0:45). The inode number is stat's in every case measured (btrfs, overlayfs, also after a
//! copy-up). So a file is named by the device of its mount (`statx` `STATX_MNT_ID`, looked up
//! in `mountinfo`), per `st_dev`, and that naming is checked against direct lock queries: a
//! direct query that finds a lock the table does not show under that name marks the device
//! [`Trust::Broken`], and from then on only direct queries answer for it.
//!
//! The mapping is cached per `st_dev` and dropped when the mount table changes (`mountinfo` is
//! pollable: POLLPRI after any mount or unmount), since anonymous devices are reused.

use super::super::proc_parse::{MountLine, dev_major_minor};
use super::super::remote_fs::{is_remote, lock_scope_hazard};
use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use super::super::{TableKey, TableTrust as Trust};

struct Naming {
    table_dev: (u32, u32),
    trust: Trust,
    /// Why certbot's lock here may not exclude other machines (`remote_fs::lock_scope_hazard`).
    hazard: Option<String>,
}

struct Namings {
    by_dev: HashMap<u64, Naming>,
    /// `/proc/self/mountinfo`, kept open to be polled for mount-table changes.
    mountinfo: Option<File>,
}

static NAMINGS: Mutex<Option<Namings>> = Mutex::new(None);

fn namings() -> MutexGuard<'static, Option<Namings>> {
    NAMINGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How the lock table names the file at `path` (whose lstat gave `st_dev`, `ino`), and how far
/// its silence about that file can be trusted.
pub(crate) fn table_key(path: &Path, st_dev: u64, ino: u64) -> (TableKey, Trust) {
    naming_of(st_dev, ino, || {
        mount_of(
            path,
            libc::AT_SYMLINK_NOFOLLOW,
            st_dev,
            ino,
            "/proc/self/mountinfo",
        )
    })
}

/// Like [`table_key`] for descriptor `fd` of process `pid` (whose target stat gave `st_dev`,
/// `ino`), looked up in that process's own mount table.
pub(crate) fn table_key_of_fd(pid: u32, fd: u32, st_dev: u64, ino: u64) -> TableKey {
    let path = format!("/proc/{pid}/fd/{fd}");
    let mountinfo = format!("/proc/{pid}/mountinfo");
    naming_of(st_dev, ino, || {
        mount_of(Path::new(&path), 0, st_dev, ino, &mountinfo)
    })
    .0
}

fn naming_of(
    st_dev: u64,
    ino: u64,
    find_mount: impl FnOnce() -> Option<MountLine>,
) -> (TableKey, Trust) {
    match cached_or_found(st_dev, find_mount, |n| (n.table_dev, n.trust)) {
        Some(((major, minor), trust)) => ((major, minor, ino), trust),
        // Not cached: the mount may be found on the next look (a race with an unmount).
        None => {
            let (major, minor) = dev_major_minor(st_dev);
            ((major, minor, ino), Trust::Broken)
        }
    }
}

/// `read` of the naming of `st_dev`, from the cache or, if not there, from its mount (then
/// cached). `None` when the mount is not found.
fn cached_or_found<T>(
    st_dev: u64,
    find_mount: impl FnOnce() -> Option<MountLine>,
    read: impl Fn(&Naming) -> T,
) -> Option<T> {
    {
        let mut guard = namings();
        let namings = guard.get_or_insert_with(|| Namings {
            by_dev: HashMap::new(),
            mountinfo: File::open("/proc/self/mountinfo").ok(),
        });
        if mounts_changed(namings.mountinfo.as_ref()) {
            namings.by_dev.clear();
        }
        if let Some(n) = namings.by_dev.get(&st_dev) {
            return Some(read(n));
        }
    }
    // Not under the lock: statx waits for the file's filesystem, which may be stuck, and the
    // other devices' probes must not wait with it.
    let naming = naming_of_mount(st_dev, &find_mount()?);
    let answer = read(&naming);
    if let Some(namings) = namings().as_mut() {
        // A concurrent lookup may have inserted (or a direct query re-rated) it meanwhile:
        // keep what is there.
        namings.by_dev.entry(st_dev).or_insert(naming);
    }
    Some(answer)
}

fn naming_of_mount(st_dev: u64, mount: &MountLine) -> Naming {
    let table_dev = (mount.major, mount.minor);
    let trust = if is_remote(&mount.fs_type) {
        Trust::Remote
    } else if table_dev == dev_major_minor(st_dev) {
        Trust::Exact
    } else {
        Trust::Mapped
    };
    let hazard = lock_scope_hazard(&mount.fs_type, &mount.mount_opts, &mount.super_opts);
    Naming {
        table_dev,
        trust,
        hazard,
    }
}

/// The lock table's device for files on stat's `st_dev`, if this process has looked it up
/// already (and the mount table has not changed since): `Some(None)` when the table's naming
/// of it cannot be trusted; `None` when not looked up.
pub(crate) fn cached_table_device(st_dev: u64) -> Option<Option<(u32, u32)>> {
    let mut guard = namings();
    let namings = guard.as_mut()?;
    if mounts_changed(namings.mountinfo.as_ref()) {
        namings.by_dev.clear();
        return None;
    }
    let naming = namings.by_dev.get(&st_dev)?;
    Some((naming.trust != Trust::Broken).then_some(naming.table_dev))
}

/// Why certbot's lock on the file or directory at `path` may not exclude certbot on other
/// machines (NFS with local locks, SMB `nobrl`, FUSE, ...; see
/// `remote_fs::lock_scope_hazard`), in one sentence; `None` when its filesystem shares the
/// lock, or the path or its mount cannot be found. The last component is not followed (a
/// symlinked lock file is refused anyway). Like any stat, this waits for a stuck filesystem:
/// call it where that is allowed (not the monitor's thread). Cached per device with the lock
/// table's naming.
pub(crate) fn network_hazard(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).ok()?;
    let (st_dev, ino) = (meta.dev(), meta.ino());
    let find = || {
        mount_of(
            path,
            libc::AT_SYMLINK_NOFOLLOW,
            st_dev,
            ino,
            "/proc/self/mountinfo",
        )
    };
    cached_or_found(st_dev, find, |n| n.hazard.clone())?
}

/// What a direct lock query on a file (stat `st_dev`) found, against what the lock table said:
/// confirms the device's naming, or marks it broken when the table missed a lock. (`table_complete`:
/// the table lists every lock of this system, see `pidns`; a table that leaves some out proves
/// nothing by its silence.)
pub(crate) fn record_direct_answer(st_dev: u64, held: bool, table_row: bool, table_complete: bool) {
    if !held {
        return;
    }
    let mut guard = namings();
    let Some(naming) = guard.as_mut().and_then(|n| n.by_dev.get_mut(&st_dev)) else {
        return;
    };
    naming.trust = match (naming.trust, table_row) {
        (Trust::Mapped, true) => Trust::Verified,
        (Trust::Exact | Trust::Mapped | Trust::Verified, false) if table_complete => Trust::Broken,
        (trust, _) => trust,
    };
}

/// Whether a mount or unmount happened since the last look (a pending POLLPRI on mountinfo;
/// the poll itself consumes it). No mountinfo to poll: assume it did.
fn mounts_changed(mountinfo: Option<&File>) -> bool {
    let Some(file) = mountinfo else {
        return true;
    };
    let mut fds = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd, timeout 0 (never blocks).
    let ready = unsafe { libc::poll(&mut fds, 1, 0) };
    ready != 0 || fds.revents != 0
}

/// The mount `path` is on, from `statx` `STATX_MNT_ID` and the `mountinfo` file of the
/// namespace the path lives in. `None` if the kernel gives no mount id (before Linux 5.8), the
/// path now names another file than (`st_dev`, `ino`), or the mount is not listed.
fn mount_of(path: &Path, flags: i32, st_dev: u64, ino: u64, mountinfo: &str) -> Option<MountLine> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statx is plain C data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path, a live statx buffer. AT_STATX_DONT_SYNC: never ask a
    // network filesystem's server for fresh attributes just for the mount id.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            flags | libc::AT_STATX_DONT_SYNC,
            libc::STATX_INO | libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    if rc != 0 || stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return None;
    }
    let same_file =
        libc::makedev(stx.stx_dev_major, stx.stx_dev_minor) == st_dev && stx.stx_ino == ino;
    if !same_file {
        return None;
    }
    let mut text = String::new();
    File::open(mountinfo).ok()?.read_to_string(&mut text).ok()?;
    text.lines()
        .filter_map(MountLine::parse)
        .find(|m| m.mount_id == stx.stx_mnt_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn local_files_have_no_hazard() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".certbot.lock");
        std::fs::write(&lock, "").unwrap();
        assert_eq!(network_hazard(dir.path()), None);
        assert_eq!(network_hazard(&lock), None);
        assert_eq!(network_hazard(&dir.path().join("missing")), None);
        assert_eq!(network_hazard(Path::new("/proc/self/status")), None);
    }

    /// A real FUSE mount (bindfs, as tests/suite/fs_matrix.rs makes them): the hazard names
    /// FUSE, for the directory and for a lock file in it. Needs root and bindfs; skipped
    /// (with a note) without them.
    #[test]
    fn a_bindfs_mount_is_a_fuse_hazard() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let has_bindfs = Command::new("bindfs").arg("--version").output().is_ok();
        if !root || !has_bindfs {
            // One SKIPPED line, which CI counts (and fails on: it has both); written to the
            // real stderr, since libtest keeps a passing test's eprintln! to itself.
            let test = concat!(module_path!(), "::a_bindfs_mount_is_a_fuse_hazard");
            let test = test.split_once("::").map_or(test, |(_, t)| t);
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {test}: needs root and bindfs (apt-get install bindfs fuse3)"
            );
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let (src, mnt) = (tmp.path().join("src"), tmp.path().join("mnt"));
        std::fs::create_dir(&src).unwrap();
        std::fs::create_dir(&mnt).unwrap();
        std::fs::write(src.join(".certbot.lock"), "").unwrap();
        /// Unmounts (lazily if busy) and reaps the daemon, also when an assert fails.
        struct Mounted(std::process::Child, std::path::PathBuf);
        impl Drop for Mounted {
            fn drop(&mut self) {
                let ok = Command::new("umount")
                    .arg(&self.1)
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    let _ = Command::new("umount").arg("-l").arg(&self.1).status();
                }
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let daemon = Command::new("bindfs")
            .arg("-f")
            .arg(&src)
            .arg(&mnt)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let _mounted = Mounted(daemon, mnt.clone());
        let before = std::fs::metadata(&src).map(|m| std::os::unix::fs::MetadataExt::dev(&m));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&mnt)
            .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
            .ok()
            == before.as_ref().ok().copied()
        {
            assert!(Instant::now() < deadline, "bindfs did not mount");
            std::thread::sleep(Duration::from_millis(10));
        }
        let hazard = network_hazard(&mnt).expect("a FUSE mount is a hazard");
        assert!(hazard.contains("FUSE"), "{hazard}");
        assert_eq!(network_hazard(&mnt.join(".certbot.lock")), Some(hazard));
        assert_eq!(network_hazard(&src), None, "the source stays local");
    }
}
