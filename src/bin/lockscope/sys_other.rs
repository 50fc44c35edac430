//! sys (the binary's): elsewhere a closed reader of standard output is noticed at the next
//! write.

pub fn notice(_closed: impl FnOnce() + Send + 'static) {}

/// Windows: std does not replace a missing standard handle, and lockscope's new work is
/// Linux-first (certbot left Windows in 2.10); a missing handle's writes are lost unnoticed.
pub fn closed_at_start() -> bool {
    false
}

/// No exec here: runs `command` as a child and gives its exit status as this command's.
pub fn run_in_place(command: &mut std::process::Command) -> std::io::Result<u8> {
    let status = command.status()?;
    Ok(status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(2))
}
