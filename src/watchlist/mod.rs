//! Saved watch lists: named lists of directories to watch, the active list, and the monitor
//! settings that go with them (poll interval, lock-file name), kept in one TOML file in a config
//! directory.
//!
//! # One file
//!
//! Everything lives in `<config dir>/lockscope.toml` ([`FILE_NAME`]). One file makes every
//! operation one atomic replace: renaming a list, deleting the active one and switching to
//! another, or changing a setting can never be half done, which one file per list cannot
//! promise (a rename there is create + delete, and the active list would live in a third file).
//!
//! ```toml
//! active = "certbot"
//!
//! [settings]
//! interval = "1s"              # humantime, as `lockscope watch --interval`; at least 10ms
//! lock_name = ".certbot.lock"  # a plain file name
//!
//! [[list]]
//! name = "certbot"
//! dirs = ["/etc/letsencrypt", "/var/lib/letsencrypt", "/var/log/letsencrypt"]
//! ```
//!
//! Every key may be missing (an empty file is a valid file with no lists). Unknown keys are
//! ignored and not written back. lockscope rewrites the whole file on each save, so comments
//! added by hand are not kept.
//!
//! A single list is exchanged ([`import`], [`export`]) as a file with just `name` and `dirs` at
//! the top level, like `config/certbot-watchlist.toml`.
//!
//! # Rules
//!
//! - List names are trimmed, non-empty, without control characters, and unique (exactly, case
//!   included). Directories are absolute paths; duplicates (as [`Path`](std::path::Path) compares them, so
//!   `/a/` equals `/a`) are removed, keeping the first.
//! - **Paths that are not Unicode** (non-UTF-8 bytes on Unix, unpaired surrogates on Windows)
//!   are refused when they enter a list, with [`DirProblem::NotUnicode`]. TOML strings are
//!   Unicode: a lossy conversion would silently watch another directory, and an escape scheme
//!   would make the file unreadable to people and other tools. Such a directory can still be
//!   watched by naming it on the command line.
//! - [`State`] keeps these rules by construction: its lists are only changed through methods
//!   that check them, so [`Store::save`] never writes a file that [`Store::load`] would repair.
//!
//! # Loading never stops the app
//!
//! - No file: no lists, no warning (first run; the app may offer [`WatchList::certbot_preset`]).
//! - A file that is not a lockscope file (binary, not UTF-8, larger than [`MAX_FILE_SIZE`],
//!   TOML syntax errors, wrong types) is moved aside to `lockscope.toml.bak` (or `.bak.1`,
//!   `.bak.2`, ...: an existing backup is never replaced), byte for byte, and loading yields no
//!   lists plus a [`Warning::SetAside`] to show the user.
//! - A file that parses but breaks a rule (a relative path, two lists with one name, an
//!   interval below 10ms, an unknown active list) is repaired in memory: the bad entry is
//!   dropped or renamed, each with a [`Warning::Repaired`] naming it. The file itself is only
//!   rewritten by the next save.
//! - Only I/O failures that leave nothing sensible to do are errors: the file exists but cannot
//!   be read (permissions, it is a directory, a FIFO, a socket or a device: only regular files
//!   are opened for reading, and a FIFO never blocks the load), or a corrupt file cannot be
//!   moved aside.
//! - Repairs take time linear in the file's size, however many lists share a name, and at most
//!   [`MAX_REPAIR_WARNINGS`] are listed one by one; one more warning counts the rest.
//!
//! # Writes are atomic
//!
//! [`Store::save`] and [`export`] write a temporary file `.<name>.<pid>.<n>.tmp` (created with
//! `O_EXCL`) in the target's directory, `fsync` it, rename it over the target, then `fsync` the
//! directory on Unix. A reader, or a crash at any moment, sees the old file or the new one, never
//! an empty or partial one. A crash can leave the temporary file behind; [`Store::load`] removes
//! such leftovers in the config directory once they are an hour old (a younger one may belong to
//! a save in progress in another process). On Windows the directory is not synced (it cannot be
//! opened as a file); the rename is still atomic. If the target is a symlink (a config kept in a
//! dotfiles repository), the file it points to is replaced and the link is kept. A target that
//! is a directory or a special file (FIFO, socket, device such as `/dev/null`) is refused
//! before anything is written.
//!
//! Permissions: a watch list is not secret. A new file gets the process's default mode (0666
//! minus the umask, typically 0644); a save over an existing file keeps that file's permissions,
//! so a user who made it 0600 keeps 0600.
//!
//! Concurrent writers (the app and a CLI at once) are not coordinated: the last save wins, and
//! each save is whole.
//!
//! # Where each part lives
//!
//! - `model.rs`: [`WatchList`], [`State`], [`Settings`] and the rules they keep (names,
//!   directories, duplicates).
//! - `format.rs`: the TOML of `lockscope.toml` and of exchange files, and the repairs on load.
//! - `store.rs`: [`Store`], [`import`], [`export`]: safe reading, atomic writes, corrupt files
//!   set aside, leftover temporary files removed.
//! - `defaults.rs`: certbot's default directories ([`certbot_defaults`]).
//! - `sys_unix.rs` / `sys_other.rs`: the platform part of the file I/O (non-blocking open for
//!   reading, directory fsync), one API.
#![deny(missing_docs)]

mod defaults;
mod format;
mod model;
mod store;
#[cfg_attr(unix, path = "sys_unix.rs")]
#[cfg_attr(not(unix), path = "sys_other.rs")]
mod sys;
#[cfg(test)]
mod test_support;

pub use crate::duration::MIN_INTERVAL;
pub use defaults::{CERTBOT_PRESET_NAME, certbot_defaults, certbot_defaults_with};
pub use model::{
    DEFAULT_STUCK_AFTER, DirProblem, MIN_STUCK_AFTER, Notifications, Settings, State, WatchList,
    is_remote,
};
pub use store::{Imported, Store, default_config_dir, export, import, import_skipping};

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// The file in the config directory that holds all lists, the active list and the settings.
pub const FILE_NAME: &str = "lockscope.toml";

/// Files larger than this are not read: a config or exchanged list is never near it (100,000
/// directories take about 5 MB), and reading an arbitrary huge file into memory would hang the
/// app.
pub const MAX_FILE_SIZE: u64 = 64 << 20;

/// [`Store::load`] lists at most this many repairs one by one; one more warning counts the rest.
pub const MAX_REPAIR_WARNINGS: usize = 100;

/// What went wrong with a watch list, the settings, or their files.
#[derive(Debug, thiserror::Error)]
pub enum WatchListError {
    /// A list name is empty once trimmed.
    #[error("a watch list needs a name")]
    EmptyName,
    /// A list name contains a control character (a newline, a tab, an escape...).
    #[error("watch list name {0:?} contains a control character")]
    ControlCharInName(String),
    /// Another list already has this name.
    #[error("a watch list named {0:?} already exists")]
    DuplicateName(String),
    /// No list has this name.
    #[error("there is no watch list named {0:?}")]
    NoSuchList(String),
    /// A directory cannot be in a list.
    #[error("watch list {list:?}: directory {dir:?} {problem}")]
    BadDir {
        /// The list's name.
        list: String,
        /// The directory refused.
        dir: PathBuf,
        /// Why it was refused.
        problem: DirProblem,
    },
    /// A poll interval below [`MIN_INTERVAL`].
    #[error("the poll interval must be at least 10ms, not {0:?}")]
    IntervalTooShort(Duration),
    /// A "held longer than" notification threshold below [`MIN_STUCK_AFTER`].
    #[error("the \"held longer than\" threshold must be at least 1s, not {0:?}")]
    StuckAfterTooShort(Duration),
    /// A lock-file name that is not a plain file name.
    #[error("lock file name {0:?} is not a plain file name (like .certbot.lock)")]
    BadLockName(String),
    /// A file exists but cannot be read (permissions, a directory, a FIFO, a device...).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// An exchange file larger than [`MAX_FILE_SIZE`].
    #[error("{path} is larger than {} MiB; it is not a watch list", MAX_FILE_SIZE >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// An exchange file that is not a watch list (not UTF-8, not TOML, wrong types).
    #[error("{path} is not a lockscope watch list: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, on one line, with its position.
        message: String,
    },
    /// A file or its directory cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file (or the directory that could not be created).
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A corrupt `lockscope.toml` could not be moved aside, so loading cannot start empty.
    #[error("{path} is corrupt and could not be moved aside: {source}")]
    SetAside {
        /// The corrupt file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The lists could not be encoded as TOML.
    #[error("cannot encode the watch lists as TOML: {0}")]
    Encode(#[from] toml::ser::Error),
}

/// Something the user should be told after [`Store::load`]; the app started anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The file could not be understood and was moved to `backup`; loading started empty.
    SetAside {
        /// The corrupt file (`<config dir>/lockscope.toml`).
        file: PathBuf,
        /// Where it is now (`lockscope.toml.bak`, `.bak.1`, ...).
        backup: PathBuf,
        /// Why it was not understood, on one line.
        reason: String,
    },
    /// The file broke a rule; the entry `what` describes was dropped or changed in memory.
    Repaired {
        /// The file that broke the rule.
        file: PathBuf,
        /// The entry, and what was done with it.
        what: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::SetAside {
                file,
                backup,
                reason,
            } => write!(
                f,
                "{} was corrupt ({reason}); moved aside to {}, starting with no watch lists",
                file.display(),
                backup.display()
            ),
            Warning::Repaired { file, what } => write!(f, "{}: {what}", file.display()),
        }
    }
}

/// What [`Store::load`] found: the state to use, and what to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The state to use: the file's, repaired, or empty if the file was missing or set aside.
    pub state: State,
    /// What to tell the user, in the order found.
    pub warnings: Vec<Warning>,
}
