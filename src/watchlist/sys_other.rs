//! sys (not Unix, i.e. Windows): the platform part of the watch-list file I/O. The same API is
//! in `sys_unix.rs`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Opens `path` for reading, with no special flag (the open that blocks on a FIFO is Unix's;
/// the caller refuses anything that is not a regular file).
pub(super) fn open_for_reading(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// Nothing to do: Windows cannot open a directory as a file, and NTFS journals the rename.
pub(super) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
