//! The Prometheus metric families that `serve --metrics` and `status --format prometheus`
//! share: a snapshot of each directory's lock, encoded in the Prometheus text format (0.0.4)
//! by `prometheus-client`, which also escapes the label values (directory names and holders'
//! command lines are hostile input: a `"` or a newline in one must not forge a series).
//!
//! The snapshot is kept up to date from the monitor's changes (or filled once from `status`'s
//! probes); a scrape only encodes it, with `held_seconds` computed from `held_since` at the
//! moment of the scrape. Nothing is probed per scrape. `serve` also counts what a flight
//! recorder (lockscope::history) sees: acquisitions, refused attempts (kernel events only) and
//! hold durations, since it started.

use lockscope::diagnose::{Diagnosis, WarningKind};
use lockscope::history::{EndedBy, Recorded, Source};
use lockscope::holder::program_name;
use lockscope::monitor::{Change, DirState};
use lockscope::record::State;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Every state `lockscope_lock_state` has a series for, in `watch`'s and `status`'s names
/// (`unknown` is the app's word for a remote row; the metrics are local only).
const STATES: [&str; 6] = [
    State::Absent.name(),
    State::Free.name(),
    State::Held.name(),
    State::Missing.name(),
    State::NotResponding.name(),
    State::Error.name(),
];

/// Every warning kind `lockscope_lock_warnings` has a series for.
const WARNING_KINDS: [WarningKind; 5] = [
    WarningKind::OrphanedLock,
    WarningKind::Flock,
    WarningKind::NetworkFilesystem,
    WarningKind::HolderNotVisible,
    WarningKind::HolderNotPermitted,
];

/// The index of `kind` in [`WARNING_KINDS`]. Exhaustive: a new kind fails to compile here
/// until it has a series.
fn warning_index(kind: WarningKind) -> usize {
    match kind {
        WarningKind::OrphanedLock => 0,
        WarningKind::Flock => 1,
        WarningKind::NetworkFilesystem => 2,
        WarningKind::HolderNotVisible => 3,
        WarningKind::HolderNotPermitted => 4,
    }
}

/// The index of `state` in [`STATES`] (exhaustive, as [`warning_index`]).
fn state_index(state: &DirState) -> usize {
    match state.state() {
        State::Absent => 0,
        State::Free => 1,
        State::Held => 2,
        State::Missing => 3,
        State::NotResponding => 4,
        State::Error | State::Unknown => 5,
    }
}

/// Who holds a lock, as `lockscope_lock_holder_info` labels it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HolderLabels {
    /// Empty when the holder's pid is not visible.
    pid: String,
    /// The executable's name only; empty when unknown.
    program: String,
    /// The whole command line; only kept with `--metrics-command-line`.
    command: Option<String>,
}

/// One directory's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DirMetrics {
    state: usize,
    held: bool,
    held_since: Option<jiff::Timestamp>,
    holder: Option<HolderLabels>,
    warnings: [u32; WARNING_KINDS.len()],
}

/// The upper bounds (seconds) of `lockscope_lock_hold_duration_seconds`' buckets: a certbot run
/// takes seconds to a minute; a stuck one, hours.
const HOLD_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 14400.0,
];

/// What the recorder counted for one directory since `serve` started.
#[derive(Debug, Clone, Default)]
struct RecordedCounts {
    acquisitions: u64,
    refused: u64,
    /// Holds seen from start to end, per bucket (the last: above every bound).
    hold_buckets: [u64; HOLD_BUCKETS.len() + 1],
    hold_seconds: f64,
    holds: u64,
}

/// What the metrics show, and what they leave out.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MetricsOptions {
    /// Add the holder's whole command line as a `command` label (it can carry secrets).
    pub command_line: bool,
}

/// The metrics of every directory, by directory label.
#[derive(Debug, Default)]
pub(crate) struct LockMetrics {
    options: MetricsOptions,
    dirs: BTreeMap<String, DirMetrics>,
    probe_errors: u64,
    /// The recorder's source (`None`: no recorder, as in `status`).
    recorder: Option<Source>,
    /// Lock events the kernel dropped because the recorder fell behind.
    lost_events: u64,
    recorded: BTreeMap<String, RecordedCounts>,
}

impl LockMetrics {
    pub(crate) fn new(options: MetricsOptions) -> LockMetrics {
        LockMetrics {
            options,
            ..LockMetrics::default()
        }
    }

    /// Records a directory's state. A change into `error` or `not-responding` counts as a probe
    /// error (`lockscope_probe_errors_total`).
    pub(crate) fn set(&mut self, dir: String, state: &DirState, diagnosis: &Diagnosis) {
        let holder = state.holder().map(|h| HolderLabels {
            pid: h.pid.map(|p| p.to_string()).unwrap_or_default(),
            program: h
                .pid
                .and_then(program_name)
                .or_else(|| h.command.as_deref().and_then(program_of_command))
                .unwrap_or_default(),
            command: if self.options.command_line {
                h.command
            } else {
                None
            },
        });
        let mut warnings = [0; WARNING_KINDS.len()];
        for w in &diagnosis.warnings {
            warnings[warning_index(w.kind)] += 1;
        }
        let metrics = DirMetrics {
            state: state_index(state),
            held: state.is_held(),
            held_since: diagnosis.held_since.map(|h| h.time),
            holder,
            warnings,
        };
        // The monitor reports changes only, so each report of a failure is a new one.
        let failed = matches!(state, DirState::Error(_) | DirState::NotResponding);
        if failed && self.dirs.get(&dir) != Some(&metrics) {
            self.probe_errors += 1;
        }
        self.dirs.insert(dir, metrics);
    }

    /// Counts from now on what a recorder with `source` reports (acquisitions, hold durations;
    /// refused attempts only from the kernel's events, which alone show them).
    pub(crate) fn set_recorder(&mut self, source: Source) {
        self.recorder = Some(source);
    }

    /// How many lock events the kernel dropped so far.
    pub(crate) fn set_lost_events(&mut self, lost: u64) {
        self.lost_events = lost;
    }

    /// Counts what a recorder saw.
    pub(crate) fn count(&mut self, recorded: &Recorded) {
        let dir = |hold_dir: &std::path::Path| hold_dir.to_string_lossy().into_owned();
        match recorded {
            // A hold found at the start was taken before anyone counted.
            Recorded::Began(h) if h.start_seen => {
                self.recorded.entry(dir(&h.dir)).or_default().acquisitions += 1;
            }
            Recorded::Began(_) => {}
            Recorded::Ended(h) => {
                let (true, Some(end), Some(ended_by)) = (h.start_seen, h.end, h.ended_by) else {
                    return;
                };
                // Its end is not known when the recording stopped under it.
                if ended_by == EndedBy::RecordingStopped {
                    return;
                }
                let seconds = end.duration_since(h.start).as_secs_f64().max(0.0);
                let counts = self.recorded.entry(dir(&h.dir)).or_default();
                let bucket = HOLD_BUCKETS
                    .iter()
                    .position(|&bound| seconds <= bound)
                    .unwrap_or(HOLD_BUCKETS.len());
                counts.hold_buckets[bucket] += 1;
                counts.hold_seconds += seconds;
                counts.holds += 1;
            }
            Recorded::Refused(r) => {
                self.recorded.entry(dir(&r.dir)).or_default().refused += 1;
            }
        }
    }

    /// Records a monitor change.
    pub(crate) fn apply(&mut self, change: &Change) {
        self.set(
            change.dir.to_string_lossy().into_owned(),
            &change.new,
            &change.diagnosis,
        );
    }
}

/// The argument's last path component of a command line's first word (a fallback where the
/// platform gives no executable name).
fn program_of_command(command: &str) -> Option<String> {
    let first = command.split(' ').next()?;
    let name = first.rsplit(['/', '\\']).next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// [`LockMetrics`] shared between the thread that updates them and the scrapes.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedMetrics(Arc<Mutex<LockMetrics>>);

impl SharedMetrics {
    pub(crate) fn new(metrics: LockMetrics) -> SharedMetrics {
        SharedMetrics(Arc::new(Mutex::new(metrics)))
    }

    /// The metrics, to update. A panic while they were locked leaves them as they were (each
    /// update replaces one directory's entry whole), so a poisoned lock is still usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, LockMetrics> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A registry whose every encoding is a fresh rendering of these metrics.
    pub(crate) fn registry(&self) -> Registry {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self.clone()));
        registry
    }
}

/// The exposition: `Content-Type` and the text.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The metrics in the Prometheus text format (0.0.4), as of now.
pub(crate) fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail; an encoder error would be a bug in a label set.
    if prometheus_client::encoding::prometheus_text::encode(&mut text, registry).is_err() {
        text.clear();
    }
    text
}

const HELD_HELP: &str = "Whether the directory's certbot lock is held (1) or not (0).";
const STATE_HELP: &str = "The lock's state: 1 for the current one of absent, free (a lock file \
                          nobody holds), held, missing (no directory), not-responding, error.";
const HELD_SECONDS_HELP: &str = "How long the lock has been held, at the time of the scrape \
                                 (0 when not held; no series when held since an unknown time). \
                                 Unless lockscope saw the lock taken, at most: counted from the \
                                 later of the lock file's birth and the holder's start, longer \
                                 than the truth when a leftover lock file was taken.";
const HOLDER_HELP: &str = "The process holding the lock: its pid and executable name (1 per \
                           holder).";
const WARNINGS_HELP: &str = "Hazards the state alone does not show, by kind (orphaned-lock, \
                             flock, network-filesystem, holder-not-visible, \
                             holder-not-permitted).";
const RECORDER_HELP: &str = "Where serve's counts of acquisitions, refused attempts and hold \
                             durations come from: kernel (the kernel's lock events: every one) \
                             or monitor (its looks: short holds missed, refused attempts not \
                             seen, so lockscope_lock_refused_total is absent).";
const LOST_HELP: &str = "Lock events the kernel dropped because serve's recorder fell behind (a \
                         burst of locking on the watched filesystems): the counts below can \
                         miss some then.";
const ACQUISITIONS_HELP: &str = "Times the lock was taken since serve started (seen taken; a \
                                 hold found at the start is not counted).";
const REFUSED_HELP: &str = "Attempts to take the lock refused because another process held it, \
                            since serve started (from the kernel's lock events; absent without \
                            them).";
const HOLD_DURATION_HELP: &str = "How long each hold lasted, from taken to let go, for holds \
                                  seen from start to end since serve started.";
const PROBE_ERRORS_HELP: &str = "Times a directory's probe failed (it turned to error or \
                                 not-responding).";

impl Collector for SharedMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = jiff::Timestamp::now();
        let metrics = self.lock();
        let dirs = &metrics.dirs;
        {
            let mut family = encoder.encode_descriptor(
                "lockscope_lock_held",
                HELD_HELP,
                None,
                MetricType::Gauge,
            )?;
            for (dir, m) in dirs {
                let labels = [("dir", dir.as_str())];
                family
                    .encode_family(&labels)?
                    .encode_gauge(&i64::from(m.held))?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "lockscope_lock_state",
                STATE_HELP,
                None,
                MetricType::Gauge,
            )?;
            for (dir, m) in dirs {
                for (i, state) in STATES.iter().enumerate() {
                    let labels = [("dir", dir.as_str()), ("state", state)];
                    family
                        .encode_family(&labels)?
                        .encode_gauge(&i64::from(m.state == i))?;
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "lockscope_lock_held_seconds",
                HELD_SECONDS_HELP,
                None,
                MetricType::Gauge,
            )?;
            for (dir, m) in dirs {
                let seconds = match (m.held, m.held_since) {
                    (false, _) => 0.0,
                    // A clock set back makes the span negative: not held for less than 0 s.
                    (true, Some(since)) => now.duration_since(since).as_secs_f64().max(0.0),
                    (true, None) => continue,
                };
                let labels = [("dir", dir.as_str())];
                family.encode_family(&labels)?.encode_gauge(&seconds)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "lockscope_lock_holder_info",
                HOLDER_HELP,
                None,
                MetricType::Gauge,
            )?;
            for (dir, m) in dirs {
                let Some(h) = &m.holder else { continue };
                let mut labels = vec![
                    ("dir", dir.as_str()),
                    ("pid", h.pid.as_str()),
                    ("program", h.program.as_str()),
                ];
                if let Some(command) = &h.command {
                    labels.push(("command", command.as_str()));
                }
                family.encode_family(&labels)?.encode_gauge(&1i64)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "lockscope_lock_warnings",
                WARNINGS_HELP,
                None,
                MetricType::Gauge,
            )?;
            for (dir, m) in dirs {
                for (i, kind) in WARNING_KINDS.iter().enumerate() {
                    let labels = [("dir", dir.as_str()), ("kind", kind.name())];
                    family
                        .encode_family(&labels)?
                        .encode_gauge(&i64::from(m.warnings[i]))?;
                }
            }
        }
        if let Some(source) = metrics.recorder {
            encode_recorded(&mut encoder, &metrics, source)?;
        }
        let errors = ConstCounter::new(metrics.probe_errors);
        errors.encode(encoder.encode_descriptor(
            "lockscope_probe_errors",
            PROBE_ERRORS_HELP,
            None,
            errors.metric_type(),
        )?)?;
        Ok(())
    }
}

/// The recorder's families: its source, and per watched directory (0 until something is seen,
/// so a rate works from the first scrape) acquisitions, refused attempts (kernel source only)
/// and the hold-duration histogram.
fn encode_recorded(
    encoder: &mut DescriptorEncoder,
    metrics: &LockMetrics,
    source: Source,
) -> Result<(), std::fmt::Error> {
    let none = RecordedCounts::default();
    let counts = |dir: &str| metrics.recorded.get(dir).unwrap_or(&none);
    {
        let mut family = encoder.encode_descriptor(
            "lockscope_recorder_source",
            RECORDER_HELP,
            None,
            MetricType::Gauge,
        )?;
        for candidate in [Source::Kernel, Source::Monitor] {
            let labels = [("source", candidate.name())];
            family
                .encode_family(&labels)?
                .encode_gauge(&i64::from(candidate == source))?;
        }
    }
    if source == Source::Kernel {
        let lost = ConstCounter::new(metrics.lost_events);
        lost.encode(encoder.encode_descriptor(
            "lockscope_recorder_lost_events",
            LOST_HELP,
            None,
            lost.metric_type(),
        )?)?;
    }
    per_dir_counter(
        encoder,
        metrics,
        "lockscope_lock_acquisitions",
        ACQUISITIONS_HELP,
        |dir| counts(dir).acquisitions,
    )?;
    if source == Source::Kernel {
        per_dir_counter(
            encoder,
            metrics,
            "lockscope_lock_refused",
            REFUSED_HELP,
            |dir| counts(dir).refused,
        )?;
    }
    {
        let mut family = encoder.encode_descriptor(
            "lockscope_lock_hold_duration_seconds",
            HOLD_DURATION_HELP,
            None,
            MetricType::Histogram,
        )?;
        for dir in metrics.dirs.keys() {
            let c = counts(dir);
            let buckets: Vec<(f64, u64)> = HOLD_BUCKETS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(c.hold_buckets)
                .collect();
            let labels = [("dir", dir.as_str())];
            family
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(c.hold_seconds, c.holds, &buckets, None)?;
        }
    }
    Ok(())
}

/// A counter family with one series per watched directory.
fn per_dir_counter(
    encoder: &mut DescriptorEncoder,
    metrics: &LockMetrics,
    name: &str,
    help: &str,
    value: impl Fn(&str) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for dir in metrics.dirs.keys() {
        let labels = [("dir", dir.as_str())];
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, u64, u64>(&value(dir), None)?;
    }
    Ok(())
}
