//! sys (the binary's): noticing that standard output is closed, or its reader went away.

use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// Whether fd 1 was closed when the process started (`lockscope hold DIR >&-`). It cannot be
/// seen later: Rust's runtime opens /dev/null on a closed fd 0-2 before `main`, so writes would
/// silently succeed and a `held` line nobody can read would leave certbot blocked.
pub fn closed_at_start() -> bool {
    CLOSED_AT_START.load(Ordering::Relaxed)
}

/// Runs from the ELF `.init_array` (Mach-O `__mod_init_func`), before Rust's runtime init.
extern "C" fn check_stdout_before_main() {
    // SAFETY: F_GETFD only reads fd 1's descriptor flags; -1 means there is no fd 1.
    let closed = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1;
    CLOSED_AT_START.store(closed, Ordering::Relaxed);
}

#[used]
#[cfg_attr(
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd"
    ),
    unsafe(link_section = ".init_array")
)]
#[cfg_attr(
    target_vendor = "apple",
    unsafe(link_section = "__DATA,__mod_init_func")
)]
static CHECK_STDOUT: extern "C" fn() = check_stdout_before_main;

/// Calls `closed` as soon as standard output is a pipe (or socket, or terminal) whose other end
/// has gone away, without waiting for the next write to fail: a thread blocks in `poll` on
/// fd 1 asking for no events, so only POLLERR (a pipe without readers) or POLLHUP (a hung-up
/// terminal or socket) wake it. Files and /dev/null never do.
pub fn notice(closed: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        loop {
            let mut fd = libc::pollfd {
                fd: libc::STDOUT_FILENO,
                events: 0,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut fd, 1, -1) } < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            if fd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                closed();
            }
            // POLLNVAL (no fd 1): the writes will tell.
            return;
        }
    });
}

/// Runs `command` in this process's place (exec): its pid, signals and exit status become this
/// command's. Returns only if it could not be started.
pub fn run_in_place(command: &mut std::process::Command) -> std::io::Result<u8> {
    use std::os::unix::process::CommandExt;
    Err(command.exec())
}
