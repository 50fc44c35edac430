//! Watching one host's directories through one ssh connection: one remote `lockscope watch
//! --json DIR...`, its rows passed on, its loss reported with the reason, every row of the
//! host turned `unknown` (never left at a stale held or free), and reconnects with backoff.
//! Each row is matched to a directory asked by the name it gives (`record::answers`), and
//! passed on under that directory's spelling; a row for a directory not asked is dropped (one
//! notice per watch), a directory the remote never reports is made `unknown` after
//! [`FIRST_REPORT_DEADLINE`].

use super::error::ConnectionError;
use super::operand::Host;
use super::record::{LINE_LIMIT, RemoteRow, answers, ignored_notice, parse_watch_line};
use super::ssh::{Ssh, read_line_bounded};
use std::collections::BTreeSet;
use std::io::BufReader;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The first reconnect waits this long; each failure doubles it up to [`MAX_BACKOFF`]; a
/// connection that delivered a row starts over.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between reconnects.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long after a connection's first row every directory watched must have had its own: the
/// remote lockscope reports each at once (cause `initial`; a filesystem that does not answer
/// within 2 s is reported as not responding). One still not reported is made `unknown`,
/// saying so, until its row comes.
pub const FIRST_REPORT_DEADLINE: Duration = Duration::from_secs(5);

/// A host's connection state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// ssh is starting (first time or again).
    Connecting,
    /// The remote watch answered.
    Connected,
    /// It ended or never answered; `retry_in`: when it is tried again.
    Lost {
        /// Why.
        reason: ConnectionError,
        /// The wait before the next attempt.
        retry_in: Duration,
    },
}

impl ConnectionState {
    /// `connecting`, `connected`, `lost`.
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Lost { .. } => "lost",
        }
    }
}

/// What a remote watch reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteEvent {
    /// The connection changed state.
    Connection {
        /// Which host.
        host: Host,
        /// Its new state.
        state: ConnectionState,
    },
    /// A directory's row: from the remote (its `time` and `cause` in `other`), or `unknown`
    /// after a loss (`other` empty).
    Row(RemoteRow),
    /// A message the remote lockscope printed on stderr (hostile text), without its prefix.
    Notice {
        /// Which host.
        host: Host,
        /// The message.
        text: String,
    },
}

/// The remote watch's options (passed on as `--interval` and `--lock-name`).
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The remote's periodic pass.
    pub interval: Duration,
    /// The lock file's name.
    pub lock_name: String,
}

#[derive(Default)]
struct Shared {
    stopped: bool,
    child: Option<Child>,
}

/// A running watch of one host. Dropping it stops the watch: ssh is killed, no event follows
/// (the thread is not joined, so that a stuck ssh can never block the caller).
pub struct RemoteWatch {
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

impl RemoteWatch {
    /// Starts watching `dirs` on `host`; `sink` gets every event, on the watch's own thread.
    pub fn start(
        ssh: Ssh,
        host: Host,
        dirs: Vec<String>,
        options: WatchOptions,
        sink: impl FnMut(RemoteEvent) + Send + 'static,
    ) -> RemoteWatch {
        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("watch {host}"))
            .spawn(move || run(&ssh, &host, &dirs, &options, &thread_shared, sink))
            .ok();
        RemoteWatch { shared }
    }
}

impl Drop for RemoteWatch {
    fn drop(&mut self) {
        let (lock, wake) = &*self.shared;
        if let Ok(mut shared) = lock.lock() {
            shared.stopped = true;
            if let Some(child) = shared.child.as_mut() {
                let _ = child.kill();
            }
        }
        wake.notify_all();
    }
}

fn stopped(shared: &(Mutex<Shared>, Condvar)) -> bool {
    shared.0.lock().map_or(true, |s| s.stopped)
}

fn run(
    ssh: &Ssh,
    host: &Host,
    dirs: &[String],
    options: &WatchOptions,
    shared: &(Mutex<Shared>, Condvar),
    mut sink: impl FnMut(RemoteEvent),
) {
    let mut args: Vec<String> = vec![
        "watch".into(),
        "--json".into(),
        "--interval".into(),
        format!("{}ms", options.interval.as_millis().max(1)),
        "--lock-name".into(),
        options.lock_name.clone(),
        "--".into(),
    ];
    args.extend(dirs.iter().cloned());
    // Each spelling once: a row is passed on once per spelling it answers.
    let mut spellings = BTreeSet::new();
    let dirs: Vec<String> = dirs
        .iter()
        .filter(|d| spellings.insert(d.as_str()))
        .cloned()
        .collect();
    let mut ignored_told = false;
    let mut backoff = FIRST_BACKOFF;
    // The reason the rows were last made unknown: a retry failing the same way says it once.
    let mut rows_unknown_for: Option<&'static str> = None;
    loop {
        if stopped(shared) {
            return;
        }
        let connection = |state| RemoteEvent::Connection {
            host: host.clone(),
            state,
        };
        sink(connection(ConnectionState::Connecting));
        let asked = Asked {
            dirs: &dirs,
            lock_name: &options.lock_name,
        };
        let (reason, answered) = attempt(
            ssh,
            host,
            &args,
            &asked,
            &mut ignored_told,
            shared,
            &mut sink,
        );
        if stopped(shared) {
            return;
        }
        if answered {
            backoff = FIRST_BACKOFF;
            rows_unknown_for = None;
        }
        sink(connection(ConnectionState::Lost {
            reason: reason.clone(),
            retry_in: backoff,
        }));
        if rows_unknown_for != Some(reason.kind()) {
            rows_unknown_for = Some(reason.kind());
            let words = if answered {
                "connection lost"
            } else {
                "not connected"
            };
            for dir in &dirs {
                sink(RemoteEvent::Row(RemoteRow::unknown(
                    host,
                    dir,
                    &options.lock_name,
                    format!("{words}: {reason}"),
                )));
            }
        }
        // Wait out the backoff, unless stopped.
        let (lock, wake) = shared;
        let Ok(guard) = lock.lock() else { return };
        let Ok((guard, _)) = wake.wait_timeout_while(guard, backoff, |s| !s.stopped) else {
            return;
        };
        if guard.stopped {
            return;
        }
        drop(guard);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The directories a connection watches, each spelling once, and the lock file's name.
struct Asked<'a> {
    dirs: &'a [String],
    lock_name: &'a str,
}

/// One connection: returns why it ended and whether the remote answered at all.
/// `ignored_told`: whether the notice for rows not asked for was given (once per watch).
fn attempt(
    ssh: &Ssh,
    host: &Host,
    args: &[String],
    asked: &Asked,
    ignored_told: &mut bool,
    shared: &(Mutex<Shared>, Condvar),
    sink: &mut impl FnMut(RemoteEvent),
) -> (ConnectionError, bool) {
    let mut child = match ssh.spawn(host, args, Stdio::null()) {
        Ok(child) => child,
        Err(e) => return (e, false),
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    {
        let Ok(mut guard) = shared.0.lock() else {
            let _ = child.kill();
            return (
                ConnectionError::Ssh {
                    detail: "stopped".into(),
                },
                false,
            );
        };
        if guard.stopped {
            let _ = child.kill();
            let _ = child.wait();
        }
        guard.child = Some(child);
    }
    // stderr: the remote's notices are passed on as they come; the tail is kept to classify
    // the end.
    let tail = Arc::new(Mutex::new(String::new()));
    let stderr_thread = stderr.map(|stderr| {
        let tail = tail.clone();
        let (notices_tx, notices) = mpsc::channel::<String>();
        let thread = std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            while let Ok(Some(line)) = read_line_bounded(&mut reader, 4096) {
                let line = String::from_utf8_lossy(&line).into_owned();
                if let Some(notice) = line.strip_prefix("lockscope: ") {
                    let _ = notices_tx.send(notice.to_string());
                }
                if let Ok(mut tail) = tail.lock() {
                    if tail.len() > 16 * 1024 {
                        tail.clear();
                    }
                    tail.push_str(&line);
                    tail.push('\n');
                }
            }
        });
        (thread, notices)
    });
    // stdout: read on its own thread, so that the deadline for first reports can pass while
    // the remote says nothing. A few lines in flight at most (each up to LINE_LIMIT).
    let (lines_tx, lines) = mpsc::sync_channel(4);
    if let Some(stdout) = stdout {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let line = read_line_bounded(&mut reader, LINE_LIMIT);
                let end = !matches!(line, Ok(Some(_)));
                if lines_tx.send(line).is_err() || end {
                    return;
                }
            }
        });
    }
    let mut answered = false;
    let mut bad: Option<ConnectionError> = None;
    // Until the deadline: the directories not reported yet.
    let mut unreported: BTreeSet<&str> = asked.dirs.iter().map(String::as_str).collect();
    let mut deadline: Option<Instant> = None;
    loop {
        let next = match deadline {
            Some(at) => lines.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => lines.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let line = match next {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Err(e)) => {
                bad = Some(ConnectionError::BadAnswer {
                    detail: e.to_string(),
                });
                break;
            }
            Err(RecvTimeoutError::Timeout) => {
                deadline = None;
                for dir in std::mem::take(&mut unreported) {
                    sink(RemoteEvent::Row(RemoteRow::unknown(
                        host,
                        dir,
                        asked.lock_name,
                        format!(
                            "the remote lockscope has not reported this directory ({} after \
                             its first report)",
                            humantime::format_duration(FIRST_REPORT_DEADLINE)
                        ),
                    )));
                }
                continue;
            }
        };
        if let Some((_, notices)) = &stderr_thread {
            for text in notices.try_iter() {
                sink(RemoteEvent::Notice {
                    host: host.clone(),
                    text,
                });
            }
        }
        let row = match parse_watch_line(host, &line) {
            Ok(row) => row,
            Err(e) => {
                bad = Some(e);
                break;
            }
        };
        if !answered {
            answered = true;
            deadline = Some(Instant::now() + FIRST_REPORT_DEADLINE);
            sink(RemoteEvent::Connection {
                host: host.clone(),
                state: ConnectionState::Connected,
            });
        }
        let mut matched = false;
        for dir in asked.dirs {
            if answers(&row.dir, &row.lock_file, dir, asked.lock_name, false) {
                matched = true;
                unreported.remove(dir.as_str());
                let mut row = row.clone();
                row.dir.clone_from(dir);
                sink(RemoteEvent::Row(row));
            }
        }
        if unreported.is_empty() {
            deadline = None;
        }
        if !matched && !std::mem::replace(ignored_told, true) {
            let notice = ignored_notice(1, Some(&row.dir)).unwrap_or_default();
            sink(RemoteEvent::Notice {
                host: host.clone(),
                text: format!("{notice}; any more are ignored silently"),
            });
        }
    }
    // The end: reap ssh (killed first if its answer was bad).
    let child = shared
        .0
        .lock()
        .ok()
        .and_then(|mut guard| guard.child.take());
    let status = child.and_then(|mut child| {
        if bad.is_some() {
            let _ = child.kill();
        }
        child.wait().ok()
    });
    if let Some((thread, _)) = stderr_thread {
        let _ = thread.join();
    }
    if let Some(bad) = bad {
        return (bad, answered);
    }
    let tail = tail.lock().map(|t| t.clone()).unwrap_or_default();
    let reason = match status {
        Some(status) => ssh.classify(status, &tail),
        None => ConnectionError::Ssh {
            detail: "ssh's exit status is unknown".into(),
        },
    };
    (reason, answered)
}
