//! Where lockscope reads no process details (every platform but Linux): a holder is its pid
//! and command line only.

use super::proc_parse::ProcLock;
use super::{HeldFile, ProcessFacts};
use std::collections::HashSet;

pub(crate) fn process_facts(_pid: u32) -> Option<ProcessFacts> {
    None
}

pub(crate) fn children_of(_pid: u32) -> Vec<u32> {
    Vec::new()
}

pub(crate) fn user_name(_uid: u32) -> Option<String> {
    None
}

pub(crate) fn locked_files_named(_pid: u32, _file_name: &std::ffi::OsStr) -> Vec<HeldFile> {
    Vec::new()
}

pub(crate) fn other_lockers(_rows: &[ProcLock], _known_inodes: &HashSet<u64>) -> Vec<u32> {
    Vec::new()
}
