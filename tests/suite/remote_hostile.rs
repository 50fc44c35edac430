//! A remote lockscope that lies (issue 21, item 5): rows in another order, for directories not
//! asked for, more or fewer rows than asked, two contradictory rows for one directory.
//!
//! The remote side is a shell script given as `--remote-command`, behind the same private sshd
//! as the other remote tests: a stand-in for a hostile (or merely different) remote lockscope,
//! the only way to make one answer wrongly on purpose. Most scripts run the real lockscope on
//! other operands than it was given, so the rows themselves are real (real certbot holds the
//! locks); the contradictory answer is written by hand.

use super::{ALIAS, REMOTE, Sshd, json, remote, stderr};
use crate::common::{LOCK, WatchStream, certbot_lock_dir, run};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

/// Writes the hostile remote program (`body` is sh) and returns its path.
fn hostile(sshd: &Sshd, body: &str) -> String {
    let path = sshd.dir.path().join("hostile-lockscope");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// A script that answers any status request with the real lockscope's rows for `dirs`.
fn answers_for(sshd: &Sshd, dirs: &[&Path]) -> String {
    let words: Vec<String> = dirs
        .iter()
        .map(|d| shell_words::quote(d.to_str().unwrap()).into_owned())
        .collect();
    hostile(
        sshd,
        &format!(
            "exec {REMOTE} status --json --lock-name {LOCK} -- {}",
            words.join(" ")
        ),
    )
}

fn status(sshd: &Sshd, program: &str, asked: &[&Path]) -> (Output, Vec<Value>) {
    let out = run(sshd
        .lockscope_via("ssh_config", program)
        .args(["status", "--json"])
        .args(asked.iter().map(|d| remote(d))));
    let rows = json(&out).as_array().unwrap().clone();
    (out, rows)
}

struct Dirs {
    _root: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    c: PathBuf,
}

/// Three directories: `a` and `c` will be held by certbot where a test wants it, `b` stays
/// without a lock file.
fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let at = |n: &str| {
        let d = root.path().join(n);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let (a, b, c) = (at("a"), at("b"), at("c"));
    Dirs {
        _root: root,
        a,
        b,
        c,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The row is this side's error row for `dir`: state unknown, an error containing `why`.
fn assert_error_row(row: &Value, dir: &Path, why: &str) {
    assert_eq!(row["host"], ALIAS, "{row}");
    assert_eq!(row["dir"], s(dir), "{row}");
    assert_eq!(row["state"], "unknown", "{row}");
    assert!(
        row["error"].as_str().is_some_and(|e| e.contains(why)),
        "expected an error saying {why:?}: {row}"
    );
}

#[test]
fn reordered_status_rows_are_put_back_in_the_order_asked() {
    let sshd = Sshd::start();
    let d = dirs();
    let certbot = certbot_lock_dir(&d.a).expect_locked();
    let program = answers_for(&sshd, &[&d.b, &d.a]);
    let (out, rows) = status(&sshd, &program, &[&d.a, &d.b]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["dir"], s(&d.a), "{rows:#?}");
    assert_eq!(rows[0]["state"], "held");
    assert_eq!(rows[0]["holder"]["pid"], certbot.pid);
    assert_eq!(rows[1]["dir"], s(&d.b));
    assert_eq!(rows[1]["state"], "absent");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn a_row_for_a_directory_not_asked_for_is_never_shown_as_an_answer() {
    let sshd = Sshd::start();
    let d = dirs();
    let _certbot = certbot_lock_dir(&d.c).expect_locked();
    // Asked a and b; answers c (held) in a's place, then b.
    let program = answers_for(&sshd, &[&d.c, &d.b]);
    let (out, rows) = status(&sshd, &program, &[&d.a, &d.b]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(s(&d.c)), "c was shown:\n{text}");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_error_row(&rows[0], &d.a, "no row for this directory");
    assert_eq!(rows[1]["dir"], s(&d.b));
    assert_eq!(rows[1]["state"], "absent");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("not asked for") && err.contains(s(&d.c)),
        "no notice naming the row ignored: {err}"
    );

    // The table says the same.
    let table = run(sshd
        .lockscope_via("ssh_config", &program)
        .arg("status")
        .arg(remote(&d.a))
        .arg(remote(&d.b)));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(!text.contains(s(&d.c)), "c was shown:\n{text}");
    let first = text.lines().nth(1).unwrap_or_default();
    assert!(
        first.starts_with(&remote(&d.a)) && first.contains(" unknown "),
        "{text}"
    );
}

#[test]
fn extra_rows_are_ignored_with_one_notice() {
    let sshd = Sshd::start();
    let d = dirs();
    let certbot = certbot_lock_dir(&d.a).expect_locked();
    let program = answers_for(&sshd, &[&d.a, &d.c, &d.b]);
    let (out, rows) = status(&sshd, &program, &[&d.a]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["dir"], s(&d.a), "{rows:#?}");
    assert_eq!(rows[0]["state"], "held", "{rows:#?}");
    assert_eq!(rows[0]["holder"]["pid"], certbot.pid);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one notice: {err}");
    assert!(err.contains("ignored 2 rows"), "{err}");
}

#[test]
fn too_few_rows_leave_an_error_row_for_the_directory_not_answered() {
    let sshd = Sshd::start();
    let d = dirs();
    let program = answers_for(&sshd, &[&d.b]);
    let (out, rows) = status(&sshd, &program, &[&d.a, &d.b]);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_error_row(&rows[0], &d.a, "no row for this directory");
    assert_eq!(rows[1]["dir"], s(&d.b), "{rows:#?}");
    assert_eq!(rows[1]["state"], "absent", "{rows:#?}");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn contradictory_rows_for_one_directory_are_an_error_for_it() {
    let sshd = Sshd::start();
    let d = dirs();
    let row = |state: &str, holder: &str| {
        format!(
            r#"{{"dir":"{a}","lock_file":"{a}/{LOCK}","state":"{state}","holder":{holder},"error":null}}"#,
            a = s(&d.a)
        )
    };
    let answer = format!(
        "[{},{}]",
        row("held", r#"{"pid":1,"command":"certbot"}"#),
        row("free", "null")
    );
    let program = hostile(
        &sshd,
        &format!("printf '%s\\n' {}", shell_words::quote(&answer)),
    );
    let (out, rows) = status(&sshd, &program, &[&d.a, &d.b]);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_error_row(&rows[0], &d.a, "2 rows for this directory");
    assert_error_row(&rows[1], &d.b, "no row for this directory");
    assert_eq!(out.status.code(), Some(2));
}

/// The real remote lockscope echoes every spelling of a PATH (relative to the remote login
/// directory, a trailing slash, the lock file itself, the same directory twice): all of them
/// are matched, none turns into an error row.
#[test]
fn every_spelling_a_real_remote_echoes_is_matched() {
    let sshd = Sshd::start();
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap();
    let root = tempfile::tempdir_in(&home).unwrap();
    let dir = root.path().join("le");
    std::fs::create_dir(&dir).unwrap();
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let relative = dir
        .strip_prefix(&home)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let asked = [
        format!("{ALIAS}:{relative}"),
        format!("{ALIAS}:{}/", s(&dir)),
        format!("{ALIAS}:{}/{LOCK}", s(&dir)),
        format!("{ALIAS}:{}", s(&dir)),
        format!("{ALIAS}:{}", s(&dir)),
    ];
    let out = run(sshd
        .lockscope("ssh_config")
        .args(["status", "--json"])
        .args(&asked));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let rows = json(&out);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), asked.len(), "{rows:#?}");
    for row in rows {
        assert_eq!(row["state"], "held", "{row}");
        assert_eq!(row["holder"]["pid"], certbot.pid, "{row}");
    }
    assert_eq!(rows[0]["dir"], relative.as_str());
    assert_eq!(rows[1]["dir"], format!("{}/", s(&dir)));
    assert_eq!(rows[2]["dir"], s(&dir));
}

#[test]
fn a_remote_watch_shows_only_the_directories_asked_and_says_which_it_never_reported() {
    let sshd = Sshd::start();
    let d = dirs();
    let _certbot = certbot_lock_dir(&d.c).expect_locked();
    // Asked a and b; watches c (held) and a.
    let program = hostile(
        &sshd,
        &format!(
            "exec {REMOTE} watch --json --interval 200ms --lock-name {LOCK} -- {} {}",
            s(&d.c),
            s(&d.a)
        ),
    );
    let err_file = sshd.dir.path().join("watch.stderr");
    let mut watch = WatchStream::spawn(
        sshd.lockscope_via("ssh_config", &program)
            .stderr(std::fs::File::create(&err_file).unwrap())
            .args(["watch", "--json", "--interval", "200ms"])
            .arg(remote(&d.a))
            .arg(remote(&d.b)),
    );
    let dir_is = |v: &Value, dir: &Path| v["dir"] == s(dir);
    let done = watch.lines_until(Duration::from_secs(30), |seen| {
        seen.iter().any(|v| dir_is(v, &d.c))
            || (seen
                .iter()
                .any(|v| dir_is(v, &d.a) && v["state"] == "absent")
                && seen.iter().any(|v| {
                    dir_is(v, &d.b)
                        && v["state"] == "unknown"
                        && v["error"]
                            .as_str()
                            .is_some_and(|e| e.contains("has not reported"))
                }))
    });
    let _ = watch.child.kill();
    let _ = watch.child.wait();
    assert!(
        !watch.seen.iter().any(|v| dir_is(v, &d.c)),
        "a row for c, not asked for, was shown:\n{:#?}",
        watch.seen
    );
    assert!(
        done,
        "no row for a, or no error row for b:\n{:#?}",
        watch.seen
    );
    let err = std::fs::read_to_string(&err_file).unwrap();
    assert_eq!(
        err.matches("not asked for").count(),
        1,
        "one notice for the rows ignored: {err}"
    );
    assert!(err.contains(s(&d.c)), "{err}");
}

#[test]
fn a_remote_hold_of_another_lock_is_refused_and_released() {
    let sshd = Sshd::start();
    let d = dirs();
    let released = sshd.dir.path().join("released");
    // Says it holds c's lock when asked for a's; notes when its session's input ends.
    let program = hostile(
        &sshd,
        &format!(
            "echo 'held {}/{LOCK} pid 1'\ncat >/dev/null\ntouch {}",
            s(&d.c),
            s(&released)
        ),
    );
    let mut hold = sshd
        .lockscope_via("ssh_config", &program)
        .args(["hold", "--for", "2s"])
        .arg(remote(&d.a))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Today's code announced the hold and kept it: wait for the exit a while, no longer.
    let (tx, exited) = std::sync::mpsc::channel();
    let mut stdout = hold.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        let _ = tx.send(text);
    });
    let text = exited.recv_timeout(Duration::from_secs(15));
    let _ = hold.kill();
    let out = hold.wait_with_output().unwrap();
    let text = text.unwrap_or_else(|_| panic!("hold is still running (it took c's hold)"));
    assert!(!text.contains("held"), "a hold of c was announced:\n{text}");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it says it holds"),
        "{}",
        stderr(&out)
    );
    // The hostile remote's session was ended (a real one would have released).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !released.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the remote session was not ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
