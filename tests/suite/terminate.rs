//! `lockscope terminate` and `lockscope::terminate` against real processes: real certbot ended
//! by SIGTERM, a holder that ignores SIGTERM, the confirmation rule, refusals (not held, this
//! process, a holder outside this pid namespace), and the guards against signalling the wrong
//! process: a real pid reuse inside a pid namespace (`ns_last_pid`), and a holder that let go
//! of the lock between identification and pinning.

use crate::common::*;
use lockscope::probe::{LockState, probe};
use lockscope::terminate::{self, TerminateError};
use lockscope::{Holder, LOCK_FILE_NAME};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A classic fcntl lock holder (what certbot takes) that ignores SIGTERM. Prints `locked PID`;
/// `unlock` drops the lock and answers `unlocked` (the process lives on); EOF ends it.
const STUBBORN_HOLDER: &str = r#"
import fcntl, os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
f = open(sys.argv[1], "w")
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", os.getpid(), flush=True)
for line in sys.stdin:
    if line.strip() == "unlock":
        fcntl.lockf(f, fcntl.LOCK_UN)
        print("unlocked", flush=True)
"#;

fn terminate_cmd(args: &[&str], dir: &Path) -> Command {
    let mut cmd = lockscope();
    cmd.arg("terminate").args(args).arg(dir);
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn held_by(lock: &Path, pid: u32) -> bool {
    matches!(probe(lock), Ok(LockState::Held(Holder { pid: Some(p), .. })) if p == pid)
}

fn alive(child: &mut std::process::Child) -> bool {
    child.try_wait().expect("try_wait").is_none()
}

fn start_stubborn(lock: &Path) -> (ScriptedPeer, u32) {
    let mut peer = ScriptedPeer::start(STUBBORN_HOLDER, lock);
    let line = peer.read_line();
    let pid = peer.child.id();
    assert_eq!(line, format!("locked {pid}"));
    (peer, pid)
}

#[test]
fn sigterm_ends_a_real_certbot_and_the_lock_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    assert!(held_by(&lock, certbot.pid));

    let start = Instant::now();
    let out = run(&mut terminate_cmd(&["--yes"], dir.path()));
    let took = start.elapsed();
    eprintln!("terminate (SIGTERM to real certbot) took {took:?}");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        format!("released {}: pid {} exited\n", lock.display(), certbot.pid)
    );
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "lockscope: sent SIGTERM to pid {}; waiting up to 10s for the lock to be released\n",
            certbot.pid
        )
    );
    let state = probe(&lock).unwrap();
    assert!(
        matches!(state, LockState::Free | LockState::Absent),
        "{state:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// An OFD lock holder that forks: the child inherits the descriptor, so it shares the open file
/// description and with it the lock. Prints `locked PARENT CHILD`; the child waits for a signal.
const FORKING_OFD_HOLDER: &str = r#"
import fcntl, os, signal, struct, sys
F_OFD_SETLK = 37
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
fcntl.fcntl(fd, F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
child = os.fork()
if child == 0:
    while True:
        signal.pause()
print("locked", os.getpid(), child, flush=True)
sys.stdin.read()
"#;

/// A pid SIGKILLed on drop (a process the test did not spawn itself).
struct KillPidOnDrop(u32);

impl Drop for KillPidOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
    }
}

/// Ending the process that took an OFD lock does not release it while a forked child still has
/// the descriptor: the same open file description holds the lock. terminate must say so (exit 1,
/// the child named), not report "released" and a new holder.
#[test]
fn a_lock_shared_with_a_forked_child_is_not_reported_released() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let mut peer = ScriptedPeer::start(FORKING_OFD_HOLDER, &lock);
    let line = peer.read_line();
    let parent = peer.child.id();
    let child: u32 = line
        .strip_prefix(&format!("locked {parent} "))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("peer said {line:?}"));
    let _child = KillPidOnDrop(child);
    assert!(held_by(&lock, parent), "{:?}", probe(&lock));

    let start = Instant::now();
    let out = run(&mut terminate_cmd(&["--yes"], dir.path()));
    let took = start.elapsed();
    eprintln!("{}\ntook {took:?}", show(&out));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!text(&out.stdout).contains("released"), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{} is still held through the same open file description by pid {child}",
            lock.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("inherited") && stderr.contains(&format!("pid {parent} exited")),
        "{stderr}"
    );
    // It knew at once: no wait for the whole grace period.
    assert!(took < Duration::from_secs(5), "{took:?}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(peer.child.wait().unwrap().signal(), Some(15));
    assert!(held_by(&lock, child), "{:?}", probe(&lock));
}

#[test]
fn a_holder_ignoring_sigterm_is_still_held_after_the_grace_then_kill_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let (mut peer, pid) = start_stubborn(&lock);

    let start = Instant::now();
    let out = run(&mut terminate_cmd(&["--yes", "--grace", "1s"], dir.path()));
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "sent SIGTERM to pid {pid}; waiting up to 1s for the lock to be released"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{} is still held by pid {pid} after 1s; try --signal KILL",
            lock.display()
        )),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout), "");
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(alive(&mut peer.child));
    assert!(held_by(&lock, pid));

    let start = Instant::now();
    let out = run(&mut terminate_cmd(
        &["--yes", "--signal", "sigkill"],
        dir.path(),
    ));
    eprintln!("terminate --signal KILL took {:?}", start.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(text(&out.stderr).contains(&format!("sent SIGKILL to pid {pid}")));
    assert_eq!(probe(&lock).unwrap(), LockState::Free);
    let status = peer.child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));
}

#[test]
fn without_yes_and_no_terminal_it_refuses_and_signals_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let (mut peer, pid) = start_stubborn(&lock);
    let certbot_dir = tempfile::tempdir().unwrap();
    let certbot = certbot_lock_dir(certbot_dir.path()).expect_locked();

    // stdin /dev/null (run), then a pipe that even says "y".
    for (d, holder) in [(dir.path(), pid), (certbot_dir.path(), certbot.pid)] {
        let out = run(&mut terminate_cmd(&[], d));
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert_eq!(
            text(&out.stderr),
            format!(
                "lockscope: not ending pid {holder} without confirmation: stdin is not a \
                 terminal; pass --yes\n"
            )
        );
        let mut child = terminate_cmd(&[], d)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(b"y\n");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(text(&out.stderr).contains("pass --yes"), "{}", show(&out));
        assert!(held_by(&d.join(LOCK), holder));
    }
    assert!(alive(&mut peer.child));
}

/// The question on a terminal (`script` gives the command a pty): anything but y/yes refuses.
#[test]
fn on_a_terminal_it_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let (mut peer, pid) = start_stubborn(&lock);
    let on_tty = |answer: &str, args: &str| {
        let command = format!(
            "{} terminate {args} {}",
            env!("CARGO_BIN_EXE_lockscope"),
            dir.path().display()
        );
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(answer.as_bytes()).unwrap();
        // Keep stdin open until the command is done: script ends the session at its EOF.
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        out
    };
    let user = if is_root() {
        "root".to_string()
    } else {
        text(&run(Command::new("id").arg("-un")).stdout)
            .trim()
            .to_string()
    };
    let question = format!("End pid {pid} (user {user}): ");
    for answer in ["n\n", "\n", "yess\n"] {
        let out = on_tty(answer, "");
        assert_eq!(out.status.code(), Some(2), "{answer:?}: {}", show(&out));
        let said = text(&out.stdout); // the pty merges stderr into script's stdout
        assert!(said.contains(&question), "{said}");
        // The command line, escaped: the script's newlines are shown as \n, on one line.
        assert!(
            said.contains("python3 -c \\nimport fcntl, os, signal, sys\\nsignal"),
            "{said}"
        );
        assert!(said.contains("? [y/N] "), "{said}");
        assert!(said.contains("lockscope: not confirmed"), "{said}");
        assert!(held_by(&lock, pid));
    }
    let out = on_tty("yes\n", "--signal KILL");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(text(&out.stdout).contains(&format!("released {}", lock.display())));
    assert!(!alive(&mut peer.child));
}

#[test]
fn refuses_locks_nobody_holds() {
    let root = tempfile::tempdir().unwrap();
    let absent = root.path().join("absent");
    let stale = root.path().join("stale");
    std::fs::create_dir(&absent).unwrap();
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join(LOCK), b"").unwrap();
    for (dir, says) in [
        (&absent, "is not locked (absent): nothing to end"),
        (&stale, "is not locked (free): nothing to end"),
        (&root.path().join("missing"), "does not exist"),
    ] {
        let out = run(&mut terminate_cmd(&["--yes"], dir));
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(text(&out.stderr).contains(says), "{}", show(&out));
        assert_eq!(text(&out.stdout), "");
    }
    assert_eq!(std::fs::read(stale.join(LOCK)).unwrap(), b"");
}

#[test]
fn bad_signals_and_durations_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["--signal", "FOO"],
        ["--signal", "0"],
        ["--signal", "65"],
        ["--signal", "-9"],
        ["--grace", "soon"],
    ] {
        let out = run(&mut terminate_cmd(&args, dir.path()));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        assert!(text(&out.stderr).starts_with("error: "), "{}", show(&out));
    }
}

/// A lock this process holds cannot be reached from the CLI (its own process is never the
/// holder), so the library is asked.
#[test]
fn the_library_refuses_a_lock_this_process_holds() {
    let dir = tempfile::tempdir().unwrap();
    let _held = lockscope::lock_dir(dir.path()).unwrap();
    let e = terminate::identify(dir.path(), LOCK_FILE_NAME).unwrap_err();
    assert!(matches!(e, TerminateError::HeldByThisProcess { .. }), "{e}");
}

/// A certbot outside the pid namespace lockscope runs in: with its own /proc the holder's pid is
/// unknown (the probe says `held`, pid null); with the host's /proc a pid is found, but it is
/// /proc's numbering, not this process's. Both are refused; certbot lives on.
#[test]
fn refuses_a_holder_outside_this_pid_namespace() {
    assert!(is_root(), "needs root (unshare --pid)");
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let in_pidns = |mount_proc: bool, args: &[&str]| {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--kill-child"]);
        if mount_proc {
            cmd.arg("--mount-proc");
        }
        cmd.arg(env!("CARGO_BIN_EXE_lockscope"))
            .args(args)
            .arg(dir.path());
        run(&mut cmd)
    };
    let status = in_pidns(true, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v[0]["state"], "held");
    assert_eq!(v[0]["holder"]["pid"], serde_json::Value::Null);

    let out = in_pidns(true, &["terminate", "--yes", "--signal", "KILL"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("whose pid is not visible here"),
        "{}",
        show(&out)
    );
    let out = in_pidns(false, &["terminate", "--yes", "--signal", "KILL"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(&format!(
            "locked by pid {} as /proc numbers it, but /proc belongs to another pid namespace",
            certbot.pid
        )),
        "{}",
        show(&out)
    );
    assert!(held_by(&lock, certbot.pid));
}

/// The re-check after pinning: the identified process (same pid, same start time, alive) let go
/// of the lock before it was pinned. Without the fresh probe it would be signalled.
#[test]
fn pin_refuses_a_process_that_no_longer_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let (mut peer, pid) = start_stubborn(&lock);
    let target = terminate::identify(dir.path(), LOCK_FILE_NAME).unwrap();
    assert_eq!(target.pid, pid);
    if is_root() {
        assert_eq!(target.user.as_deref(), Some("root"));
    }
    assert!(
        target
            .command
            .as_deref()
            .unwrap()
            .contains("python3 -c \nimport fcntl")
    );
    assert_eq!(peer.ask("unlock"), "unlocked");

    let e = target.pin().map(|_| ()).unwrap_err();
    assert!(
        matches!(&e, TerminateError::NoLongerHolds { pid: p, now, .. } if *p == pid && now == "free"),
        "{e}"
    );
    assert!(alive(&mut peer.child));

    // Pinned while it holds, it is signalled; SIGKILL ends it.
    let (mut peer, pid) = start_stubborn(&lock);
    let pinned = terminate::identify(dir.path(), LOCK_FILE_NAME)
        .unwrap()
        .pin()
        .unwrap();
    pinned.signal(terminate::Signal::kill()).unwrap();
    let outcome = pinned.wait_released(Duration::from_secs(5)).unwrap();
    assert_eq!(outcome, terminate::Outcome::Released { exited: true });
    assert!(!alive(&mut peer.child), "pid {pid}");
}

// ---- A real pid reuse, inside a pid namespace ------------------------------------------------

const CHILD_ENV: &str = "LOCKSCOPE_TERMINATE_PIDNS_CHILD";
const CHILD_DONE: &str = "terminate-pidns-child: done";

/// The libtest name of [`pid_reuse_child`] (its module path without the crate name).
fn child_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::pid_reuse_child")
}

/// Runs [`pid_reuse_child`] as pid 1 of a new pid namespace with its own /proc, where
/// `/proc/sys/kernel/ns_last_pid` chooses the next pid.
#[test]
fn pin_refuses_a_recycled_pid() {
    assert!(is_root(), "needs root (unshare --pid, ns_last_pid)");
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            &child_test_name(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(CHILD_DONE),
        "the child test did not run: {said}"
    );
}

/// Sets the pid the next process in this pid namespace gets, and starts `start()` until it has
/// it (another process may take it first; in a fresh namespace nothing else runs).
fn start_with_pid<T>(pid: u32, mut start: impl FnMut() -> (T, u32)) -> T {
    for _ in 0..20 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
        let (started, got) = start();
        if got == pid {
            return started;
        }
        drop(started);
    }
    panic!("could not get pid {pid} again");
}

/// Not a test of its own (so ignored: it is neither counted nor run with the others): when
/// [`pin_refuses_a_recycled_pid`] runs this binary in a pid namespace with `--ignored --exact`
/// and `LOCKSCOPE_TERMINATE_PIDNS_CHILD` set, this makes a real pid reuse happen.
///
/// Holder A has pid P and is identified (pid P, A's start time). A is killed; P is given to a
/// new process B, which takes the same lock. A fresh probe names P as the holder, so only the
/// start time tells B from A: pinning the stale identity must refuse, and B must not get the
/// signal. Then the same with a B that does not hold the lock (`sleep`).
#[test]
#[ignore = "helper: terminate::pin_refuses_a_recycled_pid runs it in a pid namespace"]
fn pid_reuse_child() {
    assert!(
        std::env::var_os(CHILD_ENV).is_some(),
        "a helper, not a test: pin_refuses_a_recycled_pid runs it with {CHILD_ENV} set"
    );
    assert_eq!(std::process::id(), 1, "not pid 1 of a new pid namespace");
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);

    let (a, p) = start_stubborn(&lock);
    let stale = terminate::identify(dir.path(), LOCK_FILE_NAME).unwrap();
    assert_eq!(stale.pid, p);
    drop(a); // SIGKILL + reap: P is free again, the lock file stays (free)
    assert_eq!(probe(&lock).unwrap(), LockState::Free);
    // Clock ticks are 10 ms: B must start in a later tick than A.
    std::thread::sleep(Duration::from_millis(50));

    let mut b = start_with_pid(p, || start_stubborn(&lock));
    let now = terminate::identify(dir.path(), LOCK_FILE_NAME).unwrap();
    assert_eq!(now.pid, p, "B holds the lock with A's pid");
    assert_ne!(now.start_time, stale.start_time);
    let e = stale.pin().map(|_| ()).unwrap_err();
    assert!(
        matches!(e, TerminateError::PidReused { pid } if pid == p),
        "{e}"
    );
    assert!(alive(&mut b.child), "B was signalled");
    assert!(held_by(&lock, p));
    // The current identity pins, and B is ended.
    let pinned = now.pin().unwrap();
    pinned.signal(terminate::Signal::kill()).unwrap();
    assert_eq!(
        pinned.wait_released(Duration::from_secs(5)).unwrap(),
        terminate::Outcome::Released { exited: true }
    );
    b.child.wait().unwrap();

    // P recycled by a process that does not hold the lock.
    let mut sleeper = start_with_pid(p, || {
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        (KillOnDrop(child), pid)
    });
    let e = stale.pin().map(|_| ()).unwrap_err();
    assert!(
        matches!(e, TerminateError::PidReused { pid } if pid == p),
        "{e}"
    );
    assert!(alive(&mut sleeper.0), "the sleeper was signalled");
    println!("{CHILD_DONE}");
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An unprivileged user asking to end root's certbot is refused before anything is sent, with
/// what to do instead (not the kernel's bare "Operation not permitted"); the holder lives on.
#[test]
fn another_users_holder_is_refused_before_anything_is_sent() {
    if !is_root() {
        panic!("this test needs root: it starts certbot as root and lockscope as nobody");
    }
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let certbot = certbot_lock_dir(root.path()).expect_locked();
    let out = run(unprivileged_lockscope()
        .args(["terminate", "--yes"])
        .arg(root.path()));
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "pid {} belongs to root, and this user may not signal another user's process: \
             run lockscope as root (sudo), or as root",
            certbot.pid
        )),
        "{stderr}"
    );
    assert!(held_by(&root.path().join(LOCK_FILE_NAME), certbot.pid));
    certbot.release();
}

/// `resume` lets a stopped holder run again, and it keeps its lock.
#[test]
fn a_stopped_holder_is_resumed_and_keeps_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    // SAFETY: kill has no memory preconditions; pid is our own child.
    assert_eq!(unsafe { libc::kill(certbot.pid as i32, libc::SIGSTOP) }, 0);
    let state = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .chars()
            .next()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while state(certbot.pid) != 'T' {
        assert!(Instant::now() < deadline, "never stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
    let target = terminate::resume(dir.path(), LOCK_FILE_NAME).unwrap();
    assert_eq!(target.pid, certbot.pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    while state(certbot.pid) == 'T' {
        assert!(Instant::now() < deadline, "still stopped after resume");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(held_by(&dir.path().join(LOCK_FILE_NAME), certbot.pid));
    certbot.release();
}
