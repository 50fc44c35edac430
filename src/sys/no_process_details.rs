//! Where lockscope reads no process details (every platform but Linux): a holder is its pid
//! and command line only.

use super::{HeldFile, ProcessFacts};
use std::collections::HashSet;

pub(crate) fn process_facts(_pid: u32) -> Option<ProcessFacts> {
    None
}

/// No argument vector to read: a holder's command line is copied as the platform shows it.
pub(crate) fn arguments(_pid: u32) -> Option<Vec<std::ffi::OsString>> {
    None
}

pub(crate) fn children_of(_pid: u32) -> Vec<u32> {
    Vec::new()
}

pub(crate) fn user_name(_uid: u32) -> Option<String> {
    None
}

pub(crate) fn locked_files_named(
    _pid: u32,
    _file_name: &std::ffi::OsStr,
    _wanted: &HashSet<super::TableKey>,
    _unlinked_only: bool,
) -> Vec<HeldFile> {
    Vec::new()
}

/// No process table to be kept out of: a hidden holder is not a matter of permission here.
pub(crate) fn holder_hidden_by_permission(_lock_file: &std::path::Path) -> Option<Option<u32>> {
    None
}

/// No cgroup file to read: where a process runs is not known here.
pub(crate) fn process_place(_pid: u32) -> Option<super::cgroup::CgroupPlace> {
    None
}

/// No container runtimes' files are read here.
pub(crate) fn container_name(_c: &super::cgroup::ContainerRef) -> Option<String> {
    None
}

/// No mount table is read here: no filesystem is judged a network hazard.
pub(crate) fn network_hazard(_path: &std::path::Path) -> Option<String> {
    None
}

/// No lock table here: nothing held is found by name.
pub(crate) fn locked_lock_file_dirs(_file_name: &std::ffi::OsStr) -> Vec<std::path::PathBuf> {
    Vec::new()
}

/// No process table read here.
pub(crate) fn process_list() -> Vec<super::ProcessEntry> {
    Vec::new()
}

/// No trace clock here (nothing is traced): the epoch.
pub(crate) fn boot_to_wall(_boot_ns: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH
}

/// No kernel lock tracing here (it is Linux's tracefs): the recorder says so and records the
/// monitor's holds instead.
pub(crate) struct LockTrace(std::convert::Infallible);

impl LockTrace {
    pub(crate) fn start(_devices: &[(u32, u32)]) -> std::io::Result<LockTrace> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "the kernel's lock events are only traced on Linux (tracefs)",
        ))
    }

    pub(crate) fn next_events(
        &mut self,
        _wait: std::time::Duration,
    ) -> std::io::Result<Vec<super::TraceEvent>> {
        match self.0 {}
    }

    pub(crate) fn lost(&self) -> u64 {
        match self.0 {}
    }
}
