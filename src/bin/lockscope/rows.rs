//! Local `status` rows: probed in one batch, diagnosed, as the wire format's rows
//! (`lockscope::record`) plus what the table adds.

use lockscope::diagnose::Diagnosis;
use lockscope::local_time::age_at;
use lockscope::probe::{PathProbe, ProbeBatch};
use lockscope::record::{DiagnosisFields, HolderRecord, State, StatusRow};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// One object of `status --json` (the library's [`StatusRow`]), with what the table adds.
#[derive(Serialize)]
#[serde(transparent)]
pub(crate) struct StatusRecord {
    pub(crate) row: StatusRow,
    /// For the table: how long the lock has been held.
    #[serde(skip)]
    pub(crate) held_for: Option<Duration>,
}

fn status_record(probed: PathProbe, diagnosis: &Diagnosis, now: jiff::Timestamp) -> StatusRecord {
    let (state, holder, error) = match &probed.state {
        Ok(state) => (state.state(), state.holder(), None),
        Err(e) => (State::Error, None, Some(e.to_string())),
    };
    StatusRecord {
        row: StatusRow {
            host: None,
            dir: lossy_string(probed.dir),
            lock_file: lossy_string(probed.lock_file),
            state,
            holder: HolderRecord::new(holder, diagnosis),
            error,
            diagnosis: DiagnosisFields::new(diagnosis),
        },
        held_for: diagnosis.held_since.map(|h| age_at(h.time, now)),
    }
}

impl StatusRecord {
    pub(crate) fn has_error(&self) -> bool {
        self.row.error.is_some()
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
    let diagnoses = batch.diagnoser().diagnose_all(&probes);
    probes.into_iter().zip(diagnoses).collect()
}

/// The status rows of local PATHs, probed in one batch.
pub(crate) fn status_records(paths: &[PathBuf], lock_name: &str) -> Vec<StatusRecord> {
    each_status_record(paths, lock_name).collect()
}

/// The status rows of local PATHs, probed in one batch, each diagnosed as it is taken: a
/// caller that prints them as they come holds one row at a time (1,000 directories' rows
/// collected first cost ~1 MB of fresh pages, more than the probes' syscalls).
pub(crate) fn each_status_record(
    paths: &[PathBuf],
    lock_name: &str,
) -> impl Iterator<Item = StatusRecord> {
    let now = jiff::Timestamp::now();
    let mut batch = ProbeBatch::new();
    let probes: Vec<PathProbe> = paths
        .iter()
        .map(|p| batch.probe_path(p, lock_name))
        .collect();
    batch
        .diagnoser()
        .diagnose_each(probes)
        .map(move |(probed, diagnosis)| status_record(probed, &diagnosis, now))
}
