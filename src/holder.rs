//! Who holds a lock: a process id and its command line, each when it can be found.

use serde::Serialize;
use std::fmt;

/// The process holding a lock. Either field may be unknown: the pid of an open-file-description
/// lock is only found through `/proc/<pid>/fdinfo` (which needs permission to read it), and a
/// process may exit between the lock query and the command-line lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Holder {
    pub pid: Option<u32>,
    pub command: Option<String>,
}

impl Holder {
    /// This process, as other processes would see it.
    pub fn this_process() -> Holder {
        let pid = std::process::id();
        Holder {
            pid: Some(pid),
            command: crate::probe::command_line(pid),
        }
    }

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
