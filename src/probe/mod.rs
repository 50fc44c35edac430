//! The state of a lock, found without disturbing it.
//!
//! A probe never creates, truncates, writes, locks or changes the mtime of a lock file. It reads
//! metadata with lstat, and, when a file exists and this process does not hold it, opens it
//! read-only (`O_NOFOLLOW`) for one lock query (`F_OFD_GETLK` on Linux) and closes it. A file this
//! process holds is answered from the held-locks registry without being opened.

use crate::holder::{self, Holder, command_line};
use crate::lock;
use crate::path_error::{PathError, parent_dir, parent_problem, require_regular_file};
use crate::sys::proc_parse::ProcLock;
use crate::sys::{self, Conflict, LockMeta, TableKey, TableTrust};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

/// What a probe found at a lock path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "holder", rename_all = "snake_case")]
pub enum LockState {
    /// No lock file: certbot is not running here (it deletes the file on release).
    Absent,
    /// A lock file nobody holds: left by a process that was killed (or is being released now).
    Free,
    /// Another process holds the lock. Either holder field may be unknown.
    Held(Holder),
    /// A [`lock::LockFile`] in this process holds the lock.
    HeldByThisProcess,
}

impl LockState {
    /// The state as the wire format names it.
    pub fn state(&self) -> crate::record::State {
        use crate::record::State;
        match self {
            LockState::Absent => State::Absent,
            LockState::Free => State::Free,
            LockState::Held(_) | LockState::HeldByThisProcess => State::Held,
        }
    }

    /// The state's name in lockscope's CLI and JSON output.
    pub fn name(&self) -> &'static str {
        self.state().name()
    }

    /// Whether someone (this process included) holds the lock.
    pub fn is_held(&self) -> bool {
        matches!(self, LockState::Held(_) | LockState::HeldByThisProcess)
    }

    /// The holder, if held (this process included).
    pub fn holder(&self) -> Option<Holder> {
        match self {
            LockState::Held(h) => Some(h.clone()),
            LockState::HeldByThisProcess => Some(Holder::this_process()),
            _ => None,
        }
    }
}

mod snapshot;

pub(crate) use snapshot::LockTable;

thread_local! {
    /// How many lock files this thread's probes have opened. Each open causes an open event in
    /// the file's directory; the monitor tells its own from others' by this count, taken
    /// around a probe on the same thread (so other threads' probes never count as its own).
    static PROBE_OPENS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// See [`PROBE_OPENS`]: the count for the calling thread.
pub(crate) fn opens_by_probes() -> u64 {
    PROBE_OPENS.with(|n| n.get())
}

/// Probes `<dir>/<name>`.
pub fn probe_dir(dir: impl AsRef<Path>, name: &str) -> Result<LockState, PathError> {
    if dir.as_ref().as_os_str().is_empty() {
        return Err(PathError::EmptyDir);
    }
    probe(dir.as_ref().join(name))
}

/// Reports the state of the lock file at `lock_path` without disturbing it.
///
/// ```
/// use lockscope::probe::{probe, LockState};
/// # let dir = tempfile::tempdir().unwrap();
/// let lock_file = dir.path().join(".certbot.lock");
/// assert_eq!(probe(&lock_file)?, LockState::Absent);
/// std::fs::write(&lock_file, b"")?; // what a killed certbot leaves behind
/// assert_eq!(probe(&lock_file)?, LockState::Free);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn probe(lock_path: impl AsRef<Path>) -> Result<LockState, PathError> {
    let path = lock_path.as_ref();
    ProbeBatch::new().probe(path)
}

/// Probes many lock files at about one moment, as `lockscope status` does. Each answer is the
/// one [`probe`] would give; what can be shared is looked up once per batch: a holder's command
/// line once per pid, and the kernel's lock table (read for lock files this process may not
/// open) once. A batch remembers what it read: use a new one for each pass.
///
/// ```
/// use lockscope::probe::{LockState, ProbeBatch};
/// # let dir = tempfile::tempdir().unwrap();
/// let mut batch = ProbeBatch::new();
/// assert_eq!(batch.probe(dir.path().join(".certbot.lock"))?, LockState::Absent);
/// # Ok::<(), lockscope::PathError>(())
/// ```
#[derive(Debug, Default)]
pub struct ProbeBatch {
    commands: HashMap<u32, Option<String>>,
    /// `/proc/locks`, read at the first lock file that could not be opened; after a missing row
    /// was confirmed (see [`ProbeBatch::table_row`]), every row of the confirming reads too.
    lock_rows: Option<Option<TableRows>>,
    /// The confirming reads were made (at most once per batch).
    rows_confirmed: bool,
}

/// The rows of `/proc/locks` a batch read, indexed: each probe looks up one file, and a
/// `status` of a thousand directories must not scan hundreds of rows for each.
#[derive(Debug, Default)]
struct TableRows {
    rows: Vec<ProcLock>,
    /// The pid column of the first certbot-conflicting (fcntl) row on each file.
    fcntl: HashMap<TableKey, Option<u32>>,
    /// Inode numbers some flock(2) row names.
    flock_inodes: HashSet<u64>,
}

impl TableRows {
    fn new(rows: Vec<ProcLock>) -> TableRows {
        let mut table = TableRows::default();
        for row in rows {
            table.add(row);
        }
        table
    }

    fn add(&mut self, row: ProcLock) {
        if row.is_fcntl() {
            self.fcntl
                .entry((row.major, row.minor, row.inode))
                .or_insert(row.pid);
        } else if row.kind == "FLOCK" {
            self.flock_inodes.insert(row.inode);
        }
        self.rows.push(row);
    }
}

/// Fresh reads of `/proc/locks` before a row missing from the first is believed missing.
/// The kernel serves the table a page per read() call, each page consistent on its own; between
/// two calls rows come and go, the rest shift, and a lock held throughout can fall between two
/// pages. Measured (tests/suite/table_churn.rs: a few hundred locks, other processes locking
/// and unlocking): one read skipped a held lock in about 2 % of `status` runs. Every read
/// skipping the same row is what it takes to say free now: as the monitor does, two more.
const CONFIRMING_READS: usize = 2;

impl ProbeBatch {
    /// An empty batch.
    pub fn new() -> ProbeBatch {
        ProbeBatch::default()
    }

    /// Like [`probe`], sharing lookups with the batch's other probes.
    pub fn probe(&mut self, lock_path: impl AsRef<Path>) -> Result<LockState, PathError> {
        let path = lock_path.as_ref();
        self.probe_lstat(path, lock_file_metadata(path))
    }

    /// Probes a PATH as `lockscope status` takes it: a directory, whose lock file is
    /// `PATH/lock_name`, unless PATH names the lock file itself (its file name is `lock_name`,
    /// or it exists and is not a directory).
    ///
    /// The answer is the one [`resolve_path`] + [`probe`] give, in fewer filesystem lookups:
    /// `PATH/lock_name` is looked at first, and if it exists PATH is a directory; if it does
    /// not and PATH is a directory, the lock is absent. Anything else takes the long way.
    pub fn probe_path(&mut self, path: &Path, lock_name: &str) -> PathProbe {
        if path.file_name().is_none_or(|n| n != lock_name) {
            let lock_file = path.join(lock_name);
            match sys::lstat(&lock_file) {
                Ok(meta) => {
                    // Only a directory (or a link to one) has entries: PATH is the directory.
                    let id = sys::meta_id(&meta);
                    let born = sys::meta_birth(&meta);
                    let state = self.probe_lstat(&lock_file, classify(&lock_file, meta.clone()));
                    let flocks = self.flocks_if_used(&lock_file, &meta, &state);
                    let mut probed = PathProbe::new(path.to_path_buf(), lock_file, state, flocks);
                    probed.lock_file_id = id;
                    probed.lock_file_born = born;
                    probed.device = id.map(|(dev, _)| dev);
                    return probed;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if let Ok(dir) = std::fs::metadata(path)
                        && dir.is_dir()
                    {
                        let mut probed = PathProbe::new(
                            path.to_path_buf(),
                            lock_file,
                            Ok(LockState::Absent),
                            Vec::new(),
                        );
                        probed.device = sys::std_meta_id(&dir).map(|(dev, _)| dev);
                        return probed;
                    }
                }
                Err(_) => {}
            }
        }
        let (dir, lock_file) = resolve_path(path, lock_name);
        let lstat = lock_file_metadata(&lock_file);
        let meta = lstat.as_ref().ok().and_then(Option::clone);
        let state = self.probe_lstat(&lock_file, lstat);
        let id = meta.as_ref().and_then(sys::meta_id);
        let born = meta.as_ref().and_then(sys::meta_birth);
        let flocks = match meta {
            Some(meta) => self.flocks_if_used(&lock_file, &meta, &state),
            None => Vec::new(),
        };
        let mut probed = PathProbe::new(dir, lock_file, state, flocks);
        probed.lock_file_id = id;
        probed.lock_file_born = born;
        probed.device = id.map(|(dev, _)| dev);
        probed
    }

    /// flock(2) holders, for a lock file that exists and was probed.
    fn flocks_if_used(
        &mut self,
        path: &Path,
        meta: &LockMeta,
        state: &Result<LockState, PathError>,
    ) -> Vec<Holder> {
        match state {
            Ok(LockState::Free | LockState::Held(_) | LockState::HeldByThisProcess) => {
                self.flock_holders(path, meta)
            }
            _ => Vec::new(),
        }
    }

    /// The probe after its lstat (`lstat`: what [`lock_file_metadata`] says of `path`).
    fn probe_lstat(
        &mut self,
        path: &Path,
        lstat: Result<Option<LockMeta>, PathError>,
    ) -> Result<LockState, PathError> {
        let Some(meta) = lstat? else {
            return Ok(LockState::Absent);
        };
        let queried = lock::query_unless_held_here(path, &meta, || sys::probe_lock(path, &meta));
        let conflict = match queried {
            None => return Ok(LockState::HeldByThisProcess),
            Some(Ok(Some(c))) => {
                PROBE_OPENS.with(|n| n.set(n.get() + 1));
                c
            }
            // Deleted between lstat and open: a holder released it.
            Some(Ok(None)) => return absent_or_parent_problem(path),
            Some(Err(e)) if e.kind() == io::ErrorKind::PermissionDenied => {
                return self.probe_without_opening(path, &meta);
            }
            Some(Err(e)) => return Err(PathError::from_io(path, e)),
        };
        Ok(match conflict {
            Conflict::None => LockState::Free,
            Conflict::Held { pid } => {
                self.check_table_naming(path, &meta);
                // A lock query's pid is in this process's pid namespace: only usable in a
                // `/proc` of the same namespace (otherwise the holder is looked for in /proc).
                let pid = pid.filter(|_| sys::proc_view().same_namespace);
                self.held_by(path, pid)
            }
        })
    }

    fn held_by(&mut self, path: &Path, pid: Option<u32>) -> LockState {
        let holder = holder::holder_of(path, pid, |pid| self.command_line(pid));
        if holder.is_this_process() {
            LockState::HeldByThisProcess
        } else {
            LockState::Held(holder)
        }
    }

    /// A direct query found a lock: check that the lock table shows it under the name the
    /// probe gives this file's device, while that naming is unconfirmed (see `TableTrust`).
    fn check_table_naming(&mut self, path: &Path, meta: &LockMeta) {
        let (key, trust) = sys::table_key(path, meta);
        if trust != TableTrust::Mapped || self.lock_rows().is_none() {
            return;
        }
        // Confirmed: a row one torn read skipped must not mark the naming broken.
        let row = self.table_row(key, true).is_some();
        sys::record_direct_answer(meta, true, row, sys::proc_view().initial_namespace);
    }

    /// A lock file this process may not open (certbot's 0600 file, another user's): the lock
    /// table answers, where its silence can be believed.
    fn probe_without_opening(
        &mut self,
        path: &Path,
        meta: &LockMeta,
    ) -> Result<LockState, PathError> {
        let (key, trust) = sys::table_key(path, meta);
        if self.lock_rows().is_none() {
            return Err(PathError::PermissionDenied(path.into()));
        }
        if let Some(pid) = self.table_row(key, false) {
            return self.held_per_row(path, meta, key, pid);
        }
        if !sys::proc_view().initial_namespace {
            return Err(PathError::Undecidable {
                path: path.into(),
                why: "the lock table of this pid namespace does not list locks held outside it",
            });
        }
        if !trust.table_says_free_without_query() {
            return Err(PathError::Undecidable {
                path: path.into(),
                why: trust.why_not(),
            });
        }
        // The table's silence may say free: unless one read skipped the row.
        if let Some(pid) = self.table_row(key, true) {
            return self.held_per_row(path, meta, key, pid);
        }
        Ok(LockState::Free)
    }

    /// The lock table has a row on `key` (its pid column: `pid`) for a file this process may not
    /// open. Held by that row's owner, if the row can only be this file's; a row that can name
    /// another file too is evidence for neither, unless the owner's descriptors show the lock
    /// on this very file (readable for our own user's processes only).
    fn held_per_row(
        &mut self,
        path: &Path,
        meta: &LockMeta,
        key: TableKey,
        pid: Option<u32>,
    ) -> Result<LockState, PathError> {
        if !sys::table_key_is_unique(meta, key) {
            let owner = match pid {
                Some(pid) => Some(pid).filter(|&p| sys::holds_lock_on(p, meta, key, false)),
                // An OFD lock: the fd walk matches this file's own device and inode.
                None => sys::find_lock_owner(path).map(|(pid, _)| pid),
            };
            if let Some(owner) = owner {
                return Ok(self.held_by(path, Some(owner)));
            }
            return Err(PathError::Undecidable {
                path: path.into(),
                why: "the kernel's lock table names it by an inode number that other files on \
                      its filesystem share (btrfs subvolumes and snapshots, overlayfs layers): \
                      its row may be another file's (root can query the file itself)",
            });
        }
        // The table's pids are `/proc`'s own.
        Ok(self.held_by(path, pid))
    }

    fn command_line(&mut self, pid: u32) -> Option<String> {
        self.commands
            .entry(pid)
            .or_insert_with(|| command_line(pid))
            .clone()
    }

    /// The processes holding a flock(2) lock on the file `meta` describes (fs4, py-filelock,
    /// `flock(1)` users). certbot's fcntl lock ignores flock locks, so such a holder does NOT
    /// exclude certbot; it is still someone using the file, which a report must not hide.
    /// Empty where the platform has no lock table.
    fn flock_holders(&mut self, path: &Path, meta: &LockMeta) -> Vec<Holder> {
        // Most systems have a few flock rows, none on lock files: compare inode numbers
        // before naming the file's device.
        let inode = sys::inode_of(meta);
        let maybe = self
            .lock_rows()
            .is_some_and(|table| table.flock_inodes.contains(&inode));
        if !maybe {
            return Vec::new();
        }
        let (key, _) = sys::table_key(path, meta);
        let mut pids: Vec<Option<u32>> = self
            .lock_rows()
            .map(|table| table.rows.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|r| r.kind == "FLOCK" && (r.major, r.minor, r.inode) == key)
            .map(|r| r.pid)
            .collect();
        // One holder once, however many rows name it (a CI run's remote watch showed one
        // flock holder's warning 13 times; not reproduced).
        pids.sort_unstable();
        pids.dedup();
        // A row whose name other files share (btrfs, overlayfs) counts only where the process's
        // descriptors show the lock on this file.
        if !sys::table_key_is_unique(meta, key) {
            pids.retain(|pid| pid.is_some_and(|p| sys::holds_lock_on(p, meta, key, true)));
        }
        pids.into_iter()
            .map(|pid| Holder {
                pid,
                command: pid.and_then(|p| self.command_line(p)),
            })
            .collect()
    }

    /// A [`Diagnoser`](crate::diagnose::Diagnoser) for this batch's probes, looking at the lock
    /// table the batch read (if it read it): the same moment, one read.
    pub fn diagnoser(&self) -> crate::diagnose::Diagnoser {
        let rows = self
            .lock_rows
            .as_ref()
            .map(|table| table.as_ref().map(|t| t.rows.clone()));
        crate::diagnose::Diagnoser::with_lock_rows(rows)
    }

    /// `/proc/locks`, read once per batch.
    fn lock_rows(&mut self) -> Option<&TableRows> {
        self.lock_rows
            .get_or_insert_with(|| sys::lock_rows().map(TableRows::new))
            .as_ref()
    }

    /// The pid column (`None`: an OFD lock) of the lock table's row on `key`, if the batch's
    /// reads show one. `confirm`: a row they do not show is looked for in fresh reads
    /// ([`CONFIRMING_READS`]) before it is taken to be missing. Those reads are made once per
    /// batch and kept with the first (a row any of them shows counts), so a whole `status` run
    /// costs at most three reads, and the extra two only when a row is missing.
    fn table_row(&mut self, key: TableKey, confirm: bool) -> Option<Option<u32>> {
        let find = |table: &TableRows| table.fcntl.get(&key).copied();
        if let Some(pid) = self.lock_rows().and_then(find) {
            return Some(pid);
        }
        if !confirm || self.rows_confirmed {
            return None;
        }
        self.rows_confirmed = true;
        let Some(Some(table)) = self.lock_rows.as_mut() else {
            return None;
        };
        let mut seen: HashSet<ProcLock> = table.rows.iter().cloned().collect();
        for _ in 0..CONFIRMING_READS {
            for row in sys::lock_rows().unwrap_or_default() {
                if !seen.contains(&row) {
                    seen.insert(row.clone());
                    table.add(row);
                }
            }
        }
        self.lock_rows().and_then(find)
    }
}

/// The flock(2) holders of the lock file at `path` (see [`PathProbe::flock_holders`]), for a
/// probe that did not look (the monitor's, from a lock-table snapshot).
pub(crate) fn flock_holders_at(path: &Path) -> Vec<Holder> {
    match sys::lstat(path) {
        Ok(meta) if meta.is_file() => ProbeBatch::new().flock_holders(path, &meta),
        _ => Vec::new(),
    }
}

/// A PATH probed by [`ProbeBatch::probe_path`].
#[derive(Debug)]
pub struct PathProbe {
    /// The directory the lock file is in.
    pub dir: PathBuf,
    /// The lock file probed.
    pub lock_file: PathBuf,
    /// What the probe found, or why it could not probe.
    pub state: Result<LockState, PathError>,
    /// Processes holding a flock(2) lock on the lock file (see [`PathProbe::flock_holders`]).
    flock_holders: Vec<Holder>,
    /// The lock file's (device, inode) as the probe's lstat saw it, where the platform has one.
    pub(crate) lock_file_id: Option<(u64, u64)>,
    /// The filesystem (stat's device) of the lock file, or of the directory when it has none.
    pub(crate) device: Option<u64>,
    /// The lock file's birth time, as the probe's lstat saw it, where the filesystem keeps one.
    pub(crate) lock_file_born: Option<std::time::SystemTime>,
}

impl PathProbe {
    fn new(
        dir: PathBuf,
        lock_file: PathBuf,
        state: Result<LockState, PathError>,
        flock_holders: Vec<Holder>,
    ) -> PathProbe {
        PathProbe {
            dir,
            lock_file,
            state,
            flock_holders,
            lock_file_id: None,
            device: None,
            lock_file_born: None,
        }
    }

    /// The processes holding a flock(2) lock on the lock file (fs4, py-filelock, `flock(1)`
    /// users). certbot's fcntl lock ignores flock locks, so they do not make the lock held and
    /// do NOT exclude certbot; but someone is using the file, which a report must not hide.
    /// Empty where the platform has no lock table.
    pub fn flock_holders(&self) -> &[Holder] {
        &self.flock_holders
    }
}

/// A PATH as `lockscope status` takes it: (directory, lock file). PATH is a directory (its lock
/// file is `PATH/lock_name`) unless it names the lock file itself: its file name is
/// `lock_name`, or it exists and is not a directory.
pub fn resolve_path(path: &Path, lock_name: &str) -> (PathBuf, PathBuf) {
    let names_lock = path.file_name().is_some_and(|n| n == lock_name);
    // One lstat; only a symlink needs a second look (at what it points to) to know whether it
    // leads to a directory.
    let (exists, is_dir) = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            (true, std::fs::metadata(path).is_ok_and(|m| m.is_dir()))
        }
        Ok(m) => (true, m.is_dir()),
        Err(_) => (false, false),
    };
    if names_lock || (exists && !is_dir) {
        (parent_dir(path).to_path_buf(), path.to_path_buf())
    } else {
        (path.to_path_buf(), path.join(lock_name))
    }
}

/// lstat of the lock path: `None` when absent, an error when it is not a regular file or its
/// directory is unusable. (On Windows without opening the file: see `lock/windows.rs`.)
fn lock_file_metadata(path: &Path) -> Result<Option<LockMeta>, PathError> {
    match sys::lstat(path) {
        Ok(meta) => classify(path, meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            absent_or_parent_problem(path).map(|_| None)
        }
        Err(e) => Err(PathError::from_io(path, e)),
    }
}

/// An existing lock path's metadata: only a regular file can be a lock file.
fn classify(path: &Path, meta: LockMeta) -> Result<Option<LockMeta>, PathError> {
    require_regular_file(path, &meta)?;
    Ok(Some(meta))
}

fn absent_or_parent_problem(path: &Path) -> Result<LockState, PathError> {
    match parent_problem(path) {
        Some(problem) => Err(problem),
        None => Ok(LockState::Absent),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::lock::LOCK_FILE_NAME;
    use std::os::unix::fs::symlink;

    /// What a probe result says, comparable across calls (errors by their message).
    fn summary(state: &Result<LockState, PathError>) -> String {
        match state {
            Ok(s) => format!("{s:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn probe_path_answers_like_resolve_path_then_probe() {
        let root = tempfile::tempdir().unwrap();
        let at = |name: &str| root.path().join(name);
        std::fs::create_dir(at("empty")).unwrap();
        std::fs::create_dir(at("stale")).unwrap();
        std::fs::write(at("stale").join(LOCK_FILE_NAME), b"").unwrap();
        std::fs::create_dir(at("lock-is-dir")).unwrap();
        std::fs::create_dir(at("lock-is-dir").join(LOCK_FILE_NAME)).unwrap();
        std::fs::create_dir(at("lock-is-link")).unwrap();
        symlink("/etc/hostname", at("lock-is-link").join(LOCK_FILE_NAME)).unwrap();
        std::fs::write(at("plain-file"), b"").unwrap();
        symlink(at("stale"), at("link-to-dir")).unwrap();
        symlink(at("nowhere"), at("dangling")).unwrap();
        std::fs::create_dir(at("held-here")).unwrap();
        let _held = crate::lock_dir(at("held-here")).unwrap();

        let paths = [
            at("empty"),
            at("stale"),
            at("stale").join(LOCK_FILE_NAME),
            at("lock-is-dir"),
            at("lock-is-link"),
            at("plain-file"),
            at("plain-file").join("below-a-file"),
            at("link-to-dir"),
            at("dangling"),
            at("missing"),
            at("missing").join("deeper"),
            at("held-here"),
            at("empty").join(".."),
            PathBuf::from("."),
        ];
        let mut batch = ProbeBatch::new();
        for path in &paths {
            let (dir, lock_file) = resolve_path(path, LOCK_FILE_NAME);
            let expected = probe(&lock_file);
            let got = batch.probe_path(path, LOCK_FILE_NAME);
            assert_eq!(
                (&got.dir, &got.lock_file, summary(&got.state)),
                (&dir, &lock_file, summary(&expected)),
                "{path:?}"
            );
        }
    }

    #[test]
    fn a_batch_answers_like_single_probes() {
        let root = tempfile::tempdir().unwrap();
        let stale = root.path().join("stale");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join(LOCK_FILE_NAME), b"").unwrap();
        let held = root.path().join("held");
        std::fs::create_dir(&held).unwrap();
        let _lock = crate::lock_dir(&held).unwrap();
        let mut batch = ProbeBatch::new();
        for dir in [root.path(), &stale, &held, &root.path().join("missing")] {
            let lock_file = dir.join(LOCK_FILE_NAME);
            assert_eq!(
                summary(&batch.probe(&lock_file)),
                summary(&probe(&lock_file)),
                "{dir:?}"
            );
        }
    }
}
