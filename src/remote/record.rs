//! The remote lockscope's JSON (`status --json`, `watch --json`), parsed strictly: the keys
//! this side uses must be there with the right types, and a state must be one lockscope
//! knows; other keys (newer diagnosis fields) are carried through unchanged. Remote text is
//! hostile: escape every string before printing it.

use super::error::ConnectionError;
use super::operand::Host;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most `status --json` output read from one host (1,000 directories take ~1 MB).
pub const STATUS_LIMIT: usize = 64 * 1024 * 1024;

/// The longest `watch --json` line accepted.
pub const LINE_LIMIT: usize = 1024 * 1024;

/// A lock state, as the remote names it (`status` and `watch` names), plus `unknown`: this
/// side's word for a row whose host cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteState {
    /// No lock file.
    Absent,
    /// Nobody holds it.
    Free,
    /// Someone holds it.
    Held,
    /// The directory is missing (watch).
    Missing,
    /// The remote could not probe it.
    Error,
    /// Its filesystem stopped answering (watch).
    NotResponding,
    /// The host could not be asked (set here, never accepted from a remote).
    #[serde(skip_deserializing)]
    Unknown,
}

impl RemoteState {
    /// The JSON / table name.
    pub fn name(self) -> &'static str {
        match self {
            RemoteState::Absent => "absent",
            RemoteState::Free => "free",
            RemoteState::Held => "held",
            RemoteState::Missing => "missing",
            RemoteState::Error => "error",
            RemoteState::NotResponding => "not-responding",
            RemoteState::Unknown => "unknown",
        }
    }
}

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

/// Parses a remote `status --json` answer: one array, one row per directory asked, in order.
pub fn parse_status(
    host: &Host,
    json: &[u8],
    asked: usize,
) -> Result<Vec<RemoteRow>, ConnectionError> {
    let mut rows: Vec<RemoteRow> = serde_json::from_slice(json).map_err(|e| bad(format!("{e}")))?;
    if rows.len() != asked {
        return Err(bad(format!("{} rows for {asked} directories", rows.len())));
    }
    for row in &mut rows {
        row.host = Some(host.to_string());
    }
    Ok(rows)
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
        detail: detail.chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host::new("web1").unwrap()
    }

    #[test]
    fn status_rows_keep_unknown_keys_and_take_our_host() {
        let json = br#"[{"host":"evil","dir":"/d","lock_file":"/d/.certbot.lock","state":"held",
            "holder":{"pid":7,"command":"certbot renew","user":"root"},"error":null,
            "held_since":"2026-01-01T00:00:00Z","held_since_source":"lock-file-birth",
            "lock_set":["/d"],"new_key":1}]"#;
        let rows = parse_status(&host(), json, 1).unwrap();
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
            br#"[{"dir":1,"lock_file":"/d/x","state":"free","holder":null,"error":null}]"#,
            br#"[{"lock_file":"/d/x","state":"free","holder":null,"error":null}]"#,
            br#"[{"dir":"/d","lock_file":"/d/x","state":"held","holder":{"pid":-1},"error":null}]"#,
            br#"not json"#,
        ] {
            assert!(
                parse_status(&h, bad, 1).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let one = br#"[{"dir":"/d","lock_file":"/d/x","state":"free","holder":null,"error":null}]"#;
        assert!(parse_status(&h, one, 2).is_err(), "row count is checked");
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
}
