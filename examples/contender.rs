//! A lockscope lock user for the cross-process race tests:
//! `contender DIR N LOG [THREADS] [RETRY_US]`.
//!
//! Takes `DIR/.certbot.lock` N times in each of THREADS threads (default 1), appending
//! `enter lockscope PID.TID I` and `leave lockscope PID.TID I` to LOG while holding it, so a test
//! can prove that no two critical sections overlap. It prints `ready` once its log is open, and
//! pauses 0.3 ms after each release (as the certbot peer does) so the lock changes hands. A busy lock is waited for with the library's
//! backoff (`acquire_timeout`), or, given RETRY_US, retried every RETRY_US microseconds the way
//! the certbot peer retries (so neither side starves the other in a mixed race).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() >= 4,
        "usage: contender DIR N LOG [THREADS] [RETRY_US]"
    );
    let dir = PathBuf::from(&args[1]);
    let count: usize = args[2].parse()?;
    let log_path = PathBuf::from(&args[3]);
    let threads: usize = args.get(4).map_or(Ok(1), |t| t.parse())?;
    let retry = match args.get(5) {
        Some(us) => Some(Duration::from_micros(us.parse()?)),
        None => None,
    };
    let logs = (0..threads)
        .map(|_| OpenOptions::new().append(true).create(true).open(&log_path))
        .collect::<Result<Vec<_>, _>>()?;
    println!("ready");
    let workers: Vec<_> = logs
        .into_iter()
        .enumerate()
        .map(|(t, log)| {
            let dir = dir.clone();
            std::thread::spawn(move || cycle(&dir, count, log, t, retry))
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    Ok(())
}

fn cycle(
    dir: &Path,
    count: usize,
    mut log: File,
    thread: usize,
    retry: Option<Duration>,
) -> anyhow::Result<()> {
    let me = format!("{}.{thread}", std::process::id());
    for i in 0..count {
        let mut lock = lockscope::LockFile::new(dir.join(lockscope::LOCK_FILE_NAME));
        match retry {
            Some(every) => acquire_polling(&mut lock, every)?,
            None => lock.acquire_timeout(GIVE_UP_AFTER)?,
        }
        log.write_all(format!("enter lockscope {me} {i}\n").as_bytes())?;
        std::thread::sleep(Duration::from_micros(200));
        log.write_all(format!("leave lockscope {me} {i}\n").as_bytes())?;
        lock.release()?;
        std::thread::sleep(Duration::from_micros(300));
    }
    Ok(())
}

fn acquire_polling(lock: &mut lockscope::LockFile, every: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        match lock.acquire() {
            Err(e) if e.is_busy() && started.elapsed() < GIVE_UP_AFTER => std::thread::sleep(every),
            done => return Ok(done?),
        }
    }
}
