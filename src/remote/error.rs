//! What can go wrong talking to a remote lockscope, classified from ssh's exit code and stderr.

use thiserror::Error;

/// How to get the CLI on a server (no desktop app dependencies).
pub const INSTALL_HINT: &str = "install the CLI-only build there: `cargo install --path . \
     --no-default-features --features cli` from a lockscope checkout (or the lockscope-cli \
     package), or name it with --remote-command";

/// Why a host could not be asked, or stopped answering. The texts come partly from the remote
/// (ssh's and the remote lockscope's stderr): escape them before printing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectionError {
    /// The ssh program itself could not be started.
    #[error("cannot run the ssh command {program:?}: {reason}")]
    SshNotStarted {
        /// The program's name.
        program: String,
        /// The OS's reason.
        reason: String,
    },
    /// The server refused every key (BatchMode: no password prompt).
    #[error("authentication failed: {detail}")]
    AuthenticationFailed {
        /// ssh's words.
        detail: String,
    },
    /// The server's host key is not in known_hosts, or differs from it.
    #[error("host key not verified (unknown or changed; check known_hosts): {detail}")]
    HostKey {
        /// ssh's words.
        detail: String,
    },
    /// Connection refused, name not resolved, timeout, network down, connection dropped.
    #[error("unreachable: {detail}")]
    Unreachable {
        /// ssh's words.
        detail: String,
    },
    /// The remote shell found no such program.
    #[error("lockscope is not installed on the remote (ran {command:?}): {hint}", hint = INSTALL_HINT)]
    RemoteLockscopeMissing {
        /// The remote command that was not found.
        command: String,
    },
    /// The remote lockscope does not know an option or subcommand this one needs.
    #[error("the remote lockscope is too old for this (update it there): {detail}")]
    RemoteTooOld {
        /// The remote's words.
        detail: String,
    },
    /// Other ssh failures (exit code 255 with a message of another kind).
    #[error("ssh failed: {detail}")]
    Ssh {
        /// ssh's words.
        detail: String,
    },
    /// The remote lockscope failed without a usable answer.
    #[error("the remote lockscope failed (exit code {code}): {detail}")]
    RemoteFailed {
        /// Its exit code.
        code: i32,
        /// Its stderr.
        detail: String,
    },
    /// The remote's output was not what a lockscope prints (too long, not JSON, wrong keys).
    #[error("the remote's answer is not lockscope's: {detail}")]
    BadAnswer {
        /// What was wrong.
        detail: String,
    },
}

impl ConnectionError {
    /// A short stable name (JSON `connection_error`, tests): `authentication-failed`,
    /// `host-key`, `unreachable`, `remote-missing`, `remote-too-old`, `ssh`, `remote-failed`,
    /// `bad-answer`, `ssh-not-started`.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectionError::SshNotStarted { .. } => "ssh-not-started",
            ConnectionError::AuthenticationFailed { .. } => "authentication-failed",
            ConnectionError::HostKey { .. } => "host-key",
            ConnectionError::Unreachable { .. } => "unreachable",
            ConnectionError::RemoteLockscopeMissing { .. } => "remote-missing",
            ConnectionError::RemoteTooOld { .. } => "remote-too-old",
            ConnectionError::Ssh { .. } => "ssh",
            ConnectionError::RemoteFailed { .. } => "remote-failed",
            ConnectionError::BadAnswer { .. } => "bad-answer",
        }
    }
}

/// Classifies a finished ssh run that gave no usable answer. `code` is ssh's exit code (None:
/// killed by a signal), `stderr` what it and the remote printed there; `remote_command` the
/// program asked for. ssh exits 255 for its own errors and with the remote command's code
/// otherwise (127: the remote shell did not find it).
pub fn classify_failure(code: Option<i32>, stderr: &str, remote_command: &str) -> ConnectionError {
    let detail = last_lines(stderr);
    let has = |needle: &str| stderr.contains(needle);
    match code {
        Some(255) | None => {
            if has("Host key verification failed")
                || has("REMOTE HOST IDENTIFICATION HAS CHANGED")
                || has("No ED25519 host key is known")
                || has("host key for")
            {
                ConnectionError::HostKey { detail }
            } else if has("Permission denied") || has("Too many authentication failures") {
                ConnectionError::AuthenticationFailed { detail }
            } else if has("Connection refused")
                || has("Could not resolve hostname")
                || has("timed out")
                || has("No route to host")
                || has("Network is unreachable")
                || has("Connection closed")
                || has("Connection reset")
                || has("Broken pipe")
                || has("Timeout, server")
                || has("closed by remote host")
                || code.is_none()
            {
                ConnectionError::Unreachable {
                    detail: if detail.is_empty() {
                        "ssh was ended by a signal".into()
                    } else {
                        detail
                    },
                }
            } else {
                ConnectionError::Ssh { detail }
            }
        }
        Some(0) => ConnectionError::RemoteFailed {
            code: 0,
            detail: if detail.is_empty() {
                "it ended without the expected answer".into()
            } else {
                detail
            },
        },
        Some(127) => ConnectionError::RemoteLockscopeMissing {
            command: remote_command.to_string(),
        },
        Some(126) if has("Permission denied") || has("cannot execute") => {
            ConnectionError::RemoteLockscopeMissing {
                command: remote_command.to_string(),
            }
        }
        // clap's words for an option or subcommand an older lockscope does not have.
        Some(_)
            if has("unexpected argument")
                || has("unrecognized subcommand")
                || has("unexpected value") =>
        {
            ConnectionError::RemoteTooOld { detail }
        }
        Some(code) => ConnectionError::RemoteFailed { code, detail },
    }
}

/// The last few non-empty lines of stderr, joined (what the user needs; ssh may print banners
/// or warnings first), at most 500 characters.
fn last_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    tail.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_messages() {
        let c = |code, err| classify_failure(code, err, "lockscope").kind();
        assert_eq!(
            c(
                Some(255),
                "root@127.0.0.1: Permission denied (publickey).\r\n"
            ),
            "authentication-failed"
        );
        assert_eq!(
            c(Some(255), "Host key verification failed.\r\n"),
            "host-key"
        );
        assert_eq!(
            c(
                Some(255),
                "@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
            ),
            "host-key"
        );
        assert_eq!(
            c(
                Some(255),
                "ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n"
            ),
            "unreachable"
        );
        assert_eq!(
            c(
                Some(255),
                "ssh: Could not resolve hostname nohost: Name or service not known"
            ),
            "unreachable"
        );
        assert_eq!(
            c(Some(127), "bash: line 1: lockscope: command not found"),
            "remote-missing"
        );
        assert_eq!(
            c(
                Some(2),
                "error: unexpected argument '--until-stdin-closes' found"
            ),
            "remote-too-old"
        );
        assert_eq!(c(Some(2), "lockscope: something"), "remote-failed");
        assert_eq!(c(Some(255), "kex_exchange_identification: odd"), "ssh");
    }
}
