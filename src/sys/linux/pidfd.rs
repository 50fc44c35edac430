//! Linux: signalling one process, not a pid number. A pidfd (`pidfd_open`, Linux 5.3) refers
//! to the process it was opened for: `pidfd_send_signal` reaches that process or, once it has
//! exited, nobody (ESRCH), even after its pid number was given to a new process. The pidfd
//! polls readable when the process has exited. Also: a process's start time, which with its pid
//! names one process (a recycled pid gets a later start time).

use super::proc_parse;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Ending a lock's holder is possible here.
pub(crate) const TERMINATE_SUPPORTED: bool = true;

/// The signals `terminate` knows by name (without the `SIG` prefix), with Linux's numbers.
pub(crate) const SIGNAL_NAMES: &[(&str, i32)] = &[
    ("TERM", libc::SIGTERM),
    ("KILL", libc::SIGKILL),
    ("INT", libc::SIGINT),
    ("HUP", libc::SIGHUP),
    ("QUIT", libc::SIGQUIT),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
];

/// The default signal, and the one nothing can ignore.
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
pub(crate) const SIGKILL: i32 = libc::SIGKILL;

/// Lets a stopped process run again ("Resume").
pub(crate) const SIGCONT: i32 = libc::SIGCONT;

/// Whether the calling thread may signal a process whose effective uid is `uid`: the kernel
/// lets a sender whose real or effective uid is the target's uid, or one with CAP_KILL (root).
/// The target's real and saved uids, which the kernel compares, are taken to be its effective
/// one (they differ only for setuid programs). Per thread, from the thread's own credentials:
/// no file is read.
pub(crate) fn may_signal(uid: u32) -> bool {
    // SAFETY: getuid/geteuid have no preconditions.
    let (real, effective) = unsafe { (libc::getuid(), libc::geteuid()) };
    real == uid || effective == uid || has_cap_kill()
}

/// CAP_KILL in the calling thread's effective set (`capget`, version 3).
fn has_cap_kill() -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_KILL: u32 = 5;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget reads the header and fills two Data structs (version 3), both valid here.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    ret == 0 && data[0].effective & (1 << CAP_KILL) != 0
}

/// "No such process": the pinned process has exited.
pub(crate) const ESRCH: i32 = libc::ESRCH;

/// The largest signal number (SIGRTMAX on Linux).
pub(crate) const MAX_SIGNAL: i32 = 64;

/// An open pidfd.
#[derive(Debug)]
pub(crate) struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    /// Pins the process that has `pid` now (in this process's pid namespace). ESRCH: no such
    /// process.
    pub(crate) fn open(pid: u32) -> io::Result<PidFd> {
        let pid =
            libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        // SAFETY: pidfd_open(pid, flags) takes plain integers and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
        Ok(PidFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Sends `signal` to the pinned process. ESRCH: it has exited.
    pub(crate) fn send_signal(&self, signal: i32) -> io::Result<()> {
        // SAFETY: a live pidfd, a signal number, no siginfo (the kernel fills in SI_USER, as
        // kill(2) does), flags 0.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0 as libc::c_uint,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Waits up to `timeout` (rounded up to whole milliseconds) for the pinned process to exit;
    /// `true` once it has. A zero timeout only looks.
    pub(crate) fn wait_exit(&self, timeout: Duration) -> io::Result<bool> {
        let mut ms = timeout.as_millis();
        if Duration::from_millis(ms as u64) < timeout {
            ms += 1;
        }
        let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: one valid pollfd for the duration of the call.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r >= 0 {
                return Ok(r > 0);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
            // Interrupted: wait again (at most one more timeout; callers poll in short ticks).
        }
    }
}

/// The start time of `pid` (field 22 of `/proc/<pid>/stat`, clock ticks since boot), `None`
/// when there is no such process (or `/proc` hides it).
/// Whether process `pid` exists and has not exited (a zombie has).
pub(crate) fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.rsplit_once(')')?.1;
            after.trim_start().chars().next()
        })
        .is_some_and(|state| state != 'Z' && state != 'X')
}

pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    proc_parse::stat_start_time(&stat)
}
