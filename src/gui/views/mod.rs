//! Painting: which panel goes where. Each panel's module paints from a [`Snapshot`] (read only)
//! and the [`UiState`] its widgets edit in place, and pushes an [`Intent`] for everything else;
//! no view calls the app or touches the filesystem.
//!
//! Every directory, lock path, holder command line, error and message is shown through
//! [`crate::escape::escape`]: local users choose them, and a newline, ESC or bidi override must
//! not change what a row or log line appears to say.

mod ask;
mod details;
mod find;
mod log;
mod settings;
mod style;
mod table;
mod timeline;
mod toolbar;

pub use timeline::{MAX_MINUTES as TIMELINE_MAX_MINUTES, span_of as timeline_span};

use super::intent::{Intent, Rows};
use super::state::{Snapshot, UiState};
use eframe::egui::{self, Ui};
use std::path::PathBuf;

/// Paints one frame; what the user asked for is in `intents` afterwards.
pub fn show(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    // Buttons are noted as painted: a closed question's are gone.
    state.layout.buttons.clear();
    dropped_folders(ui, intents);
    if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Q)) {
        intents.push(Intent::Quit);
    }
    keyboard(ui, view, state, intents);
    egui::Panel::top("toolbar").show(ui, |ui| toolbar::show(ui, view, state, intents));
    if state.panels.settings {
        egui::Panel::right("settings")
            .default_size(200.0)
            .show(ui, |ui| settings::show(ui, view, state, intents));
    }
    if let Some(row) = view.model.single_selected().and_then(|d| view.model.row(d)) {
        // The panes give way first: the details pane takes what the table's columns leave at
        // their least (down to 220 px, where the table scrolls sideways instead), at most 40%.
        let width = ui.available_width();
        let table_min = if state.panels.timeline {
            table::MIN_WIDTH_WITH_TIMELINE
        } else {
            table::MIN_WIDTH
        };
        let room = (width - table_min).clamp(200.0, (width * 0.4).max(200.0));
        egui::Panel::right("details")
            .resizable(true)
            .default_size(room.min(380.0))
            .min_size(200.0)
            .max_size(room)
            .show(ui, |ui| details::show(ui, view, row, intents));
    }
    details::confirm_dialog(ui, view, state, intents);
    ask::show(ui, view, &mut state.layout, intents);
    find::show(ui, view, &mut state.layout, intents);
    if state.panels.log {
        // The table keeps room for its header and a few rows; the log gives way first.
        let height = ui.available_height();
        let room = (height - table::MIN_HEIGHT).max(60.0);
        egui::Panel::bottom("log")
            .resizable(true)
            .default_size((height * 0.3).clamp(60.0, 180.0).min(room))
            .max_size(room)
            .show(ui, |ui| log::show(ui, view, state, intents));
    }
    // Over everything, after the panels: a message never moves them.
    toolbar::messages(ui, view, intents);
    egui::CentralPanel::default().show(ui, |ui| {
        state.table_rect = Some(ui.max_rect());
        if view.lists.is_none() {
            ui.centered_and_justified(|ui| ui.spinner());
        } else if view.model.rows().is_empty() {
            table::empty_state(ui);
        } else if view.model.shown().is_empty() && !view.model.filter().is_empty() {
            table::all_filtered_out(ui, view, intents);
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

/// The shortcuts (also in the toolbar's tooltips): Ctrl+F the filter, Ctrl+L the path field,
/// and, while no text field has the keyboard, the table's: arrows and Page Up/Down move the
/// selection (Shift extends it), Ctrl+A selects every row shown, Esc clears the selection,
/// Delete removes the selected rows (Ctrl+Z puts them back), Enter acquires or releases them,
/// F5 sorts again. Esc in a text field leaves the field (egui's own).
fn keyboard(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    use egui::{Key, Modifiers};
    let ctx = ui.ctx().clone();
    let typing = ctx.text_edit_focused();
    // Another widget with the keyboard (a button reached with Tab) takes Enter itself.
    let any_focus = ctx.memory(|m| m.focused().is_some());
    let popup_open = egui::Popup::is_any_open(&ctx);
    let page = isize::try_from(state.page_rows.max(1)).unwrap_or(10);
    ui.input_mut(|i| {
        if i.consume_key(Modifiers::COMMAND, Key::F) {
            state.focus_filter = true;
        }
        if i.consume_key(Modifiers::COMMAND, Key::L) {
            state.focus_path = true;
        }
        if typing || view.lists.is_none() || view.end.is_some() || view.ask.is_some() {
            return;
        }
        for (key, by) in [
            (Key::ArrowDown, 1),
            (Key::ArrowUp, -1),
            (Key::PageDown, page),
            (Key::PageUp, -page),
        ] {
            for extend in [true, false] {
                let mods = if extend {
                    Modifiers::SHIFT
                } else {
                    Modifiers::NONE
                };
                while i.consume_key(mods, key) {
                    intents.push(Intent::MoveCursor { by, extend });
                }
            }
        }
        if i.consume_key(Modifiers::COMMAND, Key::A) {
            intents.push(Intent::SelectAll);
        }
        if i.consume_key(Modifiers::COMMAND, Key::Z) && view.undo_remove > 0 {
            intents.push(Intent::UndoRemove);
        }
        // An open menu takes Esc itself (it closes).
        if !popup_open && i.consume_key(Modifiers::NONE, Key::Escape) {
            intents.push(Intent::ClearSelection);
        }
        if i.consume_key(Modifiers::NONE, Key::Delete) && !view.model.selection.is_empty() {
            intents.push(Intent::RemoveSelected);
        }
        if !any_focus && i.consume_key(Modifiers::NONE, Key::Enter) {
            intents.push(Intent::Toggle(Rows::Selected));
        }
        if i.consume_key(Modifiers::NONE, Key::F5) {
            intents.push(Intent::Resort);
        }
    });
}

fn dropped_folders(ui: &Ui, intents: &mut Vec<Intent>) {
    let dropped: Vec<PathBuf> = ui.input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .filter(|p| !p.as_os_str().is_empty())
            .collect()
    });
    if !dropped.is_empty() {
        // A dropped lock file means its directory: the app resolves each path like
        // `lockscope status` does, on a worker (no stat here).
        intents.push(Intent::AddDirs(dropped));
    }
}
