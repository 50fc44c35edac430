//! Platforms without `/proc`: the lock query's pid is all we learn about a holder.

use super::proc_parse::ProcLock;
use crate::lock::sys::Conflict;
use std::fs::Metadata;
use std::path::Path;

pub(super) fn command_line(_pid: u32) -> Option<String> {
    None
}

pub(super) fn find_lock_owner(_lock_path: &Path) -> Option<(u32, Option<String>)> {
    None
}

/// No lock table to read.
pub(super) fn lock_rows() -> Option<Vec<ProcLock>> {
    None
}

pub(super) fn conflict_in(_rows: &[ProcLock], _meta: &Metadata) -> Conflict {
    Conflict::None
}

pub(super) fn lock_table() -> Option<std::collections::HashMap<(u32, u32, u64), Option<u32>>> {
    None
}

pub(super) fn file_id(_meta: &Metadata) -> (u32, u32, u64) {
    (0, 0, 0)
}
