//! `lockscope serve --metrics ADDR`: the monitor's live state on an HTTP `/metrics` endpoint
//! for Prometheus. The main thread applies the monitor's changes to the shared metrics; one
//! HTTP thread answers scrapes by encoding them (nothing is probed per scrape).

use crate::metrics::{CONTENT_TYPE, LockMetrics, MetricsOptions, SharedMetrics, render};
use crate::output::{exit, on_stop, report};
use lockscope::monitor::{Monitor, MonitorOptions, Update};
use lockscope::watchlist::{
    CERTBOT_PRESET_NAME, Store, WatchList, default_config_dir, import, is_remote,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use tiny_http::{Header, Method, Response, Server};

/// What `serve` was asked to do.
pub(crate) struct ServeOptions {
    /// Where to listen (already normalized by `--metrics`' parser in `cli/args.rs`).
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
}

pub(crate) fn run(options: ServeOptions) -> u8 {
    let (dirs, interval, lock_name) = match what_to_watch(&options) {
        Ok(w) => w,
        Err(message) => {
            report(message);
            return exit::ERROR;
        }
    };
    let (events_tx, events) = mpsc::channel();
    let stop_tx = events_tx.clone();
    if let Err(e) = on_stop(move || {
        let _ = stop_tx.send(Event::Stop);
    }) {
        report(format!("{e:#}"));
        return exit::ERROR;
    }
    // Bound before the monitor starts: an address in use is a quick, clear error.
    let server = match Server::http(&options.listen) {
        Ok(server) => Arc::new(server),
        Err(e) => {
            report(format!("cannot listen on {}: {e}", options.listen));
            return exit::ERROR;
        }
    };
    let url = match server.server_addr().to_ip() {
        Some(addr) => format!("http://{addr}/metrics"),
        None => format!("http://{}/metrics", options.listen),
    };
    if let Some(warning) = server
        .server_addr()
        .to_ip()
        .and_then(|addr| exposure_warning(addr, options.metrics.command_line))
    {
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
    let updates_tx = events_tx;
    let monitor = match Monitor::start_with(
        MonitorOptions {
            interval,
            lock_name,
        },
        move |update| {
            let _ = updates_tx.send(Event::Update(update));
        },
    ) {
        Ok(m) => m,
        Err(e) => {
            report(e);
            return exit::ERROR;
        }
    };
    for dir in dirs {
        monitor.add(dir);
    }
    let http = {
        let server = server.clone();
        let metrics = metrics.clone();
        std::thread::Builder::new()
            .name("lockscope-http".into())
            .spawn(move || answer_scrapes(&server, &metrics))
    };
    let http = match http {
        Ok(h) => h,
        Err(e) => {
            report(format!("cannot start the HTTP thread: {e}"));
            return exit::ERROR;
        }
    };
    for event in events {
        match event {
            Event::Stop => break,
            Event::Update(Update::Notice(text)) => report(text),
            Event::Update(Update::Change(change)) => metrics.lock().apply(&change),
        }
    }
    server.unblock();
    let _ = http.join();
    drop(monitor);
    exit::OK
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

/// `--watchlist NAME|FILE` as the app's: an existing file is read as an exported list; anything
/// else names a saved list (`certbot`: the preset, unless a saved list has that name).
fn load_watchlist(
    name: &str,
    config_dir: Option<&Path>,
) -> Result<(WatchList, lockscope::watchlist::Settings), String> {
    if Path::new(name).is_file() {
        let list = import(Path::new(name)).map_err(|e| e.to_string())?;
        return Ok((list, Default::default()));
    }
    let dir = config_dir
        .map(Path::to_path_buf)
        .or_else(default_config_dir)
        .ok_or("no config directory (no home directory); use --config-dir")?;
    let loaded = match Store::new(dir.clone()).load() {
        Ok(loaded) => loaded,
        // The preset needs no file: a saved state that cannot be read (or, corrupt, cannot be
        // set aside: a read-only config dir) is reported, left alone, and the preset served.
        Err(e) if name == CERTBOT_PRESET_NAME => {
            report(format!(
                "warning: {e}; serving the built-in {CERTBOT_PRESET_NAME:?} watch list"
            ));
            return Ok((WatchList::certbot_preset(), Default::default()));
        }
        Err(e) => return Err(e.to_string()),
    };
    for warning in &loaded.warnings {
        report(format!("warning: {warning}"));
    }
    let settings = loaded.state.settings().clone();
    match loaded.state.get(name) {
        Some(list) => Ok((list.clone(), settings)),
        None if name == CERTBOT_PRESET_NAME => Ok((WatchList::certbot_preset(), settings)),
        None => {
            let names: Vec<&str> = loaded
                .state
                .lists()
                .iter()
                .map(|l| l.name.as_str())
                .collect();
            Err(format!(
                "no watch list named {name:?} in {} (saved lists: {})",
                dir.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        }
    }
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
        "warning: listening on {addr}, open to {reach}: anyone who can connect reads the watched          directories' names and their {what}; listen on 127.0.0.1 (the default for a bare PORT)          or let a firewall allow only Prometheus"
    ))
}

/// Answers requests until the server is unblocked: `GET /metrics` (and `HEAD`) with the
/// metrics, `/` with a pointer to them, anything else 404 or 405.
fn answer_scrapes(server: &Server, metrics: &SharedMetrics) {
    let registry = metrics.registry();
    // `from_bytes` refuses only non-ASCII, and these are ASCII constants.
    let (Ok(content_type), Ok(plain_text), Ok(allow)) = (
        Header::from_bytes("Content-Type", CONTENT_TYPE),
        Header::from_bytes("Content-Type", "text/plain; charset=utf-8"),
        Header::from_bytes("Allow", "GET, HEAD"),
    ) else {
        report("cannot make the HTTP headers");
        return;
    };
    for request in server.incoming_requests() {
        let is_get = matches!(request.method(), Method::Get | Method::Head);
        let path = request.url().split('?').next().unwrap_or("");
        // A client that went away mid-answer is its own problem: nothing to report.
        let _ = match (is_get, path) {
            (true, "/metrics") => request.respond(
                Response::from_string(render(&registry))
                    .with_header(content_type.clone())
                    // Whole, with its Content-Length: tiny_http would chunk a body over 32 KiB.
                    .with_chunked_threshold(usize::MAX),
            ),
            (true, "/") => request.respond(
                Response::from_string("lockscope: the metrics are at /metrics\n")
                    .with_header(plain_text.clone()),
            ),
            (true, _) => {
                request.respond(Response::from_string("not found\n").with_status_code(404))
            }
            (false, _) => request.respond(
                Response::from_string("only GET and HEAD\n")
                    .with_status_code(405)
                    .with_header(allow.clone()),
            ),
        };
    }
}
