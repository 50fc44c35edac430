//! Parsers for what the probe reads from `/proc`: rows of `/proc/locks`, `lock:` lines of
//! `/proc/<pid>/fdinfo/<fd>`, and `/proc/<pid>/cmdline`. Pure functions, so they are tested (and
//! fuzzed) anywhere.

/// One lock as the kernel lists it, e.g. `1: OFDLCK ADVISORY WRITE -1 08:01:1234 0 EOF`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// The locked file as the table names it: (major, minor, inode).
    pub fn key(&self) -> (u32, u32, u64) {
        (self.major, self.minor, self.inode)
    }

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

    /// Whether this is a lock of the kind certbot's fcntl lock conflicts with (classic POSIX or
    /// OFD, not flock) on the file the lock table names `key` (major, minor, inode).
    pub fn blocks_certbot_on(&self, key: (u32, u32, u64)) -> bool {
        (self.major, self.minor, self.inode) == key && self.is_fcntl()
    }

    /// A classic POSIX or OFD lock: the kinds certbot's fcntl lock conflicts with (not flock,
    /// not a lease).
    pub fn is_fcntl(&self) -> bool {
        matches!(self.kind.as_str(), "POSIX" | "OFDLCK")
    }
}

/// A `/proc/<pid>/cmdline` as one line: the arguments are NUL-terminated; empty ones are
/// dropped, the rest joined by spaces (invalid UTF-8 replaced). `None` when there is none (a
/// kernel thread or a zombie: the caller falls back to `comm`).
pub fn join_cmdline(raw: &[u8]) -> Option<String> {
    let mut line = String::new();
    for arg in raw.split(|&b| b == 0).filter(|a| !a.is_empty()) {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&String::from_utf8_lossy(arg));
    }
    (!line.is_empty()).then_some(line)
}

/// What the probe needs of one `/proc/<pid>/mountinfo` line: the mount's id, the device its
/// superblock has (the `MAJ:MIN` the kernel's lock tables print for files on it, which is not
/// always the `st_dev` stat reports: btrfs subvolumes, overlayfs), the filesystem type and
/// the options (whether locks reach an NFS server: `local_lock=`, in the super options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountLine {
    pub mount_id: u64,
    pub major: u32,
    pub minor: u32,
    pub fs_type: String,
    /// The per-mount options (field 6): `rw,nosuid,relatime`.
    pub mount_opts: String,
    /// The filesystem's own options (the last field): `rw,vers=4.2,...,local_lock=none`.
    /// Empty when the line ends early.
    pub super_opts: String,
}

impl MountLine {
    /// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`: the
    /// optional fields end at the ` - ` separator, after which the type, the source and the
    /// super options come. Paths are octal-escaped by the kernel, so no field contains a space.
    pub fn parse(line: &str) -> Option<MountLine> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let mut fields = line.split(' ');
        let mount_id = fields.next()?.parse().ok()?;
        let _parent = fields.next()?;
        let (major, minor) = fields.next()?.split_once(':')?;
        let (major, minor) = (major.parse().ok()?, minor.parse().ok()?);
        let _root = fields.next()?;
        let _mount_point = fields.next()?;
        let mount_opts = fields.next()?;
        if mount_opts == "-" {
            return None;
        }
        let mut fields = fields.skip_while(|f| *f != "-").skip(1);
        let fs_type = fields.next()?;
        if fs_type.is_empty() {
            return None;
        }
        let _source = fields.next();
        let super_opts = fields.next().unwrap_or("");
        Some(MountLine {
            mount_id,
            major,
            minor,
            fs_type: fs_type.to_string(),
            mount_opts: mount_opts.to_string(),
            super_opts: super_opts.to_string(),
        })
    }
}

/// The `flags` field (the 9th) of a `/proc/<pid>/stat` line. The command name, in parentheses,
/// may itself contain spaces and parentheses, so fields are counted after the LAST `)`.
pub fn stat_flags(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // After the name: state, ppid, pgrp, session, tty_nr, tpgid, flags.
    rest.split_whitespace().nth(6)?.parse().ok()
}

/// The parent pid (the 4th field) of a `/proc/<pid>/stat` line.
pub fn stat_ppid(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The state letter (the 3rd field) and the start time in clock ticks after boot (the 22nd)
/// of a `/proc/<pid>/stat` line.
pub fn stat_state_and_start(stat: &str) -> Option<(char, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state: ppid .. starttime is the 19th field on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// From `/proc/<pid>/status`: the effective uid (`Uid:`'s second value) and `NSpid:`, the
/// process's pid in each pid namespace it is in, outermost first.
pub fn status_uid_and_nspids(status: &str) -> (Option<u32>, Vec<u32>) {
    let mut uid = None;
    let mut nspids = Vec::new();
    for line in status.lines() {
        if let Some(values) = line.strip_prefix("Uid:") {
            uid = values
                .split_whitespace()
                .nth(1)
                .and_then(|u| u.parse().ok());
        } else if let Some(values) = line.strip_prefix("NSpid:") {
            nspids = values
                .split_whitespace()
                .map_while(|p| p.parse().ok())
                .take(32)
                .collect();
        }
    }
    (uid, nspids)
}

/// `/proc/<pid>/syscall` of a blocked process: the system call's number and its six
/// arguments. `running` (or `-1 ...`: not in a system call) gives `None`.
pub fn blocked_syscall(line: &str) -> Option<(u64, [u64; 6])> {
    let mut fields = line.split_whitespace();
    let number = fields.next()?.parse().ok()?;
    let mut args = [0; 6];
    for arg in &mut args {
        *arg = u64::from_str_radix(fields.next()?.strip_prefix("0x")?, 16).ok()?;
    }
    Some((number, args))
}

/// The start time (the 22nd field, in clock ticks since boot) of a `/proc/<pid>/stat` line:
/// with the pid, it names one process (a recycled pid has a later start time).
pub fn stat_start_time(stat: &str) -> Option<u64> {
    stat_state_and_start(stat).map(|(_, start)| start)
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
    fn reads_state_start_uid_and_nspids() {
        // A name with spaces and parentheses (chosen by the process) must not shift fields.
        let stat = "18245 (cert bot) (x) S 18204 18245 18245 34816 18245 4194560 2871 0 0 0 \
                    55 8 0 0 20 0 1 0 8812 44244992 9823 18446744073709551615";
        assert_eq!(stat_state_and_start(stat), Some(('S', 8812)));
        assert_eq!(stat_state_and_start("1 (x) S 0"), None);
        let status = "Name:\tcertbot\nUid:\t1000\t0\t0\t0\nNSpid:\t18245\t7\n";
        assert_eq!(status_uid_and_nspids(status), (Some(0), vec![18245, 7]));
        assert_eq!(status_uid_and_nspids(""), (None, vec![]));
    }

    #[test]
    fn reads_a_blocked_system_call() {
        let line = "270 0x1 0x7ffc18fe4570 0x0 0x0 0x7ffc18fe44a0 0x0 0x7ffc18fe4490 0x7f18";
        assert_eq!(
            blocked_syscall(line),
            Some((270, [1, 0x7ffc18fe4570, 0, 0, 0x7ffc18fe44a0, 0]))
        );
        assert_eq!(blocked_syscall("running"), None);
        assert_eq!(blocked_syscall("-1 0x7ffc 0x7f18"), None);
    }

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
    fn parses_mountinfo_lines() {
        let btrfs =
            "46 27 0:40 / /tmp/m/b rw,relatime shared:1 - btrfs /dev/loop0 rw,subvolid=5,subvol=/";
        assert_eq!(
            MountLine::parse(btrfs),
            Some(MountLine {
                mount_id: 46,
                major: 0,
                minor: 40,
                fs_type: "btrfs".into(),
                mount_opts: "rw,relatime".into(),
                super_opts: "rw,subvolid=5,subvol=/".into(),
            })
        );
        let nfs = "112 30 0:52 / /etc/letsencrypt rw,relatime shared:60 - nfs4 \
                   srv:/export/le rw,vers=4.2,rsize=1048576,local_lock=none,addr=10.0.0.2";
        let nfs = MountLine::parse(&nfs.replace("                   ", "")).unwrap();
        assert_eq!(
            (nfs.fs_type.as_str(), nfs.mount_opts.as_str()),
            ("nfs4", "rw,relatime")
        );
        assert!(nfs.super_opts.ends_with("local_lock=none,addr=10.0.0.2"));
        // Cut short after the type: no super options, still a mount.
        let short = MountLine::parse("46 27 0:40 / /x rw - ext4").unwrap();
        assert_eq!(
            (short.fs_type.as_str(), short.super_opts.as_str()),
            ("ext4", "")
        );
        let spaced = r"49 27 0:44 / /tmp/with\040space rw - overlay overlay rw,lowerdir=a";
        assert_eq!(MountLine::parse(spaced).unwrap().fs_type, "overlay");
        for bad in [
            "",
            "46 27 0:40 / /x rw",
            "x 27 0:40 / /x rw - ext4 d rw",
            "46 27 040 / /x - ext4",
            "46 27 0:40 - ext4 d rw",
            "46 27 0:40 / /x rw -",
        ] {
            assert_eq!(MountLine::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_stat_flags_and_ppid_past_a_hostile_name() {
        let kthreadd = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0";
        assert_eq!(stat_flags(kthreadd), Some(2129984));
        assert_eq!(stat_ppid(kthreadd), Some(0));
        let hostile = "77 (a) S 1 2 3 4 5 6 (b) R 42 7 7 0 -1 4194560 0";
        assert_eq!(stat_ppid(hostile), Some(42));
        assert_eq!(stat_flags(hostile), Some(4194560));
        assert_eq!(stat_flags("no parens"), None);
    }

    #[test]
    fn reads_the_start_time_past_a_hostile_name() {
        let cat = "20733 (cat) R 20689 20689 18361 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 \
                   1016088 3133440 361 18446744073709551615";
        assert_eq!(stat_start_time(cat), Some(1016088));
        let hostile = "9 (x) 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23) S 1 1 1 0 \
                       -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 0";
        assert_eq!(stat_start_time(hostile), Some(4242));
        assert_eq!(stat_start_time("1 (short) S 0 0"), None);
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
        let key = |dev: u64, ino: u64| {
            let (major, minor) = dev_major_minor(dev);
            (major, minor, ino)
        };
        assert!(row("POSIX", 10).blocks_certbot_on(key(dev, 10)));
        assert!(row("OFDLCK", 10).blocks_certbot_on(key(dev, 10)));
        assert!(!row("FLOCK", 10).blocks_certbot_on(key(dev, 10)));
        assert!(!row("POSIX", 11).blocks_certbot_on(key(dev, 10)));
        assert!(!row("POSIX", 10).blocks_certbot_on(key(dev + 1, 10)));
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

/// Fuzzing with proptest, bounded for CI: `PROPTEST_CASES=N` runs N cases per property.
/// (proptest is a Unix-only dev-dependency: the Windows test build runs under Wine.)
#[cfg(all(test, unix))]
pub(super) mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// The library's one proptest config (`sys`'s other parsers' fuzz tests use it too).
    pub(crate) fn config(default: u32) -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default);
        ProptestConfig {
            cases,
            ..ProptestConfig::default()
        }
    }

    /// One row as the kernel could print it, and what it must parse to.
    #[derive(Debug, Clone)]
    struct Row {
        text: String,
        expected: ProcLock,
        /// Where the fields after the file id (start and end of the range) begin.
        range_at: usize,
    }

    /// glibc's `makedev`.
    fn makedev(major: u32, minor: u32) -> u64 {
        let (major, minor) = (major as u64, minor as u64);
        ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
    }

    fn separator() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[ \t]{1,3}").unwrap()
    }

    fn hex(n: u32, style: u8) -> String {
        match style % 3 {
            0 => format!("{n:02x}"),
            1 => format!("{n:x}"),
            _ => format!("{n:08X}"),
        }
    }

    prop_compose! {
        fn row()(
            number in 1u32..1_000_000,
            kind in prop_oneof![
                Just("POSIX".to_string()),
                Just("OFDLCK".to_string()),
                Just("FLOCK".to_string()),
                Just("LEASE".to_string()),
                proptest::string::string_regex("[A-Z]{1,8}").unwrap(),
            ].prop_filter("not a waiter arrow", |k| k != "->"),
            mode in prop::sample::select(&["ADVISORY", "MANDATORY", "ACTIVE", "BREAKING"][..]),
            access in prop::sample::select(&["READ", "WRITE", "UNLCK", "NONE"][..]),
            pid in prop_oneof![
                Just(-1i64),
                Just(0i64),
                1i64..=4_194_304,
                1i64..=u32::MAX as i64,
                (u32::MAX as i64 + 1)..=i64::MAX,
            ],
            major in any::<u32>(),
            minor in any::<u32>(),
            inode in any::<u64>(),
            start in any::<u64>(),
            end in prop_oneof![Just("EOF".to_string()), any::<u64>().prop_map(|e| e.to_string())],
            hex_style in any::<u8>(),
            seps in prop::collection::vec(separator(), 8),
            prefix in prop_oneof![Just(""), Just("lock:\t"), Just("lock: "), Just("  ")],
            suffix in prop_oneof![Just(""), Just("\n"), Just(" \n"), Just("\r\n")],
        ) -> Row {
            let id = format!("{}:{}:{inode}", hex(major, hex_style), hex(minor, hex_style / 3));
            let head = format!(
                "{prefix}{number}:{}{kind}{}{mode}{}{access}{}{pid}{}{id}{}",
                seps[0], seps[1], seps[2], seps[3], seps[4], seps[5]
            );
            let range_at = head.len();
            let text = format!("{head}{start}{}{end}{suffix}", seps[6]);
            let expected = ProcLock {
                kind,
                write: access == "WRITE",
                pid: u32::try_from(pid).ok().filter(|&p| p > 0),
                major,
                minor,
                inode,
            };
            Row { text, expected, range_at }
        }
    }

    /// Edits on a line: delete, insert or replace a character (any Unicode), or cut it short.
    #[derive(Debug, Clone)]
    enum Edit {
        Delete(prop::sample::Index),
        Insert(prop::sample::Index, char),
        Replace(prop::sample::Index, char),
        Truncate(prop::sample::Index),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        use prop::sample::Index;
        let interesting = prop_oneof![
            prop::sample::select(
                &[
                    ':',
                    '-',
                    '>',
                    ' ',
                    '\t',
                    '\n',
                    '0',
                    'f',
                    'x',
                    '\u{0}',
                    'é',
                    '\u{1F512}'
                ][..]
            ),
            any::<char>(),
        ];
        prop_oneof![
            any::<Index>().prop_map(Edit::Delete),
            (any::<Index>(), interesting.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
            (any::<Index>(), interesting).prop_map(|(i, c)| Edit::Replace(i, c)),
            any::<Index>().prop_map(Edit::Truncate),
        ]
    }

    fn apply(line: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = line.chars().collect();
        for e in edits {
            let len = chars.len();
            match e {
                Edit::Delete(i) if len > 0 => {
                    chars.remove(i.index(len));
                }
                Edit::Insert(i, c) => chars.insert(i.index(len + 1), *c),
                Edit::Replace(i, c) if len > 0 => chars[i.index(len)] = *c,
                Edit::Truncate(i) => chars.truncate(i.index(len + 1)),
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(config(5000))]

        /// Anything at all: `None` or a row, never a panic.
        #[test]
        fn arbitrary_text_never_panics(line in any::<String>()) {
            let _ = ProcLock::parse(&line);
        }

        /// The process files' parsers take anything without a panic (a process names itself).
        #[test]
        fn process_files_never_panic(text in any::<String>()) {
            let _ = stat_state_and_start(&text);
            let _ = status_uid_and_nspids(&text);
            let _ = blocked_syscall(&text);
        }

        /// Text made of the characters rows are made of, so more of it gets deep.
        #[test]
        fn rowlike_text_never_panics(line in "(lock:)?[ \t0-9a-fA-FEOF:>PSIXOLCKRDWTEVA-]{0,80}") {
            let _ = ProcLock::parse(&line);
        }

        /// A well-formed row parses to exactly the values it was made from.
        #[test]
        fn well_formed_rows_parse_exactly(row in row()) {
            prop_assert_eq!(ProcLock::parse(&row.text), Some(row.expected));
        }

        /// fdinfo's `lock:` lines are /proc/locks rows with a prefix.
        #[test]
        fn fdinfo_prefix_changes_nothing(row in row()) {
            let bare = row.text.trim_start().strip_prefix("lock:").unwrap_or(&row.text);
            prop_assert_eq!(ProcLock::parse(&format!("lock:\t{bare}")), ProcLock::parse(bare));
        }

        /// A waiter (`->`) row is never a lock.
        #[test]
        fn waiter_rows_are_skipped(row in row()) {
            let text = row.text.trim_start().strip_prefix("lock:").unwrap_or(&row.text);
            let (number, rest) = text.trim_start().split_once(':').expect("N: prefix");
            let waiter = format!("{number}: -> {}", rest.trim_start());
            prop_assert_eq!(ProcLock::parse(&waiter), None);
        }

        /// The byte range after the file id is not read: anything there parses the same.
        #[test]
        fn range_fields_are_ignored(row in row(), junk in "[^ \t\n]{1,20}") {
            let text = format!("{}{junk}", &row.text[..row.range_at]);
            prop_assert_eq!(ProcLock::parse(&text), Some(row.expected));
        }

        /// Real-looking rows, damaged: never a panic; an untouched row still parses.
        #[test]
        fn mutated_rows_never_panic(row in row(), edits in prop::collection::vec(edit(), 0..6)) {
            let text = apply(&row.text, &edits);
            let parsed = ProcLock::parse(&text);
            if edits.is_empty() {
                prop_assert_eq!(parsed, Some(row.expected));
            }
        }

        /// The device numbers of any `st_dev` glibc can make come back as they went in, and a
        /// parsed row blocks certbot on exactly its own file, for fcntl kinds only.
        #[test]
        fn device_numbers_round_trip(row in row(), other_inode in any::<u64>()) {
            let lock = row.expected;
            let dev = makedev(lock.major, lock.minor);
            prop_assert_eq!(dev_major_minor(dev), (lock.major, lock.minor));
            let fcntl = matches!(lock.kind.as_str(), "POSIX" | "OFDLCK");
            let (major, minor) = dev_major_minor(dev);
            prop_assert_eq!(lock.blocks_certbot_on((major, minor, lock.inode)), fcntl);
            if other_inode != lock.inode {
                prop_assert!(!lock.blocks_certbot_on((major, minor, other_inode)));
            }
        }

        /// Any mountinfo-ish text: a mount or `None`, never a panic.
        #[test]
        fn arbitrary_mountinfo_never_panics(line in "[0-9: /a-z,=-]{0,80}|\\PC{0,80}") {
            let _ = MountLine::parse(&line);
        }

        /// A well-formed mountinfo line parses to the values it was made from.
        #[test]
        fn well_formed_mountinfo_lines_parse_exactly(
            id in any::<u64>(),
            parent in any::<u64>(),
            major in any::<u32>(),
            minor in any::<u32>(),
            mount_opts in "[a-z_=0-9,]{1,40}",
            optional in prop::collection::vec("(shared|master|propagate_from):[0-9]{1,4}", 0..3),
            fs_type in "[a-z0-9]{1,8}(\\.[a-z0-9]{1,8})?",
            source in "[^ \n]{1,20}",
            super_opts in "[^ \n]{0,60}",
        ) {
            let optional: String = optional.iter().map(|o| format!(" {o}")).collect();
            let line = format!(
                "{id} {parent} {major}:{minor} / /mnt {mount_opts}{optional} - {fs_type} {source} {super_opts}"
            );
            prop_assert_eq!(
                MountLine::parse(&line),
                Some(MountLine { mount_id: id, major, minor, fs_type, mount_opts, super_opts })
            );
        }

        /// Any bytes: a line or `None`, never a panic, never a NUL in the line.
        #[test]
        fn arbitrary_cmdline_never_panics(raw in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Some(line) = join_cmdline(&raw) {
                prop_assert!(!line.is_empty() && !line.contains('\0'));
            }
        }

        /// Arguments as the kernel stores them come back joined by single spaces.
        #[test]
        fn cmdline_arguments_are_joined(args in prop::collection::vec("[^\0]{1,12}", 1..6)) {
            let mut raw = Vec::new();
            for arg in &args {
                raw.extend_from_slice(arg.as_bytes());
                raw.push(0);
            }
            prop_assert_eq!(join_cmdline(&raw), Some(args.join(" ")));
        }
    }
}
