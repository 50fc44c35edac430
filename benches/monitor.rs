//! Monitor benchmarks: event-to-output latency against real certbot, and scale (first snapshot,
//! idle CPU, CPU per pass, peak RSS) of `lockscope watch` at 10 / 1,000 / 10,000 directories.
//!
//! Also `lockscope serve --metrics` at 1,000 directories: CPU per scrape and idle CPU (issue 14).
//!
//!     cargo bench --bench monitor                 # everything (a few minutes)
//!     cargo bench --bench monitor -- latency      # or: scale, prometheus
//!
//! Needs real certbot (see scripts/test). Results and method: BENCHMARKS.md.

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the monitor benchmarks need Linux (inotify, /proc, certbot's fcntl locks)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(target_os = "linux")]
mod linux {

    use crate::common::{LOCK, ScriptedPeer, certbot_python, peer_script};
    use std::io::{BufRead, BufReader, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::mpsc::{self, Receiver};
    use std::time::Duration;

    /// CLOCK_MONOTONIC in seconds: the clock Python's time.monotonic() reads, so timestamps taken
    /// in the certbot process and here compare directly.
    fn monotonic() -> f64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid pointer to a timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }

    /// A running `lockscope watch --json`; each output line arrives with the time it was read.
    struct Watch {
        child: Child,
        lines: Receiver<(f64, serde_json::Value)>,
    }

    impl Watch {
        fn start_bin(bin: &Path, dirs: &[PathBuf], interval: &str) -> Watch {
            let mut child = Command::new(bin)
                .args(["watch", "--json", "--interval", interval])
                .args(dirs)
                .stdout(Stdio::piped())
                .spawn()
                .expect("start lockscope watch");
            let stdout = BufReader::new(child.stdout.take().expect("stdout"));
            let (tx, lines) = mpsc::channel();
            std::thread::spawn(move || {
                for line in stdout.lines() {
                    let Ok(line) = line else { break };
                    let at = monotonic();
                    let value = serde_json::from_str(&line).expect("watch prints JSON lines");
                    if tx.send((at, value)).is_err() {
                        break;
                    }
                }
            });
            Watch { child, lines }
        }

        /// Waits for a line with `state`; returns when it was read.
        fn until(&self, state: &str) -> f64 {
            self.until_line(state).0
        }

        /// Waits for a line with `state`; returns when it was read, and the line.
        fn until_line(&self, state: &str) -> (f64, serde_json::Value) {
            loop {
                let (at, v) = self
                    .lines
                    .recv_timeout(Duration::from_secs(10))
                    .expect("watch output");
                if v["state"] == state {
                    return (at, v);
                }
            }
        }

        fn stop(mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
    }

    /// A certbot process taking and releasing locks on command (certbot_peer.py serve).
    struct Certbot {
        child: Child,
        stdin: ChildStdin,
        stdout: BufReader<std::process::ChildStdout>,
    }

    impl Certbot {
        fn start() -> Certbot {
            let mut child = Command::new(certbot_python())
                .arg(peer_script())
                .arg("serve")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start certbot peer");
            let stdin = child.stdin.take().expect("stdin");
            let stdout = BufReader::new(child.stdout.take().expect("stdout"));
            Certbot {
                child,
                stdin,
                stdout,
            }
        }

        fn say(&mut self, command: &str) -> String {
            writeln!(self.stdin, "{command}").expect("write to certbot peer");
            let mut line = String::new();
            self.stdout.read_line(&mut line).expect("read certbot peer");
            line
        }

        fn stamp(line: &str) -> f64 {
            line.split_whitespace()
                .nth(1)
                .and_then(|t| t.parse().ok())
                .expect("timestamp")
        }

        /// Locks `dir`; returns the moment the lock was taken.
        fn lock(&mut self, dir: &Path) -> f64 {
            Self::stamp(&self.say(&format!("lock {}", dir.display())))
        }

        /// Releases; returns the moment just before certbot's release (unlink, close).
        fn release(&mut self) -> f64 {
            let at = Self::stamp(&self.say("release"));
            let mut done = String::new();
            self.stdout.read_line(&mut done).expect("released");
            at
        }
    }

    impl Drop for Certbot {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A process that opened the lock file before the watch started and locks / unlocks it with
    /// fcntl on that same fd on command: a change inotify cannot see.
    struct RawLocker(ScriptedPeer);

    impl RawLocker {
        const SCRIPT: &str = "import fcntl, os, sys, time\n\
            fd = os.open(sys.argv[1], os.O_WRONLY)\n\
            for line in sys.stdin:\n\
            \x20   fcntl.lockf(fd, fcntl.LOCK_EX if line.strip() == 'lock' else fcntl.LOCK_UN)\n\
            \x20   print(time.monotonic(), flush=True)\n";

        fn start(lock: &Path) -> RawLocker {
            RawLocker(ScriptedPeer::start(Self::SCRIPT, lock))
        }

        /// Sends "lock" or "unlock"; returns the moment it was done.
        fn command(&mut self, what: &str) -> f64 {
            self.0.ask(what).parse().expect("timestamp")
        }
    }

    struct Summary {
        name: &'static str,
        ms: Vec<f64>,
    }

    impl Summary {
        fn percentile(&self, p: f64) -> f64 {
            let mut v = self.ms.clone();
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * p).round() as usize]
        }

        fn print(&self, build: &str) {
            println!(
                "| {:<44} | {build:<9} | {:>6} | {:>8.2} | {:>8.2} | {:>8.2} |",
                self.name,
                self.ms.len(),
                self.percentile(0.5),
                self.percentile(0.99),
                self.percentile(1.0)
            );
        }
    }

    /// This build, and `LOCKSCOPE_BASELINE_BIN` (an older build) when set, in that order.
    fn contenders() -> Vec<(String, PathBuf)> {
        let mut contenders = vec![(
            "lockscope".to_string(),
            PathBuf::from(env!("CARGO_BIN_EXE_lockscope")),
        )];
        if let Some(base) = std::env::var_os("LOCKSCOPE_BASELINE_BIN") {
            contenders.push(("baseline".to_string(), PathBuf::from(base)));
        }
        contenders
    }

    fn latency(trials: usize, poll_trials: usize) {
        println!(
            "\n### Latency: certbot action -> `lockscope watch --json` line ({trials} trials each, interval 1 s)\n"
        );
        println!(
            "| transition                                   | build     | trials | p50 (ms) | p99 (ms) | max (ms) |"
        );
        println!(
            "|----------------------------------------------|-----------|-------:|---------:|---------:|---------:|"
        );
        for (name, bin) in contenders() {
            latency_of(&name, &bin, trials, poll_trials);
        }
    }

    fn latency_of(build: &str, bin: &Path, trials: usize, poll_trials: usize) {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().to_path_buf();
        let lock = dir.join(LOCK);
        let watch = Watch::start_bin(bin, std::slice::from_ref(&dir), "1s");
        watch.until("absent");
        let mut certbot = Certbot::start();

        let mut new_file = Summary {
            name: "absent -> held (certbot lock_dir, new file)",
            ms: vec![],
        };
        let mut release = Summary {
            name: "held -> absent (certbot release)",
            ms: vec![],
        };
        for _ in 0..trials {
            let locked = certbot.lock(&dir);
            new_file.ms.push((watch.until("held") - locked) * 1e3);
            let releasing = certbot.release();
            release.ms.push((watch.until("absent") - releasing) * 1e3);
        }

        let mut existing = Summary {
            name: "free -> held (certbot, existing file)",
            ms: vec![],
        };
        for _ in 0..trials {
            std::fs::write(&lock, b"").expect("leave a stale file");
            watch.until("free");
            let locked = certbot.lock(&dir);
            existing.ms.push((watch.until("held") - locked) * 1e3);
            certbot.release();
            watch.until("absent");
        }
        drop(certbot);

        let mut killed = Summary {
            name: "held -> free (certbot killed with SIGKILL)",
            ms: vec![],
        };
        for _ in 0..trials {
            let mut victim = Certbot::start();
            victim.lock(&dir);
            watch.until("held");
            let before_kill = monotonic();
            victim.child.kill().expect("SIGKILL");
            let (at, line) = watch.until_line("free");
            killed.ms.push((at - before_kill) * 1e3);
            if std::env::var_os("BENCH_DEBUG").is_some() && (at - before_kill) > 0.02 {
                eprintln!("slow kill: {:.1} ms {line}", (at - before_kill) * 1e3);
            }
            let _ = victim.child.wait();
            std::fs::remove_file(&lock).expect("remove the stale file");
            watch.until("absent");
        }
        // A lock taken and dropped on an fd opened long before: no filesystem event at all, so
        // only the periodic pass (1 s) can see it. Expected: spread over [0, interval].
        let mut silent = Summary {
            name: "free <-> held with no event (pre-opened fd)",
            ms: vec![],
        };
        std::fs::write(&lock, b"").expect("stale file");
        watch.until("free");
        let mut raw = RawLocker::start(&lock);
        for _ in 0..poll_trials {
            let locked = raw.command("lock");
            silent.ms.push((watch.until("held") - locked) * 1e3);
            let unlocked = raw.command("unlock");
            silent.ms.push((watch.until("free") - unlocked) * 1e3);
        }
        drop(raw);
        watch.stop();
        for s in [&new_file, &release, &existing, &killed, &silent] {
            s.print(build);
        }
    }

    /// CPU time (ns) of all threads of a process, from schedstat.
    fn cpu_ns(pid: u32) -> u64 {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir");
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }

    fn status_kb(pid: u32, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .expect("status field")
    }

    fn scale(sizes: &[usize], idle_secs: u64) {
        println!(
            "\n### Scale: `lockscope watch --json --interval 1s DIR...` (1% of directories held by one certbot process)\n"
        );
        // `LOCKSCOPE_BASELINE_BIN`: an older build, measured right after this one at each size.
        let contenders = contenders();
        println!(
            "| dirs   | held | build     | first snapshot (ms) | idle CPU (% of a core) | CPU per pass (ms) | peak RSS (MB) |"
        );
        println!(
            "|-------:|-----:|-----------|--------------------:|-----------------------:|------------------:|--------------:|"
        );
        for &n in sizes {
            for (name, bin) in &contenders {
                scale_one(n, idle_secs, name, bin);
            }
        }
    }

    fn scale_one(n: usize, idle_secs: u64, name: &str, bin: &Path) {
        {
            let root = tempfile::tempdir().expect("tempdir");
            let dirs: Vec<PathBuf> = (0..n)
                .map(|i| root.path().join(format!("d{i:05}")))
                .collect();
            for d in &dirs {
                std::fs::create_dir(d).expect("mkdir");
            }
            let held: Vec<&PathBuf> = dirs.iter().step_by(100).collect();
            let mut holder = Command::new(certbot_python())
                .arg(peer_script())
                .arg("hold-many")
                .args(&held)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("certbot hold-many");
            let mut line = String::new();
            BufReader::new(holder.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("locked");

            let started = monotonic();
            let watch = Watch::start_bin(bin, &dirs, "1s");
            let mut initial = 0;
            while initial < n {
                let (_, v) = watch
                    .lines
                    .recv_timeout(Duration::from_secs(60))
                    .expect("initial states");
                if v["cause"] == "initial" {
                    initial += 1;
                }
            }
            let snapshot_ms = (monotonic() - started) * 1e3;
            let pid = watch.child.id();
            std::thread::sleep(Duration::from_millis(1500)); // settle: first pass done
            let cpu0 = cpu_ns(pid);
            std::thread::sleep(Duration::from_secs(idle_secs));
            let cpu1 = cpu_ns(pid);
            let idle_share = (cpu1 - cpu0) as f64 / (idle_secs as f64 * 1e9) * 100.0;
            let per_pass_ms = (cpu1 - cpu0) as f64 / idle_secs as f64 / 1e6;
            let rss_mb = status_kb(pid, "VmHWM:") as f64 / 1024.0;
            watch.stop();
            drop(holder.stdin.take());
            let _ = holder.wait();
            println!(
                "| {n:>6} | {:>4} | {name:<9} | {snapshot_ms:>19.1} | {idle_share:>22.3} | {per_pass_ms:>17.3} | {rss_mb:>13.1} |",
                held.len()
            );
        }
    }

    /// One HTTP/1.1 GET with `Connection: close`; the body's length (the scrape must succeed).
    fn http_get(addr: &str, path: &str) -> String {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        assert!(response.starts_with("HTTP/1.1 200"), "{response:.200}");
        response
    }

    /// `serve --metrics` at `n` directories (1% held by one certbot): CPU time per scrape of
    /// the serve process (schedstat of all its threads around `scrapes` sequential scrapes,
    /// less the idle rate over the same time), and its idle CPU over `idle_secs`, beside
    /// `watch --json`'s over the same directories in the same run.
    fn prometheus(n: usize, scrapes: usize, idle_secs: u64) {
        println!(
            "\n### Prometheus: `lockscope serve --metrics --interval 1s` at {n} directories ({} held by one certbot)\n",
            n / 100
        );
        let root = tempfile::tempdir().expect("tempdir");
        let dirs: Vec<PathBuf> = (0..n)
            .map(|i| root.path().join(format!("d{i:05}")))
            .collect();
        for d in &dirs {
            std::fs::create_dir(d).expect("mkdir");
        }
        let held: Vec<&PathBuf> = dirs.iter().step_by(100).collect();
        let mut holder = Command::new(certbot_python())
            .arg(peer_script())
            .arg("hold-many")
            .args(&held)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("certbot hold-many");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("locked");

        let mut serve = Command::new(env!("CARGO_BIN_EXE_lockscope"))
            .args(["serve", "--metrics", "127.0.0.1:0", "--interval", "1s"])
            .args(&dirs)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start lockscope serve");
        let mut line = String::new();
        BufReader::new(serve.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("serving line");
        let addr = line
            .trim()
            .trim_start_matches("serving http://")
            .trim_end_matches("/metrics")
            .to_string();
        let pid = serve.id();
        let held_series = "lockscope_lock_held{dir=";
        let body = loop {
            let body = http_get(&addr, "/metrics");
            if body.matches(held_series).count() == n {
                break body;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(1500)); // settle: first pass done
        let idle0 = cpu_ns(pid);
        std::thread::sleep(Duration::from_secs(idle_secs));
        let idle1 = cpu_ns(pid);
        let idle_rate = (idle1 - idle0) as f64 / (idle_secs as f64 * 1e9); // core-seconds per second

        let started = monotonic();
        let cpu0 = cpu_ns(pid);
        for _ in 0..scrapes {
            http_get(&addr, "/metrics");
        }
        let cpu1 = cpu_ns(pid);
        let elapsed = monotonic() - started;
        let per_scrape_ms = (cpu1 - cpu0) as f64 / scrapes as f64 / 1e6;
        let net_ms = ((cpu1 - cpu0) as f64 - idle_rate * elapsed * 1e9) / scrapes as f64 / 1e6;
        let rss_mb = status_kb(pid, "VmHWM:") as f64 / 1024.0;
        let _ = serve.kill();
        let _ = serve.wait();

        // `watch` over the same directories, same idle time: what the monitor alone costs.
        let watch = Watch::start_bin(Path::new(env!("CARGO_BIN_EXE_lockscope")), &dirs, "1s");
        let mut initial = 0;
        while initial < n {
            let (_, v) = watch
                .lines
                .recv_timeout(Duration::from_secs(60))
                .expect("initial states");
            if v["cause"] == "initial" {
                initial += 1;
            }
        }
        let wpid = watch.child.id();
        std::thread::sleep(Duration::from_millis(1500));
        let w0 = cpu_ns(wpid);
        std::thread::sleep(Duration::from_secs(idle_secs));
        let w1 = cpu_ns(wpid);
        let watch_rate = (w1 - w0) as f64 / (idle_secs as f64 * 1e9);
        watch.stop();
        drop(holder.stdin.take());
        let _ = holder.wait();

        println!("| measure | value | target |");
        println!("|---------|------:|--------|");
        println!(
            "| exposition size ({n} dirs) | {} KiB | |",
            body.len() / 1024
        );
        println!(
            "| serve CPU per scrape, {scrapes} scrapes ({:.0} ms wall each) | {per_scrape_ms:.3} ms | ≤ 5 ms |",
            elapsed / scrapes as f64 * 1e3
        );
        println!("| serve CPU per scrape, less idle | {net_ms:.3} ms | |");
        println!(
            "| serve idle CPU over {idle_secs} s | {:.3} % of a core | ≤ 0.5 % |",
            idle_rate * 100.0
        );
        println!(
            "| watch idle CPU over {idle_secs} s (same dirs, same run) | {:.3} % of a core | |",
            watch_rate * 100.0
        );
        println!("| serve peak RSS | {rss_mb:.1} MB | |");
    }

    pub fn main() {
        let args: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        let all = args.is_empty();
        if all || args.iter().any(|a| a == "latency") {
            latency(200, 25);
        }
        if all || args.iter().any(|a| a == "scale") {
            scale(&[10, 1_000, 10_000], 10);
        }
        if all || args.iter().any(|a| a == "prometheus") {
            prometheus(1_000, 200, 60);
        }
    }
}
