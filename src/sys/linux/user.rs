//! Linux: the user a process runs as (its real uid from `/proc/<pid>/status`, named through
//! `getpwuid_r`), for `terminate`'s confirmation question. Small on purpose: a richer process
//! description can replace it.

/// The real uid of `pid` (the first field of `Uid:` in `/proc/<pid>/status`).
pub(crate) fn process_uid(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_real_uid(&status)
}

/// The first field of the `Uid:` line of a `/proc/<pid>/status` text.
fn status_real_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The name of user `uid` in the password database (files, LDAP, ... as NSS is set up), or
/// `None` when it has none.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    // Grown on ERANGE up to 1 MiB (a huge LDAP entry); 1 KiB suffices for the usual passwd line.
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: plain C struct, filled by getpwuid_r.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: valid out-pointers, and a buffer of buf.len() bytes that outlives the call and
        // every use of the strings `pwd` points into.
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: getpwuid_r succeeded: pw_name is a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_uid() {
        let status = "Name:\tcat\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n";
        assert_eq!(status_real_uid(status), Some(1000));
        assert_eq!(status_real_uid("Name:\tx\n"), None);
        assert_eq!(status_real_uid("Uid:\tnope\n"), None);
    }

    #[test]
    fn names_this_process_user() {
        let uid = process_uid(std::process::id()).unwrap();
        // SAFETY: getuid has no preconditions.
        assert_eq!(uid, unsafe { libc::getuid() });
        if uid == 0 {
            assert_eq!(user_name(0).as_deref(), Some("root"));
        }
        assert_eq!(user_name(4_000_000_000), None);
    }
}
