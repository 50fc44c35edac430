//! Platforms without `/proc` or another process table we read (macOS, the BSDs): the lock
//! query's pid is all we learn about a holder.

use std::path::Path;

pub(crate) use super::no_lock_table::*;
pub(crate) use super::no_process_details::*;

pub(crate) fn command_line(_pid: u32) -> Option<String> {
    None
}

pub(crate) fn program_name(_pid: u32) -> Option<String> {
    None
}

pub(crate) fn find_lock_owner(_lock_path: &Path) -> Option<(u32, Option<String>)> {
    None
}

pub(crate) fn process_is_exiting(_pid: u32) -> bool {
    false
}

pub(crate) fn lock_sharers(_lock_path: &Path, _pid: u32) -> Vec<u32> {
    Vec::new()
}
