//! Remote hosts over SSH (issue 14), against a real OpenSSH server: each test starts its own
//! `sshd` on 127.0.0.1 (a free port, a generated host key, a generated user key in a temporary
//! authorized_keys), and the client side is the system's `ssh -F <temporary config>` with a
//! Host alias, passed as `LOCKSCOPE_SSH_COMMAND`. The "remote" lockscope is the binary under
//! test (`--remote-command`), real certbot holds the locks. Nothing touches the system's sshd,
//! its keys or ~/.ssh.

use crate::common::sshd::{ALIAS, REMOTE, Sshd, descendants};
use crate::common::{LOCK, WatchStream, certbot_lock_dir, lockscope, run};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn remote(dir: &Path) -> String {
    format!("{ALIAS}:{}", dir.display())
}

#[test]
fn status_over_ssh_reports_certbots_lock_with_its_pid_and_the_host() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let (held, free) = (root.path().join("held"), root.path().join("free"));
    std::fs::create_dir(&held).unwrap();
    std::fs::create_dir(&free).unwrap();
    let certbot = certbot_lock_dir(&held).expect_locked();

    let out = run(sshd
        .lockscope("ssh_config")
        .args(["status", "--json"])
        .arg(remote(&held))
        .arg(remote(&free))
        .arg(&free));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = json(&out);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["host"], ALIAS);
    assert_eq!(rows[0]["dir"], held.to_str().unwrap());
    assert_eq!(rows[0]["state"], "held");
    assert_eq!(rows[0]["holder"]["pid"], certbot.pid);
    assert_eq!(rows[1]["host"], ALIAS);
    assert_eq!(rows[1]["state"], "absent");
    assert_eq!(rows[2]["host"], Value::Null, "a local path has host null");
    assert_eq!(rows[2]["dir"], free.to_str().unwrap());

    let table = run(sshd
        .lockscope("ssh_config")
        .arg("status")
        .arg(remote(&held)));
    let text = String::from_utf8_lossy(&table.stdout);
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.starts_with(&format!("{ALIAS}:{}", held.display()))
            && line.contains(" held ")
            && line.contains(&certbot.pid.to_string()),
        "{text}"
    );
}

#[test]
fn watch_over_ssh_sees_the_lock_go_then_the_connection_lost_and_back() {
    let mut sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("le");
    std::fs::create_dir(&dir).unwrap();
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let pid = certbot.pid;
    let mut watch = WatchStream::spawn(
        sshd.lockscope("ssh_config")
            .args(["watch", "--json", "--interval", "200ms"])
            .arg(remote(&dir)),
    );
    let row = |v: &Value, state: &str| v["host"] == ALIAS && v["state"] == state;
    assert!(
        watch.lines_until(Duration::from_secs(20), |seen| seen.iter().any(|v| row(
            v, "held"
        ) && v
            ["holder"]["pid"]
            == pid)),
        "no held row with certbot's pid:\n{:?}",
        watch.seen
    );
    assert!(watch.seen.iter().any(|v| v["connection"] == "connected"));
    certbot.release();
    assert!(
        watch.lines_until(Duration::from_secs(10), |seen| seen
            .last()
            .is_some_and(|v| row(v, "absent"))),
        "the release was not seen:\n{:?}",
        watch.seen
    );

    sshd.kill();
    let mark = watch.seen.len();
    assert!(
        watch.lines_until(Duration::from_secs(30), |seen| seen[mark..].iter().any(
            |v| {
                row(v, "unknown")
                    && v["error"]
                        .as_str()
                        .is_some_and(|e| e.starts_with("connection lost"))
            }
        )),
        "killing sshd did not make the row unknown (connection lost):\n{:?}",
        &watch.seen[mark..]
    );
    let lost = watch.seen[mark..]
        .iter()
        .find(|v| v["connection"] == "lost")
        .expect("a connection lost line");
    assert_eq!(lost["host"], ALIAS);
    assert!(
        lost["reason"].is_string() && lost["retry_in_ms"].is_u64(),
        "{lost}"
    );
    // Nothing after the loss claims a state but unknown until the host is back.
    let lost_at = watch.seen.len();
    std::thread::sleep(Duration::from_millis(1500));
    sshd.restart();
    assert!(
        watch.lines_until(Duration::from_secs(45), |seen| seen[lost_at..]
            .iter()
            .any(|v| row(v, "absent"))),
        "no fresh row after sshd came back:\n{:?}",
        &watch.seen[lost_at..]
    );
    let back = watch.seen[lost_at..]
        .iter()
        .position(|v| row(v, "absent"))
        .unwrap();
    let before_back = &watch.seen[lost_at..lost_at + back];
    assert!(
        before_back.iter().any(|v| v["connection"] == "connected"),
        "{before_back:?}"
    );
    assert!(
        before_back
            .iter()
            .filter(|v| v["dir"].is_string())
            .all(|v| v["state"] == "unknown"),
        "a stale state while disconnected: {before_back:?}"
    );
}

#[test]
fn a_wrong_key_is_authentication_failed() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let out = run(sshd
        .lockscope("wrong_key_config")
        .args(["status", "--json"])
        .arg(remote(root.path())));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("authentication failed"),
        "{}",
        stderr(&out)
    );
    let rows = json(&out);
    assert_eq!(rows[0]["state"], "unknown");
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap()
            .contains("authentication failed")
    );
}

#[test]
fn an_unknown_host_key_is_refused_as_such() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let out = run(sshd
        .lockscope("unknown_host_config")
        .arg("status")
        .arg(remote(root.path())));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("host key"), "{}", stderr(&out));
    // BatchMode: it did not wait for a yes/no question either (the run finished).
}

#[test]
fn a_missing_remote_lockscope_says_how_to_install_it() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let out = run(sshd
        .lockscope_via("ssh_config", "/nonexistent/lockscope")
        .arg("status")
        .arg(remote(root.path())));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("not installed on the remote")
            && err.contains("/nonexistent/lockscope")
            && err.contains("--no-default-features --features cli"),
        "{err}"
    );
}

#[test]
fn directory_names_with_shell_metacharacters_arrive_literally() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let r = root.path().display();
    let names = [
        format!("$(touch {r}/pwned1)"),
        format!("; touch {r}/pwned2 #"),
        format!("`touch {r}/pwned3`"),
        "it's \"quoted\" & | > <".to_string(),
        "-rf".to_string(),
        "new\nline".to_string(),
    ];
    let dirs: Vec<PathBuf> = names.iter().map(|n| root.path().join(n)).collect();
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    let held = dirs[0].clone();
    let certbot = certbot_lock_dir(&held).expect_locked();
    let out = run(sshd
        .lockscope("ssh_config")
        .args(["status", "--json"])
        .args(dirs.iter().map(|d| remote(d))));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = json(&out);
    assert_eq!(rows.as_array().unwrap().len(), dirs.len(), "{rows}");
    for (row, dir) in rows.as_array().unwrap().iter().zip(&dirs) {
        assert_eq!(row["dir"], dir.to_str().unwrap(), "{row}");
    }
    // Each name arrived whole: the held one is held, the others exist and have no lock file
    // (a name the remote side got wrong would be missing, an error or unknown).
    assert_eq!(rows[0]["state"], "held", "{}", rows[0]);
    for row in &rows.as_array().unwrap()[1..] {
        assert_eq!(row["state"], "absent", "{row}");
    }
    assert_eq!(rows[0]["holder"]["pid"], certbot.pid);
    for n in 1..=3 {
        assert!(
            !root.path().join(format!("pwned{n}")).exists(),
            "the remote shell ran a command from a directory name"
        );
    }
    // The table escapes the newline the name has.
    let table = run(sshd
        .lockscope("ssh_config")
        .arg("status")
        .arg(remote(&dirs[5])));
    let text = String::from_utf8_lossy(&table.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("new\\nline"), "{text}");
}

#[test]
fn an_option_like_host_is_refused_and_ssh_never_runs() {
    let sshd = Sshd::start();
    let log = sshd.dir.path().join("ssh.log");
    let wrapper = sshd.logging_ssh(&log);
    for operand in [
        "-oProxyCommand=touch x:/etc/letsencrypt",
        "-oProxyCommand=x:/etc",
        "a b:/etc",
    ] {
        let out = run(lockscope()
            .args(["--ssh-command", &wrapper, "status", "--"])
            .arg(operand));
        assert_eq!(out.status.code(), Some(2), "{operand}: {}", stderr(&out));
        assert!(stderr(&out).contains("refusing host"), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    assert!(
        !log.exists(),
        "ssh ran: {:?}",
        std::fs::read_to_string(&log)
    );
}

#[test]
fn status_of_two_hosts_asks_each_host_once() {
    let sshd = Sshd::start();
    let log = sshd.dir.path().join("ssh.log");
    let wrapper = sshd.logging_ssh(&log);
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..5).map(|i| root.path().join(format!("d{i}"))).collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    let mut cmd = lockscope();
    cmd.env_remove("SSH_AUTH_SOCK")
        .args(["--ssh-command", &wrapper, "--remote-command", REMOTE])
        .args(["status", "--json"]);
    // Interleaved: lstest, lstest2, local, lstest, lstest2, ...
    let mut expected = Vec::new();
    for d in &dirs {
        for host in [ALIAS, "lstest2"] {
            cmd.arg(format!("{host}:{}", d.display()));
            expected.push((Value::from(host), d.display().to_string()));
        }
        cmd.arg(d);
        expected.push((Value::Null, d.display().to_string()));
    }
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = json(&out);
    let got: Vec<(Value, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["host"].clone(), r["dir"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, expected, "rows in the order given");
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(log.lines().count(), 2, "one ssh per host:\n{log}");
}

#[test]
fn a_remote_hold_is_released_when_the_local_ssh_is_killed() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("le");
    std::fs::create_dir(&dir).unwrap();
    let mut hold = sshd
        .lockscope("ssh_config")
        .arg("hold")
        .arg(remote(&dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(hold.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with(&format!("held {ALIAS}:{}/{LOCK} pid ", dir.display())),
        "{line:?}"
    );
    let msg = certbot_lock_dir(&dir).expect_busy();
    assert!(!msg.is_empty());
    // The local ssh: lockscope's child.
    let ssh = descendants(hold.id())
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "ssh")
        })
        .expect("lockscope's ssh child");
    // SAFETY: kill has no memory-safety preconditions; ssh is our grandchild.
    unsafe { libc::kill(ssh as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = run(lockscope().args(["status", "--json"]).arg(&dir));
        let state = json(&out)[0]["state"].clone();
        if state != "held" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the remote hold outlived its ssh session"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let certbot = certbot_lock_dir(&dir).expect_locked();
    drop(certbot);
    let status = hold.wait().unwrap();
    assert_eq!(status.code(), Some(2), "losing the session is an error");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut hold.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("no longer held"), "{err}");
}

#[test]
fn a_remote_hold_is_released_when_the_local_lockscope_stops() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("le");
    std::fs::create_dir(&dir).unwrap();
    let mut hold = sshd
        .lockscope("ssh_config")
        .arg("hold")
        .arg(remote(&dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(hold.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("held "), "{line:?}");
    certbot_lock_dir(&dir).expect_busy();
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(hold.id() as i32, libc::SIGTERM) };
    assert_eq!(hold.wait().unwrap().code(), Some(0), "an orderly release");
    // Released by the time lockscope exits.
    certbot_lock_dir(&dir).expect_locked();
}

#[test]
fn hostile_remote_output_is_escaped_or_refused() {
    let sshd = Sshd::start();
    let d = sshd.dir.path();
    let fake = |name: &str, body: &str| {
        let path = d.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    // The row for /x has a hostile command; the row for a hostile directory not asked is
    // ignored, and the notice naming it is escaped too.
    let evil = fake(
        "evil-lockscope",
        r#"printf '%s\n' '[{"dir":"/x","lock_file":"/x/.certbot.lock","state":"held","holder":{"pid":1,"command":"\u001b]0;owned\u0007"},"error":null},{"dir":"/x\u001b[2J\r\nFAKE","lock_file":"/x/.certbot.lock","state":"held","holder":null,"error":null}]'"#,
    );
    let out = run(sshd
        .lockscope_via("ssh_config", &evil)
        .args(["status", "lstest:/x"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("\\e]0;owned"), "{text}");
    let err = stderr(&out);
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("\\e[2J"), "{err}");

    let garbage = fake("garbage-lockscope", "echo '[not json'");
    let out = run(sshd
        .lockscope_via("ssh_config", &garbage)
        .args(["status", "lstest:/x"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not lockscope's"), "{}", stderr(&out));
}

#[test]
fn explain_and_terminate_over_ssh() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("le");
    std::fs::create_dir(&dir).unwrap();
    let mut certbot = certbot_lock_dir(&dir).expect_locked();
    let pid = certbot.pid;
    let alive = || Path::new(&format!("/proc/{pid}")).exists();

    let out = run(sshd
        .lockscope("ssh_config")
        .arg("explain")
        .arg(remote(&dir)));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("On {ALIAS}:\n")), "{text}");
    assert!(text.contains(&pid.to_string()), "{text}");

    // No terminal and no --yes: asked nothing, ended nothing.
    let out = run(sshd
        .lockscope("ssh_config")
        .arg("terminate")
        .arg(remote(&dir)));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("without confirmation"),
        "{}",
        stderr(&out)
    );
    assert!(alive());
    // The remote side refuses a holder other than the one confirmed.
    let out = run(lockscope()
        .args(["terminate", "--yes", "--expect-pid", "1"])
        .arg(&dir));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("changed hands"), "{}", stderr(&out));
    assert!(alive());

    let out = run(sshd
        .lockscope("ssh_config")
        .args(["terminate", "--yes"])
        .arg(remote(&dir)));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with(&format!(
            "{ALIAS}: released {}/{LOCK}: pid {pid}",
            dir.display()
        )),
        "{said}"
    );
    // Not just the tool's word: certbot is gone, ended by the signal, and the lock is free.
    let status = certbot
        .exited_within(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("certbot (pid {pid}) still runs after terminate said released"));
    assert!(
        !status.success(),
        "certbot was ended by a signal: {status:?}"
    );
    let out = run(lockscope().args(["status", "--json"]).arg(&dir));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let row = &json(&out)[0];
    assert_eq!(row["state"], "free", "{row}");
    let lock = lockscope::lock_dir(&dir)
        .unwrap_or_else(|e| panic!("the lock cannot be taken after terminate: {e}"));
    drop(lock);
}

#[test]
fn a_remote_lockscope_too_old_for_hold_says_so() {
    let sshd = Sshd::start();
    let old = sshd.dir.path().join("old-lockscope");
    std::fs::write(
        &old,
        "#!/bin/sh\necho \"error: unexpected argument '--until-stdin-closes' found\" >&2\nexit 2\n",
    )
    .unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(sshd
        .lockscope_via("ssh_config", old.to_str().unwrap())
        .args(["hold", "lstest:/tmp"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("too old"), "{}", stderr(&out));
}

/// The library's hub for the app: directories added and removed one by one on a host cost one
/// connection per settled change, rows for every directory watched, none for removed ones.
#[test]
fn the_remote_monitor_follows_directories_added_and_removed() {
    use lockscope::remote::{
        ConnectionState, RemoteDir, RemoteEvent, RemoteMonitor, RemoteState, Ssh, WatchOptions,
        parse_operand,
    };
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let certbot = certbot_lock_dir(&b).expect_locked();
    let ssh_command = sshd.ssh_command("ssh_config");
    let (tx, events) = std::sync::mpsc::channel();
    let hub = RemoteMonitor::start(
        move |_host| Ssh::new(Some(&ssh_command), Some(REMOTE)).unwrap(),
        WatchOptions {
            interval: Duration::from_millis(200),
            lock_name: LOCK.into(),
        },
        move |event| {
            let _ = tx.send(event);
        },
    );
    let operand = |d: &Path| match parse_operand(remote(d).as_ref()).unwrap() {
        lockscope::remote::Operand::Remote(r) => r,
        other => panic!("{other:?}"),
    };
    let (ra, rb): (RemoteDir, RemoteDir) = (operand(&a), operand(&b));
    let mut seen = Vec::new();
    fn until(
        events: &std::sync::mpsc::Receiver<RemoteEvent>,
        seen: &mut Vec<RemoteEvent>,
        what: &str,
        done: &dyn Fn(&[RemoteEvent]) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok(e) => seen.push(e),
                Err(_) => panic!("{what}: {seen:#?}"),
            }
        }
    }
    let row_of = |e: &RemoteEvent, dir: &Path| match e {
        RemoteEvent::Row(r) if r.dir == dir.to_str().unwrap() => Some(r.clone()),
        _ => None,
    };
    hub.add(ra.clone());
    until(&events, &mut seen, "a's row", &|s| {
        s.iter().any(|e| row_of(e, &a).is_some())
    });
    hub.add(rb.clone());
    until(&events, &mut seen, "b held by certbot", &|s| {
        s.iter().any(|e| {
            row_of(e, &b).is_some_and(|r| {
                r.state == RemoteState::Held && r.holder.and_then(|h| h.pid) == Some(certbot.pid)
            })
        })
    });
    let connects = |s: &[RemoteEvent]| {
        s.iter()
            .filter(|e| {
                matches!(
                    e,
                    RemoteEvent::Connection {
                        state: ConnectionState::Connected,
                        ..
                    }
                )
            })
            .count()
    };
    assert_eq!(connects(&seen), 2, "one connection per settled change");
    // Removed: the next connection watches b alone.
    hub.remove(ra);
    let mark = seen.len();
    until(&events, &mut seen, "b again after a was removed", &|s| {
        s[mark..].iter().any(|e| row_of(e, &b).is_some())
    });
    std::thread::sleep(Duration::from_millis(500));
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let after = &seen[mark..];
    assert!(
        after.iter().all(|e| row_of(e, &a).is_none()),
        "a row for a removed directory: {after:#?}"
    );
    drop(hub);
}

// A remote lockscope that lies (issue 21).
#[path = "remote_hostile.rs"]
mod hostile_remote;

// The reader of remote answers, fuzzed (issue 21).
#[path = "remote_fuzz.rs"]
mod fuzz_answer;
