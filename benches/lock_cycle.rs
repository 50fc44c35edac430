//! Lock cycle (acquire + release of `<dir>/.certbot.lock`), side by side in one run:
//! lockscope's `lock_dir` + `release`, certbot 5.8.0's own `lock_dir` + `release` (Python), and a
//! raw syscall loop doing what both do (open, lock, stat, fstat, unlink, close): the floor.
//! On the root filesystem and on tmpfs.
//!
//!     cargo bench --bench lock_cycle      (needs real certbot: see scripts/test)

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the lock-cycle benchmark compares against Linux fcntl calls; Linux only");
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
    use crate::common::certbot_python;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::process::Command;
    use std::time::Instant;

    const CYCLES: u32 = 20_000;
    const ROUNDS: usize = 7;

    /// What `lock_dir` + `release` come down to on Linux, with no checks beyond the protocol's.
    fn raw_cycle(lock: &CString) {
        // SAFETY: plain libc calls on a valid NUL-terminated path and a zeroed flock struct.
        unsafe {
            let fd = libc::open(
                lock.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o600,
            );
            assert!(fd >= 0);
            let mut fl: libc::flock = std::mem::zeroed();
            fl.l_type = libc::F_WRLCK as _;
            fl.l_whence = libc::SEEK_SET as _;
            assert_eq!(libc::fcntl(fd, libc::F_OFD_SETLK, &fl), 0);
            let mut a: libc::stat = std::mem::zeroed();
            let mut b: libc::stat = std::mem::zeroed();
            assert_eq!(libc::stat(lock.as_ptr(), &mut a), 0);
            assert_eq!(libc::fstat(fd, &mut b), 0);
            assert!(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
            libc::unlink(lock.as_ptr());
            libc::close(fd);
        }
    }

    /// ns per cycle of one round of `CYCLES`.
    fn round_ns(run: &impl Fn()) -> f64 {
        let start = Instant::now();
        for _ in 0..CYCLES {
            run();
        }
        start.elapsed().as_nanos() as f64 / f64::from(CYCLES)
    }

    /// Best round of each, the rounds of the two alternating so that both see the same noise.
    fn best_of_interleaved(a: impl Fn(), b: impl Fn()) -> (f64, f64) {
        let (mut best_a, mut best_b) = (f64::MAX, f64::MAX);
        for _ in 0..ROUNDS {
            best_a = best_a.min(round_ns(&a));
            best_b = best_b.min(round_ns(&b));
        }
        (best_a, best_b)
    }

    fn certbot_ns(dir: &Path) -> f64 {
        let script = "import sys, time\n\
            from certbot._internal import lock\n\
            d, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n\
            best = None\n\
            for _ in range(rounds):\n\
            \x20   t = time.perf_counter()\n\
            \x20   for _ in range(n):\n\
            \x20       lock.lock_dir(d).release()\n\
            \x20   ns = (time.perf_counter() - t) / n * 1e9\n\
            \x20   best = ns if best is None else min(best, ns)\n\
            print(best)\n";
        let out = Command::new(certbot_python())
            .args(["-c", script])
            .arg(dir)
            .arg(CYCLES.to_string())
            .arg(ROUNDS.to_string())
            .output()
            .expect("run certbot");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("certbot timing")
    }

    fn measure(label: &str, base: &Path) {
        let dir = tempfile::tempdir_in(base).expect("tempdir");
        let lock = dir.path().join(".certbot.lock");
        let c_lock = CString::new(lock.as_os_str().as_bytes()).expect("path");
        let (raw, ours) = best_of_interleaved(
            || raw_cycle(&c_lock),
            || {
                let mut l = lockscope::lock_dir(dir.path()).expect("lock");
                l.release().expect("release");
            },
        );
        let certbot = certbot_ns(dir.path());
        println!(
            "| {label:<22} | {raw:>9.0} | {ours:>9.0} | {certbot:>9.0} | {:>10.2}× | {:>12.2}× |",
            ours / raw,
            certbot / ours
        );
    }

    pub fn main() {
        println!(
            "\n### Lock cycle: lock_dir + release, best of {ROUNDS} rounds of {CYCLES}, raw and lockscope rounds alternating (ns per cycle)\n"
        );
        println!(
            "| filesystem             |   raw (ns) | lockscope | certbot   | lockscope/raw | certbot/lockscope |"
        );
        println!(
            "|------------------------|-----------:|----------:|----------:|--------------:|------------------:|"
        );
        measure("root (ext4, /tmp)", Path::new("/tmp"));
        measure("tmpfs (/dev/shm)", Path::new("/dev/shm"));
    }
}
