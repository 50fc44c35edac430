//! Probe cost, side by side in one run: `lockscope::probe` against raw syscall loops doing the
//! least the same answer needs, on the root filesystem (ext4, /tmp).
//!
//! - free: an existing lock file nobody holds. raw = open(O_RDONLY|O_NOFOLLOW|O_NONBLOCK|
//!   O_CLOEXEC) + fcntl(F_OFD_GETLK) + close. "raw + checks" adds what the probe's rules demand
//!   (lstat before the open: never open a symlink, directory, special file or a file this
//!   process holds; fstat after it: never query something swapped in), the floor for lockscope.
//! - held by certbot: a real certbot 5.8.0 process (tests/peers/certbot_peer.py `hold DIR`,
//!   a classic fcntl lock) holds the lock; the probe's answer includes the holder's pid AND
//!   command line. raw = the free loop + reading `/proc/<pid>/cmdline` with open/read/close.
//! - held by `lockscope hold` (an OFD lock: the kernel reports no pid, so the holder is found in
//!   `/proc/<pid>/fd` + `fdinfo`). Repeated probes of one file; the first lookup (a whole /proc
//!   scan) is measured apart, as the run time of a `lockscope status DIR` process minus that of
//!   one on a free directory.
//! - absent: no lock file. raw = lstat.
//!
//! Contenders alternate within each round (the order flips every round); the table shows the
//! best and the median round in ns per probe.
//!
//!     cargo bench --bench probe          (needs real certbot: see scripts/test)

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the probe benchmark compares against Linux fcntl calls; Linux only");
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
    use crate::common::{LOCK, certbot_lock_dir, lockscope, lockscope_hold};
    use lockscope::probe::{LockState, ProbeBatch, probe};
    use std::ffi::CString;
    use std::hint::black_box;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::process::Stdio;
    use std::time::Instant;

    const ROUNDS: usize = 15;

    fn c_path(p: &Path) -> CString {
        CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
    }

    /// open + F_OFD_GETLK + close: whether a write lock would conflict, and the l_pid.
    fn raw_query(lock: &CString) -> i32 {
        query_opened(lock, |_| {})
    }

    /// lstat + open + fstat + F_OFD_GETLK + close: the syscalls the probe's rules require.
    fn raw_checked_query(lock: &CString) -> i32 {
        let is_regular = |st: &libc::stat| st.st_mode & libc::S_IFMT == libc::S_IFREG;
        // SAFETY: a valid NUL-terminated path; stat is plain C data.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::lstat(lock.as_ptr(), &mut st) }, 0);
        assert!(is_regular(&st));
        query_opened(lock, |fd| {
            // SAFETY: a valid fd and a stat struct to fill.
            assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
            assert!(is_regular(&st));
        })
    }

    /// Opens `lock` read-only, runs `check` on the fd, asks F_OFD_GETLK, closes: the l_pid of a
    /// conflicting lock (-1 for OFD locks), 0 when none.
    fn query_opened(lock: &CString, check: impl FnOnce(libc::c_int)) -> i32 {
        // SAFETY: plain libc calls on a valid NUL-terminated path and a zeroed flock struct.
        unsafe {
            let fd = libc::open(
                lock.as_ptr(),
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
            );
            assert!(fd >= 0);
            check(fd);
            let mut fl: libc::flock = std::mem::zeroed();
            fl.l_type = libc::F_WRLCK as _;
            fl.l_whence = libc::SEEK_SET as _;
            assert_eq!(libc::fcntl(fd, libc::F_OFD_GETLK, &mut fl), 0);
            libc::close(fd);
            if fl.l_type == libc::F_UNLCK as libc::c_short {
                0
            } else {
                fl.l_pid
            }
        }
    }

    /// The raw query plus the holder's command line (open, read, close of /proc/PID/cmdline).
    fn raw_query_with_command(lock: &CString) -> usize {
        let pid = raw_query(lock);
        assert!(pid > 0);
        let mut path = *b"/proc/\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
        let tail = format!("{pid}/cmdline");
        path[6..6 + tail.len()].copy_from_slice(tail.as_bytes());
        let mut buf = [0u8; 4096];
        // SAFETY: NUL-terminated path buffer; read into a live buffer of the given length.
        unsafe {
            let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
            assert!(fd >= 0);
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(fd);
            assert!(n > 0);
            n as usize
        }
    }

    fn raw_stat(path: &CString) -> i32 {
        // SAFETY: valid NUL-terminated path, stat is plain C data.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            libc::stat(path.as_ptr(), &mut st)
        }
    }

    fn raw_lstat(lock: &CString) -> i32 {
        // SAFETY: valid NUL-terminated path, stat is plain C data.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            libc::lstat(lock.as_ptr(), &mut st)
        }
    }

    struct Contender<'a> {
        name: &'static str,
        run: Box<dyn Fn() + 'a>,
        rounds: Vec<f64>,
    }

    impl Contender<'_> {
        fn best(&self) -> f64 {
            self.rounds.iter().copied().fold(f64::MAX, f64::min)
        }

        fn median(&self) -> f64 {
            let mut v = self.rounds.clone();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        }
    }

    /// Times `iters` calls of each contender per round, alternating them (order flipped every
    /// round), ROUNDS rounds; ns per call.
    fn race(iters: u32, contenders: &mut [Contender<'_>]) {
        for c in contenders.iter() {
            for _ in 0..iters / 10 {
                (c.run)(); // warm up
            }
        }
        for round in 0..ROUNDS {
            let n = contenders.len();
            for k in 0..n {
                let c = &mut contenders[if round % 2 == 0 { k } else { n - 1 - k }];
                let start = Instant::now();
                for _ in 0..iters {
                    (c.run)();
                }
                c.rounds
                    .push(start.elapsed().as_nanos() as f64 / f64::from(iters));
            }
        }
    }

    fn contender<'a>(name: &'static str, run: impl Fn() + 'a) -> Contender<'a> {
        Contender {
            name,
            run: Box::new(run),
            rounds: Vec::new(),
        }
    }

    fn print_case(case: &str, contenders: &[Contender<'_>], target: &str) {
        let base = contenders[0].best();
        let base_median = contenders[0].median();
        for c in contenders {
            println!(
                "| {case:<26} | {:<24} | {:>9.0} | {:>9.0} | {:>6.2}× | {:>6.2}× | {target} |",
                c.name,
                c.best(),
                c.median(),
                c.best() / base,
                c.median() / base_median,
            );
        }
    }

    /// Wall time of `lockscope status DIR` (ms), median of interleaved runs, for each dir.
    fn status_process_ms(dirs: &[&Path], runs: usize) -> Vec<f64> {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); dirs.len()];
        for _ in 0..runs {
            for (i, d) in dirs.iter().enumerate() {
                let start = Instant::now();
                let status = lockscope()
                    .arg("status")
                    .arg(d)
                    .stdout(Stdio::null())
                    .status()
                    .expect("run lockscope status");
                times[i].push(start.elapsed().as_secs_f64() * 1e3);
                assert!(status.success());
            }
        }
        times
            .into_iter()
            .map(|mut t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            })
            .collect()
    }

    pub fn main() {
        // `cargo bench --bench probe -- ofd certbot` runs only those cases (for profiling).
        let only: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        let wanted = |case: &str| only.is_empty() || only.iter().any(|o| o == case);
        let root = tempfile::tempdir_in("/tmp").expect("tempdir");
        let mk = |name: &str| {
            let d = root.path().join(name);
            std::fs::create_dir(&d).expect("mkdir");
            d
        };
        let (free_dir, certbot_dir, ofd_dir, absent_dir) =
            (mk("free"), mk("certbot"), mk("ofd"), mk("absent"));
        std::fs::write(free_dir.join(LOCK), b"").expect("a stale lock file");
        let certbot = certbot_lock_dir(&certbot_dir).expect_locked();
        let ofd_holder = lockscope_hold(&[ofd_dir.to_str().expect("utf-8 tempdir")]);
        assert!(ofd_holder.line.starts_with("held "), "{}", ofd_holder.line);
        let ofd_pid = ofd_holder.child.id();

        let (free, held_cb, held_ofd, absent) = (
            free_dir.join(LOCK),
            certbot_dir.join(LOCK),
            ofd_dir.join(LOCK),
            absent_dir.join(LOCK),
        );
        let (c_free, c_cb, c_absent) = (c_path(&free), c_path(&held_cb), c_path(&absent));

        // What each contender answers, checked once.
        assert_eq!(probe(&free).expect("probe"), LockState::Free);
        assert_eq!(probe(&absent).expect("probe"), LockState::Absent);
        for (path, pid) in [(&held_cb, certbot.pid), (&held_ofd, ofd_pid)] {
            match probe(path).expect("probe") {
                LockState::Held(h) => {
                    assert_eq!(h.pid, Some(pid));
                    assert!(h.command.is_some(), "{h:?}");
                }
                other => panic!("{path:?}: {other:?}"),
            }
        }
        assert_eq!(raw_query(&c_free), 0);
        assert_eq!(raw_query(&c_cb), certbot.pid as i32);

        println!(
            "\n### Probe cost: ns per probe, best / median of {ROUNDS} rounds, contenders interleaved\n"
        );
        println!(
            "| case                       | contender                |  best (ns) | median (ns) | best vs 1st | median vs 1st | target |"
        );
        println!(
            "|----------------------------|--------------------------|-----------:|------------:|------------:|--------------:|--------|"
        );

        if wanted("free") {
            let mut free_case = [
                contender("raw open+getlk+close", || {
                    black_box(raw_query(&c_free));
                }),
                contender("lockscope::probe", || {
                    black_box(probe(&free).ok());
                }),
                contender("raw + checks (5 calls)", || {
                    black_box(raw_checked_query(&c_free));
                }),
            ];
            race(20_000, &mut free_case);
            print_case("free (unlocked file)", &free_case, "lockscope ≤ 1.2× raw");
        }
        if wanted("certbot") {
            let mut certbot_case = [
                contender("raw query + cmdline", || {
                    black_box(raw_query_with_command(&c_cb));
                }),
                contender("lockscope::probe", || {
                    black_box(probe(&held_cb).ok());
                }),
            ];
            race(5_000, &mut certbot_case);
            print_case(
                "held by certbot, pid+cmd",
                &certbot_case,
                "lockscope ≤ 20 µs",
            );
        }
        if wanted("ofd") {
            let mut ofd_case = [contender("lockscope::probe", || {
                black_box(probe(&held_ofd).ok());
            })];
            race(2_000, &mut ofd_case);
            print_case(
                "held by lockscope (OFD)",
                &ofd_case,
                "lockscope ≤ 20 µs (repeat)",
            );
        }
        if wanted("absent") {
            let c_absent_dir = c_path(&absent_dir);
            let batch = std::cell::RefCell::new(ProbeBatch::new());
            let mut absent_case = [
                contender("raw lstat", || {
                    black_box(raw_lstat(&c_absent));
                }),
                contender("lockscope::probe", || {
                    black_box(probe(&absent).ok());
                }),
                // What `lockscope status DIR` needs: is there a lock file, and is DIR a directory?
                contender("raw lstat + stat(dir)", || {
                    black_box(raw_lstat(&c_absent));
                    black_box(raw_stat(&c_absent_dir));
                }),
                contender("ProbeBatch::probe_path", || {
                    black_box(batch.borrow_mut().probe_path(&absent_dir, LOCK).state.ok());
                }),
            ];
            race(20_000, &mut absent_case);
            print_case("absent (no lock file)", &absent_case, "-");
        }
        if wanted("cold") {
            let ms = status_process_ms(&[&free_dir, &ofd_dir, &certbot_dir], 41);
            println!(
                "\nFirst holder lookup, as whole `lockscope status DIR` processes (median of 41, interleaved):\n\
             free {:.3} ms, held by certbot {:.3} ms (+{:.0} µs), held by lockscope/OFD {:.3} ms (+{:.0} µs: the /proc scan); {} processes, {} fds on the system",
                ms[0],
                ms[2],
                (ms[2] - ms[0]) * 1e3,
                ms[1],
                (ms[1] - ms[0]) * 1e3,
                count_processes().0,
                count_processes().1,
            );
        }
        drop(ofd_holder);
        drop(certbot);
    }

    fn count_processes() -> (usize, usize) {
        let pids: Vec<String> = std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.parse::<u32>().is_ok())
            .collect();
        let fds = pids
            .iter()
            .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/fd")).ok())
            .map(|d| d.count())
            .sum();
        (pids.len(), fds)
    }
}
