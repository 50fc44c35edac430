//! `lockscope record`: the flight recorder. Watches directories with the monitor and keeps
//! every hold it sees in the history file (`lockscope::history`), until SIGINT/SIGTERM.

use crate::output::{Failure, Outcome, exit, on_stop, report};
use lockscope::history::{MonitorRecorder, Recorded, Store};
use lockscope::monitor::{Monitor, MonitorOptions, Update};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// What the history keeps by default: what ended earlier goes at each start.
const RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

enum Event {
    Update(Update),
    Stop,
}

pub(crate) struct RecordOptions {
    pub store: PathBuf,
    pub dirs: Vec<PathBuf>,
    pub interval: Duration,
    pub lock_name: String,
    pub events_json: bool,
}

pub(crate) fn run(options: RecordOptions) -> Outcome {
    let store = Store::open(&options.store).map_err(Failure::error)?;
    let cutoff = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::try_from(RETENTION).unwrap_or_default())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let pruned = store.prune(cutoff).map_err(Failure::error)?;
    let mut recorder = MonitorRecorder::new(store);
    let (events_tx, events) = mpsc::channel();
    let stop_tx = events_tx.clone();
    on_stop(move || {
        let _ = stop_tx.send(Event::Stop);
    })
    .map_err(|e| Failure::error(format!("{e:#}")))?;
    let monitor = Monitor::start_with(
        MonitorOptions {
            interval: options.interval,
            lock_name: options.lock_name,
        },
        move |update| {
            let _ = events_tx.send(Event::Update(update));
        },
    )
    .map_err(Failure::error)?;
    for dir in &options.dirs {
        monitor.add(dir.clone());
    }
    report(format!(
        "recording {} director{} into {}{}: holds as the monitor sees them (source \"monitor\"); \
         refused attempts are not visible this way (that needs the kernel's lock events, which \
         this lockscope does not trace yet)",
        options.dirs.len(),
        if options.dirs.len() == 1 { "y" } else { "ies" },
        options.store.display(),
        if pruned > 0 {
            format!(" ({pruned} events older than 90 days removed)")
        } else {
            String::new()
        }
    ));
    let mut failure = None;
    for event in events {
        match event {
            Event::Stop => break,
            Event::Update(Update::Notice(text)) => report(text),
            Event::Update(Update::Change(change)) => match recorder.apply(&change) {
                Ok(recorded) if options.events_json => {
                    for r in recorded {
                        if print_event(&r).is_err() {
                            // The reader went away: recording goes on, unprinted.
                            break;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    failure = Some(Failure::error(e));
                    break;
                }
            },
        }
    }
    drop(monitor);
    if let Err(e) = recorder.stop() {
        failure.get_or_insert(Failure::error(e));
    }
    failure.map_or(Ok(exit::OK), Err)
}

/// One JSON line per event (for journald and log shippers): a hold's beginning or end, with the
/// keys of `history --json`'s rows plus `event`.
fn print_event(recorded: &Recorded) -> std::io::Result<()> {
    let (event, hold) = match recorded {
        Recorded::Began(h) => ("hold-began", h),
        Recorded::Ended(h) => ("hold-ended", h),
    };
    let mut line = hold.to_json();
    line["event"] = json!(event);
    let mut out = crate::output::stdout();
    writeln!(out, "{line}")?;
    out.flush()
}
