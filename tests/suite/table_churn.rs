//! Issue 20, item 5: an unprivileged `lockscope status` must never say `free` while real
//! certbot holds the lock, on a host where other processes lock and unlock files all the time.
//!
//! certbot's lock file is 0600 root: a monitoring user cannot open it for a direct query, so
//! the answer comes from `/proc/locks`. The kernel serves that file a page per read(); between
//! two reads rows come and go, the rest shift, and a row that stayed the whole time can fall
//! between two pages. So the scene here is a busy host: a few hundred locks held by other
//! processes (the table spans several pages) and constant churn on other files, while certbot
//! holds its lock the whole time. Needs root (to be another user than the lock file's owner).

use crate::common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// How many `status` runs; the bug said `free` in 7 of 400 (one read of the table each).
const RUNS: usize = 300;
/// Churning processes, and per process: locks held for the whole test, files locked and
/// unlocked in a loop.
const CHURNERS: usize = 3;
const HELD_EACH: usize = 100;
const CHURNED_EACH: usize = 50;

/// Takes HELD locks and keeps them, then locks and unlocks CHURNED other files for ever
/// (classic fcntl locks, as databases and SQLite do). Prints `ready` once the held ones are
/// taken and the loop is about to start.
const CHURN_SCRIPT: &str = r#"
import fcntl, os, sys
d, held, churned = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def open_new(name):
    return os.open(os.path.join(d, "%s-%d" % (name, os.getpid())), os.O_CREAT | os.O_RDWR, 0o600)
keep = [open_new("held%d" % i) for i in range(held)]
for fd in keep:
    fcntl.lockf(fd, fcntl.LOCK_EX)
fds = [open_new("churn%d" % i) for i in range(churned)]
print("ready", flush=True)
while True:
    for fd in fds:
        fcntl.lockf(fd, fcntl.LOCK_EX)
    for fd in fds:
        fcntl.lockf(fd, fcntl.LOCK_UN)
"#;

/// A churning process, killed and reaped on drop.
struct Churner(Child);

impl Churner {
    fn start(dir: &Path) -> Churner {
        let mut child = Command::new(certbot_python())
            .arg("-c")
            .arg(CHURN_SCRIPT)
            .arg(dir)
            .arg(HELD_EACH.to_string())
            .arg(CHURNED_EACH.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a churning process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the churner's ready line");
        assert_eq!(line.trim(), "ready", "churner said {line:?}");
        Churner(child)
    }
}

impl Drop for Churner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A tempdir under /tmp that uid 65534 may traverse.
fn traversable_tempdir() -> tempfile::TempDir {
    let tmp = tempfile::Builder::new()
        .prefix("lockscope-churn-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    tmp
}

#[test]
fn unprivileged_status_never_says_free_while_certbot_holds_under_lock_table_churn() {
    assert!(
        is_root(),
        "this test runs lockscope as uid 65534 against root's 0600 lock file: run it as root"
    );
    let tmp = traversable_tempdir();
    let dir = tmp.path().join("d");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let churn_dir = tmp.path().join("churn");
    std::fs::create_dir(&churn_dir).expect("mkdir");

    // certbot first: its row is then the oldest, behind the churning rows in the table.
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let _churners: Vec<Churner> = (0..CHURNERS).map(|_| Churner::start(&churn_dir)).collect();
    let rows = std::fs::read_to_string("/proc/locks")
        .map(|t| t.lines().count())
        .unwrap_or(0);
    assert!(
        rows > CHURNERS * HELD_EACH,
        "the lock table has {rows} rows"
    );

    let mut wrong: Vec<(usize, Value)> = Vec::new();
    for run_no in 0..RUNS {
        let out = run(unprivileged_lockscope()
            .args(["status", "--json"])
            .arg(&dir));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let record = serde_json::from_str::<Value>(&stdout)
            .map(|v| v[0].clone())
            .unwrap_or_else(|e| panic!("run {run_no}: no JSON ({e}): {stdout}"));
        let right = record["state"] == "held" && record["holder"]["pid"] == certbot.pid;
        if !right {
            wrong.push((run_no, record));
        }
    }
    let free = wrong.iter().filter(|(_, r)| r["state"] == "free").count();
    assert!(
        wrong.is_empty(),
        "certbot (pid {}) held the lock throughout, {rows} rows in the lock table with churn: \
         {} of {RUNS} unprivileged `status` runs did not say held by certbot ({free} said free); \
         first: {:?}",
        certbot.pid,
        wrong.len(),
        wrong.iter().take(3).collect::<Vec<_>>()
    );
    certbot.release();
}
