//! What `/proc` tells about a process beyond its command line: owner, state, start time, what
//! it is blocked on, its children and the lock files it holds. Each read is of the process's
//! own small `/proc` files (no lock file is opened, so no inotify event is caused). Everything
//! read here comes from a process a local user controls: it is parsed, never trusted.

use super::super::{HeldFile, ProcessFacts, TableKey};
use super::proc_parse;
use super::read_proc_file;
use std::collections::HashSet;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// The facts about `pid` that `/proc/<pid>/stat`, `status` and `syscall` give. `None` when the
/// process is gone.
pub(crate) fn process_facts(pid: u32) -> Option<ProcessFacts> {
    let stat = read_text(&format!("/proc/{pid}/stat"), 1024)?;
    let (state, start_ticks) = proc_parse::stat_state_and_start(&stat)?;
    let (uid, nspids) = read_text(&format!("/proc/{pid}/status"), 4096)
        .map(|s| proc_parse::status_uid_and_nspids(&s))
        .unwrap_or_default();
    let waiting_for = match state {
        'S' => blocked_on(pid),
        'D' => read_text(&format!("/proc/{pid}/wchan"), 128)
            .filter(|w| !w.is_empty() && w != "0")
            .map(|w| format!("the kernel, uninterruptibly (in {w})")),
        _ => None,
    };
    Some(ProcessFacts {
        state,
        uid,
        started: boot_time().map(|boot| boot + ticks(start_ticks)),
        pid_in_namespace: nspids.last().copied().filter(|_| nspids.len() > 1),
        waiting_for,
    })
}

fn read_text(path: &str, capacity: usize) -> Option<String> {
    let raw = read_proc_file(path, capacity)?;
    Some(String::from_utf8_lossy(&raw).trim_end().to_string())
}

fn ticks(n: u64) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second)
        .ok()
        .filter(|&t| t > 0)
        .unwrap_or(100);
    Duration::from_secs(n / per_second)
        + Duration::from_nanos((n % per_second) * 1_000_000_000 / per_second)
}

/// When the system booted, as the wall clock sees it: now minus the time since boot
/// (CLOCK_BOOTTIME, which process start times count from). Finer than `/proc/stat`'s whole-
/// second `btime`.
fn boot_time() -> Option<SystemTime> {
    let mut since_boot = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a live out-pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut since_boot) } != 0 {
        return None;
    }
    let since_boot = Duration::new(
        u64::try_from(since_boot.tv_sec).ok()?,
        u32::try_from(since_boot.tv_nsec).ok()?,
    );
    SystemTime::now().checked_sub(since_boot)
}

/// System call numbers that wait for input on a descriptor or for a child, per architecture.
mod nr {
    #[cfg(target_arch = "x86_64")]
    pub(super) const READ: &[u64] = &[0, 17, 19]; // read, pread64, readv
    #[cfg(target_arch = "x86_64")]
    pub(super) const SELECT: &[u64] = &[23, 270]; // select, pselect6
    #[cfg(target_arch = "x86_64")]
    pub(super) const POLL: &[u64] = &[7, 271]; // poll, ppoll
    #[cfg(target_arch = "x86_64")]
    pub(super) const WAIT: &[u64] = &[61, 247]; // wait4, waitid

    #[cfg(target_arch = "aarch64")]
    pub(super) const READ: &[u64] = &[63, 65, 67]; // read, readv, pread64
    #[cfg(target_arch = "aarch64")]
    pub(super) const SELECT: &[u64] = &[72]; // pselect6
    #[cfg(target_arch = "aarch64")]
    pub(super) const POLL: &[u64] = &[73]; // ppoll
    #[cfg(target_arch = "aarch64")]
    pub(super) const WAIT: &[u64] = &[260, 95]; // wait4, waitid

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub(super) const READ: &[u64] = &[];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub(super) const SELECT: &[u64] = &[];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub(super) const POLL: &[u64] = &[];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub(super) const WAIT: &[u64] = &[];
}

/// What a sleeping process waits for, where its system call tells: input from a terminal (a
/// read, or a select/poll on one descriptor, that is a tty: certbot at a prompt waits in
/// `pselect6(1, {0}, ...)`), or a child to exit (a hook). `/proc/<pid>/syscall` needs the
/// right to ptrace the process (root, or its owner); otherwise nothing is said.
fn blocked_on(pid: u32) -> Option<String> {
    let line = read_text(&format!("/proc/{pid}/syscall"), 256)?;
    let (number, args) = proc_parse::blocked_syscall(&line)?;
    if nr::WAIT.contains(&number) {
        // wait4(pid, ...): a positive pid is one child; waitid(P_PID=1, id, ...) likewise.
        let child = if number == nr::WAIT[0] {
            i32::try_from(args[0] as i64).ok().filter(|&p| p > 0)
        } else {
            (args[0] == 1)
                .then(|| i32::try_from(args[1]).ok())
                .flatten()
        };
        return Some(match child {
            Some(child) => format!("child process {child} to exit"),
            None => "a child process to exit".to_string(),
        });
    }
    let fd = if nr::READ.contains(&number) {
        u32::try_from(args[0]).ok()?
    } else if nr::SELECT.contains(&number) && args[0] == 1 {
        // nfds 1: the only descriptor in the sets is 0.
        0
    } else if nr::POLL.contains(&number) && args[1] == 1 {
        polled_fd(pid, args[0])?
    } else {
        return None;
    };
    let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    is_terminal(&target).then(|| format!("terminal input on {}", target.display()))
}

/// The descriptor of the single `struct pollfd` at `address` in `pid`'s memory (reading
/// `/proc/<pid>/mem` needs the same right as `syscall`).
fn polled_fd(pid: u32, address: u64) -> Option<u32> {
    use std::os::unix::fs::FileExt;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut pollfd = [0u8; 4];
    mem.read_exact_at(&mut pollfd, address).ok()?;
    u32::try_from(i32::from_ne_bytes(pollfd)).ok()
}

fn is_terminal(target: &std::path::Path) -> bool {
    let text = target.as_os_str().as_encoded_bytes();
    text.starts_with(b"/dev/pts/") || text.starts_with(b"/dev/tty") || text == b"/dev/console"
}

/// The children of `pid` (every thread's, from `/proc/<pid>/task/<tid>/children`).
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children: Vec<u32> = tasks
        .filter_map(|t| t.ok()?.file_name().into_string().ok())
        .filter_map(|tid| read_text(&format!("/proc/{pid}/task/{tid}/children"), 256))
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    children.sort_unstable();
    children.dedup();
    children
}

/// The name of user `uid` from the system's user database (NSS: files, LDAP, ...).
pub(crate) fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: plain C struct, filled by getpwuid_r.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: live out-pointers and a buffer of the length passed.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: getpwuid_r succeeded: pw_name points to a NUL-terminated string in `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

/// The lock files named `file_name` that `pid` holds fcntl locks on, found through its
/// descriptors. `wanted`: the files (as the lock table names them) the table shows `pid`
/// locking that the caller needs found; only descriptors of those inodes are looked at, and
/// the walk ends when all are found (a database with 19,000 descriptors and its lock file
/// opened first costs a few `statx`, not 19,000). Empty `wanted`: the table names no pid for
/// this process's locks (OFD locks), so every descriptor is looked at, and its `fdinfo` says
/// whether it holds one. `unlinked_only`: only files with no name left (link count 0) are
/// wanted; the others cost no `readlink`.
pub(crate) fn locked_files_named(
    pid: u32,
    file_name: &std::ffi::OsStr,
    wanted: &HashSet<TableKey>,
    unlinked_only: bool,
) -> Vec<HeldFile> {
    let Some(mut fds) = super::FdDir::open(pid) else {
        return Vec::new();
    };
    let bounded = !wanted.is_empty();
    let inodes: HashSet<u64> = wanted.iter().map(|&(_, _, ino)| ino).collect();
    let mut left = wanted.clone();
    let mut held: Vec<HeldFile> = Vec::new();
    let mut devices: std::collections::HashMap<u64, TableKey> = std::collections::HashMap::new();
    while !(bounded && left.is_empty()) {
        // The descriptor's file itself (its link resolves even when the name is gone), as the
        // kernel has it: a holder's file on a stopped FUSE mount must not block this.
        let Some((fd, stx)) = fds.next_statx() else {
            break;
        };
        let st_dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
        if bounded && !inodes.contains(&stx.stx_ino) {
            continue;
        }
        // Named as the table names it (btrfs and overlayfs: not stat's device), so that a file
        // on another filesystem with the same inode number is not taken for the one wanted.
        // The device's naming is looked up (and the mount table's change re-checked) once per
        // device per walk.
        let mut key = || {
            let (major, minor, _) = *devices
                .entry(st_dev)
                .or_insert_with(|| super::naming::table_key_of_fd(pid, fd, st_dev, stx.stx_ino));
            (major, minor, stx.stx_ino)
        };
        let known_key = if bounded {
            let key = key();
            if !left.remove(&key) {
                continue;
            }
            Some(key)
        } else {
            None
        };
        if unlinked_only && stx.stx_nlink > 0 {
            continue;
        }
        let Ok(target) = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
            continue;
        };
        let mut bytes = target.into_os_string().into_vec();
        const DELETED: &[u8] = b" (deleted)";
        if bytes.ends_with(DELETED) {
            bytes.truncate(bytes.len() - DELETED.len());
        }
        let path = PathBuf::from(std::ffi::OsString::from_vec(bytes));
        if path.file_name() != Some(file_name) || !path.is_absolute() {
            continue;
        }
        // A bounded walk looks only at files the table shows this pid locking; otherwise the
        // descriptor's own `fdinfo` must show the lock.
        let locked = bounded
            || read_text(&format!("/proc/{pid}/fdinfo/{fd}"), 512).is_some_and(|info| {
                info.lines()
                    .filter(|l| l.starts_with("lock:"))
                    .filter_map(proc_parse::ProcLock::parse)
                    .any(|l| l.is_fcntl())
            });
        let id = (st_dev, stx.stx_ino);
        if locked && !held.iter().any(|h| h.id == id) {
            held.push(HeldFile {
                path,
                deleted: stx.stx_nlink == 0,
                id,
                key: known_key.unwrap_or_else(key),
            });
        }
    }
    held
}

/// Whether the holder of `lock_file`'s lock may be hidden from this process by permission, not
/// by a pid namespace: `/proc` shows processes whose descriptor tables (`/proc/<pid>/fd`, where
/// the owner of an OFD lock is found) this process may not read (another user's, without root).
/// `Some(owner)`: it may, and the uid owning the lock file when that is not this process's.
pub(crate) fn holder_hidden_by_permission(lock_file: &std::path::Path) -> Option<Option<u32>> {
    use std::os::unix::fs::MetadataExt;
    let blocked = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
        });
    if !blocked {
        return None;
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    Some(
        std::fs::symlink_metadata(lock_file)
            .ok()
            .map(|m| m.uid())
            .filter(|&uid| uid != me),
    )
}

/// The directories of the lock files named `file_name` that the lock table shows held now,
/// each row's file found through its holder's descriptors (rows without an owner pid, OFD
/// locks: through every process's). A removed file's directory is included: its lock is an
/// orphan there.
pub(crate) fn locked_lock_file_dirs(file_name: &std::ffi::OsStr) -> Vec<PathBuf> {
    let rows = super::lock_rows().unwrap_or_default();
    let mut by_pid: std::collections::BTreeMap<u32, HashSet<TableKey>> = Default::default();
    let mut ownerless = false;
    for row in rows.iter().filter(|r| r.is_fcntl()) {
        match row.pid {
            Some(pid) => {
                by_pid.entry(pid).or_default().insert(row.key());
            }
            None => ownerless = true,
        }
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut add = |files: Vec<HeldFile>| {
        dirs.extend(
            files
                .iter()
                .filter_map(|f| f.path.parent())
                .map(PathBuf::from),
        );
    };
    for (&pid, keys) in &by_pid {
        add(locked_files_named(pid, file_name, keys, false));
    }
    if ownerless {
        for pid in all_pids().into_iter().filter(|p| !by_pid.contains_key(p)) {
            add(locked_files_named(pid, file_name, &HashSet::new(), false));
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Every process this user can see: its arguments and working directory (where readable).
pub(crate) fn process_list() -> Vec<super::super::ProcessEntry> {
    all_pids()
        .into_iter()
        .filter_map(|pid| {
            let raw = read_proc_file(&format!("/proc/{pid}/cmdline"), 64 * 1024)?;
            let argv = raw
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| std::ffi::OsString::from_vec(a.to_vec()))
                .collect();
            Some(super::super::ProcessEntry {
                argv,
                cwd: std::fs::read_link(format!("/proc/{pid}/cwd")).ok(),
            })
        })
        .collect()
}
