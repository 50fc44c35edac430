//! Exclusion inside one process (threads, handles) and the blocking acquire.

use crate::common;

use crate::common::LOCK;
use lockscope::probe::{LockState, probe};
use lockscope::{LockError, LockFile, lock_dir, lock_dir_with_name};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[test]
fn two_handles_in_one_thread_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let first = lock_dir(dir.path()).unwrap();
    match lock_dir(dir.path()) {
        Err(LockError::Busy {
            holder: Some(h), ..
        }) => assert!(h.is_this_process()),
        other => panic!("second handle must be busy, got {other:?}"),
    }
    drop(first);
    lock_dir(dir.path()).expect("free again after drop");
}

#[test]
fn threads_exclude_each_other() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let inside = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (dir, inside) = (dir.clone(), inside.clone());
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let mut lock = LockFile::new(dir.path().join(LOCK));
                    lock.acquire_timeout(Duration::from_secs(30)).unwrap();
                    assert!(
                        !inside.swap(true, Ordering::SeqCst),
                        "two threads inside at once"
                    );
                    std::thread::sleep(Duration::from_micros(100));
                    inside.store(false, Ordering::SeqCst);
                    lock.release().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(probe(dir.path().join(LOCK)).unwrap(), LockState::Absent);
}

#[test]
fn release_removes_the_file_and_drop_releases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(LOCK);
    let mut lock = lock_dir(dir.path()).unwrap();
    assert!(lock.is_locked());
    assert!(path.exists());
    lock.release().unwrap();
    assert!(!lock.is_locked());
    assert!(!path.exists());
    lock.release().expect("releasing twice is harmless");

    {
        let _held = lock_dir(dir.path()).unwrap();
        assert_eq!(probe(&path).unwrap(), LockState::HeldByThisProcess);
    }
    assert_eq!(
        probe(&path).unwrap(),
        LockState::Absent,
        "drop released and removed it"
    );
}

#[test]
fn lock_file_is_created_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let _lock = lock_dir(dir.path()).unwrap();
    let mode = std::fs::metadata(dir.path().join(LOCK))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600 & !current_umask());
}

/// The umask, read without changing it (umask(2) would race with other test threads).
fn current_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

#[test]
fn custom_lock_name() {
    let dir = tempfile::tempdir().unwrap();
    let _lock = lock_dir_with_name(dir.path(), "other.lock").unwrap();
    assert!(dir.path().join("other.lock").exists());
    lock_dir(dir.path()).expect("a different name is a different lock");
}

#[test]
fn acquire_timeout_gives_up_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _held = lock_dir(dir.path()).unwrap();
    let mut lock = LockFile::new(dir.path().join(LOCK));
    let start = Instant::now();
    match lock.acquire_timeout(Duration::from_millis(300)) {
        Err(LockError::Timeout {
            holder: Some(h),
            waited,
            ..
        }) => {
            assert!(h.is_this_process());
            assert!(waited >= Duration::from_millis(300));
        }
        other => panic!("expected timeout, got {other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(!lock.is_locked());
}

#[test]
fn acquire_until_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let _held = lock_dir(dir.path()).unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let path = dir.path().join(LOCK);
    let flag = cancel.clone();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tid_tx.send(common::current_tid());
        LockFile::new(path).acquire_until(None, &flag)
    });
    let tid = tid_rx.recv().unwrap();
    common::wait_until_in_syscall(
        std::process::id(),
        tid,
        common::SLEEP_SYSCALLS,
        "the waiter",
    );
    assert!(!waiter.is_finished(), "still waiting before the cancel");
    cancel.store(true, Ordering::SeqCst);
    assert!(matches!(
        waiter.join().unwrap(),
        Err(LockError::Cancelled(_))
    ));
}

#[test]
fn a_waiting_thread_gets_the_lock_on_release() {
    let dir = tempfile::tempdir().unwrap();
    let mut held = lock_dir(dir.path()).unwrap();
    let path = dir.path().join(LOCK);
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tid_tx.send(common::current_tid());
        let mut lock = LockFile::new(path);
        lock.acquire_timeout(Duration::from_secs(10)).map(|_| lock)
    });
    let tid = tid_rx.recv().unwrap();
    common::wait_until_in_syscall(
        std::process::id(),
        tid,
        common::SLEEP_SYSCALLS,
        "the waiter",
    );
    assert!(
        !waiter.is_finished(),
        "still waiting while the lock is held"
    );
    held.release().unwrap();
    assert!(waiter.join().unwrap().unwrap().is_locked());
}

#[test]
fn probe_of_a_stale_file_changes_nothing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(LOCK);
    std::fs::write(&path, b"left by a killed certbot").unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let before = common::snapshot(dir.path());
    for _ in 0..10 {
        assert_eq!(probe(&path).unwrap(), LockState::Free);
    }
    assert_eq!(common::snapshot(dir.path()), before);
}

#[test]
fn probe_of_an_absent_lock_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(probe(dir.path().join(LOCK)).unwrap(), LockState::Absent);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_empty_directory_path_is_refused_not_taken_as_the_current_directory() {
    let err = lockscope::lock_dir("").unwrap_err();
    assert!(
        matches!(err, LockError::Path(lockscope::PathError::EmptyDir)),
        "{err:?}"
    );
    assert!(err.to_string().contains("empty"), "{err}");
    assert!(!std::path::Path::new(LOCK).exists());
}
