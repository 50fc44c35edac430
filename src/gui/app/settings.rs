//! The settings panel: the poll interval and lock-file name (the monitor restarted when they
//! change, asking first when the app's locks would be left unwatched) and the active list's
//! notification choices.

use super::remote_rows::remote_dir;
use super::{LockscopeApp, start_monitor};
use crate::gui::state::Ask;
use crate::watchlist::{self, Settings};

impl LockscopeApp {
    /// Restarts the monitor when the interval or lock name changed.
    pub(super) fn apply_settings(&mut self, settings: Settings) {
        self.ui.interval_input = humantime::format_duration(settings.interval).to_string();
        self.ui.lock_name_input = settings.lock_name.clone();
        if settings == self.settings {
            return;
        }
        let (monitor, updates) = match start_monitor(&settings, self.wake.clone()) {
            Ok(m) => m,
            Err(e) => {
                self.tell(format!("{e}; keeping the previous settings"), true);
                return;
            }
        };
        self.settings = settings;
        self.monitor = monitor;
        self.updates = updates;
        if let Some(remote) = &self.remote {
            remote.set_options(self.remote_options());
        }
        for dir in self.model.dirs() {
            if remote_dir(&dir).is_none() {
                self.monitor.add(dir);
            }
        }
    }

    /// The settings panel's "Apply": asks first when a new lock-file name would leave the app's
    /// locks (taken under the old name) unwatched.
    pub(super) fn ask_apply_settings(&mut self, interval: String, lock_name: String) {
        let held = self.held_outside(&[]);
        if held > 0 && lock_name.trim() != self.settings.lock_name {
            self.ask = Some(Ask::LockName {
                interval,
                lock_name,
                held,
            });
        } else {
            self.apply_settings_inputs(&interval, &lock_name);
        }
    }

    /// Applies the settings panel's fields.
    pub(super) fn apply_settings_inputs(&mut self, interval: &str, lock_name: &str) {
        // Read like `watch --interval` (a bare number is seconds); the 10ms minimum is checked by
        // set_settings, whose message names the value.
        let interval = match crate::duration::parse_duration(interval) {
            Ok(d) => d,
            Err(e) => {
                self.tell(format!("poll interval: {e}"), true);
                return;
            }
        };
        let settings = Settings {
            interval,
            lock_name: lock_name.trim().to_string(),
        };
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        match state.set_settings(settings.clone()) {
            Ok(()) => {
                self.apply_settings(settings);
                self.save();
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    /// The settings panel's notification choices for the active list, saved with it.
    pub(super) fn set_notifications(
        &mut self,
        stuck_after: Option<&str>,
        background_changes: bool,
    ) {
        let stuck_after = match stuck_after.map(crate::duration::parse_duration) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                self.tell(format!("held longer than: {e}"), true);
                return;
            }
        };
        let notify = watchlist::Notifications {
            stuck_after,
            background_changes,
        };
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        let Some(name) = state.active().map(|l| l.name.clone()) else {
            return;
        };
        match state.set_notify(&name, notify) {
            Ok(()) => {
                if let Some(d) = stuck_after {
                    self.ui.stuck_after_input = humantime::format_duration(d).to_string();
                }
                self.save();
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }
}
