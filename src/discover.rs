//! Where certbot's locks are on this machine, for users who do not know (`status --all`):
//!
//! - every lock file of the name asked that is held now: the kernel's lock table, each row's
//!   file named through its holder's descriptors (as `lslocks` does; Linux);
//! - the directories running certbot processes use: their `--config-dir`, `--work-dir` and
//!   `--logs-dir` arguments, else those in the `cli.ini` they read, else certbot's defaults
//!   (relative paths against the process's working directory);
//! - certbot's default directories on this OS ([`crate::watchlist::certbot_defaults`]).
//!
//! Each directory says how it was found. What a process's command line or `cli.ini` says is
//! hostile input like any other: it only names directories to probe, and every name reaches
//! output escaped by the caller.

use crate::sys;
use serde::Serialize;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// How a directory was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoundBy {
    /// A lock file in it is held now (the kernel's lock table).
    LockTable,
    /// A running certbot process uses it.
    CertbotProcess,
    /// One of certbot's default directories.
    Preset,
}

impl FoundBy {
    /// Its name in output (`lock-table`, `certbot-process`, `preset`).
    pub fn name(self) -> &'static str {
        match self {
            FoundBy::LockTable => "lock-table",
            FoundBy::CertbotProcess => "certbot-process",
            FoundBy::Preset => "preset",
        }
    }
}

/// A directory found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The directory (as the lock table's holder or the process named it).
    pub dir: PathBuf,
    /// Every way it was found, in [`FoundBy`]'s order.
    pub found_by: Vec<FoundBy>,
}

/// What [`discover`] found, and where it looked.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// The directories, lock-table finds first.
    pub found: Vec<Found>,
    /// Running certbot processes seen.
    pub certbot_processes: usize,
}

/// Every directory found, lock-table finds first, each once (by its resolved path). Directories
/// named by a process or the defaults are kept only where they exist.
pub fn discover(lock_name: &str) -> Discovery {
    let mut found: Vec<Found> = Vec::new();
    // Each found directory's resolved path, beside it: resolved once, not at every add.
    let mut keys: Vec<PathBuf> = Vec::new();
    let mut certbot_processes = 0;
    let mut add = |dir: PathBuf, how: FoundBy| {
        let key = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        match keys.iter().position(|k| *k == key) {
            Some(i) if !found[i].found_by.contains(&how) => found[i].found_by.push(how),
            Some(_) => {}
            None => {
                keys.push(key);
                found.push(Found {
                    dir,
                    found_by: vec![how],
                });
            }
        }
    };
    for dir in sys::locked_lock_file_dirs(OsStr::new(lock_name)) {
        add(dir, FoundBy::LockTable);
    }
    for process in sys::process_list() {
        let dirs = certbot_dirs(&process.argv, process.cwd.as_deref(), read_cli_ini);
        certbot_processes += usize::from(!dirs.is_empty());
        for dir in dirs.into_iter().filter(|d| d.is_dir()) {
            add(dir, FoundBy::CertbotProcess);
        }
    }
    for dir in crate::watchlist::certbot_defaults()
        .into_iter()
        .filter(|d| d.is_dir())
    {
        add(dir, FoundBy::Preset);
    }
    for f in &mut found {
        f.found_by.sort();
    }
    Discovery {
        found,
        certbot_processes,
    }
}

/// A `cli.ini` certbot would read, at most 64 KiB of it (`None`: not there or not readable).
fn read_cli_ini(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

const DIR_OPTIONS: [(&str, &str); 3] = [
    ("config-dir", "/etc/letsencrypt"),
    ("work-dir", "/var/lib/letsencrypt"),
    ("logs-dir", "/var/log/letsencrypt"),
];

/// The directories a process with command line `argv` (working directory `cwd`) uses, if it
/// is certbot: an argument whose file name is `certbot` (the script, run directly or by a
/// Python interpreter), or `-m certbot`. Each of the three directories from its arguments,
/// else the `cli.ini` it reads (`--config FILE` / `-c FILE`, else `/etc/letsencrypt/cli.ini`),
/// else certbot's default.
pub fn certbot_dirs(
    argv: &[OsString],
    cwd: Option<&Path>,
    read_file: impl Fn(&Path) -> Option<String>,
) -> Vec<PathBuf> {
    let name = |arg: &OsString| Path::new(arg).file_name().map(OsStr::to_os_string);
    let is_python =
        |arg: &OsString| name(arg).is_some_and(|n| n.to_string_lossy().starts_with("python"));
    let start = match argv {
        [first, ..] if name(first).is_some_and(|n| n == "certbot") => 0,
        [first, second, ..] if is_python(first) && name(second).is_some_and(|n| n == "certbot") => {
            1
        }
        [first, m, certbot, ..] if is_python(first) && m == "-m" && certbot == "certbot" => 2,
        _ => return Vec::new(),
    };
    let args = &argv[start + 1..];
    let option = |name: &str| -> Option<OsString> {
        let long = format!("--{name}");
        let with_eq = format!("--{name}=");
        let mut value = None;
        // The last occurrence wins, as with argparse.
        for (i, arg) in args.iter().enumerate() {
            if arg == long.as_str() {
                value = args.get(i + 1).cloned();
            } else if let Some(rest) = arg.to_str().and_then(|a| a.strip_prefix(&with_eq)) {
                value = Some(OsString::from(rest));
            }
        }
        value
    };
    let config_file = option("config")
        .or_else(|| {
            args.iter()
                .position(|a| a == "-c")
                .and_then(|i| args.get(i + 1).cloned())
        })
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/letsencrypt/cli.ini"));
    let ini = read_file(&absolute(&config_file, cwd)).unwrap_or_default();
    DIR_OPTIONS
        .iter()
        .map(|(name, default)| {
            let dir = option(name)
                .map(PathBuf::from)
                .or_else(|| ini_value(&ini, name).map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(default));
            absolute(&dir, cwd)
        })
        .collect()
}

/// `name = value` (or `name value`) in certbot's `cli.ini` (ConfigArgParse's format).
fn ini_value(ini: &str, name: &str) -> Option<String> {
    ini.lines().rev().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix(name)?;
        let value = rest
            .trim_start()
            .strip_prefix('=')
            .or_else(|| rest.starts_with([' ', '\t']).then_some(rest))?
            .trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

fn absolute(path: &Path, cwd: Option<&Path>) -> PathBuf {
    match cwd {
        Some(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn no_file(_: &Path) -> Option<String> {
        None
    }

    #[test]
    fn a_certbot_command_line_names_its_three_directories() {
        let dirs = certbot_dirs(
            &argv(&[
                "/usr/bin/python3",
                "/usr/bin/certbot",
                "renew",
                "--config-dir",
                "/srv/le",
                "--work-dir=work",
                "--logs-dir",
                "/tmp/letsencrypt-log",
            ]),
            Some(Path::new("/data")),
            no_file,
        );
        assert_eq!(
            dirs,
            [
                PathBuf::from("/srv/le"),
                PathBuf::from("/data/work"),
                PathBuf::from("/tmp/letsencrypt-log")
            ]
        );
    }

    #[test]
    fn cli_ini_then_defaults_fill_what_the_arguments_leave_out() {
        let ini = |path: &Path| {
            (path == Path::new("/etc/custom.ini"))
                .then(|| "# comment\nwork-dir = /ini/work\nlogs-dir=/ini/logs\n".to_string())
        };
        let dirs = certbot_dirs(
            &argv(&[
                "python3",
                "-m",
                "certbot",
                "-c",
                "/etc/custom.ini",
                "certonly",
            ]),
            None,
            ini,
        );
        assert_eq!(
            dirs,
            [
                PathBuf::from("/etc/letsencrypt"),
                PathBuf::from("/ini/work"),
                PathBuf::from("/ini/logs")
            ]
        );
    }

    #[test]
    fn other_programs_name_nothing() {
        for args in [
            &["python3", "/opt/app/server.py", "--config-dir", "/x"][..],
            &["/usr/bin/certbot-renewer", "--config-dir", "/x"],
            &["grep", "certbot"],
            &["less", "/var/log/certbot"],
            &[],
        ] {
            assert!(
                certbot_dirs(&argv(args), None, no_file).is_empty(),
                "{args:?}"
            );
        }
    }
}
