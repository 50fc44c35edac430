//! The event pump: once a frame, what the monitor and the workers reported since the last one
//! (lock and store outcomes, dialogs, diagnoses, remote events) is applied to the state, and the
//! desktop notices that fell due are sent.

use super::LockscopeApp;
use crate::gui::model::OwnLock;
use crate::gui::notify::{HeldRow, Notifier};
use crate::gui::workers::{LockOutcome, StoreOutcome, WorkerEvent};
use crate::monitor::{DirState, LockState, Update};
use crate::watchlist::State;
use std::time::{Duration, Instant, SystemTime};

impl LockscopeApp {
    /// Applies everything the workers reported since the last frame. `focused`: whether the
    /// window has the focus (changes seen in the background may be notified).
    pub(super) fn pump(&mut self, focused: bool) {
        let background_changes = !focused
            && self
                .active_list()
                .is_some_and(|l| l.notify.background_changes);
        while let Ok(update) = self.updates.try_recv() {
            match update {
                Update::Change(change) => {
                    self.notifier.on_change(&change, background_changes);
                    self.model.apply(change)
                }
                Update::Notice(text) => self.tell(text, false),
            }
        }
        while let Ok(event) = self.events.try_recv() {
            match event {
                WorkerEvent::Lock(outcome) => self.on_lock_outcome(outcome),
                WorkerEvent::Store(outcome) => self.on_store_outcome(outcome),
                WorkerEvent::Dialog(answer) => {
                    self.dialog_open = false;
                    match answer {
                        Some(outcome) => self.on_dialog(outcome),
                        None => self.no_dialog_hint(),
                    }
                }
                WorkerEvent::Diagnosed { dir, fresh } => {
                    if let Some(asked) = self.details_asked.as_mut().filter(|a| a.dir == dir) {
                        asked.pending = false;
                    }
                    self.model.set_fresh(&dir, fresh);
                }
                WorkerEvent::End(event) => self.on_end_event(event),
                WorkerEvent::Resolved(resolved) => self.add_resolved(resolved),
                WorkerEvent::Discovered(found) => self.on_discovered(found),
                WorkerEvent::Opened { dir, error } => {
                    if let Some(e) = error {
                        self.tell(format!("could not open {}: {e}", dir.display()), true);
                    }
                }
                WorkerEvent::NoticeFailed(e) => {
                    self.tell(format!("desktop notifications cannot be shown: {e}"), true)
                }
                WorkerEvent::Remote(event) => self.on_remote_event(event, background_changes),
                WorkerEvent::RemoteHoldEnded { dir, error } => {
                    self.on_remote_hold_ended(dir, error)
                }
                WorkerEvent::Recorded(load) => self.recorded = load,
            }
        }
    }

    fn on_lock_outcome(&mut self, outcome: LockOutcome) {
        const ORPHANED: &str = "the lock file was removed or replaced while this app held it: \
            the lock no longer excludes certbot (release it)";
        let dir = match &outcome {
            LockOutcome::Held { dir, .. }
            | LockOutcome::Refused { dir, .. }
            | LockOutcome::Released { dir, .. }
            | LockOutcome::Orphaned { dir } => dir.clone(),
        };
        let error = match (&outcome, self.model.row_mut(&dir)) {
            (
                LockOutcome::Held {
                    until, remote_pid, ..
                },
                Some(row),
            ) => {
                row.own = OwnLock::Held { until: *until };
                row.refusal = None;
                if let Some(pid) = remote_pid {
                    self.remote_pids.insert(dir.clone(), *pid);
                }
                None
            }
            (LockOutcome::Refused { reason, .. }, Some(row)) => {
                row.own = OwnLock::None;
                row.refusal = Some(reason.clone());
                None
            }
            (LockOutcome::Released { error, .. }, Some(row)) => {
                self.remote_pids.remove(&dir);
                row.own = OwnLock::None;
                row.orphaned = false;
                row.release_asked = false;
                error.clone()
            }
            (LockOutcome::Orphaned { .. }, Some(row)) => {
                row.orphaned = true;
                Some(ORPHANED.to_string())
            }
            // A row removed meanwhile: a lock taken for it is not wanted any more.
            (LockOutcome::Held { .. }, None) => {
                self.release_lock(&dir);
                None
            }
            // A row the app dropped: its release is logged here (the monitor no longer
            // watches it).
            (LockOutcome::Released { error, .. }, None) => {
                if let Some((old, why)) = self.releasing.remove(&dir) {
                    self.model.log_action(
                        dir.clone(),
                        old,
                        DirState::Lock(LockState::Absent),
                        format!("released by this app: {why}"),
                    );
                }
                error.clone()
            }
            _ => None,
        };
        if let LockOutcome::Held {
            remote_pid: Some(_),
            ..
        } = &outcome
            && let Some(last) = self.model.row(&dir).and_then(|r| r.remote.clone())
        {
            // The remote watch may have seen the hold before its answer came: it is ours.
            self.on_remote_row((*last).clone(), false);
        }
        match (&outcome, error) {
            (LockOutcome::Orphaned { .. }, Some(e)) => {
                self.tell(format!("{}: {e}", dir.display()), true);
            }
            (_, Some(e)) => self.tell(format!("released {}, but: {e}", dir.display()), true),
            (_, None) => {}
        }
        let kept = self
            .model
            .row(&dir)
            .filter(|r| r.own == OwnLock::None)
            .and_then(|r| r.kept_from.clone());
        if let (LockOutcome::Released { .. }, Some(from)) = (&outcome, kept) {
            // A row kept from another list only while the app held its lock.
            let old = self.model.row(&dir).and_then(|r| r.state.clone());
            self.model.log_action(
                dir.clone(),
                old,
                DirState::Lock(LockState::Absent),
                format!(
                    "released by this app; not in this list (kept from {from:?}), no longer watched"
                ),
            );
            self.model.remove(&dir);
            self.unwatch(&dir);
            return;
        }
        self.recheck(&dir);
    }

    fn on_store_outcome(&mut self, outcome: StoreOutcome) {
        match outcome {
            StoreOutcome::Loaded(Ok(loaded)) => {
                for warning in &loaded.warnings {
                    self.tell(warning.to_string(), false);
                }
                self.lists_loaded(loaded.state);
            }
            StoreOutcome::Loaded(Err(e)) => {
                self.saving_disabled = true;
                self.tell(format!("{e}; changes will not be saved this session"), true);
                self.lists_loaded(State::default());
            }
            StoreOutcome::Saved(Err(e)) => {
                self.tell(format!("could not save the watch lists: {e}"), true)
            }
            StoreOutcome::Saved(Ok(())) => {}
            StoreOutcome::Imported(Ok(imported)) => {
                let name = imported.list.name.clone();
                self.add_list(imported.list);
                if !imported.skipped.is_empty() {
                    self.tell(skipped_message(&name, &imported.skipped), true);
                }
            }
            StoreOutcome::Imported(Err(e)) => self.tell(format!("import failed: {e}"), true),
            StoreOutcome::Exported(path, Ok(())) => {
                self.tell(format!("exported to {}", path.display()), false)
            }
            StoreOutcome::Exported(_, Err(e)) => self.tell(format!("export failed: {e}"), true),
            StoreOutcome::ExportWouldReplace(list, path) => {
                self.ask = Some(crate::gui::state::Ask::ReplaceFile { list, path });
            }
        }
    }

    /// Sends the desktop notifications due now: the batch of background changes, and holds
    /// past the active list's threshold. Returns when the next one may be due.
    pub(super) fn send_notices(&mut self) -> Option<Duration> {
        let now = Instant::now();
        if let Some(notice) = self.notifier.take_batch(now) {
            self.notices.send(notice);
        }
        let batch_wait = self.notifier.batch_wait(now);
        let Some(stuck_after) = self.active_list().and_then(|l| l.notify.stuck_after) else {
            return batch_wait;
        };
        // Holds by others: the app's own locks are the user's doing.
        let held = self.model.rows().iter().filter_map(|row| {
            let since = row.held_for()?.since;
            let DirState::Lock(LockState::Held(holder)) = row.state.as_ref()? else {
                return None;
            };
            Some(HeldRow {
                dir: &row.dir,
                pid: holder.pid,
                command: holder.command.as_deref(),
                since,
                waiting_for: row
                    .diagnosis
                    .holder
                    .as_ref()
                    .and_then(|d| d.waiting_for.as_deref()),
            })
        });
        let wall = SystemTime::now();
        let stuck: Vec<_> = held.collect();
        let next = Notifier::next_stuck(stuck.iter().map(|r| r.since), stuck_after, wall);
        for notice in self.notifier.check_stuck(stuck, stuck_after, wall) {
            self.notices.send(notice);
        }
        [batch_wait, next].into_iter().flatten().min()
    }
}

/// How many directories an import left out of list `name`, and why: the first few by name.
fn skipped_message(
    name: &str,
    skipped: &[(std::path::PathBuf, crate::watchlist::DirProblem)],
) -> String {
    const NAMED: usize = 5;
    let mut text = format!(
        "import of {name:?} skipped {} {}: ",
        skipped.len(),
        if skipped.len() == 1 {
            "entry"
        } else {
            "entries"
        }
    );
    let named: Vec<String> = skipped
        .iter()
        .take(NAMED)
        .map(|(dir, problem)| format!("{:?} {problem}", dir.display().to_string()))
        .collect();
    text.push_str(&named.join("; "));
    if skipped.len() > NAMED {
        text.push_str(&format!("; and {} more", skipped.len() - NAMED));
    }
    text
}
