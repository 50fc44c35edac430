//! Replacing a file whole: what the watch lists' saves do, for any file a user names
//! (`status --format prometheus --output FILE`).

use std::io;
use std::path::Path;

/// Replaces `target` with `bytes` so that readers and crashes see the old content or the new,
/// never a part: a temporary `.<name>.<pid>.<n>.tmp` beside it (created exclusively), fsync,
/// rename over `target`, fsync of the directory. A symlink's target is replaced, not the link;
/// an existing file's permissions are kept; a directory or special file at `target` is
/// refused before anything is created. On failure the temporary file is removed.
pub fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    crate::watchlist::write_file_atomically(target, bytes)
}
