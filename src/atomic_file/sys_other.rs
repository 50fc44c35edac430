//! sys (not Unix, i.e. Windows): the rule of [`super`] with paths. The same API is in
//! `sys_unix.rs`. No link is followed: the named file itself is replaced (creating a symbolic
//! link needs a privilege on Windows, and a reparse point at the name is replaced, not its
//! target).

use super::{refused, temp_name};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub(super) fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let existing = fs::symlink_metadata(target).ok();
    match &existing {
        Some(m) if m.is_dir() => {
            return Err(refused(
                io::ErrorKind::IsADirectory,
                "it is a directory".into(),
            ));
        }
        Some(m) if !m.is_file() && !m.file_type().is_symlink() => {
            return Err(refused(
                io::ErrorKind::InvalidInput,
                "it is a special file, not a regular file".into(),
            ));
        }
        _ => {}
    }
    let keep = existing.filter(|m| m.is_file()).map(|m| m.permissions());
    let (tmp_path, mut tmp) = create_temp(target)?;
    let result = (|| {
        tmp.write_all(bytes)?;
        if let Some(permissions) = keep {
            tmp.set_permissions(permissions)?;
        }
        tmp.sync_all()?;
        drop(tmp);
        // NTFS journals the rename; there is no directory to fsync.
        fs::rename(&tmp_path, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    result
}

fn create_temp(target: &Path) -> io::Result<(PathBuf, File)> {
    let name = target
        .file_name()
        .ok_or_else(|| refused(io::ErrorKind::InvalidInput, "not a file name".into()))?;
    let dir = crate::path_error::parent_dir(target);
    for attempt in 0..100 {
        let tmp_path = dir.join(temp_name(name, attempt));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
        {
            Ok(file) => return Ok((tmp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(refused(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name".into(),
    ))
}
