//! sys (Unix): the rule of [`super`] on open directory descriptors. The same API is in
//! `sys_other.rs`.

use super::{refused, temp_name};
use std::collections::VecDeque;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// At most this many symbolic links are followed for one write, as the kernel's own limit
/// (`MAXSYMLINKS`, ELOOP beyond it).
const MAX_LINKS: u32 = 40;

pub(super) fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut links = 0;
    let mut path = target.to_path_buf();
    loop {
        let (dir_path, name) = split(&path)?;
        let dir = open_dir(dir_path, &mut links)?;
        let dir_stat = fstat(dir.as_raw_fd())?;
        if dir_stat.st_mode & 0o002 != 0 && dir_stat.st_mode & libc::S_ISVTX == 0 {
            return Err(refused(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} can be written by every user and has no sticky bit, so anyone could \
                     replace or redirect the file there; write to a directory only trusted \
                     users can write to (or set its sticky bit: chmod +t)",
                    dir_path.display()
                ),
            ));
        }
        let c_name = c_string(name)?;
        let existing = match lstat_at(dir.as_raw_fd(), &c_name)? {
            None => None,
            Some(st) => match st.st_mode & libc::S_IFMT {
                libc::S_IFREG => Some(st),
                libc::S_IFDIR => {
                    return Err(refused(
                        io::ErrorKind::IsADirectory,
                        "it is a directory".into(),
                    ));
                }
                libc::S_IFLNK => match trusted_link(dir.as_raw_fd(), &c_name)? {
                    Some(dest) => {
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(io::Error::from_raw_os_error(libc::ELOOP));
                        }
                        path = dir_path.join(dest);
                        continue;
                    }
                    // Another user's link: replaced by the new file, its target untouched.
                    None => None,
                },
                _ => {
                    return Err(refused(
                        io::ErrorKind::InvalidInput,
                        "it is a special file (FIFO, socket or device), not a regular file".into(),
                    ));
                }
            },
        };
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let keep_mode = existing
            .filter(|st| st.st_uid == euid)
            .map(|st| st.st_mode & 0o7777);
        return replace(&dir, name, &c_name, bytes, keep_mode);
    }
}

/// The directory part (`.` for a bare name) and the file name; `..`, `/` and a trailing `/`
/// name no file.
fn split(path: &Path) -> io::Result<(&Path, &OsStr)> {
    match path.components().next_back() {
        Some(Component::Normal(name)) if !path.as_os_str().as_bytes().ends_with(b"/") => {
            Ok((crate::path_error::parent_dir(path), name))
        }
        _ => Err(refused(
            io::ErrorKind::InvalidInput,
            "not a file name".into(),
        )),
    }
}

/// Opens the directory `path` names, following only trusted links on the way (see the module
/// docs of [`super`]): one component at a time, each opened with `O_NOFOLLOW`, so a component
/// that becomes a link after it was checked fails instead of being followed.
fn open_dir(path: &Path, links: &mut u32) -> io::Result<OwnedFd> {
    let mut todo: VecDeque<OsString> = VecDeque::new();
    let start = if path.is_absolute() { "/" } else { "." };
    let mut dir = open_at(libc::AT_FDCWD, &c_string(OsStr::new(start))?, DIR_FLAGS)?;
    let mut walked = PathBuf::from(start);
    push_front(&mut todo, path);
    while let Some(part) = todo.pop_front() {
        if part == "/" {
            dir = open_at(libc::AT_FDCWD, c"/", DIR_FLAGS)?;
            walked = PathBuf::from("/");
            continue;
        }
        walked.push(&part);
        let c_part = c_string(&part)?;
        let is_link = lstat_at(dir.as_raw_fd(), &c_part)?
            .is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK);
        if is_link {
            let Some(dest) = trusted_link(dir.as_raw_fd(), &c_part)? else {
                return Err(refused(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} is a symbolic link owned by another user; lockscope follows only \
                         links that are yours or root's",
                        walked.display()
                    ),
                ));
            };
            *links += 1;
            if *links > MAX_LINKS {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            // The link's target is walked from the link's directory (or from `/`).
            walked.pop();
            push_front(&mut todo, &dest);
            continue;
        }
        dir = open_at(dir.as_raw_fd(), &c_part, DIR_FLAGS)?;
    }
    // The walk's descriptors may be O_PATH (no read permission needed to pass through); the
    // directory written in is reopened for real, to fsync it.
    open_at(
        dir.as_raw_fd(),
        c".",
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
    )
}

/// Queues `path`'s components (`/` first when absolute, `.` dropped) before the rest.
fn push_front(todo: &mut VecDeque<OsString>, path: &Path) {
    for part in path.components().rev() {
        match part {
            Component::RootDir => todo.push_front("/".into()),
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => todo.push_front("..".into()),
            Component::Normal(name) => todo.push_front(name.to_owned()),
        }
    }
}

/// How the walk opens each directory: `O_PATH` on Linux, so a directory the user may pass
/// through but not list (mode 0711) is no obstacle, as it is none to the kernel's own walk.
#[cfg(any(target_os = "linux", target_os = "android"))]
const DIR_FLAGS: libc::c_int =
    libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const DIR_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// The target of the link `name` in `dir` if the link is trusted (owned by the effective user
/// or root), else `None`. Owner and target are read from the same link: on Linux through an
/// `O_PATH` descriptor of the link itself; elsewhere the link's inode and owner are checked
/// again after reading it.
fn trusted_link(dir: RawFd, name: &CString) -> io::Result<Option<PathBuf>> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let trusted = |uid: libc::uid_t| uid == euid || uid == 0;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let link = open_at(dir, name, libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)?;
        let st = fstat(link.as_raw_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            // Replaced by something else meanwhile: the caller's next look decides.
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the file changed while it was written; try again",
            ));
        }
        if !trusted(st.st_uid) {
            return Ok(None);
        }
        read_link_at(link.as_raw_fd(), c"").map(Some)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let before =
            lstat_at(dir, name)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        if !trusted(before.st_uid) {
            return Ok(None);
        }
        let dest = read_link_at(dir, name)?;
        let after = lstat_at(dir, name)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        if (after.st_dev, after.st_ino, after.st_uid)
            != (before.st_dev, before.st_ino, before.st_uid)
        {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the file changed while it was written; try again",
            ));
        }
        Ok(Some(dest))
    }
}

/// Writes `bytes` to a new temporary file in `dir`, fsyncs it and renames it over `name`.
fn replace(
    dir: &OwnedFd,
    name: &OsStr,
    c_name: &CString,
    bytes: &[u8],
    keep_mode: Option<libc::mode_t>,
) -> io::Result<()> {
    let (tmp_name, mut tmp) = create_temp(dir.as_raw_fd(), name)?;
    let result = (|| {
        tmp.write_all(bytes)?;
        if let Some(mode) = keep_mode {
            #[allow(clippy::useless_conversion, reason = "mode_t is u16 on macOS")]
            tmp.set_permissions(std::fs::Permissions::from_mode(mode.into()))?;
        }
        tmp.sync_all()?;
        drop(tmp);
        // SAFETY: valid descriptors and NUL-terminated names for the call's duration.
        let renamed = unsafe {
            libc::renameat(
                dir.as_raw_fd(),
                tmp_name.as_ptr(),
                dir.as_raw_fd(),
                c_name.as_ptr(),
            )
        };
        if renamed != 0 {
            return Err(io::Error::last_os_error());
        }
        File::from(dir.try_clone()?).sync_all()
    })();
    if result.is_err() {
        // SAFETY: as above.
        unsafe { libc::unlinkat(dir.as_raw_fd(), tmp_name.as_ptr(), 0) };
    }
    result
}

/// A new file `.<name>.<pid>.<random>.tmp` in `dir`, created exclusively (`O_EXCL` never
/// follows a link someone put there).
fn create_temp(dir: RawFd, name: &OsStr) -> io::Result<(CString, File)> {
    for attempt in 0..100 {
        let tmp_name = c_string(&temp_name(name, attempt))?;
        let flags =
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: a valid descriptor and NUL-terminated name; the mode is an int vararg.
        let fd = unsafe { libc::openat(dir, tmp_name.as_ptr(), flags, 0o666 as libc::c_uint) };
        if fd >= 0 {
            // SAFETY: a new descriptor this function owns.
            return Ok((tmp_name, File::from(unsafe { OwnedFd::from_raw_fd(fd) })));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(e);
        }
    }
    Err(refused(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name".into(),
    ))
}

fn c_string(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        refused(
            io::ErrorKind::InvalidInput,
            "the path has a NUL byte".into(),
        )
    })
}

fn open_at(dir: RawFd, name: &std::ffi::CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a valid (or AT_FDCWD) descriptor and a NUL-terminated name.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor this function owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid value to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a stat to fill.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)`; `None` when there is no such entry.
fn lstat_at(dir: RawFd, name: &CString) -> io::Result<Option<libc::stat>> {
    // SAFETY: as in `fstat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor, a NUL-terminated name and a stat to fill.
    if unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } != 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::NotFound {
            Ok(None)
        } else {
            Err(e)
        };
    }
    Ok(Some(st))
}

fn read_link_at(dir: RawFd, name: &std::ffi::CStr) -> io::Result<PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: a valid descriptor, a NUL-terminated name and a buffer of the length given.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(OsString::from_vec(buf)))
}
