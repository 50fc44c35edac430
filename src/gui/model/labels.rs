//! How a row is worded in a narrow column: holder command lines shortened (and cut in the middle
//! to fit) so that what tells two certbots apart stays, and each state's badge word.

use crate::monitor::{DirState, LockState};

/// The options whose paths tell two certbots apart: kept whole by [`short_command`].
const DIR_OPTIONS: [&str; 5] = ["--config-dir", "--work-dir", "--logs-dir", "-c", "--config"];

/// A command line made readable in a narrow column: absolute paths shortened to their file name
/// ("/usr/bin/python3 /usr/bin/certbot renew" → "python3 certbot renew"), except the paths of
/// `--config-dir`, `--work-dir`, `--logs-dir` and `-c`/`--config` (as `--opt PATH` or
/// `--opt=PATH`), which are what tell two certbots apart. The full line is shown on hover.
pub fn short_command(command: &str) -> String {
    let mut after_dir_option = false;
    command
        .split(' ')
        .map(|word| {
            let keep = std::mem::take(&mut after_dir_option)
                || word
                    .split_once('=')
                    .is_some_and(|(opt, _)| DIR_OPTIONS.contains(&opt));
            after_dir_option = DIR_OPTIONS.contains(&word);
            match word.rsplit_once('/') {
                Some((_, name)) if !keep && word.starts_with('/') && !name.is_empty() => name,
                _ => word,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`short_command`] made to fit `max_chars`: the longest paths are cut in the middle ("…"),
/// keeping their start and their longer end (the end is what differs between two certbots).
/// Words that are not paths are left alone (the label still cuts its end if need be).
pub fn fit_command(command: &str, max_chars: usize) -> String {
    const MIN_PATH: usize = 10;
    let mut words: Vec<String> = short_command(command)
        .split(' ')
        .map(str::to_string)
        .collect();
    let too_long = |words: &[String]| {
        words.iter().map(|w| w.chars().count()).sum::<usize>() + words.len().saturating_sub(1)
            > max_chars
    };
    // "python3 certbot ...": the interpreter says least.
    if too_long(&words) && words.len() > 1 && words[0].starts_with("python") {
        words.remove(0);
    }
    let len = |words: &[String]| -> usize {
        words.iter().map(|w| w.chars().count()).sum::<usize>() + words.len().saturating_sub(1)
    };
    loop {
        let total = len(&words);
        if total <= max_chars {
            break;
        }
        let longest = words
            .iter()
            .enumerate()
            .filter(|(_, w)| w.contains('/') && w.chars().count() > MIN_PATH)
            .max_by_key(|(_, w)| w.chars().count())
            .map(|(i, _)| i);
        let Some(i) = longest else { break };
        let n = words[i].chars().count();
        let keep = n.saturating_sub(total - max_chars).max(MIN_PATH);
        if keep >= n {
            break;
        }
        words[i] = cut_path(&words[i], keep);
    }
    let line = words.join(" ");
    // Still too long (long words that are not paths): the line loses its middle, not its end.
    cut_middle(&line, max_chars.max(MIN_PATH))
}

/// A directory fitted to `max_chars`: cut in the middle ("…"), keeping its start and its longer
/// end, which is what tells rows apart (`/tmp/shots.mN60U4/w…` cut at the end hid that the
/// five rows of a list were `…/work-1` to `…/work-5`). The full path is shown on hover.
pub fn fit_dir(dir: &str, max_chars: usize) -> String {
    cut_middle(dir, max_chars.max(12))
}

/// A path in `keep` characters: its leading "/", "…", and its end (what differs).
fn cut_path(path: &str, keep: usize) -> String {
    let chars: Vec<char> = path.chars().collect();
    if chars.len() <= keep || keep < 3 {
        return path.to_string();
    }
    let mut out: String = chars[..1].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - (keep - 2)..]);
    out
}

/// `text` in `keep` characters: its first quarter, "…", and the rest from its end.
fn cut_middle(text: &str, keep: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= keep || keep < 2 {
        return text.to_string();
    }
    let head = (keep - 1) / 4;
    let tail = keep - 1 - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// The state's word in the table's badge.
pub fn state_word(state: &DirState) -> &'static str {
    match state {
        DirState::Lock(LockState::Held(_)) => "Held",
        DirState::Lock(LockState::HeldByThisProcess) => "Held by this app",
        DirState::Lock(LockState::Free) => "Free (stale file)",
        DirState::Lock(LockState::Absent) => "Absent",
        DirState::Missing => "Missing",
        DirState::Error(_) => "Error",
        DirState::NotResponding => "Not responding",
        DirState::Unknown(_) => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_directory_keeps_its_end() {
        let dir = "/tmp/shots.mN60U4/work-directory-3";
        assert_eq!(fit_dir(dir, 100), dir);
        let fitted = fit_dir(dir, 20);
        assert_eq!(fitted.chars().count(), 20, "{fitted}");
        assert!(
            fitted.starts_with("/tmp") && fitted.ends_with("directory-3"),
            "{fitted}"
        );
        assert!(fitted.contains('…'), "{fitted}");
        // Never narrower than a few characters of each end.
        assert_eq!(fit_dir(dir, 1).chars().count(), 12);
    }

    #[test]
    fn commands_are_shortened_for_the_table() {
        assert_eq!(
            short_command("/usr/bin/python3 /usr/bin/certbot renew"),
            "python3 certbot renew"
        );
        assert_eq!(
            short_command("certbot --config-dir /etc/le/ x"),
            "certbot --config-dir /etc/le/ x"
        );
        assert_eq!(short_command(""), "");
        assert_eq!(
            short_command(
                "/usr/bin/certbot --config-dir /srv/a/etc --work-dir=/srv/a/lib -c /x/cli.ini"
            ),
            "certbot --config-dir /srv/a/etc --work-dir=/srv/a/lib -c /x/cli.ini",
            "the paths that tell two certbots apart are kept"
        );
    }

    #[test]
    fn long_paths_are_cut_in_the_middle_to_fit() {
        let cmd = "/usr/bin/certbot renew --config-dir /srv/customers/acme-corporation/letsencrypt-staging";
        let fitted = fit_command(cmd, 50);
        assert!(fitted.chars().count() <= 50, "{fitted}");
        assert!(
            fitted.starts_with("certbot renew --config-dir /"),
            "{fitted}"
        );
        assert!(
            fitted.ends_with("letsencrypt-staging"),
            "the end is kept: {fitted}"
        );
        assert!(fitted.contains('…'), "{fitted}");
        assert_eq!(fit_command(cmd, 500), short_command(cmd), "fits: unchanged");
        assert_eq!(cut_middle("abcdefghij", 7), "a…fghij");
    }
}
