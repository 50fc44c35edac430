//! Who holds a lock: a process id and its command line, each when it can be found, and how
//! they are found (the lock query's pid, or the platform's process tables through `sys`).

use crate::sys;
use serde::Serialize;
use std::fmt;
use std::path::Path;

/// The process holding a lock. Either field may be unknown: the pid of an open-file-description
/// lock is only found through `/proc/<pid>/fdinfo` (which needs permission to read it), and a
/// process may exit between the lock query and the command-line lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Holder {
    /// The process id, as `/proc` (or the OS) numbers processes; `None` when not visible.
    pub pid: Option<u32>,
    /// Its command line, arguments joined by spaces (Windows: the executable path).
    pub command: Option<String>,
}

impl Holder {
    /// This process, as other processes would see it.
    pub fn this_process() -> Holder {
        let pid = std::process::id();
        Holder {
            pid: Some(pid),
            command: command_line(pid),
        }
    }

    /// A holder nobody can see (its pid and command are unknown).
    pub fn unknown() -> Holder {
        Holder {
            pid: None,
            command: None,
        }
    }

    /// Whether the holder is the calling process.
    pub fn is_this_process(&self) -> bool {
        self.pid == Some(std::process::id())
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_this_process() {
            return write!(f, "this process (pid {})", std::process::id());
        }
        match (&self.pid, &self.command) {
            (Some(pid), Some(cmd)) => write!(f, "pid {pid}: {cmd}"),
            (Some(pid), None) => write!(f, "pid {pid}"),
            (None, Some(cmd)) => write!(f, "an unknown pid: {cmd}"),
            (None, None) => write!(f, "another process (holder not visible)"),
        }
    }
}

/// Finds the process behind a conflicting lock: `pid` as the kernel's lock table reported it
/// (classic locks), or, for locks without an owner pid (OFD), through the platform's process
/// tables.
pub fn identify_holder(lock_path: &Path, pid: Option<u32>) -> Holder {
    holder_of(lock_path, pid, command_line)
}

/// Like [`identify_holder`] for the pid a lock query (`F_GETLK`) gave: that pid is in this
/// process's pid namespace, which `/proc` may not be (then the holder is looked for instead).
pub(crate) fn identify_query_holder(lock_path: &Path, pid: Option<u32>) -> Holder {
    let pid = pid.filter(|_| sys::proc_view().same_namespace);
    holder_of(lock_path, pid, command_line)
}

pub(crate) fn holder_of(
    lock_path: &Path,
    pid: Option<u32>,
    mut command_line: impl FnMut(u32) -> Option<String>,
) -> Holder {
    let (pid, name) = match pid {
        Some(pid) => (Some(pid), None),
        None => match sys::find_lock_owner(lock_path) {
            Some((pid, name)) => (Some(pid), name),
            None => (None, None),
        },
    };
    Holder {
        pid,
        // The lookup's own name for the process (Windows: the Restart Manager's app name)
        // when its command line cannot be read.
        command: pid.and_then(&mut command_line).or(name),
    }
}

/// A process's command line, arguments joined by spaces, when the platform shows it.
pub fn command_line(pid: u32) -> Option<String> {
    sys::command_line(pid)
}

/// A process's executable name without its path or arguments (Linux: `comm`, which names a
/// script rather than its interpreter), when the platform shows it. Unlike the command line it
/// carries no arguments, so no secrets passed in them.
pub fn program_name(pid: u32) -> Option<String> {
    sys::program_name(pid)
}

mod details;

pub use details::{ChildProcess, Container, ProcessDetails, ProcessState};
pub(crate) use details::{DetailsCache, timestamp};
