//! The watch-list model and its rules: [`WatchList`], [`State`] (the saved lists, the active
//! one, the settings) and [`Settings`]. Every change goes through a method that checks the
//! rules, so a [`State`] is always one [`Store::save`](super::Store::save) can write and
//! [`Store::load`](super::Store::load) reads back unrepaired.

use super::{MIN_INTERVAL, WatchListError};
use crate::LOCK_FILE_NAME;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A named list of directories to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchList {
    /// The list's name: trimmed, non-empty, no control characters, unique in a [`State`].
    pub name: String,
    /// Absolute, Unicode directories, without duplicates, in the user's order.
    pub dirs: Vec<PathBuf>,
    /// The app's desktop notifications for this list (off unless the user turns them on).
    pub notify: Notifications,
}

/// Which desktop notifications the app sends for a list's directories. Off by default: a
/// notification is an interruption the user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notifications {
    /// A lock held longer than this is reported, once per hold ("certbot may be stuck"). `None`:
    /// never. At least [`MIN_STUCK_AFTER`].
    pub stuck_after: Option<Duration>,
    /// Lock state changes are reported while the app's window is in the background.
    pub background_changes: bool,
}

/// The threshold the app offers when notifications are turned on: certbot's runs take seconds
/// to a few minutes, so a hold of 10 minutes is worth a look.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(10 * 60);

/// The shortest "held longer than" threshold (shorter ones would report every ordinary run).
pub const MIN_STUCK_AFTER: Duration = Duration::from_secs(1);

impl Notifications {
    /// Both kinds on, with the default threshold.
    pub fn on() -> Notifications {
        Notifications {
            stuck_after: Some(DEFAULT_STUCK_AFTER),
            background_changes: true,
        }
    }

    /// Whether any notification is on.
    pub fn any(&self) -> bool {
        self.stuck_after.is_some() || self.background_changes
    }

    /// Whether these keep the rules (a threshold of at least [`MIN_STUCK_AFTER`]).
    pub fn check(&self) -> Result<(), WatchListError> {
        match self.stuck_after {
            Some(d) if d < MIN_STUCK_AFTER => Err(WatchListError::StuckAfterTooShort(d)),
            _ => Ok(()),
        }
    }
}

/// Why a directory cannot be in a watch list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirProblem {
    /// The path is empty.
    Empty,
    /// The path is relative.
    NotAbsolute,
    /// The path is not Unicode, so a TOML file cannot hold it.
    NotUnicode,
    /// `HOST:DIR` whose host or directory cannot be (an ssh option, `HOST:` alone): why.
    BadRemote(String),
}

impl fmt::Display for DirProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirProblem::Empty => f.write_str("is empty"),
            DirProblem::NotAbsolute => f.write_str("is not an absolute path"),
            DirProblem::NotUnicode => f.write_str(
                "is not valid Unicode and cannot be saved in a TOML file (watch it from the \
                 command line instead)",
            ),
            DirProblem::BadRemote(why) => write!(f, "is refused: {why}"),
        }
    }
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
        Ok(WatchList {
            name,
            dirs: kept,
            notify: Notifications::default(),
        })
    }

    /// This list, checked and normalized as by [`WatchList::new`].
    pub(super) fn checked(&self) -> Result<WatchList, WatchListError> {
        self.notify.check()?;
        Ok(WatchList {
            notify: self.notify,
            ..WatchList::new(&self.name, self.dirs.iter().cloned())?
        })
    }
}

/// A list name trimmed, or why it cannot be one.
pub(super) fn check_name(name: &str) -> Result<String, WatchListError> {
    let name = name.trim();
    if name.is_empty() {
        Err(WatchListError::EmptyName)
    } else if name.chars().any(char::is_control) {
        Err(WatchListError::ControlCharInName(name.to_string()))
    } else {
        Ok(name.to_string())
    }
}

/// Whether `dir` is a `HOST:DIR` operand (scp's rule), kept in lists as written.
pub fn is_remote(dir: &Path) -> bool {
    matches!(
        crate::remote::parse_operand(dir.as_os_str()),
        Ok(crate::remote::Operand::Remote(_))
    )
}

/// Why `dir` cannot be in a list, if it cannot.
pub(super) fn dir_problem(dir: &Path) -> Option<DirProblem> {
    if dir.as_os_str().is_empty() {
        Some(DirProblem::Empty)
    } else if dir.to_str().is_none() {
        Some(DirProblem::NotUnicode)
    } else if let Err(e) = crate::remote::parse_operand(dir.as_os_str()) {
        Some(DirProblem::BadRemote(e.to_string()))
    } else if !dir.is_absolute() && !is_remote(dir) {
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
    /// Whether these settings keep the rules: an interval of at least [`MIN_INTERVAL`], a plain
    /// lock-file name.
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
    /// A state from parts the caller has already checked (the loader, after its repairs): every
    /// list as [`WatchList::new`] makes them, names unique, `active` a valid index (or `None`
    /// only when there are no lists), settings that pass [`Settings::check`].
    pub(super) fn from_checked_parts(
        lists: Vec<WatchList>,
        active: Option<usize>,
        settings: Settings,
    ) -> State {
        debug_assert!(active.map_or(lists.is_empty(), |i| i < lists.len()));
        State {
            lists,
            active,
            settings,
        }
    }

    /// Every list, in order.
    pub fn lists(&self) -> &[WatchList] {
        &self.lists
    }

    /// The list named `name` (exactly).
    pub fn get(&self, name: &str) -> Option<&WatchList> {
        self.lists.iter().find(|l| l.name == name)
    }

    /// The active list; `None` only when there are no lists.
    pub fn active(&self) -> Option<&WatchList> {
        self.active.and_then(|i| self.lists.get(i))
    }

    /// The monitor settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Replaces the settings, if they keep the rules ([`Settings::check`]).
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

    /// Sets a list's notifications (checked first: a refused change changes nothing).
    pub fn set_notify(&mut self, name: &str, notify: Notifications) -> Result<(), WatchListError> {
        notify.check()?;
        let i = self.index(name)?;
        self.lists[i].notify = notify;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watchlist::test_support::*;

    #[test]
    fn remote_dirs_are_kept_as_written_and_option_like_hosts_refused() {
        let list = WatchList::new(
            "fleet",
            ["web1:/etc/letsencrypt", "admin@web2:/etc/letsencrypt"].map(PathBuf::from),
        )
        .unwrap();
        assert_eq!(list.dirs[0], PathBuf::from("web1:/etc/letsencrypt"));
        assert!(is_remote(&list.dirs[1]));
        let err = WatchList::new("fleet", [PathBuf::from("-oProxyCommand=x:/etc")]).unwrap_err();
        assert!(err.to_string().contains("refusing host"), "{err}");
        assert!(WatchList::new("fleet", [PathBuf::from("relative/dir")]).is_err());
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
            notify: Notifications::default(),
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
            notify: Notifications::default(),
        };
        assert!(crate::watchlist::export(&list, &out).is_err());
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
}
