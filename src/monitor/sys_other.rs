//! Platforms where the monitor does not rely on events alone: every pass probes every directory.

use std::path::Path;

pub(super) fn events_are_complete(_dir: &Path) -> bool {
    false
}

/// A directory's identity: the hash of its canonical path (no inode numbers in std on every
/// platform; two spellings of one directory canonicalize alike).
pub(super) type DirId = (u64, u64);

/// The identity of the directory at `path`; `None` if it is not a directory now.
pub(super) fn dir_identity(path: &Path) -> Option<DirIdentity> {
    use std::hash::{Hash, Hasher};
    let canonical = std::fs::canonicalize(path).ok()?;
    if !canonical.is_dir() {
        return None;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    canonical.hash(&mut hasher);
    Some(DirIdentity {
        id: (0, hasher.finish()),
    })
}

/// What a path names now: here only its canonical path (see [`DirId`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DirIdentity {
    pub(super) id: DirId,
}

/// The calling thread's id: not used here (see [`thread_is_waiting`]).
pub(super) fn thread_id() -> i64 {
    0
}

/// Unknown here: the pool gives up on any job slower than its stall limit.
pub(super) fn thread_is_waiting(_tid: i64) -> Option<bool> {
    None
}
