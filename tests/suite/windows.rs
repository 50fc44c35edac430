//! Windows, for real: lockscope's Windows lock and probe against a peer that takes certbot's
//! lock exactly as certbot does on Windows (tests/peers/certbot_windows_peer.c: CreateFile with
//! share mode 0 and certbot's ACL, CRT open, `_locking(fd, _LK_NBLCK, 1)`). Two Windows
//! processes at once: this test binary and the peer.
//!
//! Run by `scripts/windows-test` (under Wine on Linux), which builds the peer and points
//! `LOCKSCOPE_WINDOWS_PEER` at it. Without that variable these tests fail: they never skip.

use lockscope::lock_dir;
use lockscope::probe::{LockState, probe};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const LOCK: &str = ".certbot.lock";

fn peer_exe() -> PathBuf {
    let exe = std::env::var_os("LOCKSCOPE_WINDOWS_PEER")
        .map(PathBuf::from)
        .expect(
            "LOCKSCOPE_WINDOWS_PEER is not set: run these tests through scripts/windows-test, \
         which builds tests/peers/certbot_windows_peer.c",
        );
    assert!(
        exe.is_file(),
        "LOCKSCOPE_WINDOWS_PEER={} is not a file",
        exe.display()
    );
    exe
}

/// The certbot peer in `hold` mode.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    /// Starts a peer that tries certbot's acquire on `lock_file`; returns it with its first
    /// line ("locked <pid>" or "busy").
    fn hold(lock_file: &Path) -> (Peer, String) {
        let mut child = Command::new(peer_exe())
            .arg("hold")
            .arg(lock_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the certbot peer");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("peer stdout"));
        let mut peer = Peer {
            child,
            stdin,
            stdout,
        };
        let line = peer.line();
        (peer, line)
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read the peer's output");
        line.trim_end().to_string()
    }

    /// Tells a holding peer to release (unlock, close, remove), and waits for it to exit 0.
    fn release(mut self) {
        let mut stdin = self.stdin.take().expect("peer stdin");
        stdin.write_all(b"release\n").expect("write to the peer");
        drop(stdin);
        assert_eq!(self.line(), "released");
        self.wait_ok();
    }

    fn wait_ok(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for the peer");
        assert!(status.success(), "peer exited with {status}");
    }
}

fn locked_pid(line: &str) -> u32 {
    line.strip_prefix("locked ")
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("peer did not lock: {line:?}"))
}

#[test]
fn peer_holds_then_probe_says_held_and_lock_dir_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join(LOCK);
    let (peer, line) = Peer::hold(&lock_file);
    let peer_pid = locked_pid(&line);

    let state = probe(&lock_file).unwrap();
    assert!(
        matches!(state, LockState::Held(_)),
        "probe while the peer holds: {state:?}"
    );
    let err = lock_dir(dir.path()).expect_err("lock_dir must fail while the peer holds");
    assert!(err.is_busy(), "lock_dir error is not Busy: {err}");
    eprintln!("peer pid {peer_pid}; probe: {state:?}; lock_dir: {err}");
    // Still held after our failed attempt (it must not have disturbed the peer).
    assert!(probe(&lock_file).unwrap().is_held());

    peer.release();
    // certbot removes the file on release; nobody else has it open.
    assert!(
        !lock_file.exists(),
        "the peer's release must remove the lock file"
    );
    assert_eq!(probe(&lock_file).unwrap(), LockState::Absent);
    let lock = lock_dir(dir.path()).expect("acquire after the peer released");
    assert!(lock.is_locked());
}

#[test]
fn we_hold_then_peer_is_busy_and_acquires_after_release() {
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join(LOCK);
    let lock = lock_dir(dir.path()).unwrap();
    assert_eq!(probe(&lock_file).unwrap(), LockState::HeldByThisProcess);

    let (peer, line) = Peer::hold(&lock_file);
    assert_eq!(line, "busy", "the peer must be refused while we hold");
    peer.wait_ok();

    drop(lock);
    assert!(!lock_file.exists(), "our release must remove the lock file");
    assert_eq!(probe(&lock_file).unwrap(), LockState::Absent);

    let (peer, line) = Peer::hold(&lock_file);
    locked_pid(&line);
    peer.release();
    assert!(!lock_file.exists());
}

/// Where the system cannot list a file's users (Wine), a lock file younger than 2 s is reported
/// held without being opened; an older one gets the byte-0 lock test. Both must say held.
#[test]
fn lock_held_past_the_fresh_window_is_still_held() {
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join(LOCK);
    let (peer, line) = Peer::hold(&lock_file);
    locked_pid(&line);
    assert!(probe(&lock_file).unwrap().is_held());
    std::thread::sleep(Duration::from_millis(2500));
    let state = probe(&lock_file).unwrap();
    assert!(
        matches!(state, LockState::Held(_)),
        "after 2.5 s: {state:?}"
    );
    assert!(lock_dir(dir.path()).unwrap_err().is_busy());
    peer.release();
    assert_eq!(probe(&lock_file).unwrap(), LockState::Absent);
}

#[test]
fn killed_peer_leaves_a_free_lock_we_can_take() {
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join(LOCK);
    let (mut peer, line) = Peer::hold(&lock_file);
    locked_pid(&line);
    assert!(probe(&lock_file).unwrap().is_held());

    peer.child.kill().unwrap();
    peer.child.wait().unwrap();
    // The killed peer never removed its file; its lock went with its handles.
    let deadline = Instant::now() + Duration::from_secs(5);
    let state = loop {
        let state = probe(&lock_file).unwrap();
        if state == LockState::Free || Instant::now() > deadline {
            break state;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        state,
        LockState::Free,
        "a killed holder's lock must be free"
    );
    let lock = lock_dir(dir.path()).expect("acquire a killed holder's lock");
    drop(lock);
    assert!(!lock_file.exists());
}

/// Whether these tests run under Wine (scripts/windows-test sets WINEPREFIX).
fn under_wine() -> bool {
    std::env::var_os("WINEPREFIX").is_some()
}

/// What the holder lookup gives everywhere, Wine included: the lock reads held (by someone
/// unnamed), `lock_dir` is Busy, and the pid-to-executable lookup (`holder::command_line`)
/// names the peer. Under Wine, whose `RmGetList` is a stub that lists no process, the holder's
/// pid is unknown: asserted, so that a Wine that lists processes fails here and
/// [`holder_named_by_the_restart_manager`] can stop being ignored.
#[test]
fn held_lock_and_command_lookup_where_the_restart_manager_lists_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join(LOCK);
    let (peer, line) = Peer::hold(&lock_file);
    let peer_pid = locked_pid(&line);
    let state = probe(&lock_file).unwrap();
    let busy = lock_dir(dir.path()).unwrap_err();
    let peer_command = lockscope::holder::command_line(peer_pid);
    peer.release();

    eprintln!("probe: {state:?}; lock_dir: {busy}; peer's command: {peer_command:?}");
    let LockState::Held(holder) = state else {
        panic!("not held: {state:?}")
    };
    assert!(busy.is_busy(), "lock_dir while the peer holds: {busy}");
    assert!(
        peer_command
            .as_deref()
            .is_some_and(|c| c.to_lowercase().ends_with("certbot_windows_peer.exe")),
        "command_line(peer pid) = {peer_command:?}"
    );
    if under_wine() {
        let busy_pid = match &busy {
            lockscope::LockError::Busy { holder, .. } => holder.as_ref().and_then(|h| h.pid),
            other => panic!("lock_dir: {other:?}"),
        };
        assert_eq!(
            (holder.pid, busy_pid),
            (None, None),
            "Wine's RmGetList named a holder (probe, lock_dir): un-ignore \
             holder_named_by_the_restart_manager"
        );
    }
}

/// The holder's pid comes from the Restart Manager (`RmGetList`), its command from the pid;
/// both must be the peer's, for `probe` and for `lock_dir`'s Busy error.
#[test]
#[ignore = "Wine 8's RmGetList is a stub that lists no process: run on Windows with --ignored"]
fn holder_named_by_the_restart_manager() {
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join(LOCK);
    let (peer, line) = Peer::hold(&lock_file);
    let peer_pid = locked_pid(&line);
    let state = probe(&lock_file).unwrap();
    let busy = lock_dir(dir.path()).unwrap_err();
    let peer_command = lockscope::holder::command_line(peer_pid);
    peer.release();

    let LockState::Held(holder) = state else {
        panic!("not held: {state:?}")
    };
    assert_eq!(holder.pid, Some(peer_pid), "probe's holder pid");
    assert!(peer_command.is_some(), "command_line(peer pid) = None");
    assert_eq!(holder.command, peer_command, "probe's holder command");
    match busy {
        lockscope::LockError::Busy {
            holder: Some(h), ..
        } => assert_eq!(h.pid, Some(peer_pid), "lock_dir's Busy holder pid"),
        other => panic!("lock_dir: {other:?}"),
    }
}

/// certbot's create step opens the file with share mode 0: any handle with data access that
/// exists at that instant makes it fail. A monitor probing all the time must never cause that.
#[test]
fn continuous_probing_never_fails_a_certbot_acquire() {
    const TRIES: u32 = 1000;
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join(LOCK);
    let stop = Arc::new(AtomicBool::new(false));
    let probes = Arc::new(AtomicU64::new(0));
    let seen_held = Arc::new(AtomicU64::new(0));
    let prober = {
        let (stop, probes, seen_held, lock_file) = (
            stop.clone(),
            probes.clone(),
            seen_held.clone(),
            lock_file.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if probe(&lock_file).is_ok_and(|s| s.is_held()) {
                    seen_held.fetch_add(1, Ordering::Relaxed);
                }
                probes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Let the prober get going before the peer starts.
    while probes.load(Ordering::Relaxed) < 10 {
        std::thread::yield_now();
    }
    let started = Instant::now();
    let output = Command::new(peer_exe())
        .arg("try")
        .arg(&lock_file)
        .arg(TRIES.to_string())
        .output()
        .expect("run the certbot peer");
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    prober.join().unwrap();
    assert!(output.status.success(), "peer: {output:?}");
    let report = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let probes = probes.load(Ordering::Relaxed);
    eprintln!(
        "disturbance: peer `{report}` in {took:?}; {probes} probes meanwhile, {} saw it held",
        seen_held.load(Ordering::Relaxed)
    );
    let words: Vec<&str> = report.split_whitespace().collect();
    let failed: u32 = words
        .iter()
        .position(|w| *w == "failed")
        .and_then(|i| words.get(i + 1)?.parse().ok())
        .unwrap_or_else(|| panic!("unexpected peer report {report:?}"));
    assert!(probes > 100, "the prober barely ran: {probes} probes");
    assert_eq!(failed, 0, "probing made certbot acquires fail: {report}");
}

/// The CLI as a Windows program: `status --json` and `hold --for 1s`.
#[test]
fn cli_status_and_hold_as_windows_programs() {
    let exe = env!("CARGO_BIN_EXE_lockscope");
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join(LOCK);
    let status = |expected: &str| {
        let out = Command::new(exe)
            .args(["status", "--json"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "status: {out:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json[0]["state"], expected, "status --json: {json}");
        json
    };
    status("absent");

    // The peer holds: status says held.
    let (peer, line) = Peer::hold(&lock_file);
    let peer_pid = locked_pid(&line);
    let json = status("held");
    eprintln!("status --json while the peer {peer_pid} holds: {json}");
    peer.release();
    status("absent");

    // lockscope hold --for 1s: the peer is refused while it holds, then gets the lock.
    let started = Instant::now();
    let mut hold = Command::new(exe)
        .args(["hold", "--for", "1s"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(hold.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("held "), "hold printed {line:?}");
    let json = status("held");
    eprintln!("status --json while `lockscope hold` holds: {json}");
    let (peer, peer_line) = Peer::hold(&lock_file);
    assert_eq!(
        peer_line, "busy",
        "certbot must be refused while lockscope holds"
    );
    peer.wait_ok();
    let exit = hold.wait().unwrap();
    assert!(exit.success(), "hold exited {exit}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    status("absent");
    let (peer, line) = Peer::hold(&lock_file);
    locked_pid(&line);
    peer.release();
}
