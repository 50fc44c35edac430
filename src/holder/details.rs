//! What a holder process is and does, beyond its pid and command line: its user, start time,
//! state, what it waits for, its children, and where it runs (systemd unit, container). Read
//! from the OS on demand (only for held locks: it costs a few `/proc` reads per process).

use crate::sys;
use jiff::{Timestamp, Unit};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

/// A holder's details. Every field may be unknown (another platform, a process that exited,
/// `/proc` files we may not read). Serialized into `holder` of the CLI's JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessDetails {
    /// The user the process runs as (effective uid), by name.
    pub user: Option<String>,
    /// The effective uid.
    pub uid: Option<u32>,
    /// When the process started.
    pub started: Option<Timestamp>,
    /// What the kernel says it is doing.
    pub process_state: Option<ProcessState>,
    /// What it is blocked on, in words ("terminal input on /dev/pts/3", "child process 812 to
    /// exit"), where Linux can tell.
    pub waiting_for: Option<String>,
    /// Its descendants (a hook and what the hook runs), parents before children.
    pub children: Vec<ChildProcess>,
    /// The systemd unit it runs in (`certbot.service`, `cron.service`, `session-3.scope`).
    pub unit: Option<String>,
    /// The container it runs in, if any.
    pub container: Option<Container>,
    /// Its arguments as the kernel keeps them, where the platform shows them (Linux): what the
    /// app copies, shell-quoted, as the holder's command line. Not in JSON (`command` is).
    #[serde(skip)]
    pub arguments: Option<Vec<std::ffi::OsString>>,
}

/// A descendant of a holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildProcess {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid (the holder or another descendant).
    pub parent: u32,
    /// Its command line.
    pub command: Option<String>,
    /// When it started.
    pub started: Option<Timestamp>,
    /// What the kernel says it is doing.
    pub process_state: Option<ProcessState>,
    /// What it is blocked on, where Linux can tell.
    pub waiting_for: Option<String>,
}

/// A container a holder runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    /// docker, podman, containerd, kubernetes, cri-o or lxc.
    pub runtime: String,
    /// The runtime's id for it.
    pub id: String,
    /// Its name, where the runtime's files are readable.
    pub name: Option<String>,
    /// The holder's pid inside the container's pid namespace.
    pub pid: Option<u32>,
}

/// A process's state, as `/proc/<pid>/stat` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessState {
    /// Running or runnable (R).
    Running,
    /// Waiting for something, interruptibly (S): input, a child, a timer.
    Sleeping,
    /// In an uninterruptible wait in the kernel (D): usually I/O, e.g. a hung NFS server.
    Uninterruptible,
    /// Stopped by a signal (T: Ctrl-Z, SIGSTOP).
    Stopped,
    /// Stopped by a debugger (t).
    Traced,
    /// Exited, not yet reaped by its parent (Z).
    Zombie,
    /// Being torn down (X).
    Dead,
    /// An idle kernel thread (I).
    Idle,
    /// Another state letter.
    Other,
}

impl ProcessState {
    fn from_letter(letter: char) -> ProcessState {
        match letter {
            'R' => ProcessState::Running,
            'S' => ProcessState::Sleeping,
            'D' => ProcessState::Uninterruptible,
            'T' => ProcessState::Stopped,
            't' => ProcessState::Traced,
            'Z' => ProcessState::Zombie,
            'X' | 'x' => ProcessState::Dead,
            'I' => ProcessState::Idle,
            _ => ProcessState::Other,
        }
    }

    /// The state in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            ProcessState::Running => "running",
            ProcessState::Sleeping => "sleeping",
            ProcessState::Uninterruptible => "in an uninterruptible wait (usually I/O)",
            ProcessState::Stopped => "stopped (by a signal: Ctrl-Z or SIGSTOP)",
            ProcessState::Traced => "stopped by a debugger",
            ProcessState::Zombie => "exited, not yet reaped by its parent (zombie)",
            ProcessState::Dead => "exiting",
            ProcessState::Idle => "idle",
            ProcessState::Other => "in an unusual state",
        }
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Descendants listed at most (a fork bomb must not make a report unbounded).
const MAX_CHILDREN: usize = 64;

/// A wall-clock time as reports show it: to the millisecond.
pub(crate) fn timestamp(time: SystemTime) -> Option<Timestamp> {
    Timestamp::try_from(time)
        .ok()?
        .round(Unit::Millisecond)
        .ok()
}

/// Details read once per process and user within one report (a holder of three locks is
/// looked at once).
#[derive(Debug, Default)]
pub(crate) struct DetailsCache {
    details: HashMap<u32, ProcessDetails>,
    users: HashMap<u32, Option<String>>,
    commands: HashMap<u32, Option<String>>,
}

impl DetailsCache {
    /// The details of `pid`.
    pub(crate) fn details(&mut self, pid: u32) -> ProcessDetails {
        if let Some(d) = self.details.get(&pid) {
            return d.clone();
        }
        let d = self.read(pid);
        self.details.insert(pid, d.clone());
        d
    }

    fn read(&mut self, pid: u32) -> ProcessDetails {
        let facts = sys::process_facts(pid);
        let uid = facts.as_ref().and_then(|f| f.uid);
        let user = uid.and_then(|uid| {
            self.users
                .entry(uid)
                .or_insert_with(|| sys::user_name(uid))
                .clone()
        });
        let place = sys::process_place(pid);
        let container = place
            .as_ref()
            .and_then(|p| p.container.as_ref())
            .map(|c| Container {
                runtime: c.runtime.to_string(),
                id: c.id.clone(),
                name: sys::container_name(c),
                pid: facts.as_ref().and_then(|f| f.pid_in_namespace),
            });
        ProcessDetails {
            user,
            uid,
            started: facts.as_ref().and_then(|f| f.started).and_then(timestamp),
            process_state: facts.as_ref().map(|f| ProcessState::from_letter(f.state)),
            waiting_for: facts.as_ref().and_then(|f| f.waiting_for.clone()),
            children: self.descendants(pid),
            unit: place.and_then(|p| p.unit),
            container,
            arguments: sys::arguments(pid),
        }
    }

    /// `pid`'s descendants, breadth first, at most [`MAX_CHILDREN`].
    fn descendants(&mut self, pid: u32) -> Vec<ChildProcess> {
        let mut found = Vec::new();
        let mut parents = std::collections::VecDeque::from([pid]);
        while let Some(parent) = parents.pop_front() {
            for child in sys::children_of(parent) {
                if found.len() == MAX_CHILDREN {
                    return found;
                }
                let facts = sys::process_facts(child);
                found.push(ChildProcess {
                    pid: child,
                    parent,
                    command: self.command_line(child),
                    started: facts.as_ref().and_then(|f| f.started).and_then(timestamp),
                    process_state: facts.as_ref().map(|f| ProcessState::from_letter(f.state)),
                    waiting_for: facts.and_then(|f| f.waiting_for),
                });
                parents.push_back(child);
            }
        }
        found
    }

    /// `pid`'s command line, read once.
    pub(crate) fn command_line(&mut self, pid: u32) -> Option<String> {
        self.commands
            .entry(pid)
            .or_insert_with(|| sys::command_line(pid))
            .clone()
    }
}
