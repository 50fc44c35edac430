//! The command line's definition (clap derive): subcommands, options, help texts. `--help` and
//! the man pages and shell completions (generated from it by `xtask/`, which includes this file
//! with `#[path]`) come from here alone, so they cannot drift apart.
//!
//! Only clap, std and the library may be used here: the xtask compiles this file without the
//! binary's other modules.

use clap::{Parser, Subcommand};
use lockscope::LOCK_FILE_NAME;
use lockscope::duration::{DurationError, parse_duration, parse_interval};
use lockscope::terminate::Signal;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// `--version`: the crate's version, and the git commit when built from a checkout (build.rs).
pub(crate) const VERSION: &str = match option_env!("LOCKSCOPE_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

#[derive(Parser)]
#[command(
    name = "lockscope",
    version = VERSION,
    about = "See, probe and test certbot's directory locks (.certbot.lock)",
    long_about = ROOT_ABOUT,
    after_long_help = ROOT_AFTER,
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
}

/// The options for remote hosts (`HOST:DIR` operands; every subcommand accepts them).
#[derive(clap::Args, Clone, Default)]
pub(crate) struct RemoteArgs {
    /// The ssh program and its options for HOST:DIR operands, split like a shell (default:
    /// $LOCKSCOPE_SSH_COMMAND, else `ssh`). lockscope adds -T, BatchMode=yes and timeouts.
    #[arg(long, global = true, value_name = "CMD")]
    pub(crate) ssh_command: Option<String>,
    /// The lockscope program on remote hosts (default: `lockscope` in the remote PATH).
    #[arg(long, global = true, value_name = "CMD")]
    pub(crate) remote_command: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Report each lock's state (absent, free, held) and its holder, without touching it.
    #[command(long_about = STATUS_ABOUT, after_long_help = STATUS_AFTER)]
    Status {
        /// Print one JSON array instead of a table (as --format json).
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// The output: a table, one JSON array, or Prometheus metrics (as `serve`'s; local
        /// directories only).
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<StatusFormat>,
        /// With --format prometheus: replace FILE atomically instead of printing (for
        /// node_exporter's textfile collector, which reads DIR/*.prom).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// With --format prometheus: add each holder's whole command line as a label (it can
        /// carry secrets: tokens, passwords).
        #[arg(long)]
        metrics_command_line: bool,
        /// The lock file's name inside each directory.
        #[arg(long, value_name = "NAME", default_value = LOCK_FILE_NAME, value_parser = parse_lock_name)]
        lock_name: String,
        /// Instead of PATHs: every certbot lock on this machine: each lock file of that name
        /// held now (the kernel's lock table), the directories of running certbot processes
        /// (their --config-dir, --work-dir, --logs-dir or cli.ini) and certbot's defaults;
        /// each row says how it was found (JSON: "found_by").
        #[arg(long, conflicts_with_all = ["paths", "format", "output"])]
        all: bool,
        /// Directories (lock file DIR/NAME) or lock files; HOST:DIR asks HOST over ssh.
        #[arg(value_name = "PATH", required_unless_present = "all")]
        paths: Vec<PathBuf>,
    },
    /// Say in plain sentences why each lock is (or is not) held, and what to do about it.
    #[command(long_about = EXPLAIN_ABOUT, after_long_help = EXPLAIN_AFTER)]
    Explain {
        /// Show times in UTC instead of the local time zone.
        #[arg(long)]
        utc: bool,
        /// The lock file's name inside each directory.
        #[arg(long, value_name = "NAME", default_value = LOCK_FILE_NAME, value_parser = parse_lock_name)]
        lock_name: String,
        /// Instead of PATHs: every certbot lock on this machine, found as `status --all` does.
        #[arg(long, conflicts_with = "paths")]
        all: bool,
        /// The flight recorder's history to mention the last day's refused attempts from
        /// [default: /var/lib/lockscope/history.db, then `record`'s default for this user].
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Directories (lock file DIR/NAME) or lock files; HOST:DIR asks HOST over ssh.
        #[arg(value_name = "PATH", required_unless_present = "all")]
        paths: Vec<PathBuf>,
    },
    /// Open the desktop app (also what `lockscope` alone does).
    #[cfg(feature = "gui")]
    #[command(long_about = GUI_ABOUT, after_long_help = GUI_AFTER)]
    Gui {
        /// A saved watch list to open, by name, or a watch-list file to import and open.
        #[arg(long, value_name = "NAME|FILE")]
        watchlist: Option<String>,
        /// Where watch lists and settings are kept (default: the platform config directory).
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
        /// The flight recorder's history file the timeline shows [default:
        /// /var/lib/lockscope/history.db, else ~/.local/state/lockscope/history.db].
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
    },
    /// Print each directory's state, then one line per change, until SIGINT/SIGTERM.
    #[command(long_about = WATCH_ABOUT, after_long_help = WATCH_AFTER)]
    Watch {
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Show times in UTC instead of the local time zone (text output).
        #[arg(long)]
        utc: bool,
        /// Period of the pass that catches changes no filesystem event shows.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
        interval: Duration,
        /// The lock file's name inside each directory.
        #[arg(long, value_name = "NAME", default_value = LOCK_FILE_NAME, value_parser = parse_lock_name)]
        lock_name: String,
        /// Directories; HOST:DIR watches HOST over ssh.
        #[arg(value_name = "DIR", required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Record every hold of the directories' locks into the history file, until
    /// SIGINT/SIGTERM (the flight recorder; read it with `lockscope history`).
    Record(RecordArgs),
    /// What the flight recorder kept: who held each directory's lock, from when to when, in time
    /// order; --at T: who held it at T.
    History(HistoryArgs),
    /// Serve each directory's lock as Prometheus metrics on http://ADDR/metrics, until
    /// SIGINT/SIGTERM.
    Serve {
        /// Where to listen: PORT or :PORT (127.0.0.1), or HOST:PORT (0.0.0.0:9977 for all).
        #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr)]
        metrics: String,
        /// Period of the pass that catches changes no filesystem event shows [default: 1s, or
        /// the watch list's].
        #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
        interval: Option<Duration>,
        /// The lock file's name inside each directory [default: .certbot.lock, or the watch
        /// list's].
        #[arg(long, value_name = "NAME", value_parser = parse_lock_name)]
        lock_name: Option<String>,
        /// Add each holder's whole command line as a label (it can carry secrets).
        #[arg(long)]
        metrics_command_line: bool,
        /// Watch a saved watch list, by name, or a watch-list file, instead of DIRs.
        #[arg(long, value_name = "NAME|FILE", conflicts_with = "dirs")]
        watchlist: Option<String>,
        /// Where watch lists are kept (default: the platform config directory).
        #[arg(long, value_name = "DIR", requires = "watchlist")]
        config_dir: Option<PathBuf>,
        /// Local directories.
        #[arg(value_name = "DIR", required_unless_present = "watchlist")]
        dirs: Vec<PathBuf>,
    },
    /// Take the certbot lock on DIR, hold it, release it on exit.
    #[command(long_about = HOLD_ABOUT, after_long_help = HOLD_AFTER)]
    Hold {
        /// Release after this long (e.g. 30s, 2m, 1h30m); default: until SIGINT/SIGTERM.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        hold_for: Option<Duration>,
        /// Wait for the lock instead of failing at once; --wait=TIMEOUT gives up after TIMEOUT.
        #[arg(long, value_name = "TIMEOUT", num_args = 0..=1, require_equals = true,
              default_missing_value = "forever", value_parser = parse_wait)]
        wait: Option<Wait>,
        /// The lock file's name inside DIR.
        #[arg(long, value_name = "NAME", default_value = LOCK_FILE_NAME, value_parser = parse_lock_name)]
        lock_name: String,
        /// Also release when standard input closes (what a remote hold over ssh uses: the
        /// lock lives as long as the session).
        #[arg(long)]
        until_stdin_closes: bool,
        /// The directory; HOST:DIR holds it on HOST over ssh, for as long as this runs.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// End the process holding DIR's lock (asks first unless --yes), then wait for the lock to go.
    #[command(long_about = TERMINATE_ABOUT, after_long_help = TERMINATE_AFTER)]
    Terminate {
        /// The signal: TERM, KILL, INT, HUP, QUIT, USR1, USR2 (SIG prefix optional) or a number.
        #[arg(long, value_name = "SIG", default_value = "TERM", value_parser = Signal::from_str)]
        signal: Signal,
        /// How long to wait for the lock to be released after the signal.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
        grace: Duration,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Refuse unless the holder is this pid (the one confirmed; a remote terminate asks
        /// on the local side first, then passes it).
        #[arg(long, value_name = "PID")]
        expect_pid: Option<u32>,
        /// The lock file's name inside DIR.
        #[arg(long, value_name = "NAME", default_value = LOCK_FILE_NAME, value_parser = parse_lock_name)]
        lock_name: String,
        /// The directory; HOST:DIR ends the holder on HOST over ssh (asked here first).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StatusFormat {
    Text,
    Json,
    Prometheus,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    Forever,
    Upto(Duration),
}

/// `ADDR` of `--metrics`: `PORT` or `:PORT` listen on 127.0.0.1 (the metrics name local
/// paths and processes: exposing them is a choice); `HOST:PORT` (`0.0.0.0:9977`,
/// `[::1]:9977`, `localhost:9977`) as given.
fn parse_listen_addr(text: &str) -> Result<String, String> {
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if port_only.parse::<u16>().is_ok() {
        return Ok(format!("127.0.0.1:{port_only}"));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(text.to_string())
        }
        _ => Err(format!(
            "{text:?} is not PORT, :PORT or HOST:PORT (e.g. 9977 or 0.0.0.0:9977)"
        )),
    }
}

/// A time as `history` takes it: RFC 3339, a local date and time, or a local time of day (the
/// last such moment: 03:00 asked at 09:00 is today's, asked at 01:00 yesterday's).
fn parse_time(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let zone = jiff::tz::TimeZone::system();
    let refused =
        || format!("{text:?} is not a time (use 2026-12-07T03:00:00Z, 2026-12-07 03:00 or 03:00)");
    if let Ok(civil) = text.parse::<jiff::civil::DateTime>() {
        return civil
            .to_zoned(zone)
            .map(|z| z.timestamp())
            .map_err(|_| refused());
    }
    let time = text.parse::<jiff::civil::Time>().map_err(|_| refused())?;
    let now = jiff::Timestamp::now().to_zoned(zone.clone());
    let today = now
        .date()
        .to_datetime(time)
        .to_zoned(zone)
        .map_err(|_| refused())?;
    if today.timestamp() <= now.timestamp() {
        Ok(today.timestamp())
    } else {
        today
            .checked_sub(jiff::Span::new().days(1))
            .map(|z| z.timestamp())
            .map_err(|_| refused())
    }
}

/// A size with its unit, as people write it: 500M, 1.5G, 2GiB, 800MB (units of 1024 bytes).
fn parse_size(text: &str) -> Result<u64, String> {
    let refused = || format!("{text:?} is not a size (use 500M, 2G or 1.5GiB)");
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(refused)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| refused())?;
    let shift = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(refused()),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(refused());
    }
    Ok(bytes as u64)
}

/// A lock name is a plain file name: no separators, not `.` or `..`.
fn parse_lock_name(text: &str) -> Result<String, String> {
    if lockscope::lock::is_plain_lock_name(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a plain file name (like .certbot.lock)"
        ))
    }
}

fn parse_wait(text: &str) -> Result<Wait, DurationError> {
    if text == "forever" {
        Ok(Wait::Forever)
    } else {
        parse_duration(text).map(Wait::Upto)
    }
}

// The long help texts (`--help`, and the man pages). Their layout is what the xtask turns into
// roff: a line of up to three words ending in ':' is a section heading, indented lines are
// shown as they are (examples, tables), other lines are prose, blank lines separate
// paragraphs. Shortened from README.md, which stays the full contract.

const ROOT_ABOUT: &str = "\
See, probe and test certbot's directory locks.

certbot guards its directories with a lock file, DIR/.certbot.lock (an fcntl lock on Unix). \
lockscope tells who holds it (pid and command line), whether a leftover file is stale, why a \
lock is stuck (a prompt waiting for input, a hook, a deleted lock file, a container), ends the \
holder safely, and takes the lock itself to test what happens under contention. Without a \
subcommand it opens the desktop app when built with it, and prints this help otherwise.";

const ROOT_AFTER: &str = "\
Examples:
  lockscope status /etc/letsencrypt /var/lib/letsencrypt /var/log/letsencrypt
  lockscope explain /etc/letsencrypt
  lockscope watch --json /etc/letsencrypt
  lockscope hold --for 30s /etc/letsencrypt
  lockscope terminate /etc/letsencrypt
  lockscope serve --metrics 9977 /etc/letsencrypt      (Prometheus: http://127.0.0.1:9977/metrics)

Output:
Text output is escaped: directory names, lock paths and command lines are chosen by local \
users, so control, bidi and zero-width characters are shown as \\n, \\x7f, \\u{202e}. Use \
--json for the raw values.

Exit status:
  0  success (also when the reader of stdout went away)
  1  hold: the lock is busy; terminate: still held after the grace period
  2  an error, a path that cannot be probed, a usage error, or output that cannot be written

Remote hosts:
status, explain, watch, hold and terminate take HOST:DIR operands (scp's rule: \
a colon before the first slash means a host; a single letter before it is a Windows drive). \
lockscope runs the system's ssh (--ssh-command or LOCKSCOPE_SSH_COMMAND, default ssh) with \
BatchMode=yes, one connection per host, and runs lockscope there (--remote-command, default \
lockscope; the CLI-only build: cargo install --path . --no-default-features --features cli). \
JSON rows have a host key (null for local paths); a host that cannot be asked gives its rows \
the state unknown with the reason.";

const STATUS_ABOUT: &str = "\
Report each lock's state (absent, free, held) and its holder, without touching it.

Each PATH is a directory (its lock file is PATH/.certbot.lock) or a lock file itself (a path \
whose name is NAME, or that exists and is not a directory). Nothing is created, locked or \
modified. free is only said when the kernel says so: where the kernel's lock table cannot \
vouch for a file (another pid namespace, a network or FUSE filesystem) the state is error \
with \"cannot tell\".";

const STATUS_AFTER: &str = "\
States:
  absent  no lock file: certbot is not running here (certbot deletes the file on release)
  free    a lock file nobody holds: left by a killed process, harmless
  held    a process holds the lock; its pid and command line when they can be found
  error   the path cannot be probed (missing, not a directory, permission denied, a symlink, cannot tell)
  unknown HOST:DIR only: the host could not be asked (authentication, host key, unreachable, ...)

Warnings:
Shown in the COMMAND column, and as a warnings array in JSON.
  orphaned-lock       a process holds a lock on a lock file of this directory that was deleted or replaced
  flock               a flock(2) lock on the lock file: certbot ignores it, but someone uses the file
  network-filesystem  other hosts' locks are kept elsewhere (NFS nolock, FUSE, ...)
  holder-not-visible  held by a process this system's /proc does not show (another pid namespace)

Exit status:
  0  every PATH was probed (or the reader of stdout went away)
  2  any PATH is an error, a usage error, or the output could not be written

Examples:
  $ lockscope status /etc/letsencrypt /var/lib/letsencrypt /srv/missing
  DIR                   STATE    PID  HELD FOR  COMMAND
  /etc/letsencrypt      held    4563  12 min 5 s  /usr/bin/python3 /usr/bin/certbot renew
  /var/lib/letsencrypt  free       -         -  -
  /srv/missing          error      -         -  directory /srv/missing does not exist
  $ lockscope status --json /etc/letsencrypt | jq -r '.[].state'
  held";

const EXPLAIN_ABOUT: &str = "\
Say in plain sentences why each lock is (or is not) held, and what to do about it.

A paragraph per line and a blank line between PATHs: who holds the lock and since when, what \
the holder is doing (waiting at a prompt, for a hook, stopped, stuck in the kernel), where it \
runs (systemd unit, container), its lock set, each warning, and what to do next. Everything is \
escaped like the status table.";

const EXPLAIN_AFTER: &str = "\
Exit status:
  0  every PATH was probed
  2  any PATH cannot be probed, or a usage error

Examples:
  $ lockscope explain /etc/letsencrypt
  /etc/letsencrypt is locked by pid 9680 (user root): /usr/bin/python3 /usr/bin/certbot register
  Held since 2026-12-02 04:17:10 CET, 25 s ago (when the lock file was created).
  It started 2026-12-02 04:17:09 CET, 26 s ago and is sleeping: waiting for terminal input on /dev/pts/0.
  What to do: it is waiting at a prompt for someone to type an answer: answer it in that terminal, or end it with `lockscope terminate /etc/letsencrypt`.";

#[cfg(feature = "gui")]
const GUI_ABOUT: &str = "\
Open the desktop app (also what `lockscope` alone does).

Opens the app on the last used watch list, or on the saved list NAME, or imports the watch-list \
FILE and opens it. Watch lists and settings live in lockscope.toml in the platform config \
directory (~/.config/lockscope on Linux) or DIR. Quitting releases every lock the app holds.";

#[cfg(feature = "gui")]
const GUI_AFTER: &str = "\
Exit status:
  0  the window was closed
  2  no display (DISPLAY and WAYLAND_DISPLAY unset, or the display refused), or another error

Examples:
  lockscope gui --watchlist /usr/share/doc/lockscope/certbot-watchlist.toml";

const WATCH_ABOUT: &str = "\
Print each directory's state, then one line per change, until SIGINT/SIGTERM.

States are those of status plus missing (the directory does not exist; it is picked up again \
when it reappears) and not-responding (a filesystem call has not returned within 200 ms: a \
stopped FUSE daemon, a hung NFS server). Each line has a cause: initial, fs-event, poll (the \
periodic pass) or action. --json prints one object per line with the keys of status --json \
plus time and cause.";

const WATCH_AFTER: &str = "\
Exit status:
  0  stopped by SIGINT/SIGTERM, or the reader of stdout went away
  2  a usage error (no DIR, an interval under 10ms, a bad lock name) or a write error

Examples:
  $ lockscope watch /etc/letsencrypt /srv/new
  2026-11-27 09:07:19.537 CET  /etc/letsencrypt  absent  (initial)
  2026-11-27 09:07:19.537 CET  /srv/new  missing  (initial)
  2026-11-27 09:07:20.042 CET  /etc/letsencrypt  held by pid 4563: /usr/bin/python3 /usr/bin/certbot renew  (fs-event)";

const HOLD_ABOUT: &str = "\
Take the certbot lock on DIR, hold it, release it on exit.

Takes the lock exactly as certbot would, so a certbot started meanwhile fails with \"Another \
instance of Certbot is already running\". Once held, prints exactly one line (held LOCKFILE pid \
N) and flushes it; if that line cannot be written, the lock is released at once (exit 2). \
Holds until DURATION elapses (30s, 2m, 1h30m, 500ms; a bare number is seconds) or until \
SIGINT/SIGTERM, then releases it. --wait retries until the lock is free; note the = in \
--wait=TIMEOUT.";

const HOLD_AFTER: &str = "\
Exit status:
  0  held, then released
  1  busy (held by someone else; the holder is named on stderr), --wait=TIMEOUT timed out, or a signal while waiting
  2  any other error (missing directory, symlinked lock file, permission denied, ...)

Examples:
  $ lockscope hold --for 30s /etc/letsencrypt
  held /etc/letsencrypt/.certbot.lock pid 81234
  $ lockscope hold --wait=2m --for 10s /etc/letsencrypt";

const TERMINATE_ABOUT: &str = "\
End the process holding DIR's lock (asks first unless --yes), then wait for the lock to go.

Linux 5.3+. The holder is identified by pid and start time and pinned with a pidfd; it is only \
signalled after a fresh probe still names it, so a recycled pid is never signalled. Without \
--yes it asks on a terminal, and refuses when stdin is not one. It refuses a lock that is not \
held or cannot be probed, one this process holds, and a holder whose pid is not visible.";

const TERMINATE_AFTER: &str = "\
Exit status:
  0  the lock was released (released LOCKFILE: pid N exited)
  1  still held by that pid after the grace period (try --signal KILL), or held through the
     same open file description by another process that inherited it (named; end it too)
  2  refused, not confirmed, or an error (e.g. no permission to signal the process)

Examples:
  $ lockscope terminate /etc/letsencrypt
  End pid 4563 (user root): /usr/bin/python3 /usr/bin/certbot renew? [y/N] y
  lockscope: sent SIGTERM to pid 4563; waiting up to 10s for the lock to be released
  released /etc/letsencrypt/.certbot.lock: pid 4563 exited
  $ lockscope terminate --yes --signal KILL --grace 5s /etc/letsencrypt";

/// `lockscope record`'s options (run by `lockscope-history`).
#[derive(clap::Args)]
pub(crate) struct RecordArgs {
    /// The history file [default: /var/lib/lockscope/history.db as root, else
    /// ~/.local/state/lockscope/history.db].
    #[arg(long, value_name = "FILE")]
    pub(crate) store: Option<PathBuf>,
    /// Also print each event as one JSON line on standard output (for journald, Vector,
    /// Fluent Bit).
    #[arg(long)]
    pub(crate) events_json: bool,
    /// Period of the pass that catches changes no filesystem event shows.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub(crate) interval: Duration,
    /// The lock file's name inside each directory.
    #[arg(long, value_name = "NAME", default_value = LOCK_FILE_NAME, value_parser = parse_lock_name)]
    pub(crate) lock_name: String,
    /// Record a saved watch list, by name (`certbot`: the preset), or a watch-list file,
    /// instead of DIRs (its local directories).
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "dirs")]
    pub(crate) watchlist: Option<String>,
    /// Record every certbot lock directory found on this machine at the start (as `status
    /// --all`: the lock table, running certbot processes' directories) and certbot's default
    /// directories, instead of DIRs.
    #[arg(long, conflicts_with_all = ["dirs", "watchlist"])]
    pub(crate) all: bool,
    /// Remove what ended longer ago than this (at the start, then hourly).
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_duration)]
    pub(crate) keep: Duration,
    /// Keep the history's content under this size, removing the oldest events (at the start,
    /// then hourly); the file stops growing there rather than shrinking.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub(crate) max_size: u64,
    /// Where watch lists are kept (default: the platform config directory).
    #[arg(long, value_name = "DIR", requires = "watchlist")]
    pub(crate) config_dir: Option<PathBuf>,
    /// Local directories.
    #[arg(value_name = "DIR", required_unless_present_any = ["watchlist", "all"])]
    pub(crate) dirs: Vec<PathBuf>,
}

/// `lockscope history`'s options (run by `lockscope-history`).
#[derive(clap::Args)]
pub(crate) struct HistoryArgs {
    /// The history file (default: as `record`'s).
    #[arg(long, value_name = "FILE")]
    pub(crate) store: Option<PathBuf>,
    /// Print one JSON array (times RFC 3339 UTC) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Show times in UTC instead of the local time zone (text output).
    #[arg(long)]
    pub(crate) utc: bool,
    /// Only what overlaps T or later: RFC 3339 (2026-12-07T03:00:00Z), a local date and time
    /// (2026-12-07 03:00), or a local time of day (03:00: the last one past).
    #[arg(long, value_name = "T", value_parser = parse_time, conflicts_with = "at")]
    pub(crate) since: Option<jiff::Timestamp>,
    /// Only what overlaps T or earlier (as --since).
    #[arg(long, value_name = "T", value_parser = parse_time, conflicts_with = "at")]
    pub(crate) until: Option<jiff::Timestamp>,
    /// Who held it at T (as --since).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub(crate) at: Option<jiff::Timestamp>,
    /// Only refused attempts.
    #[arg(long, conflicts_with = "at")]
    pub(crate) refused: bool,
    /// Local directories, as `record` was given them.
    #[arg(value_name = "DIR", required = true)]
    pub(crate) dirs: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_default_to_loopback_and_keep_a_given_host() {
        assert_eq!(parse_listen_addr("9977").as_deref(), Ok("127.0.0.1:9977"));
        assert_eq!(parse_listen_addr(":9977").as_deref(), Ok("127.0.0.1:9977"));
        assert_eq!(parse_listen_addr("0").as_deref(), Ok("127.0.0.1:0"));
        for given in ["0.0.0.0:9977", "[::1]:9977", "localhost:9977", "[::]:0"] {
            assert_eq!(parse_listen_addr(given).as_deref(), Ok(given));
        }
        for bad in [
            "", ":", "99999", ":port", "host:", ":9977:", "0.0.0.0", "-1",
        ] {
            let e = parse_listen_addr(bad).unwrap_err();
            assert!(
                e.contains("is not PORT, :PORT or HOST:PORT"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn lock_names_are_plain_file_names() {
        for good in [".certbot.lock", "custom.lock", "a"] {
            assert_eq!(parse_lock_name(good).as_deref(), Ok(good));
        }
        for bad in ["", ".", "..", "a/b", "/abs", "dir/"] {
            let e = parse_lock_name(bad).unwrap_err();
            assert!(e.contains("is not a plain file name"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn wait_is_forever_or_a_duration() {
        assert!(matches!(parse_wait("forever"), Ok(Wait::Forever)));
        assert!(
            matches!(parse_wait("300ms"), Ok(Wait::Upto(d)) if d == Duration::from_millis(300))
        );
        assert!(matches!(parse_wait("5"), Ok(Wait::Upto(d)) if d == Duration::from_secs(5)));
        assert!(parse_wait("0.5").unwrap_err().to_string().contains("500ms"));
        assert!(parse_wait("Forever").is_err(), "the keyword is exact");
    }

    #[test]
    fn sizes_are_read_as_people_write_them() {
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("800MB"), Ok(800 << 20));
        assert_eq!(parse_size("64 k"), Ok(64 << 10));
        for bad in ["", "500", "M", "1.2.3G", "5X", "0G", "-1G"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    /// The whole definition holds together (clap's own consistency checks).
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
