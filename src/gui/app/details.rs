//! The details pane and "End holder…": fresh diagnoses of the selected row (again every
//! [`DETAILS_REFRESH`] while it is held), and ending the holder with SIGTERM, then SIGKILL if
//! asked, reporting what became of the lock.

use super::remote_rows::remote_dir;
use super::{DetailsAsked, LockscopeApp};
use crate::gui::state::EndHolder;
use crate::gui::workers::{self, EndEvent};
use crate::terminate::{Outcome, Signal};
use eframe::egui;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

impl LockscopeApp {
    /// Asks the worker for a fresh diagnosis of the selected row when it was just selected,
    /// changed since, or is held and its last diagnosis is [`DETAILS_REFRESH`] old; while a held
    /// row stays selected, asks for a frame when the next is due.
    pub(super) fn refresh_details(&mut self, ctx: &egui::Context) {
        let Some(dir) = self.model.single_selected().map(Path::to_path_buf) else {
            self.details_asked = None;
            return;
        };
        if remote_dir(&dir).is_some() {
            // No local diagnosis of a remote directory: the pane shows the remote's row.
            self.details_asked = None;
            return;
        }
        let Some(row) = self.model.row(&dir) else {
            return;
        };
        let (held, taken_seen, has_fresh) = (row.is_held(), row.taken_seen, row.fresh.is_some());
        let due = match &self.details_asked {
            Some(a) if a.dir == dir => {
                !a.pending && (!has_fresh || (held && a.at.elapsed() >= DETAILS_REFRESH))
            }
            _ => true,
        };
        if due {
            self.diagnoses
                .request(&dir, &self.settings.lock_name, taken_seen);
            self.details_asked = Some(DetailsAsked {
                dir,
                at: Instant::now(),
                pending: true,
            });
        }
        if held && let Some(a) = &self.details_asked {
            ctx.request_repaint_after(DETAILS_REFRESH.saturating_sub(a.at.elapsed()));
        }
    }

    pub(super) fn ask_end_holder(&mut self, dir: PathBuf) {
        if self.end.is_some() {
            return;
        }
        // From a row's menu: its details pane shows the progress and the offer to kill.
        if self.model.single_selected() != Some(dir.as_path()) {
            self.model.click(&dir, false, false);
        }
        if workers::identify_holder(
            &self.events_tx,
            dir.clone(),
            self.settings.lock_name.clone(),
        ) {
            self.end = Some(EndHolder::Identifying { dir });
        } else {
            self.tell("could not start a thread to identify the holder", true);
        }
    }

    pub(super) fn resume_holder(&mut self, dir: PathBuf) {
        if !workers::resume_holder(&self.events_tx, dir, self.settings.lock_name.clone()) {
            self.tell("could not start a thread to resume the holder", true);
        }
    }

    pub(super) fn start_ending(
        &mut self,
        dir: PathBuf,
        target: crate::terminate::Target,
        signal: Signal,
        grace: Duration,
    ) {
        let started = workers::end_holder(
            &self.events_tx,
            dir.clone(),
            self.settings.lock_name.clone(),
            target.clone(),
            signal,
            grace,
        );
        if started {
            self.end = Some(EndHolder::Ending {
                dir,
                target,
                signal,
                grace,
                signalled: false,
            });
        } else {
            self.tell("could not start a thread to end the holder", true);
        }
    }

    pub(super) fn on_end_event(&mut self, event: EndEvent) {
        match event {
            EndEvent::Identified { dir, result } => {
                if !matches!(&self.end, Some(EndHolder::Identifying { dir: d }) if *d == dir) {
                    return; // cancelled meanwhile
                }
                match result {
                    Ok(target) => self.end = Some(EndHolder::Confirm { dir, target }),
                    Err(e) => {
                        self.end = None;
                        self.tell(e, true);
                    }
                }
            }
            EndEvent::Resumed { dir, result } => {
                match result {
                    Ok(pid) => {
                        self.tell(format!("sent SIGCONT to pid {pid}: it runs again"), false)
                    }
                    Err(e) => self.tell(e, true),
                }
                // The pane says whether it still is stopped.
                self.look_again(&dir);
            }
            EndEvent::Signalled { dir, pid } => {
                if let Some(EndHolder::Ending {
                    dir: d,
                    target,
                    signalled,
                    ..
                }) = &mut self.end
                    && *d == dir
                    && target.pid == pid
                {
                    *signalled = true;
                }
            }
            EndEvent::Finished {
                dir,
                pid,
                signal,
                grace,
                result,
            } => {
                let target = match self.end.take() {
                    Some(EndHolder::Ending { target, .. }) => Some(target),
                    other => {
                        self.end = other;
                        None
                    }
                };
                // Raw here: the banner escapes every message it shows.
                let lock = dir.join(&self.settings.lock_name).display().to_string();
                let grace_text = humantime::format_duration(grace);
                match result {
                    Ok(Outcome::Released { exited: true }) => {
                        self.tell(format!("{signal} ended pid {pid}: {lock} released"), false)
                    }
                    Ok(Outcome::Released { exited: false }) => self.tell(
                        format!("released {lock}: pid {pid} let go of the lock after {signal}"),
                        false,
                    ),
                    Ok(Outcome::PassedOn(holder)) => self.tell(
                        format!("pid {pid} released {lock}; it is now held by {}", holder),
                        false,
                    ),
                    Ok(Outcome::StillShared { holder, exited }) => self.tell(
                        format!(
                            "{lock} is still held through the same open file description by \
                             {holder}, which inherited the descriptor; pid {pid} {} after \
                             {signal}. End that process too to release it",
                            if exited { "exited" } else { "lives on" }
                        ),
                        true,
                    ),
                    Ok(Outcome::StillHeld) if signal == Signal::term() => {
                        self.tell(
                            format!(
                                "{lock} is still held by pid {pid} {grace_text} after {signal}"
                            ),
                            true,
                        );
                        if let Some(target) = target {
                            self.end = Some(EndHolder::StillHeld {
                                dir: dir.clone(),
                                target,
                                grace,
                            });
                        }
                    }
                    Ok(Outcome::StillHeld) => self.tell(
                        format!(
                            "{lock} is still held by pid {pid} {grace_text} after {signal}: it \
                             may be stuck in the kernel (uninterruptible sleep)"
                        ),
                        true,
                    ),
                    Err(e) => self.tell(e, true),
                }
                // The holder is gone, or not.
                self.look_again(&dir);
            }
        }
    }
}

impl LockscopeApp {
    /// After a signal to `dir`'s holder: its state and, if its details are shown, its diagnosis
    /// are looked at again at once.
    fn look_again(&mut self, dir: &Path) {
        self.recheck(dir);
        if let Some(a) = self.details_asked.as_mut().filter(|a| a.dir == dir) {
            a.pending = false;
        }
        if let Some(row) = self.model.row_mut(dir) {
            row.fresh = None;
        }
    }
}

/// How often the details of a held, selected row are diagnosed again.
const DETAILS_REFRESH: Duration = Duration::from_secs(2);
