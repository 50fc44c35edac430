//! The kernel's own lock events (tracefs `filelock`): every lock taken, refused and dropped on
//! the filesystems asked about, as they happen. A private tracing instance
//! (`instances/lockscope-PID`), never the global buffer; removed when dropped. tracefs is
//! mounted if it is not (and unmounted again). Needs root.

use crate::sys::{TraceEvent, TraceLockKind};
use std::fs;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A running private trace of the `filelock` events on some devices.
pub(crate) struct LockTrace {
    instance: PathBuf,
    /// `trace_pipe` (closed first when dropped: an instance with an open pipe cannot go).
    pipe: Option<fs::File>,
    pending: Vec<u8>,
    /// Events the kernel dropped since the start because this reader fell behind.
    lost: u64,
}

const TRACEFS: &str = "/sys/kernel/tracing";
/// Says that a recorder mounted tracefs: the last recorder to stop unmounts it (whichever that
/// is, killed ones included) and removes this. In /run: root's, emptied at boot.
const MOUNTED_MARK: &str = "/run/lockscope-mounted-tracefs";
/// Locked while a recorder mounts and makes its instance, or removes it and decides whether to
/// unmount: a recorder starting while the last one stops must not lose tracefs in between.
const SETUP_LOCK: &str = "/run/lockscope-tracefs.lock";
/// The instance's ring buffer per CPU, in KiB.
const BUFFER_KB: &str = "4096";
/// POSIX and OFD locks: the kinds certbot's lock conflicts with (flock(2) locks do not).
const EVENTS: [&str; 1] = ["posix_lock_inode"];

impl LockTrace {
    /// Starts tracing lock events on the devices `devices` (the lock table's (major, minor)).
    /// Fails with a sentence a person can act on: not root, no tracefs, a locked-down kernel.
    pub(crate) fn start(devices: &[(u32, u32)]) -> io::Result<LockTrace> {
        let _setup = setup_lock();
        let root = Path::new(TRACEFS);
        if !root.join("instances").is_dir() {
            mount_tracefs(root).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot mount tracefs on {TRACEFS} (needs root): {e}"),
                )
            })?;
            mark_mounted();
        }
        remove_stale_instances(root);
        let instance = root
            .join("instances")
            .join(format!("lockscope-{}", std::process::id()));
        fs::create_dir(&instance).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot create the tracing instance {}: {e}",
                    instance.display()
                ),
            )
        })?;
        let mut trace = LockTrace {
            instance: instance.clone(),
            pipe: None,
            pending: Vec::new(),
            lost: 0,
        };
        fs::write(instance.join("trace_clock"), "boot")?;
        // A larger buffer than the instance's default (1.4 MB per CPU on this kernel) rides out
        // longer bursts of other processes' locking before events are dropped (and counted).
        let _ = fs::write(instance.join("buffer_size_kb"), BUFFER_KB);
        // Only the watched filesystems, decided in the kernel: the events of every other file
        // on the machine (each close() of a file with locks makes some) never reach us.
        let filter = devices
            .iter()
            .map(|&(major, minor)| {
                format!("s_dev == {}", (u64::from(major) << 20) | u64::from(minor))
            })
            .collect::<Vec<_>>()
            .join(" || ");
        for event in EVENTS {
            let dir = instance.join("events/filelock").join(event);
            if !filter.is_empty() {
                fs::write(dir.join("filter"), &filter)?;
            }
            fs::write(dir.join("enable"), "1")?;
        }
        trace.pipe = Some(
            fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(instance.join("trace_pipe"))?,
        );
        Ok(trace)
    }

    /// How many events the kernel dropped since the start (its buffer was full).
    pub(crate) fn lost(&self) -> u64 {
        self.lost
    }

    /// The events that arrived, waiting up to `wait` for the first.
    pub(crate) fn next_events(&mut self, wait: Duration) -> io::Result<Vec<TraceEvent>> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(Vec::new());
        };
        let mut fds = libc::pollfd {
            fd: pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut fds, 1, millis) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(Vec::new())
            } else {
                Err(e)
            };
        }
        let mut buf = [0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let lines: Vec<u8> = self.pending.drain(..=end).collect();
        let text = String::from_utf8_lossy(&lines);
        let mut events = Vec::new();
        for line in text.lines() {
            match parse_line(line) {
                Some(event) => events.push(event),
                None => self.lost += lost_in(line),
            }
        }
        Ok(events)
    }
}

/// A CLOCK_BOOTTIME instant (the trace clock) as wall-clock time, by the two clocks' offset now.
pub(crate) fn boot_to_wall(boot_ns: u64) -> std::time::SystemTime {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid timespec to fill.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    };
    let offset = read(libc::CLOCK_REALTIME) - read(libc::CLOCK_BOOTTIME);
    let wall = (offset + i128::from(boot_ns)).max(0);
    std::time::UNIX_EPOCH + Duration::from_nanos(u64::try_from(wall).unwrap_or(u64::MAX))
}

impl Drop for LockTrace {
    fn drop(&mut self) {
        drop(self.pipe.take());
        let _setup = setup_lock();
        for event in EVENTS {
            let _ = fs::write(
                self.instance
                    .join("events/filelock")
                    .join(event)
                    .join("enable"),
                "0",
            );
        }
        let _ = fs::remove_dir(&self.instance);
        // The last recorder out unmounts what a recorder mounted (not while another traces:
        // its instance would go with the mount).
        let root = Path::new(TRACEFS);
        remove_stale_instances(root);
        if Path::new(MOUNTED_MARK).exists() && lockscope_instances(root).is_empty() {
            umount(root);
            let _ = fs::remove_file(MOUNTED_MARK);
        }
    }
}

fn mount_tracefs(root: &Path) -> io::Result<()> {
    let target = std::ffi::CString::new(root.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: valid NUL-terminated strings; no data argument.
    let ret = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn umount(root: &Path) {
    if let Ok(target) = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()) {
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

/// The recorders' instances: (path, pid).
fn lockscope_instances(root: &Path) -> Vec<(PathBuf, u32)> {
    let Ok(entries) = fs::read_dir(root.join("instances")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let pid = name.to_str()?.strip_prefix("lockscope-")?.parse().ok()?;
            Some((entry.path(), pid))
        })
        .collect()
}

/// Removes the instances of recorders that are gone (killed), so their buffers do not keep
/// filling.
fn remove_stale_instances(root: &Path) {
    for (path, pid) in lockscope_instances(root) {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(&path);
        }
    }
}

/// The setup lock, held until dropped (`None`: it could not be taken; going on unlocked).
fn setup_lock() -> Option<fs::File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(SETUP_LOCK)
        .ok()?;
    file.lock().ok()?;
    Some(file)
}

/// Leaves word that a recorder mounted tracefs (never through a symlink: /run is root's).
fn mark_mounted() {
    let _ = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(MOUNTED_MARK);
}

/// One `trace_pipe` line of a `posix_lock_inode` or `flock_lock_inode` event:
/// `python-11890 [001] ..... 1234.567890: posix_lock_inode: fl=... dev=0xfe:0x0 ino=0xaae254
/// fl_blocker=... fl_owner=0x... fl_pid=11890 fl_flags=FL_POSIX fl_type=F_WRLCK ... ret=0`.
/// Anything else (a lost-events notice, another event) is `None`.
/// The events a `CPU:1 [LOST 1234 EVENTS]` line says the kernel dropped (its buffer was full:
/// the reader fell behind); 0 for any other line.
fn lost_in(line: &str) -> u64 {
    line.split_once("[LOST ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn parse_line(line: &str) -> Option<TraceEvent> {
    let (head, fields, flock) = if let Some((h, f)) = line.split_once(": posix_lock_inode: ") {
        (h, f, false)
    } else {
        let (h, f) = line.split_once(": flock_lock_inode: ")?;
        (h, f, true)
    };
    let seconds = head.rsplit(' ').next()?;
    let (secs, micros) = seconds.split_once('.')?;
    let boot_ns = secs.parse::<u64>().ok()? * 1_000_000_000
        + micros.parse::<u64>().ok()? * 10u64.pow(9u32.checked_sub(micros.len() as u32)?);
    let field = |name: &str| {
        fields
            .split(' ')
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let hex = |text: &str| u64::from_str_radix(text.trim_start_matches("0x"), 16).ok();
    let (major, minor) = field("dev")?.split_once(':')?;
    let flags = field("fl_flags")?;
    let kind = if flock {
        TraceLockKind::Flock
    } else if flags.contains("FL_OFDLCK") {
        TraceLockKind::Ofd
    } else {
        TraceLockKind::Posix
    };
    Some(TraceEvent {
        boot_ns,
        key: (
            u32::try_from(hex(major)?).ok()?,
            u32::try_from(hex(minor)?).ok()?,
            hex(field("ino")?)?,
        ),
        owner: hex(field("fl_owner")?).unwrap_or(0),
        pid: field("fl_pid")?.parse().ok()?,
        kind,
        unlock: field("fl_type")? == "F_UNLCK",
        on_close: flags.contains("FL_CLOSE"),
        ret: field("ret")?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_lost_event_lines_are_counted() {
        assert_eq!(lost_in("CPU:1 [LOST 1234 EVENTS]"), 1234);
        assert_eq!(lost_in("CPU:0 [LOST 7 EVENTS]\r"), 7);
        assert_eq!(lost_in("              <...>-1  [000] ....."), 0);
    }

    #[test]
    fn lock_refusal_and_close_lines_are_read() {
        let take = "python-11890 [001] ..... 1234.567890: posix_lock_inode: fl=00000000a1b2c3d4 dev=0xfe:0x0 ino=0xaae254 fl_blocker=0000000000000000 fl_owner=00000000deadbeef fl_pid=11890 fl_flags=FL_POSIX fl_type=F_WRLCK fl_start=0 fl_end=9223372036854775807 ret=0";
        let e = parse_line(take).unwrap();
        assert_eq!(e.boot_ns, 1_234_567_890_000);
        assert_eq!(e.key, (0xfe, 0, 0xaae254));
        assert_eq!((e.pid, e.owner, e.ret), (11890, 0xdead_beef, 0));
        assert_eq!(e.kind, TraceLockKind::Posix);
        assert!(!e.unlock && !e.on_close);
        let refused = take
            .replace("fl_pid=11890", "fl_pid=11892")
            .replace("ret=0", "ret=-11");
        assert_eq!(parse_line(&refused).unwrap().ret, -11);
        let close = take
            .replace("fl_flags=FL_POSIX", "fl_flags=FL_POSIX|FL_CLOSE")
            .replace("F_WRLCK", "F_UNLCK");
        let e = parse_line(&close).unwrap();
        assert!(e.unlock && e.on_close);
        let ofd = take.replace("FL_POSIX", "FL_OFDLCK");
        assert_eq!(parse_line(&ofd).unwrap().kind, TraceLockKind::Ofd);
        let flock = take.replace("posix_lock_inode", "flock_lock_inode");
        assert_eq!(parse_line(&flock).unwrap().kind, TraceLockKind::Flock);
        assert!(parse_line("CPU:1 [LOST 12 EVENTS]").is_none());
        assert!(parse_line("python-1 [000] ..... 1.0: locks_remove_posix: fl=0").is_none());
    }
}
