//! Helpers shared by the integration tests: real certbot peers, the `lockscope` binary, and
//! disk snapshots for "nothing was modified" checks.
#![allow(dead_code)] // each test binary (tests/tests.rs, tests/monitor.rs) uses a different subset

#[cfg(target_os = "linux")]
pub mod mounts;
pub mod proptest_config;
#[cfg(target_os = "linux")]
pub mod sshd;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const LOCK: &str = ".certbot.lock";

/// The Python interpreter of a venv with real certbot (PyPI `certbot`). There is no fallback:
/// without certbot the interop tests fail, they never pass silently.
pub fn certbot_python() -> PathBuf {
    let candidates = std::env::var_os("LOCKSCOPE_CERTBOT_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/lockscope/certbot-venv/bin/python")),
        );
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import certbot._internal.lock"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return python;
        }
    }
    panic!(
        "real certbot is required for this test and was not found. Run `scripts/test` (it installs \
         certbot 5.8.0 into ~/.cache/lockscope/certbot-venv) or set LOCKSCOPE_CERTBOT_PYTHON to a \
         Python that can `import certbot`."
    );
}

pub fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/certbot_peer.py")
}

/// A running certbot process holding (or having failed to take) a directory lock.
pub struct CertbotHolder {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub pid: u32,
}

/// Outcome of certbot's `lock_dir`.
pub enum CertbotLock {
    Locked(CertbotHolder),
    Busy(String),
}

impl CertbotLock {
    #[track_caller]
    pub fn expect_locked(self) -> CertbotHolder {
        match self {
            CertbotLock::Locked(h) => h,
            CertbotLock::Busy(msg) => panic!("certbot could not lock: {msg}"),
        }
    }

    #[track_caller]
    pub fn expect_busy(self) -> String {
        match self {
            CertbotLock::Locked(h) => {
                panic!("certbot took the lock (pid {}) but should not", h.pid)
            }
            CertbotLock::Busy(msg) => msg,
        }
    }
}

/// Runs certbot's own `lock_dir(dir)` in a new process.
pub fn certbot_lock_dir(dir: &Path) -> CertbotLock {
    let mut child = Command::new(certbot_python())
        .arg(peer_script())
        .arg("hold")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start certbot peer");
    let pid = child.id();
    let stdin = child.stdin.take();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read certbot peer");
    if let Some(msg) = line.strip_prefix("busy ") {
        let _ = child.wait();
        return CertbotLock::Busy(msg.trim().to_string());
    }
    assert_eq!(
        line.trim(),
        format!("locked {pid}"),
        "unexpected certbot peer output"
    );
    CertbotLock::Locked(CertbotHolder {
        child,
        stdin,
        stdout,
        pid,
    })
}

impl CertbotHolder {
    /// certbot's `release()`: unlink, then close.
    pub fn release(mut self) {
        let mut stdin = self.stdin.take().expect("stdin");
        writeln!(stdin, "release").expect("tell certbot to release");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read certbot peer");
        assert_eq!(line.trim(), "released");
        assert!(self.child.wait().expect("wait").success());
    }

    /// Its exit status once it has exited (something else ended it), or `None` if it is still
    /// running after `limit`.
    pub fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for certbot") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: the kernel drops the lock, the file stays.
    pub fn kill(mut self) {
        self.child.kill().expect("kill certbot");
        self.child.wait().expect("reap certbot");
    }
}

impl Drop for CertbotHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `lockscope` binary under test.
pub fn lockscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lockscope"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run command")
}

/// A `lockscope hold` child that has printed its `held ...` line.
pub struct LockscopeHolder {
    pub child: Child,
    pub line: String,
    stdout: BufReader<ChildStdout>,
}

pub fn lockscope_hold(args: &[&str]) -> LockscopeHolder {
    let mut child = lockscope()
        .arg("hold")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lockscope hold");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut line).expect("read hold output");
    LockscopeHolder {
        child,
        line,
        stdout,
    }
}

impl LockscopeHolder {
    /// Everything printed after the first line, up to exit.
    pub fn rest_of_stdout(&mut self) -> String {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).expect("read stdout");
        rest
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    pub fn wait_exit(&mut self, limit: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < limit,
                "lockscope hold did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for LockscopeHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `python3 -c SCRIPT LOCK_FILE` child driven line by line: the tests' hand-made fcntl
/// lockers (a lock taken on a file opened long before, OFD locks changing hands on one file).
pub struct ScriptedPeer {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ScriptedPeer {
    pub fn start(script: &str, lock: &Path) -> ScriptedPeer {
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(lock)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        ScriptedPeer {
            child,
            stdin,
            stdout,
        }
    }

    /// The next line it prints, trimmed.
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read peer");
        line.trim().to_string()
    }

    /// Sends `line` and returns the line it answers.
    pub fn ask(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write peer");
        self.read_line()
    }

    /// Closes its stdin (EOF) and waits for it to exit.
    pub fn finish(mut self) {
        self.stdin = None;
        self.child.wait().expect("wait peer");
    }
}

impl Drop for ScriptedPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `lockscope watch --json` child and its output, one JSON value per line.
pub struct WatchJson {
    pub child: Child,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl WatchJson {
    /// Starts `cmd` (a `watch --json` command line) with its stdout piped.
    pub fn spawn(cmd: &mut Command) -> WatchJson {
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start watch");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        WatchJson { child, lines }
    }

    /// The next line, parsed (blocks until the watcher prints it).
    pub fn next_line(&mut self) -> serde_json::Value {
        let line = self.lines.next().expect("watch ended").expect("read watch");
        serde_json::from_str(&line).expect("watch printed JSON")
    }
}

impl Drop for WatchJson {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything observable about one entry on disk, except its access time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `file`, `dir`, `symlink`, `fifo`, `socket`, `char`, `block`.
    pub kind: &'static str,
    /// Permission bits, including setuid/setgid/sticky.
    pub mode: u32,
    pub size: u64,
    /// A hash of a regular file's content (`None` for other kinds).
    pub content: Option<u64>,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub ino: u64,
    pub nlink: u64,
    pub uid: u32,
    /// A symlink's target.
    pub link: Option<PathBuf>,
}

/// Every entry of a tree (the root included), by path: type, mode, size, content hash, times,
/// inode, link count, owner, symlink target. Symlinks are not followed; FIFOs, sockets and
/// devices are not opened.
pub type Snapshot = BTreeMap<PathBuf, Entry>;

pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    snapshot_into(root, &mut out);
    out
}

fn snapshot_into(path: &Path, out: &mut Snapshot) {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let t = meta.file_type();
    let kind = if t.is_file() {
        "file"
    } else if t.is_dir() {
        "dir"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "char"
    } else {
        "block"
    };
    out.insert(
        path.to_path_buf(),
        Entry {
            kind,
            mode: meta.mode() & 0o7777,
            size: meta.size(),
            content: t.is_file().then(|| content_hash(path)),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            nlink: meta.nlink(),
            uid: meta.uid(),
            link: std::fs::read_link(path).ok(),
        },
    );
    if t.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for e in entries.flatten() {
            snapshot_into(&e.path(), out);
        }
    }
}

/// SipHash of a file's bytes, streamed (files of many MB are hashed, not held in memory).
fn content_hash(path: &Path) -> u64 {
    use std::hash::Hasher;
    use std::io::Read;
    let mut hasher = std::hash::DefaultHasher::new();
    let Ok(mut file) = std::fs::File::open(path) else {
        return 0;
    };
    let mut buf = vec![0; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => hasher.write(&buf[..n]),
        }
    }
    hasher.finish()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `lockscope`, run as an unprivileged user (nobody) when the tests run as root, so that
/// permission checks apply; as a normal user, run directly.
pub fn unprivileged_lockscope() -> Command {
    unprivileged(env!("CARGO_BIN_EXE_lockscope"))
}

/// The program `exe` as [`unprivileged_lockscope`] runs lockscope.
pub fn unprivileged(exe: &str) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(exe);
        c
    } else {
        Command::new(exe)
    }
}

/// Runs `lockscope ARGS` unprivileged (see [`unprivileged_lockscope`]) to completion.
pub fn lockscope_unprivileged(args: &[&OsStr]) -> Output {
    run(unprivileged_lockscope().args(args))
}

pub use std::ffi::OsStr;

/// Verifies that the lines of a critical-section log strictly alternate enter/leave of the same
/// holder: no two holders were ever inside at once. Returns the acquisitions per implementation.
pub fn check_no_overlap(log: &str) -> BTreeMap<String, usize> {
    let mut inside: Option<(String, String)> = None;
    let mut counts = BTreeMap::new();
    for (n, line) in log.lines().enumerate() {
        let mut f = line.split_whitespace();
        let (what, imp, who, seq) = (f.next(), f.next(), f.next(), f.next());
        let (Some(what), Some(imp), Some(who), Some(seq)) = (what, imp, who, seq) else {
            panic!("malformed log line {n}: {line:?}");
        };
        let me = (format!("{imp} {who}"), seq.to_string());
        match what {
            "enter" => {
                assert!(
                    inside.is_none(),
                    "line {n}: {line:?} entered while {inside:?} was inside"
                );
                inside = Some(me);
            }
            "leave" => {
                assert_eq!(
                    inside.as_ref(),
                    Some(&me),
                    "line {n}: {line:?} left without entering"
                );
                inside = None;
                *counts.entry(imp.to_string()).or_insert(0) += 1;
            }
            _ => panic!("malformed log line {n}: {line:?}"),
        }
    }
    assert!(inside.is_none(), "log ends inside a critical section");
    counts
}

/// Path of an up-to-date example binary. `cargo test` builds examples, but `cargo test --test X`
/// does not, so the example is (re)built here with the cargo that runs the tests: a stale
/// contender would test old code.
pub fn example_bin(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    if !built.iter().any(|b| b == name) {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "--example", name]);
        cargo
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cargo.arg("--release");
        }
        assert!(
            cargo.status().expect("run cargo").success(),
            "building example {name} failed"
        );
        built.push(name.to_string());
    }
    profile_dir.join("examples").join(name)
}

/// A `lockscope watch --json` child read on a background thread, so that every wait has a
/// deadline: a watcher that stops printing fails the test instead of hanging it. Every line
/// read so far is kept in `seen`, in order, for checks over the whole run and failure messages.
pub struct WatchStream {
    pub child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<serde_json::Value>,
}

impl WatchStream {
    /// Starts `cmd` (a `watch --json` command line) with stdin closed and stdout piped.
    pub fn spawn(cmd: &mut Command) -> WatchStream {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start watch");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        WatchStream {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines into `seen` until `done(&seen)` is true (returns true) or `limit` has passed
    /// or the watcher's output ended (returns false).
    pub fn lines_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&[serde_json::Value]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if done(&self.seen) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("watch printed a non-JSON line {line:?}: {e}"));
                    self.seen.push(value);
                }
                Err(_) => return done(&self.seen),
            }
        }
    }

    /// Sends signal `sig` (e.g. `libc::SIGINT`) to the watcher.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.child.id());
    }

    /// The exit status if the watcher exits within `limit`.
    pub fn exit_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `seen`, one short line per record (for failure messages).
    pub fn transcript(&self) -> String {
        self.seen
            .iter()
            .map(|v| {
                format!(
                    "  {} {} {} pid={} cause={}",
                    v["time"].as_str().unwrap_or("?"),
                    v["dir"],
                    v["state"],
                    v["holder"]["pid"],
                    v["cause"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The calling thread's kernel id, for [`wait_until_in_syscall`] from another thread.
pub fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// The sleeps of a retry loop's backoff (`std::thread::sleep`: nanosleep or clock_nanosleep).
pub const SLEEP_SYSCALLS: &[libc::c_long] = &[libc::SYS_nanosleep, libc::SYS_clock_nanosleep];
/// What a lookup of a path waits in when its filesystem does not answer.
pub const PATH_SYSCALLS: &[libc::c_long] =
    &[libc::SYS_openat, libc::SYS_newfstatat, libc::SYS_statx];

/// Waits (at most 10 s) until thread `tid` of process `pid` sits in one of `syscalls`, as
/// `/proc/PID/task/TID/syscall` shows: proof that it got there (a waiting acquire has tried
/// and is backing off; a lookup is stuck in the kernel), where a fixed sleep would only guess.
#[track_caller]
pub fn wait_until_in_syscall(pid: u32, tid: i32, syscalls: &[libc::c_long], what: &str) {
    let path = format!("/proc/{pid}/task/{tid}/syscall");
    let started = Instant::now();
    loop {
        let last = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("({e})"));
        let nr = last
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<libc::c_long>().ok());
        if nr.is_some_and(|nr| syscalls.contains(&nr)) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: thread {tid} never sat in syscalls {syscalls:?} within 10 s (last: {:?})",
            last.trim()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A running `lockscope record` of `dirs` into `store`, started once it said so.
pub struct Recorder {
    pub child: std::process::Child,
    /// What it said it records from.
    pub said: String,
}

impl Recorder {
    pub fn start(store: &Path, dirs: &[&Path]) -> Recorder {
        Recorder::start_with(lockscope(), store, dirs)
    }

    pub fn start_with(
        mut command: std::process::Command,
        store: &Path,
        dirs: &[&Path],
    ) -> Recorder {
        let mut child = command
            .arg("record")
            .arg("--store")
            .arg(store)
            .arg("--interval")
            .arg("100ms")
            .args(dirs)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lockscope record");
        let mut err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut err, &mut line).expect("read record's stderr");
        assert!(line.contains("recording"), "{line}");
        // The monitor's first look has been made once it reports (a moment after start).
        std::thread::sleep(Duration::from_millis(300));
        Recorder { child, said: line }
    }

    pub fn stop(mut self) {
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().expect("wait for record");
        assert!(status.success(), "record exited with {status}");
    }
}
