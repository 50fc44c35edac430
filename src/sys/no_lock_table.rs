//! Where there is no kernel lock table to read (every platform but Linux): the lock query on
//! the file itself is the only witness, and its pid (if any) is this process's namespace's.

use super::proc_parse::ProcLock;
use super::{LockMeta, ProcView, TableKey, TableName, TableTrust};
use std::path::Path;

/// No lock table to read.
pub(crate) fn lock_rows() -> Option<Vec<ProcLock>> {
    None
}

/// No `/proc`: a lock query's pid is this process's namespace's.
pub(crate) fn proc_view() -> ProcView {
    ProcView {
        same_namespace: true,
        initial_namespace: true,
    }
}

/// No table, so no naming of files in it that could be trusted.
pub(crate) fn table_key(_path: &Path, _meta: &LockMeta) -> (TableKey, TableTrust) {
    ((0, 0, 0), TableTrust::Broken)
}

/// No table: no row names any file.
pub(crate) fn table_name(_path: &Path, _id: (u64, u64)) -> Option<TableName> {
    None
}

/// No table, nothing looked up.
pub(crate) fn cached_table_device(_st_dev: u64) -> Option<Option<(u32, u32)>> {
    None
}

pub(crate) fn record_direct_answer(_meta: &LockMeta, _held: bool, _row: bool, _complete: bool) {}

pub(crate) fn lock_table() -> Option<std::collections::HashMap<TableKey, Option<u32>>> {
    None
}

/// No table, no holder to look at.
pub(crate) fn holds_lock_on(_pid: u32, _meta: &LockMeta, _key: TableKey, _flock: bool) -> bool {
    false
}

/// No table: no row of it names any file.
pub(crate) fn table_key_is_unique(_meta: &LockMeta, _key: TableKey) -> bool {
    false
}

pub(crate) fn inode_of(_meta: &LockMeta) -> u64 {
    0
}
