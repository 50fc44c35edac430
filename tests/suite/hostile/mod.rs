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
//!
//! This file is the harness: the shape of a case, running it on every surface, the disk
//! snapshot checks, the unprivileged child. The table itself is in `cases.rs`.

use crate::common;

use crate::common::*;
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

mod cases;

use cases::{CASES, sample};

// ---- The shape of a case ---------------------------------------------------------------------

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
            "--ignored",
            "--exact",
            &child_test_name(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_OP, op)
        .env(CHILD_PATH, path)
        .current_dir(&self.root);
        let call = format!("{op} {} (unprivileged)", path.display());
        let ran = run_limited(cmd, LIMIT);
        // The harness may print "test hostile::unprivileged_child ... " before it on the same line.
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

/// The libtest name of [`unprivileged_child`] in whichever test binary this module is part of
/// (`hostile::unprivileged_child` in tests/tests.rs): its module path without the crate name.
fn child_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    if module.is_empty() {
        "unprivileged_child".to_string()
    } else {
        format!("{module}::unprivileged_child")
    }
}

/// Not a test of its own (so ignored: it is neither counted nor run with the others): when
/// `Run::child` re-runs this binary as an unprivileged user with `--ignored --exact` and
/// `LOCKSCOPE_HOSTILE_OP` set, this performs that one library call and prints its result.
#[test]
#[ignore = "helper: hostile::hostile_inputs runs it in an unprivileged child"]
fn unprivileged_child() {
    let (Some(op), Some(path)) = (
        std::env::var_os(CHILD_OP),
        std::env::var_os(CHILD_PATH).map(PathBuf::from),
    ) else {
        panic!("a helper, not a test: hostile's cases run it with {CHILD_OP} and {CHILD_PATH} set");
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
