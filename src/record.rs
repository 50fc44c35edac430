//! The wire format of `status --json` and `watch --json` (README: "The CLI contract"): the row
//! types the CLI serializes, and the state and cause names, each spelled once here. `remote/`
//! reads a remote lockscope's rows with the same names. The keys and their order are a
//! contract (tests/suite/wire.rs pins the bytes).

use crate::diagnose::{Diagnosis, HeldSinceSource, Warning};
use crate::holder::{Holder, ProcessDetails};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A lock state as `status`, `watch` and the remote rows name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No lock file.
    Absent,
    /// Nobody holds it.
    Free,
    /// Someone holds it.
    Held,
    /// The directory is missing (watch; `status` says `error`).
    Missing,
    /// Its filesystem stopped answering (watch).
    NotResponding,
    /// It could not be probed.
    Error,
    /// Nothing is known: a remote host that cannot be asked. This side's word only, never
    /// accepted from a remote.
    Unknown,
}

impl State {
    /// Every state, in the order of [`State::name`]'s table.
    pub const ALL: [State; 7] = [
        State::Absent,
        State::Free,
        State::Held,
        State::Missing,
        State::NotResponding,
        State::Error,
        State::Unknown,
    ];

    /// The name in JSON, tables and metrics labels: the one place each is spelled.
    pub const fn name(self) -> &'static str {
        match self {
            State::Absent => "absent",
            State::Free => "free",
            State::Held => "held",
            State::Missing => "missing",
            State::NotResponding => "not-responding",
            State::Error => "error",
            State::Unknown => "unknown",
        }
    }

    /// The state a remote may send under `name`: any but `unknown`.
    pub fn from_remote_name(name: &str) -> Option<State> {
        State::ALL
            .into_iter()
            .find(|s| *s != State::Unknown && s.name() == name)
    }
}

impl Serialize for State {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for State {
    /// Strict: a state lockscope knows, and never `unknown` (that is this side's word).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<State, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        State::from_remote_name(&name).ok_or_else(|| {
            let expected: Vec<&str> = State::ALL
                .iter()
                .filter(|s| **s != State::Unknown)
                .map(|s| s.name())
                .collect();
            serde::de::Error::custom(format!(
                "unknown state {name:?}, expected one of {}",
                expected.join(", ")
            ))
        })
    }
}

/// What made the monitor look: `cause` of a `watch --json` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The first probe after a directory was added.
    Initial,
    /// A filesystem event on the lock file or the directory.
    FsEvent,
    /// The periodic pass.
    Poll,
    /// This process took or released a lock (`Monitor::recheck`).
    Action,
}

impl Cause {
    /// Every cause, in the order of [`Cause::name`]'s table.
    pub const ALL: [Cause; 4] = [Cause::Initial, Cause::FsEvent, Cause::Poll, Cause::Action];

    /// The name in JSON and text lines: the one place each is spelled.
    pub const fn name(self) -> &'static str {
        match self {
            Cause::Initial => "initial",
            Cause::FsEvent => "fs-event",
            Cause::Poll => "poll",
            Cause::Action => "action",
        }
    }

    /// The cause named `name`, if lockscope knows it.
    pub fn from_name(name: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// `holder`: its pid and command, then its details (null where unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HolderRecord {
    /// Pid and command.
    #[serde(flatten)]
    pub holder: Holder,
    /// What the diagnosis found about it.
    #[serde(flatten)]
    pub details: ProcessDetails,
}

impl HolderRecord {
    /// The holder as JSON shows it, with what the diagnosis found about it.
    pub fn new(holder: Option<Holder>, diagnosis: &Diagnosis) -> Option<HolderRecord> {
        holder.map(|holder| HolderRecord {
            holder,
            details: diagnosis.holder.clone().unwrap_or_default(),
        })
    }
}

/// The diagnosis keys every row ends with: `held_since`, `held_since_source`, `lock_set`,
/// `warnings`. All are additive to the rows' older keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiagnosisFields {
    /// Since when it is held.
    pub held_since: Option<jiff::Timestamp>,
    /// How that is known.
    pub held_since_source: Option<HeldSinceSource>,
    /// The other directories the holder holds.
    pub lock_set: Vec<String>,
    /// Present only when there is something to warn about (the contract since `flock`
    /// warnings: `select(.warnings)` in jq finds the rows that have one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl DiagnosisFields {
    /// The keys of `diagnosis` (paths that are not UTF-8 with U+FFFD).
    pub fn new(diagnosis: &Diagnosis) -> DiagnosisFields {
        DiagnosisFields {
            held_since: diagnosis.held_since.map(|h| h.time),
            held_since_source: diagnosis.held_since.map(|h| h.source),
            lock_set: diagnosis
                .lock_set
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect(),
            warnings: diagnosis.warnings.clone(),
        }
    }
}

/// One object of `status --json`. Paths that are not UTF-8 are shown with U+FFFD in place of
/// the bad bytes (JSON strings must be Unicode).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusRow {
    /// null: this machine (remote rows are `remote::RemoteRow`s).
    pub host: Option<String>,
    /// The directory as given.
    pub dir: String,
    /// Its lock file.
    pub lock_file: String,
    /// Its state.
    pub state: State,
    /// Its holder, if held.
    pub holder: Option<HolderRecord>,
    /// Why it could not be probed.
    pub error: Option<String>,
    /// The diagnosis keys.
    #[serde(flatten)]
    pub diagnosis: DiagnosisFields,
}

/// One line of `watch --json`: a status row with the time of the change and its cause.
/// Not a flattened [`StatusRow`]: `cause` sits between `error` and the diagnosis keys, and the
/// lines' key order is part of the contract (tests/suite/wire.rs pins the bytes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchRow {
    /// When the change was seen (RFC 3339, milliseconds).
    pub time: String,
    /// null: this machine (remote rows are `remote::RemoteRow`s).
    pub host: Option<String>,
    /// The directory as given.
    pub dir: String,
    /// Its lock file.
    pub lock_file: String,
    /// Its state.
    pub state: State,
    /// Its holder, if held.
    pub holder: Option<HolderRecord>,
    /// Why it could not be probed.
    pub error: Option<String>,
    /// What made the monitor look.
    pub cause: Cause,
    /// The diagnosis keys.
    #[serde(flatten)]
    pub diagnosis: DiagnosisFields,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_never_read() {
        for state in State::ALL {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.name()));
            let back = serde_json::from_str::<State>(&json);
            if state == State::Unknown {
                assert!(back.is_err());
            } else {
                assert_eq!(back.unwrap(), state);
            }
        }
        assert!(serde_json::from_str::<State>("\"weird\"").is_err());
        assert!(serde_json::from_str::<State>("1").is_err());
        for cause in Cause::ALL {
            assert_eq!(Cause::from_name(cause.name()), Some(cause));
        }
    }
}
