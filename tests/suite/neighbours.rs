//! Hostile neighbours and clients (issue 21): local users who plant symbolic links where root
//! writes, a standard output that is closed, a listener beyond loopback, a preset served from a
//! read-only config dir, and the messages people read. `serve`'s hostile HTTP clients are in
//! `serve_clients.rs`; hostile remote answers in `remote.rs`.

use crate::common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// Runs `cmd` as `nobody` (uid 65534), as a local user without privileges would.
fn as_nobody(program: &str, args: &[&OsStr]) -> std::process::Output {
    assert!(
        is_root(),
        "this test plays two users and must run as root (CI does)"
    );
    run(Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            program,
        ])
        .args(args))
}

/// A directory tree others may enter (tempdir makes 0700 ones).
fn shared_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    root
}

fn metrics_to(output: &Path, dir: &Path) -> std::process::Output {
    run(lockscope()
        .args(["status", "--format", "prometheus", "--output"])
        .arg(output)
        .arg(dir))
}

/// The attack of issue 21: in a sticky, world-writable directory, `nobody` points
/// `pub/lockscope.prom` at a root-only file; root's metrics run must replace the link, never
/// the file it points to.
#[test]
fn output_replaces_a_symlink_another_user_planted_never_its_target() {
    let root = shared_root();
    let public = root.path().join("pub");
    fs::create_dir(&public).unwrap();
    fs::set_permissions(&public, fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = root.path().join("important.conf");
    fs::write(&victim, "secret = 1\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    let link = public.join("lockscope.prom");
    let planted = as_nobody(
        "ln",
        &[OsStr::new("-s"), victim.as_os_str(), link.as_os_str()],
    );
    assert!(
        planted.status.success(),
        "nobody plants the link: {planted:?}"
    );
    assert_eq!(fs::symlink_metadata(&link).unwrap().uid(), 65534);

    let watched = tempfile::tempdir().unwrap();
    let out = metrics_to(&link, watched.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "secret = 1\n",
        "the target is untouched"
    );
    assert_eq!(
        fs::metadata(&victim).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    let written = fs::symlink_metadata(&link).unwrap();
    assert!(
        written.is_file(),
        "the link itself was replaced by the metrics file"
    );
    assert_eq!(written.uid(), 0);
    assert!(
        fs::read_to_string(&link)
            .unwrap()
            .contains("lockscope_lock_state")
    );
}

/// Where everyone may rename files and there is no sticky bit, nothing written can be trusted
/// to stay: refused, with a message saying why and what to do, and nothing created.
#[test]
fn output_refuses_a_world_writable_directory_without_the_sticky_bit() {
    let root = shared_root();
    let open = root.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let watched = tempfile::tempdir().unwrap();
    let out = metrics_to(&open.join("lockscope.prom"), watched.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no sticky bit") && stderr.contains("chmod +t"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_dir(&open).unwrap().count(),
        0,
        "nothing left behind"
    );
}

/// The other side of the rule: a user's own link (a dotfile manager's) is followed, and stays
/// a link; run as that user.
#[test]
fn output_follows_the_users_own_symlink() {
    let root = shared_root();
    let home = root.path().join("home");
    fs::create_dir(&home).unwrap();
    std::os::unix::fs::lchown(&home, Some(65534), Some(65534)).unwrap();
    let real = home.join("real.prom");
    let link = home.join("lockscope.prom");
    let made = as_nobody(
        "ln",
        &[OsStr::new("-s"), OsStr::new("real.prom"), link.as_os_str()],
    );
    assert!(made.status.success(), "{made:?}");
    let watched = shared_root();
    let out = as_nobody(
        env!("CARGO_BIN_EXE_lockscope"),
        &[
            OsStr::new("status"),
            OsStr::new("--format"),
            OsStr::new("prometheus"),
            OsStr::new("--output"),
            link.as_os_str(),
            watched.path().as_os_str(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        fs::symlink_metadata(&link).unwrap().is_symlink(),
        "the link stays"
    );
    assert!(
        fs::read_to_string(&real)
            .unwrap()
            .contains("lockscope_lock_state")
    );
}

/// `lockscope ARGS` with its standard output closed (`>&-`), as a shell script would run it.
fn with_stdout_closed(args: &[&OsStr]) -> std::process::Child {
    Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" >&-")
        .arg(env!("CARGO_BIN_EXE_lockscope"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start lockscope")
}

/// Waits at most `limit` for `child`; its exit code and stderr.
fn finish_within(mut child: std::process::Child, limit: std::time::Duration) -> (i32, String) {
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?} with stdout closed; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `held` line is the caller's only word that the lock is taken: with nowhere to write it,
/// `hold` must let go at once and fail, so certbot is not blocked by a lock nobody knows of.
/// Checked from outside, by real certbot.
#[test]
fn hold_with_stdout_closed_releases_at_once_and_certbot_gets_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let hold = with_stdout_closed(&[
        OsStr::new("hold"),
        OsStr::new("--for"),
        OsStr::new("60s"),
        dir.path().as_os_str(),
    ]);
    let (code, stderr) = finish_within(hold, std::time::Duration::from_secs(10));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("standard output is closed"), "{stderr}");
    certbot_lock_dir(dir.path()).expect_locked().release();
}

/// `status` and `watch` with stdout closed: a write error (exit 2, said on stderr), not a
/// reader that left (exit 0) and not a watch that runs on for nobody.
#[test]
fn status_and_watch_with_stdout_closed_fail_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec![OsStr::new("status"), dir.path().as_os_str()],
        vec![
            OsStr::new("status"),
            OsStr::new("--json"),
            dir.path().as_os_str(),
        ],
        vec![OsStr::new("watch"), dir.path().as_os_str()],
    ] {
        let (code, stderr) = finish_within(
            with_stdout_closed(&args),
            std::time::Duration::from_secs(10),
        );
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write output: standard output is closed"),
            "{args:?}: {stderr}"
        );
    }
}

/// Starts `lockscope serve ARGS` (as `cmd` says), waits for its `serving URL` line, stops it;
/// the line and everything it said on stderr.
fn serve_until_serving(cmd: &mut Command) -> (String, String) {
    use std::io::{BufRead, Read};
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start lockscope serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();
    (line, stderr)
}

/// Metrics name directories and holders' programs: listening beyond loopback says so, naming
/// what is exposed; loopback stays quiet.
#[test]
fn serve_beyond_loopback_warns_what_it_exposes() {
    let dir = tempfile::tempdir().unwrap();
    for (listen, command_lines, warned) in [
        ("0.0.0.0:0", false, true),
        ("[::]:0", true, true),
        ("127.0.0.1:0", false, false),
        ("[::1]:0", false, false),
    ] {
        let mut cmd = lockscope();
        cmd.args(["serve", "--metrics", listen]);
        if command_lines {
            cmd.arg("--metrics-command-line");
        }
        let (line, stderr) = serve_until_serving(cmd.arg(dir.path()));
        assert!(
            line.starts_with("serving http://"),
            "{listen}: {line:?} {stderr}"
        );
        if warned {
            assert!(
                stderr.contains("warning: listening on")
                    && stderr.contains("directories' names")
                    && stderr.contains(if command_lines {
                        "command lines"
                    } else {
                        "program names"
                    }),
                "{listen}: {stderr}"
            );
        } else {
            assert!(!stderr.contains("warning"), "{listen}: {stderr}");
        }
    }
}

/// The built-in `certbot` preset needs no file: a corrupt saved state in a config dir the user
/// cannot write (so it cannot be set aside) is reported and left alone, and the preset served.
#[test]
fn serve_certbot_preset_survives_a_corrupt_config_it_cannot_set_aside() {
    let root = shared_root();
    let config = root.path().join("config");
    fs::create_dir(&config).unwrap();
    let file = config.join("lockscope.toml");
    fs::write(&file, "[[list]\ncorrupt").unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o555)).unwrap();
    assert!(
        is_root(),
        "runs serve as nobody, which needs root (CI runs as root)"
    );
    let (line, stderr) = serve_until_serving(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_lockscope"))
            .args([
                "serve",
                "--metrics",
                "127.0.0.1:0",
                "--watchlist",
                "certbot",
                "--config-dir",
            ])
            .arg(&config),
    );
    assert!(
        line.starts_with("serving http://"),
        "{line:?}; stderr: {stderr}"
    );
    assert!(
        stderr.contains("could not be moved aside") && stderr.contains("built-in \"certbot\""),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "[[list]\ncorrupt",
        "left alone"
    );
    assert_eq!(fs::read_dir(&config).unwrap().count(), 1, "nothing added");
}

/// What people read: a bare fraction is explained with the unit to use, and a `--wait` that
/// ran out says how long in rounded words, not nanoseconds.
#[test]
fn duration_messages_read_as_people_write_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(lockscope().args(["hold", "--for", "0.5"]).arg(dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a bare number is whole seconds") && stderr.contains("500ms"),
        "{stderr}"
    );

    let _certbot = certbot_lock_dir(dir.path()).expect_locked();
    let out = run(lockscope().args(["hold", "--wait=300ms"]).arg(dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Whole milliseconds (at least the 300 asked; a loaded machine wakes later), no us or ns.
    let waited = stderr
        .split_once("timed out after ")
        .and_then(|(_, rest)| rest.split_once("ms waiting for"))
        .and_then(|(ms, _)| ms.parse::<u64>().ok());
    assert!(waited.is_some_and(|ms| ms >= 300), "{stderr}");
}
