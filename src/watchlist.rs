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
//!   included). Directories are absolute paths; duplicates (as [`Path`] compares them, so
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

use crate::LOCK_FILE_NAME;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The file in the config directory that holds all lists, the active list and the settings.
pub const FILE_NAME: &str = "lockscope.toml";

/// Files larger than this are not read: a config or exchanged list is never near it (100,000
/// directories take about 5 MB), and reading an arbitrary huge file into memory would hang the
/// app.
pub const MAX_FILE_SIZE: u64 = 64 << 20;

/// [`Store::load`] lists at most this many repairs one by one; one more warning counts the rest.
pub const MAX_REPAIR_WARNINGS: usize = 100;

/// The smallest poll interval, as `lockscope watch --interval`.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The name of [`WatchList::certbot_preset`].
pub const CERTBOT_PRESET_NAME: &str = "certbot";

/// Leftover temporary files older than this are removed by [`Store::load`].
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// A named list of directories to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchList {
    pub name: String,
    pub dirs: Vec<PathBuf>,
}

/// Why a directory cannot be in a watch list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirProblem {
    Empty,
    NotAbsolute,
    NotUnicode,
}

impl fmt::Display for DirProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DirProblem::Empty => "is empty",
            DirProblem::NotAbsolute => "is not an absolute path",
            DirProblem::NotUnicode => {
                "is not valid Unicode and cannot be saved in a TOML file (watch it from the \
                 command line instead)"
            }
        })
    }
}

/// What went wrong with a watch list, the settings, or their files.
#[derive(Debug, thiserror::Error)]
pub enum WatchListError {
    #[error("a watch list needs a name")]
    EmptyName,
    #[error("watch list name {0:?} contains a control character")]
    ControlCharInName(String),
    #[error("a watch list named {0:?} already exists")]
    DuplicateName(String),
    #[error("there is no watch list named {0:?}")]
    NoSuchList(String),
    #[error("watch list {list:?}: directory {dir:?} {problem}")]
    BadDir {
        list: String,
        dir: PathBuf,
        problem: DirProblem,
    },
    #[error("the poll interval must be at least 10ms, not {0:?}")]
    IntervalTooShort(Duration),
    #[error("lock file name {0:?} is not a plain file name (like .certbot.lock)")]
    BadLockName(String),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is larger than {} MiB; it is not a watch list", MAX_FILE_SIZE >> 20)]
    TooLarge { path: PathBuf },
    #[error("{path} is not a lockscope watch list: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path} is corrupt and could not be moved aside: {source}")]
    SetAside { path: PathBuf, source: io::Error },
    #[error("cannot encode the watch lists as TOML: {0}")]
    Encode(#[from] toml::ser::Error),
}

impl WatchList {
    /// A checked list: the name is trimmed and must be non-empty without control characters;
    /// every directory must be absolute and Unicode; duplicates are dropped, keeping the first.
    pub fn new(
        name: &str,
        dirs: impl IntoIterator<Item = PathBuf>,
    ) -> Result<WatchList, WatchListError> {
        let name = check_name(name)?;
        let mut seen = HashSet::new();
        let mut kept = Vec::new();
        for dir in dirs {
            if let Some(problem) = dir_problem(&dir) {
                return Err(WatchListError::BadDir {
                    list: name,
                    dir,
                    problem,
                });
            }
            if seen.insert(dir.clone()) {
                kept.push(dir);
            }
        }
        Ok(WatchList { name, dirs: kept })
    }

    /// certbot's directories on this OS, named [`CERTBOT_PRESET_NAME`]: see [`certbot_defaults`].
    pub fn certbot_preset() -> WatchList {
        WatchList {
            name: CERTBOT_PRESET_NAME.to_string(),
            dirs: certbot_defaults(),
        }
    }

    /// This list, checked and normalized as by [`WatchList::new`].
    fn checked(&self) -> Result<WatchList, WatchListError> {
        WatchList::new(&self.name, self.dirs.iter().cloned())
    }
}

fn check_name(name: &str) -> Result<String, WatchListError> {
    let name = name.trim();
    if name.is_empty() {
        Err(WatchListError::EmptyName)
    } else if name.chars().any(char::is_control) {
        Err(WatchListError::ControlCharInName(name.to_string()))
    } else {
        Ok(name.to_string())
    }
}

fn dir_problem(dir: &Path) -> Option<DirProblem> {
    if dir.as_os_str().is_empty() {
        Some(DirProblem::Empty)
    } else if dir.to_str().is_none() {
        Some(DirProblem::NotUnicode)
    } else if !dir.is_absolute() {
        Some(DirProblem::NotAbsolute)
    } else {
        None
    }
}

/// Monitor settings saved with the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Period of the monitor's pass; at least [`MIN_INTERVAL`]. Default 1s.
    pub interval: Duration,
    /// The lock file's name in each directory: a plain file name. Default `.certbot.lock`.
    pub lock_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interval: Duration::from_secs(1),
            lock_name: LOCK_FILE_NAME.to_string(),
        }
    }
}

impl Settings {
    pub fn check(&self) -> Result<(), WatchListError> {
        if self.interval < MIN_INTERVAL {
            return Err(WatchListError::IntervalTooShort(self.interval));
        }
        if !crate::lock::is_plain_lock_name(&self.lock_name) {
            return Err(WatchListError::BadLockName(self.lock_name.clone()));
        }
        Ok(())
    }
}

/// The saved lists, the active one and the settings. Lists keep their order (the order the
/// user created or arranged them). There is an active list whenever there is any list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    lists: Vec<WatchList>,
    active: Option<usize>,
    settings: Settings,
}

impl State {
    pub fn lists(&self) -> &[WatchList] {
        &self.lists
    }

    pub fn get(&self, name: &str) -> Option<&WatchList> {
        self.lists.iter().find(|l| l.name == name)
    }

    /// The active list; `None` only when there are no lists.
    pub fn active(&self) -> Option<&WatchList> {
        self.active.and_then(|i| self.lists.get(i))
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn set_settings(&mut self, settings: Settings) -> Result<(), WatchListError> {
        settings.check()?;
        self.settings = settings;
        Ok(())
    }

    /// Adds an empty list at the end. The active list does not change, except that the first
    /// list becomes active.
    pub fn create(&mut self, name: &str) -> Result<(), WatchListError> {
        self.insert(WatchList::new(name, [])?)
    }

    /// Adds `list` (checked and normalized as by [`WatchList::new`]) at the end, like
    /// [`State::create`]. For an imported list whose name is taken, see [`State::unused_name`].
    pub fn insert(&mut self, list: WatchList) -> Result<(), WatchListError> {
        let list = list.checked()?;
        if self.get(&list.name).is_some() {
            return Err(WatchListError::DuplicateName(list.name));
        }
        self.lists.push(list);
        self.active.get_or_insert(0);
        Ok(())
    }

    /// Renames a list; it stays where it is, and stays active if it was.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), WatchListError> {
        let i = self.index(from)?;
        let to = check_name(to)?;
        if self
            .lists
            .iter()
            .enumerate()
            .any(|(j, l)| j != i && l.name == to)
        {
            return Err(WatchListError::DuplicateName(to));
        }
        self.lists[i].name = to;
        Ok(())
    }

    /// Removes a list and returns it. Deleting the active list activates the one that takes its
    /// place (the next one, or the previous one if it was the last), like closing a tab.
    pub fn delete(&mut self, name: &str) -> Result<WatchList, WatchListError> {
        let i = self.index(name)?;
        let removed = self.lists.remove(i);
        self.active = match self.active {
            _ if self.lists.is_empty() => None,
            Some(a) if a > i => Some(a - 1),
            Some(a) if a == i => Some(i.min(self.lists.len() - 1)),
            other => other,
        };
        Ok(removed)
    }

    /// Makes `name` the active list.
    pub fn switch(&mut self, name: &str) -> Result<(), WatchListError> {
        self.active = Some(self.index(name)?);
        Ok(())
    }

    /// Replaces a list's directories (checked, duplicates dropped).
    pub fn set_dirs(
        &mut self,
        name: &str,
        dirs: impl IntoIterator<Item = PathBuf>,
    ) -> Result<(), WatchListError> {
        let i = self.index(name)?;
        self.lists[i].dirs = WatchList::new(name, dirs)?.dirs;
        Ok(())
    }

    /// `base` if no list has that name, else `base (2)`, `base (3)`, ...
    pub fn unused_name(&self, base: &str) -> String {
        let base = base.trim();
        if self.get(base).is_none() {
            return base.to_string();
        }
        (2..)
            .map(|n| format!("{base} ({n})"))
            .find(|candidate| self.get(candidate).is_none())
            .unwrap_or_default() // unreachable: there are fewer lists than numbers
    }

    fn index(&self, name: &str) -> Result<usize, WatchListError> {
        self.lists
            .iter()
            .position(|l| l.name == name)
            .ok_or_else(|| WatchListError::NoSuchList(name.to_string()))
    }
}

/// Something the user should be told after [`Store::load`]; the app started anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The file could not be understood and was moved to `backup`; loading started empty.
    SetAside {
        file: PathBuf,
        backup: PathBuf,
        reason: String,
    },
    /// The file broke a rule; the entry `what` describes was dropped or changed in memory.
    Repaired { file: PathBuf, what: String },
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
    pub state: State,
    pub warnings: Vec<Warning>,
}

/// The saved state in a config directory (normally [`default_config_dir`]; the CLI's and app's
/// `--config-dir` choose another).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// The platform's config directory for lockscope: `$XDG_CONFIG_HOME/lockscope` or
/// `~/.config/lockscope` on Linux, `~/Library/Application Support/lockscope` on macOS,
/// `%APPDATA%\lockscope\config` on Windows. `None` when there is no home directory.
pub fn default_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "lockscope").map(|p| p.config_dir().to_path_buf())
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/lockscope.toml`.
    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Reads the saved state; see the module docs for what is repaired, set aside or an error.
    pub fn load(&self) -> Result<Loaded, WatchListError> {
        remove_stale_temps(&self.dir, FILE_NAME);
        let file = self.file();
        let bytes = match read_limited(&file) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return corrupt(&file, "larger than 64 MiB".into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    state: State::default(),
                    warnings: Vec::new(),
                });
            }
            Err(source) => return Err(WatchListError::Read { path: file, source }),
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return corrupt(&file, "not UTF-8 text".into());
        };
        match toml::from_str::<StateFile>(text) {
            Ok(raw) => Ok(raw.into_state(&file)),
            Err(e) => corrupt(&file, one_line(&e, text)),
        }
    }

    /// Writes `state` atomically (see the module docs), creating the directory if needed.
    pub fn save(&self, state: &State) -> Result<(), WatchListError> {
        let text = StateFile::from_state(state).encode()?;
        fs::create_dir_all(&self.dir).map_err(|source| WatchListError::Write {
            path: self.dir.clone(),
            source,
        })?;
        write_atomic(&self.file(), text.as_bytes())
    }
}

/// Reads one list from an exchange file (`name` and `dirs` at the top level, as written by
/// [`export`]). Unlike [`Store::load`], nothing is repaired: any rule broken is an error, so the
/// user can fix the file they chose.
pub fn import(path: &Path) -> Result<WatchList, WatchListError> {
    let parse_error = |message: String| WatchListError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let bytes = match read_limited(path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(WatchListError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(WatchListError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| parse_error("not UTF-8 text".into()))?;
    let raw: ListFile = toml::from_str(text).map_err(|e| parse_error(one_line(&e, text)))?;
    WatchList::new(&raw.name, raw.dirs.into_iter().map(PathBuf::from))
}

/// Writes one list as an exchange file, atomically, replacing `path` if it exists.
pub fn export(list: &WatchList, path: &Path) -> Result<(), WatchListError> {
    let list = list.checked()?;
    let raw = ListFile {
        name: list.name,
        dirs: list.dirs.iter().map(|d| path_text(d)).collect(),
    };
    let text = format!(
        "# A lockscope watch list: the directories whose certbot locks to watch.\n{}",
        toml::to_string_pretty(&raw)?
    );
    write_atomic(path, text.as_bytes())
}

/// certbot's default directories on this OS: `/etc/letsencrypt`, `/var/lib/letsencrypt`,
/// `/var/log/letsencrypt` and, for the nginx and apache plugins (which lock the server root),
/// whichever of `/etc/nginx`, `/etc/apache2`, `/etc/httpd` is a directory here. On Windows
/// `C:\Certbot`, `C:\Certbot\lib`, `C:\Certbot\log`.
pub fn certbot_defaults() -> Vec<PathBuf> {
    certbot_defaults_with(Path::is_dir)
}

/// [`certbot_defaults`] with `exists` deciding which web-server roots are present.
pub fn certbot_defaults_with(exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    certbot_defaults_for(cfg!(windows), exists)
}

fn certbot_defaults_for(windows: bool, exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    if windows {
        return [r"C:\Certbot", r"C:\Certbot\lib", r"C:\Certbot\log"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
    }
    let certbot = [
        "/etc/letsencrypt",
        "/var/lib/letsencrypt",
        "/var/log/letsencrypt",
    ];
    let web_roots = ["/etc/nginx", "/etc/apache2", "/etc/httpd"];
    certbot
        .into_iter()
        .map(PathBuf::from)
        .chain(
            web_roots
                .into_iter()
                .map(PathBuf::from)
                .filter(|p| exists(p)),
        )
        .collect()
}

// ---- File format -----------------------------------------------------------------------------

/// `lockscope.toml` as serde sees it. Field order matters: TOML puts plain keys before tables.
#[derive(Serialize, Deserialize, Default)]
struct StateFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    active: Option<String>,
    #[serde(default)]
    settings: SettingsFile,
    #[serde(default, rename = "list")]
    lists: Vec<ListFile>,
}

#[derive(Serialize, Deserialize, Default)]
struct SettingsFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lock_name: Option<String>,
}

/// One list: a `[[list]]` entry of `lockscope.toml`, or a whole exchange file.
#[derive(Serialize, Deserialize)]
struct ListFile {
    name: String,
    #[serde(default)]
    dirs: Vec<String>,
}

/// A path known to be Unicode (checked when it entered a list).
fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl StateFile {
    fn from_state(state: &State) -> StateFile {
        StateFile {
            active: state.active().map(|l| l.name.clone()),
            settings: SettingsFile {
                interval: Some(humantime::format_duration(state.settings.interval).to_string()),
                lock_name: Some(state.settings.lock_name.clone()),
            },
            lists: state
                .lists
                .iter()
                .map(|l| ListFile {
                    name: l.name.clone(),
                    dirs: l.dirs.iter().map(|d| path_text(d)).collect(),
                })
                .collect(),
        }
    }

    fn encode(&self) -> Result<String, WatchListError> {
        Ok(format!(
            "# lockscope's saved watch lists. lockscope rewrites this file when lists change;\n\
             # comments are not kept.\n\n{}",
            toml::to_string_pretty(self)?
        ))
    }

    /// The state this file describes, with every broken rule repaired and reported.
    fn into_state(self, file: &Path) -> Loaded {
        let mut warnings = Vec::new();
        let mut unlisted = 0usize;
        let mut warn = |what: String| {
            if warnings.len() < MAX_REPAIR_WARNINGS {
                warnings.push(Warning::Repaired {
                    file: file.to_path_buf(),
                    what,
                })
            } else {
                unlisted += 1;
            }
        };
        let mut state = State::default();
        let mut names = NameSet::default();
        for raw in self.lists {
            let name = match check_name(&raw.name) {
                Ok(name) => name,
                Err(e) => {
                    let name = names.unused("unnamed");
                    warn(format!("{e}; the list is now named {name:?}"));
                    name
                }
            };
            let name = match names.unused(&name) {
                unused if unused != name => {
                    warn(format!(
                        "two watch lists are named {name:?}; the second is now {unused:?}"
                    ));
                    unused
                }
                _ => name,
            };
            let mut dirs = Vec::with_capacity(raw.dirs.len());
            for dir in raw.dirs.into_iter().map(PathBuf::from) {
                match dir_problem(&dir) {
                    None => dirs.push(dir),
                    Some(problem) => warn(format!(
                        "watch list {name:?}: directory {dir:?} {problem}; it was left out"
                    )),
                }
            }
            // Cannot fail: the name and every directory were checked above.
            if let Ok(list) = WatchList::new(&name, dirs) {
                names.insert(&list.name);
                state.lists.push(list);
            }
        }
        state.active = match self.active {
            None => None,
            Some(name) => {
                let found = state.lists.iter().position(|l| l.name == name.trim());
                if found.is_none() && !state.lists.is_empty() {
                    warn(format!(
                        "the active watch list {name:?} does not exist; {:?} is active instead",
                        state.lists[0].name
                    ));
                }
                found
            }
        };
        if state.active.is_none() && !state.lists.is_empty() {
            state.active = Some(0);
        }
        if let Some(text) = self.settings.interval {
            match parse_interval(&text) {
                Some(d) if d >= MIN_INTERVAL => state.settings.interval = d,
                _ => warn(format!(
                    "interval {text:?} is not a duration of at least 10ms (like \"1s\"); using {}",
                    humantime::format_duration(state.settings.interval)
                )),
            }
        }
        if let Some(lock_name) = self.settings.lock_name {
            let candidate = Settings {
                lock_name,
                ..state.settings.clone()
            };
            match candidate.check() {
                Ok(()) => state.settings = candidate,
                Err(e) => warn(format!("{e}; using {LOCK_FILE_NAME}")),
            }
        }
        if unlisted > 0 {
            warnings.push(Warning::Repaired {
                file: file.to_path_buf(),
                what: format!("{unlisted} more problems were repaired (not listed)"),
            });
        }
        Loaded { state, warnings }
    }
}

/// The list names taken so far while loading, for [`State::unused_name`]'s naming in constant
/// time per list: a file with thousands of lists of one name must not take cubic time.
#[derive(Default)]
struct NameSet {
    taken: HashSet<String>,
    /// Per base name, the number below which every `base (n)` is taken.
    next: HashMap<String, u64>,
}

impl NameSet {
    /// `base` if free, else the first free `base (n)`, n >= 2 (as [`State::unused_name`]).
    fn unused(&mut self, base: &str) -> String {
        let base = base.trim();
        if !self.taken.contains(base) {
            return base.to_string();
        }
        let n = self.next.entry(base.to_string()).or_insert(2);
        loop {
            let candidate = format!("{base} ({n})");
            *n += 1;
            if !self.taken.contains(&candidate) {
                return candidate;
            }
        }
    }

    fn insert(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }
}

/// A duration as the CLI reads it: humantime (`30s`, `1m 30s`, `500ms`) or bare seconds.
fn parse_interval(text: &str) -> Option<Duration> {
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(text).ok(),
    }
}

/// A TOML error on one line with its position (its Display spans several lines).
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim().replace('\n', " ");
    let Some(start) = e.span().map(|s| s.start.min(text.len())) else {
        return message;
    };
    let before = text.as_bytes().get(..start).unwrap_or_default();
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    format!("{message} at line {line}, column {column}")
}

// ---- I/O -------------------------------------------------------------------------------------

/// The whole file, or `None` if it is larger than [`MAX_FILE_SIZE`] (without reading it all).
/// Only regular files are read: a FIFO would block until some writer appeared (so it is opened
/// non-blocking, then refused), and a device like `/dev/zero` would be read to the size limit.
fn read_limited(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // No effect on a regular file's reads; lets open() of a FIFO return at once.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device)",
        ));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Ok(None);
    }
    // The length can lie (special files report 0) or grow meanwhile: read at most one byte more.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_SIZE).then_some(bytes))
}

/// Moves a corrupt file aside and starts empty, telling the user where the file went.
fn corrupt(file: &Path, reason: String) -> Result<Loaded, WatchListError> {
    let backup = set_aside(file).map_err(|source| WatchListError::SetAside {
        path: file.to_path_buf(),
        source,
    })?;
    Ok(Loaded {
        state: State::default(),
        warnings: vec![Warning::SetAside {
            file: file.to_path_buf(),
            backup,
            reason,
        }],
    })
}

/// Renames `file` to the first free name of `file.bak`, `file.bak.1`, ... Never replaces an
/// existing backup: a hard link fails if its target exists, so two processes cannot pick the
/// same name. Where hard links are not supported, an existence check and a rename do.
fn set_aside(file: &Path) -> io::Result<PathBuf> {
    for n in 0..1000 {
        let mut name = file.as_os_str().to_owned();
        name.push(".bak");
        if n > 0 {
            name.push(format!(".{n}"));
        }
        let backup = PathBuf::from(name);
        match fs::hard_link(file, &backup) {
            Ok(()) => {
                match fs::remove_file(file) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                sync_parent(file)?;
                return Ok(backup);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
            Err(_) => {
                if fs::symlink_metadata(&backup).is_ok() {
                    continue;
                }
                fs::rename(file, &backup)?;
                sync_parent(file)?;
                return Ok(backup);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "1000 backups exist already; remove some",
    ))
}

/// Replaces `target` with `bytes` so that readers and crashes see the old or the new content.
fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), WatchListError> {
    let write_error = |source| WatchListError::Write {
        path: target.to_path_buf(),
        source,
    };
    // Replace the file a symlink points to, not the link.
    let target = match fs::symlink_metadata(target) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(target).map_err(write_error)?
        }
        _ => target.to_path_buf(),
    };
    let existing = fs::metadata(&target).ok();
    // Refused before a temporary file is made, so a failed save leaves the directory untouched
    // (and a rename never replaces a directory or a device node such as /dev/null).
    match &existing {
        Some(m) if m.is_dir() => {
            return Err(write_error(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory",
            )));
        }
        Some(m) if !m.is_file() => {
            return Err(write_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a special file (FIFO, socket or device), not a regular file",
            )));
        }
        _ => {}
    }
    let keep_permissions = existing.map(|m| m.permissions());
    let (tmp_path, mut tmp) = create_temp(&target).map_err(write_error)?;
    let result = (|| {
        tmp.write_all(bytes)?;
        if let Some(permissions) = keep_permissions {
            tmp.set_permissions(permissions)?;
        }
        tmp.sync_all()?;
        drop(tmp);
        fs::rename(&tmp_path, &target)?;
        sync_parent(&target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    result.map_err(write_error)
}

/// A new file `.<name>.<pid>.<n>.tmp` beside `target`, created exclusively.
fn create_temp(target: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    for _ in 0..1000 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp_path = dir.join(tmp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
        {
            Ok(file) => return Ok((tmp_path, file)),
            // Left by a crashed process that had our pid: try the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    ))
}

/// Removes `.<file_name>.*.tmp` files in `dir` older than [`STALE_TEMP_AGE`]. Best effort.
fn remove_stale_temps(dir: &Path, file_name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{file_name}.");
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(&prefix) && name.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if old && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename or unlink in `path`'s directory durable (Unix; Windows cannot open a
/// directory as a file, and its rename is journaled by NTFS).
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(parent_dir(path))?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    fn abs(s: &str) -> PathBuf {
        if cfg!(windows) {
            PathBuf::from(format!(
                r"C:\{}",
                s.trim_start_matches('/').replace('/', "\\")
            ))
        } else {
            PathBuf::from(s)
        }
    }

    fn sample() -> State {
        let mut state = State::default();
        state
            .insert(
                WatchList::new("certbot", [abs("/etc/letsencrypt"), abs("/var/lib/x")]).unwrap(),
            )
            .unwrap();
        state.create("empty").unwrap();
        state
            .insert(WatchList::new("web", [abs("/etc/nginx")]).unwrap())
            .unwrap();
        state.switch("web").unwrap();
        state
            .set_settings(Settings {
                interval: Duration::from_millis(1500),
                lock_name: ".other.lock".into(),
            })
            .unwrap();
        state
    }

    fn names(state: &State) -> Vec<&str> {
        state.lists().iter().map(|l| l.name.as_str()).collect()
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("config"));
        (dir, store)
    }

    /// Writes `bytes` as the store's file and loads it.
    fn load_bytes(bytes: &[u8]) -> (tempfile::TempDir, Store, Loaded) {
        let (dir, store) = store();
        fs::create_dir_all(store.dir()).unwrap();
        fs::write(store.file(), bytes).unwrap();
        let loaded = store.load().expect("load must not fail on bad content");
        (dir, store, loaded)
    }

    fn backups(store: &Store) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".bak"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn save_load_round_trip() {
        let (_dir, store) = store();
        let state = sample();
        store.save(&state).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.warnings, []);
        assert_eq!(loaded.state, state);
        assert_eq!(loaded.state.active().unwrap().name, "web");
        // Saving the loaded state gives the same bytes.
        let first = fs::read(store.file()).unwrap();
        store.save(&loaded.state).unwrap();
        assert_eq!(fs::read(store.file()).unwrap(), first);
    }

    #[test]
    fn missing_file_and_directory_load_empty() {
        let (_dir, store) = store();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.state, State::default());
        assert_eq!(loaded.warnings, []);
        assert!(!store.dir().exists(), "load must not create the directory");
    }

    #[test]
    fn empty_and_blank_files_are_no_lists() {
        for bytes in [&b""[..], b"\n\n  \n", b"# only a comment\n"] {
            let (_dir, store, loaded) = load_bytes(bytes);
            assert_eq!(loaded.state, State::default());
            assert_eq!(loaded.warnings, []);
            assert_eq!(backups(&store), Vec::<String>::new());
        }
    }

    #[test]
    fn defaults_are_one_second_and_certbot_lock() {
        let settings = State::default().settings().clone();
        assert_eq!(settings.interval, Duration::from_secs(1));
        assert_eq!(settings.lock_name, ".certbot.lock");
    }

    #[test]
    fn create_rename_delete_switch() {
        let mut s = State::default();
        assert!(s.active().is_none());
        s.create("a").unwrap();
        assert_eq!(
            s.active().unwrap().name,
            "a",
            "the first list becomes active"
        );
        s.create("  b  ").unwrap();
        s.create("c").unwrap();
        assert_eq!(names(&s), ["a", "b", "c"]);
        assert_eq!(s.active().unwrap().name, "a", "create does not switch");

        assert!(matches!(s.create("b"), Err(WatchListError::DuplicateName(n)) if n == "b"));
        assert!(matches!(s.create(" "), Err(WatchListError::EmptyName)));
        assert!(matches!(
            s.create("x\ny"),
            Err(WatchListError::ControlCharInName(_))
        ));

        s.switch("b").unwrap();
        s.rename("b", "bee").unwrap();
        assert_eq!(names(&s), ["a", "bee", "c"]);
        assert_eq!(
            s.active().unwrap().name,
            "bee",
            "rename keeps the active list"
        );
        s.rename("bee", "bee").unwrap();
        assert!(matches!(
            s.rename("bee", "a"),
            Err(WatchListError::DuplicateName(_))
        ));
        assert!(matches!(
            s.rename("nope", "z"),
            Err(WatchListError::NoSuchList(_))
        ));
        assert!(matches!(s.rename("a", ""), Err(WatchListError::EmptyName)));
        assert!(matches!(
            s.switch("nope"),
            Err(WatchListError::NoSuchList(_))
        ));

        // Deleting a list before the active one keeps the active one.
        s.delete("a").unwrap();
        assert_eq!(s.active().unwrap().name, "bee");
        // Deleting the active list activates the next one...
        s.create("d").unwrap();
        s.delete("bee").unwrap();
        assert_eq!(s.active().unwrap().name, "c");
        // ...or the previous one when it was the last.
        s.switch("d").unwrap();
        let removed = s.delete("d").unwrap();
        assert_eq!(removed.name, "d");
        assert_eq!(s.active().unwrap().name, "c");
        assert!(matches!(s.delete("d"), Err(WatchListError::NoSuchList(_))));
        s.delete("c").unwrap();
        assert!(s.active().is_none());
        assert!(s.lists().is_empty());
    }

    #[test]
    fn operations_then_save_survive_a_reload() {
        let (_dir, store) = store();
        let mut s = sample();
        s.rename("certbot", "letsencrypt").unwrap();
        s.delete("empty").unwrap();
        s.switch("letsencrypt").unwrap();
        store.save(&s).unwrap();
        let loaded = store.load().unwrap().state;
        assert_eq!(names(&loaded), ["letsencrypt", "web"]);
        assert_eq!(loaded.active().unwrap().name, "letsencrypt");
        assert_eq!(loaded, s);
    }

    #[test]
    fn duplicate_dirs_are_removed_keeping_order() {
        let list = WatchList::new(
            "l",
            [abs("/b"), abs("/a"), abs("/b/"), abs("/c"), abs("/a")],
        )
        .unwrap();
        assert_eq!(list.dirs, [abs("/b"), abs("/a"), abs("/c")]);
        let mut s = State::default();
        s.create("l").unwrap();
        s.set_dirs("l", [abs("/x"), abs("/x")]).unwrap();
        assert_eq!(s.get("l").unwrap().dirs, [abs("/x")]);
        // insert normalizes a hand-built list too.
        s.insert(WatchList {
            name: " m ".into(),
            dirs: vec![abs("/y"), abs("/y")],
        })
        .unwrap();
        assert_eq!(s.get("m").unwrap().dirs, [abs("/y")]);
    }

    #[test]
    fn bad_dirs_are_refused() {
        for (dir, problem) in [
            (p(""), DirProblem::Empty),
            (p("relative/dir"), DirProblem::NotAbsolute),
        ] {
            match WatchList::new("l", [dir.clone()]) {
                Err(WatchListError::BadDir { problem: got, .. }) => assert_eq!(got, problem),
                other => panic!("{dir:?}: {other:?}"),
            }
        }
        let mut s = State::default();
        s.create("l").unwrap();
        assert!(s.set_dirs("l", [p("rel")]).is_err());
        assert!(
            s.get("l").unwrap().dirs.is_empty(),
            "a refused change changes nothing"
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_are_refused_with_a_clear_error() {
        use std::os::unix::ffi::OsStrExt;
        let bad = PathBuf::from(std::ffi::OsStr::from_bytes(b"/srv/caf\xe9"));
        let err = WatchList::new("l", [bad.clone()]).unwrap_err();
        assert!(matches!(
            err,
            WatchListError::BadDir {
                problem: DirProblem::NotUnicode,
                ..
            }
        ));
        assert!(err.to_string().contains("not valid Unicode"), "{err}");
        // export checks hand-built lists too, and writes nothing.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("l.toml");
        let list = WatchList {
            name: "l".into(),
            dirs: vec![bad],
        };
        assert!(export(&list, &out).is_err());
        assert!(!out.exists());
    }

    #[test]
    fn settings_are_checked() {
        let mut s = State::default();
        let too_fast = Settings {
            interval: Duration::from_millis(5),
            ..Settings::default()
        };
        assert!(matches!(
            s.set_settings(too_fast),
            Err(WatchListError::IntervalTooShort(_))
        ));
        for bad in ["", ".", "..", "a/b", "a\\b", "x\ny"] {
            let settings = Settings {
                lock_name: bad.into(),
                ..Settings::default()
            };
            assert!(
                matches!(
                    s.set_settings(settings),
                    Err(WatchListError::BadLockName(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(s.settings(), &Settings::default());
    }

    #[test]
    fn corrupt_file_is_set_aside_byte_for_byte() {
        let original = b"[[list]]\nname = \"certbot\"\ndirs = [\"/etc/letsencrypt\"\n\xff garbage";
        let (_dir, store, loaded) = load_bytes(original);
        assert_eq!(loaded.state, State::default());
        let [Warning::SetAside { file, backup, .. }] = &loaded.warnings[..] else {
            panic!("{:?}", loaded.warnings)
        };
        assert_eq!(file, &store.file());
        assert_eq!(backup, &store.dir().join("lockscope.toml.bak"));
        assert_eq!(fs::read(backup).unwrap(), original);
        assert!(!store.file().exists());
        let message = loaded.warnings[0].to_string();
        assert!(message.contains("lockscope.toml was corrupt"), "{message}");
        assert!(message.contains("moved aside to"), "{message}");
        assert!(message.contains("lockscope.toml.bak"), "{message}");
        // The app goes on: a save works and loads cleanly.
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap().state, sample());
    }

    #[test]
    fn a_second_corrupt_file_does_not_replace_the_first_backup() {
        let (_dir, store, _) = load_bytes(b"first = = corrupt");
        fs::write(store.file(), b"second \x00 corrupt").unwrap();
        let loaded = store.load().unwrap();
        fs::write(store.file(), b"[third").unwrap();
        let third = store.load().unwrap();
        assert_eq!(
            backups(&store),
            [
                "lockscope.toml.bak",
                "lockscope.toml.bak.1",
                "lockscope.toml.bak.2"
            ]
        );
        let read = |n: &str| fs::read(store.dir().join(n)).unwrap();
        assert_eq!(read("lockscope.toml.bak"), b"first = = corrupt");
        assert_eq!(read("lockscope.toml.bak.1"), b"second \x00 corrupt");
        assert_eq!(read("lockscope.toml.bak.2"), b"[third");
        let Warning::SetAside { backup, .. } = &loaded.warnings[0] else {
            panic!()
        };
        assert!(backup.ends_with("lockscope.toml.bak.1"));
        assert!(matches!(&third.warnings[..], [Warning::SetAside { .. }]));
    }

    #[test]
    fn hostile_inputs_are_set_aside_without_panicking() {
        let deep = "a = ".to_string() + &"[".repeat(100_000);
        let inputs: Vec<(&str, Vec<u8>)> = vec![
            ("binary", (0..=255u8).cycle().take(10_000).collect()),
            ("not utf-8", b"name = \"\xc3\x28\"".to_vec()),
            ("nul bytes", b"\0\0\0\0".to_vec()),
            (
                "truncated",
                b"active = \"a\"\n[[list]]\nname = \"a\"\ndirs = [\"/x\", \"/y".to_vec(),
            ),
            ("truncated key", b"[setti".to_vec()),
            ("lists not an array", b"list = 5".to_vec()),
            (
                "dirs a string",
                b"[[list]]\nname = \"a\"\ndirs = \"/etc\"".to_vec(),
            ),
            (
                "dirs of numbers",
                b"[[list]]\nname = \"a\"\ndirs = [1, 2]".to_vec(),
            ),
            ("name missing", b"[[list]]\ndirs = []".to_vec()),
            ("name a table", b"[[list]]\nname = { a = 1 }".to_vec()),
            ("active a number", b"active = 3".to_vec()),
            ("settings a string", b"settings = \"fast\"".to_vec()),
            ("interval a number", b"[settings]\ninterval = 1".to_vec()),
            ("deep nesting", deep.into_bytes()),
            ("duplicate keys", b"active = \"a\"\nactive = \"b\"".to_vec()),
        ];
        for (what, bytes) in inputs {
            let (_dir, store, loaded) = load_bytes(&bytes);
            assert_eq!(loaded.state, State::default(), "{what}");
            assert!(
                matches!(&loaded.warnings[..], [Warning::SetAside { .. }]),
                "{what}: {:?}",
                loaded.warnings
            );
            assert_eq!(
                fs::read(store.dir().join("lockscope.toml.bak")).unwrap(),
                bytes,
                "{what}"
            );
            let message = loaded.warnings[0].to_string();
            assert!(!message.contains('\n'), "{what}: one line: {message}");
        }
    }

    #[test]
    fn huge_file_is_set_aside_without_reading_it_all() {
        let (_dir, store) = store();
        fs::create_dir_all(store.dir()).unwrap();
        let file = File::create(store.file()).unwrap();
        file.set_len(MAX_FILE_SIZE + 1).unwrap(); // sparse
        drop(file);
        let loaded = store.load().unwrap();
        assert!(
            matches!(&loaded.warnings[..], [Warning::SetAside { reason, .. }] if reason.contains("64 MiB"))
        );
        assert_eq!(
            fs::metadata(store.dir().join("lockscope.toml.bak"))
                .unwrap()
                .len(),
            MAX_FILE_SIZE + 1
        );
    }

    #[test]
    fn a_file_that_breaks_rules_is_repaired_with_warnings() {
        let rel = if cfg!(windows) {
            "/not-absolute-here"
        } else {
            "relative"
        };
        let text = format!(
            r#"
active = "missing"
unknown_key = "ignored"
[settings]
interval = "5ms"
lock_name = "../x"
[[list]]
name = "a"
dirs = ["{a}", "{rel}", "", "{a}"]
[[list]]
name = "a"
[[list]]
name = "  "
"#,
            a = path_text(&abs("/a")).replace('\\', "\\\\"),
        );
        let (_dir, store, loaded) = load_bytes(text.as_bytes());
        let s = &loaded.state;
        assert_eq!(names(s), ["a", "a (2)", "unnamed"]);
        assert_eq!(s.get("a").unwrap().dirs, [abs("/a")]);
        assert_eq!(s.active().unwrap().name, "a");
        assert_eq!(s.settings(), &Settings::default());
        let messages: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(messages.len(), 7, "{messages:#?}");
        for expected in [
            "is not an absolute path",
            "is empty",
            "two watch lists are named \"a\"",
            "now named \"unnamed\"",
            "\"missing\" does not exist",
            "interval \"5ms\"",
            "\"../x\" is not a plain file name",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(expected)),
                "{expected:?} not in {messages:#?}"
            );
        }
        assert_eq!(
            backups(&store),
            Vec::<String>::new(),
            "repairs set nothing aside"
        );
        // The repaired state saves and loads cleanly.
        store.save(s).unwrap();
        let again = store.load().unwrap();
        assert_eq!(again.warnings, []);
        assert_eq!(&again.state, s);
    }

    #[test]
    fn active_name_is_trimmed_like_list_names() {
        // Found by tests/fuzz_watchlist.rs: a padded name matched its list only once trimmed.
        let (_dir, _store, loaded) =
            load_bytes(b"active = \" b \"\n[[list]]\nname = \"a\"\n[[list]]\nname = \" b \"\n");
        assert_eq!(loaded.warnings, []);
        assert_eq!(loaded.state.active().unwrap().name, "b");
    }

    #[test]
    fn many_lists_of_one_name_load_in_linear_time_with_bounded_warnings() {
        let text = "[[list]]\nname = \"a\"\n".repeat(5000);
        let start = std::time::Instant::now();
        let (_dir, _store, loaded) = load_bytes(text.as_bytes());
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        let names = names(&loaded.state);
        assert_eq!(names[..3], ["a", "a (2)", "a (3)"]);
        assert_eq!(names.last(), Some(&"a (5000)"));
        assert_eq!(loaded.warnings.len(), MAX_REPAIR_WARNINGS + 1);
        assert!(
            loaded.warnings[MAX_REPAIR_WARNINGS]
                .to_string()
                .contains("4899 more problems were repaired (not listed)")
        );
    }

    #[test]
    fn repaired_names_skip_names_taken_later_like_unused_name() {
        // "a (2)" is taken by the second list, so the third "a" becomes "a (3)"; the fourth,
        // explicitly "a (2)" again, is then "a (2) (2)".
        let (_dir, _store, loaded) = load_bytes(
            b"[[list]]\nname = \"a\"\n[[list]]\nname = \"a (2)\"\n[[list]]\nname = \"a\"\n\
              [[list]]\nname = \"a (2)\"\n",
        );
        assert_eq!(names(&loaded.state), ["a", "a (2)", "a (3)", "a (2) (2)"]);
    }

    #[test]
    fn hand_written_intervals_are_read_like_the_cli() {
        for (text, expected) in [
            ("2", 2000),
            ("250ms", 250),
            ("1m 30s", 90_000),
            ("1.5s", 1500),
        ] {
            let (_dir, _store, loaded) =
                load_bytes(format!("[settings]\ninterval = \"{text}\"").as_bytes());
            assert_eq!(loaded.warnings, [], "{text}");
            assert_eq!(
                loaded.state.settings().interval,
                Duration::from_millis(expected),
                "{text}"
            );
        }
    }

    #[test]
    fn unreadable_path_is_an_error_not_a_backup() {
        let (_dir, store) = store();
        fs::create_dir_all(store.file()).unwrap(); // a directory where the file should be
        assert!(matches!(store.load(), Err(WatchListError::Read { .. })));
        assert!(store.file().is_dir(), "left alone");
        assert!(store.save(&sample()).is_err());
    }

    #[test]
    fn import_export_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.toml");
        let list = WatchList::new(
            "my sites",
            [
                abs("/srv/a"),
                abs("/srv/b \"quoted\""),
                abs("/srv/new\nline\t'ü"),
            ],
        )
        .unwrap();
        export(&list, &path).unwrap();
        assert_eq!(import(&path).unwrap(), list);
        // Export replaces an existing file.
        let other = WatchList::new("other", [abs("/srv/c")]).unwrap();
        export(&other, &path).unwrap();
        assert_eq!(import(&path).unwrap(), other);
        // An imported list whose name is taken gets a free one.
        let mut s = State::default();
        s.insert(list.clone()).unwrap();
        let mut again = import(&dir.path().join("shared.toml")).unwrap();
        again.name = "my sites".into();
        assert!(matches!(
            s.insert(again.clone()),
            Err(WatchListError::DuplicateName(_))
        ));
        again.name = s.unused_name(&again.name);
        assert_eq!(again.name, "my sites (2)");
        s.insert(again).unwrap();
    }

    #[test]
    fn import_is_strict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.toml");
        let cases: [(&[u8], &str); 6] = [
            (b"", "missing field `name`"),
            (
                b"name = \"x\"\ndirs = [\"relative\"]",
                "not an absolute path",
            ),
            (b"name = \"\"", "needs a name"),
            (b"\xff\xfe", "not UTF-8"),
            (b"name = \"x\"\ndirs = \"/etc\"", "x"),
            (b"name = \"x\"\ndirs = [", "x"),
        ];
        for (bytes, expected) in cases {
            fs::write(&path, bytes).unwrap();
            let err = import(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{bytes:?}: {err}");
        }
        assert!(matches!(
            import(&dir.path().join("missing.toml")),
            Err(WatchListError::Read { .. })
        ));
        // A list without dirs is a valid, empty list; duplicates are dropped.
        fs::write(&path, "name = \"x\"").unwrap();
        assert_eq!(import(&path).unwrap(), WatchList::new("x", []).unwrap());
    }

    #[test]
    fn hundred_thousand_dirs_load_quickly() {
        let (_dir, store) = store();
        let dirs: Vec<PathBuf> = (0..100_000)
            .map(|i| abs(&format!("/srv/sites/site-{i:06}/letsencrypt")))
            .collect();
        let mut state = State::default();
        let start = std::time::Instant::now();
        state
            .insert(WatchList::new("big", dirs.clone()).unwrap())
            .unwrap();
        store.save(&state).unwrap();
        let saved = start.elapsed();
        let start = std::time::Instant::now();
        let loaded = store.load().unwrap();
        let load_time = start.elapsed();
        assert_eq!(loaded.warnings, []);
        assert_eq!(loaded.state.get("big").unwrap().dirs, dirs);
        // Generous for unoptimized test builds on a slow machine; a release build takes
        // a small fraction of this.
        assert!(
            load_time < Duration::from_secs(10),
            "load took {load_time:?}"
        );
        assert!(saved < Duration::from_secs(10), "save took {saved:?}");
    }

    #[test]
    fn certbot_defaults_per_os() {
        let linux = certbot_defaults_for(false, |_| false);
        assert_eq!(
            linux,
            [
                p("/etc/letsencrypt"),
                p("/var/lib/letsencrypt"),
                p("/var/log/letsencrypt")
            ]
        );
        let with_nginx = certbot_defaults_for(false, |d| d == Path::new("/etc/nginx"));
        assert_eq!(with_nginx.last(), Some(&p("/etc/nginx")));
        assert_eq!(with_nginx.len(), 4);
        let all = certbot_defaults_for(false, |_| true);
        assert_eq!(
            &all[3..],
            [p("/etc/nginx"), p("/etc/apache2"), p("/etc/httpd")]
        );
        let windows = certbot_defaults_for(true, |_| true);
        assert_eq!(
            windows,
            [p(r"C:\Certbot"), p(r"C:\Certbot\lib"), p(r"C:\Certbot\log")]
        );
        // The preset is a valid list on this OS.
        let preset = WatchList::certbot_preset();
        assert_eq!(preset.checked().unwrap(), preset);
        assert_eq!(preset.name, "certbot");
    }

    #[test]
    fn default_config_dir_ends_in_lockscope() {
        if let Some(dir) = default_config_dir() {
            assert!(dir.is_absolute());
            assert!(
                dir.components().any(|c| c.as_os_str() == "lockscope"),
                "{dir:?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn save_keeps_permissions_and_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store();
        store.save(&sample()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.file()) & 0o600, 0o600);
        fs::set_permissions(store.file(), fs::Permissions::from_mode(0o600)).unwrap();
        store.save(&State::default()).unwrap();
        assert_eq!(mode(&store.file()), 0o600, "kept by a save");

        // A symlinked config: the link stays, its target gets the new content.
        let real = dir.path().join("dotfiles-lockscope.toml");
        fs::rename(store.file(), &real).unwrap();
        std::os::unix::fs::symlink(&real, store.file()).unwrap();
        store.save(&sample()).unwrap();
        assert!(
            fs::symlink_metadata(store.file())
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(store.load().unwrap().state, sample());
    }

    #[test]
    fn save_leaves_no_temp_files_and_load_removes_stale_ones() {
        let (_dir, store) = store();
        for _ in 0..5 {
            store.save(&sample()).unwrap();
        }
        let entries = || -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(store.dir())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        assert_eq!(entries(), ["lockscope.toml"]);
        let stale = store.dir().join(".lockscope.toml.99999.0.tmp");
        let fresh = store.dir().join(".lockscope.toml.99999.1.tmp");
        fs::write(&stale, "partial").unwrap();
        fs::write(&fresh, "partial").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
        store.load().unwrap();
        assert!(!stale.exists(), "an old leftover is removed");
        assert!(fresh.exists(), "a young one may be a save in progress");
    }
}
