//! Issue 10, "Never say free while certbot holds the lock: every filesystem, path, namespace".
//!
//! REAL certbot (certbot._internal.lock, tests/peers/certbot_peer.py) against the `lockscope`
//! binary on real filesystems mounted inside a fresh tempdir (ext4, xfs, btrfs and a btrfs
//! subvolume on loop images, overlayfs two ways, tmpfs, FUSE via bindfs), across pid namespaces
//! (`unshare`), under different spellings of one directory, and with a FUSE daemon that stops
//! answering. No NFS: this kernel has no nfs/nfsd support, so network filesystems are not covered
//! here; bindfs stands in for "a filesystem served by a userspace daemon" (sshfs, s3fs, ...).
//!
//! These tests mount things, so they need root (CI runs them as root on a disposable machine);
//! not root, they fail with a message, they never pass silently. Every mount, loop device and
//! daemon is undone by a Drop guard (also when a test panics): `findmnt` and `losetup -a` show
//! nothing of ours afterwards.

use crate::common::mounts::*;
use crate::common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// How fast a watcher must report a certbot lock taken or released.
const REPORT_WITHIN: Duration = Duration::from_secs(2);
/// How long a watcher may take to print its initial lines.
const START_WITHIN: Duration = Duration::from_secs(5);
const BUSY: &str = "Another instance of Certbot is already running.";

// ---------------------------------------------------------------------------------------------
// Reading lockscope's answers.

/// `status --json` for one path: the record, after checking the exit code is 0.
#[track_caller]
fn status_of(cmd: &mut Command) -> Value {
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "status exit code; stdout {stdout} stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("status printed no JSON ({e}): {stdout}"));
    json[0].clone()
}

fn is_certbot_command(v: &Value) -> bool {
    v["holder"]["command"]
        .as_str()
        .is_some_and(|c| c.contains("certbot_peer.py hold"))
}

/// `held` by certbot's pid, with certbot's command line.
#[track_caller]
fn assert_held_by_certbot(record: &Value, pid: u32, what: &str) {
    assert!(
        record["state"] == "held" && record["holder"]["pid"] == pid && is_certbot_command(record),
        "{what}: expected held by certbot pid {pid} (command certbot_peer.py hold ...), got {record}"
    );
}

/// Inside a pid namespace: `held`, and the holder is certbot or unknown, never another process.
#[track_caller]
fn assert_held_by_certbot_or_unknown(record: &Value, host_pid: u32, what: &str) {
    let holder = &record["holder"];
    let named_right = holder["pid"] == host_pid && is_certbot_command(record);
    let unknown =
        holder["pid"].is_null() && (holder["command"].is_null() || is_certbot_command(record));
    assert!(
        record["state"] == "held" && (named_right || unknown),
        "{what}: expected held by certbot (host pid {host_pid}) or by an unknown holder (pid null), \
         never another process; got {record}"
    );
}

fn watch_cmd(base: Command, dirs: &[&OsStr]) -> Command {
    let mut cmd = base;
    cmd.args(["watch", "--json"]).args(dirs);
    cmd
}

/// Failed checks of one test, collected so that one failure does not hide the others; the
/// test panics with all of them at the end.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.0.push(msg());
        }
    }

    #[track_caller]
    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} check(s) failed:\n- {}",
            self.0.len(),
            self.0.join("\n- ")
        );
    }
}

/// Waits (up to `limit`) for a line of `dir` after `seen[from..]` with state `state`. Returns its
/// index. `free` lines of `dir` before it are failures too: certbot's file never sits unlocked.
fn wait_state(
    watch: &mut WatchStream,
    from: usize,
    dir: &str,
    state: &str,
    limit: Duration,
) -> Option<usize> {
    let find = |seen: &[Value]| {
        (from..seen.len()).find(|&i| seen[i]["dir"] == dir && seen[i]["state"] == state)
    };
    watch.lines_until(limit, |seen| find(seen).is_some());
    find(&watch.seen)
}

/// `cannot tell` (the probe's `Undecidable` error), and why: the lock table's row may be
/// another file's.
fn is_shared_name_undecidable(v: &Value) -> bool {
    v["state"] == "error"
        && v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("cannot tell") && e.contains("may be another file's"))
}

/// The checks of a watcher following one certbot run on `dir`: initial `absent`, then `held` by
/// certbot within 2 s of the lock, then `absent` within 2 s of the release; nothing else
/// between (no `free`, no other holder). Then a second watcher started while certbot holds
/// prints `held` first. `undecidable`: the watcher cannot open certbot's file and the lock
/// table's rows are ambiguous there (see [`Fs::table_names_are_shared`]): `cannot tell`
/// stands for `held`.
fn watch_follows_certbot(base: fn() -> Command, dir: &Path, undecidable: bool) {
    let held_state = if undecidable { "error" } else { "held" };
    let mut f = Failures::default();
    let d = dir.to_str().expect("UTF-8").to_string();
    let mut watch = WatchStream::spawn(&mut watch_cmd(base(), &[dir.as_os_str()]));
    watch.lines_until(START_WITHIN, |s| !s.is_empty());
    let initial_ok = watch.seen.first().is_some_and(|v| {
        v["dir"] == d.as_str() && v["state"] == "absent" && v["cause"] == "initial"
    });
    f.check(initial_ok, || {
        format!("initial line is not absent:\n{}", watch.transcript())
    });

    let certbot = certbot_lock_dir(dir).expect_locked();
    let mark = watch.seen.len();
    let held = wait_state(&mut watch, mark, &d, held_state, REPORT_WITHIN);
    match held {
        None => f.check(false, || {
            format!(
                "certbot (pid {}) locked; no held line within {REPORT_WITHIN:?}:\n{}",
                certbot.pid,
                watch.transcript()
            )
        }),
        Some(i) => {
            let v = watch.seen[i].clone();
            f.check(
                if undecidable {
                    is_shared_name_undecidable(&v)
                } else {
                    v["holder"]["pid"] == certbot.pid && is_certbot_command(&v)
                },
                || format!("held line does not name certbot pid {}: {v}", certbot.pid),
            );
            f.check(v["cause"] == "fs-event" || v["cause"] == "poll", || {
                format!("held line's cause: {v}")
            });
            f.check(i == mark, || {
                format!("lines between lock and held:\n{}", watch.transcript())
            });
        }
    }
    let pid = certbot.pid;
    certbot.release();
    let mark = watch.seen.len();
    let absent = wait_state(&mut watch, mark, &d, "absent", REPORT_WITHIN);
    f.check(absent.is_some(), || {
        format!(
            "certbot (pid {pid}) released; no absent line within {REPORT_WITHIN:?}:\n{}",
            watch.transcript()
        )
    });
    f.check(!watch.seen.iter().any(|v| v["state"] == "free"), || {
        format!("a free line during a certbot run:\n{}", watch.transcript())
    });
    drop(watch);

    let certbot = certbot_lock_dir(dir).expect_locked();
    let mut second = WatchStream::spawn(&mut watch_cmd(base(), &[dir.as_os_str()]));
    second.lines_until(START_WITHIN, |s| !s.is_empty());
    let first = second.seen.first().cloned().unwrap_or(Value::Null);
    let named = if undecidable {
        is_shared_name_undecidable(&first)
    } else {
        first["state"] == "held" && first["holder"]["pid"] == certbot.pid
    };
    f.check(named && first["cause"] == "initial", || {
        format!(
            "a watch started while certbot (pid {}) holds: initial line {first}",
            certbot.pid
        )
    });
    certbot.release();
    f.finish();
}

fn root_lockscope() -> Command {
    lockscope()
}

// ---------------------------------------------------------------------------------------------
// The filesystem matrix: the same checks on every filesystem.

/// Check 1 (root): certbot is running; the admin asks `lockscope status`.
fn check_status_root(fs: Fs) {
    let fx = fs.mount();
    let certbot = certbot_lock_dir(&fx.dir).expect_locked();
    let record = status_of(lockscope().args(["status", "--json"]).arg(&fx.dir));
    assert_held_by_certbot(&record, certbot.pid, &format!("status as root on {fs:?}"));
    // Only the userspace filesystem's locks may not exclude other machines.
    let warned = record["warnings"]
        .as_array()
        .is_some_and(|w| w.iter().any(|w| w["kind"] == "network-filesystem"));
    assert_eq!(warned, fs == Fs::FuseBindfs, "{fs:?}: {record}");
    // certbot's own lock set: the peer locks one directory only.
    assert_eq!(
        record["lock_set"],
        serde_json::json!([]),
        "{fs:?}: {record}"
    );
    certbot.release();
}

/// Check 1 (unprivileged): a monitoring user (not root) asks `lockscope status` while certbot
/// runs. certbot's lock file is 0600 root, so this probe cannot open it; /proc/locks and
/// /proc/PID/cmdline are world-readable, so the holder is still known. Except where the lock
/// table's names are shared ([`Fs::table_names_are_shared`]): there "cannot tell" (exit 2).
fn check_status_unprivileged(fs: Fs) {
    let fx = fs.mount();
    let certbot = certbot_lock_dir(&fx.dir).expect_locked();
    let mut cmd = unprivileged_lockscope();
    cmd.args(["status", "--json"]).arg(&fx.dir);
    if fs.table_names_are_shared() {
        let out = run(&mut cmd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let record = serde_json::from_str::<Value>(&stdout).map(|v| v[0].clone());
        assert!(
            out.status.code() == Some(2) && record.as_ref().is_ok_and(is_shared_name_undecidable),
            "status as uid 65534 on {fs:?} (certbot pid {}): {} {stdout}",
            certbot.pid,
            out.status
        );
    } else {
        let record = status_of(&mut cmd);
        assert_held_by_certbot(
            &record,
            certbot.pid,
            &format!("status as uid 65534 on {fs:?}"),
        );
    }
    certbot.release();
}

/// Check 2: a dashboard (`lockscope watch --json`) runs while certbot renews.
/// (`unprivileged`: as uid 65534, who cannot open certbot's file and relies on the lock table.)
fn check_watch(fs: Fs, unprivileged: bool) {
    let fx = fs.mount();
    let base = if unprivileged {
        unprivileged_lockscope
    } else {
        root_lockscope
    };
    watch_follows_certbot(base, &fx.dir, unprivileged && fs.table_names_are_shared());
}

/// Check 3: lockscope's lock and certbot's exclude each other both ways.
fn check_hold_vs_certbot(fs: Fs) {
    let fx = fs.mount();
    let d = fx.dir.to_str().expect("UTF-8");
    let mut f = Failures::default();
    let mut ours = lockscope_hold(&["--for", "60s", d]);
    f.check(ours.line.starts_with("held "), || {
        format!("lockscope hold printed {:?}", ours.line)
    });
    match certbot_lock_dir(&fx.dir) {
        CertbotLock::Busy(msg) => f.check(msg == BUSY, || format!("certbot said {msg:?}")),
        CertbotLock::Locked(c) => {
            f.check(false, || {
                format!("certbot (pid {}) took the lock lockscope holds", c.pid)
            });
            c.release();
        }
    }
    ours.signal("TERM");
    f.check(ours.wait_exit(Duration::from_secs(5)) == 0, || {
        "hold did not exit 0 on SIGTERM".into()
    });

    let certbot = certbot_lock_dir(&fx.dir).expect_locked();
    let out = run(lockscope().arg("hold").arg(&fx.dir));
    let stderr = String::from_utf8_lossy(&out.stderr);
    f.check(
        out.status.code() == Some(1) && stderr.contains(&format!("pid {}", certbot.pid)),
        || {
            format!(
                "lockscope hold while certbot (pid {}) holds: {} {stderr}",
                certbot.pid, out.status
            )
        },
    );
    certbot.release();
    f.finish();
}

/// Check 4: someone runs `lockscope hold` (an OFD lock: /proc/locks shows pid -1) to test a
/// renewal under contention; another shell's `lockscope status` must name that process.
fn check_ofd_holder(fs: Fs) {
    let fx = fs.mount();
    let holder = lockscope_hold(&["--for", "60s", fx.dir.to_str().expect("UTF-8")]);
    assert!(holder.line.starts_with("held "), "{}", holder.line);
    let record = status_of(lockscope().args(["status", "--json"]).arg(&fx.dir));
    assert!(
        record["state"] == "held" && record["holder"]["pid"] == holder.child.id(),
        "status while `lockscope hold` (pid {}) holds on {fs:?}: {record}",
        holder.child.id()
    );
}

/// Where the lock table cannot vouch for a file (btrfs before its naming is confirmed, FUSE,
/// a pid namespace), the monitor opens the lock file to probe it, and each open is an inotify
/// event in the watched directory. If the monitor took its own opens for arrivals it would
/// re-probe (and re-open) for ever: an idle engine must stay idle.
fn check_idle_stale_watch(fs: Fs) {
    use lockscope::monitor::{DirState, LockState, Monitor, MonitorOptions, Update};
    let fx = fs.mount();
    std::fs::write(fx.dir.join(LOCK), b"").expect("stale lock file");
    let (monitor, updates) = Monitor::start(
        MonitorOptions {
            interval: Duration::from_millis(50),
            ..MonitorOptions::default()
        },
        || {},
    )
    .expect("monitor");
    monitor.add(fx.dir.clone());
    let next_state = |limit: Duration| loop {
        match updates
            .recv_timeout(limit)
            .expect("a state within the limit")
        {
            Update::Change(c) => break c.new,
            Update::Notice(_) => continue,
        }
    };
    assert_eq!(next_state(START_WITHIN), DirState::Lock(LockState::Free));
    let before = monitor.stats();
    std::thread::sleep(Duration::from_millis(1500));
    let after = monitor.stats();
    let passes = after.passes - before.passes;
    assert!(passes >= 10, "{passes} passes in 1.5 s at 50 ms");
    assert!(
        after.event_probes - before.event_probes <= 2,
        "an idle stale file caused {} event probes ({} events) over {passes} passes",
        after.event_probes - before.event_probes,
        after.fs_events - before.fs_events,
    );
    let certbot = certbot_lock_dir(&fx.dir).expect_locked();
    match next_state(REPORT_WITHIN) {
        DirState::Lock(LockState::Held(h)) => assert_eq!(h.pid, Some(certbot.pid), "{h:?}"),
        other => panic!("certbot took the stale file, the monitor says {other:?}"),
    }
    certbot.release();
}

macro_rules! fs_matrix {
    ($($name:ident => $fs:expr),* $(,)?) => {$(
        mod $name {
            use super::*;

            /// certbot holds; `lockscope status --json` as root: held by certbot's pid.
            #[test]
            fn status_as_root_names_certbot() {
                check_status_root($fs);
            }

            /// certbot holds; `lockscope status --json` as uid 65534: held by certbot's pid.
            #[test]
            fn status_unprivileged_names_certbot() {
                check_status_unprivileged($fs);
            }

            /// `watch --json` as root: absent, held (certbot), absent; held when started late.
            #[test]
            fn watch_as_root_follows_certbot() {
                check_watch($fs, false);
            }

            /// The same watch as uid 65534.
            #[test]
            fn watch_unprivileged_follows_certbot() {
                check_watch($fs, true);
            }

            /// `lockscope hold` vs certbot, both ways.
            #[test]
            fn hold_and_certbot_exclude_each_other() {
                check_hold_vs_certbot($fs);
            }

            /// `lockscope hold` (OFD lock) holds; `status` in another process names it.
            #[test]
            fn status_finds_the_ofd_holder() {
                check_ofd_holder($fs);
            }

            /// A stale lock file watched in-process stays quiet (the monitor's own probes cause
            /// no work), and certbot taking it is still seen.
            #[test]
            fn an_idle_watch_of_a_stale_file_does_no_event_work() {
                check_idle_stale_watch($fs);
            }
        }
    )*};
}

fs_matrix! {
    ext4 => Fs::Ext4,
    xfs => Fs::Xfs,
    btrfs => Fs::Btrfs,
    btrfs_subvolume => Fs::BtrfsSubvolume,
    overlay_same_fs => Fs::OverlaySameDisk,
    overlay_tmpfs_upper => Fs::OverlayTmpfsUpper,
    tmpfs => Fs::Tmpfs,
    fuse_bindfs => Fs::FuseBindfs,
}

// ---------------------------------------------------------------------------------------------
// Pid namespaces.

mod pid_namespace {
    use super::*;

    /// `unshare --pid --fork [--mount-proc] --kill-child PROG ARGS...`: PROG as pid 1 of a new
    /// pid namespace, killed when unshare dies (our Drop guards kill unshare).
    fn in_pidns(mount_proc: bool, prog: &OsStr) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--kill-child"]);
        if mount_proc {
            cmd.arg("--mount-proc");
        }
        cmd.arg(prog);
        cmd
    }

    fn lockscope_in_pidns(mount_proc: bool) -> Command {
        in_pidns(mount_proc, OsStr::new(env!("CARGO_BIN_EXE_lockscope")))
    }

    fn dir() -> (tempfile::TempDir, PathBuf) {
        require_root();
        let tmp = tempdir();
        let dir = tmp.path().join("d");
        mkdir(&dir);
        (tmp, dir)
    }

    /// A container (own pid namespace and /proc) runs lockscope to check the host's certbot
    /// directory, mounted in: certbot's process is invisible, the lock is not.
    #[test]
    fn certbot_outside_lockscope_inside_with_its_own_proc() {
        let (_tmp, dir) = dir();
        let certbot = certbot_lock_dir(&dir).expect_locked();
        let record = status_of(
            lockscope_in_pidns(true)
                .args(["status", "--json"])
                .arg(&dir),
        );
        assert_held_by_certbot_or_unknown(&record, certbot.pid, "status inside a pid namespace");
        certbot.release();
    }

    /// The same container keeps a `lockscope watch` running across host certbot runs.
    #[test]
    fn certbot_outside_watch_inside_with_its_own_proc() {
        let (_tmp, dir) = dir();
        watch_inside(&dir, true);
    }

    /// A container whose pid namespace still sees the host's /proc (`unshare --pid --fork`
    /// without --mount-proc, or a runtime that bind-mounts /proc): pids read from the lock table
    /// belong to another namespace, so the holder must be certbot or unknown, never the host's
    /// `pid 2 [kthreadd]`.
    #[test]
    fn certbot_outside_lockscope_inside_seeing_the_hosts_proc() {
        let (_tmp, dir) = dir();
        let certbot = certbot_lock_dir(&dir).expect_locked();
        let record = status_of(
            lockscope_in_pidns(false)
                .args(["status", "--json"])
                .arg(&dir),
        );
        assert_held_by_certbot_or_unknown(
            &record,
            certbot.pid,
            "status in a pid namespace seeing the host's /proc",
        );
        certbot.release();
    }

    /// The same, with `lockscope watch`.
    #[test]
    fn certbot_outside_watch_inside_seeing_the_hosts_proc() {
        let (_tmp, dir) = dir();
        watch_inside(&dir, false);
    }

    /// certbot outside runs once while a watch inside runs, then a watch starts inside while
    /// certbot holds: held every time (holder certbot or unknown), never free/absent meanwhile.
    fn watch_inside(dir: &Path, mount_proc: bool) {
        let mut f = Failures::default();
        let d = dir.to_str().expect("UTF-8");
        let mut watch = WatchStream::spawn(
            lockscope_in_pidns(mount_proc)
                .args(["watch", "--json"])
                .arg(dir),
        );
        watch.lines_until(START_WITHIN, |s| !s.is_empty());
        f.check(
            watch.seen.first().is_some_and(|v| v["state"] == "absent"),
            || format!("initial line:\n{}", watch.transcript()),
        );
        let certbot = certbot_lock_dir(dir).expect_locked();
        let mark = watch.seen.len();
        match wait_state(&mut watch, mark, d, "held", REPORT_WITHIN) {
            None => f.check(false, || {
                format!(
                    "certbot (host pid {}) locked; no held line within {REPORT_WITHIN:?}:\n{}",
                    certbot.pid,
                    watch.transcript()
                )
            }),
            Some(i) => {
                let v = &watch.seen[i];
                let named_right = v["holder"]["pid"] == certbot.pid && is_certbot_command(v);
                let unknown = v["holder"]["pid"].is_null();
                f.check(named_right || unknown, || {
                    format!("held line names another process: {v}")
                });
            }
        }
        let pid = certbot.pid;
        certbot.release();
        let mark = watch.seen.len();
        f.check(
            wait_state(&mut watch, mark, d, "absent", REPORT_WITHIN).is_some(),
            || {
                format!(
                    "certbot (host pid {pid}) released; no absent line:\n{}",
                    watch.transcript()
                )
            },
        );
        f.check(!watch.seen.iter().any(|v| v["state"] == "free"), || {
            format!("free during a certbot run:\n{}", watch.transcript())
        });
        drop(watch);

        let certbot = certbot_lock_dir(dir).expect_locked();
        let mut second = WatchStream::spawn(
            lockscope_in_pidns(mount_proc)
                .args(["watch", "--json"])
                .arg(dir),
        );
        second.lines_until(START_WITHIN, |s| !s.is_empty());
        let first = second.seen.first().cloned().unwrap_or(Value::Null);
        let named_right = first["holder"]["pid"] == certbot.pid && is_certbot_command(&first);
        let unknown = first["holder"]["pid"].is_null() && !first["holder"].is_null();
        f.check(first["state"] == "held" && (named_right || unknown), || {
            format!(
                "watch started inside while certbot (host pid {}) holds: {first}",
                certbot.pid
            )
        });
        certbot.release();
        f.finish();
    }

    /// certbot and lockscope in the same container, which shares the host's /proc (a runtime
    /// that bind-mounts /proc, or `nsenter --pid` alone): the lock's pid is certbot's pid in
    /// the namespace (1 here), and `/proc/1` is the host's init. The holder must be certbot
    /// (its host pid and command) or unknown, never the host process that happens to have the
    /// namespace pid (`pid 2 [kthreadd]` in the measured case).
    #[test]
    fn certbot_and_lockscope_in_one_namespace_seeing_the_hosts_proc() {
        let (_tmp, dir) = dir();
        let mut certbot = NamespacedCertbot::lock(&dir);
        let host_pid = certbot.host_pid;
        let nsenter = |args: &[&str]| {
            let mut cmd = Command::new("nsenter");
            cmd.arg(format!("--target={host_pid}"))
                .args(["--pid", "--"])
                .arg(env!("CARGO_BIN_EXE_lockscope"))
                .args(args)
                .arg(&dir);
            cmd
        };
        let mut f = Failures::default();
        let record = status_of(&mut nsenter(&["status", "--json"]));
        let named_right = record["holder"]["pid"] == host_pid && is_certbot_command(&record);
        let unknown = record["holder"]["pid"].is_null() && record["holder"]["command"].is_null();
        f.check(record["state"] == "held" && (named_right || unknown), || {
            format!("status in certbot's namespace (certbot host pid {host_pid}, ns pid 1): {record}")
        });
        let mut watch = WatchStream::spawn(&mut nsenter(&["watch", "--json"]));
        watch.lines_until(START_WITHIN, |s| !s.is_empty());
        let first = watch.seen.first().cloned().unwrap_or(Value::Null);
        let named_right = first["holder"]["pid"] == host_pid && is_certbot_command(&first);
        let unknown = first["holder"]["pid"].is_null() && first["holder"]["command"].is_null();
        f.check(first["state"] == "held" && (named_right || unknown), || {
            format!("watch in certbot's namespace (certbot host pid {host_pid}, ns pid 1): {first}")
        });
        drop(watch);
        certbot.release();
        f.finish();
    }

    /// certbot running in a container (own pid namespace), lockscope on the host: the host
    /// must see the lock held by certbot's HOST pid.
    #[test]
    fn certbot_inside_lockscope_outside_names_its_host_pid() {
        let (_tmp, dir) = dir();
        let mut certbot = NamespacedCertbot::lock(&dir);
        let host_pid = certbot.host_pid;
        let mut f = Failures::default();
        let record = status_of(lockscope().args(["status", "--json"]).arg(&dir));
        f.check(
            record["state"] == "held" && record["holder"]["pid"] == host_pid && is_certbot_command(&record),
            || format!("status on the host: expected held by certbot's host pid {host_pid}, got {record}"),
        );
        let out = run(lockscope().arg("hold").arg(&dir));
        let stderr = String::from_utf8_lossy(&out.stderr);
        f.check(
            out.status.code() == Some(1) && stderr.contains(&format!("pid {host_pid}")),
            || format!("hold on the host: {} {stderr}", out.status),
        );
        let mut watch = WatchStream::spawn(lockscope().args(["watch", "--json"]).arg(&dir));
        watch.lines_until(START_WITHIN, |s| !s.is_empty());
        let first = watch.seen.first().cloned().unwrap_or(Value::Null);
        f.check(
            first["state"] == "held" && first["holder"]["pid"] == host_pid,
            || format!("watch on the host: expected held by host pid {host_pid}, got {first}"),
        );
        certbot.release();
        f.finish();
    }

    /// Real certbot as pid 1 of a new pid namespace (with its own /proc).
    struct NamespacedCertbot {
        unshare: Child,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
        host_pid: u32,
    }

    impl NamespacedCertbot {
        fn lock(dir: &Path) -> NamespacedCertbot {
            let mut unshare = in_pidns(true, certbot_python().as_os_str())
                .arg(peer_script())
                .arg("hold")
                .arg(dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start unshare");
            let stdin = unshare.stdin.take().expect("stdin");
            let mut stdout = BufReader::new(unshare.stdout.take().expect("stdout"));
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read certbot peer");
            assert_eq!(line.trim(), "locked 1", "certbot is pid 1 of its namespace");
            let children = format!("/proc/{0}/task/{0}/children", unshare.id());
            let children = std::fs::read_to_string(&children).expect("read children");
            let host_pid: u32 = children
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("unshare has no child: {children:?}"));
            let status =
                std::fs::read_to_string(format!("/proc/{host_pid}/status")).expect("status");
            let nspid = format!("NSpid: {host_pid} 1");
            assert!(
                status
                    .lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == nspid),
                "pid {host_pid} is not pid 1 of a child namespace: {status}"
            );
            NamespacedCertbot {
                unshare,
                stdin,
                stdout,
                host_pid,
            }
        }

        fn release(&mut self) {
            writeln!(self.stdin, "release").expect("tell certbot to release");
            let mut line = String::new();
            self.stdout.read_line(&mut line).expect("read certbot peer");
            assert_eq!(line.trim(), "released");
        }
    }

    impl Drop for NamespacedCertbot {
        fn drop(&mut self) {
            let _ = self.unshare.kill();
            let _ = self.unshare.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Path spellings.

mod path_spellings {
    use super::*;

    struct Tree {
        _cleanup: Cleanup,
        /// `<tmp>/parent`
        parent: PathBuf,
        /// `<tmp>/parent/d`, the directory certbot locks.
        dir: PathBuf,
        /// `<tmp>/link` -> `<tmp>/parent`
        link: PathBuf,
        /// `<tmp>/bind`, a bind mount of `dir`.
        bind: PathBuf,
        _tmp: tempfile::TempDir,
    }

    fn tree() -> Tree {
        require_root();
        let tmp = tempdir();
        let parent = tmp.path().join("parent");
        let dir = parent.join("d");
        mkdir(&dir);
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&parent, &link).expect("symlink");
        let bind = tmp.path().join("bind");
        mkdir(&bind);
        let mut cleanup = Cleanup::default();
        sh("mount", &[os("--bind"), dir.as_os_str(), bind.as_os_str()]);
        cleanup.0.push(Undo::Umount(bind.clone()));
        Tree {
            _cleanup: cleanup,
            parent,
            dir,
            link,
            bind,
            _tmp: tmp,
        }
    }

    /// One `watch --json` (run in `cwd`) of the same directory under every spelling in
    /// `spellings`; then one short certbot run (lock, ~300 ms, release). Every spelling must get
    /// its own row whose `dir` is exactly the argument as given (the user's spelling, e.g.
    /// `d/` keeps its slash), the same string in the initial and every later line, and every row
    /// must show held (certbot) then absent within 2 s.
    fn every_spelling_follows(cwd: &Path, spellings: &[String], dir: &Path) {
        let mut f = Failures::default();
        let mut cmd = lockscope();
        cmd.current_dir(cwd)
            .args(["watch", "--json"])
            .args(spellings);
        let mut watch = WatchStream::spawn(&mut cmd);
        let has_initial = |seen: &[Value], s: &str| {
            seen.iter()
                .any(|v| v["dir"] == s && v["cause"] == "initial" && v["state"] == "absent")
        };
        watch.lines_until(START_WITHIN, |seen| {
            spellings.iter().all(|s| has_initial(seen, s))
        });
        for s in spellings {
            f.check(has_initial(&watch.seen, s), || {
                format!("no initial absent line whose dir is exactly {s:?}")
            });
        }

        let certbot = certbot_lock_dir(dir).expect_locked();
        let pid = certbot.pid;
        let mark = watch.seen.len();
        // Hold ~300 ms, reading meanwhile.
        watch.lines_until(Duration::from_millis(300), |_| false);
        certbot.release();
        let row_done = |seen: &[Value], s: &str| {
            let rows: Vec<&Value> = seen[mark..].iter().filter(|v| v["dir"] == s).collect();
            rows.iter()
                .position(|v| v["state"] == "held")
                .is_some_and(|h| rows[h..].iter().any(|v| v["state"] == "absent"))
        };
        watch.lines_until(REPORT_WITHIN, |seen| {
            spellings.iter().all(|s| row_done(seen, s))
        });
        for s in spellings {
            let rows: Vec<&Value> = watch.seen[mark..]
                .iter()
                .filter(|v| v["dir"] == s.as_str())
                .collect();
            let held = rows.iter().find(|v| v["state"] == "held");
            f.check(row_done(&watch.seen, s), || {
                format!(
                    "{s:?}: no held-then-absent within {REPORT_WITHIN:?} of a 300 ms certbot run"
                )
            });
            if let Some(h) = held {
                f.check(h["holder"]["pid"] == pid, || {
                    format!("{s:?}: held line names {h}")
                });
            }
            f.check(!rows.iter().any(|v| v["state"] == "free"), || {
                format!("{s:?}: a free line")
            });
        }
        for v in &watch.seen {
            let consistent = v["dir"]
                .as_str()
                .is_some_and(|d| spellings.iter().any(|s| s == d));
            f.check(consistent, || {
                format!("a line whose dir is none of the arguments: {v}")
            });
        }
        if !f.0.is_empty() {
            f.0.push(format!(
                "certbot pid {pid}; transcript:\n{}",
                watch.transcript()
            ));
        }
        f.finish();
    }

    /// A user at a shell in certbot's parent directory (`cd /etc; lockscope watch letsencrypt
    /// ./letsencrypt ...`), plus the same directory via a symlinked parent (as
    /// /etc/letsencrypt -> /srv/le), a bind mount (a container's view) and its real path, all in
    /// one watcher.
    #[test]
    fn every_spelling_from_the_parent_follows_a_short_certbot_run() {
        let t = tree();
        let abs = |p: &Path| p.to_str().expect("UTF-8").to_string();
        let spellings = vec![
            "d".to_string(),
            "./d".to_string(),
            abs(&t.link.join("d")),
            abs(&t.bind),
            abs(&t.dir),
        ];
        every_spelling_follows(&t.parent, &spellings, &t.dir);
    }

    /// `lockscope watch letsencrypt/` (a shell's completion adds the slash): the row keeps that
    /// spelling in every line. (Spellings that are the same path to `Path`, like `d` and `d/`,
    /// are one row, reported as first given.)
    #[test]
    fn a_trailing_slash_spelling_is_kept_in_every_line() {
        let t = tree();
        every_spelling_follows(&t.parent, &["d/".to_string()], &t.dir);
    }

    /// A user at a shell inside the directory (`cd /etc/letsencrypt; lockscope watch . ../letsencrypt
    /// /etc/letsencrypt`).
    #[test]
    fn every_spelling_from_inside_follows_a_short_certbot_run() {
        let t = tree();
        let spellings = vec![
            ".".to_string(),
            "../d".to_string(),
            t.dir.to_str().expect("UTF-8").to_string(),
        ];
        every_spelling_follows(&t.dir, &spellings, &t.dir);
    }

    /// `cd /etc && lockscope watch letsencrypt` while a 1 s certbot run happens: it must be seen.
    #[test]
    fn a_one_second_certbot_run_is_seen_via_a_relative_path_alone() {
        let t = tree();
        let mut cmd = lockscope();
        cmd.current_dir(&t.parent).args(["watch", "--json", "d"]);
        let mut watch = WatchStream::spawn(&mut cmd);
        watch.lines_until(START_WITHIN, |s| !s.is_empty());
        assert!(
            watch
                .seen
                .first()
                .is_some_and(|v| v["dir"] == "d" && v["state"] == "absent"),
            "initial line:\n{}",
            watch.transcript()
        );
        let certbot = certbot_lock_dir(&t.dir).expect_locked();
        let pid = certbot.pid;
        let locked_at = Instant::now();
        let seen_held = wait_state(&mut watch, 1, "d", "held", Duration::from_secs(1)).is_some();
        // Hold for the rest of the second.
        let rest = Duration::from_secs(1).saturating_sub(locked_at.elapsed());
        watch.lines_until(rest, |_| false);
        certbot.release();
        assert!(
            seen_held,
            "a 1 s certbot run (pid {pid}) watched as `d` from its parent was never reported held:\n{}",
            watch.transcript()
        );
        let from = watch.seen.len();
        assert!(
            wait_state(&mut watch, from, "d", "absent", REPORT_WITHIN).is_some(),
            "release not reported:\n{}",
            watch.transcript()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// btrfs snapshots (issue 20, item 6).

/// A btrfs snapshot keeps its subvolume's inode numbers, and the lock table names every file of
/// the filesystem by one device (the superblock's), so one row of `/proc/locks` fits the
/// original's lock file and the snapshot's alike: it is evidence for neither. (Snapshots taken
/// while certbot runs are what snapper and timeshift do on Fedora and openSUSE roots.)
///
/// certbot holds the original, then (the other way round) the snapshot. uid 65534, who cannot
/// open certbot's 0600 file, must never hear that the unlocked one is held by certbot, nor that
/// the locked one is free ("cannot tell" is allowed: it cannot). Root's direct query must be
/// right for both: held by certbot, and free.
#[test]
fn a_btrfs_snapshot_is_never_said_held_by_the_originals_certbot() {
    let fx = Fs::BtrfsSubvolume.mount();
    let mnt = fx.tmp.path().join("mnt");
    let original = fx.dir.clone();
    // The lock file a killed certbot leaves, so that the snapshot has it too.
    certbot_lock_dir(&original).expect_locked().kill();
    let snap = mnt.join("snap");
    sh(
        "btrfs",
        &[
            os("subvolume"),
            os("snapshot"),
            mnt.join("sv").as_os_str(),
            snap.as_os_str(),
        ],
    );
    let snapshot = snap.join("d");
    let (a, b) = (
        std::fs::metadata(original.join(LOCK)).expect("stat"),
        std::fs::metadata(snapshot.join(LOCK)).expect("stat"),
    );
    assert!(
        a.ino() == b.ino() && a.dev() != b.dev(),
        "the snapshot's lock file should keep the inode number on its own st_dev"
    );

    let mut f = Failures::default();
    let status_json = |cmd: &mut Command, dirs: [&Path; 2]| -> Vec<Value> {
        let out = run(cmd.args(["status", "--json"]).args(dirs));
        let stdout = String::from_utf8_lossy(&out.stdout);
        match serde_json::from_str::<Value>(&stdout) {
            Ok(Value::Array(rows)) if rows.len() == 2 => rows,
            _ => panic!(
                "status printed no two JSON rows: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    };
    for (locked, unlocked) in [(&original, &snapshot), (&snapshot, &original)] {
        let certbot = certbot_lock_dir(locked).expect_locked();
        let pid = certbot.pid;
        let what = |dir: &Path| {
            if dir == original {
                "the original"
            } else {
                "the snapshot"
            }
        };
        let held_by_certbot =
            |v: &Value| v["state"] == "held" && v["holder"]["pid"] == pid && is_certbot_command(v);

        let rows = status_json(&mut unprivileged_lockscope(), [locked, unlocked]);
        f.check(
            !matches!(rows[0]["state"].as_str(), Some("free" | "absent")),
            || {
                format!(
                    "certbot (pid {pid}) holds {}; unprivileged status says {}",
                    what(locked),
                    rows[0]
                )
            },
        );
        f.check(
            rows[0]["state"] != "held" || held_by_certbot(&rows[0]),
            || format!("unprivileged status names another holder: {}", rows[0]),
        );
        f.check(rows[1]["state"] != "held", || {
            format!(
                "certbot (pid {pid}) holds {}; unprivileged status of {} (unlocked) says {}",
                what(locked),
                what(unlocked),
                rows[1]
            )
        });

        let rows = status_json(&mut lockscope(), [locked, unlocked]);
        f.check(held_by_certbot(&rows[0]), || {
            format!(
                "root's status of {} (certbot pid {pid} holds): {}",
                what(locked),
                rows[0]
            )
        });
        f.check(rows[1]["state"] == "free", || {
            format!(
                "root's status of {} (unlocked): {}",
                what(unlocked),
                rows[1]
            )
        });

        // The monitor (watch, serve, the app), from its snapshot of the lock table: its first
        // lines as uid 65534 (as status), and as root (right for both).
        let (l, u) = (
            locked.to_str().expect("UTF-8"),
            unlocked.to_str().expect("UTF-8"),
        );
        for unprivileged in [true, false] {
            let base = if unprivileged {
                unprivileged_lockscope()
            } else {
                lockscope()
            };
            let who = if unprivileged { "uid 65534" } else { "root" };
            let mut watch = WatchStream::spawn(&mut watch_cmd(
                base,
                &[locked.as_os_str(), unlocked.as_os_str()],
            ));
            watch.lines_until(START_WITHIN, |seen| {
                seen.iter().any(|v| v["dir"] == l) && seen.iter().any(|v| v["dir"] == u)
            });
            for v in &watch.seen {
                if v["dir"] == u {
                    let ok = if unprivileged {
                        v["state"] != "held"
                    } else {
                        v["state"] == "free"
                    };
                    f.check(ok, || {
                        format!("{who}'s watch of {} (unlocked): {v}", what(unlocked))
                    });
                } else if v["dir"] == l {
                    let ok = if unprivileged {
                        !matches!(v["state"].as_str(), Some("free" | "absent"))
                            && (v["state"] != "held" || held_by_certbot(v))
                    } else {
                        held_by_certbot(v)
                    };
                    f.check(ok, || {
                        format!("{who}'s watch of {} (certbot holds): {v}", what(locked))
                    });
                }
            }
            f.check(watch.seen.len() >= 2, || {
                format!(
                    "{who}'s watch printed no initial lines:\n{}",
                    watch.transcript()
                )
            });
        }
        // Killed, not released: the file stays for the other way round.
        certbot.kill();
    }
    f.finish();
}

// ---------------------------------------------------------------------------------------------
// A filesystem that stops answering.

/// A FUSE (or, elsewhere, network) filesystem hangs: its daemon stops answering while
/// `lockscope watch` follows a directory on it and another on a healthy filesystem. The healthy
/// row must keep working, Ctrl-C must still stop the watcher, and the hung row must say
/// `not-responding`. bindfs SIGSTOPped stands in for a hung sshfs or a dead NFS server (no NFS
/// support in this kernel).
#[test]
fn a_hung_fuse_daemon_does_not_stall_other_rows_or_ctrl_c() {
    let fuse = Fs::FuseBindfs.mount();
    let healthy = Fs::Tmpfs.mount();
    let daemon = fuse.daemon.expect("bindfs pid");
    let (fd, hd) = (
        fuse.dir.to_str().expect("UTF-8").to_string(),
        healthy.dir.to_str().expect("UTF-8").to_string(),
    );
    let mut f = Failures::default();
    // A 100 ms pass, so that passes certainly reach the FUSE directory while its daemon is
    // stopped (FUSE counts as a filesystem without complete events: probed every pass).
    let mut cmd = lockscope();
    cmd.args(["watch", "--json", "--interval", "100ms"])
        .arg(&fuse.dir)
        .arg(&healthy.dir);
    let mut watch = WatchStream::spawn(&mut cmd);
    let initial = |seen: &[Value], d: &str| {
        seen.iter()
            .any(|v| v["dir"] == d && v["cause"] == "initial")
    };
    assert!(
        watch.lines_until(START_WITHIN, |s| initial(s, &fd) && initial(s, &hd)),
        "initial lines:\n{}",
        watch.transcript()
    );

    // SAFETY: kill has no memory-safety preconditions; the pid is our bindfs child's. The
    // fixture's cleanup sends SIGCONT before unmounting, also if this test fails.
    assert_eq!(unsafe { libc::kill(daemon as i32, libc::SIGSTOP) }, 0);
    let stopped_at = Instant::now();
    // Let a few passes run into the stopped daemon before certbot starts (reading meanwhile).
    watch.lines_until(Duration::from_millis(500), |_| false);

    let certbot = certbot_lock_dir(&healthy.dir).expect_locked();
    let mark = watch.seen.len();
    let held = wait_state(&mut watch, mark, &hd, "held", REPORT_WITHIN);
    f.check(held.is_some_and(|i| watch.seen[i]["holder"]["pid"] == certbot.pid), || {
        format!("tmpfs row not held by certbot (pid {}) within {REPORT_WITHIN:?} while the FUSE daemon is stopped", certbot.pid)
    });

    let hung = wait_state(
        &mut watch,
        0,
        &fd,
        "not-responding",
        Duration::from_secs(10).saturating_sub(stopped_at.elapsed()),
    );
    f.check(hung.is_some(), || {
        "FUSE row never said not-responding within 10 s of the daemon stopping".into()
    });

    watch.signal(libc::SIGINT);
    let exit = watch.exit_within(Duration::from_secs(1));
    f.check(exit.is_some_and(|s| s.success()), || {
        format!("watch did not exit 0 within 1 s of SIGINT (exit: {exit:?})")
    });
    certbot.release();
    if !f.0.is_empty() {
        f.0.push(format!("transcript:\n{}", watch.transcript()));
    }
    drop(watch);
    drop(healthy);
    drop(fuse);
    f.finish();
}

/// The app holds its locks in a worker thread of the same process that probes and monitors.
/// An acquire stuck on a FUSE mount whose daemon stopped (the user clicked Acquire on it) must
/// not stop the probes of every other directory in the process.
#[test]
fn an_acquire_stuck_on_a_hung_fuse_mount_does_not_block_other_probes() {
    let fuse = Fs::FuseBindfs.mount();
    let healthy = Fs::Tmpfs.mount();
    let daemon = fuse.daemon.expect("bindfs pid");
    // SAFETY: kill has no memory-safety preconditions; the pid is our bindfs child's. The
    // fixture's cleanup sends SIGCONT before unmounting, also if this test fails.
    assert_eq!(unsafe { libc::kill(daemon as i32, libc::SIGSTOP) }, 0);
    let stuck_dir = fuse.dir.clone();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let stuck = std::thread::spawn(move || {
        let _ = tid_tx.send(current_tid());
        lockscope::lock_dir(&stuck_dir).map(drop)
    });
    let tid = tid_rx.recv().unwrap();
    wait_until_in_syscall(
        std::process::id(),
        tid,
        PATH_SYSCALLS,
        "the acquire on stopped FUSE",
    );
    let certbot = certbot_lock_dir(&healthy.dir).expect_locked();
    let (tx, rx) = std::sync::mpsc::channel();
    let lock_file = healthy.dir.join(LOCK);
    std::thread::spawn(move || {
        let _ = tx.send(lockscope::probe::probe(&lock_file));
    });
    let probed = rx.recv_timeout(Duration::from_secs(2));
    // SAFETY: as above.
    unsafe { libc::kill(daemon as i32, libc::SIGCONT) };
    let _ = stuck.join();
    match probed {
        Ok(Ok(lockscope::LockState::Held(h))) => assert_eq!(h.pid, Some(certbot.pid)),
        Ok(other) => panic!("probe of the healthy dir: {other:?}"),
        Err(_) => panic!("a probe of a tmpfs dir waited for an acquire stuck on FUSE"),
    }
    certbot.release();
}

/// The fixtures' own promise: after a fixture is dropped nothing of it stays mounted or
/// attached (this runs every filesystem once, so a leak shows here, not on the CI machine).
#[test]
fn fixtures_leave_no_mount_and_no_loop_device() {
    for fs in [
        Fs::Ext4,
        Fs::Xfs,
        Fs::Btrfs,
        Fs::BtrfsSubvolume,
        Fs::OverlaySameDisk,
        Fs::OverlayTmpfsUpper,
        Fs::Tmpfs,
        Fs::FuseBindfs,
    ] {
        let fx = fs.mount();
        let tmp = fx.tmp.path().to_path_buf();
        let dev = std::fs::metadata(&fx.dir).expect("stat").dev();
        assert_ne!(
            dev,
            std::fs::metadata(&tmp).expect("stat").dev(),
            "{fs:?}: dir is on the tempdir's fs"
        );
        drop(fx);
        let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let tmp_s = tmp.to_str().expect("UTF-8");
        assert!(
            !info.contains(tmp_s),
            "{fs:?}: still mounted under {tmp_s}:\n{info}"
        );
        let loops = sh("losetup", &[os("-a")]);
        assert!(!loops.contains(tmp_s), "{fs:?}: loop device left: {loops}");
    }
}

/// The path starts naming another directory while it is watched (issue 20, items 3 and 4): a
/// mount over it, its parent renamed and made again, a symlinked parent re-pointed, the
/// directory deleted and made again while its old holder still runs. The watch stays on the
/// old inode, so only the pass's identity check (one statx per directory) can notice; a hold
/// in the new directory must be reported within a few intervals, not at the 60th pass.
mod path_changes_while_watching {
    use super::*;
    use lockscope::monitor::{DirState, Monitor, MonitorOptions, Update};
    use std::sync::mpsc::Receiver;

    /// The pass's period here; the hold must show within `SETTLE` (a few passes).
    const INTERVAL: Duration = Duration::from_millis(200);
    const SETTLE: Duration = Duration::from_secs(2);

    fn start() -> (Monitor, Receiver<Update>) {
        let options = MonitorOptions {
            interval: INTERVAL,
            ..Default::default()
        };
        Monitor::start(options, || {}).expect("start monitor")
    }

    /// Waits for `dir`'s state to be `want` (by name), returning its last change's holder pid.
    #[track_caller]
    fn wait_for(updates: &Receiver<Update>, dir: &Path, want: &str, limit: Duration) -> DirState {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match updates.recv_timeout(left) {
                Ok(Update::Change(c)) if c.dir == dir => {
                    seen.push(c.new.name());
                    if c.new.name() == want {
                        return c.new;
                    }
                }
                Ok(_) => {}
                Err(_) => panic!(
                    "{} not `{want}` within {limit:?}; states seen: {seen:?}",
                    dir.display()
                ),
            }
        }
    }

    #[track_caller]
    fn expect_held_by(updates: &Receiver<Update>, dir: &Path, pid: u32) {
        let state = wait_for(updates, dir, "held", SETTLE);
        assert_eq!(state.holder().and_then(|h| h.pid), Some(pid), "{state:?}");
    }

    #[test]
    fn a_mount_over_the_directory() {
        require_root();
        let tmp = tempdir();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        let mut cleanup = Cleanup::default();
        let (monitor, updates) = start();
        monitor.add(&dir);
        wait_for(&updates, &dir, "absent", START_WITHIN);
        std::thread::sleep(INTERVAL * 2); // watched
        sh(
            "mount",
            &[os("-t"), os("tmpfs"), os("tmpfs"), dir.as_os_str()],
        );
        cleanup.0.push(Undo::Umount(dir.clone()));
        let certbot = certbot_lock_dir(&dir).expect_locked();
        expect_held_by(&updates, &dir, certbot.pid);
        certbot.release();
        wait_for(&updates, &dir, "absent", SETTLE);
        // And back: unmounted, the directory underneath is watched again.
        drop(cleanup);
        let certbot = certbot_lock_dir(&dir).expect_locked();
        expect_held_by(&updates, &dir, certbot.pid);
        certbot.release();
    }

    #[test]
    fn a_renamed_parent_made_again() {
        let tmp = tempdir();
        let dir = tmp.path().join("p").join("d");
        std::fs::create_dir_all(&dir).unwrap();
        let (monitor, updates) = start();
        monitor.add(&dir);
        wait_for(&updates, &dir, "absent", START_WITHIN);
        std::thread::sleep(INTERVAL * 2);
        std::fs::rename(tmp.path().join("p"), tmp.path().join("p-old")).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let certbot = certbot_lock_dir(&dir).expect_locked();
        expect_held_by(&updates, &dir, certbot.pid);
        certbot.release();
        wait_for(&updates, &dir, "absent", SETTLE);
    }

    #[test]
    fn a_symlinked_parent_re_pointed() {
        let tmp = tempdir();
        for side in ["a", "b"] {
            std::fs::create_dir_all(tmp.path().join(side).join("d")).unwrap();
        }
        let link = tmp.path().join("current");
        std::os::unix::fs::symlink("a", &link).unwrap();
        let dir = link.join("d");
        let (monitor, updates) = start();
        monitor.add(&dir);
        wait_for(&updates, &dir, "absent", START_WITHIN);
        std::thread::sleep(INTERVAL * 2);
        // Re-pointed atomically, as deploy tools do (a new link renamed over the old one).
        std::os::unix::fs::symlink("b", tmp.path().join("next")).unwrap();
        std::fs::rename(tmp.path().join("next"), &link).unwrap();
        let certbot = certbot_lock_dir(&dir).expect_locked();
        expect_held_by(&updates, &dir, certbot.pid);
        certbot.release();
    }

    /// The old holder keeps its (now nameless) lock; a new certbot in the new directory must
    /// be reported as the holder there.
    #[test]
    fn a_directory_deleted_and_made_again_while_its_old_holder_runs() {
        let tmp = tempdir();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        let (monitor, updates) = start();
        monitor.add(&dir);
        wait_for(&updates, &dir, "absent", START_WITHIN);
        let old = certbot_lock_dir(&dir).expect_locked();
        expect_held_by(&updates, &dir, old.pid);
        std::fs::remove_dir_all(&dir).unwrap();
        wait_for(&updates, &dir, "missing", SETTLE);
        std::fs::create_dir(&dir).unwrap();
        wait_for(&updates, &dir, "absent", SETTLE);
        let new = certbot_lock_dir(&dir).expect_locked();
        expect_held_by(&updates, &dir, new.pid);
        new.release();
        wait_for(&updates, &dir, "absent", SETTLE);
        old.kill();
    }
}
