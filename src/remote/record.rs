//! The remote lockscope's JSON (`status --json`, `watch --json`), parsed strictly: the keys
//! this side uses must be there with the right types, and a state must be one lockscope
//! knows; other keys (newer diagnosis fields) are carried through unchanged. Remote text is
//! hostile: escape every string before printing it.

use super::error::ConnectionError;
use super::operand::Host;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// The most `status --json` output read from one host (1,000 directories take ~1 MB).
pub const STATUS_LIMIT: usize = 64 * 1024 * 1024;

/// The longest `watch --json` line accepted.
pub const LINE_LIMIT: usize = 1024 * 1024;

/// A lock state, as the remote names it (`status` and `watch` names), plus `unknown`: this
/// side's word for a row whose host cannot be asked (never accepted from a remote).
pub use crate::record::State as RemoteState;

/// A remote holder: pid and command, the rest carried through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteHolder {
    /// Its pid on the remote host.
    pub pid: Option<u32>,
    /// Its command line (hostile text).
    pub command: Option<String>,
    /// Other keys (user, start, state, ...), unchanged.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A remote warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteWarning {
    /// Its kind's name (hostile text).
    pub kind: String,
    /// Its sentence (hostile text).
    pub message: String,
    /// Other keys, unchanged.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One row of a remote `status --json` (and the row part of `watch --json`), with `host` set
/// by this side (whatever the remote said there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteRow {
    /// The host asked (this side's name for it).
    #[serde(default, deserialize_with = "ignore_remote_host")]
    pub host: Option<String>,
    /// The directory as the remote names it.
    pub dir: String,
    /// Its lock file.
    pub lock_file: String,
    /// Its state.
    pub state: RemoteState,
    /// Its holder, if held.
    pub holder: Option<RemoteHolder>,
    /// Why it could not be probed (or why the host could not be asked).
    pub error: Option<String>,
    /// Since when it is held.
    #[serde(default)]
    pub held_since: Option<jiff::Timestamp>,
    /// Hazards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RemoteWarning>,
    /// Other keys (held_since_source, lock_set, watch's time and cause...), unchanged.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn ignore_remote_host<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let _ = Value::deserialize(d)?;
    Ok(None)
}

impl RemoteRow {
    /// The row for a directory of a host that cannot be asked: state `unknown`, `error` the
    /// reason, nothing else known (never a stale state).
    pub fn unknown(host: &Host, dir: &str, lock_name: &str, reason: String) -> RemoteRow {
        // The keys every row has (status --json's contract), empty.
        let mut other = Map::new();
        other.insert("held_since_source".into(), Value::Null);
        other.insert("lock_set".into(), Value::Array(Vec::new()));
        let lock_file = if dir.ends_with('/') {
            format!("{dir}{lock_name}")
        } else {
            format!("{dir}/{lock_name}")
        };
        RemoteRow {
            host: Some(host.to_string()),
            dir: dir.to_string(),
            lock_file,
            state: RemoteState::Unknown,
            holder: None,
            error: Some(reason),
            held_since: None,
            warnings: Vec::new(),
            other,
        }
    }
}

/// A remote `status --json` answer matched to the directories asked (see [`parse_status`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusAnswer {
    /// One row per directory asked, in the order asked: the remote's row for it, or this
    /// side's `unknown` row saying what was wrong with the answer for it.
    pub rows: Vec<RemoteRow>,
    /// How many rows answered nothing asked (another directory or lock file, or no name at
    /// all); they are dropped.
    pub ignored: usize,
    /// The first of them's directory, if it named one (hostile text).
    pub first_ignored: Option<String>,
}

impl StatusAnswer {
    /// The one notice for the rows ignored, if any (hostile text: escape it).
    pub fn notice(&self) -> Option<String> {
        ignored_notice(self.ignored, self.first_ignored.as_deref())
    }
}

/// The notice for `n` rows of an answer that answered nothing asked.
pub(super) fn ignored_notice(n: usize, first: Option<&str>) -> Option<String> {
    let rows = if n == 1 { "row" } else { "rows" };
    let first = match first {
        Some(dir) => format!(" (the first for \"{dir}\")"),
        None => String::new(),
    };
    (n > 0)
        .then(|| format!("ignored {n} {rows} of its answer for directories not asked for{first}"))
}

/// Whether a row naming `dir` and `lock_file` answers the operand `asked`, as the remote
/// lockscope echoes a PATH (`status` and `watch` alike): either PATH is the directory (`dir`
/// is PATH, `lock_file` PATH/LOCK_NAME), or, for `status` only (`file_form`), PATH is the lock
/// file itself (`lock_file` is PATH, `dir` its parent). Paths are compared as lockscope
/// compares them (component by component: a trailing slash or a doubled one makes no
/// difference, a leading `./` does); nothing is resolved, since a relative PATH is relative to
/// the remote login directory and links are the remote's.
pub fn answers(dir: &str, lock_file: &str, asked: &str, lock_name: &str, file_form: bool) -> bool {
    let (dir, lock_file, asked) = (Path::new(dir), Path::new(lock_file), Path::new(asked));
    (dir == asked && lock_file == asked.join(lock_name))
        || (file_form && lock_file == asked && dir == crate::path_error::parent_dir(asked))
}

/// A row of a status answer, before matching: parsed, or not lockscope's (with whatever
/// directory and lock file it names).
struct Candidate {
    row: Result<RemoteRow, String>,
    dir: Option<String>,
    lock_file: Option<String>,
}

impl Candidate {
    fn answers(&self, asked: &str, lock_name: &str) -> bool {
        match (&self.dir, &self.lock_file) {
            (Some(dir), Some(lock_file)) => answers(dir, lock_file, asked, lock_name, true),
            _ => false,
        }
    }
}

/// Parses a remote `status --json` answer to `lockscope status -- ASKED...` and matches its
/// rows to `asked` by the directory each names ([`answers`]), never by position alone: a
/// remote may be hostile, or another version. Each directory asked gets the one row that
/// answers it; no row, two rows (lockscope gives one; two may contradict each other) or a row
/// that is not lockscope's make an `unknown` row for that directory saying so. Rows answering
/// nothing asked are counted in [`StatusAnswer::ignored`], never shown. A row the remote put
/// at the place of the directory it answers is taken first, so that two spellings of one
/// directory (`d`, `d/.certbot.lock`) each keep theirs. An answer that is not a JSON array of
/// objects is an error (every directory is then unknown).
pub fn parse_status(
    host: &Host,
    json: &[u8],
    asked: &[String],
    lock_name: &str,
) -> Result<StatusAnswer, ConnectionError> {
    let values: Vec<Value> = serde_json::from_slice(json).map_err(|e| bad(format!("{e}")))?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let mut candidates: Vec<Candidate> = values
        .into_iter()
        .map(|value| Candidate {
            dir: text(&value, "dir"),
            lock_file: text(&value, "lock_file"),
            row: serde_json::from_value::<RemoteRow>(value).map_err(|e| short(e.to_string())),
        })
        .collect();
    // For each directory asked, the rows answering it (in their order), found through maps
    // of the names rows give: a hostile answer of a million rows costs a pass, not a million
    // per directory.
    let mut by_name: HashMap<&Path, Vec<usize>> = HashMap::new();
    for (j, c) in candidates.iter().enumerate() {
        for name in [&c.dir, &c.lock_file].into_iter().flatten() {
            let rows = by_name.entry(Path::new(name.as_str())).or_default();
            if rows.last() != Some(&j) {
                rows.push(j);
            }
        }
    }
    let answering: Vec<Vec<usize>> = asked
        .iter()
        .map(|dir| {
            let mut rows: Vec<usize> = by_name
                .get(Path::new(dir.as_str()))
                .into_iter()
                .flatten()
                .copied()
                .filter(|&j| candidates[j].answers(dir, lock_name))
                .collect();
            rows.dedup();
            rows
        })
        .collect();
    // The first directory each row answers.
    let mut first_answered: Vec<Option<usize>> = vec![None; candidates.len()];
    for (i, rows) in answering.iter().enumerate() {
        for &j in rows {
            first_answered[j].get_or_insert(i);
        }
    }
    let mut answer: Vec<Vec<usize>> = vec![Vec::new(); asked.len()];
    let mut used = vec![false; candidates.len()];
    // 1. A row at the place of the directory it answers (lockscope's order).
    for (i, rows) in answering.iter().enumerate() {
        if rows.contains(&i) {
            answer[i].push(i);
            used[i] = true;
        }
    }
    // 2. Directories still without one: any row left that answers them.
    for (i, rows) in answering.iter().enumerate() {
        if answer[i].is_empty() {
            for &j in rows {
                if !used[j] {
                    answer[i].push(j);
                    used[j] = true;
                }
            }
        }
    }
    // 3. Rows left: a second answer for a directory asked, or an answer to nothing asked.
    let (mut ignored, mut first_ignored) = (0, None);
    for (j, c) in candidates.iter().enumerate() {
        if used[j] {
            continue;
        }
        match first_answered[j] {
            Some(i) => answer[i].push(j),
            None => {
                ignored += 1;
                if first_ignored.is_none() {
                    first_ignored = c.dir.clone();
                }
            }
        }
    }
    let rows = asked
        .iter()
        .zip(answer)
        .map(|(dir, found)| {
            let unknown = |why: String| RemoteRow::unknown(host, dir, lock_name, why);
            match found[..] {
                [j] => match std::mem::replace(&mut candidates[j].row, Err(String::new())) {
                    Ok(mut row) => {
                        row.host = Some(host.to_string());
                        row
                    }
                    Err(e) => unknown(format!(
                        "the remote's row for this directory is not lockscope's: {e}"
                    )),
                },
                [] => unknown("the remote's answer has no row for this directory".into()),
                _ => unknown(format!(
                    "the remote's answer has {} rows for this directory (lockscope gives one)",
                    found.len()
                )),
            }
        })
        .collect();
    Ok(StatusAnswer {
        rows,
        ignored,
        first_ignored,
    })
}

/// Parses one remote `watch --json` line.
pub fn parse_watch_line(host: &Host, line: &[u8]) -> Result<RemoteRow, ConnectionError> {
    let mut row: RemoteRow = serde_json::from_slice(line).map_err(|e| bad(format!("{e}")))?;
    for key in ["time", "cause"] {
        if !row.other.get(key).is_some_and(Value::is_string) {
            return Err(bad(format!("a watch line without a {key:?} string")));
        }
    }
    row.host = Some(host.to_string());
    Ok(row)
}

fn bad(detail: String) -> ConnectionError {
    ConnectionError::BadAnswer {
        detail: short(detail),
    }
}

/// At most 300 characters of a parse error (it quotes the remote's text).
fn short(detail: String) -> String {
    detail.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host::new("web1").unwrap()
    }

    fn asked(dirs: &[&str]) -> Vec<String> {
        dirs.iter().map(|d| d.to_string()).collect()
    }

    fn row(dir: &str, lock_file: &str, state: &str) -> String {
        format!(
            r#"{{"dir":"{dir}","lock_file":"{lock_file}","state":"{state}","holder":null,"error":null}}"#
        )
    }

    fn answer(rows: &[String]) -> Vec<u8> {
        format!("[{}]", rows.join(",")).into_bytes()
    }

    const L: &str = ".certbot.lock";

    #[test]
    fn status_rows_keep_unknown_keys_and_take_our_host() {
        let json = br#"[{"host":"evil","dir":"/d","lock_file":"/d/.certbot.lock","state":"held",
            "holder":{"pid":7,"command":"certbot renew","user":"root"},"error":null,
            "held_since":"2026-01-01T00:00:00Z","held_since_source":"lock-file-birth",
            "lock_set":["/d"],"new_key":1}]"#;
        let rows = parse_status(&host(), json, &asked(&["/d"]), L)
            .unwrap()
            .rows;
        assert_eq!(rows[0].host.as_deref(), Some("web1"));
        assert_eq!(rows[0].state, RemoteState::Held);
        assert_eq!(rows[0].holder.as_ref().unwrap().pid, Some(7));
        let out = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(out["host"], "web1");
        assert_eq!(out["new_key"], 1);
        assert_eq!(out["holder"]["user"], "root");
        assert_eq!(out["lock_set"][0], "/d");
    }

    #[test]
    fn strict() {
        let h = host();
        for bad in [
            &br#"[{"dir":"/d","lock_file":"/d/x","state":"unknown","holder":null,"error":null}]"#[..],
            br#"[{"dir":"/d","lock_file":"/d/x","state":"weird","holder":null,"error":null}]"#,
            br#"[{"dir":"/d","lock_file":"/d/x","holder":null,"error":null}]"#,
            br#"[{"dir":"/d","lock_file":"/d/x","state":"held","holder":{"pid":-1},"error":null}]"#,
        ] {
            let rows = parse_status(&h, bad, &asked(&["/d"]), "x").unwrap().rows;
            assert_eq!(rows[0].state, RemoteState::Unknown);
            assert!(
                rows[0].error.as_ref().unwrap().contains("not lockscope's"),
                "{rows:?}"
            );
        }
        // Rows naming no directory answer nothing.
        for bad in [
            &br#"[{"dir":1,"lock_file":"/d/x","state":"free","holder":null,"error":null}]"#[..],
            br#"[{"lock_file":"/d/x","state":"free","holder":null,"error":null}]"#,
            br#"[7]"#,
        ] {
            let answer = parse_status(&h, bad, &asked(&["/d"]), "x").unwrap();
            assert_eq!(answer.ignored, 1);
            assert!(answer.rows[0].error.as_ref().unwrap().contains("no row"));
        }
        for bad in [&b"not json"[..], b"{}", b"[1", b""] {
            assert!(parse_status(&h, bad, &asked(&["/d"]), "x").is_err());
        }
        let line = br#"{"dir":"/d","lock_file":"/d/x","state":"free","holder":null,"error":null}"#;
        assert!(
            parse_watch_line(&h, line).is_err(),
            "watch lines need time and cause"
        );
        let line = br#"{"time":"t","cause":"initial","dir":"/d","lock_file":"/d/x","state":"free","holder":null,"error":null}"#;
        assert_eq!(
            parse_watch_line(&h, line).unwrap().other["cause"],
            "initial"
        );
    }

    #[test]
    fn spellings_lockscope_echoes_answer_their_operand() {
        // The directory as given, under any spelling lockscope takes for it.
        assert!(answers("d/", "d/.certbot.lock", "d/", L, true));
        assert!(answers("d", "d/.certbot.lock", "d/", L, true));
        assert!(answers("/x//d", "/x/d/.certbot.lock", "/x/d", L, false));
        assert!(answers("/", "/.certbot.lock", "/", L, false));
        // PATH the lock file (status only): the parent directory.
        assert!(answers("d", "d/.certbot.lock", "d/.certbot.lock", L, true));
        assert!(!answers(
            "d",
            "d/.certbot.lock",
            "d/.certbot.lock",
            L,
            false
        ));
        assert!(answers(".", ".certbot.lock", ".certbot.lock", L, true));
        assert!(answers("e", "e/file", "e/file", L, true));
        // Nothing resolved: relative stays relative, `./d` is not `d`, `..` is kept.
        assert!(!answers("/root/d", "/root/d/.certbot.lock", "d", L, true));
        assert!(!answers("./d", "./d/.certbot.lock", "d", L, true));
        assert!(!answers("a", "a/.certbot.lock", "a/../a", L, true));
        // The right directory with another lock file is not an answer.
        assert!(!answers("d", "/etc/shadow", "d", L, true));
        assert!(!answers("d", "d/other.lock", "d", L, true));
    }

    #[test]
    fn rows_are_matched_to_the_directories_asked() {
        let h = host();
        let dirs = asked(&["/a", "/b", "/c"]);
        // Reordered: each gets its own.
        let json = answer(&[
            row("/c", "/c/.certbot.lock", "held"),
            row("/a", "/a/.certbot.lock", "free"),
            row("/b", "/b/.certbot.lock", "absent"),
        ]);
        let a = parse_status(&h, &json, &dirs, L).unwrap();
        let states: Vec<_> = a.rows.iter().map(|r| (r.dir.as_str(), r.state)).collect();
        assert_eq!(
            states,
            [
                ("/a", RemoteState::Free),
                ("/b", RemoteState::Absent),
                ("/c", RemoteState::Held)
            ]
        );
        assert_eq!(a.notice(), None);
        // Another directory, a duplicate, one missing, an extra.
        let json = answer(&[
            row("/a", "/a/.certbot.lock", "free"),
            row("/x", "/x/.certbot.lock", "held"),
            row("/a", "/a/.certbot.lock", "held"),
            row("/c", "/c/.certbot.lock", "free"),
            row("/y", "/y/.certbot.lock", "free"),
        ]);
        let a = parse_status(&h, &json, &dirs, L).unwrap();
        let why = |i: usize| a.rows[i].error.clone().unwrap_or_default();
        assert_eq!(a.rows[0].state, RemoteState::Unknown);
        assert!(why(0).contains("2 rows for this directory"), "{}", why(0));
        assert_eq!(a.rows[1].state, RemoteState::Unknown);
        assert!(why(1).contains("no row for this directory"), "{}", why(1));
        assert_eq!(a.rows[2].state, RemoteState::Free);
        assert_eq!(a.ignored, 2);
        let notice = a.notice().unwrap();
        assert!(
            notice.contains("ignored 2 rows") && notice.contains("/x"),
            "{notice}"
        );
        assert!(a.rows.iter().all(|r| r.host.as_deref() == Some("web1")));
        // Two spellings of one lock each keep the row at their place.
        let dirs = asked(&["d", "d/.certbot.lock"]);
        let json = answer(&[
            row("d", "d/.certbot.lock", "held"),
            row("d", "d/.certbot.lock", "held"),
        ]);
        let a = parse_status(&h, &json, &dirs, L).unwrap();
        assert!(a.rows.iter().all(|r| r.state == RemoteState::Held), "{a:?}");
    }

    /// 1,000 directories asked, 200,000 rows answered (half for one directory, half for
    /// others): one pass over the rows, not one per directory (2·10^8 path comparisons).
    #[test]
    fn a_huge_hostile_answer_is_read_in_one_pass() {
        let dirs: Vec<String> = (0..1000).map(|i| format!("/d{i}")).collect();
        let mut rows: Vec<String> = (0..100_000)
            .map(|i| row(&format!("/x{i}"), &format!("/x{i}/.certbot.lock"), "free"))
            .collect();
        rows.extend((0..100_000).map(|_| row("/d0", "/d0/.certbot.lock", "held")));
        let started = std::time::Instant::now();
        let a = parse_status(&host(), &answer(&rows), &dirs, L).unwrap();
        eprintln!("{:?}", started.elapsed());
        assert_eq!(a.ignored, 100_000);
        assert!(a.rows[0].error.as_ref().unwrap().contains("100000 rows"));
        assert!(a.rows[1].error.as_ref().unwrap().contains("no row"));
    }
}
