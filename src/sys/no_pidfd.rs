//! Platforms without pidfds (everything but Linux): ending a lock's holder is not supported
//! (a plain kill(2) by pid could reach a process that got a recycled pid).

use std::io;
use std::time::Duration;

pub(crate) const TERMINATE_SUPPORTED: bool = false;
pub(crate) const SIGNAL_NAMES: &[(&str, i32)] = &[];
pub(crate) const SIGTERM: i32 = 15;
pub(crate) const SIGKILL: i32 = 9;
pub(crate) const MAX_SIGNAL: i32 = 0;
pub(crate) const ESRCH: i32 = 3;
pub(crate) const SIGCONT: i32 = 18;

/// Nothing is signalled here ([`TERMINATE_SUPPORTED`] is false), so nothing is refused early.
pub(crate) fn may_signal(_uid: u32) -> bool {
    true
}

/// Never made: [`PidFd::open`] always fails.
#[derive(Debug)]
pub(crate) struct PidFd(std::convert::Infallible);

impl PidFd {
    pub(crate) fn open(_pid: u32) -> io::Result<PidFd> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub(crate) fn send_signal(&self, _signal: i32) -> io::Result<()> {
        match self.0 {}
    }

    pub(crate) fn wait_exit(&self, _timeout: Duration) -> io::Result<bool> {
        match self.0 {}
    }
}

/// Not known here: taken as alive (a hold that ends is then "released", not "holder exited").
pub(crate) fn process_alive(_pid: u32) -> bool {
    true
}

pub(crate) fn start_time(_pid: u32) -> Option<u64> {
    None
}
