//! sys (Unix): the platform part of the watch-list file I/O. The same API is in `sys_other.rs`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` for reading without blocking: `O_NONBLOCK` has no effect on a regular file's
/// reads, and lets open() of a FIFO return at once instead of waiting for a writer (the caller
/// then refuses anything that is not a regular file).
pub(super) fn open_for_reading(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Makes a rename or unlink in `dir` durable: fsync of the directory.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
