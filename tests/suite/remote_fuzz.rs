//! Fuzzing the reader of a remote lockscope's answers (`remote::parse_status`,
//! `remote::parse_watch_line`) with proptest, bounded for CI (issue 21): the remote may be
//! hostile, so its answer is arbitrary bytes.
//!
//! Inputs: arbitrary bytes; arbitrary JSON values; answers generated from a model (one row per
//! directory asked under the spellings lockscope echoes, shuffled, with rows for other
//! directories, duplicates, rows with a wrong lock file or a state lockscope does not have);
//! and those answers mutated byte by byte.
//!
//! Properties: never a panic; either an error for the whole answer (every directory is then
//! shown unknown by the callers), or exactly one row per directory asked, in order, each
//! either a remote row that names that directory or this side's `unknown` row for it saying
//! why; `host` is always this side's. A model answer gets every directory its own row back.
//!
//! `PROPTEST_CASES=N` runs N cases per property instead of the default.

use crate::common::proptest_config::config;
use lockscope::remote::{
    Host, RemoteRow, RemoteState, StatusAnswer, answers, parse_status, parse_watch_line,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

const LOCK: &str = ".certbot.lock";

fn host() -> Host {
    Host::new("web1").unwrap()
}

/// The properties every answer must have, whatever the bytes.
fn check(asked: &[String], bytes: &[u8]) -> Result<Option<StatusAnswer>, TestCaseError> {
    let Ok(answer) = parse_status(&host(), bytes, asked, LOCK) else {
        return Ok(None);
    };
    prop_assert_eq!(answer.rows.len(), asked.len());
    for (row, dir) in answer.rows.iter().zip(asked) {
        check_row(row, dir)?;
    }
    prop_assert_eq!(answer.notice().is_some(), answer.ignored > 0);
    Ok(Some(answer))
}

fn check_row(row: &RemoteRow, dir: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(row.host.as_deref(), Some("web1"));
    if row.state == RemoteState::Unknown {
        prop_assert_eq!(&row.dir, dir, "this side's row names the directory asked");
        prop_assert!(row.error.is_some(), "an unknown row says why: {:?}", row);
    } else {
        prop_assert!(
            answers(&row.dir, &row.lock_file, dir, LOCK, true),
            "a row shown for {:?} names another directory: {:?}",
            dir,
            row
        );
    }
    Ok(())
}

/// Directory names: a few bases, some tricky characters, and spellings lockscope echoes.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/etc/letsencrypt".to_string()),
        Just("/".to_string()),
        Just(".".to_string()),
        Just("le".to_string()),
        Just(LOCK.to_string()),
        "[a-c/.\u{1b}\\\\ é\n\"]{1,8}",
    ]
}

fn spelling(dir: &str, how: u8) -> String {
    match how % 5 {
        0 => dir.to_string(),
        1 => format!("{dir}/"),
        2 => format!("./{dir}"),
        3 => dir.replace('/', "//"),
        _ => format!("{dir}/{LOCK}"),
    }
}

fn lock_file(dir: &str) -> String {
    std::path::Path::new(dir)
        .join(LOCK)
        .to_string_lossy()
        .into_owned()
}

fn row(dir: &str, lock_file: &str, state: &str) -> Value {
    json!({"dir": dir, "lock_file": lock_file, "state": state, "holder": null, "error": null,
           "held_since": null, "new_key": [1, "x"]})
}

const STATES: [&str; 6] = [
    "absent",
    "free",
    "held",
    "missing",
    "error",
    "not-responding",
];

/// A model answer: the directories asked (distinct), the answer lockscope would give for
/// each (in a shuffled order), and rows for directories not asked.
fn model() -> impl Strategy<Value = (Vec<String>, Vec<usize>, Vec<Value>, usize)> {
    (
        prop::collection::btree_set("/[a-d]{1,3}", 1..6),
        prop::collection::vec(any::<u8>(), 6),
        prop::collection::vec("/[e-g]{1,3}", 0..4),
    )
        .prop_flat_map(|(dirs, states, others)| {
            let dirs: Vec<String> = dirs.into_iter().collect();
            let n = dirs.len();
            let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            (Just(dirs), Just(states), Just(others), order)
        })
        .prop_map(|(dirs, states, others, order)| {
            let mut rows: Vec<Value> = order
                .iter()
                .map(|&i| {
                    let state = STATES[usize::from(states[i]) % STATES.len()];
                    row(&dirs[i], &lock_file(&dirs[i]), state)
                })
                .collect();
            rows.extend(others.iter().map(|o| row(o, &lock_file(o), "held")));
            let extras = others.len();
            (dirs, order, rows, extras)
        })
}

/// Any JSON value, a few levels deep, with the keys of a row likely.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        name().prop_map(Value::from),
        prop::sample::select(STATES.to_vec()).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "dir",
                        "lock_file",
                        "state",
                        "holder",
                        "error",
                        "pid",
                        "command",
                        "held_since",
                        "warnings",
                        "host",
                        "other",
                    ]),
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// Any bytes at all.
    #[test]
    fn status_arbitrary_bytes(
        asked in prop::collection::vec(name(), 1..4),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        check(&asked, &bytes)?;
        let _ = parse_watch_line(&host(), &bytes);
    }

    /// Any JSON value (an array of anything, mostly).
    #[test]
    fn status_arbitrary_json(
        asked in prop::collection::vec(name(), 1..4),
        value in any_json(),
        wrap in any::<bool>(),
    ) {
        let value = if wrap { Value::Array(vec![value]) } else { value };
        check(&asked, value.to_string().as_bytes())?;
        let _ = parse_watch_line(&host(), value.to_string().as_bytes());
    }

    /// Rows for spellings of the directories asked, others, duplicates, wrong lock files,
    /// unknown states, in any order.
    #[test]
    fn status_rows_of_every_kind(
        asked in prop::collection::vec(name(), 1..4),
        picks in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..8),
    ) {
        let rows: Vec<Value> = picks
            .iter()
            .map(|&(which, how, kind)| {
                let base = &asked[usize::from(which) % asked.len()];
                let dir = if which % 7 == 6 { format!("{base}x") } else { spelling(base, how) };
                let lock = match kind % 4 {
                    0 => "/etc/shadow".to_string(),
                    _ => lock_file(&dir),
                };
                let state = if kind % 11 == 10 { "weird" } else { STATES[usize::from(kind) % 6] };
                row(&dir, &lock, state)
            })
            .collect();
        check(&asked, Value::Array(rows).to_string().as_bytes())?;
    }

    /// lockscope's own answer, shuffled, with rows for other directories: every directory
    /// gets its own row back; the others are ignored and counted.
    #[test]
    fn status_model_answer((dirs, order, rows, extras) in model(), mutate in any::<bool>()) {
        let bytes = serde_json::to_vec(&Value::Array(rows.clone())).unwrap();
        let answer = check(&dirs, &bytes)?.expect("a well-formed answer is read");
        for (i, row) in answer.rows.iter().enumerate() {
            let at = order.iter().position(|&o| o == i).unwrap();
            prop_assert_eq!(&row.dir, &dirs[i]);
            prop_assert_eq!(Some(row.state.name()), rows[at]["state"].as_str());
        }
        prop_assert_eq!(answer.ignored, extras);
        if mutate {
            // The same bytes damaged: still only matched rows or errors.
            for at in (0..bytes.len()).step_by(7) {
                let mut damaged = bytes.clone();
                damaged[at] ^= 0x20;
                check(&dirs, &damaged)?;
                damaged.truncate(at);
                check(&dirs, &damaged)?;
            }
        }
    }
}
