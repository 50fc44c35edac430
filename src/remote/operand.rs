//! `HOST:DIR` operands, with scp's rule: a colon before the first slash means a host.

use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// An ssh destination as the user wrote it: `web1`, `admin@web1.example.org`, an alias from
/// `~/.ssh/config`, or `[::1]` (kept without the brackets, as ssh wants it). Checked so that it
/// can never be read as an ssh option or split into two words.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Host(String);

impl Host {
    /// Checks a destination: not empty, no leading `-` (`-oProxyCommand=…` would be an ssh
    /// option), no whitespace or control characters (one word, one line), and no user part
    /// starting with `-` either.
    pub fn new(destination: &str) -> Result<Host, OperandError> {
        let refuse = |why: &'static str| OperandError::BadHost {
            host: destination.to_string(),
            why,
        };
        if destination.is_empty() {
            return Err(refuse("it is empty"));
        }
        if destination.starts_with('-') {
            return Err(refuse(
                "it starts with '-' (ssh would read it as an option)",
            ));
        }
        if destination
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(refuse("it contains whitespace or control characters"));
        }
        let (user, host) = match destination.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, destination),
        };
        if user.is_some_and(|u| u.is_empty() || u.starts_with('-')) {
            return Err(refuse("its user name is empty or starts with '-'"));
        }
        if host.is_empty() || host.starts_with('-') {
            return Err(refuse("its host name is empty or starts with '-'"));
        }
        Ok(Host(destination.to_string()))
    }

    /// The destination as passed to ssh.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An IPv6 address is shown in brackets again, so that `HOST:DIR` reads back the same.
        if self.0.contains(':') {
            match self.0.rsplit_once('@') {
                Some((user, addr)) => write!(f, "{user}@[{addr}]"),
                None => write!(f, "[{}]", self.0),
            }
        } else {
            f.write_str(&self.0)
        }
    }
}

/// A directory on a remote host: the path as the remote lockscope will receive it (relative
/// paths are relative to the remote login directory).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteDir {
    /// Where.
    pub host: Host,
    /// The remote path, passed to the remote lockscope as one quoted word.
    pub dir: String,
}

impl fmt::Display for RemoteDir {
    /// `HOST:DIR` (not escaped: escape before printing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.dir)
    }
}

/// A command-line operand: a local path or a remote directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A path on this machine.
    Local(PathBuf),
    /// `HOST:DIR`.
    Remote(RemoteDir),
}

/// Why an operand was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OperandError {
    /// The part before the colon cannot be an ssh destination.
    #[error("refusing host {host:?}: {why}")]
    BadHost {
        /// The host part as written.
        host: String,
        /// Why.
        why: &'static str,
    },
    /// `HOST:` with nothing after the colon.
    #[error("{operand:?} names no directory after the colon (write HOST:DIR)")]
    NoDirectory {
        /// The operand as written.
        operand: String,
    },
    /// `[` without its `]:`.
    #[error("{operand:?}: an IPv6 address is written [ADDRESS]:DIR")]
    BadBrackets {
        /// The operand as written.
        operand: String,
    },
}

/// Reads an operand with scp's rule: a colon before the first slash (or with no slash at all)
/// means `HOST:DIR`; anything else is a local path. Exceptions, decided so that an operand
/// means the same on every platform:
/// - a single ASCII letter before the colon is a Windows drive letter (`C:\certbot`, `C:/x`,
///   `C:x`): local (a one-letter host is written `user@h:DIR`, or given a longer alias);
/// - a leading colon (`:x`) is a local name, as in scp;
/// - `[ADDRESS]:DIR` and `user@[ADDRESS]:DIR` are IPv6 hosts;
/// - an operand that is not UTF-8 is local (ssh destinations are text).
pub fn parse_operand(operand: &OsStr) -> Result<Operand, OperandError> {
    let local = || Ok(Operand::Local(PathBuf::from(operand)));
    let Some(text) = operand.to_str() else {
        return local();
    };
    // `[v6]:dir` or `user@[v6]:dir`: the colons inside the brackets are the address's.
    let bracket = text.find('[');
    let first_slash = text.find(['/', '\\']);
    if let Some(open) = bracket
        && first_slash.is_none_or(|s| open < s)
        && text[..open].find(':').is_none()
        && (open == 0 || text[..open].ends_with('@'))
    {
        let Some(close) = text[open..].find("]:").map(|c| open + c) else {
            return Err(OperandError::BadBrackets {
                operand: text.to_string(),
            });
        };
        let destination = format!("{}{}", &text[..open], &text[open + 1..close]);
        return remote(text, &destination, &text[close + 2..]);
    }
    let Some(colon) = text.find(':') else {
        return local();
    };
    if first_slash.is_some_and(|s| s < colon) || colon == 0 {
        return local();
    }
    let host = &text[..colon];
    if host.len() == 1 && host.as_bytes()[0].is_ascii_alphabetic() {
        return local(); // a drive letter
    }
    remote(text, host, &text[colon + 1..])
}

fn remote(operand: &str, destination: &str, dir: &str) -> Result<Operand, OperandError> {
    let host = Host::new(destination)?;
    if dir.is_empty() {
        return Err(OperandError::NoDirectory {
            operand: operand.to_string(),
        });
    }
    Ok(Operand::Remote(RemoteDir {
        host,
        dir: dir.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Operand, OperandError> {
        parse_operand(OsStr::new(s))
    }

    fn remote(host: &str, dir: &str) -> Operand {
        Operand::Remote(RemoteDir {
            host: Host(host.into()),
            dir: dir.into(),
        })
    }

    fn local(p: &str) -> Operand {
        Operand::Local(PathBuf::from(p))
    }

    #[test]
    fn scp_rule() {
        assert_eq!(
            parse("web1:/etc/letsencrypt").unwrap(),
            remote("web1", "/etc/letsencrypt")
        );
        assert_eq!(
            parse("admin@web1.example.org:/etc/letsencrypt").unwrap(),
            remote("admin@web1.example.org", "/etc/letsencrypt")
        );
        assert_eq!(
            parse("alias:relative/dir").unwrap(),
            remote("alias", "relative/dir")
        );
        assert_eq!(
            parse("/etc/letsencrypt").unwrap(),
            local("/etc/letsencrypt")
        );
        assert_eq!(parse("./web1:x").unwrap(), local("./web1:x"));
        assert_eq!(parse("dir/with:colon").unwrap(), local("dir/with:colon"));
        assert_eq!(parse("plain").unwrap(), local("plain"));
        assert_eq!(parse(":x").unwrap(), local(":x"));
    }

    #[test]
    fn drive_letters_are_local() {
        assert_eq!(parse(r"C:\certbot").unwrap(), local(r"C:\certbot"));
        assert_eq!(parse("c:/certbot").unwrap(), local("c:/certbot"));
        assert_eq!(parse("D:x").unwrap(), local("D:x"));
        assert_eq!(parse("u@h:/x").unwrap(), remote("u@h", "/x"));
    }

    #[test]
    fn ipv6_in_brackets() {
        assert_eq!(parse("[::1]:/etc/le").unwrap(), remote("::1", "/etc/le"));
        assert_eq!(
            parse("root@[fe80::1]:d").unwrap(),
            remote("root@fe80::1", "d")
        );
        assert_eq!(parse("[::1]:/x").unwrap().to_string_for_test(), "[::1]:/x");
        assert!(matches!(parse("[::1/x"), Ok(Operand::Local(_)) | Err(_)));
        assert!(matches!(
            parse("[::1"),
            Err(OperandError::BadBrackets { .. })
        ));
    }

    #[test]
    fn hostile_hosts_are_refused() {
        for bad in [
            "-oProxyCommand=x:/etc",
            "-F:/x",
            "a b:/x",
            "a\tb:/x",
            "a\nb:/x",
            "-u@h:/x",
            "u@-h:/x",
            "@h:/x",
            "[-oX]:/x",
        ] {
            assert!(
                matches!(parse(bad), Err(OperandError::BadHost { .. })),
                "{bad:?} was accepted: {:?}",
                parse(bad)
            );
        }
        assert!(matches!(
            parse("web1:"),
            Err(OperandError::NoDirectory { .. })
        ));
    }

    #[test]
    fn hostile_dirs_are_kept_literally() {
        assert_eq!(
            parse("web1:$(reboot)").unwrap(),
            remote("web1", "$(reboot)")
        );
        assert_eq!(
            parse("web1:; rm -rf ~").unwrap(),
            remote("web1", "; rm -rf ~")
        );
    }

    impl Operand {
        fn to_string_for_test(&self) -> String {
            match self {
                Operand::Local(p) => p.display().to_string(),
                Operand::Remote(r) => r.to_string(),
            }
        }
    }
}
