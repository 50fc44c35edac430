//! Whole processes, on the same machine state: `lockscope status --json` over 1,000 directories (100 of
//! them held by other processes) against `lslocks --json` (util-linux), which lists every lock
//! on the system. They do different work: status probes 1,000 named paths (lstat each, open +
//! F_OFD_GETLK + close each existing lock file, holder pid + command line), lslocks reads
//! /proc/locks and resolves each lock's holder command and file path, for all locks on the
//! system (here: the 100 held ones plus whatever else runs). Both answer "which of my locks are
//! held, and by whom" for this setup.
//!
//! The 1,000 directories (ext4, /tmp): 100 held, 100 free (stale lock files), 800 absent. Two
//! machine states, one after the other: the 100 held by real certbot 5.8.0 (`certbot_peer.py
//! hold-many`, 3 processes: classic fcntl locks, the kernel names the holder pid); then 90 held
//! by certbot and 10 by `lockscope hold` children (OFD locks: the kernel names no pid, so status
//! walks /proc to find the holders, which lslocks 2.38 does not do: it prints pid -1).
//!
//! Each run spawns the process with stdout on a pipe the harness reads to the end; wall time is
//! spawn to exit, CPU time is the child's user + system time (getrusage). Contenders are
//! interleaved, the order rotating every round; the table shows medians and the best run.
//!
//! The lockscope under test is the one cargo builds for this bench (`cargo bench` builds the
//! `lockscope` binary with the release profile: target/release/lockscope, via
//! CARGO_BIN_EXE_lockscope), and the same built without the desktop app (`--no-default-features --features cli`,
//! into target/cli-only). Set LOCKSCOPE_BASELINE_BIN=/path/to/an/older/lockscope to time an
//! older build side by side (BENCHMARKS.md's before/after).
//!
//!     cargo bench --bench status_vs_lslocks     (needs real certbot: see scripts/test; lslocks
//!                                                from util-linux)

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("lslocks is Linux-only; so is this benchmark");
}

#[cfg(target_os = "linux")]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use crate::common::{LOCK, certbot_python, lockscope_hold, peer_script};
    use std::io::{BufRead, BufReader, Read};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::Instant;

    const DIRS: usize = 1_000;
    const HELD: usize = 100;
    const CERTBOT_PROCESSES: usize = 3;
    const LOCKSCOPE_HOLDERS: usize = 10;
    const FREE: usize = 100;
    const ROUNDS: usize = 31;

    /// The same `lockscope` built with `--no-default-features --features cli` (library + CLI, no desktop app),
    /// as on a headless server: the app's code makes every process start slower. Built into its
    /// own target directory beside this bench's.
    fn cli_only_binary() -> PathBuf {
        let bench = std::env::current_exe().expect("current_exe");
        let target = bench
            .ancestors()
            .nth(3)
            .expect("target dir")
            .join("cli-only");
        let built = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--release",
                "--no-default-features",
                "--features",
                "cli",
            ])
            .args(["--bin", "lockscope", "--target-dir"])
            .arg(&target)
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .status()
            .expect("run cargo");
        assert!(built.success(), "building the CLI-only lockscope failed");
        target.join("release/lockscope")
    }

    struct Contender {
        name: String,
        command: Box<dyn Fn() -> Command>,
        wall_ms: Vec<f64>,
        cpu_ms: Vec<f64>,
        output: Vec<u8>,
    }

    fn children_cpu_ms() -> f64 {
        // SAFETY: getrusage fills a plain C struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer.
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
        let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
        ms(ru.ru_utime) + ms(ru.ru_stime)
    }

    impl Contender {
        fn run_once(&mut self) {
            let cpu0 = children_cpu_ms();
            let start = Instant::now();
            let mut child = (self.command)()
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn contender");
            let mut out = Vec::with_capacity(self.output.capacity());
            child
                .stdout
                .take()
                .expect("stdout")
                .read_to_end(&mut out)
                .expect("read output");
            let status = child.wait().expect("wait");
            self.wall_ms.push(start.elapsed().as_secs_f64() * 1e3);
            self.cpu_ms.push(children_cpu_ms() - cpu0);
            assert!(status.success(), "{} failed: {status}", self.name);
            self.output = out;
        }
    }

    fn median(v: &[f64]) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    fn best(v: &[f64]) -> f64 {
        v.iter().copied().fold(f64::MAX, f64::min)
    }

    fn lockscope_contender(name: &str, bin: PathBuf, dirs: &[PathBuf]) -> Contender {
        let dirs = dirs.to_vec();
        Contender {
            name: name.to_string(),
            command: Box::new(move || {
                let mut c = Command::new(&bin);
                c.args(["status", "--json"]).args(&dirs);
                c
            }),
            wall_ms: Vec::new(),
            cpu_ms: Vec::new(),
            output: Vec::new(),
        }
    }

    /// Checks a `status --json` output: every directory in order, the expected states, and a
    /// pid and command line for every held one.
    fn check_status(name: &str, out: &[u8], dirs: &[PathBuf], held: &[(PathBuf, u32)]) {
        let v: serde_json::Value = serde_json::from_slice(out).expect("status prints JSON");
        let records = v.as_array().expect("a JSON array");
        assert_eq!(records.len(), dirs.len(), "{name}");
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for (r, d) in records.iter().zip(dirs) {
            assert_eq!(r["dir"], d.to_str().expect("utf-8"), "{name}");
            *counts
                .entry(r["state"].as_str().expect("state").to_string())
                .or_default() += 1;
        }
        let held_count = held.len();
        assert_eq!(counts.get("held"), Some(&held_count), "{name}: {counts:?}");
        assert_eq!(counts.get("free"), Some(&FREE), "{name}: {counts:?}");
        for (d, pid) in held {
            let r = records
                .iter()
                .find(|r| r["dir"] == d.to_str().expect("utf-8"))
                .expect("record");
            assert_eq!(r["holder"]["pid"], *pid, "{name}: {r}");
            assert!(r["holder"]["command"].is_string(), "{name}: {r}");
        }
    }

    pub fn main() {
        let lslocks_version = Command::new("lslocks")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| {
                panic!("lslocks not found: install util-linux (apt-get install util-linux)")
            });
        println!(
            "\n### `lockscope status --json` over {DIRS} directories vs `{lslocks_version} --json`\n"
        );
        println!(
            "{ROUNDS} runs each, interleaved; wall and CPU medians; ratios against lslocks's medians.\n"
        );
        println!(
            "| holders | contender                        | wall median (ms) | wall best (ms) | CPU median (ms) | wall vs lslocks | CPU vs lslocks |"
        );
        println!(
            "|---------|----------------------------------|-----------------:|---------------:|----------------:|----------------:|---------------:|"
        );
        // 100 certbot holders (3 processes); then 90 certbot + 10 `lockscope hold` (OFD).
        scenario(CERTBOT_PROCESSES, 34, 0);
        scenario(CERTBOT_PROCESSES, 30, LOCKSCOPE_HOLDERS);
        println!("\nTarget: lockscope ≤ 0.5× lslocks's time.");
    }

    /// One machine state: `processes` certbot processes holding `each` locks, `ofd` directories
    /// held by `lockscope hold` children, then every contender timed on it.
    fn scenario(processes: usize, each: usize, ofd: usize) {
        let root = tempfile::tempdir_in("/tmp").expect("tempdir");
        let dirs: Vec<PathBuf> = (0..DIRS)
            .map(|i| root.path().join(format!("d{i:04}")))
            .collect();
        for d in &dirs {
            std::fs::create_dir(d).expect("mkdir");
        }
        // Every 10th directory is held, every 10th + 5 has a stale lock file.
        let held_dirs: Vec<&PathBuf> = dirs.iter().step_by(10).take(HELD).collect();
        for d in dirs.iter().skip(5).step_by(10) {
            std::fs::write(d.join(LOCK), b"").expect("stale lock file");
        }
        let by_certbot = (processes * each).min(HELD - ofd);
        let mut held: Vec<(PathBuf, u32)> = Vec::new();
        let mut certbots: Vec<Child> = Vec::new();
        for chunk in held_dirs[..by_certbot].chunks(each) {
            let mut child = Command::new(certbot_python())
                .arg(peer_script())
                .arg("hold-many")
                .args(chunk)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("certbot hold-many");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("locked");
            assert_eq!(line.trim(), format!("locked {}", chunk.len()));
            held.extend(chunk.iter().map(|d| ((*d).clone(), child.id())));
            certbots.push(child);
        }
        let ofd_holders: Vec<_> = held_dirs[by_certbot..]
            .iter()
            .map(|d| {
                let h = lockscope_hold(&[d.to_str().expect("utf-8 tempdir")]);
                assert!(h.line.starts_with("held "), "{}", h.line);
                held.push(((*d).clone(), h.child.id()));
                h
            })
            .collect();
        assert_eq!(held.len(), HELD);

        let mut contenders = vec![lockscope_contender(
            "lockscope status --json",
            PathBuf::from(env!("CARGO_BIN_EXE_lockscope")),
            &dirs,
        )];
        contenders.push(lockscope_contender(
            "… built without the app",
            cli_only_binary(),
            &dirs,
        ));
        if let Some(base) = std::env::var_os("LOCKSCOPE_BASELINE_BIN") {
            contenders.push(lockscope_contender(
                "baseline lockscope status --json",
                PathBuf::from(base),
                &dirs,
            ));
        }
        contenders.push(Contender {
            name: "lslocks --json".to_string(),
            command: Box::new(|| {
                let mut c = Command::new("lslocks");
                c.arg("--json");
                c
            }),
            wall_ms: Vec::new(),
            cpu_ms: Vec::new(),
            output: Vec::new(),
        });

        for c in contenders.iter_mut() {
            c.run_once(); // warm up (page cache, dentries)
            c.wall_ms.clear();
            c.cpu_ms.clear();
        }
        let n = contenders.len();
        for round in 0..ROUNDS {
            for k in 0..n {
                contenders[(round + k) % n].run_once();
            }
        }
        for c in &contenders[..n - 1] {
            check_status(&c.name, &c.output, &dirs, &held);
        }
        let lslocks_out: serde_json::Value =
            serde_json::from_slice(&contenders[n - 1].output).expect("lslocks prints JSON");
        let system_locks = lslocks_out["locks"].as_array().map_or(0, Vec::len);
        assert!(
            system_locks >= held.len(),
            "lslocks saw {system_locks} locks"
        );

        let holders = format!("{by_certbot} cb + {ofd} ofd");
        let (ls_wall, ls_cpu) = (
            median(&contenders[n - 1].wall_ms),
            median(&contenders[n - 1].cpu_ms),
        );
        for c in &contenders {
            println!(
                "| {holders:<7} | {:<32} | {:>16.2} | {:>14.2} | {:>15.2} | {:>14.2}× | {:>13.2}× |",
                c.name,
                median(&c.wall_ms),
                best(&c.wall_ms),
                median(&c.cpu_ms),
                median(&c.wall_ms) / ls_wall,
                median(&c.cpu_ms) / ls_cpu,
            );
        }
        eprintln!(
            "({holders}: {HELD} held, {FREE} free, {} absent; lslocks listed {system_locks} locks)",
            DIRS - HELD - FREE
        );
        drop(ofd_holders);
        for mut c in certbots {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}
