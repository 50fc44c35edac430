//! The CLI contract: subcommand names, output formats, exit codes and JSON keys.

use crate::common::*;
use std::time::{Duration, Instant};

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn status_json_has_the_contract_keys_in_path_order() {
    let root = tempfile::tempdir().unwrap();
    let (absent, stale, held) = (
        root.path().join("a"),
        root.path().join("b"),
        root.path().join("c"),
    );
    for d in [&absent, &stale, &held] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(stale.join(LOCK), b"").unwrap();
    let holder = lockscope_hold(&["--for", "60s", held.to_str().unwrap()]);

    let out = run(lockscope()
        .args(["status", "--json"])
        .args([&absent, &stale, &held])
        .arg(stale.join(LOCK)));
    assert_eq!(out.status.code(), Some(0));
    let v = json_of(&out);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let mut keys: Vec<_> = row.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        // The original contract's keys, plus the diagnosis (issue 12; `warnings` only when
        // there is one), plus `host` (issue 14: null for a local path).
        assert_eq!(row["host"], serde_json::Value::Null, "{row}");
        assert_eq!(
            keys,
            [
                "dir",
                "error",
                "held_since",
                "held_since_source",
                "holder",
                "host",
                "lock_file",
                "lock_set",
                "state"
            ]
        );
    }
    for row in &rows[..2] {
        assert_eq!(row["held_since"], serde_json::Value::Null, "{row}");
        assert_eq!(row["lock_set"], serde_json::json!([]), "{row}");
    }
    let mut holder_keys: Vec<_> = rows[2]["holder"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    holder_keys.sort();
    assert_eq!(
        holder_keys,
        [
            "children",
            "command",
            "container",
            "pid",
            "process_state",
            "started",
            "uid",
            "unit",
            "user",
            "waiting_for"
        ]
    );
    assert!(rows[2]["held_since"].is_string(), "{}", rows[2]);
    assert_eq!(rows[0]["state"], "absent");
    assert_eq!(rows[0]["holder"], serde_json::Value::Null);
    assert_eq!(rows[0]["dir"], absent.to_str().unwrap());
    assert_eq!(rows[0]["lock_file"], absent.join(LOCK).to_str().unwrap());
    assert_eq!(rows[1]["state"], "free");
    assert_eq!(rows[2]["state"], "held");
    assert_eq!(rows[2]["holder"]["pid"], holder.child.id());
    let cmd = rows[2]["holder"]["command"].as_str().unwrap();
    assert!(cmd.contains("lockscope hold --for 60s"), "{cmd}");
    assert_eq!(rows[2]["error"], serde_json::Value::Null);
    // A lock file given directly: its directory is the parent.
    assert_eq!(rows[3]["dir"], stale.to_str().unwrap());
    assert_eq!(rows[3]["state"], "free");
}

#[test]
fn status_table_shows_dir_state_pid_command() {
    let root = tempfile::tempdir().unwrap();
    let held = root.path().join("held");
    std::fs::create_dir(&held).unwrap();
    let holder = lockscope_hold(&["--for", "60s", held.to_str().unwrap()]);

    let out = run(lockscope().arg("status").arg(root.path()).arg(&held));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["DIR", "STATE", "PID", "HELD", "FOR", "COMMAND"]);
    assert_eq!(
        lines[1][..5],
        [root.path().to_str().unwrap(), "absent", "-", "-", "-"]
    );
    assert_eq!(
        lines[2][..3],
        [
            held.to_str().unwrap(),
            "held",
            &holder.child.id().to_string()
        ]
    );
    // HELD FOR: the lock is seconds old ("0 s".."9 s").
    assert_eq!(lines[2][4], "s", "{text}");
    assert!(lines[2][3].parse::<u32>().is_ok_and(|s| s < 30), "{text}");
    assert!(lines[2][5..].join(" ").contains("lockscope hold"));
}

#[test]
fn status_exits_2_when_any_path_is_an_error_but_reports_all() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("missing");
    let out = run(lockscope()
        .args(["status", "--json"])
        .arg(root.path())
        .arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    let v = json_of(&out);
    assert_eq!(v[0]["state"], "absent");
    assert_eq!(v[1]["state"], "error");
    assert!(v[1]["error"].as_str().unwrap().contains("does not exist"));

    let out = run(lockscope().arg("status").arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not exist"));
}

#[test]
fn hold_prints_one_line_holds_for_the_duration_then_removes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    let start = Instant::now();
    let mut holder = lockscope_hold(&["--for", "1s", dir.path().to_str().unwrap()]);
    assert_eq!(
        holder.line,
        format!("held {} pid {}\n", lock.display(), holder.child.id())
    );
    assert!(lock.exists());
    let state = json_of(&run(lockscope().args(["status", "--json"]).arg(dir.path())));
    assert_eq!(state[0]["state"], "held");
    assert_eq!(holder.wait_exit(Duration::from_secs(10)), 0);
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert!(!lock.exists(), "release removes the lock file");
    assert_eq!(holder.rest_of_stdout(), "", "exactly one line on stdout");
}

#[test]
fn hold_releases_on_sigterm_and_sigint() {
    for sig in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let mut holder = lockscope_hold(&[dir.path().to_str().unwrap()]);
        assert!(holder.line.starts_with("held "));
        holder.signal(sig);
        assert_eq!(holder.wait_exit(Duration::from_secs(10)), 0, "SIG{sig}");
        assert!(
            !dir.path().join(LOCK).exists(),
            "SIG{sig}: lock file removed"
        );
    }
}

#[test]
fn hold_on_a_busy_lock_exits_1_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = lockscope_hold(&["--for", "60s", dir.path().to_str().unwrap()]);
    let out = run(lockscope().arg("hold").arg(dir.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("pid {}", first.child.id())), "{err}");
    assert!(err.contains("lockscope hold --for 60s"), "{err}");
}

#[test]
fn hold_wait_with_timeout_gives_up_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let first = lockscope_hold(&["--for", "60s", dir.path().to_str().unwrap()]);
    let start = Instant::now();
    let out = run(lockscope().args(["hold", "--wait=400ms"]).arg(dir.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(start.elapsed() >= Duration::from_millis(400));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("timed out") && err.contains(&format!("pid {}", first.child.id())),
        "{err}"
    );
}

#[test]
fn hold_wait_takes_the_lock_when_released_and_sigterm_stops_a_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = lockscope_hold(&["--for", "600ms", dir.path().to_str().unwrap()]);
    let mut second = lockscope_hold(&["--wait", "--for", "0s", dir.path().to_str().unwrap()]);
    assert!(
        second.line.starts_with("held "),
        "waiter eventually holds: {:?}",
        second.line
    );
    assert_eq!(first.wait_exit(Duration::from_secs(5)), 0);
    assert_eq!(second.wait_exit(Duration::from_secs(5)), 0);

    let _third = lockscope_hold(&["--for", "60s", dir.path().to_str().unwrap()]);
    let mut waiter = lockscope()
        .args(["hold", "--wait"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiter.try_wait().unwrap().is_none(), "still waiting");
    std::process::Command::new("kill")
        .args(["-TERM", &waiter.id().to_string()])
        .status()
        .unwrap();
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stopped before holding: not acquired"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2_and_no_subcommand_opens_the_app() {
    for args in [
        vec!["bogus"],
        vec!["status"],
        vec!["hold"],
        vec!["hold", "--for", "soon", "/tmp"],
        vec!["hold", "--wait=never", "/tmp"],
        vec!["status", "--lock-name", "../escape", "/tmp"],
        vec!["status", "--lock-name", "", "/tmp"],
    ] {
        let out = run(lockscope().args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} explains itself");
    }
    let out = run(lockscope().arg("help"));
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("status") && help.contains("hold") && help.contains("watch"),
        "{help}"
    );

    // Without a subcommand lockscope opens the app; with no display it says so and exits 2.
    let out = run(lockscope()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_CONFIG_HOME", std::env::temp_dir()));
    let err = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "gui") {
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("no display for the window"), "{err}");
    } else {
        // Built without the app (lockscope-cli): the help, and `gui` is not a command.
        assert_eq!(out.status.code(), Some(0), "{err}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Usage: lockscope") && help.contains("status"),
            "lockscope alone without the app prints the help: {help}"
        );
        let out = run(lockscope().arg("gui"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.starts_with("error: unrecognized subcommand 'gui'"),
            "lockscope gui without the app: {err}"
        );
    }
}

#[test]
fn custom_lock_name_for_status_and_hold() {
    let dir = tempfile::tempdir().unwrap();
    let holder = lockscope_hold(&[
        "--lock-name",
        "mine.lock",
        "--for",
        "60s",
        dir.path().to_str().unwrap(),
    ]);
    assert!(holder.line.contains("mine.lock"));
    let v = json_of(&run(lockscope()
        .args(["status", "--json", "--lock-name", "mine.lock"])
        .arg(dir.path())));
    assert_eq!(v[0]["state"], "held");
    let v = json_of(&run(lockscope().args(["status", "--json"]).arg(dir.path())));
    assert_eq!(v[0]["state"], "absent", "the default name is another lock");
}

// ---- text output never carries raw control or bidi characters (names are chosen by users) ----

/// What must never reach a terminal raw: controls (C0, DEL, C1), bidi controls, line/paragraph
/// separators, zero-width characters. (Independent of lockscope's own list, on purpose.)
fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// The lines of a text output ending in a newline, each checked free of dangerous characters.
#[track_caller]
fn clean_lines(what: &str, bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8 output");
    let body = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{what}: output does not end in a newline: {text:?}"));
    let lines: Vec<String> = body.split('\n').map(str::to_string).collect();
    for line in &lines {
        assert!(
            !line.chars().any(is_dangerous),
            "{what}: a raw control or bidi character in {line:?}"
        );
    }
    lines
}

/// A process holding a plain `fcntl.lockf` lock on a file, its argv[0] chosen by the test (as
/// `exec -a` does): how a local user puts anything into the holder's command line.
struct ArgvHolder {
    child: std::process::Child,
}

impl ArgvHolder {
    fn start(argv0: &str, lock: &std::path::Path) -> ArgvHolder {
        use std::io::BufRead;
        let script = "import sys, fcntl\n\
                      f = open(sys.argv[1], 'w')\n\
                      fcntl.lockf(f, fcntl.LOCK_EX)\n\
                      print('locked', flush=True)\n\
                      sys.stdin.read()\n";
        let mut child = std::process::Command::new("bash")
            .args(["-c", r#"exec -a "$0" "$1" -c "$2" "$3""#, argv0])
            .arg(certbot_python())
            .arg(script)
            .arg(lock)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the hostile holder");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "locked\n");
        ArgvHolder { child }
    }
}

impl Drop for ArgvHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn status_table_escapes_a_hostile_holder_command_in_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let argv0 = "\r/x  free  -  -\x1b[K\n/etc/letsencrypt  free\u{202e}";
    let holder = ArgvHolder::start(argv0, &dir.path().join(LOCK));
    let out = run(lockscope().arg("status").arg(dir.path()));
    assert_eq!(out.status.code(), Some(0));
    let lines = clean_lines("status", &out.stdout);
    assert_eq!(lines.len(), 2, "a header and exactly one row: {lines:?}");
    let row = &lines[1];
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        fields[1..3],
        ["held", &holder.child.id().to_string()],
        "{row}"
    );
    for shown in ["\\r/x", "\\e[K", "\\n/etc/letsencrypt", "\\u{202e}"] {
        assert!(row.contains(shown), "{shown} visible in {row:?}");
    }
    // JSON keeps the raw command line.
    let v = json_of(&run(lockscope().args(["status", "--json"]).arg(dir.path())));
    let cmd = v[0]["holder"]["command"].as_str().unwrap();
    assert!(cmd.starts_with(argv0), "{cmd:?}");
}

#[test]
fn a_hostile_directory_name_is_one_escaped_line_everywhere() {
    use std::io::BufRead;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("evil\nname\x1b[2J\u{202e}");
    std::fs::create_dir(&dir).unwrap();
    let shown = format!("{}/evil\\nname\\e[2J\\u{{202e}}", root.path().display());

    // status: one row, and JSON keeps the raw name.
    let out = run(lockscope().arg("status").arg(&dir));
    assert_eq!(out.status.code(), Some(0));
    let lines = clean_lines("status", &out.stdout);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].starts_with(&format!("{shown}  absent")),
        "{lines:?}"
    );
    let v = json_of(&run(lockscope().args(["status", "--json"]).arg(&dir)));
    assert_eq!(v[0]["dir"], dir.to_str().unwrap());

    // watch: one line per change.
    let mut watch = lockscope()
        .arg("watch")
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(watch.stdout.take().unwrap());
    let mut next_line = || {
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        clean_lines("watch", line.as_bytes()).remove(0)
    };
    let initial = next_line();
    assert!(
        initial.ends_with(&format!("  {shown}  absent  (initial)")),
        "{initial:?}"
    );

    // hold: its one line; a second hold's busy message: one line.
    let holder = lockscope_hold(&["--for", "60s", dir.to_str().unwrap()]);
    let held = clean_lines("hold", holder.line.as_bytes());
    assert_eq!(
        held,
        [format!("held {shown}/{LOCK} pid {}", holder.child.id())]
    );
    let change = next_line();
    assert!(
        change.contains(&format!("  {shown}  held by pid {}", holder.child.id())),
        "{change:?}"
    );
    let _ = watch.kill();
    let _ = watch.wait();

    let out = run(lockscope().arg("hold").arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    let busy = clean_lines("busy message", &out.stderr);
    assert_eq!(busy.len(), 1, "{busy:?}");
    assert!(
        busy[0].starts_with(&format!("lockscope: {shown}/{LOCK} is locked by pid")),
        "{busy:?}"
    );

    let mut watch = WatchJson::spawn(lockscope().args(["watch", "--json"]).arg(&dir));
    assert_eq!(watch.next_line()["dir"], dir.to_str().unwrap());
}

// ---- pipes and write errors ----

/// Waits for `child` to exit within `limit`; its exit code.
#[track_caller]
fn exit_within(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stderr_of(child: &mut std::process::Child) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut text).unwrap();
    text
}

#[test]
fn watch_exits_promptly_when_its_reader_goes_away() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    // `lockscope watch DIR | head -1`: the reader takes one line and leaves; nothing changes.
    let mut watch = lockscope()
        .arg("watch")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(watch.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.ends_with("(initial)\n"), "{line:?}");
    drop(reader);
    assert_eq!(exit_within(&mut watch, Duration::from_secs(2)), Some(0));
    assert_eq!(stderr_of(&mut watch), "", "a closed pipe is not an error");

    // A pipe already closed at the first write: quiet, exit 0.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut watch = lockscope()
        .arg("watch")
        .arg(dir.path())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(exit_within(&mut watch, Duration::from_secs(5)), Some(0));
    assert_eq!(stderr_of(&mut watch), "");
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
}

#[test]
fn watch_reports_a_write_error_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut watch = lockscope()
        .arg("watch")
        .arg(dir.path())
        .stdout(dev_full())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(exit_within(&mut watch, Duration::from_secs(5)), Some(2));
    let err = stderr_of(&mut watch);
    assert!(
        err.starts_with("lockscope: cannot write output: ") && err.contains("No space left"),
        "{err:?}"
    );
}

#[test]
fn status_into_a_closed_pipe_exits_0_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for json in [false, true] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut cmd = lockscope();
        cmd.arg("status");
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .arg(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "json: {json}");
        assert_eq!(out.status.code(), Some(0), "json: {json}");
    }
    // Other write errors are still errors.
    let out = lockscope()
        .arg("status")
        .arg(dir.path())
        .stdout(dev_full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("lockscope: cannot write output: "));
}

#[test]
fn hold_that_cannot_write_its_held_line_says_so_and_releases() {
    let dir = tempfile::tempdir().unwrap();
    let mut hold = lockscope()
        .args(["hold", "--for", "60s"])
        .arg(dir.path())
        .stdout(dev_full())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(exit_within(&mut hold, Duration::from_secs(5)), Some(2));
    let err = stderr_of(&mut hold);
    assert!(
        err.starts_with("lockscope: cannot write the \"held\" line to stdout: "),
        "{err:?}"
    );
    assert!(!dir.path().join(LOCK).exists(), "released");
}

#[test]
fn hold_warns_when_its_lock_file_is_removed() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut holder = lockscope_hold(&["--for", "60s", dir.path().to_str().unwrap()]);
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = holder.child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let _ = tx.send(line);
        }
    });
    std::fs::remove_file(dir.path().join(LOCK)).unwrap();
    let line = rx
        .recv_timeout(Duration::from_secs(2))
        .expect("a warning within 2 s")
        .unwrap();
    assert_eq!(
        line,
        format!(
            "lockscope: warning: {} was removed or replaced while held; this lock no longer \
             excludes certbot",
            dir.path().join(LOCK).display()
        )
    );
    // Once, and the hold goes on until signalled, then exits 0.
    assert!(rx.recv_timeout(Duration::from_millis(1500)).is_err());
    assert!(holder.child.try_wait().unwrap().is_none(), "still holding");
    holder.signal("TERM");
    assert_eq!(holder.wait_exit(Duration::from_secs(5)), 0);
}

/// A tmpfs mounted for one test, and a read-only bind mount of it; both unmounted on drop.
struct Mounts(Vec<std::path::PathBuf>);

impl Drop for Mounts {
    fn drop(&mut self) {
        for m in self.0.iter().rev() {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(m)
                .status();
        }
    }
}

fn mount(args: &[&str], paths: &[&std::path::Path]) {
    let out = std::process::Command::new("mount")
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mount {args:?} {paths:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hold_on_a_read_only_mount_of_a_held_lock_is_busy() {
    assert!(
        is_root(),
        "this test mounts filesystems and must run as root (CI does)"
    );
    let root = tempfile::tempdir().unwrap();
    let (rw, ro) = (root.path().join("rw"), root.path().join("ro"));
    std::fs::create_dir(&rw).unwrap();
    std::fs::create_dir(&ro).unwrap();
    let mut mounts = Mounts(Vec::new());
    mount(&["-t", "tmpfs", "tmpfs"], &[&rw]);
    mounts.0.push(rw.clone());
    let certbot = certbot_lock_dir(&rw).expect_locked();
    // certbot keeps its lock file open for writing, so the tmpfs itself cannot be remounted
    // read-only (EBUSY); a read-only bind mount of it is the same directory, read-only.
    mount(&["--bind"], &[&rw, &ro]);
    mounts.0.push(ro.clone());
    mount(&["-o", "remount,bind,ro"], &[&ro]);

    let out = run(lockscope().arg("hold").arg(&ro));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("is locked by pid {}", certbot.pid)),
        "{err}"
    );

    // Not held: the read-only error stays.
    certbot.release();
    std::fs::write(rw.join(LOCK), b"").unwrap();
    let out = run(lockscope().arg("hold").arg(&ro));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("read-only"), "{err}");
}

/// A py-filelock / fs4 / `flock(1)` user holds a flock(2) lock on the lock file: certbot ignores
/// it, so the file is `free` for certbot, but status must not pretend nobody uses the file.
#[test]
fn status_names_a_flock_holder_without_calling_the_lock_held() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(LOCK);
    std::fs::write(&lock, b"").unwrap();
    let mut flock = std::process::Command::new("flock")
        .arg(&lock)
        .args(["-c", "echo locked; sleep 60"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("flock(1) from util-linux");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(flock.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let pid = flock.id();

    let out = run(lockscope().args(["status", "--json"]).arg(dir.path()));
    let v = json_of(&out);
    let row = &v[0];
    assert_eq!(row["state"], "free", "certbot is not excluded: {row}");
    assert_eq!(row["warnings"][0]["kind"], "flock", "{row}");
    assert_eq!(row["warnings"][0]["holder"]["pid"], pid, "{row}");
    let table = run(lockscope().arg("status").arg(dir.path()));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&format!("flock(2) lock on the lock file by pid {pid}"))
            && text.contains("does not exclude certbot"),
        "{text}"
    );
    let _ = flock.kill();
    let _ = flock.wait();
}
