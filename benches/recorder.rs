//! The flight recorder's costs (issue 26), side by side in one run, whole processes:
//!
//! 1. A lock churn (`benches/floor/lock_churn.c`, built here with `cc -O2`: F_SETLK take and
//!    drop on 16 files of its own, on the watched directory's filesystem) alone, and beside
//!    `lockscope record` watching a directory there (the kernel's events; root): the churn's
//!    rate, the recorder's CPU, and the events the kernel dropped (the recorder says so on
//!    stderr). Paced at 10,000 cycles per second, and as fast as it goes. 3 alternating rounds
//!    of 3 s each; medians.
//! 2. `lockscope record` idle: its CPU over 10 s with nothing locking.
//! 3. The history file: 1,000,000 events of one busy directory over 30 days (800,000 holds and
//!    200,000 refused attempts), written through `Store::record_all` in batches of 100 as polls
//!    are: the write rate and the file's bytes per event; then `lockscope history` over it
//!    (`--at T`, one hour, one day, all 30 days), 11 runs each, medians.
//!
//! Run: `cargo bench --bench recorder` (as root: the kernel's events need it);
//! `cargo bench --bench recorder -- --history-only` runs part 3 only
//! (`LOCKSCOPE_BENCH_STORE=FILE` keeps the history file there).

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the recorder's kernel source is Linux-only; so is this benchmark");
}

#[cfg(target_os = "linux")]
fn main() {
    std::process::exit(linux::main());
}

#[cfg(target_os = "linux")]
mod linux {
    use jiff::{SignedDuration, Timestamp};
    use lockscope::history::{EndedBy, Hold, Recorded, Refused, Source, Store};
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    const ROUNDS: usize = 3;
    const CHURN_SECONDS: &str = "3";
    const EVENTS: usize = 1_000_000;
    const QUERY_RUNS: usize = 11;

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    fn clock_ticks() -> f64 {
        // SAFETY: sysconf has no preconditions.
        unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
    }

    /// A process's user + system CPU so far, in seconds (/proc/PID/stat).
    fn cpu_seconds(pid: u32) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // After the command: state is field 0, utime 11, stime 12.
        (ticks(11) + ticks(12)) / clock_ticks()
    }

    fn build_churn(dir: &Path) -> PathBuf {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/floor/lock_churn.c");
        let out = dir.join("lock_churn");
        let status = Command::new("cc")
            .args(["-O2", "-o"])
            .arg(&out)
            .arg(&source)
            .status()
            .expect("cc");
        assert!(status.success(), "cc {}", source.display());
        out
    }

    /// The churn's cycles per second.
    fn churn(program: &Path, dir: &Path, rate: Option<u32>) -> f64 {
        let mut command = Command::new(program);
        command.arg(dir).arg("16").arg(CHURN_SECONDS);
        if let Some(rate) = rate {
            command.arg(rate.to_string());
        }
        let out = command.output().expect("lock_churn");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a rate")
    }

    /// A running `lockscope record` of `dir`, its stderr in a file.
    struct Recording {
        child: std::process::Child,
        stderr: PathBuf,
    }

    impl Recording {
        fn start(tmp: &Path, dir: &Path, n: usize) -> Recording {
            let stderr = tmp.join(format!("record-{n}.err"));
            let child = Command::new(env!("CARGO_BIN_EXE_lockscope"))
                .arg("record")
                .arg("--store")
                .arg(tmp.join(format!("record-{n}.db")))
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr).expect("stderr file"))
                .spawn()
                .expect("lockscope record");
            let deadline = Instant::now() + Duration::from_secs(10);
            while !std::fs::read_to_string(&stderr)
                .unwrap_or_default()
                .contains("recording")
            {
                assert!(Instant::now() < deadline, "record did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            let said = std::fs::read_to_string(&stderr).unwrap_or_default();
            assert!(
                said.contains("kernel's lock events (source \"kernel\")"),
                "run as root: the recorder fell back to the monitor: {said}"
            );
            Recording { child, stderr }
        }

        /// Stops it; the events the kernel dropped, from its warnings.
        fn stop(mut self) -> u64 {
            // SAFETY: kill has no memory preconditions; the pid is our child's.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
            let _ = self.child.wait();
            let mut text = String::new();
            let _ = std::fs::File::open(&self.stderr).and_then(|mut f| f.read_to_string(&mut text));
            text.lines()
                .filter_map(|l| {
                    l.split_once("since the start")?
                        .0
                        .rsplit_once('(')?
                        .1
                        .trim()
                        .parse()
                        .ok()
                })
                .max()
                .unwrap_or(0)
        }
    }

    fn churn_case(tmp: &Path, program: &Path, rate: Option<u32>) {
        let watched = tmp.join("watched");
        let churn_dir = tmp.join("churn");
        std::fs::create_dir_all(&watched).unwrap();
        std::fs::create_dir_all(&churn_dir).unwrap();
        let (mut alone, mut beside, mut cpu, mut lost) = (vec![], vec![], vec![], vec![]);
        for round in 0..ROUNDS {
            alone.push(churn(program, &churn_dir, rate));
            let recording = Recording::start(tmp, &watched, round);
            let pid = recording.child.id();
            let before = cpu_seconds(pid);
            let started = Instant::now();
            beside.push(churn(program, &churn_dir, rate));
            cpu.push((cpu_seconds(pid) - before) / started.elapsed().as_secs_f64() * 100.0);
            lost.push(recording.stop() as f64);
        }
        let name = rate.map_or("as fast as it goes".to_string(), |r| format!("{r}/s"));
        let (a, b) = (median(alone), median(beside));
        println!(
            "| churn {name} | {a:.0} | {b:.0} | {:.2}× | {:.1} % | {:.0} |",
            a / b,
            median(cpu),
            median(lost)
        );
    }

    fn idle_case(tmp: &Path) {
        let watched = tmp.join("idle");
        std::fs::create_dir_all(&watched).unwrap();
        let recording = Recording::start(tmp, &watched, 100);
        let pid = recording.child.id();
        std::thread::sleep(Duration::from_secs(1));
        let before = cpu_seconds(pid);
        std::thread::sleep(Duration::from_secs(10));
        let used = cpu_seconds(pid) - before;
        recording.stop();
        println!(
            "\n`lockscope record` idle for 10 s: {:.3} CPU-seconds ({:.3} % of a core)",
            used,
            used / 10.0 * 100.0
        );
    }

    /// 30 days of one busy directory: 800,000 holds (each a Began and an Ended) and 200,000
    /// refused attempts, evenly spread, written in batches of 100 events.
    fn build_store(path: &Path, dir: &Path, end: Timestamp) -> (f64, u64) {
        let mut store = Store::open(path).expect("open the store");
        let holds = EVENTS * 4 / 5;
        let step = SignedDuration::from_secs(30 * 86_400) / holds as i32;
        let start = end - SignedDuration::from_secs(30 * 86_400);
        let mut batch = Vec::with_capacity(100);
        let began = Instant::now();
        for i in 0..holds {
            let t = start + step * i as i32;
            let pid = 10_000 + (i % 50_000) as u32;
            let hold = Hold {
                dir: dir.to_path_buf(),
                pid: Some(pid),
                command: Some("/usr/bin/python3 /usr/bin/certbot -q renew".into()),
                user: Some("root".into()),
                start: t,
                start_seen: true,
                end: None,
                ended_by: None,
                source: Source::Kernel,
            };
            let held_for = step / 2;
            batch.push(Recorded::Began(hold.clone()));
            if i % 4 == 0 {
                batch.push(Recorded::Refused(Refused {
                    dir: dir.to_path_buf(),
                    pid: Some(pid + 1),
                    command: Some("/usr/bin/python3 /usr/bin/certbot -q renew".into()),
                    user: Some("root".into()),
                    time: t + held_for / 2,
                    holder_pid: Some(pid),
                    source: Source::Kernel,
                }));
            }
            batch.push(Recorded::Ended(hold.ended(t + held_for, EndedBy::Released)));
            if batch.len() >= 100 {
                store.record_all(&batch).expect("write");
                batch.clear();
            }
        }
        store.record_all(&batch).expect("write");
        let seconds = began.elapsed().as_secs_f64();
        drop(store);
        let bytes: u64 = ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                std::fs::metadata(PathBuf::from(name)).ok()
            })
            .map(|m| m.len())
            .sum();
        (EVENTS as f64 / seconds, bytes)
    }

    fn query(store: &Path, dir: &Path, args: &[String]) -> (f64, usize) {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..QUERY_RUNS {
            let started = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_lockscope"))
                .arg("history")
                .arg("--store")
                .arg(store)
                .arg("--json")
                .args(args)
                .arg(dir)
                .output()
                .expect("lockscope history");
            times.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(out.status.success(), "{out:?}");
            rows = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
                .expect("JSON")
                .len();
        }
        (median(times), rows)
    }

    pub fn main() -> i32 {
        let tmp = tempfile::tempdir().expect("tempdir");
        if !std::env::args().any(|a| a == "--history-only") {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                eprintln!("run as root: the recorder's kernel source needs it");
                return 2;
            }
            let program = build_churn(tmp.path());
            println!("### The flight recorder's costs ({ROUNDS} alternating rounds; medians)\n");
            println!(
                "| case | churn alone (cycles/s) | beside `record` | slowdown | recorder CPU | events dropped |"
            );
            println!("|---|---:|---:|---:|---:|---:|");
            churn_case(tmp.path(), &program, Some(10_000));
            churn_case(tmp.path(), &program, None);
            idle_case(tmp.path());
        }

        let dir = PathBuf::from("/etc/letsencrypt");
        let store = std::env::var_os("LOCKSCOPE_BENCH_STORE")
            .map_or_else(|| tmp.path().join("busy.db"), PathBuf::from);
        let _ = std::fs::remove_file(&store);
        let end = Timestamp::now();
        let (rate, bytes) = build_store(&store, &dir, end);
        println!(
            "\nA history of {EVENTS} events (30 days of one directory): written at {rate:.0} \
             events/s in batches of 100; {:.1} MB, {:.0} bytes per event",
            bytes as f64 / 1e6,
            bytes as f64 / EVENTS as f64
        );
        println!("\n| `lockscope history --json` over it | rows | median (ms) |");
        println!("|---|---:|---:|");
        let ago = |days: i64, hours: i64| {
            (end - SignedDuration::from_secs(days * 86_400 + hours * 3600)).to_string()
        };
        let cases: [(&str, Vec<String>); 4] = [
            ("--at T (who held it then)", vec!["--at".into(), ago(3, 5)]),
            (
                "one hour (--since --until)",
                vec!["--since".into(), ago(3, 6), "--until".into(), ago(3, 5)],
            ),
            (
                "one day",
                vec!["--since".into(), ago(4, 0), "--until".into(), ago(3, 0)],
            ),
            ("all 30 days", vec![]),
        ];
        for (name, args) in cases {
            let (ms, rows) = query(&store, &dir, &args);
            println!("| {name} | {rows} | {ms:.1} |");
        }
        0
    }
}
