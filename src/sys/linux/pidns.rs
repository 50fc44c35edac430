//! Which pid namespace `/proc` speaks for, relative to this process.
//!
//! Measured (Linux 6.18, real certbot): `/proc/locks` prints pids as the pid
//! namespace of the `/proc` mount sees them and leaves out locks whose owner that namespace
//! cannot see; `F_OFD_GETLK` reports the owner as THIS process's namespace sees it (0 when it
//! cannot). Inside `unshare --pid --fork` without `--mount-proc` the two differ: a lock query's
//! pid 2 looked up in the host's `/proc` named kthreadd. So a pid is only looked up in `/proc`
//! when both speak of the same namespace, and the table's silence is only believed when its
//! namespace is the initial one (which sees every process).

use super::super::proc_parse::stat_flags;
use std::sync::OnceLock;

/// A kernel thread (`PF_KTHREAD` in `/proc/<pid>/stat` flags).
const PF_KTHREAD: u64 = 0x0020_0000;

use super::super::ProcView;

/// Determined once per process (a process does not change its pid namespace).
pub(crate) fn proc_view() -> ProcView {
    static VIEW: OnceLock<ProcView> = OnceLock::new();
    *VIEW.get_or_init(|| ProcView {
        same_namespace: proc_self_pid() == Some(std::process::id()),
        initial_namespace: shows_kernel_threads(),
    })
}

/// This process's pid as `/proc` names it (`/proc/self` links to it).
fn proc_self_pid() -> Option<u32> {
    std::fs::read_link("/proc/self")
        .ok()?
        .to_str()?
        .parse()
        .ok()
}

/// Kernel threads exist only in the initial pid namespace, and kthreadd is always pid 2 there.
fn shows_kernel_threads() -> bool {
    std::fs::read_to_string("/proc/2/stat")
        .ok()
        .and_then(|stat| stat_flags(&stat))
        .is_some_and(|flags| flags & PF_KTHREAD != 0)
}
