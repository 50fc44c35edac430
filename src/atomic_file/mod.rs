//! Replacing a file whole, safely where others can write: the one way lockscope writes a user's
//! file (the saved watch lists, exported lists, `status --format prometheus --output FILE`, the
//! app's frame statistics).
//!
//! # The rule
//!
//! The file written is the one the user named, never one a neighbour chose:
//! - The new content goes to a temporary file created exclusively in the named file's
//!   directory, fsynced, and renamed over the name; then the directory is fsynced. Readers and
//!   crashes see the old content or the new, never a part.
//! - **Symbolic links are followed only when they are yours or root's** (owned by the effective
//!   user, or by root, who could write anywhere anyway). This is the kernel's
//!   `fs.protected_symlinks` rule, made stricter and applied whatever the sysctl says: the
//!   kernel only protects sticky world-writable directories, and a shared group-writable
//!   directory (a textfile-collector dir) needs it as much. So a user's own dotfile symlink for
//!   `lockscope.toml` keeps working, while a link another user planted is never written
//!   through: as the last part of the path it is *replaced* by the new file (its target is not
//!   touched); on the way to the directory it is refused with an error naming it.
//! - **A directory every user can write to without the sticky bit is refused**: anyone could
//!   rename the file away or put their own in its place the moment after it is written.
//!   Group-writable directories are allowed: the group is trusted by whoever made it so.
//! - An existing file's permission bits are kept only if the file is the writer's own; the
//!   owner's mode is no hint to follow when another user made the file.
//! - A directory, FIFO, socket or device at the name is refused before anything is created.
//!   On failure the temporary file is removed.
//!
//! Unix works relative to open directory descriptors (`openat`, `renameat`), so a component
//! swapped for a symlink between the checks and the write is caught (`O_NOFOLLOW`), not
//! followed. Windows replaces the named file and follows no link (creating one needs
//! privileges there).

use std::io;
use std::path::Path;

#[cfg_attr(unix, path = "sys_unix.rs")]
#[cfg_attr(not(unix), path = "sys_other.rs")]
mod sys;

/// Replaces the file at `target` with `bytes` atomically, by the rule in the module docs.
pub fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    sys::write(target, bytes)
}

/// The name of a temporary file for `name`: `.<name>.<pid>.<n>.tmp`, `n` unpredictable enough
/// that a neighbour cannot fill the names in advance (each try is an exclusive create).
fn temp_name(name: &std::ffi::OsStr, attempt: u32) -> std::ffi::OsString {
    use std::hash::{BuildHasher, RandomState};
    let n = RandomState::new().hash_one((std::time::SystemTime::now(), attempt)) & 0xffff_ffff;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.{n:08x}.tmp", std::process::id()));
    tmp
}

/// An error for a refused write, with the reason people read.
fn refused(kind: io::ErrorKind, why: String) -> io::Error {
    io::Error::new(kind, why)
}

#[cfg(all(test, unix))]
mod tests {
    use super::write;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, lchown, symlink};
    use std::path::Path;

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// A link owned by `nobody`, as another user would plant it (root can `lchown`).
    fn planted_link(target: &Path, link: &Path) {
        symlink(target, link).unwrap();
        lchown(link, Some(65534), Some(65534)).unwrap();
    }

    #[test]
    fn own_link_is_followed_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real.toml");
        fs::write(&real, "old").unwrap();
        let link = tmp.path().join("lockscope.toml");
        symlink("real.toml", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn another_users_link_is_replaced_not_written_through() {
        assert!(
            is_root(),
            "needs root to give a link to another user (CI runs as root)"
        );
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim.conf");
        fs::write(&victim, "secret").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
        let link = tmp.path().join("out.prom");
        planted_link(&victim, &link);
        write(&link, b"metrics").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "secret");
        assert_eq!(
            fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let meta = fs::symlink_metadata(&link).unwrap();
        assert!(meta.is_file(), "the link itself is replaced by a file");
        assert_eq!(fs::read_to_string(&link).unwrap(), "metrics");
    }

    #[test]
    fn another_users_link_on_the_way_is_refused() {
        assert!(
            is_root(),
            "needs root to give a link to another user (CI runs as root)"
        );
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        planted_link(&elsewhere, &tmp.path().join("sub"));
        let err = write(&tmp.path().join("sub/out.prom"), b"x").unwrap_err();
        assert!(err.to_string().contains("owned by another user"), "{err}");
        assert!(!elsewhere.join("out.prom").exists());
    }

    #[test]
    fn world_writable_directory_without_sticky_bit_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = write(&open.join("out.prom"), b"x").unwrap_err();
        assert!(err.to_string().contains("no sticky bit"), "{err}");
        assert_eq!(fs::read_dir(&open).unwrap().count(), 0, "nothing created");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
        write(&open.join("out.prom"), b"x").unwrap();
    }

    #[test]
    fn another_users_file_mode_is_not_kept() {
        assert!(
            is_root(),
            "needs root to give a file to another user (CI runs as root)"
        );
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("out.prom");
        fs::write(&file, "old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
        lchown(&file, Some(65534), Some(65534)).unwrap();
        write(&file, b"new").unwrap();
        let meta = fs::metadata(&file).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 0);
        assert_eq!(meta.permissions().mode() & 0o002, 0, "not world-writable");
    }

    #[test]
    fn relative_names_and_link_chains_work() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("d")).unwrap();
        symlink("d", tmp.path().join("to-d")).unwrap();
        symlink("to-d/f", tmp.path().join("f-link")).unwrap();
        write(&tmp.path().join("f-link"), b"1").unwrap();
        assert_eq!(fs::read_to_string(tmp.path().join("d/f")).unwrap(), "1");
        symlink("loop", tmp.path().join("loop")).unwrap();
        let err = write(&tmp.path().join("loop"), b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        assert!(write(&tmp.path().join("d/"), b"x").is_err());
    }
}
