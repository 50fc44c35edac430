//! Parsers for Linux's lock tables: rows of `/proc/locks` and `lock:` lines of
//! `/proc/<pid>/fdinfo/<fd>`. Pure functions, so they are tested (and fuzzed) anywhere.

/// One lock as the kernel lists it, e.g. `1: OFDLCK ADVISORY WRITE -1 08:01:1234 0 EOF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcLock {
    /// `POSIX`, `OFDLCK`, `FLOCK`, `LEASE`, ...
    pub kind: String,
    pub write: bool,
    /// The owner pid; `None` for OFD locks (the kernel prints -1).
    pub pid: Option<u32>,
    pub major: u32,
    pub minor: u32,
    pub inode: u64,
}

impl ProcLock {
    /// Parses one row. Waiters (`-> ` rows) and anything malformed give `None`.
    pub fn parse(line: &str) -> Option<ProcLock> {
        let line = line.trim().strip_prefix("lock:").unwrap_or(line).trim();
        let mut fields = line.split_whitespace();
        let number = fields.next()?;
        if !number.ends_with(':') {
            return None;
        }
        let kind = fields.next()?;
        if kind == "->" {
            return None;
        }
        let _advisory = fields.next()?;
        let access = fields.next()?;
        let pid: i64 = fields.next()?.parse().ok()?;
        let mut id = fields.next()?.split(':');
        let major = u32::from_str_radix(id.next()?, 16).ok()?;
        let minor = u32::from_str_radix(id.next()?, 16).ok()?;
        let inode = id.next()?.parse().ok()?;
        if id.next().is_some() {
            return None;
        }
        Some(ProcLock {
            kind: kind.to_string(),
            write: access == "WRITE",
            pid: u32::try_from(pid).ok().filter(|&p| p > 0),
            major,
            minor,
            inode,
        })
    }

    /// Whether this is a write lock of the kind certbot's fcntl lock conflicts with (classic
    /// POSIX or OFD, not flock) on the file `dev`/`inode`.
    pub fn blocks_certbot_on(&self, dev: u64, inode: u64) -> bool {
        let (major, minor) = dev_major_minor(dev);
        self.inode == inode
            && self.major == major
            && self.minor == minor
            && matches!(self.kind.as_str(), "POSIX" | "OFDLCK")
    }
}

/// glibc's `major()`/`minor()` of an `st_dev`, the numbers the kernel prints in its lock tables.
pub fn dev_major_minor(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_classic_ofd_and_flock_rows() {
        let posix = ProcLock::parse("1: POSIX  ADVISORY  WRITE 4563 fd:01:1234567 0 EOF").unwrap();
        assert_eq!(
            posix,
            ProcLock {
                kind: "POSIX".into(),
                write: true,
                pid: Some(4563),
                major: 0xfd,
                minor: 1,
                inode: 1234567
            }
        );
        let ofd = ProcLock::parse("lock:\t2: OFDLCK ADVISORY  WRITE -1 00:2a:99 0 EOF").unwrap();
        assert_eq!(
            (ofd.kind.as_str(), ofd.pid, ofd.minor),
            ("OFDLCK", None, 0x2a)
        );
        let flock = ProcLock::parse("3: FLOCK  ADVISORY  READ  77 08:01:5 0 EOF").unwrap();
        assert!(!flock.write);
    }

    #[test]
    fn rejects_waiters_and_garbage() {
        assert_eq!(
            ProcLock::parse("1: -> POSIX ADVISORY WRITE 5 08:01:5 0 EOF"),
            None
        );
        for bad in [
            "",
            "lock:",
            "1: POSIX",
            "x POSIX ADVISORY WRITE 1 08:01:5 0 EOF",
            "1: POSIX ADVISORY WRITE 1 zz:01:5 0 EOF",
            "1: POSIX ADVISORY WRITE 1 08:01 0 EOF",
            "1: POSIX ADVISORY WRITE 1 08:01:5:6 0 EOF",
            "1: POSIX ADVISORY WRITE abc 08:01:5 0 EOF",
        ] {
            assert_eq!(ProcLock::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_fcntl_kinds_on_the_same_file_block_certbot() {
        let dev = (0xfd << 8) | 1; // 253:1 in the old encoding glibc also decodes
        let row = |kind: &str, ino| {
            ProcLock::parse(&format!("1: {kind} ADVISORY WRITE 9 fd:01:{ino} 0 EOF")).unwrap()
        };
        assert!(row("POSIX", 10).blocks_certbot_on(dev, 10));
        assert!(row("OFDLCK", 10).blocks_certbot_on(dev, 10));
        assert!(!row("FLOCK", 10).blocks_certbot_on(dev, 10));
        assert!(!row("POSIX", 11).blocks_certbot_on(dev, 10));
        assert!(!row("POSIX", 10).blocks_certbot_on(dev + 1, 10));
    }

    #[test]
    fn decodes_large_device_numbers_like_glibc() {
        // makedev(0x123, 0x45678) with glibc's encoding.
        let (major, minor) = (0x123u64, 0x45678u64);
        let dev = ((major & 0xfff) << 8)
            | ((major & !0xfff) << 32)
            | (minor & 0xff)
            | ((minor & !0xff) << 12);
        assert_eq!(dev_major_minor(dev), (0x123, 0x45678));
    }
}
