//! Why a lock is stuck, against real certbot processes: what the holder waits for (a prompt on a
//! terminal, a hook), since when, its lock set, and the hazards the state alone hides (an
//! orphaned lock after `rm`, a holder in a pid namespace we cannot see), through `status
//! --json`, `watch --json` and `explain`.

use crate::common::{LOCK, WatchStream, certbot_lock_dir, certbot_python, lockscope, peer_script};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A peer mode of `tests/peers/certbot_peer.py` that prints one line when ready.
struct Peer {
    child: Child,
    line: String,
}

impl Peer {
    fn start(args: &[&std::ffi::OsStr]) -> Peer {
        let mut child = Command::new(certbot_python())
            .arg(peer_script())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start certbot peer");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read peer");
        Peer { child, line }
    }

    /// The numbers after the ready line's first word.
    fn numbers(&self) -> Vec<u32> {
        self.line
            .split_whitespace()
            .skip(1)
            .map(|n| {
                n.parse()
                    .unwrap_or_else(|_| panic!("peer said {:?}", self.line))
            })
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_json(dirs: &[&Path]) -> Vec<Value> {
    let out = lockscope()
        .arg("status")
        .arg("--json")
        .args(dirs)
        .output()
        .expect("run status");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("status JSON")
}

fn time_of(v: &Value) -> jiff::Timestamp {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn seconds_between(a: jiff::Timestamp, b: jiff::Timestamp) -> f64 {
    (b.as_millisecond() - a.as_millisecond()).abs() as f64 / 1000.0
}

fn canonical(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .expect("canonicalize")
        .to_string_lossy()
        .into_owned()
}

fn kinds(record: &Value) -> Vec<&str> {
    // Absent when there is nothing to warn about.
    record["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|w| w["kind"].as_str().expect("kind"))
                .collect()
        })
        .unwrap_or_default()
}

/// certbot at its interactive prompt (the most common stuck lock): `certbot register` on a
/// pseudo-terminal, holding its config, work and logs directories.
#[test]
fn certbot_at_a_prompt_waits_for_terminal_input_and_holds_three_locks() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["config", "work", "logs"]
        .iter()
        .map(|d| root.path().join(d))
        .collect();
    let peer = Peer::start(&[
        "prompt".as_ref(),
        dirs[0].as_os_str(),
        dirs[1].as_os_str(),
        dirs[2].as_os_str(),
    ]);
    assert!(peer.line.starts_with("prompt "), "{}", peer.line);
    let pid = peer.numbers()[0];

    // The peer reports once certbot holds its locks; certbot reaches its prompt a moment later
    // (under load it was still "running" at the first look).
    let at_prompt = |records: &[Value]| {
        records.iter().all(|r| {
            r["holder"]["waiting_for"]
                .as_str()
                .is_some_and(|w| w.starts_with("terminal input on /dev/pts/"))
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let records = loop {
        let records = status_json(&[&dirs[0], &dirs[1], &dirs[2]]);
        if at_prompt(&records) || std::time::Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    for (record, dir) in records.iter().zip(&dirs) {
        assert_eq!(record["state"], "held", "{record}");
        let holder = &record["holder"];
        assert_eq!(holder["pid"], pid, "{record}");
        let waiting = holder["waiting_for"].as_str().unwrap_or_default();
        assert!(
            waiting.starts_with("terminal input on /dev/pts/"),
            "{record}"
        );
        assert_eq!(holder["process_state"], "sleeping");
        assert_eq!(holder["user"], whoami().as_str(), "{record}");
        // The lock set: the two other directories, as /proc spells them.
        let mut expected: Vec<String> = dirs
            .iter()
            .filter(|d| *d != dir)
            .map(|d| canonical(d))
            .collect();
        expected.sort();
        let lock_set: Vec<String> = record["lock_set"]
            .as_array()
            .expect("lock_set")
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        assert_eq!(lock_set, expected, "{record}");
        // certbot creates each lock file as it locks, within a second or two of starting.
        assert_eq!(record["held_since_source"], "lock-file-created", "{record}");
        let gap = seconds_between(time_of(&holder["started"]), time_of(&record["held_since"]));
        assert!(gap < 3.0, "held since {gap} s after the start: {record}");
    }

    // Asked alone, a directory's lock set comes from the holder's descriptors instead of the
    // other rows of the same call: the same answer.
    for (record, dir) in records.iter().zip(&dirs) {
        let alone = &status_json(&[dir])[0];
        assert_eq!(alone["lock_set"], record["lock_set"], "{alone}");
    }

    let explained = lockscope()
        .arg("explain")
        .arg(&dirs[0])
        .output()
        .expect("explain");
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(explained.status.success(), "{explained:?}");
    assert!(text.contains(&format!("locked by pid {pid}")), "{text}");
    assert!(
        text.contains("waiting for terminal input on /dev/pts/"),
        "{text}"
    );
    assert!(text.contains("waiting at a prompt"), "{text}");
    assert!(text.contains("also holds the locks of"), "{text}");
    assert!(text.contains("Do not delete the lock file"), "{text}");
}

fn whoami() -> String {
    String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// certbot's release removes its lock file a moment before it lets go of the lock: the probe of
/// that delete event sees an orphaned lock. What the watcher shows once the release is done has
/// no warning (the warning stayed until the next change of state, and the app showed an
/// "Orphaned lock" badge after every ordinary release).
#[test]
fn a_watcher_shows_no_orphan_after_certbots_release() {
    let dir = tempfile::tempdir().unwrap();
    let mut watch = WatchStream::spawn(
        lockscope()
            .args(["watch", "--json", "--interval", "1h"])
            .arg(dir.path()),
    );
    assert!(watch.lines_until(Duration::from_secs(10), |seen| seen.len() == 1));
    for _ in 0..5 {
        let holder = certbot_lock_dir(dir.path()).expect_locked();
        assert!(
            watch.lines_until(Duration::from_secs(10), |seen| seen
                .last()
                .is_some_and(|r| r["state"] == "held")),
            "{}",
            watch.transcript()
        );
        holder.release();
        assert!(
            watch.lines_until(Duration::from_secs(10), |seen| seen
                .last()
                .is_some_and(|r| r["state"] == "absent" && r.get("warnings").is_none())),
            "the last line after the release: {}",
            watch.transcript()
        );
    }
}

/// A watcher started before certbot saw the lock taken: `held_since` is its own observation.
#[test]
fn a_watcher_that_saw_the_lock_taken_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut watch = WatchStream::spawn(
        lockscope()
            .args(["watch", "--json", "--interval", "100ms"])
            .arg(dir.path()),
    );
    assert!(watch.lines_until(Duration::from_secs(10), |seen| seen.len() == 1));
    let holder = certbot_lock_dir(dir.path()).expect_locked();
    assert!(
        watch.lines_until(Duration::from_secs(10), |seen| seen
            .iter()
            .any(|r| r["state"] == "held")),
        "{}",
        watch.transcript()
    );
    let held = watch.seen.iter().find(|r| r["state"] == "held").unwrap();
    assert_eq!(held["holder"]["pid"], holder.pid);
    assert_eq!(held["held_since_source"], "observed", "{held}");
    let gap = seconds_between(time_of(&held["time"]), time_of(&held["held_since"]));
    assert!(gap < 1.0, "{held}");
}

/// certbot running a hook: the child is listed with its command; `terminate` ends certbot.
#[test]
fn a_holders_child_is_listed_and_terminate_ends_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let mut peer = Peer::start(&["hold-with-child".as_ref(), dir.path().as_os_str()]);
    let [pid, child] = peer.numbers()[..] else {
        panic!("peer said {:?}", peer.line)
    };
    let _reap_child = KillOnDrop(child);

    let record = &status_json(&[dir.path()])[0];
    let holder = &record["holder"];
    assert_eq!(holder["pid"], pid, "{record}");
    let children = holder["children"].as_array().expect("children");
    let listed = children
        .iter()
        .find(|c| c["pid"] == child)
        .unwrap_or_else(|| panic!("child {child} not listed: {record}"));
    assert_eq!(listed["command"], "sleep 300");
    assert_eq!(listed["parent"], pid);
    assert!(listed["started"].is_string(), "{record}");
    assert_eq!(
        holder["waiting_for"],
        format!("child process {child} to exit"),
        "{record}"
    );
    let explained = lockscope().arg("explain").arg(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(text.contains(&format!("Child process {child}")), "{text}");
    assert!(text.contains("a hook?"), "{text}");

    let ended = lockscope()
        .args(["terminate", "--yes"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
    let status = peer.child.wait().expect("wait for certbot");
    assert!(
        !status.success(),
        "certbot was ended by a signal: {status:?}"
    );
    // certbot died by the signal, so its lock file stays behind, unlocked.
    let after = &status_json(&[dir.path()])[0];
    assert_eq!(after["state"], "free", "{after}");
    let lock = lockscope::lock_dir(dir.path())
        .unwrap_or_else(|e| panic!("the lock cannot be taken after terminate: {e}"));
    drop(lock);
}

struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
    }
}

/// The orphaned-lock check walks only the descriptors of what a holder locks, and stops when
/// it has found them: a holder with thousands of descriptors, its lock file opened last (the
/// walk's worst case), is still found, and so is one that opened it first.
#[test]
fn an_orphan_is_found_whatever_else_its_holder_has_open() {
    for lock_first in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(LOCK);
        let script = "import fcntl, os, sys\n\
                      first = sys.argv[2] == 'first'\n\
                      def lock():\n    \
                          fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n    \
                          fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    \
                          return fd\n\
                      fd = lock() if first else None\n\
                      others = [os.open('/dev/null', os.O_RDONLY) for _ in range(3000)]\n\
                      fd = fd if first else lock()\n\
                      print('locked', flush=True)\n\
                      sys.stdin.read()\n";
        let mut holder = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&lock)
            .arg(if lock_first { "first" } else { "last" })
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "locked");
        std::fs::remove_file(&lock).unwrap();
        let record = &status_json(&[dir.path()])[0];
        let _ = holder.kill();
        let _ = holder.wait();
        assert_eq!(record["state"], "absent", "{record}");
        assert_eq!(
            kinds(record),
            ["orphaned-lock"],
            "lock opened {lock_first}: {record}"
        );
        assert_eq!(record["warnings"][0]["holder"]["pid"], holder.id());
    }
}

/// A held lock file replaced by a rename (a new file moved over its name) while another
/// holder of the same filesystem holds locks on files that still have their names: the
/// replaced file's holder is named, the others are not.
#[test]
fn a_lock_file_replaced_by_a_rename_is_an_orphaned_lock() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["config", "work", "logs"]
        .iter()
        .map(|d| root.path().join(d))
        .collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    let other = Peer::start(&[
        "hold-many".as_ref(),
        dirs[1].as_os_str(),
        dirs[2].as_os_str(),
    ]);
    assert_eq!(other.line.trim(), "locked 2");
    let replaced = Peer::start(&["hold-many".as_ref(), dirs[0].as_os_str()]);
    assert_eq!(replaced.line.trim(), "locked 1");
    let fresh = dirs[0].join("new-lock");
    std::fs::write(&fresh, b"").unwrap();
    std::fs::rename(&fresh, dirs[0].join(LOCK)).unwrap();
    let record = status_json(&[&dirs[0]]).remove(0);
    let others = status_json(&[&dirs[1], &dirs[2]]);
    let replaced_pid = replaced.child.id();
    drop((other, replaced));
    assert_eq!(record["state"], "free", "{record}");
    assert_eq!(kinds(&record), ["orphaned-lock"], "{record}");
    assert_eq!(record["warnings"][0]["holder"]["pid"], replaced_pid);
    for record in others {
        assert_eq!(record["state"], "held", "{record}");
        assert!(record.get("warnings").is_none(), "{record}");
    }
}

/// A holder of OFD locks (the lock table shows no pid for them) on three directories: each
/// directory's lock set names the other two, asked together or alone.
#[test]
fn an_ofd_holders_lock_set_is_found_asked_together_or_alone() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["config", "work", "logs"]
        .iter()
        .map(|d| root.path().join(d))
        .collect();
    let script = "import fcntl, os, struct, sys\n\
                  fds = []\n\
                  for d in sys.argv[1:]:\n    \
                      os.mkdir(d)\n    \
                      fd = os.open(os.path.join(d, '.certbot.lock'), os.O_RDWR | os.O_CREAT, 0o600)\n    \
                      fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))\n    \
                      fds.append(fd)\n\
                  print('locked', flush=True)\n\
                  sys.stdin.read()\n";
    let mut holder = Command::new("python3")
        .args(["-c", script])
        .args(&dirs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let together = status_json(&[&dirs[0], &dirs[1], &dirs[2]]);
    let alone: Vec<Value> = dirs.iter().map(|d| status_json(&[d]).remove(0)).collect();
    let _ = holder.kill();
    let _ = holder.wait();
    for (i, dir) in dirs.iter().enumerate() {
        let mut expected: Vec<String> = dirs
            .iter()
            .filter(|d| *d != dir)
            .map(|d| canonical(d))
            .collect();
        expected.sort();
        for record in [&together[i], &alone[i]] {
            assert_eq!(record["state"], "held", "{record}");
            assert_eq!(record["holder"]["pid"], holder.id(), "{record}");
            assert_eq!(record["lock_set"], serde_json::json!(expected), "{record}");
        }
    }
}

/// `rm` of a held lock file (certbot PR 4654's "fix"): the path says absent, but certbot is
/// still running here and a second one can start beside it. Before this warning existed,
/// lockscope said plain `absent`.
#[test]
fn removing_a_held_lock_file_is_an_orphaned_lock_in_status_watch_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let first = certbot_lock_dir(dir.path()).expect_locked();
    let mut watch = WatchStream::spawn(
        lockscope()
            .args(["watch", "--json", "--interval", "100ms"])
            .arg(dir.path()),
    );
    assert!(watch.lines_until(Duration::from_secs(10), |seen| {
        seen.first().is_some_and(|r| r["state"] == "held")
    }));
    std::fs::remove_file(dir.path().join(LOCK)).unwrap();

    let orphan_seen = |r: &Value| {
        r["state"] == "absent"
            && r["warnings"].as_array().is_some_and(|w| {
                w.iter()
                    .any(|w| w["kind"] == "orphaned-lock" && w["holder"]["pid"] == first.pid)
            })
    };
    assert!(
        watch.lines_until(Duration::from_secs(10), |seen| seen.iter().any(orphan_seen)),
        "{}",
        watch.transcript()
    );

    let record = &status_json(&[dir.path()])[0];
    assert_eq!(record["state"], "absent", "{record}");
    assert_eq!(kinds(record), ["orphaned-lock"], "{record}");
    assert_eq!(record["warnings"][0]["holder"]["pid"], first.pid);
    let text = String::from_utf8_lossy(
        &lockscope()
            .arg("explain")
            .arg(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(text.contains("Warning (orphaned-lock)"), "{text}");
    assert!(
        text.contains(&format!("until pid {} has finished", first.pid)),
        "{text}"
    );

    // A second certbot now starts beside the first: held, and still orphaned.
    let second = certbot_lock_dir(dir.path()).expect_locked();
    let record = &status_json(&[dir.path()])[0];
    assert_eq!(record["holder"]["pid"], second.pid, "{record}");
    assert_eq!(kinds(record), ["orphaned-lock"], "{record}");
    assert_eq!(record["warnings"][0]["holder"]["pid"], first.pid);
    drop(second);
    drop(first);
    let record = &status_json(&[dir.path()])[0];
    assert!(kinds(record).is_empty(), "{record}");
}

/// A holder outside the pid namespace lockscope runs in: held, holder not visible, warned.
#[test]
fn a_holder_outside_our_pid_namespace_is_held_and_not_visible() {
    if !crate::common::is_root() {
        panic!("this test needs root (unshare --pid); CI runs as root");
    }
    let dir = tempfile::tempdir().unwrap();
    let _holder = certbot_lock_dir(dir.path()).expect_locked();
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_lockscope"))
        .args(["status", "--json"])
        .arg(dir.path())
        .output()
        .expect("unshare");
    assert!(out.status.success(), "{out:?}");
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let record = &records[0];
    assert_eq!(record["state"], "held", "{record}");
    assert!(record["holder"]["pid"].is_null(), "{record}");
    assert_eq!(kinds(record), ["holder-not-visible"], "{record}");
}

/// Times people read are local, with the zone's name (jiff reads the tz database); `--utc`.
#[test]
fn explain_shows_local_time_with_its_zone_or_utc() {
    let dir = tempfile::tempdir().unwrap();
    let _holder = certbot_lock_dir(dir.path()).expect_locked();
    let explain = |tz: &str, extra: &[&str]| {
        let out = lockscope()
            .arg("explain")
            .args(extra)
            .arg(dir.path())
            .env("TZ", tz)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // Winter or summer time, whichever is now.
    let berlin = explain("Europe/Berlin", &[]);
    assert!(
        berlin.contains(" CET, ") || berlin.contains(" CEST, "),
        "{berlin}"
    );
    let new_york = explain("America/New_York", &[]);
    assert!(
        new_york.contains(" EST, ") || new_york.contains(" EDT, "),
        "{new_york}"
    );
    let utc = explain("Europe/Berlin", &["--utc"]);
    assert!(utc.contains(" UTC, ") && !utc.contains("CET"), "{utc}");
}

fn explain_text(dir: &Path) -> String {
    let out = lockscope().arg("explain").arg(dir).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn birth(path: &Path) -> jiff::Timestamp {
    let created = std::fs::metadata(path).unwrap().created().unwrap();
    jiff::Timestamp::try_from(created).unwrap()
}

/// Item 9 of issue 20: a long-running holder takes a leftover lock file. Nothing on the file
/// records when (certbot opens it without truncating: its times do not move), so the file's
/// birth is only the earliest the lock can have been taken, and `explain` must not present it
/// as when the lock was taken. A leftover file older than the holder is not claimed at all.
#[test]
fn a_leftover_lock_file_is_not_presented_as_when_the_lock_was_taken() {
    use std::io::Write;
    // The holder runs first; the leftover file appears later, then ages before it is locked.
    let dir = tempfile::tempdir().unwrap();
    let mut peer = Command::new(certbot_python())
        .arg(peer_script())
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start certbot peer");
    // Age, not synchronization: a process's start time is known to a second at best
    // (`/proc/stat`'s boot time has whole seconds), so the file must be clearly younger.
    std::thread::sleep(Duration::from_millis(1500));
    let lock = dir.path().join(LOCK);
    std::fs::File::create(&lock).unwrap();
    let born = birth(&lock);
    // Age, not synchronization: the lock is taken well after the file's birth.
    std::thread::sleep(Duration::from_millis(2500));
    let mut stdin = peer.stdin.take().unwrap();
    writeln!(stdin, "lock {}", dir.path().display()).unwrap();
    let mut line = String::new();
    BufReader::new(peer.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("locked "), "{line}");
    let taken = jiff::Timestamp::now();
    let record = &status_json(&[dir.path()])[0];
    assert_eq!(record["holder"]["pid"], peer.id(), "{record}");
    // Lower-bound safe: never later than the truth (the lock was taken just now) ...
    let since = time_of(&record["held_since"]);
    assert!(since <= taken, "{record}");
    assert_eq!(record["held_since_source"], "lock-file-created", "{record}");
    assert!(seconds_between(since, born) < 0.01, "born {born}: {record}");
    // ... and said to be only that.
    let text = explain_text(dir.path());
    assert!(
        text.contains("Taken at the earliest") && !text.contains("Held since"),
        "explain presents the lock file's birth as when the lock was taken:\n{text}"
    );
    let _ = peer.kill();
    let _ = peer.wait();

    // A leftover older than its holder: the holder's start, also only the earliest.
    let old = tempfile::tempdir().unwrap();
    let lock = old.path().join(LOCK);
    std::fs::File::create(&lock).unwrap();
    let born = birth(&lock);
    // `touch -d` moves the file's mtime back (the birth stays): lockscope must not use it.
    let touched = Command::new("touch")
        .args(["-d", "10 minutes ago"])
        .arg(&lock)
        .status()
        .unwrap();
    assert!(touched.success());
    std::thread::sleep(Duration::from_millis(1500));
    let certbot = certbot_lock_dir(old.path()).expect_locked();
    let record = &status_json(&[old.path()])[0];
    assert_eq!(record["holder"]["pid"], certbot.pid, "{record}");
    assert_eq!(record["held_since_source"], "holder-started", "{record}");
    let since = time_of(&record["held_since"]);
    assert!(
        seconds_between(born, since) >= 1.0 && since <= jiff::Timestamp::now(),
        "held since {since}, file born {born}: {record}"
    );
    let text = explain_text(old.path());
    assert!(
        text.contains("Taken at the earliest") && text.contains("when the holder started"),
        "{text}"
    );
}

/// Item 10 of issue 20: an ordinary user asks about a lock root's process holds. Where the
/// holder cannot be looked up, the cause is permission, not a container: say so and what to run.
#[test]
fn a_lock_held_by_root_is_explained_to_an_ordinary_user_as_a_permission_matter() {
    use crate::common::{lockscope_hold, lockscope_unprivileged};
    use std::os::unix::fs::PermissionsExt;
    if !crate::common::is_root() {
        panic!("this test needs root (a root holder, setpriv); CI runs as root");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // root's OFD lock (the app's Acquire, `lockscope hold`): its owner is only found in
    // /proc/<pid>/fd, which an ordinary user may not read for root's processes.
    let mut hold = lockscope_hold(&["--for", "60s", dir.path().to_str().unwrap()]);
    assert!(hold.line.starts_with("held "), "{}", hold.line);
    let out = lockscope_unprivileged(&["status".as_ref(), "--json".as_ref(), dir.path().as_ref()]);
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).expect("status JSON");
    let record = &records[0];
    assert_eq!(record["state"], "held", "{record}");
    assert_eq!(kinds(record), ["holder-not-permitted"], "{record}");
    let message = record["warnings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("belongs to root") && message.contains("as root"),
        "{record}"
    );
    let out = lockscope_unprivileged(&["explain".as_ref(), dir.path().as_ref()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("sudo lockscope explain {}", dir.path().display())),
        "{text}"
    );
    assert!(
        !text.contains("container") && !text.contains("not visible"),
        "container advice for a permission matter:\n{text}"
    );
    hold.signal("TERM");
    hold.wait_exit(Duration::from_secs(10));

    // root's certbot (a classic lock): the lock table names it; nothing to warn about.
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let out = lockscope_unprivileged(&["status".as_ref(), "--json".as_ref(), dir.path().as_ref()]);
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(records[0]["holder"]["pid"], certbot.pid, "{}", records[0]);
    assert_eq!(records[0]["holder"]["user"], "root", "{}", records[0]);
    assert!(kinds(&records[0]).is_empty(), "{}", records[0]);
}

/// `status --all` finds certbot's locks without being told where: certbot at its prompt with
/// `--config-dir`, `--work-dir` and `--logs-dir` in a temporary directory (all three, from the
/// lock table and from its command line), and a lock held in a directory no option names (from
/// the lock table alone). Each row has the status keys plus `found_by`.
#[test]
fn status_all_finds_certbots_locks_without_being_told_where() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["config", "work", "logs", "elsewhere"]
        .iter()
        .map(|d| root.path().join(d))
        .collect();
    std::fs::create_dir(&dirs[3]).unwrap();
    let prompt = Peer::start(&[
        "prompt".as_ref(),
        dirs[0].as_os_str(),
        dirs[1].as_os_str(),
        dirs[2].as_os_str(),
    ]);
    assert!(prompt.line.starts_with("prompt "), "{}", prompt.line);
    let certbot_pid = prompt.numbers()[0];
    let other = Peer::start(&["hold-many".as_ref(), dirs[3].as_os_str()]);
    assert_eq!(other.line.trim(), "locked 1");
    let out = lockscope()
        .args(["status", "--all", "--json"])
        .output()
        .expect("status --all");
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON rows");
    let table = lockscope()
        .args(["status", "--all"])
        .output()
        .expect("status --all");
    drop(prompt);
    drop(other);
    assert!(out.status.success(), "{out:?}");
    let row_of = |dir: &Path| {
        rows.iter()
            .find(|r| r["dir"] == canonical(dir))
            .unwrap_or_else(|| panic!("{} not found: {rows:?}", dir.display()))
    };
    for dir in &dirs[..3] {
        let row = row_of(dir);
        assert_eq!(row["state"], "held", "{row}");
        assert_eq!(row["holder"]["pid"], certbot_pid, "{row}");
        assert_eq!(
            row["found_by"],
            serde_json::json!(["lock-table", "certbot-process"]),
            "{row}"
        );
    }
    let elsewhere = row_of(&dirs[3]);
    assert_eq!(elsewhere["state"], "held", "{elsewhere}");
    assert_eq!(elsewhere["found_by"], serde_json::json!(["lock-table"]));
    // The status keys, in their order, then found_by (each object's top-level keys are the
    // lines indented by four spaces).
    let raw = String::from_utf8_lossy(&out.stdout);
    let first: Vec<&str> = raw
        .split("\n  }")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("    \"")?.split('"').next())
        .collect();
    assert_eq!(first.first(), Some(&"host"), "{first:?}");
    assert_eq!(first.last(), Some(&"found_by"), "{first:?}");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("(lock-table, certbot-process)") && text.contains(&certbot_pid.to_string()),
        "{text}"
    );
}
