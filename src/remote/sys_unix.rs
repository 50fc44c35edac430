//! sys (Unix): ssh runs in its own process group, so that a Ctrl-C or a `timeout` meant for
//! lockscope reaches lockscope alone, which then ends the session in order (a remote hold is
//! released, not cut off with ssh's exit code 255).

use std::os::unix::process::CommandExt;
use std::process::Command;

pub(super) fn own_process_group(cmd: &mut Command) {
    cmd.process_group(0);
}
