//! `lockscope record`: the flight recorder. Watches directories with the monitor and keeps
//! every hold it sees in the history file (`lockscope::history`), until SIGINT/SIGTERM.

use crate::output::{Failure, Outcome, exit, on_stop, report};
use lockscope::history::{KernelRecorder, MonitorRecorder, Recorded, Store};
use lockscope::monitor::{Monitor, MonitorOptions, Update};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    let stop = Arc::new(AtomicBool::new(false));
    let (events_tx, events) = mpsc::channel();
    let stop_tx = events_tx.clone();
    let stopped = stop.clone();
    on_stop(move || {
        stopped.store(true, Ordering::SeqCst);
        let _ = stop_tx.send(Event::Stop);
    })
    .map_err(|e| Failure::error(format!("{e:#}")))?;
    let what = format!(
        "{} director{} into {}{}",
        options.dirs.len(),
        if options.dirs.len() == 1 { "y" } else { "ies" },
        options.store.display(),
        if pruned > 0 {
            format!(" ({pruned} events older than 90 days removed)")
        } else {
            String::new()
        }
    );
    match KernelRecorder::start(store, &options.dirs, &options.lock_name) {
        Ok(recorder) => {
            report(format!(
                "recording {what} from the kernel's lock events (source \"kernel\"): every hold \
                 and every refused attempt"
            ));
            record_kernel(recorder, &stop, options.events_json)
        }
        Err(refused) => {
            let (store, why) = *refused;
            report(format!(
                "recording {what} from the monitor's changes (source \"monitor\"): holds as \
                 often as it looks; refused attempts are NOT visible this way. The kernel's lock \
                 events are not available: {why}"
            ));
            record_monitor(store, options, events_tx, events)
        }
    }
}

fn record_kernel(mut recorder: KernelRecorder, stop: &AtomicBool, events_json: bool) -> Outcome {
    let mut failure = None;
    while !stop.load(Ordering::SeqCst) {
        match recorder.poll(Duration::from_millis(200)) {
            Ok(recorded) if events_json => print_events(&recorded),
            Ok(_) => {}
            Err(e) => {
                failure = Some(Failure::error(e));
                break;
            }
        }
    }
    if let Err(e) = recorder.stop() {
        failure.get_or_insert(Failure::error(e));
    }
    failure.map_or(Ok(exit::OK), Err)
}

fn record_monitor(
    store: Store,
    options: RecordOptions,
    events_tx: mpsc::Sender<Event>,
    events: mpsc::Receiver<Event>,
) -> Outcome {
    let mut recorder = MonitorRecorder::new(store);
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
    let mut failure = None;
    for event in events {
        match event {
            Event::Stop => break,
            Event::Update(Update::Notice(text)) => report(text),
            Event::Update(Update::Change(change)) => match recorder.apply(&change) {
                Ok(recorded) if options.events_json => print_events(&recorded),
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

/// Each event as one JSON line; a reader that went away is not an error (recording goes on).
fn print_events(recorded: &[Recorded]) {
    for r in recorded {
        if print_event(r).is_err() {
            break;
        }
    }
}

/// One JSON line per event (for journald and log shippers): a hold's beginning or end, with the
/// keys of `history --json`'s rows plus `event`.
fn print_event(recorded: &Recorded) -> std::io::Result<()> {
    let (event, mut line) = match recorded {
        Recorded::Began(h) => ("hold-began", h.to_json()),
        Recorded::Ended(h) => ("hold-ended", h.to_json()),
        Recorded::Refused(r) => ("refused", r.to_json()),
    };
    line["event"] = json!(event);
    let mut out = crate::output::stdout();
    writeln!(out, "{line}")?;
    out.flush()
}
