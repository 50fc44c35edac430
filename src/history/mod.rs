//! The flight recorder's history: who held each watched lock, from when to when and how it
//! ended, and who was refused. The recorders turn what they see into [`Recorded`] events;
//! `lockscope record` keeps them in a SQLite file that `lockscope history` and the app read
//! while it writes, and `serve --metrics` counts them.
//!
//! - `kernel.rs`: [`KernelRecorder`]: the kernel's lock events (tracefs, root on Linux): every
//!   hold and every refused attempt.
//! - `recorder.rs`: [`MonitorRecorder`]: the monitor's changes into holds (the source when the
//!   kernel's lock events cannot be traced: holds only, at the monitor's precision).
//! - `store.rs` (feature `history`, which links SQLite): [`Store`]: the file (WAL, one writer,
//!   many readers, a versioned schema), writing events, reading them back by directory and
//!   time, retention. Only the programs that keep or read the file link it (`lockscope-history`
//!   and the app), not the `lockscope` command scripts run in loops.
//!
//! Times are UTC nanoseconds since the Unix epoch in the file, [`jiff::Timestamp`] here. Nothing
//! recorded is trusted more than the monitor's own observations: each hold says its source and
//! whether its start was seen or is only a bound.

mod kernel;
mod recorder;
#[cfg(feature = "history")]
mod store;

pub use kernel::KernelRecorder;
pub use recorder::MonitorRecorder;
#[cfg(feature = "history")]
pub use store::{HistoryError, Store};

use jiff::Timestamp;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where the system's recorder (root, the `lockscope-record` service) keeps its history.
pub const SYSTEM_STORE: &str = "/var/lib/lockscope/history.db";

/// Where the history is kept by default: `/var/lib/lockscope/history.db` for root (the system
/// service), else the user's state directory (`~/.local/state/lockscope/history.db`).
pub fn default_store_path() -> PathBuf {
    if crate::sys::running_as_root() {
        return PathBuf::from(SYSTEM_STORE);
    }
    directories::ProjectDirs::from("", "", "lockscope")
        .and_then(|d| d.state_dir().map(Path::to_path_buf))
        .unwrap_or_else(|| std::env::temp_dir().join("lockscope"))
        .join("history.db")
}

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The kernel's own lock events (tracefs `filelock`): every hold and refused attempt.
    Kernel,
    /// The monitor's transitions: holds as often as it looks; refused attempts are not seen.
    Monitor,
}

impl Source {
    /// Its name in the file and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Source::Kernel => "kernel",
            Source::Monitor => "monitor",
        }
    }

    #[cfg_attr(not(feature = "history"), allow(dead_code))]
    fn from_name(name: &str) -> Option<Source> {
        match name {
            "kernel" => Some(Source::Kernel),
            "monitor" => Some(Source::Monitor),
            _ => None,
        }
    }
}

/// How a hold ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndedBy {
    /// The holder let go and lives on (or released as it exited, as certbot does).
    Released,
    /// The holder was gone when the lock was found free: it exited (or was killed) holding it.
    HolderExited,
    /// Another process held the lock at the next look (a hand-over between two looks).
    HandedOver,
    /// The holder let go of a lock whose file had been deleted (or replaced) under it for a
    /// second or more: meanwhile another certbot could start beside it (kernel events only).
    LockFileDeleted,
    /// The recording stopped (or its recorder was killed) while it was held: `end` is the last
    /// moment it is known held, not its end.
    RecordingStopped,
}

impl EndedBy {
    /// Its name in the file and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            EndedBy::Released => "released",
            EndedBy::HolderExited => "holder-exited",
            EndedBy::HandedOver => "handed-over",
            EndedBy::LockFileDeleted => "lock-file-deleted",
            EndedBy::RecordingStopped => "recording-stopped",
        }
    }

    #[cfg_attr(not(feature = "history"), allow(dead_code))]
    fn from_name(name: &str) -> Option<EndedBy> {
        [
            EndedBy::Released,
            EndedBy::HolderExited,
            EndedBy::HandedOver,
            EndedBy::LockFileDeleted,
            EndedBy::RecordingStopped,
        ]
        .into_iter()
        .find(|e| e.name() == name)
    }
}

/// What a recorder saw: a hold's beginning or end, or a refused attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A hold began (or was found held at the start: `start_seen` false).
    Began(Hold),
    /// A hold ended (`end` and `ended_by` set).
    Ended(Hold),
    /// An attempt to take the lock was refused (kernel events only).
    Refused(Refused),
}

/// One hold of a directory's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The directory (as the recording named it).
    pub dir: PathBuf,
    /// The process, where visible.
    pub pid: Option<u32>,
    /// Its command line, where readable.
    pub command: Option<String>,
    /// Its user, where known.
    pub user: Option<String>,
    /// When it was taken; see `start_seen`.
    pub start: Timestamp,
    /// `start` is when the hold was seen to begin; otherwise it was already held when the
    /// recording began, and `start` is only a bound (held at least since then).
    pub start_seen: bool,
    /// When it ended (`None`: held now); with [`EndedBy::RecordingStopped`] the last moment it
    /// is known to have been held.
    pub end: Option<Timestamp>,
    /// How it ended (`None` while held).
    pub ended_by: Option<EndedBy>,
    /// Where the record came from.
    pub source: Source,
}

/// An attempt to take a held lock that was refused (only the kernel's events show these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The directory (as the recording named it).
    pub dir: PathBuf,
    /// The process, where visible.
    pub pid: Option<u32>,
    /// Its command line, where readable.
    pub command: Option<String>,
    /// Its user, where known.
    pub user: Option<String>,
    /// When it was refused.
    pub time: Timestamp,
    /// Who held the lock at that instant, where known.
    pub holder_pid: Option<u32>,
    /// Where the record came from.
    pub source: Source,
}

impl Hold {
    /// This hold, ended at `at` by `ended_by`.
    pub fn ended(mut self, at: Timestamp, ended_by: EndedBy) -> Hold {
        self.end = Some(at);
        self.ended_by = Some(ended_by);
        self
    }

    /// As `history --json` and `record --events-json` print it (the CLI's contract: keys are
    /// added, never renamed): `kind` "hold", `dir`, `pid`, `command`, `user`, `start`,
    /// `start_seen`, `end` (null while held), `ended_by`, `source`; times RFC 3339 UTC.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The JSON row (see [`Hold::to_json`]), written straight from the hold.
impl Serialize for Hold {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut row = serializer.serialize_map(Some(10))?;
        row.serialize_entry("kind", "hold")?;
        row.serialize_entry("dir", &self.dir)?;
        row.serialize_entry("pid", &self.pid)?;
        row.serialize_entry("command", &self.command)?;
        row.serialize_entry("user", &self.user)?;
        row.serialize_entry("start", &self.start.to_string())?;
        row.serialize_entry("start_seen", &self.start_seen)?;
        row.serialize_entry("end", &self.end.map(|e| e.to_string()))?;
        row.serialize_entry("ended_by", &self.ended_by.map(EndedBy::name))?;
        row.serialize_entry("source", self.source.name())?;
        row.end()
    }
}

impl Refused {
    /// As `history --json` prints it: `kind` "refused", `dir`, `pid`, `command`, `user`,
    /// `time`, `holder_pid`, `source`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The JSON row (see [`Refused::to_json`]), written straight from the attempt.
impl Serialize for Refused {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut row = serializer.serialize_map(Some(8))?;
        row.serialize_entry("kind", "refused")?;
        row.serialize_entry("dir", &self.dir)?;
        row.serialize_entry("pid", &self.pid)?;
        row.serialize_entry("command", &self.command)?;
        row.serialize_entry("user", &self.user)?;
        row.serialize_entry("time", &self.time.to_string())?;
        row.serialize_entry("holder_pid", &self.holder_pid)?;
        row.serialize_entry("source", self.source.name())?;
        row.end()
    }
}
