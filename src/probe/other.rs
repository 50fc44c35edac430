//! Platforms without `/proc`: the lock query's pid is all we learn about a holder.

use super::proc_parse::ProcLock;
use super::{ProcView, TableKey, TableTrust};
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

/// No `/proc`: a lock query's pid is this process's namespace's, and there is no lock table.
pub(super) fn proc_view() -> ProcView {
    ProcView {
        same_namespace: true,
        initial_namespace: true,
    }
}

pub(super) fn row_on(_rows: &[ProcLock], _key: TableKey) -> Option<&ProcLock> {
    None
}

pub(super) fn table_key(_path: &Path, _meta: &Metadata) -> (TableKey, TableTrust) {
    ((0, 0, 0), TableTrust::Broken)
}

pub(super) fn record_direct_answer(_meta: &Metadata, _held: bool, _row: bool, _complete: bool) {}

pub(super) fn lock_table() -> Option<std::collections::HashMap<TableKey, Option<u32>>> {
    None
}

pub(super) fn inode_of(_meta: &Metadata) -> u64 {
    0
}
