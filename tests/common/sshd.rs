//! A private OpenSSH server on 127.0.0.1 for the remote tests (issue 14): a free port, a
//! generated host key and user key, and client configs with the alias [`ALIAS`]. The remote
//! lockscope is the binary under test. Nothing touches the system's sshd, its keys or ~/.ssh.

use super::{is_root, lockscope};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";
pub const ALIAS: &str = "lstest";
pub const REMOTE: &str = env!("CARGO_BIN_EXE_lockscope");

/// The client configurations in [`Sshd::dir`]: (file, identity, known hosts).
const CLIENT_CONFIGS: [(&str, &str, &str); 3] = [
    ("ssh_config", "user_key", "known_hosts"),
    ("wrong_key_config", "other_key", "known_hosts"),
    ("unknown_host_config", "user_key", "empty_known_hosts"),
];

/// A private sshd and a client configuration for it.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

pub fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen (Debian: openssh-client)");
    assert!(ok.success(), "ssh-keygen failed");
}

pub fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is required (Debian: openssh-server; .ci/run and scripts/test install it)"
        );
        if is_root() {
            // Debian's sshd checks for its privilege separation directory, which its service
            // unit creates at boot; in a container nobody did.
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        keygen(&d.join("other_key"));
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        std::fs::write(d.join("known_hosts"), format!("{ALIAS} {host_key}")).unwrap();
        std::fs::write(d.join("empty_known_hosts"), "").unwrap();
        let mut sshd = Sshd {
            dir,
            port: 0,
            child: None,
        };
        sshd.restart();
        sshd
    }

    /// Points sshd's config and the client configs ([`CLIENT_CONFIGS`]) at `port`.
    fn use_port(&mut self, port: u16) {
        self.port = port;
        let d = self.dir.path();
        std::fs::write(
            d.join("sshd_config"),
            // VERBOSE for its "Server listening on" line, which `restart` waits for.
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/host_key\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PidFile none\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nLogLevel VERBOSE\n",
                d = d.display()
            ),
        )
        .unwrap();
        for (name, key, known_hosts) in CLIENT_CONFIGS {
            self.write_config(name, key, known_hosts);
        }
    }

    /// A client config: aliases `lstest` and `lstest2` for this server.
    pub fn write_config(&self, name: &str, key: &str, known_hosts: &str) {
        let d = self.dir.path().display();
        let user = user_name();
        let host = |alias: &str| {
            format!(
                "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  \
                 IdentityFile {d}/{key}\n  IdentitiesOnly yes\n  IdentityAgent none\n  \
                 HostKeyAlias {ALIAS}\n  UserKnownHostsFile {d}/{known_hosts}\n  \
                 GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  \
                 LogLevel ERROR\n",
                port = self.port
            )
        };
        let text = format!("{}{}", host(ALIAS), host("lstest2"));
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    /// `ssh -F CONFIG`, as LOCKSCOPE_SSH_COMMAND.
    pub fn ssh_command(&self, config: &str) -> String {
        format!("ssh -F {}", self.dir.path().join(config).display())
    }

    /// A wrapper ssh that logs each invocation (one line) to `log`, then runs ssh.
    pub fn logging_ssh(&self, log: &Path) -> String {
        let script = self.dir.path().join("logging-ssh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec ssh -F '{}' \"$@\"\n",
                log.display(),
                self.dir.path().join("ssh_config").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script.display().to_string()
    }

    /// (Re)starts sshd and waits until it says it listens (its own log line: a connection that
    /// succeeds could be to whoever else has the port). The port stays the same unless sshd
    /// cannot bind it: a port found free and released (bind to port 0) can be taken by another
    /// test before sshd binds it. Then sshd moves to another and the client configs follow (ssh
    /// reads them at each connection).
    pub fn restart(&mut self) {
        if self.port == 0 {
            self.use_port(free_port());
        }
        let log_path = self.dir.path().join("sshd.log");
        for attempt in 1.. {
            // Its log (-e) goes to a file, appended to across restarts: this start's lines are
            // the ones after `seen`.
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .unwrap();
            let seen = log.metadata().unwrap().len() as usize;
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(self.dir.path().join("sshd_config"))
                .stdin(Stdio::null())
                .stderr(log)
                .process_group(0)
                .spawn()
                .expect("start sshd");
            let listening = format!("Server listening on 127.0.0.1 port {}.", self.port);
            let deadline = Instant::now() + Duration::from_secs(10);
            let exited = loop {
                let log = std::fs::read(&log_path).unwrap_or_default();
                let new = String::from_utf8_lossy(log.get(seen..).unwrap_or_default()).into_owned();
                if new.contains(&listening) {
                    self.child = Some(child);
                    return;
                }
                if let Some(status) = child.try_wait().unwrap() {
                    break format!("sshd exited {status}: {new}");
                }
                assert!(
                    Instant::now() < deadline,
                    "sshd did not listen on {} within 10 s: {new}",
                    self.port
                );
                std::thread::sleep(Duration::from_millis(20));
            };
            assert!(
                exited.contains("Address already in use") && attempt < 10,
                "{exited}"
            );
            eprintln!("port {} was taken, moving sshd: {exited}", self.port);
            self.use_port(free_port());
        }
    }

    /// SIGKILLs sshd and every process it started (each connection's sshd runs in its own
    /// session, so a process group kill would miss them): the server vanishes mid-session.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let mut tree = descendants(child.id());
            tree.push(child.id());
            for pid in tree {
                // SAFETY: kill has no memory-safety preconditions; these are our descendants.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            let _ = child.wait();
        }
    }

    /// `lockscope` with this server's ssh config, the remote lockscope the one under test.
    pub fn lockscope(&self, config: &str) -> Command {
        self.lockscope_via(config, REMOTE)
    }

    /// `lockscope` with this server's ssh config and `remote` as the remote program.
    pub fn lockscope_via(&self, config: &str, remote: &str) -> Command {
        let mut cmd = lockscope();
        cmd.env("LOCKSCOPE_SSH_COMMAND", self.ssh_command(config))
            .env_remove("SSH_AUTH_SOCK")
            .args(["--remote-command", remote]);
        cmd
    }
}

/// A port nothing listens on now (it may be taken again before it is used).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every process below `pid` (from /proc's ppid fields).
pub fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let after = stat.rsplit_once(')')?.1;
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}
