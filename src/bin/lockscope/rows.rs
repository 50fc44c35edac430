//! The diagnosis keys `status --json` and `watch --json` share (README: "The CLI contract").
//! All are additive to the records' older keys.

use lockscope::Holder;
use lockscope::diagnose::{Diagnosis, HeldSinceSource, Warning};
use lockscope::holder::ProcessDetails;
use serde::Serialize;

use lockscope::diagnose::Diagnoser;
use lockscope::local_time::age_at;
use lockscope::probe::{PathProbe, ProbeBatch};
use std::path::PathBuf;
use std::time::Duration;

/// `holder`: its pid and command, then its details (null where unknown).
#[derive(Serialize)]
pub(crate) struct HolderRecord {
    #[serde(flatten)]
    holder: Holder,
    #[serde(flatten)]
    details: ProcessDetails,
}

impl HolderRecord {
    pub(crate) fn pid(&self) -> Option<u32> {
        self.holder.pid
    }

    pub(crate) fn command(&self) -> Option<&str> {
        self.holder.command.as_deref()
    }
}

/// The holder as JSON shows it, with what the diagnosis found about it.
pub(crate) fn holder_record(holder: Option<Holder>, diagnosis: &Diagnosis) -> Option<HolderRecord> {
    holder.map(|holder| HolderRecord {
        holder,
        details: diagnosis.holder.clone().unwrap_or_default(),
    })
}

/// `held_since`, `held_since_source`, `lock_set`, `warnings`.
#[derive(Serialize)]
pub(crate) struct DiagnosisFields {
    held_since: Option<jiff::Timestamp>,
    held_since_source: Option<HeldSinceSource>,
    lock_set: Vec<String>,
    /// Present only when there is something to warn about (the contract since `flock`
    /// warnings: `select(.warnings)` in jq finds the rows that have one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
}

impl DiagnosisFields {
    pub(crate) fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

pub(crate) fn diagnosis_fields(diagnosis: &Diagnosis) -> DiagnosisFields {
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

/// One object of `status --json`. The keys are a contract. Paths that are not UTF-8 are shown
/// with U+FFFD in place of the bad bytes (JSON strings must be Unicode).
#[derive(Serialize)]
pub(crate) struct StatusRecord {
    /// null: this machine (remote rows are `remote::RemoteRow`s).
    pub(crate) host: Option<String>,
    pub(crate) dir: String,
    pub(crate) lock_file: String,
    pub(crate) state: &'static str,
    pub(crate) holder: Option<HolderRecord>,
    pub(crate) error: Option<String>,
    #[serde(flatten)]
    pub(crate) diagnosis: DiagnosisFields,
    /// For the table: how long the lock has been held.
    #[serde(skip)]
    pub(crate) held_for: Option<Duration>,
}

fn status_record(probed: PathProbe, diagnosis: &Diagnosis, now: jiff::Timestamp) -> StatusRecord {
    let (state, holder, error) = match &probed.state {
        Ok(state) => (state.name(), state.holder(), None),
        Err(e) => ("error", None, Some(e.to_string())),
    };
    StatusRecord {
        host: None,
        dir: lossy_string(probed.dir),
        lock_file: lossy_string(probed.lock_file),
        state,
        holder: holder_record(holder, diagnosis),
        error,
        diagnosis: diagnosis_fields(diagnosis),
        held_for: diagnosis.held_since.map(|h| age_at(h.time, now)),
    }
}

impl StatusRecord {
    pub(crate) fn has_error(&self) -> bool {
        self.error.is_some()
    }
}

/// The path as a string, U+FFFD in place of bytes that are not UTF-8 (no copy when all are).
pub(crate) fn lossy_string(path: PathBuf) -> String {
    path.into_os_string()
        .into_string()
        .unwrap_or_else(|raw| raw.to_string_lossy().into_owned())
}

/// Probes every PATH in one batch (each holder's command line is read once, however many locks
/// it holds) and diagnoses them together.
pub(crate) fn probe_and_diagnose(
    paths: &[PathBuf],
    lock_name: &str,
) -> Vec<(PathProbe, Diagnosis)> {
    let mut batch = ProbeBatch::new();
    let probes: Vec<PathProbe> = paths
        .iter()
        .map(|p| batch.probe_path(p, lock_name))
        .collect();
    let diagnoses = Diagnoser::new().diagnose_all(&probes);
    probes.into_iter().zip(diagnoses).collect()
}

/// The status rows of local PATHs, probed in one batch.
pub(crate) fn status_records(paths: &[PathBuf], lock_name: &str) -> Vec<StatusRecord> {
    let now = jiff::Timestamp::now();
    probe_and_diagnose(paths, lock_name)
        .into_iter()
        .map(|(probed, diagnosis)| status_record(probed, &diagnosis, now))
        .collect()
}
