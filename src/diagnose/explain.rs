//! A diagnosis in plain sentences, for a tired admin at 3 am: who, since when, what it is
//! doing, the lock set, each hazard, and what to do next. The sentences carry user-chosen text
//! (paths, command lines, container names) unescaped: callers escape them for a terminal.

use super::{Diagnosis, HeldSinceSource, WarningKind};
use crate::holder::{ProcessDetails, ProcessState};
use crate::local_time::{TimeStyle, age_at, format_age, format_time};
use crate::path_error::PathError;
use crate::probe::LockState;
use jiff::Timestamp;
use std::path::Path;

/// Who reads the advice, so it names what they can do where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// At a prompt: commands to run (`lockscope terminate DIR`).
    Terminal,
    /// In the app: its buttons ("End holder…", "Resume"), which sit above the advice.
    App,
}

/// Paragraphs explaining the lock of `dir` (whose probe said `state`), as of `now`. The last
/// paragraph says what to do, in `reader`'s terms.
pub fn explain(
    dir: &Path,
    state: &Result<LockState, PathError>,
    diagnosis: &Diagnosis,
    now: Timestamp,
    style: TimeStyle,
    reader: Reader,
) -> Vec<String> {
    let shown = dir.display();
    let when = |t: Timestamp| {
        format!(
            "{}, {} ago",
            format_time(t, style),
            format_age(age_at(t, now))
        )
    };
    let mut out = Vec::new();
    let orphaned = diagnosis
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::OrphanedLock);
    let not_permitted = diagnosis
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::HolderNotPermitted);
    match state {
        Err(e) => {
            out.push(format!("{shown}: cannot tell whether it is locked: {e}."));
        }
        Ok(LockState::Absent) => out.push(format!(
            "{shown} is not locked: there is no lock file (certbot deletes it when it \
             finishes), so no certbot is running here{}.",
            if orphaned {
                " as far as the path shows; but see the warning below"
            } else {
                ""
            }
        )),
        Ok(LockState::Free) => out.push(format!(
            "{shown} is not locked: its lock file is left over from a certbot that was killed \
             (or is releasing it right now). It blocks nobody: the next certbot takes it."
        )),
        Ok(LockState::HeldByThisProcess) => {
            out.push(format!("{shown} is locked by this lockscope process."));
        }
        Ok(LockState::Held(holder)) => {
            let who = match (&holder.pid, &diagnosis.holder) {
                (Some(pid), Some(d)) => match &d.user {
                    Some(user) => format!("pid {pid} (user {user})"),
                    None => format!("pid {pid}"),
                },
                (Some(pid), None) => format!("pid {pid}"),
                (None, _) if not_permitted => "a process this user may not look up".to_string(),
                (None, _) => "a process this system cannot see".to_string(),
            };
            match &holder.command {
                Some(cmd) => out.push(format!("{shown} is locked by {who}: {cmd}")),
                None => out.push(format!("{shown} is locked by {who}.")),
            }
        }
    }
    if let Some(since) = &diagnosis.held_since {
        out.push(match since.source {
            HeldSinceSource::Observed => format!(
                "Held since {} (when lockscope saw it taken).",
                when(since.time)
            ),
            // Nothing on a file records when it was locked: the earliest is all that is known.
            HeldSinceSource::LockFileCreated => format!(
                "Taken at the earliest {}, when the lock file was created: certbot creates it \
                 as it locks, but a file left by an earlier run is older than its lock, and \
                 nothing records when that was taken (`lockscope watch` sees it).",
                when(since.time)
            ),
            HeldSinceSource::HolderStarted => format!(
                "Taken at the earliest {}, when the holder started (its lock file is older, \
                 left by an earlier run).",
                when(since.time)
            ),
        });
    }
    if let Some(details) = &diagnosis.holder {
        out.extend(describe_process(details, &when));
    }
    if !diagnosis.lock_set.is_empty() {
        let dirs: Vec<String> = diagnosis
            .lock_set
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        out.push(format!(
            "The same process also holds the locks of {}.",
            dirs.join(", ")
        ));
    }
    for warning in &diagnosis.warnings {
        out.push(format!(
            "Warning ({}): {}.",
            warning.kind.name(),
            warning.message
        ));
    }
    out.push(what_to_do(dir, state, diagnosis, reader));
    out
}

fn describe_process(details: &ProcessDetails, when: &dyn Fn(Timestamp) -> String) -> Vec<String> {
    let mut out = Vec::new();
    let mut doing = match (details.started, details.process_state) {
        (Some(t), Some(s)) => format!("It started {} and is {}", when(t), s),
        (Some(t), None) => format!("It started {}", when(t)),
        (None, Some(s)) => format!("It is {s}"),
        (None, None) => String::new(),
    };
    if let Some(waiting) = &details.waiting_for {
        if doing.is_empty() {
            doing = format!("It is waiting for {waiting}");
        } else {
            doing.push_str(&format!(": waiting for {waiting}"));
        }
    }
    if !doing.is_empty() {
        out.push(format!("{doing}."));
    }
    match (&details.container, &details.unit) {
        (Some(c), _) => {
            let name = c
                .name
                .as_ref()
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default();
            let inside = c
                .pid
                .map(|p| format!(", as pid {p} inside it"))
                .unwrap_or_default();
            out.push(format!(
                "It runs in {} container{name} {}{inside}.",
                c.runtime,
                short_id(&c.id)
            ));
        }
        (None, Some(unit)) => out.push(format!("It runs in the systemd unit {unit}.")),
        (None, None) => {}
    }
    for child in &details.children {
        let mut line = format!("Child process {}", child.pid);
        if let Some(t) = child.started {
            line.push_str(&format!(" (started {})", when(t)));
        }
        if let Some(cmd) = &child.command {
            line.push_str(&format!(": {cmd}"));
        }
        if let Some(waiting) = &child.waiting_for {
            line.push_str(&format!("; waiting for {waiting}"));
        } else if let Some(state) = child.process_state {
            line.push_str(&format!("; {state}"));
        }
        out.push(line);
    }
    out
}

/// A container id as runtimes show it (`docker ps`: 12 characters).
fn short_id(id: &str) -> &str {
    match id.char_indices().nth(12) {
        Some((at, _)) if id.chars().all(|c| c.is_ascii_hexdigit()) => &id[..at],
        _ => id,
    }
}

const DO_NOT_DELETE: &str = "Do not delete the lock file: that does not stop a running \
    certbot, it only lets a second one start beside it, and both then change the same files.";

fn what_to_do(
    dir: &Path,
    state: &Result<LockState, PathError>,
    diagnosis: &Diagnosis,
    reader: Reader,
) -> String {
    let shown = dir.display();
    let orphan = diagnosis
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::OrphanedLock);
    if let Some(orphan) = orphan {
        let pid = orphan
            .holder
            .as_ref()
            .and_then(|h| h.pid)
            .map_or("it".to_string(), |p| format!("pid {p}"));
        return format!(
            "What to do: do not start certbot here until {pid} has finished (or end it: kill \
             -TERM on that pid). Someone removed the lock file of a running certbot; \
             removing lock files never fixes a stuck run."
        );
    }
    let Ok(LockState::Held(holder)) = state else {
        return match state {
            Ok(LockState::Free) => "What to do: nothing; certbot takes this leftover lock \
                 file on its next run, so deleting it is unnecessary (and deleting a held one \
                 never helps: it lets a second certbot start beside the first)."
                .to_string(),
            Ok(LockState::HeldByThisProcess) => {
                "What to do: release it in this lockscope.".to_string()
            }
            Err(_) => "What to do: fix the error above (a path or permission problem), then \
                       ask again."
                .to_string(),
            _ => "What to do: nothing; certbot can run here.".to_string(),
        };
    };
    let Some(pid) = holder.pid else {
        if diagnosis
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::HolderNotPermitted)
        {
            let as_root = match reader {
                Reader::Terminal => format!("`sudo lockscope explain {shown}`"),
                Reader::App => "start the app as root (`sudo lockscope`)".to_string(),
            };
            return format!(
                "What to do: see who holds it as root: {as_root} (the holder is most likely \
                 another user's process, which this user may not look up). {DO_NOT_DELETE}"
            );
        }
        return format!(
            "What to do: look for certbot inside your containers (docker ps, podman ps; docker \
             top NAME) and end it there. {DO_NOT_DELETE}"
        );
    };
    let details = diagnosis.holder.as_ref();
    let terminate = match reader {
        Reader::Terminal => format!("`lockscope terminate {shown}`"),
        Reader::App => "End holder… (above)".to_string(),
    };
    let state = details.and_then(|d| d.process_state);
    let waiting = details.and_then(|d| d.waiting_for.as_deref());
    let first = if waiting.is_some_and(|w| w.starts_with("terminal input")) {
        format!(
            "it is waiting at a prompt for someone to type an answer: answer it in that \
             terminal, or end it with {terminate}."
        )
    } else if state == Some(ProcessState::Stopped) {
        let resume = match reader {
            Reader::Terminal => format!("`kill -CONT {pid}`"),
            Reader::App => "Resume (above)".to_string(),
        };
        format!(
            "it is stopped (Ctrl+Z in its terminal, or a debugger), so it cannot act on \
             anything, not even the request to exit: resume it with {resume} (or `fg` in its \
             shell); to end it, resume it first, then {terminate}."
        )
    } else if state == Some(ProcessState::Uninterruptible) {
        format!(
            "it is stuck in the kernel, usually on I/O (a hung network filesystem?): signals \
             only take effect once that returns; fix the I/O, then {terminate} if needed."
        )
    } else if let Some(child) = details.and_then(|d| d.children.first()) {
        format!(
            "it is waiting for its child process {} (a hook?): find out why that does not \
             finish; ending the child lets certbot go on. To end certbot itself: {terminate}.",
            child.pid
        )
    } else {
        let if_ignored = match reader {
            Reader::Terminal => "`--signal KILL` if it ignores that",
            Reader::App => "it offers Kill if that is ignored",
        };
        format!(
            "if this run should not be going on, end it with {terminate} (SIGTERM first: \
             certbot releases its locks as it exits; {if_ignored})."
        )
    };
    format!("What to do: {first} {DO_NOT_DELETE}")
}
