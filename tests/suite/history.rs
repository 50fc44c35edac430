//! The flight recorder (`lockscope record`, `lockscope history`) against real certbot: as root,
//! from the kernel's lock events, holds recorded with their start and end within 0.5 s of when
//! certbot said it locked and released, the refused second certbot with the holder of that
//! instant, and `--at` naming the holder; as an unprivileged user, the monitor's holds, saying
//! that refused attempts are not visible; a store that survives a recorder SIGKILLed at random
//! moments of a lock churn; tracefs unmounted again by the recorder that mounted it.

use crate::common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `history --json` of `dir` (extra args before DIR).
fn history(store: &Path, args: &[&str], dir: &Path) -> Vec<serde_json::Value> {
    let out = run(lockscope()
        .arg("history")
        .arg("--store")
        .arg(store)
        .arg("--json")
        .args(args)
        .arg(dir));
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("history --json is JSON")
}

/// As root: a directory `letsencrypt` in a temporary root, and a recorder of it from the
/// kernel's lock events into `history.db` beside it.
fn kernel_recording() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    Recorder,
) {
    kernel_recording_into(None)
}

/// [`kernel_recording`], the history in `store_dir` if given.
fn kernel_recording_into(
    store_dir: Option<&Path>,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    Recorder,
) {
    assert!(
        is_root(),
        "this test records the kernel's lock events: run it as root"
    );
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("letsencrypt");
    std::fs::create_dir(&dir).unwrap();
    let store = store_dir.unwrap_or(root.path()).join("history.db");
    let recorder = Recorder::start(&store, &[&dir]);
    (root, dir, store, recorder)
}

fn time(v: &serde_json::Value) -> jiff::Timestamp {
    v.as_str().expect("a time").parse().expect("RFC 3339")
}

fn near(recorded: jiff::Timestamp, truth: jiff::Timestamp) -> bool {
    let gap = recorded.duration_since(truth).abs();
    gap <= jiff::SignedDuration::from_millis(500)
}

/// Two real certbot runs one after the other (the second refused while the first held, the
/// third after the release): both holds, with start and end within 0.5 s of what certbot said,
/// and `--at` names the holder of each instant.
#[test]
fn holds_of_real_certbot_are_recorded_with_their_times_and_holder() {
    let (_root, dir, store, recorder) = kernel_recording();
    assert!(
        recorder.said.contains("from the kernel's lock events"),
        "{}",
        recorder.said
    );

    let first = certbot_lock_dir(&dir).expect_locked();
    let first_locked = jiff::Timestamp::now();
    let first_pid = first.pid;
    let busy = certbot_lock_dir(&dir).expect_busy();
    assert!(busy.contains("Another instance"), "{busy}");
    std::thread::sleep(Duration::from_millis(700));
    first.release();
    let first_released = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_millis(500));
    let second = certbot_lock_dir(&dir).expect_locked();
    let second_locked = jiff::Timestamp::now();
    let second_pid = second.pid;
    std::thread::sleep(Duration::from_millis(700));
    second.release();
    let second_released = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_millis(500));
    recorder.stop();

    let all = history(&store, &[], &dir);
    let rows: Vec<&serde_json::Value> = all.iter().filter(|r| r["kind"] == "hold").collect();
    assert_eq!(rows.len(), 2, "{all:#?}");
    // The second certbot, refused while the first held the lock: only the kernel's events
    // show it.
    let refused: Vec<&serde_json::Value> = all.iter().filter(|r| r["kind"] == "refused").collect();
    assert_eq!(refused.len(), 1, "{all:#?}");
    assert_eq!(refused[0]["holder_pid"], first_pid, "{all:#?}");
    assert_eq!(refused[0]["source"], "kernel");
    let refused_at = time(&refused[0]["time"]);
    assert!(
        first_locked
            <= refused_at
                .checked_add(jiff::SignedDuration::from_millis(500))
                .unwrap()
    );
    assert!(
        refused_at <= first_released,
        "{refused_at} after the release {first_released}"
    );
    assert_ne!(refused[0]["pid"], first_pid);
    assert_eq!(history(&store, &["--refused"], &dir).len(), 1);
    for (row, pid, locked, released) in [
        (&rows[0], first_pid, first_locked, first_released),
        (&rows[1], second_pid, second_locked, second_released),
    ] {
        assert_eq!(row["kind"], "hold");
        assert_eq!(row["pid"], pid, "{row}");
        assert_eq!(row["source"], "kernel");
        assert_eq!(row["start_seen"], true, "{row}");
        assert!(near(time(&row["start"]), locked), "start {row} vs {locked}");
        assert!(near(time(&row["end"]), released), "end {row} vs {released}");
        assert!(
            row["command"]
                .as_str()
                .is_some_and(|c| c.contains("certbot_peer.py hold")),
            "{row}"
        );
    }
    // Who held it at an instant: the first, then nobody, then the second.
    let mid = |a: jiff::Timestamp, b: jiff::Timestamp| {
        a.checked_add(b.duration_since(a) / 2).unwrap().to_string()
    };
    let at_first = history(&store, &["--at", &mid(first_locked, first_released)], &dir);
    assert_eq!(at_first.len(), 1, "{at_first:#?}");
    assert_eq!(at_first[0]["pid"], first_pid);
    let between = history(&store, &["--at", &mid(first_released, second_locked)], &dir);
    assert!(between.is_empty(), "{between:#?}");
    let at_second = history(
        &store,
        &["--at", &mid(second_locked, second_released)],
        &dir,
    );
    assert_eq!(at_second[0]["pid"], second_pid);
    // explain mentions the refused attempt, and who held the lock then.
    let out = run(lockscope()
        .arg("explain")
        .arg("--history")
        .arg(&store)
        .arg(&dir));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 attempt to take this lock was refused")
            && text.contains(&format!("while pid {first_pid} held it")),
        "{text}"
    );
}

/// An OFD holder (`lockscope hold`), and real certbot whose lock file is deleted under it: both
/// holds are recorded with their ends (the deleted file's release is matched to the hold by
/// the locked file, not by what the path names by then), the second as `lock-file-deleted`
/// (the file was gone for 1.5 s before certbot died: another certbot could have started).
#[test]
fn an_ofd_holder_and_a_lock_file_deleted_under_certbot_are_recorded() {
    let (_root, dir, store, recorder) = kernel_recording();

    let mut ofd = lockscope_hold(&[dir.to_str().unwrap()]);
    assert!(ofd.line.starts_with("held "), "{}", ofd.line);
    let ofd_pid = ofd.child.id();
    std::thread::sleep(Duration::from_millis(500));
    ofd.signal("TERM");
    assert_eq!(ofd.wait_exit(Duration::from_secs(5)), 0);
    let ofd_released = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_millis(300));

    let certbot = certbot_lock_dir(&dir).expect_locked();
    let certbot_pid = certbot.pid;
    std::fs::remove_file(dir.join(lockscope::LOCK_FILE_NAME)).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    certbot.kill();
    let killed = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_millis(500));
    recorder.stop();

    let rows = history(&store, &[], &dir);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0]["pid"], ofd_pid, "{rows:#?}");
    assert!(near(time(&rows[0]["end"]), ofd_released), "{rows:#?}");
    assert_eq!(rows[1]["pid"], certbot_pid, "{rows:#?}");
    assert!(
        !rows[1]["end"].is_null() && near(time(&rows[1]["end"]), killed),
        "the deleted file's hold ended when certbot died: {rows:#?}"
    );
    assert_eq!(rows[0]["ended_by"], "released", "{rows:#?}");
    assert_eq!(rows[1]["ended_by"], "lock-file-deleted", "{rows:#?}");
}

/// Quick hand-overs: two real certbot processes take the lock in turn, each retrying every
/// millisecond while the other holds it (certbot's lock file is a new inode each time, often a
/// reused inode number). Every hold is recorded with its holder and its times (within 0.5 s of
/// what each certbot said), none overlaps the next, and each refused attempt names the holder of
/// its instant: the other process.
#[test]
fn quick_hand_overs_between_two_certbots_are_each_recorded() {
    let (_root, dir, store, recorder) = kernel_recording();
    const EACH: usize = 8;
    let peers: Vec<std::process::Child> = (0..2)
        .map(|_| {
            std::process::Command::new(certbot_python())
                .arg(peer_script())
                .args(["loop"])
                .arg(&dir)
                .args([&EACH.to_string(), "0.08"])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("certbot peer")
        })
        .collect();
    // (pid, locked, released) as each certbot said.
    let mut truth: Vec<(u64, jiff::Timestamp, jiff::Timestamp)> = Vec::new();
    for peer in peers {
        let out = peer.wait_with_output().expect("peer");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!text.contains("gave-up"), "{text}");
        let seconds = |s: &str| -> jiff::Timestamp {
            let f: f64 = s.parse().expect("a time");
            jiff::Timestamp::from_nanosecond((f * 1e9) as i128).unwrap()
        };
        let mut locked = None;
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["locked", pid, at] => locked = Some((pid.parse::<u64>().unwrap(), seconds(at))),
                ["released", at] => {
                    let (pid, start) = locked.take().expect("locked before released");
                    truth.push((pid, start, seconds(at)));
                }
                _ => {}
            }
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    recorder.stop();
    truth.sort_by_key(|t| t.1);
    assert_eq!(truth.len(), 2 * EACH);

    let all = history(&store, &[], &dir);
    let holds: Vec<&serde_json::Value> = all.iter().filter(|r| r["kind"] == "hold").collect();
    assert_eq!(holds.len(), truth.len(), "{all:#?}");
    for (row, (pid, locked, released)) in holds.iter().zip(&truth) {
        assert_eq!(row["pid"], *pid, "{row}");
        assert!(near(time(&row["start"]), *locked), "{row} vs {locked}");
        assert!(near(time(&row["end"]), *released), "{row} vs {released}");
        assert_eq!(row["ended_by"], "released", "{row}");
    }
    for pair in holds.windows(2) {
        assert!(
            time(&pair[0]["end"]) <= time(&pair[1]["start"]),
            "overlapping holds: {} {}",
            pair[0],
            pair[1]
        );
    }
    let refused: Vec<&serde_json::Value> = all.iter().filter(|r| r["kind"] == "refused").collect();
    assert!(!refused.is_empty(), "the waiting certbot's tries: {all:#?}");
    for r in &refused {
        let at = time(&r["time"]);
        let holder = holds
            .iter()
            .find(|h| time(&h["start"]) <= at && at <= time(&h["end"]))
            .unwrap_or_else(|| panic!("refused outside any hold: {r}"));
        assert_eq!(r["holder_pid"], holder["pid"], "{r} during {holder}");
        assert_ne!(r["pid"], holder["pid"], "{r}");
    }
}

/// A watched lock file's inode number, freed when certbot deletes its file, is soon another
/// file's (ext4 reuses it at once for a file of the same directory): a lock taken on that other
/// file (another program's `other.lock`) is not a hold of the watched directory. The recorder
/// named files by what the path had named at its last lookup, and kept that name after the
/// file was gone (CI: serve counted 7 acquisitions for one).
#[test]
fn a_reused_inode_number_is_not_a_hold_of_the_watched_directory() {
    // The history on another filesystem (tmpfs): SQLite's own locks on it, events on the
    // watched filesystem, made the recorder look its names up again and hid the bug (as serve,
    // which keeps no file, did not).
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let (_root, dir, store, recorder) = kernel_recording_into(Some(shm.path()));
    let other = dir.join("other.lock");
    let mut reused = false;
    let mut certbot_pids = Vec::new();
    for _ in 0..5 {
        let certbot = certbot_lock_dir(&dir).expect_locked();
        certbot_pids.push(certbot.pid);
        let inode = std::fs::metadata(dir.join(lockscope::LOCK_FILE_NAME))
            .unwrap()
            .ino();
        std::thread::sleep(Duration::from_millis(300));
        certbot.release();
        let _ = std::fs::remove_file(&other);
        std::fs::File::create(&other).unwrap();
        if std::fs::metadata(&other).unwrap().ino() == inode {
            reused = true;
            break;
        }
    }
    assert!(
        reused,
        "the filesystem never reused the lock file's inode number"
    );
    let script = "import fcntl, os, sys, time\n\
                  fd = os.open(sys.argv[1], os.O_RDWR)\n\
                  fcntl.lockf(fd, fcntl.LOCK_EX)\n\
                  time.sleep(0.3)\n";
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&other)
        .status()
        .expect("python3");
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    recorder.stop();
    let holds: Vec<serde_json::Value> = history(&store, &[], &dir)
        .into_iter()
        .filter(|r| r["kind"] == "hold")
        .collect();
    let pids: Vec<u64> = holds.iter().filter_map(|h| h["pid"].as_u64()).collect();
    let expected: Vec<u64> = certbot_pids.iter().map(|&p| u64::from(p)).collect();
    assert_eq!(pids, expected, "{holds:#?}");
}

/// A flock(2) holder of the lock file does not exclude certbot (Linux keeps the two kinds
/// apart), so it is no hold, and certbot beside it is not refused: the history has certbot's
/// hold alone.
#[test]
fn a_flock_holder_is_not_a_hold_and_certbot_beside_it_is_not_refused() {
    let (_root, dir, store, recorder) = kernel_recording();
    let script = "import fcntl, os, sys\n\
                  fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n\
                  fcntl.flock(fd, fcntl.LOCK_EX)\n\
                  print('locked', flush=True)\n\
                  sys.stdin.read()\n";
    let mut flock = ScriptedPeer::start(script, &dir.join(lockscope::LOCK_FILE_NAME));
    assert_eq!(flock.read_line(), "locked");
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let certbot_pid = certbot.pid;
    std::thread::sleep(Duration::from_millis(300));
    certbot.release();
    flock.finish();
    std::thread::sleep(Duration::from_millis(300));
    recorder.stop();
    let all = history(&store, &[], &dir);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["kind"], "hold");
    assert_eq!(all[0]["pid"], certbot_pid, "{all:#?}");
}

/// The system recorder's history is readable by a group (the service runs with the package's
/// group `lockscope` and umask 027): a member of that group who may not write in the history's
/// directory reads it while the recorder writes and after it stopped. After it stopped, SQLite
/// had removed the `-wal`/`-shm` files, which a read-only reader cannot make: "attempt to write
/// a readonly database".
#[test]
fn a_group_member_reads_the_system_recorders_history() {
    assert!(
        is_root(),
        "this test records the kernel's lock events: run it as root"
    );
    use std::os::unix::fs::PermissionsExt;
    const GROUP: &str = "4242";
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.path().join("letsencrypt");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = root.path().join("lib/history.db");
    let history_exe = env!("CARGO_BIN_EXE_lockscope-history");
    // As lockscope-record.service runs it: root, the group's gid, umask 027.
    let mut service = std::process::Command::new("setpriv");
    service
        .args([
            &format!("--regid={GROUP}"),
            "--clear-groups",
            "--",
            "sh",
            "-c",
        ])
        .arg("umask 027; exec \"$0\" \"$@\"")
        .arg(history_exe);
    let recorder = Recorder::start_with(service, &store, &[&dir]);
    let read = || {
        run(std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                &format!("--groups={GROUP}"),
                "--",
            ])
            .arg(history_exe)
            .args(["history", "--json", "--store"])
            .arg(&store)
            .arg(&dir))
    };
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let pid = certbot.pid;
    std::thread::sleep(Duration::from_millis(300));
    let out = read();
    assert!(out.status.success(), "while recording: {out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("\"pid\":{pid}")));
    certbot.release();
    std::thread::sleep(Duration::from_millis(300));
    recorder.stop();
    let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the history file's mode: {mode:o}");
    let out = read();
    assert!(out.status.success(), "after the recorder stopped: {out:?}");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["ended_by"], "released");
}

/// Without tracefs (an unprivileged user), the recorder says so and records the monitor's holds:
/// certbot's hold is there with `"source": "monitor"`, and no refused attempt is claimed.
#[test]
fn an_unprivileged_recorder_falls_back_to_the_monitor_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let dir = root.path().join("letsencrypt");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let store = root.path().join("history.db");
    // lockscope-history itself, which `lockscope record` execs: setpriv's own exec still has
    // root's capabilities (the exec drops them), but nobody cannot look into the build's
    // directory under /root (mode 700) for a second program. An installed lockscope finds it
    // in /usr/libexec/lockscope.
    let recorder = Recorder::start_with(
        unprivileged(env!("CARGO_BIN_EXE_lockscope-history")),
        &store,
        &[&dir],
    );
    assert!(
        recorder.said.contains("from the monitor's changes")
            && recorder.said.contains("refused attempts are NOT visible"),
        "{}",
        recorder.said
    );
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let pid = certbot.pid;
    let _ = certbot_lock_dir(&dir).expect_busy();
    std::thread::sleep(Duration::from_millis(600));
    certbot.release();
    std::thread::sleep(Duration::from_millis(600));
    recorder.stop();
    let rows = history(&store, &[], &dir);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["kind"], "hold");
    assert_eq!(rows[0]["pid"], pid);
    assert_eq!(rows[0]["source"], "monitor");
}

/// A recorder that mounted tracefs unmounts it when it stops, and leaves no tracing instance.
#[test]
fn the_recorder_cleans_up_tracefs_after_itself() {
    assert!(
        is_root(),
        "this test records the kernel's lock events: run it as root"
    );
    let mounted_before = tracefs_mounted();
    let root = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(&root.path().join("history.db"), &[root.path()]);
    let pid = recorder.child.id();
    assert!(tracefs_mounted(), "tracing needs tracefs mounted");
    let instance = format!("/sys/kernel/tracing/instances/lockscope-{pid}");
    assert!(
        Path::new(&instance).exists() || Path::new(&format!("{instance}-m")).exists(),
        "a private instance, not the global buffer"
    );
    recorder.stop();
    assert!(!Path::new(&instance).exists() && !Path::new(&format!("{instance}-m")).exists());
    if !mounted_before && !other_recorders_running() {
        assert!(!tracefs_mounted(), "the tracefs it mounted is unmounted");
    }
}

fn tracefs_mounted() -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(2) == Some("tracefs"))
}

/// Another test's recorder (this binary runs tests in parallel) keeps tracefs mounted.
fn other_recorders_running() -> bool {
    std::fs::read_dir("/sys/kernel/tracing/instances")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("lockscope-"))
        })
        .unwrap_or(false)
}

/// A recorder SIGKILLed at random moments of a lock churn leaves a history that passes
/// `integrity_check` every time, and a new recorder goes on in it: holds that ended more than
/// a second before each kill are all there.
#[test]
fn a_recorder_killed_at_random_moments_leaves_a_sound_history() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("churn");
    std::fs::create_dir(&dir).unwrap();
    let store = root.path().join("history.db");
    // A holder that takes and drops the lock every 150 ms (a lockscope hold loop).
    let lock = dir.join(lockscope::LOCK_FILE_NAME);
    let mut churn = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl, os, sys, time\n\
             while True:\n\
             \x20   fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)\n\
             \x20   fcntl.lockf(fd, fcntl.LOCK_EX)\n\
             \x20   time.sleep(0.15)\n\
             \x20   os.close(fd)\n\
             \x20   time.sleep(0.15)\n",
        ])
        .arg(&lock)
        .spawn()
        .expect("python3");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    eprintln!("seed {seed}");
    let mut rng = seed;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        rng
    };
    let mut ended_before_kill = 0;
    for round in 0..8 {
        let recorder = Recorder::start(&store, &[&dir]);
        std::thread::sleep(Duration::from_millis(400 + u64::from(next() % 1200)));
        let killed_at = jiff::Timestamp::now();
        let mut child = recorder.child;
        child.kill().expect("SIGKILL the recorder");
        let _ = child.wait();
        let conn = rusqlite_check(&store);
        assert_eq!(conn, "ok", "round {round}: integrity_check after SIGKILL");
        let rows = history(&store, &[], &dir);
        let ended = rows
            .iter()
            .filter(|r| !r["end"].is_null())
            .filter(|r| {
                time(&r["end"])
                    < killed_at
                        .checked_sub(jiff::SignedDuration::from_secs(1))
                        .unwrap()
            })
            .count();
        assert!(
            ended >= ended_before_kill,
            "round {round}: holds were lost ({ended} < {ended_before_kill})"
        );
        ended_before_kill = ended;
    }
    assert!(
        ended_before_kill > 4,
        "the churn's holds were recorded: {ended_before_kill}"
    );
    let _ = churn.kill();
    let _ = churn.wait();
    // The last kill left a hold open: the next recorder closes it as "recording-stopped", so
    // no instant after it is said to be held by a process nobody watched.
    Recorder::start(&store, &[&dir]).stop();
    let rows = history(&store, &[], &dir);
    assert!(rows.iter().all(|r| !r["end"].is_null()), "{rows:#?}");
    let later = jiff::Timestamp::now().to_string();
    assert!(history(&store, &["--at", &later], &dir).is_empty());
}

/// One recorder per history file: a second is refused with a clear error, and the first goes on.
#[test]
fn a_second_recorder_on_the_same_history_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("history.db");
    let first = Recorder::start(&store, &[root.path()]);
    // (Were it not refused, it would record until stopped: it gets 10 s to exit.)
    let mut child = lockscope()
        .arg("record")
        .arg("--store")
        .arg(&store)
        .arg(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a second record");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("poll the second record").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a second recorder on the same history was not refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = child.wait_with_output().expect("its output");
    assert_eq!(second.status.code(), Some(2), "{second:?}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another `lockscope record` is writing"),
        "{stderr}"
    );
    first.stop();
}

/// `PRAGMA integrity_check` on the history file, through the library's own reader.
fn rusqlite_check(store: &Path) -> String {
    lockscope::history::Store::open_read_only(store)
        .expect("the history opens after a SIGKILL")
        .integrity_check()
        .expect("integrity_check runs")
}
