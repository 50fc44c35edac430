//! `lockscope status` against its syscall floor (issue 24), whole processes, side by side in one
//! run. The floor is `benches/floor/status_floor.c`: per directory `lstat` of the lock file and,
//! when it exists, `open, fstat, F_OFD_GETLK, close`, plus one `/proc/PID/cmdline` read per holder
//! pid; `--version` and `--help` are timed against a C `main` that prints one line
//! (`benches/floor/c_main.c`). Both are built here with `cc -O2`.
//!
//! Cases (one machine state for the first four: 10 real certbot processes, `certbot_peer.py
//! hold-many`, holding 100 of 1,000 directories in /tmp with classic fcntl locks; 100 more have a
//! stale lock file, 800 none):
//! - `status --json` over the 1,000 directories;
//! - `status --json` of one held directory;
//! - `status --json` of one directory that does not exist;
//! - `--version`, `--help`;
//! - `status --json` of the held directory while an unrelated process on the same filesystem has
//!   19,000 descriptors open and a lock taken on the first or on the last one (python;
//!   RLIMIT_NOFILE raised).
//!
//! Each run spawns the process with stdout on a pipe read to the end; wall time is spawn to exit,
//! CPU time the child's user + system time. Contenders of a case alternate, the order rotating
//! every round; medians. Outputs are checked (states, holder pids).
//!
//!     cargo bench --bench status_floor                 the table for BENCHMARKS.md
//!     cargo bench --bench status_floor -- --check      CI's guard: exits 1 if `status` over the
//!                                                      1,000 directories takes over CHECK_RATIO×
//!                                                      the floor in three races in a row
//!
//! LOCKSCOPE_BIN=/path/to/lockscope times another build (default: the one cargo builds for this
//! bench, target/release/lockscope); LOCKSCOPE_BASELINE_BIN adds an older build beside it.

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the floor program is Linux-only; so is this benchmark");
}

#[cfg(target_os = "linux")]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(target_os = "linux")]
fn main() {
    std::process::exit(linux::main());
}

#[cfg(target_os = "linux")]
mod linux {
    use crate::common::{LOCK, certbot_python, peer_script};
    use std::io::{BufRead, BufReader, Read};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::Instant;

    const DIRS: usize = 1_000;
    const HOLDERS: usize = 10;
    const HELD_EACH: usize = 10;
    const ROUNDS: usize = 31;
    /// CI fails when `status` over the 1,000 directories takes more than this times the floor
    /// in three races in a row (one slow race on a shared machine is noise; a regression
    /// persists). Issue 24 asked for 2×; this session measured 2.95–3.2× (before it: 3.7–4.0×),
    /// so the guard holds the gain, not yet the goal (BENCHMARKS.md).
    const CHECK_RATIO: f64 = 3.5;

    struct Contender {
        name: String,
        program: PathBuf,
        args: Vec<std::ffi::OsString>,
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
        fn new(name: &str, program: &Path, args: &[&std::ffi::OsStr]) -> Contender {
            Contender {
                name: name.to_string(),
                program: program.to_path_buf(),
                args: args.iter().map(|a| a.to_os_string()).collect(),
                wall_ms: Vec::new(),
                cpu_ms: Vec::new(),
                output: Vec::new(),
            }
        }

        fn run_once(&mut self) {
            let cpu0 = children_cpu_ms();
            let start = Instant::now();
            let mut child = Command::new(&self.program)
                .args(&self.args)
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
            // status exits 1 when a directory is held, 2 when one is missing (the CLI contract);
            // the outputs are checked after the race.
            assert!(
                matches!(status.code(), Some(0..=2)),
                "{} failed: {status}",
                self.name
            );
            self.output = out;
        }
    }

    fn median(v: &[f64]) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// Runs the contenders alternately and returns them; the last one is the floor.
    fn race(mut contenders: Vec<Contender>) -> Vec<Contender> {
        for c in contenders.iter_mut() {
            c.run_once(); // warm up: page cache, dentries
            c.wall_ms.clear();
            c.cpu_ms.clear();
        }
        let n = contenders.len();
        for round in 0..ROUNDS {
            for k in 0..n {
                contenders[(round + k) % n].run_once();
            }
        }
        contenders
    }

    /// One table row per contender; returns the first contender's wall ratio to the floor.
    fn report(case: &str, contenders: &[Contender]) -> f64 {
        let floor = contenders.last().expect("a floor");
        let (fw, fc) = (median(&floor.wall_ms), median(&floor.cpu_ms));
        for c in contenders {
            println!(
                "| {case:<44} | {:<28} | {:>9.2} | {:>9.2} | {:>6.2}× | {:>6.2}× |",
                c.name,
                median(&c.wall_ms),
                median(&c.cpu_ms),
                median(&c.wall_ms) / fw,
                median(&c.cpu_ms) / fc,
            );
        }
        median(&contenders[0].wall_ms) / fw
    }

    fn build_c(source: &str, out: &Path) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("benches/floor")
            .join(source);
        let ok = Command::new("cc")
            .args(["-O2", "-o"])
            .arg(out)
            .arg(&src)
            .status()
            .expect("run cc (apt-get install gcc libc6-dev)");
        assert!(ok.success(), "cc {} failed", src.display());
        out.to_path_buf()
    }

    /// The JSON rows of `status --json`: (dir, state, holder pid).
    fn status_rows(out: &[u8]) -> Vec<(String, String, Option<u64>)> {
        let v: serde_json::Value = serde_json::from_slice(out).expect("status prints JSON");
        v.as_array()
            .expect("a JSON array")
            .iter()
            .map(|r| {
                (
                    r["dir"].as_str().expect("dir").to_string(),
                    r["state"].as_str().expect("state").to_string(),
                    r["holder"]["pid"].as_u64(),
                )
            })
            .collect()
    }

    /// Checks that lockscope and the floor agree with what the harness set up.
    fn check_outputs(contenders: &[Contender], expected: &[(PathBuf, &str, Option<u32>)]) {
        let floor = contenders.last().expect("a floor");
        let floor_out = String::from_utf8_lossy(&floor.output);
        let floor_lines: Vec<&str> = floor_out.lines().collect();
        assert_eq!(floor_lines.len(), expected.len(), "floor output");
        for (line, (dir, state, pid)) in floor_lines.iter().zip(expected) {
            let want = match (state, pid) {
                (&"held", Some(pid)) => format!("{} held {pid} ", dir.display()),
                (&"missing", _) => format!("{} absent", dir.display()),
                (state, _) => format!("{} {state}", dir.display()),
            };
            assert!(
                line.starts_with(&want),
                "floor: {line:?}, expected {want:?}"
            );
        }
        for c in &contenders[..contenders.len() - 1] {
            let rows = status_rows(&c.output);
            assert_eq!(rows.len(), expected.len(), "{}", c.name);
            for ((dir, state, pid), (want_dir, want_state, want_pid)) in rows.iter().zip(expected) {
                assert_eq!(dir, want_dir.to_str().expect("utf-8"), "{}", c.name);
                // status calls a missing directory an error (and exits 2).
                let want_state = if *want_state == "missing" {
                    "error"
                } else {
                    want_state
                };
                assert_eq!(state, want_state, "{}: {dir}", c.name);
                assert_eq!(*pid, want_pid.map(u64::from), "{}: {dir}", c.name);
            }
        }
    }

    fn lockscope_contenders(args: &[&std::ffi::OsStr]) -> Vec<Contender> {
        let main = std::env::var_os("LOCKSCOPE_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_lockscope")),
            PathBuf::from,
        );
        let mut v = vec![Contender::new("lockscope", &main, args)];
        if let Some(base) = std::env::var_os("LOCKSCOPE_BASELINE_BIN") {
            v.push(Contender::new("baseline lockscope", Path::new(&base), args));
        }
        v
    }

    /// A process with `fds` descriptors open and a classic fcntl lock on `lock`, opened
    /// `order` ("first" or "last") of them: an unrelated lock holder on the same filesystem.
    /// (A daemon usually takes its lock at start, first; last is the walk's worst case.)
    fn many_descriptor_holder(fds: usize, lock: &Path, order: &str) -> Child {
        let script = r#"
import fcntl, os, resource, sys
n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def lock():
    fd = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    return fd
first = lock() if sys.argv[3] == "first" else None
keep = [os.open("/dev/null", os.O_RDONLY) for _ in range(n)]
last = lock() if sys.argv[3] == "last" else None
print("ready", flush=True)
sys.stdin.read()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script, &fds.to_string()])
            .arg(lock)
            .arg(order)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready");
        assert_eq!(
            line.trim(),
            "ready",
            "the many-descriptor holder did not start"
        );
        child
    }

    pub fn main() -> i32 {
        let check = std::env::args().any(|a| a == "--check");
        let root = tempfile::tempdir_in("/tmp").expect("tempdir");
        let floor = build_c("status_floor.c", &root.path().join("status_floor"));
        let c_main = build_c("c_main.c", &root.path().join("c_main"));

        let dirs: Vec<PathBuf> = (0..DIRS)
            .map(|i| root.path().join(format!("d{i:04}")))
            .collect();
        for d in &dirs {
            std::fs::create_dir(d).expect("mkdir");
        }
        for d in dirs.iter().skip(5).step_by(10) {
            std::fs::write(d.join(LOCK), b"").expect("stale lock file");
        }
        let mut expected: Vec<(PathBuf, &str, Option<u32>)> =
            dirs.iter().map(|d| (d.clone(), "absent", None)).collect();
        for i in (5..DIRS).step_by(10) {
            expected[i].1 = "free";
        }
        let held: Vec<usize> = (0..DIRS).step_by(10).collect();
        let mut certbots: Vec<Child> = Vec::new();
        for chunk in held.chunks(HELD_EACH).take(HOLDERS) {
            let mut child = Command::new(certbot_python())
                .arg(peer_script())
                .arg("hold-many")
                .args(chunk.iter().map(|&i| &dirs[i]))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("certbot hold-many");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("locked");
            assert_eq!(line.trim(), format!("locked {}", chunk.len()));
            for &i in chunk {
                expected[i] = (dirs[i].clone(), "held", Some(child.id()));
            }
            certbots.push(child);
        }

        println!(
            "\n### `lockscope status` against its syscall floor ({ROUNDS} runs each, alternating; medians)\n"
        );
        println!(
            "| case                                         | contender                    | wall (ms) |  CPU (ms) | wall/floor | CPU/floor |"
        );
        println!(
            "|----------------------------------------------|------------------------------|----------:|----------:|-----------:|----------:|"
        );

        let all: Vec<&std::ffi::OsStr> = dirs.iter().map(|d| d.as_os_str()).collect();
        let mut args: Vec<&std::ffi::OsStr> = vec!["status".as_ref(), "--json".as_ref()];
        args.extend(&all);
        let race_1000 = || {
            let mut contenders = lockscope_contenders(&args);
            contenders.push(Contender::new("C floor", &floor, &all));
            let contenders = race(contenders);
            check_outputs(&contenders, &expected);
            contenders
        };
        let mut ratio_1000 = report("status --json, 1,000 dirs (100 held)", &race_1000());
        for _ in 0..2 {
            if !check || ratio_1000 <= CHECK_RATIO {
                break;
            }
            eprintln!("{ratio_1000:.2}× the floor (limit {CHECK_RATIO}×): racing again");
            ratio_1000 = report("status --json, 1,000 dirs (again)", &race_1000());
        }

        let one = expected[10].clone();
        let one_args: Vec<&std::ffi::OsStr> =
            vec!["status".as_ref(), "--json".as_ref(), one.0.as_os_str()];
        let mut c = lockscope_contenders(&one_args);
        c.push(Contender::new("C floor", &floor, &[one.0.as_os_str()]));
        let c = race(c);
        check_outputs(&c, std::slice::from_ref(&one));
        report("status --json, one held dir", &c);

        let missing = root.path().join("not-there");
        let missing_args: Vec<&std::ffi::OsStr> =
            vec!["status".as_ref(), "--json".as_ref(), missing.as_os_str()];
        let mut c = lockscope_contenders(&missing_args);
        c.push(Contender::new("C floor", &floor, &[missing.as_os_str()]));
        let c = race(c);
        check_outputs(&c, &[(missing.clone(), "missing", None)]);
        report("status --json, one missing dir", &c);

        for flag in ["--version", "--help"] {
            let mut c = lockscope_contenders(&[flag.as_ref()]);
            c.push(Contender::new("C main", &c_main, &[]));
            let c = race(c);
            report(&format!("lockscope {flag} (floor: a C main)"), &c);
        }

        for (order, case) in [
            ("first", "… 19,000 fds, its lock opened first"),
            ("last", "… 19,000 fds, its lock opened last"),
        ] {
            let mut big =
                many_descriptor_holder(19_000, &root.path().join("unrelated.lock"), order);
            let mut c = lockscope_contenders(&one_args);
            c.push(Contender::new("C floor", &floor, &[one.0.as_os_str()]));
            let c = race(c);
            check_outputs(&c, std::slice::from_ref(&one));
            report(case, &c);
            drop(big.stdin.take());
            let _ = big.wait();
        }

        for mut child in certbots {
            drop(child.stdin.take());
            let _ = child.wait();
        }
        if check && ratio_1000 > CHECK_RATIO {
            eprintln!(
                "status over {DIRS} directories took {ratio_1000:.2}× the syscall floor (limit {CHECK_RATIO}×)"
            );
            return 1;
        }
        0
    }
}
