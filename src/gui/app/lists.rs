//! The watch lists: loading them, showing the active one as rows (the app's held rows kept or
//! released), saving, and switching, creating, renaming, deleting and importing lists.

use super::{LockscopeApp, OpenList};
use crate::gui::model::OwnLock;
use crate::gui::state::Ask;
use crate::watchlist::{self, State, WatchList};
use std::path::PathBuf;

impl LockscopeApp {
    pub(super) fn lists_loaded(&mut self, mut state: State) {
        match self.open_list.take() {
            Some(OpenList::File(path)) => self.store.import(path),
            // `certbot` is the built-in preset unless a saved list has that name, as for
            // `serve --watchlist certbot`; it needs no file (one that cannot be read included).
            Some(OpenList::Name(name))
                if name == crate::watchlist::CERTBOT_PRESET_NAME
                    && state.get(&name).is_none()
                    && state
                        .insert(crate::watchlist::WatchList::certbot_preset())
                        .and_then(|()| state.switch(&name))
                        .is_ok() => {}
            Some(OpenList::Name(name)) if state.switch(&name).is_err() => {
                self.tell(format!("no saved watch list named {name:?}"), true);
            }
            Some(OpenList::Name(_)) | None => {}
        }
        if state.lists().is_empty() {
            // First run: one empty list to add directories to.
            let _ = state.create("default");
        }
        let settings = state.settings().clone();
        self.lists = Some(state);
        self.apply_settings(settings);
        self.show_active_list(None, "");
        let pending = std::mem::take(&mut self.pending_dirs);
        if !pending.is_empty() {
            self.add_dirs(pending);
        }
    }

    /// Rows become the active list's directories. Rows the app holds a lock for stay (marked as
    /// kept from list `keep_from`) when `keep_from` is given; otherwise their locks are released
    /// and logged with `why`.
    fn show_active_list(&mut self, keep_from: Option<String>, why: &str) {
        // Another list's rows are not this one's to put back, nor its filter to hide them.
        self.removed.clear();
        self.model.set_filter("");
        let stuck_after = self
            .active_list()
            .and_then(|l| l.notify.stuck_after)
            .unwrap_or(watchlist::DEFAULT_STUCK_AFTER);
        self.ui.stuck_after_input = humantime::format_duration(stuck_after).to_string();
        let dirs = self
            .lists
            .as_ref()
            .and_then(State::active)
            .map(|l| l.dirs.clone())
            .unwrap_or_default();
        let gone: Vec<PathBuf> = self
            .model
            .rows()
            .iter()
            .filter(|r| !dirs.contains(&r.dir))
            .map(|r| r.dir.clone())
            .collect();
        for dir in gone {
            if let (Some(from), Some(row)) = (&keep_from, self.model.row_mut(&dir))
                && row.own != OwnLock::None
            {
                row.kept_from.get_or_insert_with(|| from.clone());
                continue;
            }
            self.drop_row(&dir, why);
        }
        for dir in dirs {
            if self.model.add(dir.clone()) {
                self.watch(dir);
            } else if let Some(row) = self.model.row_mut(&dir) {
                row.kept_from = None;
            }
        }
    }

    pub(super) fn save(&mut self) {
        if let (Some(state), false) = (&self.lists, self.saving_disabled) {
            self.store.save(state);
        }
    }

    /// Stores the rows as the active list's directories and saves.
    pub(super) fn save_rows(&mut self) {
        // Rows kept from another list (held by the app) are not this list's.
        let dirs: Vec<PathBuf> = self
            .model
            .rows()
            .iter()
            .filter(|r| r.kept_from.is_none())
            .map(|r| r.dir.clone())
            .collect();
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        let Some(name) = state.active().map(|l| l.name.clone()) else {
            return;
        };
        if let Err(e) = state.set_dirs(&name, dirs) {
            self.tell(e.to_string(), true);
            return;
        }
        self.save();
    }

    pub(super) fn active_list(&self) -> Option<&WatchList> {
        self.lists.as_ref().and_then(State::active)
    }

    /// Switches lists, asking first when the app holds locks the other list does not watch.
    pub(super) fn ask_switch_list(&mut self, to: String) {
        let Some(target) = self.lists.as_ref().and_then(|s| s.get(&to)) else {
            // Unknown: switch_list says so.
            self.switch_list(&to, false);
            return;
        };
        let held = self.held_outside(&target.dirs);
        if held > 0 {
            self.ask = Some(Ask::SwitchList { to, held });
        } else {
            self.switch_list(&to, false);
        }
    }

    /// `keep`: rows held by the app stay (marked) until released; otherwise they are released.
    pub(super) fn switch_list(&mut self, name: &str, keep: bool) {
        let from = self.active_list().map(|l| l.name.clone());
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        if let Err(e) = state.switch(name) {
            self.tell(e.to_string(), true);
            return;
        }
        let why = format!("switched to watch list {name:?}");
        self.show_active_list(from.filter(|_| keep), &why);
        self.save();
    }

    pub(super) fn create_list(&mut self, name: &str) {
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        match state.create(name) {
            Ok(()) => {
                self.save();
                // The same question as switching from the list menu: a new list watches none
                // of the app's locks (Cancel leaves the new list made, not opened).
                self.ask_switch_list(name.trim().to_string());
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    pub(super) fn rename_active_list(&mut self, to: &str) {
        let Some(from) = self.active_list().map(|l| l.name.clone()) else {
            return;
        };
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        match state.rename(&from, to) {
            Ok(()) => self.save(),
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    /// "Delete list": always asks (it cannot be undone), saying which locks it would release.
    pub(super) fn ask_delete_active_list(&mut self) {
        let Some(list) = self.active_list() else {
            return;
        };
        let (name, dirs) = (list.name.clone(), list.dirs.len());
        let held = self.held_outside(&[]);
        self.ask = Some(Ask::DeleteList { name, dirs, held });
    }

    pub(super) fn delete_list(&mut self, name: &str, keep: bool) {
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        match state.delete(name) {
            Ok(_) => {
                if state.lists().is_empty() {
                    let _ = state.create("default");
                }
                let why = format!("watch list {name:?} deleted");
                self.show_active_list(keep.then(|| name.to_string()), &why);
                self.save();
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    pub(super) fn add_list(&mut self, mut list: WatchList) {
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        list.name = state.unused_name(&list.name);
        let name = list.name.clone();
        match state.insert(list) {
            Ok(()) => {
                self.save();
                self.tell(format!("imported watch list {name:?}"), false);
                // Opened as the list menu would: asking first if the app holds locks it lacks.
                self.ask_switch_list(name);
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }
}
