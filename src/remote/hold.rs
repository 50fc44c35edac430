//! A lock held on a remote host by a remote `lockscope hold --until-stdin-closes`, whose life
//! is the ssh session's: without a terminal sshd sends no SIGHUP, so the remote hold ends when
//! its stdin (this side's pipe, through ssh) closes: on [`RemoteHold::release`], when this
//! process exits or is killed, or when the connection drops.

use super::error::ConnectionError;
use super::operand::Host;
use super::ssh::{Ssh, read_line_bounded};
use crate::escape::escape_path;
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};
use thiserror::Error;

/// How the remote hold waits for a busy lock (its `--wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteWait {
    /// Fail at once when busy.
    No,
    /// Wait until it is free.
    Forever,
    /// Give up after this long.
    Upto(Duration),
}

/// Why a remote hold did not start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HoldError {
    /// Someone else holds the lock (the remote's message, hostile text).
    #[error("busy: {0}")]
    Busy(String),
    /// The host could not be asked, or the remote failed.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
}

/// A held remote lock.
pub struct RemoteHold {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The remote's `held PATH pid N` line (hostile text: PATH is escaped by the remote, but
    /// escape it again before printing).
    pub held_line: String,
    /// The remote hold's pid, from that line.
    pub pid: Option<u32>,
    stderr: Option<std::thread::JoinHandle<String>>,
    remote_command: String,
}

/// Takes `dir`'s lock on `host` and holds it until released, `hold_for` passes, or the session
/// ends. Blocks until the remote says `held` or fails.
pub fn start_hold(
    ssh: &Ssh,
    host: &Host,
    dir: &str,
    lock_name: &str,
    hold_for: Option<Duration>,
    wait: RemoteWait,
) -> Result<RemoteHold, HoldError> {
    let mut args: Vec<String> = vec![
        "hold".into(),
        "--until-stdin-closes".into(),
        "--lock-name".into(),
        lock_name.into(),
    ];
    if let Some(d) = hold_for {
        args.push("--for".into());
        args.push(format!("{}ms", d.as_millis().max(1)));
    }
    match wait {
        RemoteWait::No => {}
        RemoteWait::Forever => args.push("--wait".into()),
        RemoteWait::Upto(d) => args.push(format!("--wait={}ms", d.as_millis())),
    }
    args.push("--".into());
    args.push(dir.into());
    let mut child = ssh.spawn(host, &args, Stdio::piped())?;
    let stdin = child.stdin.take();
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = e.by_ref().take(64 * 1024).read_to_end(&mut text);
            let _ = std::io::copy(&mut e, &mut std::io::sink());
            String::from_utf8_lossy(&text).into_owned()
        })
    });
    let line = child
        .stdout
        .take()
        .map(|out| read_line_bounded(&mut BufReader::new(out), 64 * 1024));
    let mut hold = RemoteHold {
        child,
        stdin,
        held_line: String::new(),
        pid: None,
        stderr,
        remote_command: ssh.remote_command(),
    };
    match line {
        Some(Ok(Some(line))) if line.starts_with(b"held ") => {
            hold.held_line = String::from_utf8_lossy(&line).into_owned();
            let (path, pid) = match hold.held_line["held ".len()..].rsplit_once(" pid ") {
                Some((path, pid)) => (path, pid.parse().ok()),
                None => (&hold.held_line["held ".len()..], None),
            };
            // The remote must say it holds the lock asked for (it prints the lock file's
            // path, escaped, as `dir` was given); a hold of another is released at once.
            let expected = escape_path(&Path::new(dir).join(lock_name)).into_owned();
            if Path::new(path) != Path::new(&expected) {
                return Err(HoldError::Connection(ConnectionError::BadAnswer {
                    detail: format!(
                        "it says it holds {:?}, not {expected:?}; released",
                        path.chars().take(300).collect::<String>()
                    ),
                }));
            }
            hold.pid = pid;
            Ok(hold)
        }
        _ => {
            hold.stdin = None;
            // Its stdout ended: ssh is exiting. Killing it first would lose its exit code.
            let status = hold.wait_exit(Duration::from_secs(5));
            let stderr = hold.take_stderr();
            match status.and_then(|s| s.code()) {
                Some(1) => Err(HoldError::Busy(
                    stderr
                        .trim()
                        .trim_start_matches("lockscope: ")
                        .chars()
                        .take(500)
                        .collect(),
                )),
                code => Err(HoldError::Connection(super::error::classify_failure(
                    code,
                    &stderr,
                    &hold.remote_command,
                ))),
            }
        }
    }
}

impl RemoteHold {
    /// Waits up to `limit` for ssh to exit, then kills it.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    fn take_stderr(&mut self) -> String {
        self.stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }

    /// Whether the session has ended (the hold is over: `--for` passed, or the connection or
    /// the remote hold is gone).
    pub fn ended(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// How the session ended, once [`ended`](Self::ended): `Ok` for a hold that ran its course
    /// and released, else why not (hostile text inside).
    pub fn outcome(&mut self) -> Result<(), ConnectionError> {
        let status = self.child.wait().map_err(|e| ConnectionError::Ssh {
            detail: e.to_string(),
        })?;
        if status.success() {
            return Ok(());
        }
        let stderr = self.take_stderr();
        Err(self.classify(status.code(), &stderr))
    }

    fn classify(&self, code: Option<i32>, stderr: &str) -> ConnectionError {
        super::error::classify_failure(code, stderr, &self.remote_command)
    }

    /// Closes the session's stdin (the remote releases and exits) and waits up to `grace` for
    /// it; after that ssh is killed (the remote then sees the same EOF).
    pub fn release(mut self, grace: Duration) -> Result<(), ConnectionError> {
        self.stdin = None;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.ended() {
                return self.outcome();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(ConnectionError::Unreachable {
            detail: format!(
                "the remote did not confirm the release within {}; ssh was ended (the remote \
                 hold ends when it notices)",
                humantime::format_duration(grace)
            ),
        })
    }
}

impl Drop for RemoteHold {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
