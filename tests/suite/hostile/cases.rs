//! The hostile-input table: 35 cases, each a `setup` of hostile files under a fresh root, the
//! surfaces it goes through and what they must answer, and what may change on disk. The harness
//! that runs them is `mod.rs`; the tests beyond the table are at the end.

use super::*;

const LOCK_PATH: &str = "d/.certbot.lock";
const CAFE: &[u8] = b"caf\xe9";
/// Longer than PATH_MAX (4096) on Linux.
fn overlong(root: &Path) -> PathBuf {
    root.join("x/".repeat(3000))
}
/// A single component longer than NAME_MAX (255).
fn long_name() -> String {
    "n".repeat(300)
}

pub(super) const CASES: &[Case] = &[
    // -- Lock paths: every surface refuses, names the lock path, touches nothing. --
    Case {
        name: "lock path is a symlink to a file",
        setup: |r| {
            mkdir(r, "d");
            write(r, "target", b"precious");
            symlink(r.join("target"), r.join(LOCK_PATH)).unwrap();
        },
        run: |r| lock_path_refused(r, &["symbolic link", LOCK_PATH]),
        disk: Disk::Unchanged,
    },
    Case {
        name: "lock path is a symlink to a directory",
        setup: |r| {
            mkdir(r, "d");
            mkdir(r, "elsewhere");
            symlink(r.join("elsewhere"), r.join(LOCK_PATH)).unwrap();
        },
        run: |r| lock_path_refused(r, &["symbolic link", LOCK_PATH]),
        disk: Disk::Unchanged,
    },
    Case {
        name: "lock path is a dangling symlink",
        setup: |r| {
            mkdir(r, "d");
            symlink(r.join("would-be-created"), r.join(LOCK_PATH)).unwrap();
        },
        run: |r| lock_path_refused(r, &["symbolic link", LOCK_PATH]),
        disk: Disk::Unchanged,
    },
    Case {
        name: "lock path is a directory",
        setup: |r| {
            mkdir(r, "d");
            mkdir(r, LOCK_PATH);
        },
        run: |r| lock_path_refused(r, &["is a directory", LOCK_PATH]),
        disk: Disk::Unchanged,
    },
    Case {
        name: "lock path is a FIFO",
        setup: |r| {
            mkdir(r, "d");
            mkfifo(&r.join(LOCK_PATH));
        },
        run: |r| lock_path_refused(r, &["special file", LOCK_PATH]),
        disk: Disk::Unchanged,
    },
    Case {
        name: "lock path is a unix socket",
        setup: |r| {
            mkdir(r, "d");
            // The socket file stays when the listener is dropped.
            drop(std::os::unix::net::UnixListener::bind(r.join(LOCK_PATH)).unwrap());
        },
        run: |r| lock_path_refused(r, &["special file", LOCK_PATH]),
        disk: Disk::Unchanged,
    },
    // -- The lock's directory. --
    Case {
        name: "directory is missing",
        setup: |_| {},
        run: |r| {
            let (d, lock) = (r.path("d"), r.path(LOCK_PATH));
            let says = ["directory", "/d does not exist"];
            r.lib("probe", Want::Err, &says, move || probe(&lock));
            r.lib("lock_dir", Want::Err, &says, move || lock_dir(&d));
            r.cli(&[os("status"), r.os("d")], 2, &says);
            r.cli(&[os("status"), os("--json"), r.os("d")], 2, &says);
            r.cli(&[os("hold"), os("--for"), os("0s"), r.os("d")], 2, &says);
            // watch: documented state `missing` (picked up when it appears), not an error.
            r.watch(false, &[r.os("d")], "missing", &[]);
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "directory is a regular file",
        setup: |r| write(r, "d", b"not a directory"),
        run: |r| {
            let (d, lock) = (r.path("d"), r.path(LOCK_PATH));
            let says = ["/d is not a directory"];
            r.lib("probe", Want::Err, &says, move || probe(&lock));
            r.lib("lock_dir", Want::Err, &says, move || lock_dir(&d));
            r.cli(&[os("status"), r.os(LOCK_PATH)], 2, &says);
            r.cli(&[os("hold"), os("--for"), os("0s"), r.os("d")], 2, &says);
            r.watch(false, &[r.os("d")], "error", &says);
            // Documented: a status PATH that exists and is not a directory is a lock file
            // itself, so `status d` reports the file d (free: nobody holds it).
            let out = r.cli(&[os("status"), os("--json"), r.os("d")], 0, &[]);
            r.json_state("status --json d", &out, "free");
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "directory is unreadable (mode 000, unprivileged user)",
        setup: |r| {
            mkdir(r, "d");
            chmod(&r.join("d"), 0o000);
        },
        run: |r| {
            let says = ["permission denied", "/d"];
            r.child("probe", &r.path(LOCK_PATH), Want::Err, &says);
            r.child("lock_dir", &r.path("d"), Want::Err, &says);
            r.cli_nobody(&[os("status"), r.os("d")], 2, &says);
            r.cli_nobody(&[os("hold"), os("--for"), os("0s"), r.os("d")], 2, &says);
            r.watch(true, &[r.os("d")], "error", &says);
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "directory is read-only (mode 555, unprivileged user)",
        setup: |r| {
            mkdir(r, "d");
            chmod(&r.join("d"), 0o555);
        },
        run: |r| {
            // Probing needs no write access: absent, exit 0. Locking needs to create the file.
            let probed = r.child("probe", &r.path(LOCK_PATH), Want::Ok, &[]);
            r.says("probe (unprivileged)", &probed, &["Absent"]);
            let out = r.cli_nobody(&[os("status"), os("--json"), r.os("d")], 0, &[]);
            r.json_state("status --json", &out, "absent");
            let says = ["permission denied", LOCK_PATH];
            r.child("lock_dir", &r.path("d"), Want::Err, &says);
            r.cli_nobody(&[os("hold"), os("--for"), os("0s"), r.os("d")], 2, &says);
            r.watch(true, &[r.os("d")], "absent", &[]);
        },
        disk: Disk::Unchanged,
    },
    // -- Path encodings and lengths. --
    Case {
        name: "non-UTF-8 directory name (exists)",
        setup: |r| std::fs::create_dir(r.join(OsStr::from_bytes(CAFE))).unwrap(),
        run: |r| {
            let dir = r.root.join(OsStr::from_bytes(CAFE));
            let lock = dir.join(LOCK);
            let probed = r.lib("probe", Want::Ok, &[], move || probe(&lock));
            if let Some(Ok(state)) = probed
                && state != LockState::Absent
            {
                r.fail("probe", format!("expected Absent, got {state:?}"));
            }
            let out = r.cli(&[os("status"), os("--json"), dir.as_os_str()], 0, &[]);
            r.json_state("status --json", &out, "absent");
            // README: paths that are not UTF-8 are printed with U+FFFD for the bad bytes.
            r.says("status --json", &out, &["caf\u{fffd}"]);
            r.cli(
                &[os("status"), dir.as_os_str()],
                0,
                &["caf\u{fffd}", "absent"],
            );
            r.watch(false, &[dir.as_os_str()], "absent", &["caf\u{fffd}"]);
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "non-UTF-8 directory name (missing)",
        setup: |_| {},
        run: |r| {
            let dir = r.root.join(OsStr::from_bytes(CAFE));
            let says = ["caf\u{fffd}", "does not exist"];
            let d = dir.clone();
            r.lib("lock_dir", Want::Err, &says, move || lock_dir(&d));
            r.cli(&[os("status"), dir.as_os_str()], 2, &says);
            r.cli(
                &[os("hold"), os("--for"), os("0s"), dir.as_os_str()],
                2,
                &says,
            );
            r.watch(false, &[dir.as_os_str()], "missing", &["caf\u{fffd}"]);
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "path longer than PATH_MAX",
        setup: |_| {},
        run: |r| {
            let dir = overlong(&r.root);
            let says = ["file name too long"];
            let (d, lock) = (dir.clone(), dir.join(LOCK));
            r.lib("probe", Want::Err, &says, move || probe(&lock));
            r.lib("lock_dir", Want::Err, &says, move || lock_dir(&d));
            let out = r.cli(&[os("status"), os("--json"), dir.as_os_str()], 2, &says);
            r.json_state("status --json", &out, "error");
            r.cli(
                &[os("hold"), os("--for"), os("0s"), dir.as_os_str()],
                2,
                &says,
            );
            r.watch(false, &[dir.as_os_str()], "error", &says);
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "path component longer than NAME_MAX (directory and --lock-name)",
        setup: |r| mkdir(r, "d"),
        run: |r| {
            let dir = r.root.join(long_name());
            let says = ["file name too long"];
            let (d, lock) = (dir.clone(), dir.join(LOCK));
            r.lib("probe", Want::Err, &says, move || probe(&lock));
            r.lib("lock_dir", Want::Err, &says, move || lock_dir(&d));
            r.cli(&[os("status"), dir.as_os_str()], 2, &says);
            r.cli(
                &[os("hold"), os("--for"), os("0s"), dir.as_os_str()],
                2,
                &says,
            );
            r.watch(false, &[dir.as_os_str()], "error", &says);
            // A lock-file name that is plain but too long for the filesystem.
            let name = long_name();
            let d = r.path("d");
            let n = name.clone();
            r.lib("lock_dir_with_name", Want::Err, &says, move || {
                lock_dir_with_name(&d, &n)
            });
            let lock_name = [os("--lock-name"), OsStr::new(&name)];
            r.cli(
                &[&[os("status")][..], &lock_name, &[r.os("d")]].concat(),
                2,
                &says,
            );
            r.cli(
                &[
                    &[os("hold"), os("--for"), os("0s")][..],
                    &lock_name,
                    &[r.os("d")],
                ]
                .concat(),
                2,
                &says,
            );
        },
        disk: Disk::Unchanged,
    },
    // -- Command-line values. --
    Case {
        name: "lock name that is not a plain file name",
        setup: |r| mkdir(r, "d"),
        run: |r| {
            for bad in ["../escape", "a/b", ".", ""] {
                let d = r.path("d");
                r.lib(
                    &format!("lock_dir_with_name {bad:?}"),
                    Want::Err,
                    &["not a plain file name"],
                    move || lock_dir_with_name(&d, bad),
                );
                for cmd in [&["status"][..], &["hold", "--for", "0s"], &["watch"]] {
                    let mut args: Vec<&OsStr> = cmd.iter().map(OsStr::new).collect();
                    args.extend([os("--lock-name"), OsStr::new(bad), r.os("d")]);
                    r.cli(&args, 2, &["invalid value", "--lock-name"]);
                }
            }
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "durations that are not durations or out of range",
        setup: |r| mkdir(r, "d"),
        run: |r| {
            let cases: [(&[&str], &[&str]); 5] = [
                (&["hold", "--for", "banana"], &["--for", "examples: 30s"]),
                (&["hold", "--for=-5s"], &["--for", "examples: 30s"]),
                (
                    &["hold", "--wait=99999999999999999999h"],
                    &["--wait", "too large"],
                ),
                (
                    &["watch", "--interval", "1ms"],
                    &["--interval", "at least 10ms"],
                ),
                (
                    &["watch", "--interval", "0"],
                    &["--interval", "at least 10ms"],
                ),
            ];
            for (args, says) in cases {
                let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
                args.push(r.os("d"));
                r.cli(&args, 2, says);
            }
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch --interval of u64::MAX seconds",
        setup: |r| mkdir(r, "d"),
        run: |r| {
            // Accepted (it is at least 10ms), and must not overflow the monitor's deadlines:
            // before the fix its thread panicked and watch printed nothing, forever.
            let max = u64::MAX.to_string();
            let args = [os("--interval"), OsStr::new(&max), r.os("d")];
            r.watch(false, &args, "absent", &[]);
        },
        disk: Disk::Unchanged,
    },
    // -- Watch-list files (`Store::load` reads `<config dir>/lockscope.toml`). --
    Case {
        name: "watch list: empty file",
        setup: |r| {
            mkdir(r, "cfg");
            write(r, "cfg/lockscope.toml", b"");
        },
        run: |r| {
            let store = Store::new(r.path("cfg"));
            if let Some(Ok(loaded)) = r.lib("Store::load", Want::Ok, &[], move || store.load())
                && (loaded.state != State::default() || !loaded.warnings.is_empty())
            {
                r.fail(
                    "Store::load",
                    format!("expected no lists and no warning: {loaded:?}"),
                );
            }
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: truncated TOML",
        setup: |r| {
            mkdir(r, "cfg");
            write(
                r,
                "cfg/lockscope.toml",
                b"active = \"a\"\n[[list]]\nname = \"a\"\ndirs = [\"/etc/letsencrypt\", \"/var/li",
            );
        },
        run: |r| set_aside(r, &["line 4"]),
        disk: SET_ASIDE,
    },
    Case {
        name: "watch list: binary garbage",
        setup: |r| {
            mkdir(r, "cfg");
            let garbage: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
            write(r, "cfg/lockscope.toml", &garbage);
        },
        run: |r| set_aside(r, &["not UTF-8"]),
        disk: SET_ASIDE,
    },
    Case {
        name: "watch list: 50 MB file, corrupt at the very end",
        setup: |r| {
            mkdir(r, "cfg");
            let mut text = b"active = \"a\"\n[[list]]\nname = \"a\"\ndirs = [\"/x\"]\n".to_vec();
            let line = format!("# {}\n", "x".repeat(97));
            while text.len() < 50_000_000 {
                text.extend_from_slice(line.as_bytes());
            }
            text.extend_from_slice(b"[[list]\nname = \"b\"\n");
            write(r, "cfg/lockscope.toml", &text);
        },
        run: |r| set_aside(r, &["line 500005"]),
        disk: SET_ASIDE,
    },
    Case {
        name: "watch list: larger than 64 MiB (sparse)",
        setup: |r| {
            mkdir(r, "cfg");
            let file = std::fs::File::create(r.join("cfg/lockscope.toml")).unwrap();
            file.set_len(watchlist::MAX_FILE_SIZE + 1).unwrap();
        },
        run: |r| set_aside(r, &["larger than 64 MiB"]),
        disk: SET_ASIDE,
    },
    Case {
        name: "watch list: wrong type (dirs = 5)",
        setup: |r| {
            mkdir(r, "cfg");
            write(
                r,
                "cfg/lockscope.toml",
                b"[[list]]\nname = \"a\"\ndirs = 5\n",
            );
        },
        run: |r| set_aside(r, &["invalid type", "line 3"]),
        disk: SET_ASIDE,
    },
    Case {
        name: "watch list: wrong type (dirs is a table)",
        setup: |r| {
            mkdir(r, "cfg");
            write(
                r,
                "cfg/lockscope.toml",
                b"[[list]]\nname = \"a\"\n[list.dirs]\nfirst = \"/etc/letsencrypt\"\n",
            );
        },
        run: |r| set_aside(r, &["invalid type"]),
        disk: SET_ASIDE,
    },
    Case {
        name: "watch list: 100,000 directories",
        setup: |r| {
            let dirs = (0..100_000).map(|i| PathBuf::from(format!("/srv/site-{i:06}/le")));
            let mut state = State::default();
            state.insert(WatchList::new("big", dirs).unwrap()).unwrap();
            Store::new(r.join("cfg")).save(&state).unwrap();
            let list = WatchList::new("big", state.lists()[0].dirs.clone()).unwrap();
            watchlist::export(&list, &r.join("big.toml")).unwrap();
        },
        run: |r| {
            let store = Store::new(r.path("cfg"));
            let started = Instant::now();
            let loaded = r.lib("Store::load", Want::Ok, &[], move || store.load());
            let took = started.elapsed();
            if let Some(Ok(loaded)) = loaded {
                let count = loaded.state.lists().first().map_or(0, |l| l.dirs.len());
                if count != 100_000 || !loaded.warnings.is_empty() {
                    r.fail(
                        "Store::load",
                        format!("{count} dirs, {:?}", loaded.warnings),
                    );
                }
            }
            // Generous for a debug build on 2 busy cores; a release build takes ~0.1 s.
            if took > Duration::from_secs(10) {
                r.fail("Store::load", format!("took {took:?}"));
            }
            let file = r.path("big.toml");
            let imported = r.lib("import", Want::Ok, &[], move || watchlist::import(&file));
            if let Some(Ok(list)) = imported
                && list.dirs.len() != 100_000
            {
                r.fail("import", format!("{} dirs", list.dirs.len()));
            }
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: 20,000 lists with one name",
        setup: |r| {
            mkdir(r, "cfg");
            let text = "[[list]]\nname = \"a\"\ndirs = [\"/srv/a\"]\n".repeat(20_000);
            write(r, "cfg/lockscope.toml", text.as_bytes());
        },
        run: |r| {
            // Repaired (renamed "a (2)" ... "a (20000)"), quickly, with a bounded warning list.
            let store = Store::new(r.path("cfg"));
            let started = Instant::now();
            if let Some(Ok(loaded)) = r.lib("Store::load", Want::Ok, &[], move || store.load()) {
                let lists = loaded.state.lists();
                let last = lists.last().map(|l| l.name.as_str());
                if lists.len() != 20_000 || last != Some("a (20000)") {
                    r.fail(
                        "Store::load",
                        format!("{} lists, last {last:?}", lists.len()),
                    );
                }
                let n = watchlist::MAX_REPAIR_WARNINGS;
                let text: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
                if text.len() != n + 1 {
                    r.fail(
                        "Store::load",
                        format!("{} warnings, not {}", text.len(), n + 1),
                    );
                }
                if let (Some(first), Some(rest)) = (text.first(), text.last()) {
                    r.says(
                        "first warning",
                        first,
                        &["lockscope.toml", "two watch lists"],
                    );
                    r.says("last warning", rest, &["19899 more problems"]);
                }
            }
            let took = started.elapsed();
            if took > Duration::from_secs(10) {
                r.fail("Store::load", format!("took {took:?}"));
            }
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: lockscope.toml is a directory",
        setup: |r| mkdir(r, "cfg/lockscope.toml"),
        run: |r| {
            let says = ["cannot read", "cfg/lockscope.toml", "is a directory"];
            let store = Store::new(r.path("cfg"));
            r.lib("Store::load", Want::Err, &says, move || store.load());
            let store = Store::new(r.path("cfg"));
            let says = ["cannot write", "cfg/lockscope.toml", "is a directory"];
            r.lib("Store::save", Want::Err, &says, move || {
                store.save(&sample())
            });
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: lockscope.toml is a FIFO",
        setup: |r| {
            mkdir(r, "cfg");
            mkfifo(&r.join("cfg/lockscope.toml"));
        },
        run: |r| {
            // Must not block waiting for a writer, nor be moved aside: a read error.
            let says = ["cannot read", "cfg/lockscope.toml", "not a regular file"];
            let store = Store::new(r.path("cfg"));
            r.lib("Store::load", Want::Err, &says, move || store.load());
            let file = r.path("cfg/lockscope.toml");
            r.lib("import", Want::Err, &says, move || watchlist::import(&file));
            let store = Store::new(r.path("cfg"));
            let says = ["cannot write", "cfg/lockscope.toml", "special file"];
            r.lib("Store::save", Want::Err, &says, move || {
                store.save(&sample())
            });
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: unreadable file (mode 000, unprivileged user)",
        setup: |r| {
            Store::new(r.join("cfg")).save(&sample()).unwrap();
            chmod(&r.join("cfg/lockscope.toml"), 0o000);
        },
        run: |r| {
            let says = ["cannot read", "cfg/lockscope.toml", "permission denied"];
            r.child("load", &r.path("cfg"), Want::Err, &says);
            r.child("import", &r.path("cfg/lockscope.toml"), Want::Err, &says);
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: corrupt file in a read-only config directory (unprivileged user)",
        setup: |r| {
            mkdir(r, "cfg");
            write(r, "cfg/lockscope.toml", b"[[list]\ncorrupt");
            chmod(&r.join("cfg"), 0o555);
        },
        run: |r| {
            // It cannot be moved aside: an error, and the file is left as it is.
            let says = [
                "cfg/lockscope.toml is corrupt",
                "could not be moved aside",
                "permission denied",
            ];
            r.child("load", &r.path("cfg"), Want::Err, &says);
            let says = ["cannot write", "cfg/lockscope.toml", "permission denied"];
            r.child("save", &r.path("cfg"), Want::Err, &says);
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: lockscope.toml is a symlink to a corrupt file",
        setup: |r| {
            mkdir(r, "cfg");
            mkdir(r, "dotfiles");
            write(r, "dotfiles/lockscope.toml", b"[[list]]\nname = 5\n");
            symlink("../dotfiles/lockscope.toml", r.join("cfg/lockscope.toml")).unwrap();
        },
        // The link is what moves aside; the file it points to keeps its bytes where it is.
        run: |r| set_aside(r, &["invalid type"]),
        disk: SET_ASIDE,
    },
    Case {
        name: "watch list: import of hostile exchange files",
        setup: |r| {
            mkdir(r, "in");
            write(r, "in/binary.toml", &[0xff, 0xfe, 0, 1, 2, 0x80]);
            write(r, "in/dirs-number.toml", b"name = \"x\"\ndirs = 5\n");
            write(
                r,
                "in/relative.toml",
                b"name = \"x\"\ndirs = [\"etc/letsencrypt\"]\n",
            );
            write(r, "in/truncated.toml", b"name = \"x\"\ndirs = [\"/etc");
            let huge = std::fs::File::create(r.join("in/huge.toml")).unwrap();
            huge.set_len(watchlist::MAX_FILE_SIZE + 1).unwrap();
        },
        run: |r| {
            // import never repairs nor moves anything: an error naming the file.
            let cases: [(&str, &[&str]); 6] = [
                (
                    "in/binary.toml",
                    &["in/binary.toml", "not a lockscope watch list", "UTF-8"],
                ),
                (
                    "in/dirs-number.toml",
                    &["in/dirs-number.toml", "invalid type", "line 2"],
                ),
                (
                    "in/relative.toml",
                    &["etc/letsencrypt", "not an absolute path"],
                ),
                (
                    "in/truncated.toml",
                    &["in/truncated.toml", "not a lockscope watch list"],
                ),
                ("in/huge.toml", &["in/huge.toml", "larger than 64 MiB"]),
                (
                    "in/missing.toml",
                    &["cannot read", "in/missing.toml", "no such file"],
                ),
            ];
            for (file, says) in cases {
                let path = r.path(file);
                r.lib(&format!("import {file}"), Want::Err, says, move || {
                    watchlist::import(&path)
                });
            }
            // A device: refused at once, not read up to the size limit.
            r.lib(
                "import /dev/zero",
                Want::Err,
                &["/dev/zero", "not a regular file"],
                || watchlist::import(Path::new("/dev/zero")),
            );
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: export and save to impossible places",
        setup: |r| {
            mkdir(r, "adir");
            mkfifo(&r.join("fifo"));
            write(r, "cfg-is-a-file", b"not a directory");
        },
        run: |r| {
            let list = sample().lists()[0].clone();
            let cases: [(&str, &[&str]); 3] = [
                (
                    "missing/list.toml",
                    &["cannot write", "missing/list.toml", "no such file"],
                ),
                ("adir", &["cannot write", "/adir", "is a directory"]),
                // Stands for any special file: a rename must never replace a device node
                // (before the fix, exporting to /dev/null as root replaced it with a file).
                ("fifo", &["cannot write", "/fifo", "special file"]),
            ];
            for (target, says) in cases {
                let (path, list) = (r.path(target), list.clone());
                r.lib(&format!("export {target}"), Want::Err, says, move || {
                    watchlist::export(&list, &path)
                });
            }
            let store = Store::new(r.path("cfg-is-a-file"));
            let says = ["cannot write", "cfg-is-a-file"];
            r.lib("Store::save", Want::Err, &says, move || {
                store.save(&sample())
            });
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "watch list: non-UTF-8 directory",
        setup: |_| {},
        run: |r| {
            let bad = r.root.join(OsStr::from_bytes(CAFE));
            // Debug-quoted, so the bad byte shows as \xE9.
            let says = ["caf\\xE9", "is not valid Unicode"];
            let b = bad.clone();
            r.lib("WatchList::new", Want::Err, &says, move || {
                WatchList::new("l", [b])
            });
            let b = bad.clone();
            r.lib("State::set_dirs", Want::Err, &says, move || {
                let mut state = sample();
                let before = state.clone();
                let result = state.set_dirs("certbot", [PathBuf::from("/ok"), b]);
                assert_eq!(state, before, "a refused change changes nothing");
                result
            });
            // A hand-built list is checked by export too, which then writes nothing.
            let (b, out) = (bad.clone(), r.path("out.toml"));
            r.lib("export", Want::Err, &says, move || {
                let list = WatchList {
                    name: "l".into(),
                    dirs: vec![b],
                };
                watchlist::export(&list, &out)
            });
        },
        disk: Disk::Unchanged,
    },
    Case {
        name: "gui --watchlist FILE without a display",
        setup: |r| {
            write(r, "list.toml", b"\xff\xfe garbage");
            mkdir(r, "cfg");
            write(r, "cfg/lockscope.toml", b"[[list]\ncorrupt");
        },
        run: |r| {
            if !cfg!(feature = "gui") {
                return; // built without the app: no `gui` subcommand
            }
            // README: without a display it exits 2 with a message; the window never opens,
            // so neither file is read or moved aside.
            let args = [
                os("gui"),
                os("--watchlist"),
                r.os("list.toml"),
                os("--config-dir"),
                r.os("cfg"),
            ];
            r.cli(&args, 2, &["no display for the window", "DISPLAY"]);
        },
        disk: Disk::Unchanged,
    },
];

const SET_ASIDE: Disk = Disk::MovedAside {
    from: "cfg/lockscope.toml",
    to: "cfg/lockscope.toml.bak",
};

/// The lock-path cases: every surface refuses the lock path with `says` in its message.
fn lock_path_refused(r: &mut Run, says: &[&str]) {
    let (d, lock) = (r.path("d"), r.path(LOCK_PATH));
    r.lib("probe", Want::Err, says, move || probe(&lock));
    r.lib("lock_dir", Want::Err, says, move || lock_dir(&d));
    r.cli(&[os("status"), r.os("d")], 2, says);
    let out = r.cli(&[os("status"), os("--json"), r.os("d")], 2, says);
    r.json_state("status --json", &out, "error");
    r.cli(&[os("status"), r.os(LOCK_PATH)], 2, says);
    r.cli(&[os("hold"), os("--for"), os("0s"), r.os("d")], 2, says);
    r.cli(
        &[
            os("hold"),
            os("--wait=50ms"),
            os("--for"),
            os("0s"),
            r.os("d"),
        ],
        2,
        says,
    );
    r.watch(false, &[r.os("d")], "error", says);
}

/// The corrupt watch-list cases: `Store::load` starts empty and says where the file went (the
/// disk check verifies the move); `reason` are words of the reason it gives.
fn set_aside(r: &mut Run, reason: &[&str]) {
    let store = Store::new(r.path("cfg"));
    let loaded = r.lib("Store::load", Want::Ok, &[], move || store.load());
    let Some(Ok(loaded)) = loaded else { return };
    if loaded.state != State::default() {
        r.fail(
            "Store::load",
            format!("expected no lists: {:?}", loaded.state),
        );
    }
    match &loaded.warnings[..] {
        [warning @ watchlist::Warning::SetAside { backup, .. }] => {
            let text = warning.to_string();
            let mut says = vec![
                "cfg/lockscope.toml was corrupt",
                "moved aside to",
                "cfg/lockscope.toml.bak",
            ];
            says.extend(reason);
            r.says("Store::load warning", &text, &says);
            if backup != &r.path("cfg/lockscope.toml.bak") {
                r.fail("Store::load", format!("backup at {backup:?}"));
            }
            if text.contains('\n') {
                r.fail("Store::load", format!("warning is not one line: {text}"));
            }
        }
        other => r.fail(
            "Store::load",
            format!("expected one SetAside warning: {other:?}"),
        ),
    }
}

pub(super) fn sample() -> State {
    let mut state = State::default();
    let dirs = [PathBuf::from("/etc/letsencrypt"), PathBuf::from("/srv/x")];
    state
        .insert(WatchList::new("certbot", dirs).unwrap())
        .unwrap();
    state
}

// ---- Beyond the table ------------------------------------------------------------------------

/// A non-UTF-8 directory can be locked and probed like any other (the table checks its
/// read-only surfaces; a lock changes the directory, so it is not a table case).
#[test]
fn non_utf8_directory_can_be_locked() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(OsStr::from_bytes(CAFE));
    std::fs::create_dir(&dir).unwrap();
    let lock = lock_dir(&dir).expect("lock a non-UTF-8 directory");
    assert_eq!(probe(dir.join(LOCK)).unwrap(), LockState::HeldByThisProcess);
    drop(lock);
    assert!(!dir.join(LOCK).exists());
}

/// A lock file the user may not open (certbot's 0600 file, owned by root) is still probed,
/// through the kernel's lock table, without opening it.
#[test]
fn unopenable_lock_file_is_probed_through_the_lock_table() {
    let root = tempfile::tempdir().unwrap();
    chmod(root.path(), 0o755);
    let dir = root.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o755);

    let certbot = certbot_lock_dir(&dir).expect_locked();
    if !is_root() {
        // Not root: mode 000 keeps even the owner from opening it.
        chmod(&dir.join(LOCK), 0o000);
    }
    let out =
        lockscope_unprivileged(&[OsStr::new("status"), OsStr::new("--json"), dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["state"], "held");
    assert_eq!(
        v[0]["holder"]["pid"], certbot.pid,
        "classic lock rows carry the pid"
    );
    certbot.kill();

    let out =
        lockscope_unprivileged(&[OsStr::new("status"), OsStr::new("--json"), dir.as_os_str()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["state"], "free");
}
