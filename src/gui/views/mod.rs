//! Painting: which panel goes where. Each panel's module paints from a [`Snapshot`] (read only)
//! and the [`UiState`] its widgets edit in place, and pushes an [`Intent`] for everything else;
//! no view calls the app or touches the filesystem.
//!
//! Every directory, lock path, holder command line, error and message is shown through
//! [`crate::escape::escape`]: local users choose them, and a newline, ESC or bidi override must
//! not change what a row or log line appears to say.

mod details;
mod log;
mod settings;
mod style;
mod table;
mod timeline;
mod toolbar;

use super::intent::Intent;
use super::state::{Snapshot, UiState};
use eframe::egui::{self, Ui};
use std::path::PathBuf;

/// Paints one frame; what the user asked for is in `intents` afterwards.
pub fn show(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    dropped_folders(ui, view, intents);
    if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Q)) {
        intents.push(Intent::Quit);
    }
    egui::Panel::top("toolbar").show(ui, |ui| toolbar::show(ui, view, state, intents));
    if state.panels.settings {
        egui::Panel::right("settings")
            .default_size(200.0)
            .show(ui, |ui| settings::show(ui, view, state, intents));
    }
    if let Some(row) = view.model.single_selected().and_then(|d| view.model.row(d)) {
        // At most 40% of the window: the table keeps the rest.
        let width = ui.available_width();
        egui::Panel::right("details")
            .resizable(true)
            .default_size((width * 0.3).clamp(240.0, 380.0))
            .min_size(200.0)
            .max_size((width * 0.4).max(200.0))
            .show(ui, |ui| details::show(ui, view, row, intents));
    }
    details::confirm_dialog(ui, view, state, intents);
    if state.panels.log {
        egui::Panel::bottom("log")
            .resizable(true)
            .default_size(180.0)
            .show(ui, |ui| log::show(ui, view, state, intents));
    }
    // Over everything, after the panels: a message never moves them.
    toolbar::messages(ui, view, intents);
    egui::CentralPanel::default().show(ui, |ui| {
        if view.lists.is_none() {
            ui.centered_and_justified(|ui| ui.spinner());
        } else if view.model.rows().is_empty() {
            table::empty_state(ui);
        } else {
            // Narrower than its columns (a small window, the details pane open): the table
            // scrolls sideways rather than losing its right-hand columns. Solid scroll bars: a
            // thin floating one that only shows on hover hid that the Actions column was there.
            ui.spacing_mut().scroll = egui::style::ScrollStyle::solid();
            egui::ScrollArea::horizontal()
                .id_salt("table-h")
                .auto_shrink([false, false])
                .show(ui, |ui| table::show(ui, view, state, intents));
        }
    });
}

fn dropped_folders(ui: &Ui, view: &Snapshot<'_>, intents: &mut Vec<Intent>) {
    let dropped: Vec<PathBuf> = ui.input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .filter(|p| !p.as_os_str().is_empty())
            .collect()
    });
    if !dropped.is_empty() {
        // A dropped lock file means its directory. (No stat here: the UI thread never touches
        // the filesystem; a dropped regular file shows up as an error row.)
        let lock_name = view.settings.lock_name.as_str();
        let dirs = dropped
            .into_iter()
            .map(|p| match (p.file_name(), p.parent()) {
                (Some(name), Some(parent)) if name == lock_name => parent.to_path_buf(),
                _ => p,
            });
        intents.push(Intent::AddDirs(dirs.collect()));
    }
}
