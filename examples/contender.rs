//! A lockscope lock user for the cross-process race tests: `contender DIR N LOG [THREADS]`.
//!
//! Takes `DIR/.certbot.lock` N times (waiting when busy) in each of THREADS threads (default 1),
//! appending `enter lockscope PID.TID I` and `leave lockscope PID.TID I` to LOG while holding it,
//! so a test can prove that no two critical sections overlap.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 4, "usage: contender DIR N LOG [THREADS]");
    let dir = PathBuf::from(&args[1]);
    let count: usize = args[2].parse()?;
    let log_path = PathBuf::from(&args[3]);
    let threads: usize = args.get(4).map_or(Ok(1), |t| t.parse())?;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (dir, log_path) = (dir.clone(), log_path.clone());
            std::thread::spawn(move || cycle(&dir, count, &log_path, t))
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    Ok(())
}

fn cycle(
    dir: &std::path::Path,
    count: usize,
    log_path: &std::path::Path,
    thread: usize,
) -> anyhow::Result<()> {
    let mut log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(log_path)?;
    let me = format!("{}.{thread}", std::process::id());
    for i in 0..count {
        let mut lock = lockscope::LockFile::new(dir.join(lockscope::LOCK_FILE_NAME));
        lock.acquire_timeout(Duration::from_secs(60))?;
        log.write_all(format!("enter lockscope {me} {i}\n").as_bytes())?;
        std::thread::sleep(Duration::from_micros(200));
        log.write_all(format!("leave lockscope {me} {i}\n").as_bytes())?;
        lock.release()?;
    }
    Ok(())
}
