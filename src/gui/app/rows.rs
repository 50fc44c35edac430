//! Watching a row's directory and letting it go, local or remote alike: each call goes to the
//! local monitor and lock worker, or to the remote hub and the remote locks, by the row's name.

use super::LockscopeApp;
use super::remote_rows::{remote_change, remote_dir};
use crate::gui::model::OwnLock;
use crate::monitor::DirState;
use std::path::{Path, PathBuf};

impl LockscopeApp {
    /// Starts watching a row's directory: the local monitor, or the remote hub (started now if
    /// this is the first remote row).
    pub(super) fn watch(&mut self, dir: PathBuf) {
        let Some(remote) = remote_dir(&dir) else {
            self.monitor.add(dir);
            return;
        };
        match self.remote_monitor() {
            Ok(hub) => hub.add(remote),
            Err(e) => {
                let change = remote_change(
                    &self.model,
                    dir,
                    &self.settings.lock_name,
                    DirState::Unknown(format!("cannot reach remote hosts: {e}")),
                    None,
                );
                self.model.apply(change);
            }
        }
    }

    pub(super) fn unwatch(&mut self, dir: &Path) {
        match remote_dir(dir) {
            None => self.monitor.remove(dir),
            Some(remote) => {
                if let Some(hub) = &self.remote {
                    hub.remove(remote);
                }
            }
        }
    }

    /// A fresh look after the app's own lock action (the remote watch sees it by itself).
    pub(super) fn recheck(&mut self, dir: &Path) {
        if remote_dir(dir).is_none() {
            self.monitor.recheck(dir);
        }
    }

    pub(super) fn release_lock(&mut self, dir: &Path) {
        if remote_dir(dir).is_some() {
            self.remote_locks.release(&dir.to_path_buf());
        } else {
            self.locks.release(dir);
        }
    }

    /// Drops a row; a lock the app holds for it is released, and the release logged with `why`.
    pub(super) fn drop_row(&mut self, dir: &Path, why: &str) {
        if let Some(row) = self.model.remove(dir) {
            if row.own != OwnLock::None {
                self.release_lock(dir);
                self.releasing
                    .insert(dir.to_path_buf(), (row.state.clone(), why.to_string()));
            }
            self.unwatch(dir);
        }
    }

    /// How many of the app's locks (held or being taken) are on rows `keep` does not want.
    pub(super) fn held_outside(&self, keep: &[PathBuf]) -> usize {
        self.model
            .rows()
            .iter()
            .filter(|r| r.own != OwnLock::None && !keep.contains(&r.dir))
            .count()
    }
}
