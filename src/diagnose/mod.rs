//! Why a lock is stuck: who holds it since when and what the holder is doing (its details),
//! the other certbot locks it holds (the lock set), and hazards the state alone hides
//! (orphaned locks, flock(2) users, filesystems whose locks other hosts do not see, holders
//! we cannot see). Built on a probe's answer; costs `/proc` reads only where something is held,
//! plus one look at the lock table for orphans.

mod explain;

pub use explain::{Reader, explain};

use crate::holder::{DetailsCache, Holder, ProcessDetails};
use crate::probe::{LockState, PathProbe};
use crate::sys::{self, HeldFile, TableKey, proc_parse::ProcLock};
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
/// details, the lock table and what each locker's descriptors showed are read once. Use a new
/// one per pass: nothing in it is re-checked later.
///
/// The cost is bounded by what concerns the directories asked about: a lock-table row is
/// looked into only if it is on a directory's filesystem and is not one of this pass's lock
/// files (an orphan candidate), or belongs to a directory's holder (its lock set); a process's
/// descriptors are walked only for those rows, and the walk ends when they are found.
#[derive(Debug, Default)]
pub struct Diagnoser {
    details: DetailsCache,
    /// `/proc/locks`, read at the first look.
    rows: Option<Option<Vec<ProcLock>>>,
    /// Lock files of this pass by the lock table's name for them (only names no other file can
    /// have), with their directories as given: a row on one is that directory's current lock
    /// (no orphan), and names a lock-set member without a walk. Each came from this pass's own
    /// lstat of the file.
    known: HashMap<TableKey, PathBuf>,
    /// Per (locking pid, lock file name): the files its descriptors showed.
    held: HashMap<(u32, OsString), HeldFiles>,
    /// Directories as `/proc` spells paths (canonical), per directory as given.
    canonical: HashMap<PathBuf, Option<PathBuf>>,
    /// The lock table's device for each directory's filesystem (`None`: its naming cannot be
    /// trusted, so rows on any device are candidates), per canonical directory.
    table_devices: HashMap<PathBuf, Option<(u32, u32)>>,
    /// Network-filesystem hazards per filesystem (stat's device).
    hazards: HashMap<u64, Option<String>>,
    /// Per (filesystem as the table names it, lock file name): see
    /// [`Diagnoser::unlinked_lock_files`].
    orphan_index: HashMap<(Option<(u32, u32)>, OsString), UnlinkedByDir>,
    /// Whether a row with an owner pid is on a file not in `known`, when `known` had this size.
    any_unknown_row: Option<(usize, bool)>,
    /// The table's name for each lock file (stat's id) this pass looked up.
    table_names: HashMap<(u64, u64), Option<sys::TableName>>,
}

/// Locked lock files with no name left, by the directory they were in.
type UnlinkedByDir = HashMap<PathBuf, Vec<UnlinkedFile>>;

/// A locked lock file whose name is gone, and who holds it.
#[derive(Debug)]
struct UnlinkedFile {
    pid: u32,
    /// No name left at all (link count 0); else its name was replaced while open.
    deleted: bool,
    id: (u64, u64),
}

#[derive(Debug, Default)]
struct HeldFiles {
    files: Vec<HeldFile>,
    /// The table names looked for so far (found or not).
    looked_for: HashSet<TableKey>,
    /// The table names looked for among files with no name left only (see
    /// [`Diagnoser::unlinked_lock_files`]).
    looked_for_unlinked: HashSet<TableKey>,
    /// Every descriptor was walked (an owner whose locks the table shows without a pid).
    walked_all: bool,
}

/// What a probe's lstat already saw of a lock file.
#[derive(Debug, Clone, Copy)]
struct Seen {
    lock_file_id: Option<(u64, u64)>,
    device: Option<u64>,
    /// Its birth time (`None`: not seen; looked up when needed).
    born: Option<SystemTime>,
}

impl Diagnoser {
    /// An empty diagnoser.
    pub fn new() -> Diagnoser {
        Diagnoser::default()
    }

    /// A diagnoser that looks at `rows` as the lock table (`None`: reads it when needed;
    /// `Some(None)`: there is none to read), read at about the moment of the probes it is given.
    pub(crate) fn with_lock_rows(rows: Option<Option<Vec<ProcLock>>>) -> Diagnoser {
        Diagnoser {
            rows,
            ..Diagnoser::default()
        }
    }

    /// Diagnoses each probe (like [`Diagnoser::diagnose`]), knowing all their lock files at
    /// once: only locks on other files are looked at as possible orphans.
    pub fn diagnose_all(&mut self, probes: &[PathProbe]) -> Vec<Diagnosis> {
        for probe in probes {
            self.know(&probe.dir, &probe.lock_file, probe.lock_file_id);
        }
        probes.iter().map(|p| self.diagnose(p, None)).collect()
    }

    /// Like [`Diagnoser::diagnose_all`], one at a time: each probe with its diagnosis as it is
    /// made (a caller that prints them holds one diagnosis at a time, not all).
    pub fn diagnose_each(
        mut self,
        probes: Vec<PathProbe>,
    ) -> impl Iterator<Item = (PathProbe, Diagnosis)> {
        for probe in &probes {
            self.know(&probe.dir, &probe.lock_file, probe.lock_file_id);
        }
        probes.into_iter().map(move |probe| {
            let diagnosis = self.diagnose(&probe, None);
            (probe, diagnosis)
        })
    }

    /// Records `dir`'s lock file (lstat's `id`) as known by name; returns its table name when
    /// no other file can have it.
    fn know(&mut self, dir: &Path, lock_file: &Path, id: Option<(u64, u64)>) -> Option<TableKey> {
        let id = id?;
        // Looked up once per file per pass (the same lstat's answer).
        let name = match self.table_names.get(&id) {
            Some(&name) => name,
            None => {
                let name = sys::table_name(lock_file, id).filter(|n| n.unique);
                self.table_names.insert(id, name);
                name
            }
        }?;
        self.known
            .entry(name.key)
            .or_insert_with(|| dir.to_path_buf());
        Some(name.key)
    }

    /// Diagnoses one probed lock. `observed_since`: when a monitor saw this lock taken (it
    /// wins over what the files say).
    pub fn diagnose(&mut self, probe: &PathProbe, observed_since: Option<SystemTime>) -> Diagnosis {
        // The probe's own lstat names the lock file and its filesystem (where the platform
        // tells): no second look.
        let seen = Seen {
            lock_file_id: probe.lock_file_id,
            device: probe.device,
            born: probe.lock_file_born,
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
            born: None,
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
        let current_key = self.know(dir, lock_file, current);
        let lock_name = lock_file.file_name().unwrap_or_default().to_os_string();
        let mut diagnosis = Diagnosis::default();
        let holder = state.and_then(LockState::holder);
        if let Some(pid) = holder.as_ref().and_then(|h| h.pid) {
            let details = self.details.details(pid);
            diagnosis.held_since =
                held_since(lock_file, seen.born, details.started, observed_since);
            diagnosis.lock_set = self.lock_set(pid, dir, &lock_name, current_key);
            diagnosis.holder = Some(details);
        } else if state.is_some_and(LockState::is_held) {
            diagnosis.held_since = held_since(lock_file, seen.born, None, observed_since);
            diagnosis.warnings.push(hidden_holder(lock_file));
        }
        for orphan in self.orphans(dir, &lock_name, current, seen.device) {
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

    /// The directories of `pid`'s other lock files named `lock_name` (`current`: the table's
    /// name for `dir`'s own). Rows on this pass's lock files are named from the pass; only the
    /// others are looked for among `pid`'s descriptors.
    fn lock_set(
        &mut self,
        pid: u32,
        dir: &Path,
        lock_name: &OsString,
        current: Option<TableKey>,
    ) -> Vec<PathBuf> {
        self.load_rows();
        let mut others: HashSet<TableKey> = self
            .rows()
            .iter()
            .filter(|r| r.pid == Some(pid) && r.is_fcntl())
            .map(ProcLock::key)
            .filter(|&key| Some(key) != current)
            .collect();
        let known: Vec<PathBuf> = others
            .iter()
            .filter_map(|key| self.known.get(key).cloned())
            .collect();
        others.retain(|key| !self.known.contains_key(key));
        let mut dirs: Vec<PathBuf> = known.iter().filter_map(|d| self.canonical(d)).collect();
        // No row names the pid (its locks are OFD locks): all its descriptors are looked at.
        let walk_all = !self.rows().iter().any(|r| r.pid == Some(pid));
        if walk_all || !others.is_empty() {
            let here = self.canonical(dir);
            let found: Vec<PathBuf> = self
                .held_files(pid, lock_name, (!walk_all).then_some(&others), false)
                .filter(|f| !f.deleted)
                .filter_map(|f| f.path.parent())
                .filter(|d| Some(*d) != here.as_deref())
                .map(Path::to_path_buf)
                .collect();
            dirs.extend(found);
        }
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Locks on files that were `dir/lock_name` and are no longer (deleted, or replaced by
    /// the file now `current`). `st_dev`: stat's device of the lock file or the directory.
    fn orphans(
        &mut self,
        dir: &Path,
        lock_name: &OsString,
        current: Option<(u64, u64)>,
        st_dev: Option<u64>,
    ) -> Vec<Warning> {
        self.load_rows();
        // Whether any row could be an orphan at all: looked at again only when `known` grew.
        let unknown_rows = match self.any_unknown_row {
            Some((known, any)) if known == self.known.len() => any,
            _ => {
                let any = self
                    .rows()
                    .iter()
                    .any(|r| r.pid.is_some() && r.is_fcntl() && !self.known.contains_key(&r.key()));
                self.any_unknown_row = Some((self.known.len(), any));
                any
            }
        };
        if !unknown_rows {
            return Vec::new();
        }
        // The table's name for the directory's filesystem: from the naming the probe already
        // looked up for its device, else from the directory's mount.
        let device = match st_dev.and_then(sys::cached_table_device) {
            Some(device) => device,
            None => match self.canonical(dir) {
                Some(here) => self.table_device(&here),
                // A directory that is not there names no lock file to orphan: no locker's
                // descriptors are walked for it (a process with 19,000 of them made status
                // of a missing directory take 123 ms).
                None => return Vec::new(),
            },
        };
        let index_key = (device, lock_name.clone());
        if !self.orphan_index.contains_key(&index_key) {
            let index = self.unlinked_lock_files(device, lock_name);
            self.orphan_index.insert(index_key.clone(), index);
        }
        if self.orphan_index[&index_key].is_empty() {
            return Vec::new();
        }
        let Some(here) = self.canonical(dir) else {
            return Vec::new();
        };
        let orphaned: Vec<(u32, bool)> = self.orphan_index[&index_key]
            .get(&here)
            .into_iter()
            .flatten()
            .filter(|f| f.deleted || Some(f.id) != current)
            .map(|f| (f.pid, f.deleted))
            .collect();
        let mut warnings: Vec<Warning> = Vec::new();
        for (pid, deleted) in orphaned {
            if warnings
                .iter()
                .any(|w| w.holder.as_ref().and_then(|h| h.pid) == Some(pid))
            {
                continue;
            }
            let what = if deleted { "deleted" } else { "replaced" };
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

    /// The lock files named `lock_name` with no name left (deleted, or replaced by a rename)
    /// that processes hold locks on, by the directory they were in: built once per filesystem
    /// (`device`, the table's name; `None`: every filesystem) per pass. Only rows with an owner
    /// pid on that filesystem that are not this pass's lock files are looked into, and only
    /// their owners' descriptors walked, until those rows' files are found; a file that still
    /// has a link costs one `statx` (no `readlink`). (Not found: a lock file with a second
    /// hard link replaced by a rename, whose old inode keeps a name; certbot's have one link.)
    fn unlinked_lock_files(
        &mut self,
        device: Option<(u32, u32)>,
        lock_name: &OsString,
    ) -> UnlinkedByDir {
        let mut candidates: HashMap<u32, HashSet<TableKey>> = HashMap::new();
        for r in self.rows() {
            let key = r.key();
            if let Some(pid) = r.pid
                && r.is_fcntl()
                && !self.known.contains_key(&key)
                && device.is_none_or(|dev| (key.0, key.1) == dev)
            {
                candidates.entry(pid).or_default().insert(key);
            }
        }
        let mut index = UnlinkedByDir::new();
        for (pid, keys) in candidates {
            for f in self.held_files(pid, lock_name, Some(&keys), true) {
                if let Some(parent) = f.path.parent() {
                    index
                        .entry(parent.to_path_buf())
                        .or_default()
                        .push(UnlinkedFile {
                            pid,
                            deleted: f.deleted,
                            id: f.id,
                        });
                }
            }
        }
        for files in index.values_mut() {
            files.sort_by_key(|f| f.pid);
        }
        index
    }

    /// `/proc/locks` as read at this pass's first look (see [`Diagnoser::load_rows`]).
    fn rows(&self) -> &[ProcLock] {
        self.rows
            .as_ref()
            .and_then(Option::as_deref)
            .unwrap_or_default()
    }

    fn load_rows(&mut self) {
        self.rows.get_or_insert_with(sys::lock_rows);
    }

    /// The files named `lock_name` among `wanted` (table names) that `pid` holds locks on
    /// (`None`: every file it holds a lock on, walking all its descriptors). Each name is
    /// looked for once per pass.
    fn held_files(
        &mut self,
        pid: u32,
        lock_name: &OsString,
        wanted: Option<&HashSet<TableKey>>,
        unlinked_only: bool,
    ) -> impl Iterator<Item = &HeldFile> {
        let entry = self.held.entry((pid, lock_name.clone())).or_default();
        if !entry.walked_all {
            match wanted {
                None => {
                    entry.files = sys::locked_files_named(pid, lock_name, &HashSet::new(), false);
                    entry.walked_all = true;
                }
                Some(wanted) => {
                    // A full look also answers an unlinked-only one, not the other way round.
                    let new: HashSet<TableKey> = wanted
                        .iter()
                        .filter(|k| {
                            let answered = entry.looked_for.contains(k)
                                || (unlinked_only && entry.looked_for_unlinked.contains(k));
                            !answered
                        })
                        .copied()
                        .collect();
                    if !new.is_empty() {
                        if unlinked_only {
                            entry.looked_for_unlinked.extend(&new);
                        } else {
                            entry.looked_for.extend(&new);
                        }
                        for file in sys::locked_files_named(pid, lock_name, &new, unlinked_only) {
                            if !entry.files.iter().any(|f| f.id == file.id) {
                                entry.files.push(file);
                            }
                        }
                    }
                }
            }
        }
        let wanted = wanted.cloned();
        entry.files.iter().filter(move |f| {
            wanted.as_ref().is_none_or(|w| w.contains(&f.key)) && (!unlinked_only || f.deleted)
        })
    }

    /// The lock table's device for the filesystem of the (canonical) directory `dir`, where its
    /// naming can be trusted.
    fn table_device(&mut self, dir: &Path) -> Option<(u32, u32)> {
        if let Some(&device) = self.table_devices.get(dir) {
            return device;
        }
        let device = sys::file_id(dir)
            .and_then(|id| sys::table_name(dir, id))
            .map(|name| (name.key.0, name.key.1));
        self.table_devices.insert(dir.to_path_buf(), device);
        device
    }

    /// `dir` as `/proc` spells paths (symlinks resolved), once per pass.
    fn canonical(&mut self, dir: &Path) -> Option<PathBuf> {
        if let Some(canonical) = self.canonical.get(dir) {
            return canonical.clone();
        }
        // A directory that is not a symlink, named by a plain last component: its parent's
        // spelling (resolved once for all the directories beside it) and its name, for one
        // lstat instead of one per component.
        let canonical = match (dir.parent(), dir.file_name()) {
            (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
                let plain = parent.join(name);
                if std::fs::symlink_metadata(&plain).is_ok_and(|m| m.is_dir()) {
                    self.canonical(parent).map(|p| p.join(name))
                } else {
                    std::fs::canonicalize(dir).ok()
                }
            }
            _ => std::fs::canonicalize(dir).ok(),
        };
        self.canonical.insert(dir.to_path_buf(), canonical.clone());
        canonical
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
    born: Option<SystemTime>,
    holder_started: Option<Timestamp>,
    observed: Option<SystemTime>,
) -> Option<HeldSince> {
    if let Some(time) = observed.and_then(crate::holder::timestamp) {
        return Some(HeldSince {
            time,
            source: HeldSinceSource::Observed,
        });
    }
    // The probe's own lstat's, else a look now.
    let born = born
        .or_else(|| sys::file_birth(lock_file))
        .and_then(crate::holder::timestamp);
    // Both clocks are coarse: a process's start is counted in 10 ms ticks (rounded down) and a
    // file's times come from the kernel's coarse clock (up to a jiffy behind), so a lock file the
    // holder created within its first milliseconds can look older than the holder. Only a file
    // older by more than that slack is a leftover.
    const SLACK: jiff::SignedDuration = jiff::SignedDuration::from_millis(50);
    let (time, source) = match (born, holder_started) {
        (Some(born), Some(started)) if born < started - SLACK => {
            (started, HeldSinceSource::HolderStarted)
        }
        (Some(born), _) => (born, HeldSinceSource::LockFileCreated),
        (None, Some(started)) => (started, HeldSinceSource::HolderStarted),
        (None, None) => return None,
    };
    Some(HeldSince { time, source })
}
