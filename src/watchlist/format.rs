//! The TOML of `lockscope.toml` (all lists, the active one, the settings) and of exchange files
//! (one list), and the repairs made when a saved file breaks a rule. Pure: bytes in, bytes out;
//! reading and writing files is [`store`](super::store)'s job.

use super::model::{check_name, dir_problem};
use super::{
    DirProblem, Loaded, MAX_REPAIR_WARNINGS, Notifications, Settings, State, Warning, WatchList,
    WatchListError,
};
use crate::{LOCK_FILE_NAME, duration};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The text of `lockscope.toml` for `state`.
pub(super) fn encode_state(state: &State) -> Result<String, WatchListError> {
    StateFile::from_state(state).encode()
}

/// The state `file`'s `bytes` describe, every broken rule repaired and reported in
/// [`Loaded::warnings`]; or, if they are not a lockscope file at all (not UTF-8, not TOML,
/// wrong types), why not, on one line (the file is then set aside).
pub(super) fn decode_state(bytes: &[u8], file: &Path) -> Result<Loaded, String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err("not UTF-8 text".into());
    };
    match toml::from_str::<StateFile>(text) {
        Ok(raw) => Ok(raw.into_state(file)),
        Err(e) => Err(one_line(&e, text)),
    }
}

/// The text of an exchange file for `list` (already checked: see `WatchList::checked`).
pub(super) fn encode_list(list: WatchList) -> Result<String, WatchListError> {
    let raw = ListFile::from_list(&list);
    Ok(format!(
        "# A lockscope watch list: the directories whose certbot locks to watch.\n{}",
        toml::to_string_pretty(&raw)?
    ))
}

/// The list an exchange file's `bytes` hold. Strict: any broken rule is an error, nothing is
/// repaired (the user chose this file and can fix it). `path` is for the error messages.
pub(super) fn decode_list(bytes: &[u8], path: &Path) -> Result<WatchList, WatchListError> {
    let (raw, notify) = parse_list_file(bytes, path)?;
    Ok(WatchList {
        notify,
        ..WatchList::new(&raw.name, raw.dirs.into_iter().map(PathBuf::from))?
    })
}

/// As [`decode_list`], but a directory that breaks a rule (a relative path, not Unicode, a bad
/// `HOST:DIR`) is left out and listed with why, instead of refusing the whole file: what the
/// app's Import does. A bad name, notification setting or TOML is still an error.
pub(super) fn decode_list_skipping(
    bytes: &[u8],
    path: &Path,
) -> Result<(WatchList, Vec<(PathBuf, DirProblem)>), WatchListError> {
    let (raw, notify) = parse_list_file(bytes, path)?;
    let (good, skipped): (Vec<PathBuf>, Vec<PathBuf>) = raw
        .dirs
        .into_iter()
        .map(PathBuf::from)
        .partition(|d| dir_problem(d).is_none());
    let skipped = skipped
        .into_iter()
        .filter_map(|d| dir_problem(&d).map(|problem| (d, problem)))
        .collect();
    let list = WatchList {
        notify,
        ..WatchList::new(&raw.name, good)?
    };
    Ok((list, skipped))
}

/// An exchange file's TOML and its notification settings, checked.
fn parse_list_file(bytes: &[u8], path: &Path) -> Result<(ListFile, Notifications), WatchListError> {
    let parse_error = |message: String| WatchListError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| parse_error("not UTF-8 text".into()))?;
    let mut raw: ListFile = toml::from_str(text).map_err(|e| parse_error(one_line(&e, text)))?;
    let notify = match raw.notify.take() {
        None => Notifications::default(),
        Some(n) => n.decode().map_err(parse_error)?,
    };
    notify.check()?;
    Ok((raw, notify))
}

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
    /// Absent when every notification is off (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notify: Option<NotifyFile>,
}

/// A list's `[list.notify]` table.
#[derive(Serialize, Deserialize)]
struct NotifyFile {
    /// A duration ("10m"), or absent: no "held longer than" notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stuck_after: Option<String>,
    #[serde(default)]
    background_changes: bool,
}

impl ListFile {
    fn from_list(list: &WatchList) -> ListFile {
        ListFile {
            name: list.name.clone(),
            dirs: list.dirs.iter().map(|d| path_text(d)).collect(),
            notify: list.notify.any().then(|| NotifyFile {
                stuck_after: list
                    .notify
                    .stuck_after
                    .map(|d| humantime::format_duration(d).to_string()),
                background_changes: list.notify.background_changes,
            }),
        }
    }
}

impl NotifyFile {
    /// The notifications this table asks for, or why its threshold is not a duration.
    fn decode(self) -> Result<Notifications, String> {
        let stuck_after = match self.stuck_after {
            None => None,
            Some(text) => Some(duration::parse_duration(&text).map_err(|_| {
                format!("notify.stuck_after {text:?} is not a duration (like \"10m\")")
            })?),
        };
        Ok(Notifications {
            stuck_after,
            background_changes: self.background_changes,
        })
    }
}

/// A path known to be Unicode (checked when it entered a list).
fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl StateFile {
    /// The file that describes `state`.
    fn from_state(state: &State) -> StateFile {
        StateFile {
            active: state.active().map(|l| l.name.clone()),
            settings: SettingsFile {
                interval: Some(humantime::format_duration(state.settings().interval).to_string()),
                lock_name: Some(state.settings().lock_name.clone()),
            },
            lists: state.lists().iter().map(ListFile::from_list).collect(),
        }
    }

    /// The file's text: a header comment, then the TOML.
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
        let mut lists: Vec<WatchList> = Vec::new();
        let mut settings = Settings::default();
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
            let notify = match raw.notify.map(NotifyFile::decode) {
                None => Notifications::default(),
                Some(Ok(n)) if n.check().is_ok() => n,
                Some(Ok(n)) => {
                    warn(format!(
                        "watch list {name:?}: notify.stuck_after {} is shorter than 1s; \
                         that notification is off",
                        humantime::format_duration(n.stuck_after.unwrap_or_default())
                    ));
                    Notifications {
                        stuck_after: None,
                        ..n
                    }
                }
                Some(Err(e)) => {
                    warn(format!(
                        "watch list {name:?}: {e}; its notifications are off"
                    ));
                    Notifications::default()
                }
            };
            // Cannot fail: the name and every directory were checked above.
            if let Ok(list) = WatchList::new(&name, dirs) {
                names.insert(&list.name);
                lists.push(WatchList { notify, ..list });
            }
        }
        let mut active = match self.active {
            None => None,
            Some(name) => {
                let found = lists.iter().position(|l| l.name == name.trim());
                if found.is_none() && !lists.is_empty() {
                    warn(format!(
                        "the active watch list {name:?} does not exist; {:?} is active instead",
                        lists[0].name
                    ));
                }
                found
            }
        };
        if active.is_none() && !lists.is_empty() {
            active = Some(0);
        }
        if let Some(text) = self.settings.interval {
            match duration::parse_interval(&text) {
                Ok(d) => settings.interval = d,
                Err(_) => warn(format!(
                    "interval {text:?} is not a duration of at least 10ms (like \"1s\"); using {}",
                    humantime::format_duration(settings.interval)
                )),
            }
        }
        if let Some(lock_name) = self.settings.lock_name {
            let candidate = Settings {
                lock_name,
                ..settings.clone()
            };
            match candidate.check() {
                Ok(()) => settings = candidate,
                Err(e) => warn(format!("{e}; using {LOCK_FILE_NAME}")),
            }
        }
        if unlisted > 0 {
            warnings.push(Warning::Repaired {
                file: file.to_path_buf(),
                what: format!("{unlisted} more problems were repaired (not listed)"),
            });
        }
        Loaded {
            state: State::from_checked_parts(lists, active, settings),
            warnings,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watchlist::import;
    use crate::watchlist::test_support::*;
    use std::fs;
    use std::time::Duration;

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
        // Found by tests/suite/fuzz_watchlist.rs: a padded name matched its list only once trimmed.
        let (_dir, _store, loaded) =
            load_bytes(b"active = \" b \"\n[[list]]\nname = \"a\"\n[[list]]\nname = \" b \"\n");
        assert_eq!(loaded.warnings, []);
        assert_eq!(loaded.state.active().unwrap().name, "b");
    }

    #[test]
    fn many_lists_of_one_name_load_in_linear_time_with_bounded_warnings() {
        // Time grows with the number of lists, not its square: n and 4n lists of one name
        // take about 4 times as long (16 if quadratic; no fixed bound tells them apart on a
        // slow or busy machine). Decoding only (no file I/O); the best of 3 runs each, the
        // sizes taking turns so both see the same load, and both long enough (tenths of a
        // second) to span many scheduler slices: a short run that fits in one would look
        // faster on a busy machine than a long one can.
        let decode_time = |text: &str, count: usize| {
            let start = std::time::Instant::now();
            let loaded = decode_state(text.as_bytes(), Path::new("lockscope.toml"));
            let elapsed = start.elapsed();
            assert_eq!(loaded.map(|l| l.state.lists().len()), Ok(count));
            elapsed
        };
        let n = 6000;
        let texts = [n, 4 * n].map(|count| "[[list]]\nname = \"a\"\n".repeat(count));
        let (mut small, mut large) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            small = small.min(decode_time(&texts[0], n));
            large = large.min(decode_time(&texts[1], 4 * n));
        }
        let ratio = large.as_secs_f64() / small.as_secs_f64();
        assert!(
            ratio < 8.0,
            "{n} lists: {small:?}, {}: {large:?}, x{ratio:.1}: not linear",
            4 * n
        );

        let text = "[[list]]\nname = \"a\"\n".repeat(5000);
        let (_dir, _store, loaded) = load_bytes(text.as_bytes());
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
    fn notifications_are_saved_per_list_and_off_unless_asked_for() {
        let (_dir, store) = store();
        let mut state = sample();
        let on = Notifications {
            stuck_after: Some(Duration::from_secs(90)),
            background_changes: true,
        };
        state.set_notify("web", on).unwrap();
        store.save(&state).unwrap();
        let text = fs::read_to_string(store.file()).unwrap();
        assert!(text.contains("[list.notify]"), "{text}");
        assert_eq!(text.matches("[list.notify]").count(), 1, "{text}");
        assert!(text.contains("stuck_after = \"1m 30s\""), "{text}");
        let loaded = store.load().unwrap();
        assert_eq!(loaded.warnings, []);
        assert_eq!(loaded.state.get("web").unwrap().notify, on);
        assert_eq!(
            loaded.state.get("certbot").unwrap().notify,
            Notifications::default()
        );
        // A too-short threshold is refused by the model, and changes nothing.
        let short = Notifications {
            stuck_after: Some(Duration::from_millis(10)),
            ..on
        };
        assert!(state.set_notify("web", short).is_err());
        assert_eq!(state.get("web").unwrap().notify, on);
        // Exported lists carry their notifications; import reads them back.
        let out = store.dir().join("web.toml");
        crate::watchlist::export(state.get("web").unwrap(), &out).unwrap();
        assert_eq!(import(&out).unwrap().notify, on);
    }

    #[test]
    fn broken_notify_tables_are_repaired_on_load_and_refused_on_import() {
        let (_dir, _store, loaded) = load_bytes(
            b"[[list]]\nname = \"a\"\n[list.notify]\nstuck_after = \"soon\"\n\
              background_changes = true\n[[list]]\nname = \"b\"\n[list.notify]\n\
              stuck_after = \"5ms\"\nbackground_changes = true\n",
        );
        let s = &loaded.state;
        assert_eq!(s.get("a").unwrap().notify, Notifications::default());
        assert_eq!(
            s.get("b").unwrap().notify,
            Notifications {
                stuck_after: None,
                background_changes: true
            }
        );
        let messages: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(
            messages[0].contains("\"soon\" is not a duration"),
            "{messages:#?}"
        );
        assert!(messages[1].contains("shorter than 1s"), "{messages:#?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.toml");
        for (bytes, expected) in [
            (
                &b"name = \"x\"\n[notify]\nstuck_after = \"soon\""[..],
                "not a duration",
            ),
            (
                b"name = \"x\"\n[notify]\nstuck_after = \"5ms\"",
                "at least 1s",
            ),
        ] {
            fs::write(&path, bytes).unwrap();
            let err = import(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
