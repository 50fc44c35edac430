//! Hostile inputs, as one table: lock paths that are symlinks, directories, FIFOs, sockets;
//! directories that are missing, files, unreadable, read-only; paths that are not UTF-8 or too
//! long; watch-list files that are empty, truncated, binary, huge, wrong-typed, enormous, or not
//! files at all. Each case goes through every surface it applies to (the CLI's `status`, `hold`,
//! `watch` and `gui`, the library's `probe` and `lock_dir`, the watch-list `Store`, `import` and
//! `export`) and must give a clear message naming the problem and the path, the exit code
//! README.md documents, no panic and no hang, and leave the disk exactly as it was (every entry's
//! type, mode, size, content hash, times, inode, link count, owner and symlink target), except
//! where the documented behaviour is to move a corrupt watch list aside, which is then checked
//! exactly: the file, inode and bytes, is now at `.bak` and nothing else changed.
//!
//! Every case runs; the failures are reported together, by case name. RELIABILITY.md lists the
//! cases. Permission cases run their library calls in a child process (this test binary again)
//! as an unprivileged user, since root ignores file modes.
#![cfg(unix)]

mod common;

use common::*;
use lockscope::probe::{LockState, probe};
use lockscope::watchlist::{self, State, Store, WatchList};
use lockscope::{lock_dir, lock_dir_with_name};
use std::fmt::{Debug, Display};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

// ---- The table -------------------------------------------------------------------------------

/// One hostile input: `setup` builds it under a fresh root directory, `run` feeds it to every
/// surface it applies to and checks each answer, `disk` says what may change on disk.
struct Case {
    name: &'static str,
    setup: fn(&Path),
    run: fn(&mut Run),
    disk: Disk,
}

/// What the disk must look like after `run`, compared with a snapshot taken after `setup`.
#[derive(Clone, Copy)]
enum Disk {
    /// Every entry exactly as it was.
    Unchanged,
    /// The documented set-aside of a corrupt watch list: the entry `from` (relative to the root)
    /// is now at `to`, the same inode with the same bytes, mode and mtime; nothing else changed
    /// except the times and size of their directory.
    MovedAside {
        from: &'static str,
        to: &'static str,
    },
}

/// Whether a library call must succeed or fail.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    Ok,
    Err,
}

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

const CASES: &[Case] = &[
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
            r.cli(&args, 2, &["cannot open the window", "DISPLAY"]);
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

fn sample() -> State {
    let mut state = State::default();
    let dirs = [PathBuf::from("/etc/letsencrypt"), PathBuf::from("/srv/x")];
    state
        .insert(WatchList::new("certbot", dirs).unwrap())
        .unwrap();
    state
}

// ---- Running a case --------------------------------------------------------------------------

#[test]
fn hostile_inputs() {
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    // LOCKSCOPE_HOSTILE_CASE=words runs only the cases whose name contains them.
    let only = std::env::var("LOCKSCOPE_HOSTILE_CASE").unwrap_or_default();
    for case in CASES.iter().filter(|c| c.name.contains(&only)) {
        let case_started = Instant::now();
        let problems = match catch_unwind(AssertUnwindSafe(|| run_case(case))) {
            Ok(problems) => problems,
            Err(panic) => vec![format!("the case panicked: {}", panic_text(&*panic))],
        };
        let verdict = if problems.is_empty() { "ok" } else { "FAILED" };
        rows.push(format!(
            "{verdict:6} {:>7.2?}  {}",
            case_started.elapsed(),
            case.name
        ));
        if !problems.is_empty() {
            failed.push(format!("{}:\n    {}", case.name, problems.join("\n    ")));
        }
    }
    eprintln!(
        "{} hostile cases in {:.1?}:\n{}",
        CASES.len(),
        started.elapsed(),
        rows.join("\n")
    );
    assert!(
        failed.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n")
    );
}

fn run_case(case: &Case) -> Vec<String> {
    let root = tempfile::tempdir().unwrap();
    // Reachable by the unprivileged user of the permission cases (tempdirs are 0700).
    chmod(root.path(), 0o755);
    let root_path = root.path().canonicalize().unwrap();
    (case.setup)(&root_path);
    let before = snapshot(&root_path);
    let mut run = Run {
        root: root_path.clone(),
        problems: Vec::new(),
    };
    (case.run)(&mut run);
    let after = snapshot(&root_path);
    let mut problems = run.problems;
    problems.extend(match case.disk {
        Disk::Unchanged => diff(&before, &after, &root_path),
        Disk::MovedAside { from, to } => {
            moved_aside(&before, &after, &root_path.join(from), &root_path.join(to))
        }
    });
    // Let TempDir remove what modes would keep a non-root user from removing.
    restore_modes(&root_path);
    problems
}

/// The entries that differ, were created or were removed.
fn diff(before: &Snapshot, after: &Snapshot, root: &Path) -> Vec<String> {
    let show = |p: &Path| match p.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => clip(&rel.display().to_string()),
        Err(_) => clip(&p.display().to_string()),
    };
    let mut problems = Vec::new();
    for (path, old) in before {
        match after.get(path) {
            None => problems.push(format!("disk: {} was removed", show(path))),
            Some(new) if new != old => {
                problems.push(format!("disk: {} changed: {old:?} -> {new:?}", show(path)))
            }
            _ => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        problems.push(format!("disk: {} was created", show(path)));
    }
    problems
}

/// `from` is now `to` (same inode, bytes, mode, mtime, owner, link target); nothing else
/// changed except the times and size of the directory they are in.
fn moved_aside(before: &Snapshot, after: &Snapshot, from: &Path, to: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(original) = before.get(from) else {
        return vec![format!("disk: {from:?} did not exist before")];
    };
    match after.get(to) {
        None => problems.push(format!(
            "disk: nothing at {to:?}; the original bytes are lost"
        )),
        Some(backup) => {
            // A link and an unlink change the inode's ctime; nothing else may differ.
            let same = common::Entry {
                ctime: original.ctime,
                ..backup.clone()
            };
            if &same != original {
                problems.push(format!(
                    "disk: {to:?} is not the original: {original:?} -> {backup:?}"
                ));
            }
        }
    }
    if after.contains_key(from) {
        problems.push(format!("disk: {from:?} is still there"));
    }
    let parent = from.parent().unwrap_or(from);
    let mut rest_before = before.clone();
    let mut rest_after = after.clone();
    for snap in [&mut rest_before, &mut rest_after] {
        snap.remove(from);
        snap.remove(to);
        if let Some(dir) = snap.get_mut(parent) {
            (dir.mtime, dir.ctime, dir.size) = ((0, 0), (0, 0), 0);
        }
    }
    problems.extend(diff(&rest_before, &rest_after, parent));
    problems
}

fn restore_modes(root: &Path) {
    for path in snapshot(root).keys() {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
        }
    }
}

/// A case's calls and the problems found so far.
struct Run {
    root: PathBuf,
    problems: Vec<String>,
}

/// Generous: a debug build on 2 cores shared with other builds.
const LIMIT: Duration = Duration::from_secs(30);

impl Run {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `root/rel` as a command-line argument (leaked: cases are few and short).
    fn os(&self, rel: &str) -> &'static OsStr {
        Box::leak(self.path(rel).into_os_string().into_boxed_os_str())
    }

    fn fail(&mut self, call: &str, what: String) {
        let call = call.replace(&*self.root.to_string_lossy(), "ROOT");
        let what = what.replace(&*self.root.to_string_lossy(), "ROOT");
        self.problems
            .push(format!("{}: {}", clip(&call), clip(&what)));
    }

    /// `text` must contain each of `words`, ignoring case.
    fn says(&mut self, call: &str, text: &str, words: &[&str]) {
        let lower = text.to_lowercase();
        for word in words {
            if !lower.contains(&word.to_lowercase()) {
                self.fail(call, format!("the message should say {word:?}: {text}"));
            }
        }
        if text.contains("panicked") {
            self.fail(call, format!("panicked: {text}"));
        }
    }

    /// Runs `lockscope ARGS` in the root directory, without a display.
    fn cli(&mut self, args: &[&OsStr], exit: i32, says: &[&str]) -> String {
        self.cli_as(false, args, exit, says)
    }

    /// Runs `lockscope ARGS` as an unprivileged user (see `common::unprivileged_lockscope`).
    fn cli_nobody(&mut self, args: &[&OsStr], exit: i32, says: &[&str]) -> String {
        self.cli_as(true, args, exit, says)
    }

    fn cli_as(&mut self, nobody: bool, args: &[&OsStr], exit: i32, says: &[&str]) -> String {
        let mut cmd = if nobody {
            unprivileged_lockscope()
        } else {
            lockscope()
        };
        cmd.args(args).current_dir(&self.root);
        for var in ["DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET"] {
            cmd.env_remove(var);
        }
        let call = format!(
            "lockscope {}{}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            if nobody { " (unprivileged)" } else { "" }
        );
        let ran = run_limited(cmd, LIMIT);
        if ran.hung {
            self.fail(&call, format!("still running after {LIMIT:?}; killed"));
            return ran.stdout;
        }
        if ran.code != Some(exit) {
            self.fail(
                &call,
                format!("exit code {:?}, expected {exit}: {}", ran.code, ran.stderr),
            );
        }
        let all = format!("{}{}", ran.stdout, ran.stderr);
        self.says(&call, &all, says);
        if exit != 0 && ran.stderr.trim().is_empty() && ran.stdout.trim().is_empty() {
            self.fail(&call, "failed without a message".into());
        }
        ran.stdout
    }

    /// `status --json` output: one record whose state is `state`.
    fn json_state(&mut self, call: &str, stdout: &str, state: &str) {
        match serde_json::from_str::<serde_json::Value>(stdout) {
            Ok(v) if v[0]["state"] == state => {}
            Ok(v) => self.fail(call, format!("state {}, expected {state}", v[0]["state"])),
            Err(e) => self.fail(call, format!("not JSON ({e}): {stdout}")),
        }
    }

    /// Calls `f` on another thread; a panic or no answer within [`LIMIT`] is a problem, and so
    /// is the wrong outcome or an error message without `says`.
    fn lib<T, E>(
        &mut self,
        call: &str,
        want: Want,
        says: &[&str],
        f: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Option<Result<T, String>>
    where
        T: Debug + Send + 'static,
        E: Display + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        // A hung call leaves its thread behind; the process ends it.
        std::thread::spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(f)).map(|r| r.map_err(|e| e.to_string()));
            let _ = tx.send(result);
        });
        let result = match rx.recv_timeout(LIMIT) {
            Err(_) => {
                self.fail(call, format!("no answer within {LIMIT:?} (hangs)"));
                return None;
            }
            Ok(Err(panic)) => {
                self.fail(call, format!("panicked: {}", panic_text(&*panic)));
                return None;
            }
            Ok(Ok(result)) => result,
        };
        match (&result, want) {
            (Ok(value), Want::Err) => {
                self.fail(call, format!("expected an error, got Ok({value:?})"))
            }
            (Err(e), Want::Ok) => self.fail(call, format!("expected success, got: {e}")),
            (Err(e), Want::Err) => self.says(call, e, says),
            (Ok(_), Want::Ok) => {}
        }
        Some(result)
    }

    /// Runs a library call as the unprivileged user: this test binary again, in
    /// [`unprivileged_child`]. Returns the result's text (`Ok` as Debug, `Err` as Display).
    fn child(&mut self, op: &str, path: &Path, want: Want, says: &[&str]) -> String {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args([
            "--exact",
            "unprivileged_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_OP, op)
        .env(CHILD_PATH, path)
        .current_dir(&self.root);
        let call = format!("{op} {} (unprivileged)", path.display());
        let ran = run_limited(cmd, LIMIT);
        // The harness may print "test unprivileged_child ... " before it on the same line.
        let line = ran
            .stdout
            .lines()
            .find_map(|l| l.split_once(CHILD_MARK).map(|(_, rest)| rest));
        let (ok, text) = match line {
            _ if ran.hung => (None, String::new()),
            Some(l) => match l.split_once(' ') {
                Some(("ok", text)) => (Some(true), text.to_string()),
                Some((_, text)) => (Some(false), text.to_string()),
                None => (None, l.to_string()),
            },
            None => (None, String::new()),
        };
        match (ok, want) {
            (None, _) => self.fail(
                &call,
                format!(
                    "no result (hung: {}): {}{}",
                    ran.hung, ran.stdout, ran.stderr
                ),
            ),
            (Some(true), Want::Err) => self.fail(&call, format!("expected an error, got {text}")),
            (Some(false), Want::Ok) => self.fail(&call, format!("expected success, got: {text}")),
            (Some(false), Want::Err) => self.says(&call, &text, says),
            (Some(true), Want::Ok) => {}
        }
        if ran.stderr.contains("panicked") {
            self.fail(&call, format!("panicked: {}", ran.stderr));
        }
        text
    }

    /// `lockscope watch --json ARGS` (one DIR): its first line must have state `state` and say
    /// `says`; then SIGTERM must end it with exit 0 (README).
    fn watch(&mut self, nobody: bool, args: &[&OsStr], state: &str, says: &[&str]) {
        let mut cmd = if nobody {
            unprivileged_lockscope()
        } else {
            lockscope()
        };
        cmd.args(["watch", "--json"]);
        if !args.contains(&os("--interval")) {
            // A long interval: only the initial line is expected.
            cmd.args(["--interval", "60s"]);
        }
        cmd.args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let call = format!(
            "lockscope watch {}{}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            if nobody { " (unprivileged)" } else { "" }
        );
        let mut child = cmd.spawn().expect("start lockscope watch");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        match lines.recv_timeout(LIMIT) {
            Ok(Ok(line)) => match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(v) if v["state"] == state => self.says(&call, &line, says),
                Ok(v) => self.fail(&call, format!("state {}, expected {state}", v["state"])),
                Err(e) => self.fail(&call, format!("not JSON ({e}): {line}")),
            },
            other => self.fail(&call, format!("no initial line: {other:?}")),
        }
        // SAFETY: kill has no memory preconditions; the pid is our child's, not yet reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let started = Instant::now();
        let code = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status.code();
            }
            if started.elapsed() > LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stderr = errors.join().unwrap_or_default();
        if code != Some(0) {
            self.fail(
                &call,
                format!("exit code {code:?} after SIGTERM, expected 0: {stderr}"),
            );
        }
        if stderr.contains("panicked") {
            self.fail(&call, format!("panicked: {stderr}"));
        }
    }
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    hung: bool,
}

/// Runs `cmd` to completion, or kills it after `limit`.
fn run_limited(mut cmd: Command, limit: Duration) -> Ran {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read_all(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let (code, hung) = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break (status.code(), false);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Ran {
        code,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        hung,
    }
}

// ---- The unprivileged child ------------------------------------------------------------------

const CHILD_OP: &str = "LOCKSCOPE_HOSTILE_OP";
const CHILD_PATH: &str = "LOCKSCOPE_HOSTILE_PATH";
const CHILD_MARK: &str = "hostile-child-result: ";

/// Not a test of its own: when `Run::child` re-runs this binary as an unprivileged user with
/// `LOCKSCOPE_HOSTILE_OP` set, this performs that one library call and prints its result.
/// Otherwise it does nothing.
#[test]
fn unprivileged_child() {
    let (Some(op), Some(path)) = (
        std::env::var_os(CHILD_OP),
        std::env::var_os(CHILD_PATH).map(PathBuf::from),
    ) else {
        return;
    };
    fn text<T: Debug, E: Display>(r: Result<T, E>) -> String {
        match r {
            Ok(v) => format!("ok {v:?}"),
            Err(e) => format!("err {e}"),
        }
    }
    let result = match op.to_str() {
        Some("probe") => text(probe(&path)),
        Some("lock_dir") => text(lock_dir(&path)),
        Some("load") => text(Store::new(&path).load()),
        Some("save") => text(Store::new(&path).save(&sample())),
        Some("import") => text(watchlist::import(&path)),
        _ => format!("err unknown op {op:?}"),
    };
    println!("{CHILD_MARK}{}", result.replace('\n', " "));
}

// ---- Helpers ---------------------------------------------------------------------------------

fn os(s: &'static str) -> &'static OsStr {
    OsStr::new(s)
}

fn mkdir(root: &Path, rel: &str) {
    std::fs::create_dir_all(root.join(rel)).unwrap();
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    std::fs::write(root.join(rel), bytes).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// At most 300 characters (overlong paths would fill the report).
fn clip(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
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
