//! `HOST:DIR` operands in the CLI: the `--ssh-command` / `--remote-command` options, reading the
//! operands, and what every command shows of a remote row. Every text from a remote is escaped
//! before it reaches the terminal.

pub(crate) use crate::args::RemoteArgs;
use crate::output::{Failure, exit};
use lockscope::escape::escape;
use lockscope::remote::{self, Host, Operand, RemoteDir, RemoteRow, SSH_COMMAND_ENV, Ssh};
use std::collections::BTreeMap;
use std::path::PathBuf;

impl RemoteArgs {
    /// The ssh settings, or why not.
    pub(crate) fn ssh(&self) -> Result<Ssh, Failure> {
        let from_env = std::env::var(SSH_COMMAND_ENV).ok();
        let ssh_command = self.ssh_command.as_deref().or(from_env.as_deref());
        Ssh::new(ssh_command, self.remote_command.as_deref()).map_err(Failure::error)
    }
}

/// The operands of one command, local and remote, in the order given.
pub(crate) struct Operands {
    items: Vec<Operand>,
}

impl Operands {
    /// Reads every operand; the refused ones fail together (each named), and ssh never runs.
    pub(crate) fn parse(paths: &[PathBuf]) -> Result<Operands, Failure> {
        let mut items = Vec::with_capacity(paths.len());
        let mut refused = Vec::new();
        for path in paths {
            match remote::parse_operand(path.as_os_str()) {
                Ok(op) => items.push(op),
                Err(e) => refused.push(e.to_string()),
            }
        }
        if refused.is_empty() {
            Ok(Operands { items })
        } else {
            Err(Failure {
                code: exit::ERROR,
                messages: refused,
                hint: None,
            })
        }
    }

    pub(crate) fn all_local(&self) -> bool {
        self.items.iter().all(|op| matches!(op, Operand::Local(_)))
    }

    pub(crate) fn local(&self) -> Vec<PathBuf> {
        self.items
            .iter()
            .filter_map(|op| match op {
                Operand::Local(p) => Some(p.clone()),
                Operand::Remote(_) => None,
            })
            .collect()
    }

    /// Each host's directories, in the order given (one connection per host).
    pub(crate) fn by_host(&self) -> BTreeMap<Host, Vec<String>> {
        let mut hosts: BTreeMap<Host, Vec<String>> = BTreeMap::new();
        for op in &self.items {
            if let Operand::Remote(r) = op {
                hosts.entry(r.host.clone()).or_default().push(r.dir.clone());
            }
        }
        hosts
    }

    pub(crate) fn items(&self) -> &[Operand] {
        &self.items
    }
}

/// The one operand of hold / terminate: `Ok(None)` for a local path.
pub(crate) fn remote_operand(path: &std::path::Path) -> Result<Option<RemoteDir>, Failure> {
    match remote::parse_operand(path.as_os_str()) {
        Ok(Operand::Local(_)) => Ok(None),
        Ok(Operand::Remote(r)) => Ok(Some(r)),
        Err(e) => Err(Failure::error(e)),
    }
}

pub(crate) fn unknown_rows(
    host: &Host,
    dirs: &[String],
    lock_name: &str,
    reason: &str,
) -> Vec<RemoteRow> {
    dirs.iter()
        .map(|dir| RemoteRow::unknown(host, dir, lock_name, reason.to_string()))
        .collect()
}

/// `HOST:DIR` as shown (escaped).
pub(crate) fn remote_name(row: &RemoteRow) -> String {
    escape(&format!(
        "{}:{}",
        row.host.as_deref().unwrap_or("?"),
        row.dir
    ))
    .into_owned()
}

/// What a remote row says after its state: the holder or the error, then warnings (escaped).
pub(crate) fn remote_detail(row: &RemoteRow) -> String {
    let detail = match (&row.error, &row.holder) {
        (Some(e), _) => e.clone(),
        (None, Some(h)) => h.command.clone().unwrap_or_else(|| "-".into()),
        (None, None) => "-".into(),
    };
    let detail = row.warnings.iter().fold(detail, |detail, w| {
        if detail == "-" {
            w.message.clone()
        } else {
            format!("{detail}; {}", w.message)
        }
    });
    escape(&detail).into_owned()
}

pub(crate) fn looks_like_clap(stderr: &str) -> bool {
    stderr.contains("unexpected argument") || stderr.contains("unrecognized subcommand")
}
