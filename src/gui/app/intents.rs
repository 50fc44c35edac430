//! What the user can do: the views' [`Intent`]s carried out after painting (like rerun's
//! `command_handling.rs`), the answers to the app's questions, and the row actions they lead to:
//! adding (typed, dropped, picked paths), removing, acquiring and releasing.

use super::LockscopeApp;
use super::remote_rows::remote_dir;
use crate::gui::intent::{Intent, Rows};
use crate::gui::model::OwnLock;
use crate::gui::state::{Answer, Ask, EndHolder, Finding};
use crate::gui::workers::{self, Resolved};
use crate::terminate::Signal;
use crate::watchlist;
use eframe::egui;
use std::path::{Path, PathBuf};
use std::time::Duration;

impl LockscopeApp {
    /// Carries out what the views asked for this frame.
    pub(super) fn apply(&mut self, intent: Intent, ctx: &egui::Context) {
        match intent {
            Intent::AddDirs(paths) => self.resolve_and_add(paths),
            Intent::AddTypedPaths(text) => self.add_typed_paths(&text),
            Intent::AddCertbotDefaults => self.add_dirs(watchlist::certbot_defaults()),
            Intent::PickFolders => self.open_folder_dialog(),
            Intent::RemoveSelected => self.ask_remove_selected(),
            Intent::Remove(dir) => self.remove(vec![dir]),
            Intent::UndoRemove => {
                let dirs = std::mem::take(&mut self.removed);
                self.add_dirs(dirs);
            }
            Intent::Toggle(rows) => {
                let dirs = self.dirs_of(rows);
                let (release, acquire): (Vec<PathBuf>, Vec<PathBuf>) = dirs
                    .into_iter()
                    .partition(|d| self.model.row(d).is_some_and(|r| r.can_release()));
                self.release(&release);
                self.acquire(&acquire, None, true);
            }
            Intent::OpenFolder(dir) => {
                if !workers::open_folder(&self.events_tx, self.file_manager.clone(), dir) {
                    self.tell("could not start a thread to open the folder", true);
                }
            }
            Intent::MoveCursor { by, extend } => {
                self.ui.scroll_to = self.model.move_cursor(by, extend);
            }
            Intent::SelectAll => self.model.select_all(),
            Intent::ClearSelection => self.model.clear_selection(),
            Intent::Resort => self.model.resort(),
            Intent::Acquire(rows, hold_for) => {
                let bulk = rows == Rows::Selected;
                let dirs = self.dirs_of(rows);
                self.acquire(&dirs, hold_for, bulk);
            }
            Intent::Release(rows) => {
                let dirs = self.dirs_of(rows);
                self.release(&dirs);
            }
            Intent::Click {
                dir,
                toggle,
                extend,
            } => self.model.click(&dir, toggle, extend),
            Intent::SortBy(key) => self.model.sort_by(key),
            Intent::Filter(text) => self.model.set_filter(&text),
            Intent::SwitchList(name) => self.ask_switch_list(name),
            Intent::CreateList(name) => {
                self.create_list(&name);
                self.ui.list_name_input.clear();
            }
            Intent::RenameList(name) => {
                self.rename_active_list(&name);
                self.ui.list_name_input.clear();
            }
            Intent::DeleteList => self.ask_delete_active_list(),
            Intent::Import => self.open_import_dialog(),
            Intent::Export => self.open_export_dialog(),
            Intent::SubmitFilePrompt => self.submit_file_prompt(),
            Intent::CancelFilePrompt => self.ui.file_prompt = None,
            Intent::SetNotifications {
                stuck_after,
                background_changes,
            } => self.set_notifications(stuck_after.as_deref(), background_changes),
            Intent::ApplySettings {
                interval,
                lock_name,
            } => self.ask_apply_settings(interval, lock_name),
            Intent::Answer(answer) => self.answer(answer, ctx),
            Intent::CopyText(text) => ctx.copy_text(text),
            Intent::DismissAllMessages => self.messages.clear(),
            Intent::FindLocks => self.find_locks(),
            Intent::ChooseFound { index, chosen } => {
                if let Some(Finding::Found { chosen: ticks, .. }) = &mut self.finding
                    && let Some(tick) = ticks.get_mut(index)
                {
                    *tick = chosen;
                }
            }
            Intent::AddFound => {
                if let Some(Finding::Found { found, chosen }) = self.finding.take() {
                    let dirs: Vec<PathBuf> = found
                        .dirs
                        .into_iter()
                        .zip(chosen)
                        .filter(|(_, chosen)| *chosen)
                        .map(|(f, _)| f.dir)
                        .collect();
                    self.add_dirs(dirs);
                }
            }
            Intent::CloseFound => self.finding = None,
            Intent::DismissMessage(i) => {
                if i < self.messages.len() {
                    self.messages.remove(i);
                }
            }
            Intent::DismissHint => self.ui.hint = None,
            Intent::EndHolder(dir) => self.ask_end_holder(dir),
            Intent::ResumeHolder(dir) => self.resume_holder(dir),
            Intent::ConfirmEnd => {
                if let Some(EndHolder::Confirm { dir, target }) = self.end.take() {
                    let grace = Duration::from_secs(self.ui.end_grace_secs.into());
                    self.start_ending(dir, target, Signal::term(), grace);
                }
            }
            Intent::KillHolder => {
                if let Some(EndHolder::StillHeld { dir, target, grace }) = self.end.take() {
                    self.start_ending(dir, target, Signal::kill(), grace);
                }
            }
            Intent::CancelEnd => {
                if matches!(
                    self.end,
                    Some(EndHolder::Confirm { .. } | EndHolder::StillHeld { .. })
                ) {
                    self.end = None;
                }
            }
            Intent::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }

    fn dirs_of(&mut self, rows: Rows) -> Vec<PathBuf> {
        match rows {
            Rows::Selected => self.model.selected_dirs(),
            Rows::One(dir) => vec![dir],
        }
    }

    /// Carries out what was asked, as answered.
    fn answer(&mut self, answer: Answer, ctx: &egui::Context) {
        let Some(ask) = self.ask.take() else {
            return;
        };
        if answer == Answer::Cancel {
            return;
        }
        let keep = answer == Answer::Keep;
        match ask {
            Ask::SwitchList { to, .. } => self.switch_list(&to, keep),
            Ask::DeleteList { name, .. } => self.delete_list(&name, keep),
            Ask::Remove { dirs, .. } => self.remove(dirs),
            Ask::ReplaceFile { list, path } => self.export_to(&list, path, true),
            Ask::Quit { .. } => {
                self.quit_confirmed = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            Ask::LockName {
                interval,
                lock_name,
                ..
            } => {
                let held: Vec<PathBuf> = self
                    .model
                    .rows()
                    .iter()
                    .filter(|r| r.own != OwnLock::None)
                    .map(|r| r.dir.clone())
                    .collect();
                for dir in held {
                    self.release_lock(&dir);
                    if let Some(row) = self.model.row_mut(&dir) {
                        row.release_asked = true;
                    }
                }
                self.apply_settings_inputs(&interval, &lock_name);
            }
        }
    }

    /// Adds directories (typed, dropped, picked). Relative paths are made absolute, `~` expanded.
    pub(super) fn add_dirs(&mut self, dirs: impl IntoIterator<Item = PathBuf>) {
        if self.lists.is_none() {
            // Still loading (a slow config directory): keep them for the list being loaded.
            self.pending_dirs
                .extend(dirs.into_iter().map(|d| normalize(&d)));
            return;
        }
        let mut added = false;
        let mut already = Vec::new();
        for dir in dirs {
            let dir = normalize(&dir);
            if dir.to_str().is_none() {
                self.tell(
                    format!(
                        "{} is not valid UTF-8: watch it with `lockscope watch`",
                        dir.display()
                    ),
                    true,
                );
                continue;
            }
            if self.model.add(dir.clone()) {
                self.watch(dir);
                added = true;
            } else if let Some(row) = self.model.row_mut(&dir)
                && row.kept_from.is_some()
            {
                // Kept from another list while held: now this list's too.
                row.kept_from = None;
                added = true;
            } else {
                already.push(dir.display().to_string());
            }
        }
        if added {
            self.save_rows();
        }
        if !already.is_empty() {
            self.tell(format!("already watched: {}", already.join(", ")), false);
        }
    }

    /// Typed or dropped paths: each resolved on a worker like `lockscope status` resolves it (a
    /// lock file means its directory), then added.
    fn resolve_and_add(&mut self, paths: Vec<PathBuf>) {
        let mut refused = Vec::new();
        let paths: Vec<PathBuf> = paths
            .iter()
            .filter(|p| match crate::remote::parse_operand(p.as_os_str()) {
                Ok(_) => true,
                Err(e) => {
                    refused.push(e.to_string());
                    false
                }
            })
            .map(|p| normalize(p))
            .collect();
        for why in refused {
            self.tell(why, true);
        }
        if paths.is_empty() {
            return;
        }
        let lock_name = self.settings.lock_name.clone();
        if !workers::resolve_paths(&self.events_tx, paths.clone(), lock_name.clone()) {
            // No thread: only what the name tells (a path named like the lock file).
            let dirs = paths
                .into_iter()
                .map(|p| match (p.file_name(), p.parent()) {
                    (Some(name), Some(parent)) if name == lock_name.as_str() => {
                        parent.to_path_buf()
                    }
                    _ => p,
                });
            self.add_dirs(dirs.collect::<Vec<_>>());
        }
    }

    pub(super) fn add_resolved(&mut self, resolved: Vec<Resolved>) {
        for r in &resolved {
            let name = r.path.file_name().map(|n| n.to_string_lossy().into_owned());
            if let (true, Some(name)) = (r.was_file, name)
                && name != self.settings.lock_name
            {
                // Raw here: the banner escapes every message it shows.
                self.tell(
                    format!(
                        "{} is a file: watching its directory {} for the lock file {:?}                          (the lock file name in Settings applies to every directory)",
                        r.path.display(),
                        r.dir.display(),
                        self.settings.lock_name
                    ),
                    false,
                );
            }
        }
        self.add_dirs(resolved.into_iter().map(|r| r.dir).collect::<Vec<_>>());
    }

    /// The path field's text, on Enter or "Add" (or a paste of several lines): one path per
    /// line. A relative path is refused with a hint and left in the field to be completed: the
    /// app's working directory is not one the user chose (it was resolved against it silently).
    fn add_typed_paths(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.ui.path_input.clear();
        self.ui.hint = None;
        let (relative, paths): (Vec<PathBuf>, Vec<PathBuf>) = text
            .lines()
            .map(|l| PathBuf::from(l.trim()))
            .filter(|p| !p.as_os_str().is_empty())
            .partition(|p| {
                // HOST:DIR operands (and refused ones, which say why themselves) are not paths.
                let local = matches!(
                    crate::remote::parse_operand(p.as_os_str()),
                    Ok(crate::remote::Operand::Local(_))
                );
                local && p.is_relative() && !p.starts_with("~")
            });
        if let Some(first) = relative.first() {
            self.ui.path_input = first.to_string_lossy().into_owned();
            let cwd = std::env::current_dir()
                .map(|d| format!(" ({})", d.display()))
                .unwrap_or_default();
            for path in &relative {
                self.tell(
                    format!(
                        "{} is a relative path: type the whole path, from / (or ~/ for your \
                         home); it is not resolved against the app's working directory{cwd}",
                        path.display()
                    ),
                    true,
                );
            }
        }
        self.resolve_and_add(paths);
    }

    /// "Remove selected": asks first (and says which locks it releases).
    fn ask_remove_selected(&mut self) {
        let dirs = self.model.selected_dirs();
        if dirs.is_empty() {
            return;
        }
        let held = self
            .model
            .rows()
            .iter()
            .filter(|r| r.own != OwnLock::None && dirs.contains(&r.dir))
            .count();
        self.ask = Some(Ask::Remove { dirs, held });
    }

    /// Removes rows (their locks released and logged); "Undo remove" puts them back.
    fn remove(&mut self, dirs: Vec<PathBuf>) {
        if dirs.is_empty() {
            return;
        }
        for dir in &dirs {
            self.drop_row(dir, "removed from the watch list");
        }
        self.removed = dirs;
        self.save_rows();
    }

    /// `bulk` ("Acquire selected"): the rows that cannot be taken are named in a message.
    fn acquire(&mut self, dirs: &[PathBuf], hold_for: Option<Duration>, bulk: bool) {
        let mut skipped = Vec::new();
        for dir in dirs {
            let Some(row) = self.model.row_mut(dir) else {
                continue;
            };
            if !row.can_acquire() {
                skipped.push(format!("{} ({})", dir.display(), row.acquire_blocker()));
                continue;
            }
            row.own = OwnLock::Pending;
            row.refusal = None;
            match (remote_dir(dir), &self.ssh) {
                (None, _) => self.locks.acquire(dir, &self.settings.lock_name, hold_for),
                (Some(remote), Ok(ssh)) => {
                    let lock_name = self.settings.lock_name.clone();
                    let (ssh, dir) = (ssh.clone(), dir.clone());
                    if !self
                        .remote_locks
                        .acquire(ssh, dir.clone(), remote, lock_name, hold_for)
                        && let Some(row) = self.model.row_mut(&dir)
                    {
                        row.own = OwnLock::None;
                        row.refusal = Some("could not start a thread for the remote hold".into());
                    }
                }
                (Some(_), Err(e)) => {
                    row.own = OwnLock::None;
                    row.refusal = Some(format!("cannot reach remote hosts: {e}"));
                }
            }
        }
        if bulk && !skipped.is_empty() {
            self.tell(format!("skipped {}", skipped.join(", ")), false);
        }
    }

    fn release(&mut self, dirs: &[PathBuf]) {
        for dir in dirs {
            if let Some(row) = self.model.row_mut(dir).filter(|r| r.can_release()) {
                row.release_asked = true;
                self.release_lock(dir);
            }
        }
    }
}

/// `~` expanded, relative paths made absolute against the working directory (no I/O);
/// `HOST:DIR` kept as it is (spelled as the hub will report it).
pub(super) fn normalize(path: &Path) -> PathBuf {
    if let Some(remote) = remote_dir(path) {
        return PathBuf::from(remote.to_string());
    }
    let expanded = match path.strip_prefix("~") {
        Ok(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => path.to_path_buf(),
        },
        Err(_) => path.to_path_buf(),
    };
    std::path::absolute(&expanded).unwrap_or(expanded)
}
