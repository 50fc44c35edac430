//! The diagnosis keys `status --json` and `watch --json` share (README: "The CLI contract").
//! All are additive to the records' older keys.

use lockscope::Holder;
use lockscope::diagnose::{Diagnosis, HeldSinceSource, Warning};
use lockscope::holder::ProcessDetails;
use serde::Serialize;

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
