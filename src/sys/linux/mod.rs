//! Linux process tables: who holds a lock, from `/proc`. Reading `/proc` causes no inotify
//! events and touches no lock file.

use super::proc_parse::{self, ProcLock};
use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// The command line of `pid` from `/proc/<pid>/cmdline`, or `[comm]` for a process without one.
pub(crate) fn command_line(pid: u32) -> Option<String> {
    let raw = read_proc_file(&format!("/proc/{pid}/cmdline"), 1024)?;
    if let Some(line) = proc_parse::join_cmdline(&raw) {
        return Some(line);
    }
    let comm = String::from_utf8(read_proc_file(&format!("/proc/{pid}/comm"), 64)?).ok()?;
    Some(format!("[{}]", comm.trim_end()))
}

/// The arguments of `pid` as the kernel keeps them (bytes, not lossy UTF-8), from
/// `/proc/<pid>/cmdline`: for copying a command line that can be run again. `None` for a kernel
/// thread or a zombie.
pub(crate) fn arguments(pid: u32) -> Option<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStrExt;
    let raw = read_proc_file(&format!("/proc/{pid}/cmdline"), 1024)?;
    let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
    (!raw.is_empty()).then(|| {
        raw.split(|&b| b == 0)
            .map(|a| std::ffi::OsStr::from_bytes(a).to_os_string())
            .collect()
    })
}

/// The executable's name of `pid`, from `/proc/<pid>/comm`: for a script, the script's file
/// name (`certbot`, not `python3`), at most 15 bytes (the kernel's limit).
pub(crate) fn program_name(pid: u32) -> Option<String> {
    let comm = read_proc_file(&format!("/proc/{pid}/comm"), 64)?;
    let name = String::from_utf8_lossy(&comm)
        .trim_end_matches('\n')
        .to_string();
    (!name.is_empty()).then_some(name)
}

/// A whole `/proc/<pid>/cmdline`, `comm` or `fdinfo/<fd>` file. Each is produced whole by every
/// read (`cmdline` fills the buffer up to its end; the others are single-record seq files), so
/// a read that leaves room in the buffer has reached the end: no extra read to see 0 bytes.
/// (`fs::read` would also fstat and lseek the file for a size hint, which `/proc` does not
/// give: two more syscalls for nothing.)
fn read_proc_file(path: &str, capacity: usize) -> Option<Vec<u8>> {
    let mut file = File::open(path).ok()?;
    let mut buf = vec![0; capacity.max(64)];
    let mut len = 0;
    loop {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
        if len < buf.len() {
            break;
        }
        buf.resize(len * 2, 0);
    }
    buf.truncate(len);
    Some(buf)
}

mod naming;
mod pidns;
mod place;
mod process_info;
mod tracefs;

use super::{TableKey, TableName, TableTrust as Trust};
pub(crate) use naming::network_hazard;
pub(crate) use pidns::proc_view;
pub(crate) use place::{container_name, process_place};
pub(crate) use process_info::{
    children_of, holder_hidden_by_permission, locked_files_named, locked_lock_file_dirs,
    process_facts, process_list, user_name,
};
pub(crate) use tracefs::{LockTrace, boot_to_wall};

/// Whether `pid` is exiting and not yet a zombie (`PF_EXITING` set, state not `Z`/`X`): its
/// descriptors and command line are going while the kernel may still list its locks for a
/// moment. A zombie has released every file (and lock) already, so it holds nothing.
pub(crate) fn process_is_exiting(pid: u32) -> bool {
    const PF_EXITING: u64 = 0x4;
    read_proc_file(&format!("/proc/{pid}/stat"), 512)
        .and_then(|raw| String::from_utf8(raw).ok())
        .is_some_and(|stat| {
            let zombie = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| matches!(state, "Z" | "X"));
            !zombie && proc_parse::stat_flags(&stat).is_some_and(|f| f & PF_EXITING != 0)
        })
}

/// The process holding a lock on the file at `lock_path` when the lock query gave no pid we
/// can use: an OFD lock (no owner process), or a classic lock whose owner pid is from another
/// pid namespace than `/proc`'s. Finds descriptors of that file in `/proc/<pid>/fd` and
/// confirms the lock in the matching `fdinfo` (`lock:` lines list the locks taken through that
/// descriptor). Processes we may not inspect are skipped. (No name beside the pid: the command
/// line comes from `/proc/<pid>/cmdline`.)
///
/// Walking every process's descriptors costs about a millisecond per few hundred descriptors,
/// so where an owner was found is remembered (see [`OWNERS`]) and re-checked with one `fdinfo`
/// read, and one walk records the owners of every OFD-locked file it can see, not only this one.
///
/// A descriptor inherited by a forked child shares the lock: the oldest ancestor that shares
/// it is reported, the process that most likely took it.
pub(crate) fn find_lock_owner(lock_path: &Path) -> Option<(u32, Option<String>)> {
    let target = fs::metadata(lock_path).ok()?;
    let (key, _) = naming::table_key(lock_path, target.dev(), target.ino());
    let file = Target {
        id: FileId::of(target.dev(), target.ino()),
        key,
    };
    let (pid, fd) = remembered_owner(file).or_else(|| scan_for_owners(file))?;
    Some((locking_ancestor(pid, fd, file), None))
}

/// The other processes whose descriptors share `pid`'s lock on the file at `lock_path`: an OFD
/// lock belongs to an open file description, and a descriptor inherited across fork (or passed
/// over a socket) refers to the same description, so ending `pid` alone does not release it.
/// A process counts when one of its descriptors of the file lists the lock in its `fdinfo`
/// (the kernel lists an OFD lock only on descriptors of the owning description) and, where the
/// kernel can compare descriptions (`kcmp(KCMP_FILE)`), is the very description of `pid`'s.
/// Walks every process's descriptors: for `terminate`, not for hot paths. Processes we may not
/// inspect are not found (nor is this process).
pub(crate) fn lock_sharers(lock_path: &Path, pid: u32) -> Vec<u32> {
    let Ok(meta) = fs::metadata(lock_path) else {
        return Vec::new();
    };
    let (key, _) = naming::table_key(lock_path, meta.dev(), meta.ino());
    let id = FileId::of(meta.dev(), meta.ino());
    let locking_fds = |p: u32| -> Vec<u32> {
        FdDir::open(p).map_or_else(Vec::new, |fds| {
            fds.filter(|&(fd, file)| file == id && fdinfo_has_lock(p, fd, key))
                .map(|(fd, _)| fd)
                .collect()
        })
    };
    let theirs = locking_fds(pid);
    let Some(&their_fd) = theirs.first() else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut sharers: Vec<u32> = fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&p| p != pid && p != me)
                .filter(|&p| {
                    locking_fds(p)
                        .into_iter()
                        .any(|fd| same_description(pid, their_fd, p, fd))
                })
                .collect()
        })
        .unwrap_or_default();
    sharers.sort_unstable();
    sharers
}

/// Whether descriptor `fd1` of `pid1` and `fd2` of `pid2` refer to one open file description.
/// Both are known to carry a lock on the same file; without `kcmp` (a kernel built without it,
/// or not allowed to compare these processes) that lock line is the evidence: the kernel lists
/// an OFD lock only on descriptors of its own description, and certbot's lock is exclusive.
fn same_description(pid1: u32, fd1: u32, pid2: u32, fd2: u32) -> bool {
    const KCMP_FILE: libc::c_int = 0;
    let (Ok(p1), Ok(p2)) = (libc::pid_t::try_from(pid1), libc::pid_t::try_from(pid2)) else {
        return false;
    };
    // SAFETY: kcmp takes plain integers and compares kernel objects; it touches no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            p1,
            p2,
            KCMP_FILE,
            libc::c_ulong::from(fd1),
            libc::c_ulong::from(fd2),
        )
    };
    match r {
        0 => true,
        1..=3 => false, // 3: different, unordered
        // -1: ENOSYS, EPERM, or a process or descriptor gone (EBADF, ESRCH). A gone one
        // is looked at again by the caller's next probe; the lock line stands otherwise.
        _ => !matches!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EBADF) | Some(libc::ESRCH)
        ),
    }
}

/// A file as stat sees it (`st_dev`, inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(dev: u64, ino: u64) -> FileId {
        FileId { dev, ino }
    }
}

/// A locked file looked for: stat's identity and the lock tables' name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    id: FileId,
    key: TableKey,
}

/// Where the owners of locked files were last found: file -> (pid, fd). An entry is only a
/// hint: it is used after `/proc/<pid>/fd/<fd>` still refers to that very file and its `fdinfo`
/// shows that descriptor still holding a lock on it, so a released lock, an
/// exited process or a reused pid or fd can never produce a wrong answer, only a new walk.
static OWNERS: Mutex<Option<HashMap<FileId, (u32, u32)>>> = Mutex::new(None);

/// More entries than this and the hints are dropped (they are only a cache).
const MAX_OWNERS: usize = 4096;

fn owners() -> MutexGuard<'static, Option<HashMap<FileId, (u32, u32)>>> {
    OWNERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn remembered_owner(file: Target) -> Option<(u32, u32)> {
    let (pid, fd) = owners().as_ref()?.get(&file.id).copied()?;
    // Both checks: the descriptor still refers to this very file (stat's identity: the table's
    // name can be shared, e.g. by a btrfs snapshot's copy), and still holds a lock on it.
    if fd_refers_to(pid, fd, file.id) && fdinfo_has_lock(pid, fd, file.key) {
        return Some((pid, fd));
    }
    if let Some(map) = owners().as_mut()
        && map.get(&file.id) == Some(&(pid, fd))
    {
        map.remove(&file.id);
    }
    None
}

/// Walks `/proc/<pid>/fd` of every process, newest pid first, for descriptors holding a lock on
/// `target`, and on the way remembers the owners of every other file `/proc/locks` lists with
/// an owner-less lock (OFD). Stops at `target`'s owner. Newest first because the holders of OFD
/// locks on lock files are lockscope processes started for the test at hand, rarely the oldest
/// processes on the system: measured, this ends most walks after a few processes instead of all.
fn scan_for_owners(target: Target) -> Option<(u32, u32)> {
    let mut wanted: HashSet<TableKey> = ownerless_locked_files();
    wanted.remove(&target.key);
    // Other files' descriptors are only named (a statx and a mountinfo lookup the first time
    // a device is seen) when their inode number is one the table lists.
    let wanted_inodes: HashSet<u64> = wanted.iter().map(|k| k.2).collect();
    let mut found: Vec<(FileId, (u32, u32))> = Vec::new();
    let mut target_owner = None;
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    pids.sort_unstable_by(|a, b| b.cmp(a));
    'walk: for pid in pids {
        let Some(fds) = FdDir::open(pid) else {
            continue;
        };
        for (fd, file) in fds {
            if file == target.id {
                if fdinfo_has_lock(pid, fd, target.key) {
                    found.push((file, (pid, fd)));
                    target_owner = Some((pid, fd));
                    break 'walk;
                }
                continue;
            }
            if !wanted_inodes.contains(&file.ino) {
                continue;
            }
            let key = naming::table_key_of_fd(pid, fd, file.dev, file.ino);
            if wanted.contains(&key) && fdinfo_has_lock(pid, fd, key) {
                wanted.remove(&key);
                found.push((file, (pid, fd)));
            }
        }
    }
    let mut owners = owners();
    let map = owners.get_or_insert_with(HashMap::new);
    if map.len() + found.len() > MAX_OWNERS {
        map.clear();
    }
    map.extend(found);
    target_owner
}

/// The oldest ancestor of `pid` that shares its lock on `file` (a descriptor inherited across
/// fork shares the open file description, and so the lock), or `pid` itself.
fn locking_ancestor(mut pid: u32, fd: u32, file: Target) -> u32 {
    // A bound: a parent chain is short, and a pid reused meanwhile must not loop forever.
    for _ in 0..64 {
        let Some(parent) = read_proc_file(&format!("/proc/{pid}/stat"), 512)
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|stat| proc_parse::stat_ppid(&stat))
            .filter(|&p| p > 1)
        else {
            break;
        };
        // fork keeps descriptor numbers: the parent's copy, if it still has one, is `fd`.
        let shares = fd_refers_to(parent, fd, file.id) && fdinfo_has_lock(parent, fd, file.key);
        if !shares {
            break;
        }
        pid = parent;
    }
    pid
}

/// Files with a certbot-conflicting lock whose owner pid the kernel does not show (OFD locks;
/// `/proc/locks` prints -1), keyed as the table prints them. Empty if `/proc/locks` is unreadable.
fn ownerless_locked_files() -> HashSet<TableKey> {
    lock_rows()
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l.pid.is_none() && l.is_fcntl())
        .map(|l| (l.major, l.minor, l.inode))
        .collect()
}

/// The open descriptors of one process, each with the device and inode of the file it refers
/// to: `/proc/<pid>/fd` read once, each entry stat'ed relative to that directory (no path walk
/// through `/proc` per descriptor).
struct FdDir {
    dir: std::ptr::NonNull<libc::DIR>,
}

impl FdDir {
    fn open(pid: u32) -> Option<FdDir> {
        let path = CString::new(format!("/proc/{pid}/fd")).ok()?;
        // SAFETY: a valid NUL-terminated path; a null result is handled.
        let dir = unsafe { libc::opendir(path.as_ptr()) };
        std::ptr::NonNull::new(dir).map(|dir| FdDir { dir })
    }
}

impl FdDir {
    /// The next descriptor and the `statx` (`STATX_INO | STATX_NLINK`, see [`statx_cached`]) of
    /// the file it refers to.
    fn next_statx(&mut self) -> Option<(u32, libc::statx)> {
        loop {
            // SAFETY: `dir` is an open DIR stream owned by this struct; the entry returned is
            // valid until the next readdir on it, and is only read before that.
            let entry = unsafe { libc::readdir(self.dir.as_ptr()) };
            if entry.is_null() {
                return None;
            }
            // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated.
            let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
            let Some(fd) = name.to_str().ok().and_then(|n| n.parse::<u32>().ok()) else {
                continue; // "." and ".."
            };
            // SAFETY: dirfd of the open stream; the name is valid until the next readdir.
            if let Some(stx) = statx_cached(unsafe { libc::dirfd(self.dir.as_ptr()) }, name) {
                return Some((fd, stx));
            }
        }
    }
}

impl Iterator for FdDir {
    type Item = (u32, FileId);

    fn next(&mut self) -> Option<(u32, FileId)> {
        self.next_statx().map(|(fd, stx)| {
            (
                fd,
                FileId::of(
                    libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
                    stx.stx_ino,
                ),
            )
        })
    }
}

/// The file a `/proc/<pid>/fd/<fd>` link refers to (`name` relative to `dirfd`), without
/// asking its filesystem: `AT_STATX_DONT_SYNC` answers from the inode as the kernel has it
/// (the device and inode number never change), so a descriptor on a stopped FUSE daemon's or
/// a hung NFS server's file cannot block the walk. (A plain stat did: one process with a file
/// open on a stopped FUSE mount anywhere on the machine made every OFD holder lookup hang.)
fn file_id_at(dirfd: libc::c_int, name: &std::ffi::CStr) -> Option<FileId> {
    statx_cached(dirfd, name).map(|stx| {
        FileId::of(
            libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
            stx.stx_ino,
        )
    })
}

/// `statx` of `name` (relative to `dirfd`, following links) with `AT_STATX_DONT_SYNC`: what the
/// kernel has, never a round trip to a FUSE daemon or NFS server (see [`file_id_at`]).
pub(super) fn statx_cached(dirfd: libc::c_int, name: &std::ffi::CStr) -> Option<libc::statx> {
    // SAFETY: statx is plain C data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a directory fd (or AT_FDCWD), a NUL-terminated name, a live statx buffer.
    // Follows the magic link to the file it refers to, as stat(2) does.
    let rc = unsafe {
        libc::statx(
            dirfd,
            name.as_ptr(),
            libc::AT_STATX_DONT_SYNC,
            libc::STATX_INO | libc::STATX_NLINK,
            &mut stx,
        )
    };
    (rc == 0).then_some(stx)
}

impl Drop for FdDir {
    fn drop(&mut self) {
        // SAFETY: closes the stream opened in `FdDir::open`, exactly once.
        unsafe { libc::closedir(self.dir.as_ptr()) };
    }
}

/// Whether descriptor `fd` of `pid` refers to the file `id` (one fstatat of its `/proc` link).
fn fd_refers_to(pid: u32, fd: u32, id: FileId) -> bool {
    let Ok(path) = CString::new(format!("/proc/{pid}/fd/{fd}")) else {
        return false;
    };
    file_id_at(libc::AT_FDCWD, &path) == Some(id)
}

/// Whether descriptor `fd` of `pid` holds a certbot-conflicting lock on the file the lock
/// tables name `key`: its `fdinfo` lists only locks taken through that descriptor.
fn fdinfo_has_lock(pid: u32, fd: u32, key: TableKey) -> bool {
    fdinfo_shows(pid, fd, |l| l.blocks_certbot_on(key))
}

/// Whether a `lock:` line of `/proc/<pid>/fdinfo/<fd>` satisfies `wanted`.
fn fdinfo_shows(pid: u32, fd: u32, wanted: impl Fn(&ProcLock) -> bool) -> bool {
    read_proc_file(&format!("/proc/{pid}/fdinfo/{fd}"), 512)
        .and_then(|info| String::from_utf8(info).ok())
        .is_some_and(|info| {
            info.lines()
                .filter(|l| l.starts_with("lock:"))
                .filter_map(ProcLock::parse)
                .any(|l| wanted(&l))
        })
}

/// Whether process `pid` holds a lock of the kind `flock` says (fcntl locks that conflict with
/// certbot's, or flock(2) locks) on the very file `meta` describes: a descriptor of it refers
/// to that file (stat's device and inode) and its `fdinfo` shows the lock (`key`: the lock
/// tables' name for the file). This tells apart files the tables name alike (see
/// [`table_key_is_unique`]): each has its own inode in memory, and `fdinfo` shows only the
/// locks on the descriptor's. False when `pid`'s descriptors cannot be read (another user's
/// process, unless we are root).
pub(crate) fn holds_lock_on(pid: u32, meta: &Metadata, key: TableKey, flock: bool) -> bool {
    let file = FileId::of(meta.dev(), meta.ino());
    let wanted = |l: &ProcLock| {
        if flock {
            l.kind == "FLOCK" && (l.major, l.minor, l.inode) == key
        } else {
            l.blocks_certbot_on(key)
        }
    };
    FdDir::open(pid)
        .is_some_and(|mut fds| fds.any(|(fd, id)| id == file && fdinfo_shows(pid, fd, wanted)))
}

/// Every row of `/proc/locks`, from one read.
pub(crate) fn lock_rows() -> Option<Vec<ProcLock>> {
    let table = read_lock_table()?;
    Some(table.lines().filter_map(ProcLock::parse).collect())
}

/// `/proc/locks`, whole: open, page-sized reads until the end, close. `fs::read_to_string` would
/// add an fstat + lseek for a size `/proc` does not give, then a 32-byte first read and regrowing
/// reads; reading through `Take` into a large spare buffer skips all of that.
fn read_lock_table() -> Option<String> {
    let mut table = String::with_capacity(64 * 1024);
    File::open("/proc/locks")
        .ok()?
        .take(u64::MAX)
        .read_to_string(&mut table)
        .ok()?;
    Some(table)
}

/// Every certbot-conflicting lock on the system, from one read of `/proc/locks`, keyed by
/// (major, minor, inode). No lock file is opened, so no inotify event is caused.
pub(crate) fn lock_table() -> Option<HashMap<TableKey, Option<u32>>> {
    let rows = lock_rows()?;
    Some(
        rows.into_iter()
            .filter(ProcLock::is_fcntl)
            .map(|l| ((l.major, l.minor, l.inode), l.pid))
            .collect(),
    )
}

/// How the lock tables name the lock file `meta` describes, and how far their silence about it
/// can be trusted (see `naming`; a table of a pid namespace that is not the initial one leaves
/// out locks of processes outside it, so its silence proves nothing anywhere).
pub(crate) fn table_key(path: &Path, meta: &Metadata) -> (TableKey, Trust) {
    naming::table_key(path, meta.dev(), meta.ino())
}

/// How the lock table names the file at `path`, whose lstat gave `id` (device, inode), when
/// its rows can be matched to that file: `None` where the naming is contradicted or unknown
/// (see `naming`).
pub(crate) fn table_name(path: &Path, id: (u64, u64)) -> Option<TableName> {
    let (key, trust) = naming::table_key(path, id.0, id.1);
    (trust != Trust::Broken).then(|| TableName {
        key,
        unique: (key.0, key.1) == proc_parse::dev_major_minor(id.0),
    })
}

/// The lock table's device for stat's `st_dev`, where this process has looked it up already:
/// see `naming::cached_table_device`.
pub(crate) fn cached_table_device(st_dev: u64) -> Option<Option<(u32, u32)>> {
    naming::cached_table_device(st_dev)
}

/// What a direct lock query found on the file `meta` describes, against the lock table: see
/// `naming::record_direct_answer`.
pub(crate) fn record_direct_answer(meta: &Metadata, held: bool, row: bool, complete: bool) {
    naming::record_direct_answer(meta.dev(), held, row, complete);
}

/// Whether a lock-table row on `key` (the name [`table_key`] gives the file `meta` describes)
/// can only be that file's: the table names it by stat's own device. Where the table names it
/// by its superblock's device instead, other files can have the same name: btrfs gives the
/// whole filesystem one device in the table but each subvolume its own `st_dev`, and a
/// snapshot keeps its subvolume's inode numbers (overlayfs: one device for every layer).
pub(crate) fn table_key_is_unique(meta: &Metadata, key: TableKey) -> bool {
    (key.0, key.1) == proc_parse::dev_major_minor(meta.dev())
}

/// The inode number of the file `meta` describes (the same in stat and the lock tables).
pub(crate) fn inode_of(meta: &Metadata) -> u64 {
    meta.ino()
}
