//! Why a lock is stuck: who holds it since when and what the holder is doing (its details),
//! the other certbot locks it holds (the lock set), and hazards the state alone hides
//! (orphaned locks, flock(2) users, filesystems whose locks other hosts do not see, holders
//! we cannot see). Built on a probe's answer; costs `/proc` reads only where something is held,
//! plus one look at the lock table for orphans.

mod explain;

pub use explain::explain;

use crate::holder::{DetailsCache, Holder, ProcessDetails};
use crate::probe::{LockState, PathProbe};
use crate::sys::{self, HeldFile, proc_parse::ProcLock};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What lockscope can tell about one lock beyond its state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// When the lock was taken, and how that is known.
    pub held_since: Option<HeldSince>,
    /// The holder's details, when held by a visible process.
    pub holder: Option<ProcessDetails>,
    /// The directories of the other lock files (same name) the holder holds: certbot locks its
    /// config, work and logs directories and the web server's.
    pub lock_set: Vec<PathBuf>,
    /// What the state alone does not say.
    pub warnings: Vec<Warning>,
}

/// When a lock was taken, as far as it can be known.
///
/// Only the monitor's observation times the lock itself. Nothing on a lock file records when a
/// lock was taken on it (certbot opens an existing file without truncating it: its times do not
/// move, measured with certbot 5.8.0), so the file-based sources are the earliest the lock can
/// have been taken: exact when the holder created the file as it locked (certbot's usual way,
/// since it deletes the file on release), earlier than the truth when it took a leftover file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeldSince {
    /// The time.
    pub time: Timestamp,
    /// How it is known.
    pub source: HeldSinceSource,
}

/// How [`HeldSince`] is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldSinceSource {
    /// The lock file's birth time, the holder started no later: the lock was taken then or
    /// after (then, if the holder created the file as it locked).
    LockFileCreated,
    /// The holder's start time: the lock file is older than the holder (left by an earlier
    /// run), so the lock was taken some time after this.
    HolderStarted,
    /// The monitor saw the lock being taken (its previous look found it not held).
    Observed,
}

impl HeldSinceSource {
    /// The source in a few words ("when lockscope saw it taken").
    pub fn describe(self) -> &'static str {
        match self {
            HeldSinceSource::LockFileCreated => {
                "at the earliest: when the lock file was created (a leftover file is older \
                 than its lock)"
            }
            HeldSinceSource::HolderStarted => {
                "at the earliest: when the holder started (the lock file is older)"
            }
            HeldSinceSource::Observed => "when lockscope saw it taken",
        }
    }

    /// Whether the time is only the earliest the lock can have been taken (file-based), not
    /// when it was seen taken.
    pub fn is_earliest(self) -> bool {
        !matches!(self, HeldSinceSource::Observed)
    }
}

/// A hazard: something about a lock its state alone does not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Its kind.
    pub kind: WarningKind,
    /// One sentence for a person.
    pub message: String,
    /// The process concerned, if any (the flock holder, the orphaned lock's holder).
    pub holder: Option<Holder>,
}

/// The kinds of [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// A process holds a lock on a lock file of this directory that was deleted or replaced:
    /// a certbot is still running here, and another one can start beside it.
    OrphanedLock,
    /// A flock(2) lock on the lock file, which certbot's fcntl lock ignores.
    Flock,
    /// The filesystem's locks may not exclude other machines (NFS `nolock`, CIFS `nobrl`,
    /// FUSE, ...).
    NetworkFilesystem,
    /// Locked by a process this system's `/proc` does not show.
    HolderNotVisible,
    /// Locked by a process this user may not look up: the owner of an OFD lock is found in
    /// `/proc/<pid>/fd`, which only the process's user and root may read. Root sees it.
    HolderNotPermitted,
}

impl WarningKind {
    /// The kind's name in JSON (`orphaned-lock`, ...).
    pub fn name(self) -> &'static str {
        match self {
            WarningKind::OrphanedLock => "orphaned-lock",
            WarningKind::Flock => "flock",
            WarningKind::NetworkFilesystem => "network-filesystem",
            WarningKind::HolderNotVisible => "holder-not-visible",
            WarningKind::HolderNotPermitted => "holder-not-permitted",
        }
    }
}

/// Diagnoses many locks at about one moment, sharing what can be shared: each process's
/// details, the lock table and each locker's lock files are read once. Use a new one per pass.
#[derive(Debug, Default)]
pub struct Diagnoser {
    details: DetailsCache,
    /// `/proc/locks`, read at the first orphan check.
    rows: Option<Option<Vec<ProcLock>>>,
    /// Inodes of lock files this batch knows by name: a lock on one of them is no orphan.
    known_inodes: HashSet<u64>,
    /// Per locking pid, the lock files (of the name asked) it holds locks on.
    held_files: HashMap<(u32, OsString), Vec<HeldFile>>,
    /// Directories as `/proc` spells paths (canonical), per directory as given.
    canonical: HashMap<PathBuf, Option<PathBuf>>,
    /// The pids with locks on files not in `known_inodes` (recomputed when it grows).
    lockers: Option<Vec<u32>>,
    /// Network-filesystem hazards per filesystem (stat's device).
    hazards: HashMap<u64, Option<String>>,
}

/// What a probe's lstat already saw of a lock file.
#[derive(Debug, Clone, Copy)]
struct Seen {
    lock_file_id: Option<(u64, u64)>,
    device: Option<u64>,
}

impl Diagnoser {
    /// An empty diagnoser.
    pub fn new() -> Diagnoser {
        Diagnoser::default()
    }

    /// Diagnoses each probe (like [`Diagnoser::diagnose`]), knowing all their lock files at
    /// once: only locks on other files are looked at as possible orphans.
    pub fn diagnose_all(&mut self, probes: &[PathProbe]) -> Vec<Diagnosis> {
        for probe in probes {
            if let Some((_, ino)) = probe.lock_file_id {
                self.known_inodes.insert(ino);
            }
        }
        probes.iter().map(|p| self.diagnose(p, None)).collect()
    }

    /// Diagnoses one probed lock. `observed_since`: when a monitor saw this lock taken (it
    /// wins over what the files say).
    pub fn diagnose(&mut self, probe: &PathProbe, observed_since: Option<SystemTime>) -> Diagnosis {
        // The probe's own lstat names the lock file and its filesystem (where the platform
        // tells): no second look.
        let seen = Seen {
            lock_file_id: probe.lock_file_id,
            device: probe.device,
        };
        self.diagnose_seen(
            &probe.dir,
            &probe.lock_file,
            probe.state.as_ref().ok(),
            probe.flock_holders(),
            observed_since,
            seen,
        )
    }

    /// The diagnosis of the lock file `lock_file` in `dir`, whose probe said `state` (`None`:
    /// the probe failed) and found `flock_holders`.
    pub fn diagnose_lock(
        &mut self,
        dir: &Path,
        lock_file: &Path,
        state: Option<&LockState>,
        flock_holders: &[Holder],
        observed_since: Option<SystemTime>,
    ) -> Diagnosis {
        let lock_file_id = sys::file_id(lock_file);
        let seen = Seen {
            lock_file_id,
            device: lock_file_id.map(|(dev, _)| dev),
        };
        self.diagnose_seen(dir, lock_file, state, flock_holders, observed_since, seen)
    }

    fn diagnose_seen(
        &mut self,
        dir: &Path,
        lock_file: &Path,
        state: Option<&LockState>,
        flock_holders: &[Holder],
        observed_since: Option<SystemTime>,
        seen: Seen,
    ) -> Diagnosis {
        let current = seen.lock_file_id;
        if let Some((_, ino)) = current
            && self.known_inodes.insert(ino)
        {
            self.lockers = None;
        }
        let lock_name = lock_file.file_name().unwrap_or_default().to_os_string();
        let mut diagnosis = Diagnosis::default();
        let holder = state.and_then(LockState::holder);
        if let Some(pid) = holder.as_ref().and_then(|h| h.pid) {
            let details = self.details.details(pid);
            diagnosis.held_since = held_since(lock_file, details.started, observed_since);
            diagnosis.lock_set = self.lock_set(pid, dir, &lock_name);
            diagnosis.holder = Some(details);
        } else if state.is_some_and(LockState::is_held) {
            diagnosis.held_since = held_since(lock_file, None, observed_since);
            diagnosis.warnings.push(hidden_holder(lock_file));
        }
        for orphan in self.orphans(dir, &lock_name, current) {
            diagnosis.warnings.push(orphan);
        }
        for holder in flock_holders {
            diagnosis.warnings.push(Warning {
                kind: WarningKind::Flock,
                message: format!(
                    "a flock(2) lock on the lock file by {holder}; it does not exclude certbot"
                ),
                holder: Some(holder.clone()),
            });
        }
        if let Some(reason) = self.network_hazard(dir, seen.device) {
            diagnosis.warnings.push(Warning {
                kind: WarningKind::NetworkFilesystem,
                message: reason,
                holder: None,
            });
        }
        diagnosis
    }

    /// Why `dir`'s filesystem (stat's `device`, when known) may not share certbot's lock with
    /// other machines: looked up once per filesystem per batch.
    fn network_hazard(&mut self, dir: &Path, device: Option<u64>) -> Option<String> {
        match device {
            Some(dev) => self
                .hazards
                .entry(dev)
                .or_insert_with(|| sys::network_hazard(dir))
                .clone(),
            None => sys::network_hazard(dir),
        }
    }

    /// The directories of `pid`'s other lock files named `lock_name`.
    fn lock_set(&mut self, pid: u32, dir: &Path, lock_name: &OsString) -> Vec<PathBuf> {
        let here = self.canonical(dir);
        let mut dirs: Vec<PathBuf> = self
            .held_files(pid, lock_name)
            .iter()
            .filter(|f| !f.deleted)
            .filter_map(|f| f.path.parent())
            .filter(|d| Some(*d) != here.as_deref())
            .map(Path::to_path_buf)
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Locks on files that were `dir/lock_name` and are no longer (deleted, or replaced by
    /// the file now `current`).
    fn orphans(
        &mut self,
        dir: &Path,
        lock_name: &OsString,
        current: Option<(u64, u64)>,
    ) -> Vec<Warning> {
        let rows = self
            .rows
            .get_or_insert_with(sys::lock_rows)
            .as_deref()
            .unwrap_or_default();
        let lockers = self
            .lockers
            .get_or_insert_with(|| sys::other_lockers(rows, &self.known_inodes))
            .clone();
        if lockers.is_empty() {
            return Vec::new();
        }
        // A directory that is not there names no lock file to orphan: no locker's descriptors
        // are walked for it (a process with 19,000 of them made status of a missing directory
        // take 123 ms).
        let Some(here) = self.canonical(dir) else {
            return Vec::new();
        };
        // Only a locker with a file of this name could be holding this directory's: most
        // lockers on a system are other programs.
        let lockers: Vec<u32> = lockers
            .into_iter()
            .filter(|&pid| !self.held_files(pid, lock_name).is_empty())
            .collect();
        let mut warnings = Vec::new();
        for pid in lockers {
            let orphaned = self.held_files(pid, lock_name).iter().find(|f| {
                f.path.parent() == Some(here.as_path()) && (f.deleted || Some(f.id) != current)
            });
            let Some(file) = orphaned else {
                continue;
            };
            let what = if file.deleted { "deleted" } else { "replaced" };
            let holder = Holder {
                pid: Some(pid),
                command: self.details.command_line(pid),
            };
            warnings.push(Warning {
                kind: WarningKind::OrphanedLock,
                message: format!(
                    "{holder} holds a lock on this directory's lock file, which was {what} \
                     while held: that process is still running here, yet the path no longer \
                     shows its lock, so another certbot can start beside it"
                ),
                holder: Some(holder),
            });
        }
        warnings
    }

    fn held_files(&mut self, pid: u32, lock_name: &OsString) -> &[HeldFile] {
        let key = (pid, lock_name.clone());
        if !self.held_files.contains_key(&key) {
            // What the table shows `pid` locking: only those inodes' descriptors are looked
            // at, and the walk ends when all are found.
            let locked: HashSet<u64> = self
                .rows
                .get_or_insert_with(sys::lock_rows)
                .as_deref()
                .unwrap_or_default()
                .iter()
                .filter(|r| r.pid == Some(pid) && r.is_fcntl())
                .map(|r| r.inode)
                .collect();
            let held = sys::locked_files_named(pid, lock_name, &locked);
            self.held_files.insert(key.clone(), held);
        }
        self.held_files.get(&key).map_or(&[], Vec::as_slice)
    }

    fn canonical(&mut self, dir: &Path) -> Option<PathBuf> {
        self.canonical
            .entry(dir.to_path_buf())
            .or_insert_with(|| std::fs::canonicalize(dir).ok())
            .clone()
    }
}

/// Why a held lock's holder was not found: this user may not read other users' processes (the
/// usual reason for an ordinary user), else another pid namespace or hidepid.
fn hidden_holder(lock_file: &Path) -> Warning {
    match sys::holder_hidden_by_permission(lock_file) {
        Some(owner) => {
            let owner = owner
                .map(|uid| {
                    let name = sys::user_name(uid).unwrap_or_else(|| format!("uid {uid}"));
                    format!(" (the lock file belongs to {name})")
                })
                .unwrap_or_default();
            Warning {
                kind: WarningKind::HolderNotPermitted,
                message: format!(
                    "locked by a process this user may not look up: the holder is most likely \
                     another user's process{owner}, whose open files only that user and root \
                     may read; run lockscope as root (sudo) to see it"
                ),
                holder: None,
            }
        }
        None => Warning {
            kind: WarningKind::HolderNotVisible,
            message: "locked by a process this system's /proc does not show (another pid \
                      namespace, such as a container's, or /proc mounted with hidepid)"
                .to_string(),
            holder: None,
        },
    }
}

/// When the lock on `lock_file` was taken: what a monitor saw, else the earliest it can have
/// been taken: the later of the lock file's birth and the holder's start (`holder_started`).
fn held_since(
    lock_file: &Path,
    holder_started: Option<Timestamp>,
    observed: Option<SystemTime>,
) -> Option<HeldSince> {
    if let Some(time) = observed.and_then(crate::holder::timestamp) {
        return Some(HeldSince {
            time,
            source: HeldSinceSource::Observed,
        });
    }
    let born = sys::file_birth(lock_file).and_then(crate::holder::timestamp);
    let (time, source) = match (born, holder_started) {
        (Some(born), Some(started)) if born < started => (started, HeldSinceSource::HolderStarted),
        (Some(born), _) => (born, HeldSinceSource::LockFileCreated),
        (None, Some(started)) => (started, HeldSinceSource::HolderStarted),
        (None, None) => return None,
    };
    Some(HeldSince { time, source })
}
