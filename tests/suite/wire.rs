//! The JSON lines' exact bytes (issue 23): one snapshot per kind of line `status --json` and
//! `watch --json` print (local rows absent / free / held / error with the diagnosis keys and a
//! warning; remote rows over a real sshd; the connection line), with what changes from run to
//! run (the temporary root, pids, times) replaced by placeholders. Key order is part of what is
//! pinned: moving the wire format between modules must not change a byte.

use crate::common::sshd::{ALIAS, Sshd};
use crate::common::{LockscopeHolder, lockscope, lockscope_hold, run};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `s` with every RFC 3339 UTC time (`2026-01-02T03:04:05.678Z`, any precision) made `T`.
fn without_times(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let looks = b.len() >= i + 20
            && b[i..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 10] == b'T'
            && b[i + 13] == b':';
        if looks {
            let mut end = i + 19;
            while end < b.len() && (b[end].is_ascii_digit() || b[end] == b'.') {
                end += 1;
            }
            if b.get(end) == Some(&b'Z') {
                out.push('T');
                i = end + 1;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// The volatile parts of `text` as placeholders: the root, the binary, these pids, times.
fn normalize(text: &str, root: &Path, pids: &[(u32, &str)]) -> String {
    let mut text = text
        .replace(env!("CARGO_BIN_EXE_lockscope"), "BIN")
        .replace(root.to_str().unwrap(), "ROOT");
    for (pid, name) in pids {
        text = text.replace(&pid.to_string(), name);
    }
    without_times(&text)
}

fn assert_snapshot(got: &str, want: &str) {
    assert!(
        got == want,
        "the JSON bytes changed:\n--- want\n{want}\n--- got\n{got}"
    );
}

/// The fixtures: absent, free (a leftover file), free with a flock(2) holder (a warning),
/// held by a `lockscope hold` child, and a path under a regular file (an error).
struct Fixtures {
    root: tempfile::TempDir,
    holder: LockscopeHolder,
    flock: Child,
}

impl Fixtures {
    fn new() -> Fixtures {
        let root = tempfile::tempdir().unwrap();
        let at = |p: &str| root.path().join(p);
        for dir in ["absent", "stale", "flocked", "held", "notadir"] {
            std::fs::create_dir(at(dir)).unwrap();
        }
        std::fs::write(at("stale/.certbot.lock"), "").unwrap();
        std::fs::write(at("flocked/.certbot.lock"), "").unwrap();
        std::fs::write(at("notadir/file"), "").unwrap();
        let mut flock = Command::new("flock")
            .arg(at("flocked/.certbot.lock"))
            .args(["sh", "-c", "echo locked; exec sleep 60"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(flock.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "locked\n");
        let held = at("held");
        let holder = lockscope_hold(&[held.to_str().unwrap()]);
        Fixtures {
            root,
            holder,
            flock,
        }
    }

    fn path(&self, p: &str) -> String {
        self.root.path().join(p).to_str().unwrap().to_string()
    }

    fn normalize(&self, text: &str) -> String {
        normalize(
            text,
            self.root.path(),
            &[
                (self.holder.child.id(), "PID"),
                (self.flock.id(), "FLOCKPID"),
            ],
        )
    }
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = self.holder.child.kill();
        let _ = self.holder.child.wait();
        let _ = self.flock.kill();
        let _ = self.flock.wait();
    }
}

/// The first `n` lines `cmd` prints (it is killed then), within 20 s.
fn first_lines(cmd: &mut Command, n: usize) -> Vec<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    while lines.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(lines.len(), n, "{lines:#?}");
    lines
}

const STATUS_ROWS: &str = r#"[
  {
    "host": null,
    "dir": "ROOT/absent",
    "lock_file": "ROOT/absent/.certbot.lock",
    "state": "absent",
    "holder": null,
    "error": null,
    "held_since": null,
    "held_since_source": null,
    "lock_set": []
  },
  {
    "host": null,
    "dir": "ROOT/stale",
    "lock_file": "ROOT/stale/.certbot.lock",
    "state": "free",
    "holder": null,
    "error": null,
    "held_since": null,
    "held_since_source": null,
    "lock_set": []
  },
  {
    "host": null,
    "dir": "ROOT/flocked",
    "lock_file": "ROOT/flocked/.certbot.lock",
    "state": "free",
    "holder": null,
    "error": null,
    "held_since": null,
    "held_since_source": null,
    "lock_set": [],
    "warnings": [
      {
        "kind": "flock",
        "message": "a flock(2) lock on the lock file by pid FLOCKPID: flock ROOT/flocked/.certbot.lock sh -c echo locked; exec sleep 60; it does not exclude certbot",
        "holder": {
          "pid": FLOCKPID,
          "command": "flock ROOT/flocked/.certbot.lock sh -c echo locked; exec sleep 60"
        }
      }
    ]
  },
  {
    "host": null,
    "dir": "ROOT/held",
    "lock_file": "ROOT/held/.certbot.lock",
    "state": "held",
    "holder": {
      "pid": PID,
      "command": "BIN hold ROOT/held",
      "user": "root",
      "uid": 0,
      "started": "T",
      "process_state": "sleeping",
      "waiting_for": null,
      "children": [],
      "unit": null,
      "container": null
    },
    "error": null,
    "held_since": "T",
    "held_since_source": "lock-file-created",
    "lock_set": []
  },
  {
    "host": null,
    "dir": "ROOT/notadir/file/x",
    "lock_file": "ROOT/notadir/file/x/.certbot.lock",
    "state": "error",
    "holder": null,
    "error": "ROOT/notadir/file/x is not a directory",
    "held_since": null,
    "held_since_source": null,
    "lock_set": []
  }
]
"#;

const DIRS: [&str; 5] = ["absent", "stale", "flocked", "held", "notadir/file/x"];

#[test]
fn status_json_rows_keep_their_bytes() {
    let f = Fixtures::new();
    let out = run(lockscope()
        .args(["status", "--json"])
        .args(DIRS.map(|d| f.path(d))));
    assert_eq!(out.status.code(), Some(2), "an error row: exit 2");
    assert_snapshot(
        &f.normalize(&String::from_utf8(out.stdout).unwrap()),
        STATUS_ROWS,
    );
}

const WATCH_LINES: [&str; 5] = [
    r#"{"time":"T","host":null,"dir":"ROOT/absent","lock_file":"ROOT/absent/.certbot.lock","state":"absent","holder":null,"error":null,"cause":"initial","held_since":null,"held_since_source":null,"lock_set":[]}"#,
    r#"{"time":"T","host":null,"dir":"ROOT/flocked","lock_file":"ROOT/flocked/.certbot.lock","state":"free","holder":null,"error":null,"cause":"initial","held_since":null,"held_since_source":null,"lock_set":[],"warnings":[{"kind":"flock","message":"a flock(2) lock on the lock file by pid FLOCKPID: flock ROOT/flocked/.certbot.lock sh -c echo locked; exec sleep 60; it does not exclude certbot","holder":{"pid":FLOCKPID,"command":"flock ROOT/flocked/.certbot.lock sh -c echo locked; exec sleep 60"}}]}"#,
    r#"{"time":"T","host":null,"dir":"ROOT/held","lock_file":"ROOT/held/.certbot.lock","state":"held","holder":{"pid":PID,"command":"BIN hold ROOT/held","user":"root","uid":0,"started":"T","process_state":"sleeping","waiting_for":null,"children":[],"unit":null,"container":null},"error":null,"cause":"initial","held_since":"T","held_since_source":"lock-file-created","lock_set":[]}"#,
    r#"{"time":"T","host":null,"dir":"ROOT/notadir/file/x","lock_file":"ROOT/notadir/file/x/.certbot.lock","state":"error","holder":null,"error":"ROOT/notadir/file/x is not a directory","cause":"initial","held_since":null,"held_since_source":null,"lock_set":[]}"#,
    r#"{"time":"T","host":null,"dir":"ROOT/stale","lock_file":"ROOT/stale/.certbot.lock","state":"free","holder":null,"error":null,"cause":"initial","held_since":null,"held_since_source":null,"lock_set":[]}"#,
];

#[test]
fn watch_json_change_lines_keep_their_bytes() {
    let f = Fixtures::new();
    let mut lines: Vec<String> = first_lines(
        lockscope()
            .args(["watch", "--json"])
            .args(DIRS.map(|d| f.path(d))),
        DIRS.len(),
    )
    .iter()
    .map(|l| f.normalize(l))
    .collect();
    lines.sort();
    assert_snapshot(&lines.join("\n"), &WATCH_LINES.join("\n"));
}

const REMOTE_STATUS_ROWS: &str = r#"[
  {
    "host": "lstest",
    "dir": "ROOT/held",
    "lock_file": "ROOT/held/.certbot.lock",
    "state": "held",
    "holder": {
      "pid": PID,
      "command": "BIN hold ROOT/held",
      "children": [],
      "container": null,
      "process_state": "sleeping",
      "started": "T",
      "uid": 0,
      "unit": null,
      "user": "root",
      "waiting_for": null
    },
    "error": null,
    "held_since": "T",
    "held_since_source": "lock-file-created",
    "lock_set": []
  }
]
"#;

#[test]
fn remote_status_and_watch_lines_keep_their_bytes() {
    let sshd = Sshd::start();
    let f = Fixtures::new();
    let remote = |d: &str| format!("{ALIAS}:{}", f.path(d));
    let out = run(sshd
        .lockscope("ssh_config")
        .args(["status", "--json"])
        .arg(remote("held")));
    assert_eq!(out.status.code(), Some(0));
    assert_snapshot(
        &f.normalize(&String::from_utf8(out.stdout).unwrap()),
        REMOTE_STATUS_ROWS,
    );
    let mut lines: Vec<String> = first_lines(
        sshd.lockscope("ssh_config")
            .args(["watch", "--json"])
            .arg(remote("flocked"))
            .arg(remote("held")),
        4,
    )
    .iter()
    .map(|l| f.normalize(l))
    .collect();
    // The connection lines first, the rows in the order their directories were probed.
    lines.sort();
    assert_snapshot(&lines.join("\n"), &REMOTE_WATCH_LINES.join("\n"));
}

const REMOTE_WATCH_LINES: [&str; 4] = [
    r#"{"host":"lstest","dir":"ROOT/flocked","lock_file":"ROOT/flocked/.certbot.lock","state":"free","holder":null,"error":null,"held_since":null,"warnings":[{"kind":"flock","message":"a flock(2) lock on the lock file by pid FLOCKPID: flock ROOT/flocked/.certbot.lock sh -c echo locked; exec sleep 60; it does not exclude certbot","holder":{"command":"flock ROOT/flocked/.certbot.lock sh -c echo locked; exec sleep 60","pid":FLOCKPID}}],"cause":"initial","held_since_source":null,"lock_set":[],"time":"T"}"#,
    r#"{"host":"lstest","dir":"ROOT/held","lock_file":"ROOT/held/.certbot.lock","state":"held","holder":{"pid":PID,"command":"BIN hold ROOT/held","children":[],"container":null,"process_state":"sleeping","started":"T","uid":0,"unit":null,"user":"root","waiting_for":null},"error":null,"held_since":"T","cause":"initial","held_since_source":"lock-file-created","lock_set":[],"time":"T"}"#,
    r#"{"time":"T","host":"lstest","connection":"connected","reason":null,"reason_kind":null,"retry_in_ms":null}"#,
    r#"{"time":"T","host":"lstest","connection":"connecting","reason":null,"reason_kind":null,"retry_in_ms":null}"#,
];
