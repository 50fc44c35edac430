//! lockscope against REAL certbot (certbot._internal.lock from PyPI), in both directions.
//! These tests fail when certbot is missing (see common::certbot_python).

use crate::common::*;
use lockscope::probe::{LockState, probe};
use lockscope::{LockError, LockFile, lock_dir};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_peer_runs_certbot_5_8_0() {
    let out = Command::new(certbot_python())
        .arg(peer_script())
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5.8.0");
}

#[test]
fn certbot_holds_then_probe_names_certbot_and_our_acquire_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let certbot = certbot_lock_dir(dir.path()).expect_locked();

    match probe(dir.path().join(LOCK)).unwrap() {
        LockState::Held(holder) => {
            assert_eq!(holder.pid, Some(certbot.pid));
            let cmd = holder.command.expect("command line of certbot");
            assert!(cmd.contains("certbot_peer.py hold"), "{cmd}");
        }
        other => panic!("expected held by certbot, got {other:?}"),
    }
    match lock_dir(dir.path()) {
        Err(LockError::Busy {
            holder: Some(h), ..
        }) => assert_eq!(h.pid, Some(certbot.pid)),
        other => panic!("expected busy naming certbot, got {other:?}"),
    }

    certbot.release();
    assert_eq!(
        probe(dir.path().join(LOCK)).unwrap(),
        LockState::Absent,
        "certbot deletes its file"
    );
    let ours = lock_dir(dir.path()).expect("free after certbot released");
    assert!(ours.is_locked());
}

#[test]
fn we_hold_then_certbot_raises_lock_error_and_acquires_after_release() {
    let dir = tempfile::tempdir().unwrap();
    let mut ours = lock_dir(dir.path()).unwrap();

    let msg = certbot_lock_dir(dir.path()).expect_busy();
    assert_eq!(msg, "Another instance of Certbot is already running.");

    ours.release().unwrap();
    assert!(
        !dir.path().join(LOCK).exists(),
        "release removes the lock file"
    );
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    certbot.release();
}

#[test]
fn killed_certbot_leaves_a_free_file_that_we_can_take() {
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join(LOCK);
    certbot_lock_dir(dir.path()).expect_locked().kill();

    assert!(lock_path.exists(), "a killed certbot leaves its lock file");
    assert_eq!(probe(&lock_path).unwrap(), LockState::Free);
    let mut ours = lock_dir(dir.path()).expect("a stale file does not block us");
    assert_eq!(
        certbot_lock_dir(dir.path()).expect_busy(),
        "Another instance of Certbot is already running."
    );
    ours.release().unwrap();
    assert_eq!(probe(&lock_path).unwrap(), LockState::Absent);
}

#[test]
fn probing_in_the_holding_process_never_drops_the_hold() {
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join(LOCK);
    let ours = lock_dir(dir.path()).unwrap();
    for _ in 0..200 {
        assert_eq!(probe(&lock_path).unwrap(), LockState::HeldByThisProcess);
    }
    // Another process must still see our lock: certbot cannot take it, and `lockscope status`
    // names this test process as the holder.
    certbot_lock_dir(dir.path()).expect_busy();
    let out = run(lockscope().args(["status", "--json"]).arg(dir.path()));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["state"], "held");
    assert_eq!(json[0]["holder"]["pid"], std::process::id());
    drop(ours);
    certbot_lock_dir(dir.path()).expect_locked().release();
}

#[test]
fn cli_status_and_hold_against_certbot() {
    let dir = tempfile::tempdir().unwrap();
    let certbot = certbot_lock_dir(dir.path()).expect_locked();

    let out = run(lockscope().args(["status", "--json"]).arg(dir.path()));
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["state"], "held");
    assert_eq!(json[0]["holder"]["pid"], certbot.pid);

    let out = run(lockscope().arg("hold").arg(dir.path()));
    assert_eq!(out.status.code(), Some(1), "busy exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("pid {}", certbot.pid)), "{stderr}");
    assert!(
        stderr.contains("certbot_peer.py"),
        "names the holder's command: {stderr}"
    );
    assert!(out.stdout.is_empty());

    // --wait takes the lock as soon as certbot lets go.
    let mut waiter = lockscope()
        .args(["hold", "--wait=20s", "--for", "0s"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Its main thread backing off between tries: it has tried, and found the lock busy.
    wait_until_in_syscall(
        waiter.id(),
        waiter.id() as i32,
        SLEEP_SYSCALLS,
        "hold --wait",
    );
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "still waiting while certbot holds"
    );
    certbot.release();
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("held "));

    // And certbot is refused while `lockscope hold` holds.
    let holder = lockscope_hold(&["--for", "30s", dir.path().to_str().unwrap()]);
    assert!(holder.line.starts_with("held "), "{}", holder.line);
    certbot_lock_dir(dir.path()).expect_busy();
}

#[test]
fn a_waiting_acquire_gets_the_lock_when_certbot_releases() {
    let dir = tempfile::tempdir().unwrap();
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let path = dir.path().join(LOCK);
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tid_tx.send(current_tid());
        let mut lock = LockFile::new(path);
        lock.acquire_timeout(Duration::from_secs(20)).map(|_| lock)
    });
    let tid = tid_rx.recv().unwrap();
    wait_until_in_syscall(std::process::id(), tid, SLEEP_SYSCALLS, "the waiter");
    assert!(!waiter.is_finished(), "still waiting while certbot holds");
    certbot.release();
    let lock = waiter.join().unwrap().expect("acquired after release");
    assert!(lock.is_locked());
}
