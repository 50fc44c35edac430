//! `lockscope serve --metrics ADDR`: the monitor's live state on an HTTP `/metrics` endpoint
//! for Prometheus. The main thread applies the monitor's changes to the shared metrics; one
//! HTTP thread (http.rs: non-blocking, bounded, deadlines) answers scrapes by encoding them
//! (nothing is probed per scrape). A flight recorder (lockscope::history) counts acquisitions,
//! refused attempts and hold durations: the kernel's lock events on a thread of its own where
//! they can be traced (root on Linux), else the monitor's changes.

use crate::http::{Request, Response, Server};
use crate::metrics::{CONTENT_TYPE, LockMetrics, MetricsOptions, SharedMetrics, render};
use crate::output::{Failure, Outcome, exit, on_stop, report};
use crate::watchlists::load_watchlist;
use lockscope::history::{KernelRecorder, MonitorRecorder, Recorded, Source};
use lockscope::monitor::{Monitor, MonitorOptions, Update};
use lockscope::watchlist::is_remote;
use std::cell::RefCell;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// What `serve` was asked to do.
pub(crate) struct ServeOptions {
    /// Where to listen (already normalized by `--metrics`' parser in `args.rs`).
    pub listen: String,
    pub interval: Option<Duration>,
    pub lock_name: Option<String>,
    pub metrics: MetricsOptions,
    pub dirs: Vec<PathBuf>,
    pub watchlist: Option<String>,
    pub config_dir: Option<PathBuf>,
}

enum Event {
    Update(Update),
    Stop,
    /// The HTTP server cannot go on (its poll failed, or a bug).
    HttpFailed(std::io::Error),
    /// What the kernel's lock events showed, and how many the kernel dropped so far.
    Recorded(Vec<Recorded>, u64),
    /// The kernel's lock events can no longer be read.
    RecorderFailed(std::io::Error),
}

pub(crate) fn run(options: ServeOptions) -> Outcome {
    let (dirs, interval, lock_name) = match what_to_watch(&options) {
        Ok(w) => w,
        Err(message) => {
            return Err(Failure::error(message));
        }
    };
    let (events_tx, events) = mpsc::channel();
    let stop_tx = events_tx.clone();
    if let Err(e) = on_stop(move || {
        let _ = stop_tx.send(Event::Stop);
    }) {
        return Err(Failure::error(format!("{e:#}")));
    }
    // Bound before the monitor starts: an address in use is a quick, clear error.
    let server = match Server::bind(&options.listen) {
        Ok(server) => server,
        Err(e) => {
            return Err(Failure::error(format!(
                "cannot listen on {}: {e}",
                options.listen
            )));
        }
    };
    let url = format!("http://{}/metrics", server.local_addr());
    let stopper = server.stopper();
    if let Some(warning) = exposure_warning(server.local_addr(), options.metrics.command_line) {
        report(warning);
    }
    // The one line on stdout: where to scrape (the port chosen, for `--metrics 127.0.0.1:0`).
    let announced = {
        let mut out = crate::output::stdout();
        writeln!(out, "serving {url}").and_then(|()| out.flush())
    };
    if let Err(e) = announced {
        // A closed stdout is no reason not to serve: Prometheus is the reader that matters.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            report(format!("cannot write to stdout: {e}"));
        }
    }
    let metrics = SharedMetrics::new(LockMetrics::new(options.metrics));
    let updates_tx = events_tx.clone();
    // The recorder's thread starts first: a hold taken while the monitor makes its first looks
    // is counted.
    let recording = Arc::new(AtomicBool::new(true));
    let kernel = start_kernel_recorder(&dirs, &lock_name, events_tx.clone(), recording.clone());
    let mut monitor_recorder = kernel.is_none().then(MonitorRecorder::new);
    metrics.lock().set_recorder(if kernel.is_some() {
        Source::Kernel
    } else {
        Source::Monitor
    });
    let monitor = Monitor::start_with(
        MonitorOptions {
            interval,
            lock_name,
        },
        move |update| {
            let _ = updates_tx.send(Event::Update(update));
        },
    )
    .map_err(Failure::error)?;
    for dir in dirs {
        monitor.add(dir);
    }
    // Bumped after each change to the metrics: a shared encoding is of an older state.
    let generation = Arc::new(AtomicU64::new(0));
    let http = {
        let metrics = metrics.clone();
        let generation = generation.clone();
        let failed_tx = events_tx;
        std::thread::Builder::new()
            .name("lockscope-http".into())
            .spawn(move || {
                let registry = metrics.registry();
                let shared = RefCell::new(None);
                let handler = |request: &Request| {
                    answer(request, || encoding(&registry, &generation, &shared))
                };
                // A panic (its message is on stderr) must not leave serve running unscraped.
                let run = std::panic::catch_unwind(AssertUnwindSafe(|| server.run(&handler)));
                let failed = match run {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => e,
                    Err(_) => std::io::Error::other("its thread panicked"),
                };
                let _ = failed_tx.send(Event::HttpFailed(failed));
            })
    };
    let http = match http {
        Ok(h) => h,
        Err(e) => {
            return Err(Failure::error(format!("cannot start the HTTP thread: {e}")));
        }
    };
    let mut failure = None;
    for event in events {
        match event {
            Event::Stop => break,
            Event::HttpFailed(e) => {
                failure = Some(Failure::error(format!("the HTTP server stopped: {e}")));
                break;
            }
            Event::Update(Update::Notice(text)) => report(text),
            Event::Update(Update::Change(change)) => {
                let mut metrics = metrics.lock();
                metrics.apply(&change);
                if let Some(recorder) = &mut monitor_recorder {
                    for recorded in recorder.apply(&change) {
                        metrics.count(&recorded);
                    }
                }
                generation.fetch_add(1, Ordering::SeqCst);
            }
            Event::Recorded(recorded, lost) => {
                let mut metrics = metrics.lock();
                for r in &recorded {
                    metrics.count(r);
                }
                metrics.set_lost_events(lost);
                generation.fetch_add(1, Ordering::SeqCst);
            }
            Event::RecorderFailed(e) => {
                // Counting goes on from the monitor's changes, at their precision.
                report(format!(
                    "the kernel's lock events can no longer be read ({e}): counting holds from \
                     the monitor's changes from now on; refused attempts are no longer seen"
                ));
                metrics.lock().set_recorder(Source::Monitor);
                monitor_recorder = Some(MonitorRecorder::new());
            }
        }
    }
    stopper.stop();
    let _ = http.join();
    recording.store(false, Ordering::SeqCst);
    if let Some(kernel) = kernel {
        let _ = kernel.join();
    }
    drop(monitor);
    failure.map_or(Ok(exit::OK), Err)
}

/// Starts counting the kernel's lock events of `dirs` on a thread of its own (until `recording`
/// turns false), if they can be traced here; says on stderr which source counts.
fn start_kernel_recorder(
    dirs: &[PathBuf],
    lock_name: &str,
    events: mpsc::Sender<Event>,
    recording: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let mut recorder = match KernelRecorder::start(dirs, lock_name) {
        Ok(recorder) => recorder,
        Err(why) => {
            report(format!(
                "counting acquisitions and hold durations from the monitor's changes (short \
                 holds can be missed; refused attempts are not seen): the kernel's lock events \
                 are not available: {why}"
            ));
            return None;
        }
    };
    let thread = std::thread::Builder::new()
        .name("lockscope-recorder".into())
        .spawn(move || {
            let mut lost_sent = 0;
            while recording.load(Ordering::SeqCst) {
                match recorder.poll(Duration::from_millis(200)) {
                    Ok(recorded) if recorded.is_empty() && recorder.lost_events() == lost_sent => {}
                    Ok(recorded) => {
                        lost_sent = recorder.lost_events();
                        if events.send(Event::Recorded(recorded, lost_sent)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = events.send(Event::RecorderFailed(e));
                        return;
                    }
                }
            }
        });
    match thread {
        Ok(thread) => {
            report(
                "counting acquisitions, refused attempts and hold durations from the kernel's \
                 lock events",
            );
            Some(thread)
        }
        Err(e) => {
            report(format!(
                "cannot start the recorder's thread ({e}): counting from the monitor's changes"
            ));
            None
        }
    }
}

/// The directories, the pass's period and the lock name: from the operands and flags, or from
/// a watch list (its settings unless the flags say otherwise). A list's `HOST:DIR` entries (the
/// app's remote rows) are skipped with one warning: the metrics are this machine's, and an
/// entry that is never probed must not be exported as a local lock that is "not held".
fn what_to_watch(options: &ServeOptions) -> Result<(Vec<PathBuf>, Duration, String), String> {
    let defaults = lockscope::watchlist::Settings::default();
    let Some(name) = &options.watchlist else {
        return Ok((
            options.dirs.clone(),
            options.interval.unwrap_or(defaults.interval),
            options.lock_name.clone().unwrap_or(defaults.lock_name),
        ));
    };
    let (list, settings) = load_watchlist(name, options.config_dir.as_deref())?;
    if list.dirs.is_empty() {
        return Err(format!("the watch list {:?} has no directories", list.name));
    }
    let (remote, local): (Vec<PathBuf>, Vec<PathBuf>) =
        list.dirs.into_iter().partition(|d| is_remote(d));
    // Raw here: `report` and the caller's report escape the whole message.
    let remote_names = || {
        remote
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if local.is_empty() {
        return Err(format!(
            "the watch list {:?} has no local directories, only remote ones ({}): serve \
             exports this machine's locks; run `lockscope serve` on each host instead",
            list.name,
            remote_names()
        ));
    }
    if !remote.is_empty() {
        report(format!(
            "warning: skipping {} remote entr{} of the watch list {:?} ({}): serve exports \
             local directories only; run `lockscope serve` on each host for those",
            remote.len(),
            if remote.len() == 1 { "y" } else { "ies" },
            list.name,
            remote_names()
        ));
    }
    Ok((
        local,
        options.interval.unwrap_or(settings.interval),
        options.lock_name.clone().unwrap_or(settings.lock_name),
    ))
}

/// What a listener beyond loopback shows to whoever can reach it, said once on stderr: the
/// metrics carry directory names and holders' program names (command lines with
/// `--metrics-command-line`), which the machine's users may not want on the network.
fn exposure_warning(addr: std::net::SocketAddr, command_lines: bool) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    let reach = if addr.ip().is_unspecified() {
        "every network this machine is on"
    } else {
        "the network"
    };
    let what = if command_lines {
        "holders' whole command lines (--metrics-command-line: they can carry secrets)"
    } else {
        "holders' program names"
    };
    Some(format!(
        "warning: listening on {addr}, open to {reach}: anyone who can connect reads the watched \
         directories' names and their {what}; listen on 127.0.0.1 (the default for a bare PORT) \
         or let a firewall allow only Prometheus"
    ))
}

/// How long one encoding of the metrics answers further scrapes, unless they change: a flood of
/// scrapes costs copies, not encodings (`held_seconds` may be this much behind).
const SHARED_FOR: Duration = Duration::from_millis(100);

/// An encoding of the metrics and what it is of.
struct Encoding {
    at: Instant,
    generation: u64,
    text: Arc<str>,
}

/// The metrics' text for a scrape now: the last encoding while it is recent and no change
/// came since, else a new one.
fn encoding(
    registry: &prometheus_client::registry::Registry,
    generation: &AtomicU64,
    shared: &RefCell<Option<Encoding>>,
) -> Arc<str> {
    let now = Instant::now();
    // Read before encoding: a change applied meanwhile bumps it, so the next scrape re-encodes.
    let current = generation.load(Ordering::SeqCst);
    let mut shared = shared.borrow_mut();
    if let Some(last) = shared.as_ref()
        && last.generation == current
        && now.duration_since(last.at) < SHARED_FOR
    {
        return last.text.clone();
    }
    let text: Arc<str> = render(registry).into();
    *shared = Some(Encoding {
        at: now,
        generation: current,
        text: text.clone(),
    });
    text
}

/// The answer to a request: `GET /metrics` (and `HEAD`) with the metrics, `/` with a pointer
/// to them, any other path 404, any other method 405.
pub(crate) fn answer(request: &Request, metrics: impl FnOnce() -> Arc<str>) -> Response {
    let path = request.target.split('?').next().unwrap_or("");
    match (matches!(request.method, "GET" | "HEAD"), path) {
        (true, "/metrics") => Response::new(200, CONTENT_TYPE, metrics()),
        (true, "/") => Response::text(200, "lockscope: the metrics are at /metrics\n"),
        (true, _) => Response::text(404, "not found\n"),
        (false, _) => Response {
            allow_get_head: true,
            ..Response::text(405, "only GET and HEAD\n")
        },
    }
}
