//! The CLI contract: subcommand names, output formats, exit codes and JSON keys.
#![cfg(unix)]

mod common;

use common::*;
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
        assert_eq!(keys, ["dir", "error", "holder", "lock_file", "state"]);
    }
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
    assert_eq!(lines[0], ["DIR", "STATE", "PID", "COMMAND"]);
    assert_eq!(
        lines[1][..4],
        [root.path().to_str().unwrap(), "absent", "-", "-"]
    );
    assert_eq!(
        lines[2][..3],
        [
            held.to_str().unwrap(),
            "held",
            &holder.child.id().to_string()
        ]
    );
    assert!(lines[2][3..].join(" ").contains("lockscope hold"));
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
        assert!(err.contains("cannot open the window"), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(0));
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
