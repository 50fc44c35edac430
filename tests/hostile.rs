//! Hostile lock paths: each gives a clear, typed error (library) and exit code 2 with a message
//! (CLI), never a panic or a hang, and leaves everything on disk exactly as it was.
#![cfg(unix)]

mod common;

use common::*;
use lockscope::probe::{LockState, probe};
use lockscope::{LockError, PathError, lock_dir};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// A case: builds `root/d` (the lock directory) in some hostile shape.
struct Case {
    name: &'static str,
    setup: fn(&Path),
    /// The error every entry point must report, checked by the library call.
    expect: fn(&PathError) -> bool,
    /// Words the CLI's message must contain.
    says: &'static str,
}

fn lock_in(root: &Path) -> PathBuf {
    root.join("d").join(LOCK)
}

fn mkdir_d(root: &Path) {
    std::fs::create_dir(root.join("d")).unwrap();
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

const CASES: &[Case] = &[
    Case {
        name: "lock path is a symlink to a file",
        setup: |r| {
            mkdir_d(r);
            std::fs::write(r.join("target"), b"precious").unwrap();
            symlink(r.join("target"), lock_in(r)).unwrap();
        },
        expect: |e| matches!(e, PathError::Symlink(_)),
        says: "symbolic link",
    },
    Case {
        name: "lock path is a symlink to a directory",
        setup: |r| {
            mkdir_d(r);
            std::fs::create_dir(r.join("elsewhere")).unwrap();
            symlink(r.join("elsewhere"), lock_in(r)).unwrap();
        },
        expect: |e| matches!(e, PathError::Symlink(_)),
        says: "symbolic link",
    },
    Case {
        name: "lock path is a dangling symlink",
        setup: |r| {
            mkdir_d(r);
            symlink(r.join("would-be-created"), lock_in(r)).unwrap();
        },
        expect: |e| matches!(e, PathError::Symlink(_)),
        says: "symbolic link",
    },
    Case {
        name: "lock path is a directory",
        setup: |r| {
            mkdir_d(r);
            std::fs::create_dir(lock_in(r)).unwrap();
        },
        expect: |e| matches!(e, PathError::IsDirectory(_)),
        says: "is a directory",
    },
    Case {
        name: "lock path is a FIFO",
        setup: |r| {
            mkdir_d(r);
            mkfifo(&lock_in(r));
        },
        expect: |e| matches!(e, PathError::SpecialFile(_)),
        says: "special file",
    },
    Case {
        name: "lock path is a socket",
        setup: |r| {
            mkdir_d(r);
            let listener = std::os::unix::net::UnixListener::bind(lock_in(r)).unwrap();
            std::mem::forget(listener); // keep the socket file; the fd dies with the test
        },
        expect: |e| matches!(e, PathError::SpecialFile(_)),
        says: "special file",
    },
    Case {
        name: "directory is missing",
        setup: |_| {},
        expect: |e| matches!(e, PathError::DirMissing(_)),
        says: "does not exist",
    },
    Case {
        name: "directory is a regular file",
        setup: |r| std::fs::write(r.join("d"), b"not a dir").unwrap(),
        expect: |e| matches!(e, PathError::NotADirectory(_)),
        says: "not a directory",
    },
];

fn path_error(result: Result<impl std::fmt::Debug, LockError>) -> PathError {
    match result {
        Err(LockError::Path(e)) => e,
        other => panic!("expected a path error, got {other:?}"),
    }
}

#[test]
fn hostile_paths_are_refused_and_disk_is_unchanged() {
    for case in CASES {
        let root = tempfile::tempdir().unwrap();
        (case.setup)(root.path());
        let before = snapshot(root.path());
        let lock = lock_in(root.path());
        let dir = root.path().join("d");

        let probed = probe(&lock).expect_err(case.name);
        assert!(
            (case.expect)(&probed),
            "{}: probe said {probed:?}",
            case.name
        );
        let locked = path_error(lock_dir(&dir));
        assert!(
            (case.expect)(&locked),
            "{}: lock_dir said {locked:?}",
            case.name
        );

        // status gets the lock file itself (a PATH that exists and is not a directory is taken
        // as a lock file, so "d is a regular file" would otherwise be probed as one); hold gets DIR.
        let runs = [
            (vec!["status"], &lock),
            (vec!["status", "--json"], &lock),
            (vec!["hold", "--for", "0s"], &dir),
        ];
        for (args, path) in runs {
            let out = run(lockscope().args(&args).arg(path));
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                out.status.code(),
                Some(2),
                "{}: {args:?} exit code; output {all}",
                case.name
            );
            assert!(
                all.contains(case.says),
                "{}: {args:?} should say {:?}: {all}",
                case.name,
                case.says
            );
        }
        let json = run(lockscope().args(["status", "--json"]).arg(&lock));
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(v[0]["state"], "error", "{}", case.name);
        assert!(
            v[0]["error"].as_str().unwrap().contains(case.says),
            "{}",
            case.name
        );

        assert_eq!(snapshot(root.path()), before, "{}: disk changed", case.name);
    }
}

/// A directory tree that the unprivileged user (nobody) can reach: tempdirs are 0700.
fn world_reachable_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

#[test]
fn unreadable_directory_is_permission_denied() {
    let root = world_reachable_root();
    let dir = root.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    if !is_root() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let before = snapshot(root.path());
    for sub in ["status", "hold"] {
        let out = lockscope_unprivileged(&[OsStr::new(sub), dir.as_os_str()]);
        assert_eq!(out.status.code(), Some(2), "{sub}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("permission denied")
                || String::from_utf8_lossy(&out.stdout).contains("permission denied"),
            "{sub}: {out:?}"
        );
    }
    assert_eq!(snapshot(root.path()), before);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn read_only_directory_can_be_probed_but_not_locked() {
    let root = world_reachable_root();
    let dir = root.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = snapshot(root.path());

    let status =
        lockscope_unprivileged(&[OsStr::new("status"), OsStr::new("--json"), dir.as_os_str()]);
    assert_eq!(status.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v[0]["state"], "absent");

    let hold = lockscope_unprivileged(&[OsStr::new("hold"), dir.as_os_str()]);
    assert_eq!(hold.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&hold.stderr).contains("permission denied"),
        "{hold:?}"
    );
    assert_eq!(snapshot(root.path()), before);
}

/// A lock file the user may not open (certbot's 0600 file, owned by root) is still probed,
/// through the kernel's lock table, without opening it.
#[test]
fn unopenable_lock_file_is_probed_through_the_lock_table() {
    let root = world_reachable_root();
    let dir = root.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();

    let certbot = certbot_lock_dir(&dir).expect_locked();
    if !is_root() {
        // Not root: mode 000 keeps even the owner from opening it.
        std::fs::set_permissions(dir.join(LOCK), std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let out =
        lockscope_unprivileged(&[OsStr::new("status"), OsStr::new("--json"), dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["state"], "held");
    assert_eq!(
        v[0]["holder"]["pid"], certbot.pid,
        "classic lock rows carry the pid"
    );
    certbot.kill();

    let out =
        lockscope_unprivileged(&[OsStr::new("status"), OsStr::new("--json"), dir.as_os_str()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["state"], "free");
}

#[test]
fn non_utf8_directory_names_work() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir(&dir).unwrap();
    let out = run(lockscope().args(["status", "--json"]).arg(&dir));
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v[0]["state"], "absent");
    assert!(v[0]["dir"].as_str().unwrap().ends_with("caf\u{fffd}"));

    let _lock = lock_dir(&dir).expect("lock a non-UTF-8 directory");
    assert_eq!(probe(dir.join(LOCK)).unwrap(), LockState::HeldByThisProcess);
}

#[test]
fn overlong_path_is_an_error_not_a_panic() {
    let long = format!("/tmp/{}", "x/".repeat(3000));
    let out = run(lockscope().args(["status", "--json", &long]));
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["state"], "error");
    let out = run(lockscope().args(["hold", &long]));
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}
