//! Running the remote lockscope through the system's ssh: the command line (every remote word
//! quoted for the remote shell), bounded reads of its output, and failures classified.

use super::error::{ConnectionError, classify_failure};
use super::operand::Host;
use std::io::{self, BufRead, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;
use thiserror::Error;

/// The environment variable naming the ssh program and its options (as git's
/// `GIT_SSH_COMMAND`), split into words like a shell: `ssh -F ~/test/ssh_config`.
pub const SSH_COMMAND_ENV: &str = "LOCKSCOPE_SSH_COMMAND";

/// The remote program by default (found in the remote login's PATH).
pub const DEFAULT_REMOTE_COMMAND: &str = "lockscope";

/// The most a remote's stderr is kept (for messages and classification).
const STDERR_LIMIT: usize = 64 * 1024;

/// A bad `--ssh-command` or `--remote-command`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// Unbalanced quotes and the like.
    #[error("cannot split {what} {text:?} into words: {reason}")]
    Split {
        /// `--ssh-command` or `--remote-command`.
        what: &'static str,
        /// The text.
        text: String,
        /// shell-words' reason.
        reason: String,
    },
    /// No words at all.
    #[error("{what} is empty")]
    Empty {
        /// `--ssh-command` or `--remote-command`.
        what: &'static str,
    },
}

/// How to reach remote lockscopes: the local ssh program (with the user's options) and the
/// remote program. Every run adds `-T -o BatchMode=yes -o ConnectTimeout=…` and keep-alives
/// after the user's words (ssh takes an option's first value, so the user's win), then `--`,
/// the host, and one remote command line in which every word is quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssh {
    program: Vec<String>,
    remote_command: Vec<String>,
    connect_timeout: Duration,
}

impl Ssh {
    /// `ssh_command`: `--ssh-command` or else `LOCKSCOPE_SSH_COMMAND`'s value (the caller reads
    /// the environment), default `ssh`. `remote_command`: `--remote-command`, default
    /// `lockscope`. Both are split into words like a shell.
    pub fn new(
        ssh_command: Option<&str>,
        remote_command: Option<&str>,
    ) -> Result<Ssh, CommandError> {
        Ok(Ssh {
            program: split("--ssh-command", ssh_command.unwrap_or("ssh"))?,
            remote_command: split(
                "--remote-command",
                remote_command.unwrap_or(DEFAULT_REMOTE_COMMAND),
            )?,
            connect_timeout: Duration::from_secs(10),
        })
    }

    /// How long ssh may take to connect (ConnectTimeout; default 10 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Ssh {
        self.connect_timeout = timeout;
        self
    }

    /// The remote program's words, as given.
    pub fn remote_command(&self) -> String {
        self.remote_command.join(" ")
    }

    /// The one string ssh hands to the remote shell: the remote program and `args`, each word
    /// single-quoted where needed, so that `$(reboot)` or `; rm -rf ~` arrives as that text.
    pub fn remote_command_line<S: AsRef<str>>(&self, args: &[S]) -> String {
        self.remote_command
            .iter()
            .map(String::as_str)
            .chain(args.iter().map(AsRef::as_ref))
            .map(|word| shell_words::quote(word).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The ssh command that runs the remote lockscope with `args` on `host`. Its stdio is the
    /// caller's to set.
    pub fn command<S: AsRef<str>>(&self, host: &Host, args: &[S]) -> Command {
        let mut cmd = Command::new(&self.program[0]);
        cmd.args(&self.program[1..])
            .arg("-T")
            .args(["-o", "BatchMode=yes"])
            .arg("-o")
            .arg(format!(
                "ConnectTimeout={}",
                self.connect_timeout.as_secs().max(1)
            ))
            // A dropped network is noticed in ~15 s instead of TCP's minutes.
            .args(["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"])
            .arg("--")
            .arg(host.as_str())
            .arg(self.remote_command_line(args));
        super::sys::own_process_group(&mut cmd);
        cmd
    }

    /// Starts `command(host, args)` with the given stdin and stdout + stderr piped.
    pub fn spawn<S: AsRef<str>>(
        &self,
        host: &Host,
        args: &[S],
        stdin: Stdio,
    ) -> Result<Child, ConnectionError> {
        self.command(host, args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ConnectionError::SshNotStarted {
                program: self.program[0].clone(),
                reason: e.to_string(),
            })
    }

    /// Runs the remote lockscope with `args` (stdin closed) and waits for it. Its stdout is
    /// read up to `stdout_limit` bytes (more: [`ConnectionError::BadAnswer`], and ssh is
    /// killed); stderr up to 64 KiB.
    pub fn run<S: AsRef<str>>(
        &self,
        host: &Host,
        args: &[S],
        stdout_limit: usize,
    ) -> Result<Finished, ConnectionError> {
        let mut child = self.spawn(host, args, Stdio::null())?;
        let stderr = child.stderr.take().map(|e| {
            std::thread::spawn(move || read_bounded(e, STDERR_LIMIT, true).unwrap_or_default())
        });
        let stdout = child
            .stdout
            .take()
            .map(|o| read_bounded(o, stdout_limit + 1, false))
            .transpose()
            .map_err(|e| ConnectionError::BadAnswer {
                detail: format!("reading it: {e}"),
            });
        let over = matches!(&stdout, Ok(Some(out)) if out.len() > stdout_limit);
        if over {
            let _ = child.kill();
        }
        let status = child.wait().map_err(|e| ConnectionError::SshNotStarted {
            program: self.program[0].clone(),
            reason: e.to_string(),
        })?;
        let stderr = stderr
            .and_then(|t| t.join().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if over {
            return Err(ConnectionError::BadAnswer {
                detail: format!("more than {stdout_limit} bytes of output"),
            });
        }
        Ok(Finished {
            status,
            stdout: stdout?.unwrap_or_default(),
            stderr,
        })
    }

    /// What a failed run means, from its exit status and stderr.
    pub fn classify(&self, status: ExitStatus, stderr: &str) -> ConnectionError {
        classify_failure(status.code(), stderr, &self.remote_command())
    }
}

/// A finished remote run.
#[derive(Debug)]
pub struct Finished {
    /// ssh's exit status (the remote command's, or 255 for ssh's own failures).
    pub status: ExitStatus,
    /// The remote's standard output (bounded).
    pub stdout: Vec<u8>,
    /// ssh's and the remote's standard error (bounded, lossy UTF-8).
    pub stderr: String,
}

fn split(what: &'static str, text: &str) -> Result<Vec<String>, CommandError> {
    let words = shell_words::split(text).map_err(|e| CommandError::Split {
        what,
        text: text.to_string(),
        reason: e.to_string(),
    })?;
    if words.is_empty() {
        return Err(CommandError::Empty { what });
    }
    Ok(words)
}

/// Reads up to `limit` bytes; with `drain`, then the rest too (so the writer never blocks on
/// a full pipe), without keeping it.
fn read_bounded(reader: impl Read, limit: usize, drain: bool) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut reader = io::BufReader::new(reader);
    reader.by_ref().take(limit as u64).read_to_end(&mut out)?;
    if drain {
        io::copy(&mut reader, &mut io::sink())?;
    }
    Ok(out)
}

/// Reads one line of at most `limit` bytes (without its newline). `Ok(None)` at the end;
/// an error for a longer line (the rest of that line is not consumed).
pub fn read_line_bounded(reader: &mut impl BufRead, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(limit as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a line longer than {limit} bytes"),
        ));
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_remote_word_is_quoted() {
        let ssh = Ssh::new(
            Some("ssh -F '/tmp/my config'"),
            Some("'/opt/lock scope/bin/lockscope'"),
        )
        .unwrap();
        let line = ssh.remote_command_line(&["status", "--", "$(reboot)", "; rm -rf ~", "it's"]);
        assert_eq!(
            shell_words::split(&line).unwrap(),
            [
                "/opt/lock scope/bin/lockscope",
                "status",
                "--",
                "$(reboot)",
                "; rm -rf ~",
                "it's"
            ]
        );
        let host = Host::new("web1").unwrap();
        let cmd = ssh.command(&host, &["status"]);
        let args: Vec<_> = cmd.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(cmd.get_program(), "ssh");
        assert_eq!(&args[..2], ["-F", "/tmp/my config"]);
        assert!(args.contains(&"BatchMode=yes"));
        let dashes = args.iter().position(|a| *a == "--").unwrap();
        assert_eq!(args[dashes + 1], "web1");
        assert_eq!(
            args.len(),
            dashes + 3,
            "one remote command string: {args:?}"
        );
    }

    #[test]
    fn bad_commands() {
        assert!(matches!(
            Ssh::new(Some("ssh 'x"), None),
            Err(CommandError::Split { .. })
        ));
        assert!(matches!(
            Ssh::new(Some("  "), None),
            Err(CommandError::Empty { .. })
        ));
    }

    #[test]
    fn bounded_lines() {
        let mut r = io::Cursor::new(b"short\n0123456789ABC\n".to_vec());
        assert_eq!(read_line_bounded(&mut r, 10).unwrap().unwrap(), b"short");
        assert!(read_line_bounded(&mut r, 10).is_err());
        let mut r = io::Cursor::new(b"last".to_vec());
        assert_eq!(read_line_bounded(&mut r, 10).unwrap().unwrap(), b"last");
        assert!(read_line_bounded(&mut r, 10).unwrap().is_none());
    }
}
