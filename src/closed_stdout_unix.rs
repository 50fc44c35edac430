//! sys (the binary's): noticing that standard output's reader went away.

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
