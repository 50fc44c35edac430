//! The history file: SQLite (bundled: nothing to install) in WAL mode, so `record` writes while
//! `history` and the app read. Each poll's events are one transaction: a SIGKILL loses at most
//! the events of the poll being written (200 ms of them), and leaves a file that passes
//! `PRAGMA integrity_check` (SQLite's journal guarantees it; `tests/suite/history.rs` kills a
//! recorder again and again to check).
//!
//! The schema's version is `PRAGMA user_version`; [`Store::open`] migrates an older file and
//! refuses a newer one (a newer lockscope wrote it) rather than guess.

use super::{EndedBy, Hold, Recorded, Refused, Source};
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The schema this build writes. Version 1: `holds` and `refused`.
const SCHEMA_VERSION: i64 = 1;

/// How long a reader or writer waits for the other's lock on the file before failing.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// Why the history could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be opened (or created).
    #[error("cannot open the history {}: {source}", .path.display())]
    Open {
        /// The history file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A newer lockscope wrote the file: its schema is not known here.
    #[error(
        "the history {} has schema version {found}, newer than this lockscope knows ({known}): \
         use the lockscope that wrote it",
        .path.display()
    )]
    NewerSchema {
        /// The history file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The file's directory could not be created.
    #[error("cannot create {}: {source}", .path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A query failed.
    #[error("the history's database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Another recorder writes this file now.
    #[error(
        "another `lockscope record` is writing {} (its claim {} is locked): one recorder per \
         history file",
        .path.display(),
        .claim.display()
    )]
    AnotherRecorder {
        /// The history file.
        path: PathBuf,
        /// The claim file.
        claim: PathBuf,
    },
    /// The claim file could not be opened.
    #[error("cannot open {}: {source}", .claim.display())]
    Claim {
        /// The claim file.
        claim: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The history file, open for writing ([`Store::open`]) or reading ([`Store::open_read_only`]).
pub struct Store {
    conn: Connection,
    /// The writer's claim (`FILE.recorder`, locked while open for writing): one recorder per
    /// file. `None` for a reader.
    _writer: Option<std::fs::File>,
    /// The row of each directory's open hold, for [`Store::record`].
    open: HashMap<PathBuf, i64>,
}

impl Store {
    /// Opens (creating it and its directory if needed) the history at `path` for writing, and
    /// brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, HistoryError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| HistoryError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let writer = claim(path)?;
        let conn = Connection::open(path).map_err(|source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        conn.busy_timeout(BUSY_WAIT)?;
        // WAL: readers never block the writer; NORMAL: a crash of the process loses nothing
        // committed (only a power cut may lose the last transactions).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        keep_wal_files(&conn);
        let store = Store {
            conn,
            _writer: Some(writer),
            open: HashMap::new(),
        };
        store.migrate(path)?;
        store.close_orphaned_holds()?;
        Ok(store)
    }

    /// Opens the history at `path` for reading only (it must exist).
    pub fn open_read_only(path: &Path) -> Result<Store, HistoryError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        conn.busy_timeout(BUSY_WAIT)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(HistoryError::NewerSchema {
                path: path.to_path_buf(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        Ok(Store {
            conn,
            _writer: None,
            open: HashMap::new(),
        })
    }

    /// Holds a previous recorder left open (it was killed): they end as "recording-stopped" at
    /// the last moment that recorder is known to have been writing (its last event), since
    /// nothing says what became of them after.
    fn close_orphaned_holds(&self) -> Result<(), HistoryError> {
        self.conn.execute(
            "UPDATE holds SET ended_by = 'recording-stopped',
                 end_ns = max(start_ns, coalesce((SELECT max(max(start_ns, coalesce(end_ns, 0)))
                                                  FROM holds), start_ns))
             WHERE end_ns IS NULL AND ended_by IS NULL",
            [],
        )?;
        Ok(())
    }

    fn migrate(&self, path: &Path) -> Result<(), HistoryError> {
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(HistoryError::NewerSchema {
                path: path.to_path_buf(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found < 1 {
            self.conn.execute_batch(
                "BEGIN;
                 CREATE TABLE holds (
                     id INTEGER PRIMARY KEY,
                     dir TEXT NOT NULL,
                     pid INTEGER,
                     command TEXT,
                     user TEXT,
                     start_ns INTEGER NOT NULL,
                     start_seen INTEGER NOT NULL,
                     end_ns INTEGER,
                     ended_by TEXT,
                     source TEXT NOT NULL
                 );
                 CREATE INDEX holds_by_dir ON holds (dir, start_ns);
                 CREATE TABLE refused (
                     id INTEGER PRIMARY KEY,
                     dir TEXT NOT NULL,
                     pid INTEGER,
                     command TEXT,
                     user TEXT,
                     time_ns INTEGER NOT NULL,
                     holder_pid INTEGER,
                     source TEXT NOT NULL
                 );
                 CREATE INDEX refused_by_dir ON refused (dir, time_ns);
                 PRAGMA user_version = 1;
                 COMMIT;",
            )?;
        }
        Ok(())
    }

    /// Keeps what one poll of a recorder saw, in one transaction: a SIGKILL keeps all of it or
    /// none, and a burst of events costs one commit, not one per event.
    pub fn record_all(&mut self, recorded: &[Recorded]) -> Result<(), HistoryError> {
        if recorded.is_empty() {
            return Ok(());
        }
        let open_before = self.open.clone();
        self.conn.execute_batch("BEGIN")?;
        let written = recorded
            .iter()
            .try_for_each(|r| self.record(r))
            .and_then(|()| Ok(self.conn.execute_batch("COMMIT")?));
        if written.is_err() {
            // Nothing of the batch is kept: neither are the rows it opened.
            let _ = self.conn.execute_batch("ROLLBACK");
            self.open = open_before;
        }
        written
    }

    /// Keeps what a recorder saw: a hold's beginning or end (a directory has one open hold at a
    /// time), or a refused attempt. Outside [`Store::record_all`], its own transaction.
    pub fn record(&mut self, recorded: &Recorded) -> Result<(), HistoryError> {
        match recorded {
            Recorded::Began(hold) => {
                let id = self.begin_hold(hold)?;
                self.open.insert(hold.dir.clone(), id);
            }
            Recorded::Ended(hold) => {
                let ended_by = hold.ended_by.unwrap_or(EndedBy::RecordingStopped);
                match self.open.remove(&hold.dir) {
                    Some(id) => self.end_hold(id, hold.end, ended_by)?,
                    // Its beginning was not kept (a write failed): the whole hold, now.
                    None => {
                        self.begin_hold(hold)?;
                    }
                }
            }
            Recorded::Refused(refused) => self.add_refused(refused)?,
        }
        Ok(())
    }

    /// Records a hold that began (or was found held); returns its id for [`Store::end_hold`].
    pub fn begin_hold(&self, hold: &Hold) -> Result<i64, HistoryError> {
        self.conn.execute(
            "INSERT INTO holds (dir, pid, command, user, start_ns, start_seen, end_ns, ended_by, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                dir_text(&hold.dir),
                hold.pid,
                hold.command,
                hold.user,
                nanos(hold.start),
                hold.start_seen,
                hold.end.map(nanos),
                hold.ended_by.map(EndedBy::name),
                hold.source.name(),
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records how and when hold `id` ended (`end` `None`: not known, as when the recording
    /// stops while it is held).
    pub fn end_hold(
        &self,
        id: i64,
        end: Option<Timestamp>,
        ended_by: EndedBy,
    ) -> Result<(), HistoryError> {
        self.conn.execute(
            "UPDATE holds SET end_ns = ?2, ended_by = ?3 WHERE id = ?1",
            params![id, end.map(nanos), ended_by.name()],
        )?;
        Ok(())
    }

    /// Records a refused attempt.
    pub fn add_refused(&self, refused: &Refused) -> Result<(), HistoryError> {
        self.conn.execute(
            "INSERT INTO refused (dir, pid, command, user, time_ns, holder_pid, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                dir_text(&refused.dir),
                refused.pid,
                refused.command,
                refused.user,
                nanos(refused.time),
                refused.holder_pid,
                refused.source.name(),
            ],
        )?;
        Ok(())
    }

    /// The holds of `dir` that overlap `since..until` (either open), oldest first.
    pub fn holds(
        &self,
        dir: &Path,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<Hold>, HistoryError> {
        self.latest_holds(dir, since, until, None)
    }

    /// As [`Store::holds`], only the latest `limit` of them (still oldest first): what a view
    /// of a busy directory can draw.
    pub fn latest_holds(
        &self,
        dir: &Path,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        limit: Option<usize>,
    ) -> Result<Vec<Hold>, HistoryError> {
        let since_ns = since.map_or(i64::MIN, nanos);
        let until_ns = until.map_or(i64::MAX, nanos);
        // Those that began in the window, newest first in the index's order (no sort) ...
        let mut holds = self.query_holds(
            "SELECT dir, pid, command, user, start_ns, start_seen, end_ns, ended_by, source
             FROM holds WHERE dir = ?1 AND start_ns >= ?2 AND start_ns <= ?3
             ORDER BY start_ns DESC, id DESC LIMIT ?4",
            params![dir_text(dir), since_ns, until_ns, sql_limit(limit)],
        )?;
        // ... and of those that began before it, the few that can still be held at its start:
        // a lock has one holder at a time, so only the last ones before `since` can overlap it
        // (an index walk, not a scan of the years before; 16 covers holds a killed recorder
        // and its successor both left open).
        if limit.is_none_or(|l| holds.len() < l) && since.is_some() {
            let before = self.query_holds(
                "SELECT dir, pid, command, user, start_ns, start_seen, end_ns, ended_by, source
                 FROM holds WHERE dir = ?1 AND start_ns < ?2
                 ORDER BY start_ns DESC, id DESC LIMIT 16",
                params![dir_text(dir), since_ns],
            )?;
            let room = limit.map_or(usize::MAX, |l| l - holds.len());
            holds.extend(
                before
                    .into_iter()
                    .filter(|h| h.end.is_none_or(|end| nanos(end) >= since_ns))
                    .take(room),
            );
        }
        holds.reverse();
        Ok(holds)
    }

    /// The holds a query selects (its columns those of [`Store::latest_holds`]).
    fn query_holds(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Hold>, HistoryError> {
        let mut query = self.conn.prepare_cached(sql)?;
        let rows = query.query_map(params, |r| {
            Ok(Hold {
                dir: PathBuf::from(r.get::<_, String>(0)?),
                pid: r.get(1)?,
                command: r.get(2)?,
                user: r.get(3)?,
                start: from_nanos(r.get(4)?),
                start_seen: r.get(5)?,
                end: r.get::<_, Option<i64>>(6)?.map(from_nanos),
                ended_by: r
                    .get::<_, Option<String>>(7)?
                    .as_deref()
                    .and_then(EndedBy::from_name),
                source: Source::from_name(&r.get::<_, String>(8)?).unwrap_or(Source::Monitor),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The hold of `dir` at instant `at`, if the record has one (the latest that began by then
    /// and had not ended; one whose recording stopped is known held only until then).
    pub fn held_at(&self, dir: &Path, at: Timestamp) -> Result<Option<Hold>, HistoryError> {
        let holds = self.holds(dir, Some(at), Some(at))?;
        Ok(holds
            .into_iter()
            .rev()
            .find(|h| h.start <= at && h.end.is_none_or(|end| end > at)))
    }

    /// The refused attempts on `dir` in `since..until`, oldest first.
    pub fn refused(
        &self,
        dir: &Path,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<Refused>, HistoryError> {
        self.latest_refused(dir, since, until, None)
    }

    /// As [`Store::refused`], only the latest `limit` of them (still oldest first).
    pub fn latest_refused(
        &self,
        dir: &Path,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        limit: Option<usize>,
    ) -> Result<Vec<Refused>, HistoryError> {
        let mut query = self.conn.prepare_cached(
            "SELECT dir, pid, command, user, time_ns, holder_pid, source FROM refused
             WHERE dir = ?1 AND time_ns >= ?2 AND time_ns <= ?3
             ORDER BY time_ns DESC, id DESC LIMIT ?4",
        )?;
        let rows = query.query_map(
            params![
                dir_text(dir),
                since.map_or(i64::MIN, nanos),
                until.map_or(i64::MAX, nanos),
                sql_limit(limit),
            ],
            |r| {
                Ok(Refused {
                    dir: PathBuf::from(r.get::<_, String>(0)?),
                    pid: r.get(1)?,
                    command: r.get(2)?,
                    user: r.get(3)?,
                    time: from_nanos(r.get(4)?),
                    holder_pid: r.get(5)?,
                    source: Source::from_name(&r.get::<_, String>(6)?).unwrap_or(Source::Kernel),
                })
            },
        )?;
        let mut refused = rows.collect::<Result<Vec<_>, _>>()?;
        refused.reverse();
        Ok(refused)
    }

    /// A number that changes whenever another connection (the recorder) commits: a reader
    /// that saw the same number before has nothing new to read (SQLite's `data_version`).
    pub fn data_version(&self) -> Result<i64, HistoryError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Deletes what ended before `before` (holds) or happened before it (refused attempts).
    /// Returns how many events went.
    pub fn prune(&self, before: Timestamp) -> Result<usize, HistoryError> {
        let before = nanos(before);
        let holds = self.conn.execute(
            "DELETE FROM holds WHERE end_ns IS NOT NULL AND end_ns < ?1",
            params![before],
        )?;
        let refused = self
            .conn
            .execute("DELETE FROM refused WHERE time_ns < ?1", params![before])?;
        Ok(holds + refused)
    }

    /// The bytes of the file in use (its pages less the free ones).
    pub fn used_bytes(&self) -> Result<u64, HistoryError> {
        let pragma = |name: &str| -> Result<i64, HistoryError> {
            Ok(self
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?)
        };
        let pages = pragma("page_count")? - pragma("freelist_count")?;
        Ok(u64::try_from(pages * pragma("page_size")?).unwrap_or(0))
    }

    /// Removes the oldest events (ended holds and refused attempts, in the order they were
    /// written) until the content is under `max_bytes`, a tenth more than needed at a time so
    /// that it is not trimmed at every call. The file does not shrink: its free pages are
    /// reused, so it stops growing. Returns how many events went.
    pub fn prune_to_size(&self, max_bytes: u64) -> Result<usize, HistoryError> {
        let mut removed = 0;
        for _ in 0..8 {
            let used = self.used_bytes()?;
            if used <= max_bytes {
                break;
            }
            let share = (used - max_bytes) as f64 / used as f64 + 0.1;
            let count = |table: &str| -> Result<i64, HistoryError> {
                Ok(self
                    .conn
                    .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
            };
            let holds = (count("holds")? as f64 * share).ceil() as i64;
            let refused = (count("refused")? as f64 * share).ceil() as i64;
            removed += self.conn.execute(
                "DELETE FROM holds WHERE id IN
                     (SELECT id FROM holds WHERE end_ns IS NOT NULL ORDER BY id LIMIT ?1)",
                params![holds],
            )?;
            removed += self.conn.execute(
                "DELETE FROM refused WHERE id IN (SELECT id FROM refused ORDER BY id LIMIT ?1)",
                params![refused],
            )?;
        }
        Ok(removed)
    }

    /// `PRAGMA integrity_check`'s answer: `ok`, or what is wrong.
    pub fn integrity_check(&self) -> Result<String, HistoryError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
    }
}

/// Keeps the `-wal` and `-shm` files when the writer closes (SQLite removes them by default):
/// a reader that may not write in the history's directory (a member of the group that may
/// read the system recorder's history) can open a WAL file read-only only while they exist,
/// since it cannot make them itself.
fn keep_wal_files(conn: &Connection) {
    let mut on: std::ffi::c_int = 1;
    // SAFETY: the handle is this open connection's, used on this thread while `conn` is
    // borrowed; "main" is NUL-terminated; SQLITE_FCNTL_PERSIST_WAL takes a pointer to an int
    // that outlives the call.
    unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&raw mut on).cast(),
        );
    }
}

/// Claims `path` for one writer: `PATH.recorder`, created if needed (never through a symlink)
/// and locked for as long as the store is open. The claim is a file of its own: SQLite's own
/// locks on the database are POSIX locks, which one process's second lock would disturb.
fn claim(path: &Path) -> Result<std::fs::File, HistoryError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".recorder");
    let claim_path = PathBuf::from(name);
    let file = crate::sys::open_claim(&claim_path).map_err(|source| HistoryError::Claim {
        claim: claim_path.clone(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(HistoryError::AnotherRecorder {
            path: path.to_path_buf(),
            claim: claim_path,
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(HistoryError::Claim {
            claim: claim_path,
            source,
        }),
    }
}

/// A directory as the file keeps it: its path as text (lossy for a path that is not UTF-8,
/// which a watch list cannot hold either).
fn dir_text(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}

/// SQLite's LIMIT: -1 is none.
fn sql_limit(limit: Option<usize>) -> i64 {
    limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX))
}

fn nanos(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

fn from_nanos(ns: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(dir: &str, pid: u32, start: i64, end: Option<i64>) -> Hold {
        Hold {
            dir: dir.into(),
            pid: Some(pid),
            command: Some(format!("certbot renew #{pid}")),
            user: Some("root".into()),
            start: Timestamp::from_second(start).unwrap(),
            start_seen: true,
            end: end.map(|e| Timestamp::from_second(e).unwrap()),
            ended_by: end.map(|_| EndedBy::Released),
            source: Source::Monitor,
        }
    }

    /// Over the size limit, the oldest events go (a tenth more than needed), the newest stay,
    /// an open hold stays, and the file stops growing: its freed pages are reused.
    #[test]
    fn the_oldest_events_go_when_the_history_is_over_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let mut store = Store::open(&path).unwrap();
        let open = hold("/etc/le", 1, 0, None);
        store.record(&Recorded::Began(open.clone())).unwrap();
        let batch: Vec<Recorded> = (1..=20_000)
            .map(|i| {
                Recorded::Began(hold(
                    "/etc/le",
                    i + 1,
                    i64::from(i) * 10,
                    Some(i64::from(i) * 10 + 5),
                ))
            })
            .collect();
        store.record_all(&batch).unwrap();
        let used = store.used_bytes().unwrap();
        assert!(used > 1 << 20, "{used}");
        let limit = used / 2;
        let removed = store.prune_to_size(limit).unwrap();
        assert!(store.used_bytes().unwrap() <= limit);
        assert!((10_000..=13_000).contains(&removed), "{removed}");
        let left = store.holds(Path::new("/etc/le"), None, None).unwrap();
        assert_eq!(left.last().unwrap().pid, Some(20_001), "the newest stay");
        assert_eq!(left[0], open, "an open hold stays");
        assert!(
            left[1].pid.unwrap() > 10_000,
            "the oldest went: {:?}",
            left[1]
        );
        // The file's size in pages (the WAL may hold some of them, not yet in the file).
        let pages = |store: &Store| -> i64 {
            store
                .conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap()
        };
        let pages_before = pages(&store);
        for _ in 0..3 {
            store.record_all(&batch[..5_000]).unwrap();
            store.prune_to_size(limit).unwrap();
        }
        assert!(pages(&store) <= pages_before, "reused its pages");
    }

    #[test]
    fn holds_are_found_by_directory_and_time_and_at_an_instant() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("sub/history.db")).unwrap();
        store
            .begin_hold(&hold("/etc/le", 1, 100, Some(200)))
            .unwrap();
        let open = store.begin_hold(&hold("/etc/le", 2, 300, None)).unwrap();
        store
            .begin_hold(&hold("/other", 3, 100, Some(400)))
            .unwrap();
        let at = |s| Timestamp::from_second(s).unwrap();
        assert_eq!(
            store.holds(Path::new("/etc/le"), None, None).unwrap().len(),
            2
        );
        assert_eq!(
            store
                .held_at(Path::new("/etc/le"), at(150))
                .unwrap()
                .unwrap()
                .pid,
            Some(1)
        );
        assert!(
            store
                .held_at(Path::new("/etc/le"), at(250))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store
                .held_at(Path::new("/etc/le"), at(1_000))
                .unwrap()
                .unwrap()
                .pid,
            Some(2),
            "still held"
        );
        store
            .end_hold(open, Some(at(500)), EndedBy::HolderExited)
            .unwrap();
        assert!(
            store
                .held_at(Path::new("/etc/le"), at(600))
                .unwrap()
                .is_none()
        );
        let last = store
            .holds(Path::new("/etc/le"), Some(at(450)), None)
            .unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].ended_by, Some(EndedBy::HolderExited));
        assert_eq!(store.prune(at(250)).unwrap(), 1);
        assert_eq!(
            store.holds(Path::new("/etc/le"), None, None).unwrap().len(),
            1
        );
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn a_newer_schema_is_refused_not_guessed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            Store::open(&path),
            Err(HistoryError::NewerSchema { found: 99, .. })
        ));
        assert!(matches!(
            Store::open_read_only(&path),
            Err(HistoryError::NewerSchema { found: 99, .. })
        ));
    }
}
