//! `lockscope record`: the flight recorder. Follows the kernel's lock events (else the
//! monitor's changes) of some directories and keeps every hold and refused attempt in the
//! history file (`lockscope::history`), until SIGINT/SIGTERM; retention by age and size at the
//! start and hourly.

use crate::args::RecordArgs;
use crate::output::{Failure, Outcome, exit, on_stop, report};
use lockscope::history::{KernelRecorder, MonitorRecorder, Recorded, Store};
use lockscope::monitor::{Monitor, MonitorOptions, Update};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often retention runs after the start.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

enum Event {
    Update(Update),
    Stop,
}

struct RecordOptions {
    store: PathBuf,
    dirs: Vec<PathBuf>,
    interval: Duration,
    lock_name: String,
    events_json: bool,
    retention: Retention,
}

/// What the history keeps: what ended within `keep`, and at most `max_bytes` of content.
struct Retention {
    keep: Duration,
    max_bytes: u64,
    next: Instant,
}

impl Retention {
    /// Removes what is past the limits (now, then once per [`RETENTION_EVERY`]); how many
    /// events went.
    fn apply(&mut self, store: &Store) -> Result<usize, Failure> {
        self.next = Instant::now() + RETENTION_EVERY;
        let cutoff = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::try_from(self.keep).unwrap_or_default())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let old = store.prune(cutoff).map_err(Failure::error)?;
        let over = store
            .prune_to_size(self.max_bytes)
            .map_err(Failure::error)?;
        Ok(old + over)
    }

    /// [`Retention::apply`] when it is due; a failure is said, and recording goes on.
    fn when_due(&mut self, store: &Store) {
        if Instant::now() < self.next {
            return;
        }
        match self.apply(store) {
            Ok(0) => {}
            Ok(n) => report(format!("{n} events past the retention limits removed")),
            Err(e) => {
                for message in e.messages {
                    report(format!("warning: retention: {message}"));
                }
            }
        }
    }
}

pub(crate) fn run(args: RecordArgs) -> Outcome {
    let dirs = match (args.watchlist, args.all) {
        (Some(name), _) => watchlist_dirs(&name, args.config_dir.as_deref())?,
        (None, true) => everything_found(&args.lock_name),
        (None, false) => args.dirs,
    };
    let mut refused = Vec::new();
    for dir in &dirs {
        match lockscope::remote::parse_operand(dir.as_os_str()) {
            Ok(lockscope::remote::Operand::Local(_)) => {}
            Ok(_) => {
                return Err(Failure::error(
                    "record watches local directories only (no HOST:DIR)",
                ));
            }
            Err(e) => refused.push(e.to_string()),
        }
    }
    if !refused.is_empty() {
        return Err(Failure {
            code: exit::ERROR,
            messages: refused,
            hint: None,
        });
    }
    record(RecordOptions {
        store: args
            .store
            .unwrap_or_else(lockscope::history::default_store_path),
        dirs: dirs
            .iter()
            .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone()))
            .collect(),
        interval: args.interval,
        lock_name: args.lock_name,
        events_json: args.events_json,
        retention: Retention {
            keep: args.keep,
            max_bytes: args.max_size,
            next: Instant::now(),
        },
    })
}

/// `--all`: the certbot lock directories discovery finds now (as `status --all`), and certbot's
/// default directories whether they exist yet or not (certbot makes them at its first run).
fn everything_found(lock_name: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = lockscope::discover::discover(lock_name)
        .found
        .into_iter()
        .map(|f| f.dir)
        .collect();
    for dir in lockscope::watchlist::certbot_defaults() {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    report(format!(
        "--all: {} directories found now (directories that appear later are not added: start \
         again to look again)",
        dirs.len()
    ));
    dirs
}

/// A watch list's local directories (its remote ones are other hosts' to record).
fn watchlist_dirs(name: &str, config_dir: Option<&Path>) -> Result<Vec<PathBuf>, Failure> {
    let (list, _) = crate::watchlists::load_watchlist(name, config_dir).map_err(Failure::error)?;
    let (remote, local): (Vec<_>, Vec<_>) = list
        .dirs
        .into_iter()
        .partition(|d| lockscope::watchlist::is_remote(d));
    if !remote.is_empty() {
        report(format!(
            "warning: skipping {} remote entries of the watch list {:?}: record keeps this \
             machine's history; run `lockscope record` on each host",
            remote.len(),
            list.name
        ));
    }
    if local.is_empty() {
        return Err(Failure::error(format!(
            "the watch list {:?} has no local directories",
            list.name
        )));
    }
    Ok(local)
}

fn record(mut options: RecordOptions) -> Outcome {
    let store = Store::open(&options.store).map_err(Failure::error)?;
    let pruned = options.retention.apply(&store)?;
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
            format!(" ({pruned} events past the retention limits removed)")
        } else {
            String::new()
        }
    );
    match KernelRecorder::start(&options.dirs, &options.lock_name) {
        Ok(recorder) => {
            report(format!(
                "recording {what} from the kernel's lock events (source \"kernel\"): every hold \
                 and every refused attempt"
            ));
            record_kernel(recorder, store, &stop, options)
        }
        Err(why) => {
            report(format!(
                "recording {what} from the monitor's changes (source \"monitor\"): holds as \
                 often as it looks; refused attempts are NOT visible this way. The kernel's lock \
                 events are not available: {why}"
            ));
            record_monitor(store, options, events_tx, events)
        }
    }
}

/// Keeps (and with --events-json prints) what a recorder saw.
fn keep(store: &mut Store, recorded: &[Recorded], events_json: bool) -> Result<(), Failure> {
    store.record_all(recorded).map_err(Failure::error)?;
    if events_json {
        print_events(recorded);
    }
    Ok(())
}

fn record_kernel(
    mut recorder: KernelRecorder,
    mut store: Store,
    stop: &AtomicBool,
    mut options: RecordOptions,
) -> Outcome {
    let events_json = options.events_json;
    let mut failure = None;
    let mut lost_told = 0;
    while !stop.load(Ordering::SeqCst) {
        let kept = match recorder.poll(Duration::from_millis(200)) {
            Ok(recorded) => keep(&mut store, &recorded, events_json),
            Err(e) => Err(Failure::error(format!(
                "reading the kernel's lock events: {e}"
            ))),
        };
        let lost = recorder.lost_events();
        if lost > lost_told {
            // Said, never hidden: the record has a gap here.
            report(format!(
                "warning: the kernel dropped {} lock events ({lost} since the start): this \
                 recorder fell behind a burst of locking on the watched filesystems, so holds \
                 and refused attempts around {} may be missing from the history",
                lost - lost_told,
                jiff::Timestamp::now()
            ));
            lost_told = lost;
        }
        if let Err(e) = kept {
            failure = Some(e);
            break;
        }
        options.retention.when_due(&store);
    }
    if let Err(e) = keep(&mut store, &recorder.stop(), events_json) {
        failure.get_or_insert(e);
    }
    failure.map_or(Ok(exit::OK), Err)
}

fn record_monitor(
    mut store: Store,
    mut options: RecordOptions,
    events_tx: mpsc::Sender<Event>,
    events: mpsc::Receiver<Event>,
) -> Outcome {
    let mut recorder = MonitorRecorder::new();
    let monitor = Monitor::start_with(
        MonitorOptions {
            interval: options.interval,
            lock_name: options.lock_name.clone(),
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
    loop {
        let event = match events.recv_timeout(Duration::from_secs(60)) {
            Ok(event) => event,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                options.retention.when_due(&store);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match event {
            Event::Stop => break,
            Event::Update(Update::Notice(text)) => report(text),
            Event::Update(Update::Change(change)) => {
                if let Err(e) = keep(&mut store, &recorder.apply(&change), options.events_json) {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    drop(monitor);
    if let Err(e) = keep(&mut store, &recorder.stop(), options.events_json) {
        failure.get_or_insert(e);
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
