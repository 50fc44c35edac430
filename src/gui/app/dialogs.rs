//! The folder and file dialogs: each runs on its own thread (at most one open); when none can be
//! shown, the toolbar asks for the path instead (a hint, or the import/export file prompt).

use super::LockscopeApp;
use super::intents::normalize;
use crate::gui::state::FilePrompt;
use crate::gui::workers::{self, DialogOutcome, FolderPicker};
use std::path::{Path, PathBuf};
use std::time::Instant;

impl LockscopeApp {
    pub(super) fn open_folder_dialog(&mut self) {
        self.open_dialog(|p| {
            let started = Instant::now();
            let picked = p.pick_folders();
            DialogOutcome::Folders(picked, started.elapsed())
        });
    }

    pub(super) fn open_import_dialog(&mut self) {
        self.open_dialog(|p| {
            let started = Instant::now();
            let picked = p.pick_file();
            DialogOutcome::ImportFile(picked, started.elapsed())
        });
    }

    pub(super) fn open_export_dialog(&mut self) {
        let Some(name) = self.active_list().map(|l| l.name.clone()) else {
            return;
        };
        self.open_dialog(move |p| {
            let started = Instant::now();
            let file = p.save_file(&format!("{name}.toml"));
            DialogOutcome::ExportFile(name, file, started.elapsed())
        });
    }

    /// Runs a dialog on its thread unless one is open already.
    fn open_dialog(
        &mut self,
        job: impl FnOnce(&dyn FolderPicker) -> DialogOutcome + Send + 'static,
    ) {
        if self.dialog_open {
            return;
        }
        if workers::run_dialog(self.picker.clone(), self.events_tx.clone(), job) {
            self.dialog_open = true;
        } else {
            self.no_dialog_hint();
        }
    }

    pub(super) fn on_dialog(&mut self, outcome: DialogOutcome) {
        match outcome {
            DialogOutcome::Folders(Some(dirs), _) => self.add_dirs(dirs),
            DialogOutcome::Folders(None, took) if took < workers::NO_DIALOG_WITHIN => {
                self.no_dialog_hint()
            }
            DialogOutcome::Folders(None, _) => {}
            DialogOutcome::ImportFile(Some(path), _) => self.store.import(path),
            DialogOutcome::ImportFile(None, took) if took < workers::NO_DIALOG_WITHIN => {
                self.file_prompt(None)
            }
            DialogOutcome::ImportFile(None, _) => {}
            // The dialogs confirm replacing a file themselves (GTK, zenity, the portals).
            DialogOutcome::ExportFile(name, Some(path), _) => self.export_to(&name, path, true),
            DialogOutcome::ExportFile(name, None, took) if took < workers::NO_DIALOG_WITHIN => {
                self.file_prompt(Some(name))
            }
            DialogOutcome::ExportFile(_, None, _) => {}
        }
    }

    pub(super) fn export_to(&mut self, name: &str, path: PathBuf, replace: bool) {
        if let Some(list) = self.lists.as_ref().and_then(|s| s.get(name)).cloned() {
            self.store.export(list, path, replace);
        }
    }

    /// No file dialog could be shown: the toolbar asks for the file's path instead.
    fn file_prompt(&mut self, export: Option<String>) {
        let input = match (&export, self.ui.file_prompt.take()) {
            (_, Some(old)) if old.export == export => old.input,
            _ => String::new(),
        };
        self.ui.file_prompt = Some(FilePrompt {
            export,
            input,
            focus: true,
        });
    }

    /// The prompt's typed path: `~` expanded, made absolute (lexically).
    pub(super) fn submit_file_prompt(&mut self) {
        let Some(prompt) = self.ui.file_prompt.take() else {
            return;
        };
        let typed = prompt.input.trim();
        if typed.is_empty() {
            self.ui.file_prompt = Some(FilePrompt {
                focus: true,
                ..prompt
            });
            return;
        }
        let path = normalize(Path::new(typed));
        match prompt.export {
            None => self.store.import(path),
            // A typed path was confirmed by nobody: an existing file is asked about.
            Some(name) => self.export_to(&name, path, false),
        }
    }

    pub(super) fn no_dialog_hint(&mut self) {
        self.ui.hint = Some(
            "No folder dialog is available here (no desktop portal or zenity). Type or paste a path \
             and press Enter, or drag folders onto the window."
                .into(),
        );
        self.ui.focus_path = true;
    }
}
