//! The OS layer: everything lockscope asks of the operating system, behind one API that
//! `lock`, `probe`, `holder` and the monitor share. Nothing above this module knows the OS.
//!
//! - `files` (`unix.rs`, `windows.rs`): lock files: lstat, open for locking or probing, take,
//!   query and release certbot's lock, file identity (`FileKey`).
//! - `process` (`linux/`, `windows_process.rs`, `no_process_table.rs`): who holds a lock:
//!   command lines, the holder of a lock without an owner pid, and (Linux) the kernel's lock
//!   table, how it names files (`linux/naming.rs`) and which pid namespace it speaks for
//!   (`linux/pidns.rs`). Where there is no lock table, `no_lock_table.rs` says so once.
//! - `pidfd` (`linux/pidfd.rs`, `no_pidfd.rs`): ending a lock's holder: pidfds and process
//!   start times; elsewhere "not supported".
//! - `proc_parse`: pure parsers of what Linux's `/proc` prints (fuzzed; built everywhere).
//! - `remote_fs`: the one list of network and userspace filesystems (by mountinfo name and
//!   statfs magic), and when certbot's lock on one may not exclude other machines.
//! - `cgroup`: where a process runs (systemd unit, container) from `/proc/<pid>/cgroup`; pure
//!   and built everywhere like `proc_parse`; Linux reads the file (`linux/place.rs`).

#[cfg_attr(unix, path = "unix.rs")]
#[cfg_attr(windows, path = "windows.rs")]
mod files;
// Built everywhere like proc_parse; only Linux reads /proc/<pid>/cgroup.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) mod cgroup;
// Built everywhere; only Linux has mountinfo names and statfs magics to ask it about.
#[cfg(not(target_os = "linux"))]
mod no_lock_table;
#[cfg(not(target_os = "linux"))]
mod no_process_details;
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) mod remote_fs;
// Built everywhere (its tests and fuzzing run on every platform); only Linux reads /proc.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) mod proc_parse;
#[cfg_attr(target_os = "linux", path = "linux/mod.rs")]
#[cfg_attr(windows, path = "windows_process.rs")]
#[cfg_attr(not(any(target_os = "linux", windows)), path = "no_process_table.rs")]
mod process;

// Ending a lock's holder (`terminate`): pidfds and start times. Linux only.
#[cfg_attr(target_os = "linux", path = "linux/pidfd.rs")]
#[cfg_attr(not(target_os = "linux"), path = "no_pidfd.rs")]
mod pidfd;

pub(crate) use files::*;
pub(crate) use pidfd::*;
pub(crate) use process::*;

/// Whether the environment names a display server for the app's window. X11 and Wayland say
/// where theirs is in DISPLAY / WAYLAND_DISPLAY / WAYLAND_SOCKET (what winit reads); macOS and
/// Windows give every logged-in session one.
#[cfg(feature = "gui")]
pub(crate) fn display_named() -> bool {
    if cfg!(any(windows, target_os = "macos")) {
        return true;
    }
    ["WAYLAND_DISPLAY", "WAYLAND_SOCKET", "DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

/// What a lock query found on a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conflict {
    None,
    /// A conflicting lock. `pid` is the holder as the query reports it, in this process's pid
    /// namespace: classic POSIX locks on Unix. `None` when the query names no process: OFD
    /// locks (the kernel reports -1), an owner outside this pid namespace (0), and Windows
    /// (no F_GETLK).
    Held {
        pid: Option<u32>,
    },
}

/// A file as the kernel's lock tables name it: (major, minor, inode). The device is the one of
/// the file's superblock, which is not always stat's `st_dev` (see `linux/naming.rs`).
pub(crate) type TableKey = (u32, u32, u64);

/// Whether the lock table's silence about a file means that nobody holds a lock on it.
/// (Without a lock table, only `Broken` is ever given.)
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableTrust {
    /// The table names the file by stat's own device: no row, no lock (ext4, xfs, tmpfs, ...).
    Exact,
    /// Named by the mount's device, which differs from stat's (btrfs, overlayfs); not yet
    /// confirmed by a direct query that found a lock the table also shows.
    Mapped,
    /// Mapped, and confirmed: a direct query and the table agreed on a held lock.
    Verified,
    /// A direct query found a lock the table does not show under this name, or the mount's
    /// device is unknown (no `STATX_MNT_ID` before Linux 5.8): only direct queries answer.
    Broken,
    /// The filesystem's locks are not (all) kept by this kernel: NFS, SMB, FUSE, Ceph, ... keep
    /// other clients' locks elsewhere, so only a direct query (which asks the server or the
    /// daemon) can say "free".
    Remote,
}

impl TableTrust {
    /// Whether the table's silence may stand for "free" where a direct query is possible.
    pub(crate) fn table_says_free(self) -> bool {
        matches!(self, TableTrust::Exact | TableTrust::Verified)
    }

    /// Whether the table's silence may stand for "free" when the file cannot be queried
    /// directly (it cannot be opened): a mapped naming is the kernel's own (measured on btrfs
    /// and overlayfs, also after a copy-up), so it is believed; a contradicted one, or a
    /// remote filesystem's table, is not.
    pub(crate) fn table_says_free_without_query(self) -> bool {
        matches!(
            self,
            TableTrust::Exact | TableTrust::Verified | TableTrust::Mapped
        )
    }

    /// Why the table's silence proves nothing for this file.
    pub(crate) fn why_not(self) -> &'static str {
        match self {
            TableTrust::Remote => {
                "its filesystem keeps locks outside this kernel's lock table (network or FUSE)"
            }
            _ => "the kernel's lock table does not name files on its filesystem reliably",
        }
    }
}

/// Which pid namespace `/proc` speaks for, relative to this process (Linux; elsewhere both
/// are true).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcView {
    /// `/proc` belongs to this process's own pid namespace: a pid from a lock query names the
    /// same process in `/proc`.
    pub same_namespace: bool,
    /// `/proc` belongs to the initial pid namespace, so its lock table lists every lock (one of
    /// a child namespace leaves out locks whose owners it cannot see).
    pub initial_namespace: bool,
}

/// What the OS tells about a process beyond its command line (Linux: `/proc/<pid>/stat`,
/// `status`, `syscall`). Every field but `state` may be unknown.
#[derive(Debug, Clone)]
pub(crate) struct ProcessFacts {
    /// `/proc`'s state letter: R, S, D, T, t, Z, X, I, ...
    pub state: char,
    /// The effective uid.
    pub uid: Option<u32>,
    pub started: Option<std::time::SystemTime>,
    /// Its pid inside its own (innermost) pid namespace, when that is not `/proc`'s.
    pub pid_in_namespace: Option<u32>,
    /// What it is blocked on, in words ("terminal input on /dev/pts/3"), where the OS tells.
    pub waiting_for: Option<String>,
}

/// One lock event of a watched filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceEvent {
    /// CLOCK_BOOTTIME nanoseconds (the instance's `boot` trace clock).
    pub boot_ns: u64,
    /// The lock table's naming of the file: (major, minor, inode).
    pub key: TableKey,
    /// The lock's owner (a files_struct or open file description, as a kernel address): pairs
    /// an unlock with the lock it ends.
    pub owner: u64,
    /// The process (initial pid namespace).
    pub pid: u32,
    pub kind: TraceLockKind,
    /// `fl_type`: F_RDLCK / F_WRLCK take, F_UNLCK drops.
    pub unlock: bool,
    /// `FL_CLOSE`: the drop of a close(), which every close of a file with locks makes.
    pub on_close: bool,
    /// The call's result: 0, or -EAGAIN (-11) for a refused attempt.
    pub ret: i32,
}

/// Which kind of lock an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceLockKind {
    Posix,
    Ofd,
    Flock,
}

/// A lock file a process holds a lock on, through one of its descriptors.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct HeldFile {
    /// The path the descriptor was opened by, as `/proc` shows it now (without the
    /// ` (deleted)` the kernel appends to a removed file).
    pub path: std::path::PathBuf,
    /// The file has no name left (its link count is 0): someone removed it.
    pub deleted: bool,
    /// stat's (device, inode) of the file.
    pub id: (u64, u64),
    /// How the lock table names it.
    pub key: TableKey,
}

/// A running process as discovery sees it (`discover`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[derive(Debug, Clone)]
pub(crate) struct ProcessEntry {
    /// Its command line (`/proc/PID/cmdline`), one entry per argument.
    pub argv: Vec<std::ffi::OsString>,
    /// Its working directory, where this user may read it.
    pub cwd: Option<std::path::PathBuf>,
}

/// How the lock table names a file, when its rows can be matched to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableName {
    pub key: TableKey,
    /// No other file can have this name: the table names the file by stat's own device. (On
    /// btrfs and overlayfs one table device covers subvolumes or layers that reuse inode
    /// numbers.)
    pub unique: bool,
}
