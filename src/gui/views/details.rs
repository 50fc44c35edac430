//! The details pane (right, for the one selected row): who holds the lock, since when, what it
//! is doing, its children, its unit or container, the lock set, each warning and what to do;
//! and "End holder…": its confirmation dialog ([`confirm_dialog`]) and its progress.
//!
//! Everything shown that a local user chose (paths, command lines, unit and container names,
//! warning sentences) goes through [`escape`]; values are selectable so they can be copied.

use super::style::badge_color;
use crate::diagnose::{Diagnosis, Reader, explain};
use crate::escape::{escape, escape_path};
use crate::gui::intent::Intent;
use crate::gui::model::{Row, state_word};
use crate::gui::state::{EndHolder, Snapshot, UiState};
use crate::holder::{ChildProcess, ProcessDetails, ProcessState};
use crate::local_time::{TimeStyle, age_at, format_age, format_time};
use crate::monitor::{DirState, LockState};
use crate::terminate::Target;
use eframe::egui::{self, Color32, RichText, Ui};
use jiff::Timestamp;
use std::path::Path;

/// The grace times offered in the confirmation dialog, in seconds.
const GRACE_CHOICES: [u32; 4] = [5, 10, 30, 60];

pub fn show(ui: &mut Ui, view: &Snapshot<'_>, row: &Row, intents: &mut Vec<Intent>) {
    let now = Timestamp::now();
    ui.add_space(4.0);
    ui.heading("Details");
    value(ui, escape_path(&row.dir).as_ref());
    let Some(state) = row.details_state() else {
        ui.label("state not known yet");
        return;
    };
    ui.horizontal_wrapped(|ui| {
        state_badge(ui, state);
        if let Some(fresh) = &row.fresh {
            let at = Timestamp::try_from(fresh.at).unwrap_or(now);
            ui.label(RichText::new(format!("checked {} ago", format_age(age_at(at, now)))).weak());
        }
    });
    if let Some(remote) = &row.remote {
        remote_details(ui, view, row, remote);
        return;
    }
    // Above the scrolled part: in sight whatever the pane's height.
    end_holder(ui, view, row, state, intents);
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let diagnosis = row.details_diagnosis();
            match state {
                DirState::Lock(LockState::Held(holder)) => {
                    field(
                        ui,
                        "PID",
                        &holder
                            .pid
                            .map_or("not visible here".into(), |p| p.to_string()),
                    );
                    if let Some(details) = &diagnosis.holder {
                        field(ui, "User", &user(details));
                    }
                    let command = holder.command.as_deref().unwrap_or("(not readable)");
                    field(ui, "Command", escape(command).as_ref());
                }
                DirState::Lock(LockState::HeldByThisProcess) => {
                    field(ui, "Holder", "this app");
                }
                DirState::Error(e) => field(ui, "Error", escape(e.message()).as_ref()),
                DirState::NotResponding => field(ui, "Error", "the filesystem is not responding"),
                _ => {}
            }
            held_since(ui, diagnosis, now);
            if let Some(details) = &diagnosis.holder {
                process(ui, details, now);
            }
            if !diagnosis.lock_set.is_empty() {
                heading(ui, "Also locks");
                for dir in &diagnosis.lock_set {
                    value(ui, escape_path(dir).as_ref());
                }
            }
            warnings(ui, diagnosis);
            if let DirState::Lock(lock) = state {
                what_to_do(ui, &row.dir, lock, diagnosis, now);
            }
            recorded(ui, view, &row.dir, now);
        });
}

/// How many of the flight recorder's events the pane lists (the latest).
const RECORDED_SHOWN: usize = 12;

/// The flight recorder's history of this directory in the timeline's window: the latest holds
/// and refused attempts, newest first; or where such a history would come from.
fn recorded(ui: &mut Ui, view: &Snapshot<'_>, dir: &Path, now: Timestamp) {
    heading(ui, "Recorded history");
    let load = view.recorded;
    let Some(store) = &load.store else {
        ui.label(
            RichText::new(
                "No flight recorder history here. `lockscope record DIR` (or the \
                 lockscope-record service, as root) keeps every hold of this lock and every \
                 attempt that failed while it was held; the timeline then shows them.",
            )
            .weak(),
        );
        return;
    };
    if let Some(error) = &load.error {
        value(
            ui,
            &format!(
                "cannot read {}: {}",
                escape_path(store),
                escape(error.as_str())
            ),
        );
        return;
    }
    let Some(record) = load.dir(dir) else {
        ui.label(
            RichText::new(format!(
                "Nothing recorded for this directory in the timeline's window ({}).",
                escape_path(store)
            ))
            .weak(),
        );
        return;
    };
    enum Event<'a> {
        Hold(&'a crate::history::Hold),
        Refused(&'a crate::history::Refused),
    }
    let mut events: Vec<(Timestamp, Event<'_>)> = record
        .holds
        .iter()
        .map(|h| (h.start, Event::Hold(h)))
        .chain(record.refused.iter().map(|r| (r.time, Event::Refused(r))))
        .collect();
    events.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let short = |t: Timestamp| crate::local_time::format_time_short(t, now, TimeStyle::Resolved);
    for (_, event) in events.iter().take(RECORDED_SHOWN) {
        let line = match event {
            Event::Hold(h) => {
                let who = h
                    .pid
                    .map_or("a process not visible here".into(), |p| format!("pid {p}"));
                let command = h
                    .command
                    .as_deref()
                    .map(|c| format!(": {}", escape(c)))
                    .unwrap_or_default();
                // The end as a time of the start's day when it is the same day.
                let end = match (h.end, h.ended_by) {
                    (Some(end), Some(how)) => format!(
                        "{} ({})",
                        crate::local_time::format_time_short(end, h.start, TimeStyle::Resolved),
                        how.name()
                    ),
                    _ => "still held".into(),
                };
                let start = if h.start_seen {
                    short(h.start)
                } else {
                    format!("≤ {}", short(h.start))
                };
                format!("{start} – {end}: held by {who}{command}")
            }
            Event::Refused(r) => {
                let who = r.pid.map_or("a process".into(), |p| format!("pid {p}"));
                let command = r
                    .command
                    .as_deref()
                    .map(|c| format!(" ({})", escape(c)))
                    .unwrap_or_default();
                let holder = r
                    .holder_pid
                    .map_or(String::new(), |p| format!(" while pid {p} held it"));
                format!("{}: refused {who}{command}{holder}", short(r.time))
            }
        };
        value(ui, &line);
    }
    let more = events.len().saturating_sub(RECORDED_SHOWN);
    let note = match (more, record.cut) {
        (0, _) => format!("From {}.", escape_path(store)),
        (n, false) => format!(
            "{n} more in the timeline's window; `lockscope history {}` lists them all. From {}.",
            escape_path(dir),
            escape_path(store)
        ),
        (_, true) => format!(
            "Many more in the timeline's window; `lockscope history {}` lists them all. From {}.",
            escape_path(dir),
            escape_path(store)
        ),
    };
    ui.label(RichText::new(note).weak());
}

fn state_badge(ui: &mut Ui, state: &DirState) {
    egui::Frame::new()
        .fill(badge_color(state))
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.label(
                RichText::new(state_word(state))
                    .color(Color32::WHITE)
                    .strong(),
            )
        });
}

fn heading(ui: &mut Ui, name: &str) {
    ui.add_space(4.0);
    ui.label(RichText::new(name).strong());
}

/// A `HOST:DIR` row: what the remote lockscope said (no local diagnosis of a remote
/// directory), the host's connection, and what a remote hold by this app depends on.
fn remote_details(ui: &mut Ui, view: &Snapshot<'_>, row: &Row, remote: &crate::remote::RemoteRow) {
    let host = remote.host.as_deref().unwrap_or_default();
    let _ = ui
        .add_enabled(false, egui::Button::new("End holder…"))
        .on_disabled_hover_text(format!(
            "not from the app for remote directories yet: run `lockscope terminate {}`",
            escape_path(&row.dir)
        ));
    ui.separator();
    let connection = match view.model.hosts.get(host) {
        Some(crate::remote::ConnectionState::Lost { reason, retry_in }) => format!(
            "lost: {} (trying again in {})",
            escape(&reason.to_string()),
            crate::duration::readable(*retry_in)
        ),
        Some(state) => state.name().to_string(),
        None => "connecting".to_string(),
    };
    field(ui, "Host", &format!("{} ({connection})", escape(host)));
    if let Some(holder) = &remote.holder {
        let pid = holder
            .pid
            .map_or("not visible there".into(), |p| p.to_string());
        field(ui, "PID", &pid);
        if let Some(command) = &holder.command {
            field(ui, "Command", escape(command).as_ref());
        }
    }
    if let Some(since) = remote.held_since {
        field(ui, "Held since", &format_time(since, TimeStyle::Resolved));
    }
    if let Some(error) = &remote.error {
        field(ui, "Why", escape(error).as_ref());
    }
    for warning in &remote.warnings {
        field(
            ui,
            "Warning",
            &format!("{}: {}", escape(&warning.kind), escape(&warning.message)),
        );
    }
    ui.label(
        RichText::new(
            "A lock this app takes here is held by a remote `lockscope hold` tied to its ssh \
             session: closing the app or losing the connection releases it.",
        )
        .weak(),
    );
}

/// A value: wrapped, selectable.
fn value(ui: &mut Ui, text: &str) {
    ui.add(egui::Label::new(text).wrap().selectable(true));
}

fn field(ui: &mut Ui, name: &str, text: &str) {
    heading(ui, name);
    value(ui, text);
}

fn user(details: &ProcessDetails) -> String {
    match (&details.user, details.uid) {
        (Some(name), Some(uid)) => format!("{} (uid {uid})", escape(name)),
        (Some(name), None) => escape(name).into_owned(),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "unknown".into(),
    }
}

/// "2026-12-02 04:01:42 CET, 12 min ago"
fn when(t: Timestamp, now: Timestamp) -> String {
    format!(
        "{}, {} ago",
        format_time(t, TimeStyle::Resolved),
        format_age(age_at(t, now))
    )
}

fn held_since(ui: &mut Ui, diagnosis: &Diagnosis, now: Timestamp) {
    if let Some(since) = &diagnosis.held_since {
        heading(ui, "Held since");
        value(ui, &when(since.time, now));
        ui.label(RichText::new(since.source.describe()).weak());
    }
}

fn process(ui: &mut Ui, details: &ProcessDetails, now: Timestamp) {
    if let Some(started) = details.started {
        field(ui, "Started", &when(started, now));
    }
    let doing = match (details.process_state, &details.waiting_for) {
        (Some(s), Some(w)) => Some(format!("{s}: waiting for {}", escape(w))),
        (Some(s), None) => Some(s.to_string()),
        (None, Some(w)) => Some(format!("waiting for {}", escape(w))),
        (None, None) => None,
    };
    if let Some(doing) = doing {
        field(ui, "Doing", &doing);
    }
    if let Some(unit) = &details.unit {
        field(ui, "Unit", escape(unit).as_ref());
    }
    if let Some(c) = &details.container {
        let mut text = format!("{} {}", escape(&c.runtime), escape(&c.id));
        if let Some(name) = &c.name {
            text.push_str(&format!(" \"{}\"", escape(name)));
        }
        if let Some(pid) = c.pid {
            text.push_str(&format!(", pid {pid} inside it"));
        }
        field(ui, "Container", &text);
    }
    if !details.children.is_empty() {
        heading(ui, "Children");
        for child in &details.children {
            value(ui, &child_line(child, now));
        }
    }
}

/// "pid 812, 3 s old: /bin/sh -c hook; waiting for child process 813 to exit"
fn child_line(child: &ChildProcess, now: Timestamp) -> String {
    let mut line = format!("pid {}", child.pid);
    if let Some(t) = child.started {
        line.push_str(&format!(", {} old", format_age(age_at(t, now))));
    }
    if let Some(cmd) = &child.command {
        line.push_str(&format!(": {}", escape(cmd)));
    }
    if let Some(waiting) = &child.waiting_for {
        line.push_str(&format!("; waiting for {}", escape(waiting)));
    } else if let Some(state) = child.process_state {
        line.push_str(&format!("; {state}"));
    }
    line
}

fn warnings(ui: &mut Ui, diagnosis: &Diagnosis) {
    for warning in &diagnosis.warnings {
        ui.add_space(4.0);
        ui.label(
            RichText::new(format!("⚠ {}", warning.kind.name()))
                .strong()
                .color(ui.visuals().warn_fg_color),
        );
        value(ui, escape(&warning.message).as_ref());
    }
}

fn what_to_do(ui: &mut Ui, dir: &Path, lock: &LockState, diagnosis: &Diagnosis, now: Timestamp) {
    let mut paragraphs = explain(
        dir,
        &Ok(lock.clone()),
        diagnosis,
        now,
        TimeStyle::Resolved,
        Reader::App,
    );
    let Some(last) = paragraphs.pop() else {
        return;
    };
    ui.add_space(6.0);
    ui.separator();
    value(ui, escape(&last).as_ref());
    egui::CollapsingHeader::new("In sentences")
        .id_salt("explain")
        .show(ui, |ui| {
            for paragraph in &paragraphs {
                value(ui, escape(paragraph).as_ref());
            }
        });
}

/// "End holder…" for a row held by another visible process, and the progress of ending it.
fn end_holder(
    ui: &mut Ui,
    view: &Snapshot<'_>,
    row: &Row,
    state: &DirState,
    intents: &mut Vec<Intent>,
) {
    let here = view.end.filter(|e| e.dir() == row.dir);
    let held_by_other = matches!(state, DirState::Lock(LockState::Held(h)) if h.pid.is_some());
    let holder = row
        .details_diagnosis()
        .holder
        .as_ref()
        .filter(|_| held_by_other);
    // Refused before the user confirms: the kernel would refuse the signal anyway.
    let not_permitted = holder
        .and_then(|h| h.uid)
        .filter(|&uid| !crate::terminate::may_signal(uid))
        .map(|uid| {
            let owner = holder
                .and_then(|h| h.user.as_deref())
                .map_or(format!("uid {uid}"), |u| escape(u).into_owned());
            format!(
                "owned by {owner}: this app may not signal another user's process. Start it \
                 as root (sudo lockscope), or end the holder as {owner}."
            )
        });
    let stopped = holder.is_some_and(|h| h.process_state == Some(ProcessState::Stopped));
    if stopped {
        ui.label(
            RichText::new(
                "⏸ The holder is stopped (Ctrl+Z in its terminal, or a debugger): it keeps \
                 the lock and cannot act on anything, not even End holder's request to exit, \
                 until it runs again.",
            )
            .color(ui.visuals().warn_fg_color),
        );
    }
    if held_by_other || here.is_some() {
        let why_not = if let Some(why) = &not_permitted {
            why.as_str()
        } else if view.end.is_some() {
            "ending another holder is in progress"
        } else {
            ""
        };
        ui.horizontal(|ui| {
            if stopped
                && ui
                    .add_enabled(not_permitted.is_none(), egui::Button::new("Resume"))
                    .on_hover_text("Let it run again (SIGCONT), as `fg` would in its shell")
                    .on_disabled_hover_text(why_not)
                    .clicked()
            {
                intents.push(Intent::ResumeHolder(row.dir.clone()));
            }
            if ui
                .add_enabled(
                    view.end.is_none() && held_by_other && not_permitted.is_none(),
                    egui::Button::new("End holder…"),
                )
                .on_hover_text(
                    "Ask the process holding this lock to exit (SIGTERM), after confirming",
                )
                .on_disabled_hover_text(why_not)
                .clicked()
            {
                intents.push(Intent::EndHolder(row.dir.clone()));
            }
        });
        if let Some(why) = &not_permitted {
            ui.label(RichText::new(why).weak());
        }
    }
    let Some(end) = here else {
        return;
    };
    match end {
        EndHolder::Identifying { .. } => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("identifying the holder…");
            });
        }
        EndHolder::Confirm { .. } => {
            ui.label("waiting for confirmation…");
        }
        EndHolder::Ending {
            target,
            signal,
            grace,
            signalled,
            ..
        } => {
            let text = if *signalled {
                format!(
                    "sent {signal} to pid {}; waiting up to {} for the lock to be released…",
                    target.pid,
                    humantime::format_duration(*grace)
                )
            } else {
                format!("checking pid {} before sending {signal}…", target.pid)
            };
            ui.horizontal_wrapped(|ui| {
                ui.spinner();
                ui.label(text);
            });
        }
        EndHolder::StillHeld { target, grace, .. } => {
            ui.label(
                RichText::new(format!(
                    "pid {} still holds the lock {} after SIGTERM.",
                    target.pid,
                    humantime::format_duration(*grace)
                ))
                .color(ui.visuals().warn_fg_color),
            );
            ui.horizontal(|ui| {
                if ui
                    .button(format!("Kill pid {}", target.pid))
                    .on_hover_text("SIGKILL: it cannot be caught; the process ends at once")
                    .clicked()
                {
                    intents.push(Intent::KillHolder);
                }
                if ui.button("Leave it").clicked() {
                    intents.push(Intent::CancelEnd);
                }
            });
        }
    }
}

/// The confirmation dialog of "End holder…" (modal), while one is asked for.
pub fn confirm_dialog(
    ui: &mut Ui,
    view: &Snapshot<'_>,
    state: &mut UiState,
    intents: &mut Vec<Intent>,
) {
    let Some(EndHolder::Confirm { dir, target }) = view.end else {
        return;
    };
    let modal = egui::Modal::new(egui::Id::unique("end-holder")).show(ui.ctx(), |ui| {
        ui.set_max_width(520.0);
        ui.heading("End the lock's holder?");
        ui.add_space(4.0);
        confirm_text(ui, dir, target);
        ui.add_space(6.0);
        ui.label(
            "It is sent SIGTERM, then lockscope waits for the lock to be released. If it still \
             holds the lock after the wait, you can kill it.",
        );
        ui.horizontal(|ui| {
            ui.label("Wait up to");
            for secs in GRACE_CHOICES {
                ui.selectable_value(&mut state.end_grace_secs, secs, format!("{secs} s"));
            }
        });
        ui.add_space(6.0);
        let mut done = false;
        ui.horizontal(|ui| {
            if ui.button(format!("End pid {}", target.pid)).clicked() {
                intents.push(Intent::ConfirmEnd);
                done = true;
            }
            if ui.button("Cancel").clicked() {
                intents.push(Intent::CancelEnd);
                done = true;
            }
        });
        done
    });
    if modal.should_close() && !modal.inner {
        intents.push(Intent::CancelEnd);
    }
}

fn confirm_text(ui: &mut Ui, dir: &Path, target: &Target) {
    let user = match (&target.user, target.uid) {
        (Some(name), _) => escape(name).into_owned(),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "unknown".into(),
    };
    value(ui, &format!("pid {}, user {user}", target.pid));
    let command = target.command.as_deref().unwrap_or("(command unknown)");
    ui.add(
        egui::Label::new(RichText::new(escape(command).as_ref()).monospace())
            .wrap()
            .selectable(true),
    );
    value(ui, &format!("holds the lock of {}", escape_path(dir)));
    if !target.sharers.is_empty() {
        let pids: Vec<String> = target.sharers.iter().map(|s| s.pid.to_string()).collect();
        // An OFD lock shared through an inherited descriptor outlives this process.
        ui.label(format!(
            "⚠ pid {} shares this lock through the same open file description (it inherited \
             the descriptor): ending pid {} alone will not release it.",
            pids.join(", "),
            target.pid
        ));
    }
}
