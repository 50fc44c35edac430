//! Linux process tables: who holds a lock, from `/proc`. Reading `/proc` causes no inotify
//! events and touches no lock file.

use super::proc_parse::ProcLock;
use crate::lock::sys::Conflict;
use std::fs::{self, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The command line of `pid` from `/proc/<pid>/cmdline`, or `[comm]` for a process without one.
pub(super) fn command_line(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if !args.is_empty() {
        return Some(args.join(" "));
    }
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(format!("[{}]", comm.trim_end()))
}

/// The process holding an OFD lock on the file at `lock_path`. OFD locks have no owner pid, so
/// this walks `/proc/<pid>/fd` for descriptors of that file and confirms the lock in the
/// matching `fdinfo` (`lock:` lines). Processes we may not inspect are skipped. (No name beside
/// the pid: the command line comes from `/proc/<pid>/cmdline`.)
pub(super) fn find_lock_owner(lock_path: &Path) -> Option<(u32, Option<String>)> {
    let target = fs::metadata(lock_path).ok()?;
    let (dev, ino) = (target.dev(), target.ino());
    fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| holds_lock_on(pid, dev, ino))
        .map(|pid| (pid, None))
}

fn holds_lock_on(pid: u32, dev: u64, ino: u64) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        let same_file = fs::metadata(fd.path()).is_ok_and(|m| m.dev() == dev && m.ino() == ino);
        same_file && fdinfo_has_lock(pid, &fd.file_name().to_string_lossy(), dev, ino)
    })
}

fn fdinfo_has_lock(pid: u32, fd: &str, dev: u64, ino: u64) -> bool {
    fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).is_ok_and(|info| {
        info.lines()
            .filter(|l| l.starts_with("lock:"))
            .filter_map(ProcLock::parse)
            .any(|l| l.blocks_certbot_on(dev, ino))
    })
}

/// For a lock file we may not open (mode 0600, another user's): the kernel's lock table says
/// whether a certbot-conflicting lock is on it, without opening the file.
pub(super) fn query_without_opening(meta: &Metadata) -> Option<Conflict> {
    let table = fs::read_to_string("/proc/locks").ok()?;
    let row = table
        .lines()
        .filter_map(ProcLock::parse)
        .find(|l| l.blocks_certbot_on(meta.dev(), meta.ino()));
    Some(match row {
        Some(l) => Conflict::Held { pid: l.pid },
        None => Conflict::None,
    })
}

/// Every certbot-conflicting lock on the system, from one read of `/proc/locks`, keyed by
/// (major, minor, inode). No lock file is opened, so no inotify event is caused.
pub(super) fn lock_table() -> Option<std::collections::HashMap<(u32, u32, u64), Option<u32>>> {
    let table = fs::read_to_string("/proc/locks").ok()?;
    Some(
        table
            .lines()
            .filter_map(ProcLock::parse)
            .filter(|l| matches!(l.kind.as_str(), "POSIX" | "OFDLCK"))
            .map(|l| ((l.major, l.minor, l.inode), l.pid))
            .collect(),
    )
}

pub(super) fn file_id(meta: &Metadata) -> (u32, u32, u64) {
    let (major, minor) = super::proc_parse::dev_major_minor(meta.dev());
    (major, minor, meta.ino())
}
