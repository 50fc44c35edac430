//! Platforms where the monitor does not rely on events alone: every pass probes every directory.

use std::path::Path;

pub(super) fn events_are_complete(_dir: &Path) -> bool {
    false
}

/// A directory's identity: the hash of its canonical path (no inode numbers in std on every
/// platform; two spellings of one directory canonicalize alike).
pub(super) type DirId = (u64, u64);

pub(super) fn dir_id(path: &Path) -> Option<DirId> {
    use std::hash::{Hash, Hasher};
    let canonical = std::fs::canonicalize(path).ok()?;
    if !canonical.is_dir() {
        return None;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    canonical.hash(&mut hasher);
    Some((0, hasher.finish()))
}
