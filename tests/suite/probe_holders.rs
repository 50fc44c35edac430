//! Holder lookups across processes. OFD locks (what `lockscope hold` takes on Linux) have no
//! owner pid in the kernel's answer, so the probe finds the holder in /proc and remembers where;
//! these tests change the holder under it and check that a remembered owner is never reported
//! once it stopped holding.

use crate::common::{LOCK, ScriptedPeer, certbot_lock_dir, lockscope, lockscope_hold, run};
use lockscope::probe::{LockState, ProbeBatch, probe};
use std::path::Path;
use std::time::Duration;

/// A process that opens the lock file once and takes / drops an OFD write lock on that same
/// descriptor on command, keeping the file open in between.
struct OfdLocker(ScriptedPeer);

impl OfdLocker {
    const SCRIPT: &str = "import fcntl, os, struct, sys\n\
        SETLK = getattr(fcntl, 'F_OFD_SETLK', 37)\n\
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n\
        for line in sys.stdin:\n\
        \x20   kind = fcntl.F_WRLCK if line.strip() == 'lock' else fcntl.F_UNLCK\n\
        \x20   fcntl.fcntl(fd, SETLK, struct.pack('hhqqi4x', kind, 0, 0, 0, 0))\n\
        \x20   print('ok', flush=True)\n";

    fn start(lock: &Path) -> OfdLocker {
        OfdLocker(ScriptedPeer::start(Self::SCRIPT, lock))
    }

    fn pid(&self) -> u32 {
        self.0.child.id()
    }

    fn say(&mut self, what: &str) {
        assert_eq!(self.0.ask(what), "ok");
    }
}

#[track_caller]
fn assert_held_by(lock: &Path, pid: u32) {
    match probe(lock).expect("probe") {
        LockState::Held(h) => {
            assert_eq!(h.pid, Some(pid), "{h:?}");
            assert!(h.command.is_some(), "{h:?}");
        }
        other => panic!("expected held by {pid}, got {other:?}"),
    }
}

#[test]
fn an_ofd_lock_changing_hands_on_an_open_file_names_the_new_holder() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let mut first = OfdLocker::start(&lock);
    let mut second = OfdLocker::start(&lock);
    first.say("lock");
    assert_held_by(&lock, first.pid());
    assert_held_by(&lock, first.pid()); // the remembered owner, re-checked
    // The first still has the file open on the remembered descriptor, but no longer holds it.
    first.say("unlock");
    assert_eq!(probe(&lock).unwrap(), LockState::Free);
    second.say("lock");
    assert_held_by(&lock, second.pid());
    second.say("unlock");
    first.say("lock");
    assert_held_by(&lock, first.pid());
}

#[test]
fn a_new_holder_after_the_old_one_exited_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let arg = dir.path().to_str().unwrap();
    for _ in 0..3 {
        // Each holder creates and removes the file; the inode number may well be reused.
        let mut holder = lockscope_hold(&[arg]);
        assert_held_by(&lock, holder.child.id());
        assert_held_by(&lock, holder.child.id());
        holder.signal("TERM");
        assert_eq!(holder.wait_exit(Duration::from_secs(10)), 0);
        assert_eq!(probe(&lock).unwrap(), LockState::Absent);
    }
}

#[test]
fn one_status_names_every_holder_of_many_dirs() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..12)
        .map(|i| root.path().join(format!("d{i:02}")))
        .collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(dirs[11].join(LOCK), b"").unwrap();
    // Four OFD holders (one /proc walk finds them all), one certbot (classic lock: its pid
    // comes from the kernel), the rest absent or free.
    let ofd: Vec<_> = dirs[..4]
        .iter()
        .map(|d| lockscope_hold(&[d.to_str().unwrap()]))
        .collect();
    let certbot = certbot_lock_dir(&dirs[4]).expect_locked();
    let out = run(lockscope().args(["status", "--json"]).args(&dirs));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = v.as_array().unwrap();
    assert_eq!(records.len(), dirs.len());
    let expected_pids = ofd
        .iter()
        .map(|h| h.child.id())
        .chain([certbot.pid])
        .map(Some)
        .chain(std::iter::repeat(None));
    for ((r, d), pid) in records.iter().zip(&dirs).zip(expected_pids) {
        assert_eq!(r["dir"], d.to_str().unwrap());
        match pid {
            Some(pid) => {
                assert_eq!(r["state"], "held", "{r}");
                assert_eq!(r["holder"]["pid"], pid, "{r}");
                assert!(r["holder"]["command"].is_string(), "{r}");
            }
            None if d == &dirs[11] => assert_eq!(r["state"], "free", "{r}"),
            None => assert_eq!(r["state"], "absent", "{r}"),
        }
    }
    // The library's batch answers the same.
    let mut batch = ProbeBatch::new();
    for (d, h) in dirs.iter().zip(&ofd) {
        match batch.probe(d.join(LOCK)).unwrap() {
            LockState::Held(holder) => assert_eq!(holder.pid, Some(h.child.id())),
            other => panic!("{other:?}"),
        }
    }
    drop(certbot);
}

/// A holder that forks a child after locking (a deploy hook started from the process holding
/// the lock; the child inherits the descriptor and so shares the OFD lock): the report names
/// the process that took the lock, not the child, whose pid is newer and seen first.
#[test]
fn an_ofd_lock_shared_with_a_forked_child_names_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let script = "import fcntl, os, struct, sys, time\n\
        SETLK = getattr(fcntl, 'F_OFD_SETLK', 37)\n\
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n\
        fcntl.fcntl(fd, SETLK, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))\n\
        child = os.fork()\n\
        if child == 0:\n\
        \x20   time.sleep(60)\n\
        \x20   os._exit(0)\n\
        print(child, flush=True)\n\
        sys.stdin.read()\n\
        os.kill(child, 9)\n";
    let mut parent = ScriptedPeer::start(script, &lock);
    let child: u32 = parent.read_line().parse().expect("child pid");
    assert!(
        child > parent.child.id(),
        "the test needs the child to be newer"
    );
    assert_held_by(&lock, parent.child.id());
    parent.finish();
}
