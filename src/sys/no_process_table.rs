//! Platforms without `/proc` or another process table we read (macOS, the BSDs): the lock
//! query's pid is all we learn about a holder.

use std::path::Path;

pub(crate) use super::no_lock_table::*;

pub(crate) fn command_line(_pid: u32) -> Option<String> {
    None
}

pub(crate) fn find_lock_owner(_lock_path: &Path) -> Option<(u32, Option<String>)> {
    None
}

/// No cgroup file to read: where a process runs is not known here.
#[allow(dead_code)] // called by the holder's diagnosis
pub(crate) fn process_place(_pid: u32) -> Option<super::cgroup::CgroupPlace> {
    None
}

/// No container runtimes' files are read here.
#[allow(dead_code)]
pub(crate) fn container_name(_c: &super::cgroup::ContainerRef) -> Option<String> {
    None
}

/// No mount table is read here: no filesystem is judged a network hazard.
#[allow(dead_code)]
pub(crate) fn network_hazard(_path: &Path) -> Option<String> {
    None
}
