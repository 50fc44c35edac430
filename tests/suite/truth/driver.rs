//! The oracle's driver and recorder: it mounts the filesystems, starts the watchers, runs a
//! seeded random sequence of operations with real processes, and records what every holder
//! said about its own lock (the ground truth) and what lockscope said (the observations).
//! `History::build` turns the recording into the checker's input.

use super::checker::{FinalTruth, History, Holding, Kind, Report, Span, Steps, T, intersect_all};
use crate::common::mounts::*;
use crate::common::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now() -> T {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// splitmix64: small, seedable, the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
    pub fn range_ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next_u64() % (hi - lo + 1))
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes, each read on its own thread so every line gets its arrival time.

#[derive(Default)]
struct ProcLog {
    lines: Vec<(T, String)>,
    /// When the reaper saw it exit (at most 5 ms late), and its exit code.
    exit: Option<(T, Option<i32>)>,
}

/// A child whose stdout lines are timestamped on arrival and whose exit time is recorded.
/// Signals go through `signal`, which never signals a reaped pid (it could be reused).
struct Tracked {
    pid: u32,
    child: Arc<Mutex<Child>>,
    log: Arc<(Mutex<ProcLog>, Condvar)>,
    stdin: Option<ChildStdin>,
}

impl Tracked {
    fn spawn(cmd: &mut Command, stderr: Stdio) -> Tracked {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec here.
        // The child dies with the test process: a test killed mid-run (a soak stopped by
        // hand) must not leave busy loops, churners or holders behind (it did: two busy loops
        // ate both cores for an hour).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let pid = child.id();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let child = Arc::new(Mutex::new(child));
        let log = Arc::new((Mutex::new(ProcLog::default()), Condvar::new()));
        let (c2, l2) = (child.clone(), log.clone());
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                let t = now();
                l2.0.lock().expect("log").lines.push((t, line));
                l2.1.notify_all();
            }
            loop {
                let status = c2.lock().expect("child").try_wait();
                match status {
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                    Ok(Some(s)) => {
                        l2.0.lock().expect("log").exit = Some((now(), s.code()));
                        break;
                    }
                    Err(_) => {
                        l2.0.lock().expect("log").exit = Some((now(), None));
                        break;
                    }
                }
            }
            l2.1.notify_all();
        });
        Tracked {
            pid,
            child,
            log,
            stdin,
        }
    }

    /// Waits up to `limit` for line number `n` (0-based); None if it exited first or timed out.
    fn line(&self, n: usize, limit: Duration) -> Option<(T, String)> {
        let (m, cv) = &*self.log;
        let mut g = m.lock().expect("log");
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(l) = g.lines.get(n) {
                return Some(l.clone());
            }
            if g.exit.is_some() {
                return None;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            g = cv.wait_timeout(g, left).expect("log").0;
        }
    }

    fn exited(&self) -> Option<(T, Option<i32>)> {
        self.log.0.lock().expect("log").exit
    }

    fn wait_exit(&self, limit: Duration) -> Option<(T, Option<i32>)> {
        let (m, cv) = &*self.log;
        let mut g = m.lock().expect("log");
        let deadline = std::time::Instant::now() + limit;
        while g.exit.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            g = cv.wait_timeout(g, left).expect("log").0;
        }
        g.exit
    }

    fn lines(&self) -> Vec<(T, String)> {
        self.log.0.lock().expect("log").lines.clone()
    }

    /// Sends `sig` unless the child has been reaped. Returns (just before, just after).
    fn signal(&self, sig: i32) -> (T, T) {
        let mut c = self.child.lock().expect("child");
        let before = now();
        if let Ok(None) = c.try_wait() {
            // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
            unsafe { libc::kill(self.pid as i32, sig) };
        }
        (before, now())
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.stdin = None;
        self.signal(libc::SIGCONT);
        self.signal(libc::SIGKILL);
        self.wait_exit(Duration::from_secs(10));
    }
}

// ---------------------------------------------------------------------------------------------
// The scene.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PKind {
    /// certbot_peer.py timed: takes once, releases when told.
    Certbot,
    /// lockscope hold --until-stdin-closes: takes once, releases when stdin closes.
    Hold,
    /// lockscope hold --wait=10s --for 50ms: one of a burst of quick hand-overs.
    Burst,
    /// certbot_peer.py loop: quick hand-overs between certbot processes.
    Loop,
}

struct Proc {
    kind: PKind,
    slot: usize,
    spawned: T,
    t: Tracked,
    stopped: bool,
    /// Whether it took the lock (Certbot, Hold; known after its first line).
    took: bool,
    /// Hold: when its stdin was closed (the release request).
    release_requested: Option<T>,
    killed: Option<(T, T)>,
}

#[derive(Clone, Debug)]
enum SlotKind {
    Plain,
    Fuse {
        daemon: u32,
    },
    Symlink {
        link: PathBuf,
        targets: [PathBuf; 2],
        phys: [usize; 2],
        cur: usize,
    },
}

struct Slot {
    name: String,
    /// The path the watchers and probes are given.
    path: PathBuf,
    kind: SlotKind,
    /// Which directory the path names, over time.
    phys: Steps,
    cur_phys: usize,
    /// A tmpfs mounted over the path: (the directory underneath, the mount point).
    mounted: Option<usize>,
    renames: u32,
    stalled_since: Option<T>,
}

pub struct Run {
    rng: Rng,
    procs: Vec<Proc>,
    watches: Vec<(String, Tracked, PathBuf)>,
    churn: Vec<Tracked>,
    load: Vec<Tracked>,
    slots: Vec<Slot>,
    next_phys: usize,
    /// Lock files unlinked by the driver: (phys, window).
    unlinks: Vec<(usize, Span)>,
    unhealthy: Vec<(usize, Span)>,
    status_reports: Vec<Report>,
    /// A status that did not answer, or printed no JSON.
    hangs: Vec<String>,
    /// When the CPU load and the lock-table churn started (they stop after a few seconds).
    load_since: T,
    churn_since: T,
    without: Vec<String>,
    pub oplog: Vec<(T, String)>,
    pub t0: T,
    pub ops: usize,
    scratch: tempfile::TempDir,
    mounts: Cleanup,
    /// Dropped last: the filesystems.
    _fixtures: Vec<Fixture>,
}

fn mkdir_p(path: &Path) {
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    chmod_755(path);
}

/// How long a `status` may take (it should take milliseconds).
const STATUS_WITHIN: Duration = Duration::from_secs(10);
/// How long the CPU load and the lock-table churn last once started (they take both cores).
const DISTURB_FOR: T = 4.0;

/// A python3 process that takes and releases fcntl locks on `n` files of its own, as fast as
/// it can: rows in /proc/locks appear and vanish all the time, across several pages.
const CHURN: &str = r#"
import fcntl, os, sys
d = sys.argv[1]
fds = [os.open(os.path.join(d, "c%d" % i), os.O_CREAT | os.O_RDWR, 0o600) for i in range(int(sys.argv[2]))]
while True:
    for fd in fds:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    for fd in fds:
        fcntl.lockf(fd, fcntl.LOCK_UN)
"#;

impl Run {
    pub fn new(seed: u64) -> Run {
        require_root();
        let scratch = tempfile::Builder::new()
            .prefix("lockscope-truth-")
            .tempdir()
            .expect("tempdir");
        chmod_755(scratch.path());
        let mut fixtures = Vec::new();
        let mut slots = Vec::new();
        let mut next_phys = 0;
        let mut phys = || {
            next_phys += 1;
            next_phys - 1
        };
        for (name, fs) in [
            ("tmpfs", Fs::Tmpfs),
            ("ext4", Fs::Ext4),
            ("btrfs", Fs::Btrfs),
            ("overlay", Fs::OverlayTmpfsUpper),
            ("bindfs", Fs::FuseBindfs),
        ] {
            let fx = fs.mount();
            let path = fx.dir.join("p").join("d");
            mkdir_p(&path);
            let kind = match fx.daemon {
                Some(daemon) => SlotKind::Fuse { daemon },
                None => SlotKind::Plain,
            };
            let p = phys();
            slots.push(Slot {
                name: name.into(),
                path,
                kind,
                phys: Steps {
                    initial: p,
                    changes: vec![],
                },
                cur_phys: p,
                mounted: None,
                renames: 0,
                stalled_since: None,
            });
            if fs == Fs::Tmpfs {
                // A directory reached through a symlinked parent that gets re-pointed.
                let base = fx.dir.clone();
                let targets = [base.join("tA"), base.join("tB")];
                for t in &targets {
                    mkdir_p(&t.join("d"));
                }
                let link = base.join("link");
                std::os::unix::fs::symlink(&targets[0], &link).expect("symlink");
                let (a, b) = (phys(), phys());
                slots.push(Slot {
                    name: "symlink".into(),
                    path: link.join("d"),
                    kind: SlotKind::Symlink {
                        link,
                        targets,
                        phys: [a, b],
                        cur: 0,
                    },
                    phys: Steps {
                        initial: a,
                        changes: vec![],
                    },
                    cur_phys: a,
                    mounted: None,
                    renames: 0,
                    stalled_since: None,
                });
            }
            fixtures.push(fx);
        }
        let mut run = Run {
            rng: Rng::new(seed),
            procs: vec![],
            watches: vec![],
            churn: vec![],
            load: vec![],
            slots,
            next_phys,
            unlinks: vec![],
            unhealthy: vec![],
            status_reports: vec![],
            hangs: vec![],
            load_since: 0.0,
            churn_since: 0.0,
            without: std::env::var("LOCKSCOPE_TRUTH_WITHOUT")
                .unwrap_or_default()
                .split(',')
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect(),
            oplog: vec![],
            t0: now(),
            ops: 0,
            scratch,
            mounts: Cleanup::default(),
            _fixtures: fixtures,
        };
        run.start_watches();
        run
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.slots.iter().map(|s| s.path.clone()).collect()
    }

    fn log(&mut self, msg: String) {
        self.oplog.push((now(), msg));
    }

    fn start_watches(&mut self) {
        for (name, mut cmd) in [
            ("watch-root", lockscope()),
            ("watch-unprivileged", unprivileged_lockscope()),
        ] {
            cmd.args(["watch", "--json"]).args(self.paths());
            let err = self.scratch.path().join(format!("{name}.stderr"));
            let file = std::fs::File::create(&err).expect("stderr file");
            let t = Tracked::spawn(&mut cmd, Stdio::from(file));
            // The initial line of every path before any operation.
            let n = self.slots.len();
            assert!(
                t.line(n - 1, Duration::from_secs(20)).is_some(),
                "{name} printed no initial lines: {:?}",
                t.lines()
            );
            self.watches.push((name.to_string(), t, err));
        }
        self.log("watches started".into());
    }

    // -- operations ---------------------------------------------------------------------------

    /// Runs random operations until `seconds` have passed.
    pub fn drive(&mut self, seconds: f64) {
        let end = now() + seconds;
        let mut follow: Option<usize> = None; // a slot whose path just changed: take it next
        while now() < end {
            self.ops += 1;
            if let Some(slot) = follow
                .take()
                .filter(|&s| self.slots[s].stalled_since.is_none())
            {
                if self.rng.chance(0.5) {
                    self.take_certbot(slot);
                } else {
                    self.take_hold(slot);
                }
                continue;
            }
            // Half the time, where a holder is: path changes under a running holder (and then
            // a new holder in the new directory) are where the live view went blind.
            let live = self.live_holders(false);
            let slot = if !live.is_empty() && self.rng.chance(0.5) {
                self.procs[live[self.rng.below(live.len())]].slot
            } else {
                self.rng.below(self.slots.len())
            };
            let usable = self.slots[slot].stalled_since.is_none();
            let quiet = !self.hand_overs_running(slot);
            match self.rng.below(100) {
                0..=13 if usable => self.take_certbot(slot),
                14..=21 if usable => self.take_hold(slot),
                22..=33 => self.release_one(),
                34..=36 if self.on("kill") => self.kill_one(),
                37..=40 if self.on("stop") => self.stop_or_cont(),
                41..=44 if usable && self.on("burst") => self.burst(slot),
                45..=47 if usable && self.on("loops") => self.certbot_loops(slot),
                48..=51 if usable && quiet && self.on("recreate") => {
                    if self.recreate_dir(slot) {
                        follow = Some(slot);
                    }
                }
                52..=54 if usable && quiet && self.on("rename") => {
                    if self.rename_parent(slot) {
                        follow = Some(slot);
                    }
                }
                55..=59 if usable && quiet && self.on("mount") => {
                    if self.mount_or_unmount(slot) {
                        follow = Some(slot);
                    }
                }
                60..=63 if self.on("symlink") => {
                    let s = self.symlink_slot();
                    if !self.hand_overs_running(s) {
                        self.repoint(s);
                        follow = Some(s);
                    }
                }
                64..=66 if usable && self.on("unlink") => self.unlink_lock(slot),
                67..=70 if self.on("churn") => self.churn_toggle(),
                71..=75 if self.on("fuse") => self.fuse_toggle(),
                76..=78 if self.on("load") => self.load_toggle(),
                79..=86 => self.sample_status(),
                _ => {
                    let d = self.rng.range_ms(50, 700);
                    std::thread::sleep(d);
                }
            }
            if !self.load.is_empty() && now() - self.load_since > DISTURB_FOR {
                self.load_toggle();
            }
            if !self.churn.is_empty() && now() - self.churn_since > DISTURB_FOR {
                self.churn_toggle();
            }
        }
    }

    /// Whether operation `name` is in the vocabulary: LOCKSCOPE_TRUTH_WITHOUT=fuse,load,...
    /// leaves some out (to look at one kind of fault at a time; the seed's sequence of the
    /// remaining decisions changes with it).
    fn on(&self, name: &str) -> bool {
        !self.without.iter().any(|w| w == name)
    }

    fn hand_overs_running(&self, slot: usize) -> bool {
        self.procs.iter().any(|p| {
            p.slot == slot && matches!(p.kind, PKind::Burst | PKind::Loop) && p.t.exited().is_none()
        })
    }

    fn certbot_cmd(&self, args: &[&OsStr]) -> Command {
        let mut c = Command::new(certbot_python());
        c.arg(peer_script()).args(args);
        c
    }

    fn take_certbot(&mut self, slot: usize) {
        let dir = self.slots[slot].path.clone();
        let spawned = now();
        let t = Tracked::spawn(
            &mut self.certbot_cmd(&[OsStr::new("timed"), dir.as_os_str()]),
            Stdio::null(),
        );
        let first = t.line(0, Duration::from_secs(20));
        let killed = first.is_none().then(|| t.signal(libc::SIGKILL));
        let took = first
            .as_ref()
            .is_some_and(|(_, l)| l.starts_with("locked "));
        self.log(format!(
            "certbot take {} pid {}: {}",
            self.slots[slot].name,
            t.pid,
            first.map_or("(no answer)".into(), |(_, l)| l)
        ));
        self.procs.push(Proc {
            kind: PKind::Certbot,
            slot,
            spawned,
            t,
            stopped: false,
            took,
            release_requested: None,
            killed,
        });
    }

    fn take_hold(&mut self, slot: usize) {
        let dir = self.slots[slot].path.clone();
        let spawned = now();
        let t = Tracked::spawn(
            lockscope().args(["hold", "--until-stdin-closes"]).arg(&dir),
            Stdio::null(),
        );
        let first = t.line(0, Duration::from_secs(10));
        // No answer (busy exits at once): stuck somewhere. Kill it, so that it cannot take
        // the lock later unseen.
        let killed = (first.is_none() && t.exited().is_none()).then(|| t.signal(libc::SIGKILL));
        let took = first.as_ref().is_some_and(|(_, l)| l.starts_with("held "));
        self.log(format!(
            "hold take {} pid {}: {}",
            self.slots[slot].name,
            t.pid,
            first.map_or("(busy or error)".into(), |(_, l)| l)
        ));
        self.procs.push(Proc {
            kind: PKind::Hold,
            slot,
            spawned,
            t,
            stopped: false,
            took,
            release_requested: None,
            killed,
        });
    }

    /// The long-lived holders still holding (not released, not killed, not exited).
    fn live_holders(&self, running_only: bool) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| {
                let p = &self.procs[i];
                matches!(p.kind, PKind::Certbot | PKind::Hold)
                    && p.took
                    && p.release_requested.is_none()
                    && p.killed.is_none()
                    && p.t.exited().is_none()
                    && (!running_only || (!p.stopped && self.slots[p.slot].stalled_since.is_none()))
            })
            .collect()
    }

    fn release_one(&mut self) {
        let live = self.live_holders(true);
        if live.is_empty() {
            return;
        }
        let i = live[self.rng.below(live.len())];
        let p = &mut self.procs[i];
        let at = now();
        match p.kind {
            PKind::Certbot => {
                let stdin = p.t.stdin.as_mut().expect("stdin");
                let _ = writeln!(stdin, "release");
                p.release_requested = Some(at);
                // "releasing", "released": lines 1 and 2.
                let done = p.t.line(2, Duration::from_secs(10));
                let msg = format!(
                    "certbot release pid {} ({}): {:?}",
                    p.t.pid,
                    self.slots[p.slot].name,
                    done.map(|(_, l)| l)
                );
                self.log(msg);
            }
            _ => {
                p.t.stdin = None;
                p.release_requested = Some(at);
                let exit = p.t.wait_exit(Duration::from_secs(10));
                let msg = format!(
                    "hold release pid {} ({}): exit {:?}",
                    p.t.pid,
                    self.slots[p.slot].name,
                    exit.map(|e| e.1)
                );
                self.log(msg);
            }
        }
    }

    fn kill_one(&mut self) {
        let live = self.live_holders(false);
        if live.is_empty() {
            return;
        }
        let i = live[self.rng.below(live.len())];
        let p = &mut self.procs[i];
        let w = p.t.signal(libc::SIGKILL);
        p.killed = Some(w);
        let (pid, slot) = (p.t.pid, p.slot);
        self.log(format!("SIGKILL pid {pid} ({})", self.slots[slot].name));
    }

    fn stop_or_cont(&mut self) {
        let stopped: Vec<usize> = (0..self.procs.len())
            .filter(|&i| self.procs[i].stopped && self.procs[i].t.exited().is_none())
            .collect();
        if !stopped.is_empty() && self.rng.chance(0.6) {
            let i = stopped[self.rng.below(stopped.len())];
            self.procs[i].t.signal(libc::SIGCONT);
            self.procs[i].stopped = false;
            let pid = self.procs[i].t.pid;
            self.log(format!("SIGCONT pid {pid}"));
            return;
        }
        let live = self.live_holders(true);
        if live.is_empty() {
            return;
        }
        let i = live[self.rng.below(live.len())];
        self.procs[i].t.signal(libc::SIGSTOP);
        self.procs[i].stopped = true;
        let pid = self.procs[i].t.pid;
        self.log(format!("SIGSTOP pid {pid}"));
    }

    /// Many `hold --wait --for 50ms` at once: the lock changes hands every ~50 ms, and on
    /// tmpfs/ext4 the new lock file usually gets the old one's inode number.
    fn burst(&mut self, slot: usize) {
        let n = 8 + self.rng.below(12);
        let dir = self.slots[slot].path.clone();
        for _ in 0..n {
            let spawned = now();
            let t = Tracked::spawn(
                lockscope()
                    .args(["hold", "--wait=10s", "--for", "0.05s"])
                    .arg(&dir),
                Stdio::null(),
            );
            self.procs.push(Proc {
                kind: PKind::Burst,
                slot,
                spawned,
                t,
                stopped: false,
                took: false,
                release_requested: None,
                killed: None,
            });
        }
        self.log(format!(
            "burst of {n} hold --wait --for 0.05s on {}",
            self.slots[slot].name
        ));
    }

    fn certbot_loops(&mut self, slot: usize) {
        let n = 2 + self.rng.below(2);
        let dir = self.slots[slot].path.clone();
        for _ in 0..n {
            let spawned = now();
            let t = Tracked::spawn(
                &mut self.certbot_cmd(&[
                    OsStr::new("loop"),
                    dir.as_os_str(),
                    OsStr::new("6"),
                    OsStr::new("0.03"),
                ]),
                Stdio::null(),
            );
            self.procs.push(Proc {
                kind: PKind::Loop,
                slot,
                spawned,
                t,
                stopped: false,
                took: false,
                release_requested: None,
                killed: None,
            });
        }
        self.log(format!(
            "{n} certbot loops (6 x 30 ms) on {}",
            self.slots[slot].name
        ));
    }

    fn new_phys(&mut self) -> usize {
        self.next_phys += 1;
        self.next_phys - 1
    }

    fn set_phys(&mut self, slot: usize, window: Span, p: usize) {
        let s = &mut self.slots[slot];
        s.phys.changes.push((window, p));
        s.cur_phys = p;
    }

    /// rm -rf the directory (its holders keep running) and mkdir it again.
    fn recreate_dir(&mut self, slot: usize) -> bool {
        if self.slots[slot].mounted.is_some() || self.is_symlink(slot) {
            return false;
        }
        let path = self.slots[slot].path.clone();
        let from = now();
        let _ = std::fs::remove_dir_all(&path);
        mkdir_p(&path);
        let p = self.new_phys();
        self.set_phys(slot, Span::new(from, now()), p);
        self.log(format!("rm -rf and mkdir {}", self.slots[slot].name));
        true
    }

    /// mv the parent away and create it again (with the directory in it).
    fn rename_parent(&mut self, slot: usize) -> bool {
        if self.slots[slot].mounted.is_some() || self.is_symlink(slot) {
            return false;
        }
        let path = self.slots[slot].path.clone();
        let parent = path.parent().expect("parent").to_path_buf();
        self.slots[slot].renames += 1;
        let away = parent.with_file_name(format!("p.old{}", self.slots[slot].renames));
        let from = now();
        std::fs::rename(&parent, &away).expect("rename parent");
        mkdir_p(&path);
        let p = self.new_phys();
        self.set_phys(slot, Span::new(from, now()), p);
        self.log(format!(
            "mv parent away and mkdir {}",
            self.slots[slot].name
        ));
        true
    }

    /// Mounts a tmpfs over the directory, or unmounts the one mounted before.
    fn mount_or_unmount(&mut self, slot: usize) -> bool {
        if self.is_symlink(slot) || matches!(self.slots[slot].kind, SlotKind::Fuse { .. }) {
            return false;
        }
        let path = self.slots[slot].path.clone();
        let from = now();
        if let Some(under) = self.slots[slot].mounted.take() {
            let ok = Command::new("umount")
                .arg(&path)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                // Busy: a holder has its lock file open in there. Detach it lazily.
                sh("umount", &[os("-l"), path.as_os_str()]);
            }
            self.set_phys(slot, Span::new(from, now()), under);
            self.log(format!("umount {}", self.slots[slot].name));
            false
        } else {
            sh(
                "mount",
                &[
                    os("-t"),
                    os("tmpfs"),
                    os("-o"),
                    os("size=4m,mode=0755"),
                    os("tmpfs"),
                    path.as_os_str(),
                ],
            );
            self.mounts.0.push(Undo::Umount(path.clone()));
            let under = self.slots[slot].cur_phys;
            self.slots[slot].mounted = Some(under);
            let p = self.new_phys();
            self.set_phys(slot, Span::new(from, now()), p);
            self.log(format!("mount tmpfs over {}", self.slots[slot].name));
            true
        }
    }

    fn symlink_slot(&self) -> usize {
        (0..self.slots.len())
            .find(|&s| self.is_symlink(s))
            .expect("a symlink slot")
    }

    fn is_symlink(&self, slot: usize) -> bool {
        matches!(self.slots[slot].kind, SlotKind::Symlink { .. })
    }

    /// Points the symlinked parent at the other directory (atomically, by rename).
    fn repoint(&mut self, slot: usize) {
        let SlotKind::Symlink {
            link,
            targets,
            phys,
            cur,
        } = self.slots[slot].kind.clone()
        else {
            return;
        };
        let next = 1 - cur;
        let tmp = link.with_file_name("link.new");
        let from = now();
        std::os::unix::fs::symlink(&targets[next], &tmp).expect("symlink");
        std::fs::rename(&tmp, &link).expect("rename symlink");
        self.set_phys(slot, Span::new(from, now()), phys[next]);
        if let SlotKind::Symlink { cur, .. } = &mut self.slots[slot].kind {
            *cur = next;
        }
        self.log(format!("re-point symlink to {}", targets[next].display()));
    }

    fn unlink_lock(&mut self, slot: usize) {
        let lock = self.slots[slot].path.join(LOCK);
        let from = now();
        let r = std::fs::remove_file(&lock);
        let phys = self.slots[slot].cur_phys;
        self.unlinks.push((phys, Span::new(from, now())));
        self.log(format!(
            "unlink lock file of {}: {}",
            self.slots[slot].name,
            r.map_or_else(|e| e.to_string(), |()| "ok".into())
        ));
    }

    fn churn_toggle(&mut self) {
        if self.churn.is_empty() {
            let dir = self.scratch.path().join("churn");
            mkdir_p(&dir);
            for i in 0..2 {
                let d = dir.join(i.to_string());
                mkdir_p(&d);
                self.churn.push(Tracked::spawn(
                    Command::new("python3")
                        .args(["-c", CHURN])
                        .arg(&d)
                        .arg("150"),
                    Stdio::null(),
                ));
            }
            self.churn_since = now();
            self.log("lock-table churn on (2 x 150 fcntl locks)".into());
        } else {
            self.churn.clear();
            self.log("lock-table churn off".into());
        }
    }

    fn fuse_toggle(&mut self) {
        let Some(slot) = self
            .slots
            .iter()
            .position(|s| matches!(s.kind, SlotKind::Fuse { .. }))
        else {
            return;
        };
        let SlotKind::Fuse { daemon } = self.slots[slot].kind else {
            return;
        };
        match self.slots[slot].stalled_since.take() {
            None => {
                let t = now();
                // SAFETY: kill has no memory-safety preconditions; the daemon is the
                // fixture's child (reaped only by the fixture's cleanup).
                unsafe { libc::kill(daemon as i32, libc::SIGSTOP) };
                self.slots[slot].stalled_since = Some(t);
                self.log("SIGSTOP the bindfs daemon".into());
            }
            Some(since) => {
                // SAFETY: as above.
                unsafe { libc::kill(daemon as i32, libc::SIGCONT) };
                self.unhealthy.push((slot, Span::new(since, now())));
                self.log("SIGCONT the bindfs daemon".into());
            }
        }
    }

    fn load_toggle(&mut self) {
        if self.load.is_empty() {
            for _ in 0..2 {
                self.load.push(Tracked::spawn(
                    Command::new("sh").args(["-c", "while :; do :; done"]),
                    Stdio::null(),
                ));
            }
            self.load_since = now();
            self.log("CPU load on (2 busy loops)".into());
        } else {
            self.load.clear();
            self.log("CPU load off".into());
        }
    }

    /// `status --json` over every usable path, as root and as uid 65534.
    fn sample_status(&mut self) {
        // Under churn, sample more: one read of /proc/locks is what item 5 got wrong.
        let rounds = if self.churn.is_empty() { 1 } else { 12 };
        for _ in 0..rounds {
            self.sample_status_once();
        }
    }

    fn sample_status_once(&mut self) {
        let slots: Vec<usize> = (0..self.slots.len())
            .filter(|&s| self.slots[s].stalled_since.is_none())
            .collect();
        for (source, mut cmd) in [
            ("status-root", lockscope()),
            ("status-unprivileged", unprivileged_lockscope()),
        ] {
            cmd.args(["status", "--json"]);
            for &s in &slots {
                cmd.arg(&self.slots[s].path);
            }
            let at = now();
            let t = Tracked::spawn(&mut cmd, Stdio::null());
            let exit = t.wait_exit(STATUS_WITHIN);
            let until = now();
            let text: String = t.lines().into_iter().map(|(_, l)| l + "\n").collect();
            if exit.is_none() {
                t.signal(libc::SIGKILL);
                self.hangs.push(format!(
                    "{source} did not answer within {STATUS_WITHIN:?} (started at +{:.3}; the \
                     FUSE daemon stopped: {})",
                    at - self.t0,
                    self.slots.iter().any(|s| s.stalled_since.is_some())
                ));
                continue;
            }
            let Ok(serde_json::Value::Array(rows)) = serde_json::from_str(&text) else {
                self.hangs
                    .push(format!("{source} printed no JSON array: {text}"));
                continue;
            };
            for row in rows {
                if let Some(r) = self.report_of(source, Kind::Status, &row, at, until) {
                    self.status_reports.push(r);
                }
            }
        }
        self.log(format!("status --json sampled ({} paths)", slots.len()));
    }

    fn report_of(
        &self,
        source: &str,
        kind: Kind,
        v: &serde_json::Value,
        at: T,
        until: T,
    ) -> Option<Report> {
        let dir = v["dir"].as_str()?;
        let slot = self
            .slots
            .iter()
            .position(|s| s.path.to_str() == Some(dir))?;
        Some(Report {
            source: source.into(),
            kind,
            slot,
            at,
            until,
            state: v["state"].as_str().unwrap_or("?").into(),
            pid: v["holder"]["pid"].as_u64().map(|p| p as u32),
            line: compact(v),
        })
    }

    // -- the end ------------------------------------------------------------------------------

    /// Ends every disturbance, waits for the hand-overs to finish and the settle time to
    /// pass, then records the final truth and a last status. Returns the checker's input.
    pub fn finish(&mut self, settle: T) -> History {
        self.churn.clear();
        self.load.clear();
        if self.slots.iter().any(|s| s.stalled_since.is_some()) {
            self.fuse_toggle();
        }
        for i in 0..self.procs.len() {
            if self.procs[i].stopped {
                self.procs[i].t.signal(libc::SIGCONT);
                self.procs[i].stopped = false;
            }
        }
        for p in &self.procs {
            if matches!(p.kind, PKind::Burst | PKind::Loop) {
                p.t.wait_exit(Duration::from_secs(30));
            }
        }
        self.log("quiet: no operation from here".into());
        std::thread::sleep(Duration::from_secs_f64(settle + 0.5));
        let final_at = now();
        let mut history = self.history(final_at);
        self.sample_status();
        history.reports.extend(
            self.status_reports
                .iter()
                .filter(|r| r.at >= final_at)
                .cloned(),
        );
        // Stop the watchers: SIGTERM, exit 0, no panic on stderr.
        for (name, t, err) in &self.watches {
            let end = now();
            history.watch_end.insert(name.clone(), end);
            t.signal(libc::SIGTERM);
            match t.wait_exit(Duration::from_secs(10)) {
                Some((_, Some(0))) => {}
                other => history
                    .crashes
                    .push(format!("{name} did not exit 0 on SIGTERM: {other:?}")),
            }
            let stderr = std::fs::read_to_string(err).unwrap_or_default();
            if stderr.contains("panicked") {
                history
                    .crashes
                    .push(format!("{name} stderr: {}", stderr.trim()));
            }
        }
        // Watch lines, now that they are complete.
        for (name, t, _) in &self.watches {
            for (arrival, line) in t.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    history
                        .crashes
                        .push(format!("{name} printed non-JSON: {line}"));
                    continue;
                };
                let at = v["time"]
                    .as_str()
                    .and_then(|s| humantime::parse_rfc3339(s).ok())
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(arrival, |d| d.as_secs_f64());
                if let Some(r) = self.report_of(name, Kind::Watch, &v, at, at) {
                    history.reports.push(r);
                }
            }
        }
        history
    }

    /// The ground truth and the status samples so far, as the checker's input.
    fn history(&self, final_at: T) -> History {
        // Which file each directory's lock path names: a new one after every unlink (the
        // driver's, and certbot's release, which removes whatever the path names).
        let mut bumps: BTreeMap<usize, Vec<Span>> = BTreeMap::new();
        for (phys, w) in &self.unlinks {
            bumps.entry(*phys).or_default().push(*w);
        }
        for p in &self.procs {
            if !matches!(p.kind, PKind::Certbot | PKind::Loop) {
                continue;
            }
            let lines = p.t.lines();
            for (i, (_, l)) in lines.iter().enumerate() {
                if let Some(t) = stamp(l, "releasing") {
                    let to = lines
                        .get(i + 1..)
                        .and_then(|rest| rest.iter().find_map(|(_, l)| stamp(l, "released")))
                        .unwrap_or(t + 1.0);
                    if let Some(phys) = self.slots[p.slot].phys.at(t) {
                        bumps.entry(phys).or_default().push(Span::new(t, to));
                    }
                }
            }
        }
        let files: BTreeMap<usize, Steps> = bumps
            .into_iter()
            .map(|(phys, mut ws)| {
                ws.sort_by(|a, b| a.from.total_cmp(&b.from));
                let changes = ws
                    .into_iter()
                    .enumerate()
                    .map(|(i, w)| (w, i + 1))
                    .collect();
                (
                    phys,
                    Steps {
                        initial: 0,
                        changes,
                    },
                )
            })
            .collect();
        let no_bumps = Steps::default();
        let at_or_after = |s: &Steps, t: T| {
            s.at(t).unwrap_or_else(|| {
                s.changes
                    .iter()
                    .find(|(w, _)| w.from <= t && t <= w.to)
                    .map_or(s.initial, |(_, v)| *v)
            })
        };
        // A holding of the path's lock: the holder's own span, while the path names the
        // directory it locked in and that directory's lock path names the file it locked.
        let on_path = |slot: usize, took: T, possible: Span, certain: Option<Span>| {
            let steps = &self.slots[slot].phys;
            let phys = at_or_after(steps, took);
            let file_steps = files.get(&phys).unwrap_or(&no_bumps);
            let file = at_or_after(file_steps, took);
            let possible = intersect_all(
                &intersect_all(&[possible], &steps.possible(phys)),
                &file_steps.possible(file),
            );
            let certain = certain.map_or(vec![], |c| {
                intersect_all(
                    &intersect_all(&[c], &steps.certain(phys)),
                    &file_steps.certain(file),
                )
            });
            (possible, certain)
        };
        let mut holdings = Vec::new();
        for p in &self.procs {
            let lines = p.t.lines();
            let exit = p.t.exited().map_or(T::INFINITY, |e| e.0);
            let (kill_from, kill_to) = p.killed.unwrap_or((T::INFINITY, T::INFINITY));
            match p.kind {
                PKind::Certbot | PKind::Loop => {
                    let what = if p.kind == PKind::Certbot {
                        "certbot"
                    } else {
                        "certbot loop"
                    };
                    let mut i = 0;
                    while i < lines.len() {
                        let Some(took) = locked_stamp(&lines[i].1) else {
                            i += 1;
                            continue;
                        };
                        let releasing = lines[i + 1..]
                            .iter()
                            .find_map(|(_, l)| stamp(l, "releasing"));
                        let released = lines[i + 1..]
                            .iter()
                            .find_map(|(_, l)| stamp(l, "released"));
                        let last_seen = lines.last().map_or(took, |l| l.0).max(took);
                        let c_end =
                            releasing.unwrap_or(kill_from.min(
                                last_seen.max(if exit.is_finite() { took } else { final_at }),
                            ));
                        let p_end = released.unwrap_or(kill_to.min(exit));
                        let (possible, certain) = on_path(
                            p.slot,
                            took,
                            Span::new(took - 0.002, p_end),
                            Some(Span::new(took, c_end.min(kill_from))),
                        );
                        holdings.push(Holding {
                            slot: p.slot,
                            pid: p.t.pid,
                            what: what.into(),
                            possible,
                            certain,
                        });
                        i += 1;
                    }
                }
                PKind::Hold => {
                    let Some((arrived, _)) = lines.first().filter(|(_, l)| l.starts_with("held "))
                    else {
                        continue;
                    };
                    let c_end = p
                        .release_requested
                        .unwrap_or(final_at.max(*arrived))
                        .min(kill_from)
                        .min(exit);
                    let (possible, certain) = on_path(
                        p.slot,
                        *arrived,
                        Span::new(p.spawned, kill_to.min(exit)),
                        Some(Span::new(*arrived, c_end)),
                    );
                    holdings.push(Holding {
                        slot: p.slot,
                        pid: p.t.pid,
                        what: "hold".into(),
                        possible,
                        certain,
                    });
                }
                PKind::Burst => {
                    // Only bounds: from its start (it may wait) to its exit. Also without its
                    // `held` line seen (a holder killed, or still running at the end, before
                    // the line was read): it may have held the lock, and nothing tells when.
                    holdings.push(Holding {
                        slot: p.slot,
                        pid: p.t.pid,
                        what: "burst hold".into(),
                        possible: vec![Span::new(p.spawned, exit)],
                        certain: vec![],
                    });
                }
            }
        }
        // The truth once quiet: the directory and lock file as they are on disk, the holder
        // from the holders' own reports.
        let final_truth = (0..self.slots.len())
            .map(|s| {
                let path = &self.slots[s].path;
                let (state, pid) = if !path.is_dir() {
                    ("missing", None)
                } else if std::fs::symlink_metadata(path.join(LOCK)).is_err() {
                    ("absent", None)
                } else {
                    let holder = holdings.iter().find(|h| {
                        h.slot == s
                            && h.certain
                                .iter()
                                .any(|c| c.from <= final_at && final_at <= c.to)
                    });
                    match holder {
                        Some(h) => ("held", Some(h.pid)),
                        None => ("free", None),
                    }
                };
                FinalTruth {
                    state: state.into(),
                    pid,
                }
            })
            .collect();
        History {
            slots: self.slots.iter().map(|s| s.name.clone()).collect(),
            holdings,
            reports: self.status_reports.clone(),
            watch_end: BTreeMap::new(),
            unhealthy: self.unhealthy.clone(),
            t0: self.t0,
            final_truth,
            final_at,
            crashes: self.hangs.clone(),
            unprivileged: vec!["watch-unprivileged".into(), "status-unprivileged".into()],
        }
    }
}

/// A watch or status row in one short line, for messages.
fn compact(v: &serde_json::Value) -> String {
    let mut out = format!(
        "{} {} pid={} cause={}",
        v["time"].as_str().unwrap_or("-"),
        v["state"].as_str().unwrap_or("?"),
        v["holder"]["pid"],
        v["cause"].as_str().unwrap_or("-"),
    );
    for key in ["error", "warnings"] {
        if !v[key].is_null() && v[key] != serde_json::json!([]) {
            out.push_str(&format!(" {key}={}", v[key]));
        }
    }
    out
}

/// `WORD T` -> T.
fn stamp(line: &str, word: &str) -> Option<T> {
    let rest = line.strip_prefix(word)?.strip_prefix(' ')?;
    rest.trim().parse().ok()
}

/// `locked PID T` -> T.
fn locked_stamp(line: &str) -> Option<T> {
    let mut w = line.split_whitespace();
    (w.next()? == "locked").then_some(())?;
    w.next()?;
    w.next()?.parse().ok()
}

impl Drop for Run {
    fn drop(&mut self) {
        // Processes first (they keep files open in the mounts), then the mounts.
        if let Some(s) = self.slots.iter().position(|s| s.stalled_since.is_some())
            && let SlotKind::Fuse { daemon } = self.slots[s].kind
        {
            // SAFETY: kill has no memory-safety preconditions; the daemon is our child.
            unsafe { libc::kill(daemon as i32, libc::SIGCONT) };
        }
        self.procs.clear();
        self.watches.clear();
        self.churn.clear();
        self.load.clear();
    }
}
