//! The locks this process holds, process-wide.
//!
//! Two jobs: answer "held by this process" without opening the file, and serialize every open of
//! a lock file in this process (acquire, release, probe) so that on platforms with classic POSIX
//! locks no probe's close can silently drop a lock another thread is taking or holds.

use crate::sys::FileKey;
use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

static HELD: Mutex<HeldLocks> = Mutex::new(HeldLocks { keys: None });

pub(crate) struct HeldLocks {
    keys: Option<HashSet<FileKey>>,
}

impl HeldLocks {
    pub(crate) fn contains(&self, key: &FileKey) -> bool {
        self.keys.as_ref().is_some_and(|k| k.contains(key))
    }

    pub(crate) fn insert(&mut self, key: FileKey) {
        self.keys.get_or_insert_with(HashSet::new).insert(key);
    }

    pub(crate) fn remove(&mut self, key: &FileKey) {
        if let Some(keys) = self.keys.as_mut() {
            keys.remove(key);
        }
    }
}

/// Locks the registry. A panic elsewhere while it was locked leaves the set itself consistent
/// (every mutation is a single insert or remove), so poisoning is ignored.
pub(crate) fn lock() -> MutexGuard<'static, HeldLocks> {
    HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The registry as one acquire or release uses it. Where closing any descriptor drops the
/// process's classic locks (`CLOSE_DROPS_LOCKS`), it stays locked across that operation's
/// filesystem calls, so no probe of this process can open (and close) the file meanwhile. With
/// OFD locks (Linux) closes drop nothing, so it is only locked for each look or change: an
/// acquire stuck on a filesystem that stopped answering must not stop every probe in the
/// process (the monitor's other directories, the app's window).
pub(crate) enum Session {
    Serialized(MutexGuard<'static, HeldLocks>),
    PerCall,
}

impl Session {
    pub(crate) fn begin() -> Session {
        if crate::sys::CLOSE_DROPS_LOCKS {
            Session::Serialized(lock())
        } else {
            Session::PerCall
        }
    }

    pub(crate) fn contains(&self, key: &FileKey) -> bool {
        match self {
            Session::Serialized(held) => held.contains(key),
            Session::PerCall => lock().contains(key),
        }
    }

    pub(crate) fn insert(&mut self, key: FileKey) {
        match self {
            Session::Serialized(held) => held.insert(key),
            Session::PerCall => lock().insert(key),
        }
    }

    pub(crate) fn remove(&mut self, key: &FileKey) {
        match self {
            Session::Serialized(held) => held.remove(key),
            Session::PerCall => lock().remove(key),
        }
    }
}
