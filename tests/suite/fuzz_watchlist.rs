//! Fuzzing the watch-list parser (`Store::load`, `import`) with proptest, bounded for CI.
//!
//! Inputs: arbitrary bytes; a soup of TOML tokens; well-formed files generated from a model of
//! lists and settings (quoting styles, escapes, inline tables, dotted keys, comments, CRLF);
//! and those files mutated (bytes deleted, inserted, flipped, lines doubled, truncated).
//!
//! Properties: loading never panics and never fails on content; it either yields a state (maybe
//! with repair warnings) that saves and loads back unchanged, or sets the file aside with its
//! bytes intact; a well-formed file loads to exactly the model it was generated from. `import`
//! gives a list that exports and imports back unchanged, or a typed error.
//!
//! Case counts are small enough for a debug build on 2 cores (RELIABILITY.md has the times);
//! `PROPTEST_CASES=N` runs N cases per property instead.

use crate::common::proptest_config::config;
use lockscope::watchlist::{
    self, MAX_REPAIR_WARNINGS, State, Store, Warning, WatchList, WatchListError,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---- The file system side --------------------------------------------------------------------

/// A config directory on tmpfs where there is one (saves fsync), emptied before each case.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

fn empty(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
}

/// Writes `bytes` as the store's file, loads it and checks the properties. Returns the state
/// when the file was read (not set aside).
fn check_load(store: &Store, bytes: &[u8]) -> Result<Option<State>, TestCaseError> {
    empty(store.dir());
    fs::write(store.file(), bytes).unwrap();
    let loaded = match store.load() {
        Ok(loaded) => loaded,
        Err(e) => return Err(TestCaseError::fail(format!("load failed on content: {e}"))),
    };
    for warning in &loaded.warnings {
        let text = warning.to_string();
        prop_assert!(!text.contains('\n'), "a warning is one line: {}", text);
        prop_assert!(text.contains("lockscope.toml"), "names the file: {}", text);
    }
    if let [Warning::SetAside { file, backup, .. }] = &loaded.warnings[..] {
        // The documented "error": starts empty, the bytes are kept at the backup.
        prop_assert_eq!(&loaded.state, &State::default());
        prop_assert_eq!(file, &store.file());
        prop_assert_eq!(backup, &store.dir().join("lockscope.toml.bak"));
        prop_assert!(!file.exists());
        prop_assert!(fs::read(backup).unwrap() == bytes, "backup differs");
        return Ok(None);
    }
    prop_assert!(
        loaded
            .warnings
            .iter()
            .all(|w| matches!(w, Warning::Repaired { .. })),
        "{:?}",
        loaded.warnings
    );
    prop_assert!(loaded.warnings.len() <= MAX_REPAIR_WARNINGS + 1);
    prop_assert!(
        fs::read(store.file()).unwrap() == bytes,
        "load changed the file"
    );
    // Round trip: what loaded saves, and loads back the same, without warnings; saving that
    // again writes the same bytes.
    store.save(&loaded.state).unwrap();
    let again = store.load().unwrap();
    prop_assert_eq!(&again.warnings, &Vec::<Warning>::new());
    prop_assert_eq!(&again.state, &loaded.state);
    let first = fs::read(store.file()).unwrap();
    store.save(&again.state).unwrap();
    prop_assert!(
        fs::read(store.file()).unwrap() == first,
        "a second save differs"
    );
    Ok(Some(loaded.state))
}

/// Writes `bytes` as an exchange file and imports it: a list that round-trips through export,
/// or a typed error about the content (the file exists and is readable).
fn check_import(dir: &Path, bytes: &[u8]) -> Result<Option<WatchList>, TestCaseError> {
    empty(dir);
    let path = dir.join("list.toml");
    fs::write(&path, bytes).unwrap();
    match watchlist::import(&path) {
        Ok(list) => {
            let copy = dir.join("copy.toml");
            watchlist::export(&list, &copy).unwrap();
            prop_assert_eq!(&watchlist::import(&copy).unwrap(), &list);
            prop_assert!(fs::read(&path).unwrap() == bytes, "import changed the file");
            Ok(Some(list))
        }
        Err(e) => {
            prop_assert!(
                matches!(
                    e,
                    WatchListError::Parse { .. }
                        | WatchListError::BadDir { .. }
                        | WatchListError::EmptyName
                        | WatchListError::ControlCharInName(_)
                ),
                "unexpected error kind: {:?}",
                e
            );
            prop_assert!(!e.to_string().contains('\n'), "one line: {}", e);
            prop_assert!(fs::read(&path).unwrap() == bytes, "import changed the file");
            Ok(None)
        }
    }
}

// ---- A model of a well-formed file, and how to write it ---------------------------------------

#[derive(Debug, Clone)]
struct ModelList {
    name: String,
    dirs: Vec<String>,
}

/// What a model loads to: lists (name, dirs), the active list's name, interval, lock name.
type Expected = (
    Vec<(String, Vec<PathBuf>)>,
    Option<String>,
    Duration,
    String,
);

#[derive(Debug, Clone)]
struct Model {
    lists: Vec<ModelList>,
    active: Option<Index>,
    interval: Option<(String, Duration)>,
    lock_name: Option<String>,
}

/// Characters that need care in TOML and paths, but no control characters.
const TRICKY: &str = "[a-zA-Z0-9 _.,;:!?#=\\[\\]{}()\"'\\\\/é✓中\u{1F512}-]";

fn name_prefix() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("{TRICKY}{{0,12}}")).unwrap()
}

fn dir() -> impl Strategy<Value = String> {
    let segment =
        proptest::string::string_regex("[a-zA-Z0-9 _.\"'\\\\#=é中\u{1F512}-]{1,10}").unwrap();
    (prop::collection::vec(segment, 0..5), any::<bool>()).prop_map(|(segments, slash)| {
        format!("/{}{}", segments.join("/"), if slash { "/" } else { "" })
    })
}

fn interval() -> impl Strategy<Value = (String, Duration)> {
    prop_oneof![
        (10u64..10_000_000).prop_map(|ms| (format!("{ms}ms"), Duration::from_millis(ms))),
        (1u64..1_000_000).prop_map(|s| (s.to_string(), Duration::from_secs(s))),
        (1u64..1_000_000).prop_map(|s| (format!("{s}s"), Duration::from_secs(s))),
        // humantime's own spelling, down to nanoseconds, up to the largest durations.
        (10_000_000u64..=u64::MAX, 0u32..1_000_000_000).prop_map(|(n, nanos)| {
            let d = Duration::new(n / 1_000_000, nanos);
            (humantime::format_duration(d).to_string(), d)
        }),
        any::<u64>()
            .prop_filter("at least 10ms", |s| *s > 0)
            .prop_map(|s| (s.to_string(), Duration::from_secs(s))),
    ]
}

fn lock_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9._-]{1,20}")
        .unwrap()
        .prop_filter("plain", |n| n != "." && n != "..")
}

fn model() -> impl Strategy<Value = Model> {
    let list = (name_prefix(), prop::collection::vec(dir(), 0..6));
    (
        prop::collection::vec(list, 0..6),
        prop::option::of(any::<Index>()),
        prop::option::of(interval()),
        prop::option::of(lock_name()),
    )
        .prop_map(|(lists, active, interval, lock_name)| Model {
            // A distinct suffix keeps names unique, also once trimmed.
            lists: lists
                .into_iter()
                .enumerate()
                .map(|(i, (prefix, dirs))| ModelList {
                    name: format!("{prefix}{i}"),
                    dirs,
                })
                .collect(),
            active,
            interval,
            lock_name,
        })
}

impl Model {
    fn active_name(&self) -> Option<&str> {
        let i = self.active.as_ref()?;
        (!self.lists.is_empty()).then(|| self.lists[i.index(self.lists.len())].name.as_str())
    }

    /// The state the documented rules make of this model.
    fn expected(&self) -> Expected {
        let lists: Vec<(String, Vec<PathBuf>)> = self
            .lists
            .iter()
            .map(|l| {
                let mut dirs: Vec<PathBuf> = Vec::new();
                for d in &l.dirs {
                    let d = PathBuf::from(d);
                    if !dirs.contains(&d) {
                        dirs.push(d);
                    }
                }
                (l.name.trim().to_string(), dirs)
            })
            .collect();
        let active = self
            .active_name()
            .map(|n| n.trim().to_string())
            .or_else(|| lists.first().map(|l| l.0.clone()));
        let interval = self
            .interval
            .as_ref()
            .map_or(Duration::from_secs(1), |i| i.1);
        let lock_name = self
            .lock_name
            .clone()
            .unwrap_or_else(|| ".certbot.lock".into());
        (lists, active, interval, lock_name)
    }

    fn render(&self, style: &mut Style) -> String {
        let mut out = String::new();
        let nl = if style.pick(4) == 0 { "\r\n" } else { "\n" };
        let dotted_settings = style.pick(3) == 0;
        let inline_lists = style.pick(4) == 0;
        let line = |out: &mut String, style: &mut Style, text: String| {
            if style.pick(6) == 0 {
                out.push_str(&format!("# a comment \"'[]{nl}"));
            }
            out.push_str(&text);
            if style.pick(5) == 0 {
                out.push_str("   # trailing comment");
            }
            out.push_str(nl);
        };
        if let Some(name) = self.active_name() {
            let v = quote(name, style);
            line(&mut out, style, format!("active = {v}"));
        }
        let mut settings = Vec::new();
        if let Some((text, _)) = &self.interval {
            settings.push(("interval", quote(text, style)));
        }
        if let Some(name) = &self.lock_name {
            settings.push(("lock_name", quote(name, style)));
        }
        if style.pick(2) == 0 {
            settings.reverse();
        }
        if dotted_settings {
            for (k, v) in &settings {
                line(&mut out, style, format!("settings.{k} = {v}"));
            }
        }
        if inline_lists {
            let items: Vec<String> = self
                .lists
                .iter()
                .map(|l| {
                    let dirs = array(&l.dirs, style, false);
                    format!("{{ name = {}, dirs = {dirs} }}", quote(&l.name, style))
                })
                .collect();
            line(&mut out, style, format!("list = [{}]", items.join(", ")));
        }
        if !dotted_settings && (!settings.is_empty() || style.pick(2) == 0) {
            line(&mut out, style, "[settings]".into());
            for (k, v) in &settings {
                line(&mut out, style, format!("{k} = {v}"));
            }
        }
        if !inline_lists {
            for l in &self.lists {
                line(&mut out, style, "[[list]]".into());
                let name = format!("name = {}", quote(&l.name, style));
                let dirs = (l.dirs.is_empty() && style.pick(2) == 0)
                    .then(String::new)
                    .unwrap_or_else(|| format!("dirs = {}", array(&l.dirs, style, true)));
                let mut fields = vec![name, dirs];
                if style.pick(2) == 0 {
                    fields.reverse();
                }
                for f in fields.into_iter().filter(|f| !f.is_empty()) {
                    line(&mut out, style, f);
                }
            }
        }
        if nl == "\r\n" {
            // Multi-line arrays used "\n" inside: make every newline CRLF.
            out = out.replace("\r\n", "\n").replace('\n', "\r\n");
        }
        out
    }
}

/// Choices for rendering, drawn from generated bytes (so proptest can shrink them).
struct Style {
    bytes: Vec<u8>,
    at: usize,
}

impl Style {
    fn pick(&mut self, n: usize) -> usize {
        let b = self
            .bytes
            .get(self.at % self.bytes.len().max(1))
            .copied()
            .unwrap_or(0);
        self.at += 1;
        b as usize % n
    }
}

/// A TOML string for `s` in one of TOML's four spellings, escaped as needed.
fn quote(s: &str, style: &mut Style) -> String {
    let basic = |s: &str, style: &mut Style| -> String {
        let unicode = style.pick(2) == 0;
        s.chars()
            .map(|c| match c {
                '\\' => "\\\\".to_string(),
                '"' => "\\\"".to_string(),
                c if unicode && !c.is_ascii() && (c as u32) <= 0xffff => {
                    format!("\\u{:04X}", c as u32)
                }
                c if unicode && !c.is_ascii() => format!("\\U{:08X}", c as u32),
                c => c.to_string(),
            })
            .collect()
    };
    match style.pick(4) {
        1 if !s.contains('\'') => format!("'{s}'"),
        2 => format!("\"\"\"{}\"\"\"", basic(s, style)),
        3 if !s.contains('\'') => format!("'''{s}'''"),
        _ => format!("\"{}\"", basic(s, style)),
    }
}

fn array(items: &[String], style: &mut Style, multiline: bool) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(i, style)).collect();
    if multiline && style.pick(2) == 0 {
        let mut out = String::from("[\n");
        for q in quoted {
            out.push_str(&format!("  {q},"));
            if style.pick(4) == 0 {
                out.push_str(" # comment ]");
            }
            out.push('\n');
        }
        out.push(']');
        out
    } else {
        format!("[{}]", quoted.join(", "))
    }
}

// ---- Mutations ---------------------------------------------------------------------------------

const TOKENS: &[&[u8]] = &[
    b"\"",
    b"'",
    b"[",
    b"]",
    b"[[",
    b"]]",
    b"{",
    b"}",
    b"=",
    b",",
    b".",
    b"\n",
    b"\r",
    b"#",
    b"\\",
    b"\\u",
    b"\\U0010FFFF",
    b"\x00",
    b"\t",
    b"\xff",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"name",
    b"dirs",
    b"active",
    b"list",
    b"settings",
    b"interval",
    b"lock_name",
    b"5",
    b"-0",
    b"true",
    b"\"rel\"",
    b"\"\"",
    b"\"/\"",
    b"1979-05-27T07:32:00Z",
    b"inf",
    b"nan",
    b"0x1F",
    b"1e999",
    b"\"\"\"",
    b"'''",
    b"[[list]]\n",
    b"[settings]\n",
    b"\"5ms\"",
    b"\"../x\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index, usize),
    Insert(Index, &'static [u8]),
    Flip(Index, u8),
    DuplicateLine(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1usize..8).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), prop::sample::select(TOKENS)).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Delete(i, n) => {
                let start = at(i).min(len);
                bytes.drain(start..(start + n).min(len));
            }
            Mutation::Insert(i, token) => {
                let pos = at(i);
                bytes.splice(pos..pos, token.iter().copied());
            }
            Mutation::Flip(i, b) if len > 0 => bytes[i.index(len)] = *b,
            Mutation::Flip(..) => {}
            Mutation::DuplicateLine(i) => {
                let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
                if !lines.is_empty() {
                    let k = i.index(lines.len());
                    let mut out = Vec::with_capacity(len * 2);
                    for (j, l) in lines.iter().enumerate() {
                        out.extend_from_slice(l);
                        if j == k {
                            out.extend_from_slice(l);
                        }
                    }
                    bytes = out;
                }
            }
            Mutation::Truncate(i) => bytes.truncate(at(i)),
        }
    }
    bytes
}

const FILLER: &[&[u8]] = &[b" ", b" = ", b"\n", b"\"/srv/a\"", b"\"a\""];

/// Text built from TOML tokens and short runs of anything: mostly near-TOML.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => prop::sample::select(TOKENS).prop_map(|t| t.to_vec()),
        2 => prop::sample::select(FILLER).prop_map(|t| t.to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

// ---- Properties -------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1500))]

    /// Anything at all: never a panic, never an error; read and round-tripped, or set aside.
    #[test]
    fn load_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = scratch();
        check_load(&Store::new(dir.path()), &bytes)?;
    }

    #[test]
    fn load_token_soup(bytes in token_soup()) {
        let dir = scratch();
        check_load(&Store::new(dir.path()), &bytes)?;
    }

    #[test]
    fn import_arbitrary(bytes in token_soup()) {
        let dir = scratch();
        check_import(dir.path(), &bytes)?;
    }
}

proptest! {
    #![proptest_config(config(1500))]

    /// A well-formed file loads to exactly what it says, without warnings, and round-trips.
    #[test]
    fn load_well_formed(model in model(), style in prop::collection::vec(any::<u8>(), 1..64)) {
        let text = model.render(&mut Style { bytes: style, at: 0 });
        let dir = scratch();
        let store = Store::new(dir.path());
        empty(dir.path());
        fs::write(store.file(), &text).unwrap();
        let loaded = store.load().unwrap();
        prop_assert_eq!(&loaded.warnings, &Vec::<Warning>::new(), "file:\n{}", text);
        let (lists, active, interval, lock_name) = model.expected();
        let got: Vec<(String, Vec<PathBuf>)> = loaded
            .state
            .lists()
            .iter()
            .map(|l| (l.name.clone(), l.dirs.clone()))
            .collect();
        prop_assert_eq!(got, lists, "file:\n{}", text);
        prop_assert_eq!(loaded.state.active().map(|l| l.name.clone()), active);
        prop_assert_eq!(loaded.state.settings().interval, interval);
        prop_assert_eq!(&loaded.state.settings().lock_name, &lock_name);
        prop_assert!(check_load(&store, text.as_bytes())?.is_some());
    }

    /// Near-valid files: a well-formed file with a few mutations.
    #[test]
    fn load_mutated(
        model in model(),
        style in prop::collection::vec(any::<u8>(), 1..64),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let text = model.render(&mut Style { bytes: style, at: 0 });
        let bytes = mutate(text.into_bytes(), &mutations);
        let dir = scratch();
        check_load(&Store::new(dir.path()), &bytes)?;
    }

    /// Exchange files: a well-formed one imports to exactly its list; mutated ones import or
    /// give a typed error.
    #[test]
    fn import_well_formed_and_mutated(
        model in model(),
        style in prop::collection::vec(any::<u8>(), 1..64),
        mutations in prop::collection::vec(mutation(), 0..4),
    ) {
        let Some(list) = model.lists.first() else { return Ok(()) };
        let mut style = Style { bytes: style, at: 0 };
        let text = format!(
            "name = {}\ndirs = {}\n",
            quote(&list.name, &mut style),
            array(&list.dirs, &mut style, true)
        );
        let dir = scratch();
        let imported = check_import(dir.path(), &mutate(text.clone().into_bytes(), &mutations))?;
        if mutations.is_empty() {
            let (lists, ..) = Model { lists: vec![list.clone()], ..model.clone() }.expected();
            let list = imported.expect("a well-formed exchange file imports");
            prop_assert_eq!((list.name, list.dirs), lists[0].clone(), "file:\n{}", text);
        }
    }
}
