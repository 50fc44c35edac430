//! The monitor engine against real holders (certbot, child `lockscope hold`, a raw fcntl user):
//! every transition is seen with the right cause, and an idle engine makes no event-driven work.

use crate::common::*;
use lockscope::monitor::{Cause, Change, DirState, LockState, Monitor, MonitorOptions, Update};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

fn start(interval_ms: u64) -> (Monitor, Receiver<Update>) {
    let options = MonitorOptions {
        interval: Duration::from_millis(interval_ms),
        ..Default::default()
    };
    Monitor::start(options, || {}).expect("start monitor")
}

/// The next change for `dir`, failing after `limit`. Changes of other directories that arrive
/// meanwhile are kept for later calls (the engine reports a batch in no particular order).
#[track_caller]
fn next_change(updates: &Receiver<Update>, dir: &Path, limit: Duration) -> Change {
    thread_local! {
        static BACKLOG: std::cell::RefCell<Vec<Change>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if let Some(c) =
        BACKLOG.with_borrow_mut(|b| b.iter().position(|c| c.dir == dir).map(|i| b.remove(i)))
    {
        return c;
    }
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match updates.recv_timeout(left) {
            Ok(Update::Change(c)) if c.dir == dir => return c,
            Ok(Update::Change(c)) => BACKLOG.with_borrow_mut(|b| b.push(c)),
            Ok(Update::Notice(_)) => continue,
            Err(e) => panic!("no change for {} within {limit:?}: {e}", dir.display()),
        }
    }
}

#[track_caller]
fn expect_change(updates: &Receiver<Update>, dir: &Path, state: &str, cause: Cause) -> Change {
    let c = next_change(updates, dir, Duration::from_secs(5));
    assert_eq!((c.new.name(), c.cause), (state, cause), "change: {c:?}");
    c
}

/// Waits until `dir` is watched again (after it was made anew): touches a file beside the lock
/// until the monitor counts a filesystem event, instead of sleeping for a guessed number of
/// passes.
#[track_caller]
fn wait_until_watched(monitor: &Monitor, dir: &Path) {
    let started = Instant::now();
    let before = monitor.stats().fs_events;
    for n in 0.. {
        let marker = dir.join(format!(".watched-{n}"));
        std::fs::write(&marker, b"").unwrap();
        std::fs::remove_file(&marker).unwrap();
        let seen = Instant::now();
        while seen.elapsed() < Duration::from_millis(50) {
            if monitor.stats().fs_events > before {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} was not watched again within 10 s",
            dir.display()
        );
    }
}

/// For tests with a short interval: a pass may see a change a moment before its event is
/// processed, so either cause is accepted, but a filesystem event must have arrived since
/// `events_before` (the directory is really watched).
#[track_caller]
fn expect_change_with_event(
    updates: &Receiver<Update>,
    monitor: &Monitor,
    dir: &Path,
    state: &str,
    events_before: u64,
) -> Change {
    let c = next_change(updates, dir, Duration::from_secs(5));
    assert_eq!(c.new.name(), state, "change: {c:?}");
    assert!(
        matches!(c.cause, Cause::FsEvent | Cause::Poll),
        "change: {c:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while monitor.stats().fs_events <= events_before {
        assert!(
            Instant::now() < deadline,
            "no filesystem event for {}: not watched",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    c
}

fn held_pid(change: &Change) -> Option<u32> {
    match &change.new {
        DirState::Lock(LockState::Held(h)) => h.pid,
        _ => None,
    }
}

#[test]
fn certbot_run_is_absent_held_absent_by_events() {
    let dir = tempfile::tempdir().unwrap();
    let (monitor, updates) = start(60_000); // no periodic pass during the test: events only
    monitor.add(dir.path());
    let first = expect_change(&updates, dir.path(), "absent", Cause::Initial);
    assert_eq!(first.old, None);
    assert_eq!(first.lock_file, dir.path().join(LOCK));

    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let held = expect_change(&updates, dir.path(), "held", Cause::FsEvent);
    assert_eq!(
        held.old,
        Some(DirState::Lock(LockState::Absent)),
        "no transient 'free' between create and lock"
    );
    assert_eq!(held_pid(&held), Some(certbot.pid));

    certbot.release();
    expect_change(&updates, dir.path(), "absent", Cause::FsEvent);
}

#[test]
fn lock_on_an_existing_file_and_sigkill_are_seen_by_events() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(LOCK), b"").unwrap();
    let (monitor, updates) = start(60_000);
    monitor.add(dir.path());
    expect_change(&updates, dir.path(), "free", Cause::Initial);

    // certbot (classic lock) on the existing file, then SIGKILL.
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let held = expect_change(&updates, dir.path(), "held", Cause::FsEvent);
    assert_eq!(held_pid(&held), Some(certbot.pid));
    certbot.kill();
    expect_change(&updates, dir.path(), "free", Cause::FsEvent);

    // lockscope (OFD lock: dropped after the close event) on the existing file, then SIGKILL.
    let mut holder = lockscope_hold(&[dir.path().to_str().unwrap()]);
    let held = expect_change(&updates, dir.path(), "held", Cause::FsEvent);
    assert_eq!(held_pid(&held), Some(holder.child.id()));
    holder.child.kill().unwrap();
    holder.child.wait().unwrap();
    expect_change(&updates, dir.path(), "free", Cause::FsEvent);
}

/// A lock taken on a file that was opened before the monitor started shows no event at all:
/// only the periodic pass can see it.
#[test]
fn a_lock_without_any_event_is_found_by_the_periodic_pass() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    std::fs::write(&lock, b"").unwrap();
    let script = "import fcntl, os, sys\n\
                  fd = os.open(sys.argv[1], os.O_WRONLY)\n\
                  print('opened', flush=True)\n\
                  sys.stdin.readline()\n\
                  fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
                  print('locked', flush=True)\n\
                  sys.stdin.readline()\n";
    let mut raw = ScriptedPeer::start(script, &lock);
    assert_eq!(
        raw.read_line(),
        "opened",
        "its open happens before we watch"
    );

    let (monitor, updates) = start(200);
    monitor.add(dir.path());
    expect_change(&updates, dir.path(), "free", Cause::Initial);
    assert_eq!(raw.ask("lock"), "locked");
    let held = expect_change(&updates, dir.path(), "held", Cause::Poll);
    assert_eq!(held_pid(&held), Some(raw.child.id()));
    raw.finish(); // EOF: the process exits, the kernel drops the lock
    let freed = next_change(&updates, dir.path(), Duration::from_secs(5));
    assert_eq!(freed.new, DirState::Lock(LockState::Free));
}

#[test]
fn deleted_directory_is_missing_and_recreated_one_is_watched_again() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("d");
    let (monitor, updates) = start(150);
    monitor.add(&dir);
    expect_change(&updates, &dir, "missing", Cause::Initial);

    std::fs::create_dir(&dir).unwrap();
    expect_change(&updates, &dir, "absent", Cause::Poll);
    wait_until_watched(&monitor, &dir);
    let before = monitor.stats().fs_events;
    let certbot = certbot_lock_dir(&dir).expect_locked();
    expect_change_with_event(&updates, &monitor, &dir, "held", before); // events flow again
    let before = monitor.stats().fs_events;
    certbot.release();
    expect_change_with_event(&updates, &monitor, &dir, "absent", before);

    let before = monitor.stats().fs_events;
    std::fs::remove_dir(&dir).unwrap();
    expect_change_with_event(&updates, &monitor, &dir, "missing", before);
    std::fs::create_dir(&dir).unwrap();
    // Seen by the pass, or by a probe for the deleted watch's last event (IN_IGNORED) that
    // runs after the directory is back: either way, the new directory is reported.
    let back = next_change(&updates, &dir, Duration::from_secs(5));
    assert_eq!(back.new.name(), "absent", "{back:?}");
    assert!(
        matches!(back.cause, Cause::Poll | Cause::FsEvent),
        "{back:?}"
    );
}

#[test]
fn renamed_or_replaced_directory_is_reported_and_recovers() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(LOCK), b"").unwrap();
    let (monitor, updates) = start(150);
    monitor.add(&dir);
    expect_change(&updates, &dir, "free", Cause::Initial);

    // Renamed away: the path is gone (the watch followed the old inode and is dropped).
    let before = monitor.stats().fs_events;
    std::fs::rename(&dir, root.path().join("moved")).unwrap();
    expect_change_with_event(&updates, &monitor, &dir, "missing", before);
    // A file in its place: a clear error.
    std::fs::write(&dir, b"not a directory").unwrap();
    let c = next_change(&updates, &dir, Duration::from_secs(5));
    assert!(
        c.new.error().is_some_and(|e| e.contains("not a directory")),
        "{c:?}"
    );
    // A directory again: watched again, events flow.
    std::fs::remove_file(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    expect_change(&updates, &dir, "absent", Cause::Poll);
    wait_until_watched(&monitor, &dir);
    let before = monitor.stats().fs_events;
    let certbot = certbot_lock_dir(&dir).expect_locked();
    expect_change_with_event(&updates, &monitor, &dir, "held", before);
    certbot.release();
}

/// Run as an unprivileged user (when the tests run as root) so that permissions apply.
#[test]
fn lost_permission_is_an_error_state_that_recovers() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut watch = WatchJson::spawn(
        unprivileged_lockscope()
            .args(["watch", "--json", "--interval", "100ms"])
            .arg(&dir),
    );
    let mut next = || watch.next_line();
    assert_eq!(next()["state"], "absent");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    if !is_root() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let denied = next();
    assert_eq!(denied["state"], "error");
    assert!(
        denied["error"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{denied}"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(next()["state"], "absent", "recovers");
}

#[test]
fn many_directories_at_once() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..200)
        .map(|i| root.path().join(format!("d{i:03}")))
        .collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    let holders: Vec<_> = dirs
        .iter()
        .step_by(40)
        .map(|d| lockscope_hold(&["--for", "60s", d.to_str().unwrap()]))
        .collect();
    let (monitor, updates) = start(60_000);
    for d in &dirs {
        monitor.add(d);
    }
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < dirs.len() {
        match updates
            .recv_timeout(Duration::from_secs(5))
            .expect("initial states")
        {
            Update::Change(c) => {
                assert_eq!(c.cause, Cause::Initial);
                seen.insert(c.dir.clone(), c);
            }
            Update::Notice(n) => panic!("unexpected notice {n}"),
        }
    }
    for (i, d) in dirs.iter().enumerate() {
        let c = &seen[d];
        if i % 40 == 0 {
            assert_eq!(
                held_pid(c),
                Some(holders[i / 40].child.id()),
                "{}",
                d.display()
            );
        } else {
            assert_eq!(c.new, DirState::Lock(LockState::Absent));
        }
    }
    // And changes in several directories at once are all reported.
    drop(holders);
    let mut freed = 0;
    while freed < 5 {
        if let Update::Change(c) = updates
            .recv_timeout(Duration::from_secs(5))
            .expect("releases")
        {
            assert_eq!(
                c.new,
                DirState::Lock(LockState::Free),
                "killed holders leave their files: {c:?}"
            );
            freed += 1;
        }
    }
}

#[test]
fn an_idle_engine_makes_no_event_driven_probes() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..20).map(|i| root.path().join(format!("d{i}"))).collect();
    for (i, d) in dirs.iter().enumerate() {
        std::fs::create_dir(d).unwrap();
        if i % 3 == 0 {
            std::fs::write(d.join(LOCK), b"").unwrap();
        }
    }
    let _holder = lockscope_hold(&["--for", "60s", dirs[1].to_str().unwrap()]);
    let certbot = certbot_lock_dir(&dirs[2]).expect_locked();
    let (monitor, updates) = start(100);
    for d in &dirs {
        monitor.add(d);
    }
    for d in &dirs {
        let initial = next_change(&updates, d, Duration::from_secs(5));
        assert_eq!(initial.cause, Cause::Initial, "{initial:?}");
    }
    // The first look queries each unlocked lock file directly (a `free` from the lock table
    // alone is not trusted): those opens' own events arrive asynchronously. The idle window
    // starts once they are all in (no new event for 300 ms).
    let mut seen = monitor.stats().fs_events;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = monitor.stats().fs_events;
        if now == seen || Instant::now() > deadline {
            break;
        }
        seen = now;
    }
    let before = monitor.stats();
    std::thread::sleep(Duration::from_millis(1500));
    let after = monitor.stats();
    assert!(
        after.passes - before.passes >= 10,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        after.fs_events, before.fs_events,
        "the engine's own passes cause no events"
    );
    assert_eq!(
        after.event_probes, before.event_probes,
        "no event-driven probing while idle"
    );
    let extra = updates.try_recv();
    assert!(
        extra.is_err(),
        "nothing changed, nothing reported: {extra:?}"
    );
    drop(certbot);
}

/// `recheck` is the only thing that makes the engine look at `a` here: the lock is taken and
/// released through a descriptor opened before the monitor started (no filesystem event), and
/// the periodic pass is a minute away. So each change must come with cause `Action`; a
/// `recheck` that did nothing would leave the test waiting.
#[test]
fn remove_stops_reports_and_recheck_reports_an_action() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lock = a.path().join(LOCK);
    std::fs::write(&lock, b"").unwrap();
    let script = "import fcntl, os, sys\n\
                  fd = os.open(sys.argv[1], os.O_WRONLY)\n\
                  print('opened', flush=True)\n\
                  sys.stdin.readline()\n\
                  fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
                  print('locked', flush=True)\n\
                  sys.stdin.readline()\n\
                  fcntl.lockf(fd, fcntl.LOCK_UN)\n\
                  print('unlocked', flush=True)\n\
                  sys.stdin.readline()\n";
    let mut raw = ScriptedPeer::start(script, &lock);
    assert_eq!(
        raw.read_line(),
        "opened",
        "its open happens before we watch"
    );

    let (monitor, updates) = start(60_000);
    monitor.add(a.path());
    monitor.add(b.path());
    expect_change(&updates, a.path(), "free", Cause::Initial);
    expect_change(&updates, b.path(), "absent", Cause::Initial);
    monitor.remove(b.path());
    let _b_lock = lockscope::lock_dir(b.path()).unwrap();

    // Any change of `b` fails the test, also one that arrives while we wait for `a`
    // (next_change would set it aside unseen).
    let next_of_a = || -> Change {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match updates.recv_timeout(left) {
                Ok(Update::Change(c)) if c.dir == a.path() => return c,
                Ok(Update::Change(c)) => panic!("removed directories are not reported: {c:?}"),
                Ok(Update::Notice(_)) => continue,
                Err(e) => panic!("no change for {} within 5s: {e}", a.path().display()),
            }
        }
    };
    assert_eq!(raw.ask("lock"), "locked");
    monitor.recheck(a.path());
    let c = next_of_a();
    assert_eq!((c.new.name(), c.cause), ("held", Cause::Action), "{c:?}");
    assert_eq!(held_pid(&c), Some(raw.child.id()));

    assert_eq!(raw.ask("unlock"), "unlocked");
    monitor.recheck(a.path());
    let c = next_of_a();
    assert_eq!((c.new.name(), c.cause), ("free", Cause::Action), "{c:?}");
    raw.finish();
    // b's lock file was created after its removal: any event of it would have come before
    // the second recheck's answer (same engine thread, commands in order). What is left:
    std::thread::sleep(Duration::from_millis(200));
    while let Ok(u) = updates.try_recv() {
        if let Update::Change(c) = u {
            assert_ne!(
                c.dir,
                b.path(),
                "removed directories are not reported: {c:?}"
            );
        }
    }
}

#[test]
fn watch_cli_prints_json_lines_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut watch = WatchJson::spawn(
        lockscope()
            .args(["watch", "--json", "--interval", "60s"])
            .arg(dir.path()),
    );
    let mut next = || watch.next_line();
    let first = next();
    let mut keys: Vec<_> = first.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "cause",
            "dir",
            "error",
            "held_since",
            "held_since_source",
            "holder",
            "host",
            "lock_file",
            "lock_set",
            "state",
            "time"
        ]
    );
    assert_eq!(
        first["host"],
        serde_json::Value::Null,
        "local rows: host null"
    );
    assert_eq!(
        (first["state"].as_str(), first["cause"].as_str()),
        (Some("absent"), Some("initial"))
    );
    let time = first["time"].as_str().unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[19] == b'.',
        "RFC 3339 with ms: {time}"
    );

    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let held = next();
    assert_eq!(
        (held["state"].as_str(), held["cause"].as_str()),
        (Some("held"), Some("fs-event"))
    );
    assert_eq!(held["holder"]["pid"], certbot.pid);
    certbot.release();
    assert_eq!(next()["state"], "absent");

    Command::new("kill")
        .args(["-TERM", &watch.child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(watch.child.wait().unwrap().code(), Some(0));
}

#[test]
fn watch_cli_usage_errors_exit_2() {
    for args in [
        vec!["watch"],
        vec!["watch", "--interval", "0s", "/tmp"],
        vec!["watch", "--interval", "x", "/tmp"],
    ] {
        let out = run(lockscope().args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// A lock handed from one `lockscope hold` to the next: the new lock file usually gets the
/// inode number of the one just deleted (ext4 reuses it at once), so the lock table names both
/// files alike. Every `held` must name the process holding the lock now, never one that has
/// exited. (Issue 20, item 1: the holder was cached per inode, and named the first holder for
/// every later hold.)
#[test]
fn a_hand_over_on_a_reused_inode_names_the_new_holder() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let (monitor, updates) = start(60_000); // events only: nothing else refreshes a cache
    monitor.add(dir.path());
    expect_change(&updates, dir.path(), "absent", Cause::Initial);
    let mut inodes = Vec::new();
    for round in 0..4 {
        let mut holder = lockscope_hold(&[dir.path().to_str().unwrap(), "--for", "300ms"]);
        inodes.push(std::fs::metadata(dir.path().join(LOCK)).unwrap().ino());
        let held = loop {
            let c = next_change(&updates, dir.path(), Duration::from_secs(5));
            if c.new.is_held() {
                break c;
            }
        };
        assert_eq!(
            held_pid(&held),
            Some(holder.child.id()),
            "round {round}: the held lock is named after another process: {held:?}"
        );
        assert_eq!(holder.wait_exit(Duration::from_secs(5)), 0);
        let gone = next_change(&updates, dir.path(), Duration::from_secs(5));
        assert_eq!(gone.new.name(), "absent", "round {round}: {gone:?}");
    }
    inodes.dedup();
    assert!(
        inodes.len() < 4,
        "no lock file reused an inode number ({inodes:?}): this filesystem cannot show the bug"
    );
}

/// Another reader keeps opening the lock file (a second monitor's direct queries, `status` in
/// a loop): each open looks like a lock about to be taken, which holds a `free` back for the
/// follow-ups. That must not hold it back for ever: a lock given up without any event (an
/// unlock on a descriptor that stays open) is reported free by the pass while the reader goes
/// on. (Found by the truth oracle: an unprivileged watch stayed `absent` for 17 s while root's
/// `status` samples kept opening the file.)
#[test]
fn opens_by_another_reader_do_not_hold_a_free_lock_back() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    std::fs::write(&lock, b"").unwrap();
    let script = "import fcntl, os, sys\n\
                  fd = os.open(sys.argv[1], os.O_WRONLY)\n\
                  fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
                  print('locked', flush=True)\n\
                  sys.stdin.readline()\n\
                  fcntl.lockf(fd, fcntl.LOCK_UN)\n\
                  print('unlocked', flush=True)\n\
                  sys.stdin.readline()\n";
    let mut holder = ScriptedPeer::start(script, &lock);
    assert_eq!(holder.read_line(), "locked");
    let (monitor, updates) = start(200);
    monitor.add(dir.path());
    let held = expect_change(&updates, dir.path(), "held", Cause::Initial);
    assert_eq!(held_pid(&held), Some(holder.child.id()));
    let reader = "import os, sys, time\n\
                  print('reading', flush=True)\n\
                  while True:\n    os.close(os.open(sys.argv[1], os.O_RDONLY))\n    time.sleep(0.02)\n";
    let mut reader = ScriptedPeer::start(reader, &lock);
    assert_eq!(reader.read_line(), "reading");
    std::thread::sleep(Duration::from_millis(300)); // the reader's opens are flowing
    assert_eq!(holder.ask("unlock"), "unlocked");
    let freed = next_change(&updates, dir.path(), Duration::from_secs(3));
    assert_eq!(freed.new, DirState::Lock(LockState::Free), "{freed:?}");
    let _ = reader.child.kill();
    let _ = holder.child.kill();
}
