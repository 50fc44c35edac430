//! The toolbar (top): watch lists and panel toggles, adding directories, acting on the selection
//! and the table filter, and the messages (toasts over the window's bottom-right corner).

use crate::escape::escape;
use crate::gui::intent::{Intent, Rows};
use crate::gui::model::Row;
use crate::gui::state::{Snapshot, UiState};
use eframe::egui::{self, Color32, RichText, Ui};
use std::time::Duration;

pub fn show(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    ui.add_space(4.0);
    lists_bar(ui, view, state, intents);
    ui.separator();
    add_bar(ui, view, state, intents);
    selection_bar(ui, view, state, intents);
    ui.add_space(2.0);
}

fn lists_bar(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    // The list controls wrap within the width the panel toggles leave them, and the toggles stay
    // at the right edge: in a narrow window neither is drawn over the other.
    ui.horizontal(|ui| {
        let left = (ui.available_width() - PANEL_TOGGLES_WIDTH).max(120.0);
        let wrapped = egui::Layout::left_to_right(egui::Align::Center).with_main_wrap(true);
        ui.allocate_ui_with_layout(egui::vec2(left, 0.0), wrapped, |ui| {
            list_controls(ui, view, state, intents)
        });
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Min), |ui| {
            ui.toggle_value(&mut state.panels.settings, "Settings");
            ui.toggle_value(&mut state.panels.log, "Event log");
            ui.toggle_value(&mut state.panels.timeline, "Timeline");
        });
    });
}

/// What the three panel toggles take in a row, with spacing (they are about 215 px).
const PANEL_TOGGLES_WIDTH: f32 = 230.0;

fn list_controls(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    {
        // As tall as the combo box beside it, text centred: a bare label sits a few pixels
        // higher than the combo's text in a wrapping row.
        let height = ui.spacing().interact_size.y;
        let label = ui
            .allocate_ui_with_layout(
                egui::vec2(0.0, height),
                egui::Layout::left_to_right(egui::Align::Center),
                |ui| ui.label("Watch list:"),
            )
            .inner;
        let names: Vec<String> = view
            .lists
            .map(|s| s.lists().iter().map(|l| l.name.clone()).collect())
            .unwrap_or_default();
        let active = view
            .active_list()
            .map(|l| l.name.clone())
            .unwrap_or_default();
        let mut chosen = active.clone();
        egui::ComboBox::from_id_salt("watchlist")
            .selected_text(escape(&active).into_owned())
            .show_ui(ui, |ui| {
                for name in &names {
                    ui.selectable_value(&mut chosen, name.clone(), escape(name).as_ref());
                }
            })
            .response
            .labelled_by(label.id);
        if chosen != active {
            intents.push(Intent::SwitchList(chosen));
        }
        ui.add(
            egui::TextEdit::singleline(&mut state.list_name_input)
                .hint_text("list name")
                .desired_width(120.0),
        );
        let name = state.list_name_input.trim().to_string();
        if ui
            .add_enabled(!name.is_empty(), egui::Button::new("New list"))
            .clicked()
        {
            intents.push(Intent::CreateList(name.clone()));
        }
        if ui
            .add_enabled(!name.is_empty(), egui::Button::new("Rename"))
            .on_hover_text("Rename the current list")
            .clicked()
        {
            intents.push(Intent::RenameList(name));
        }
        if ui.button("Delete list").clicked() {
            intents.push(Intent::DeleteList);
        }
        ui.separator();
        if ui
            .add_enabled(!view.dialog_open, egui::Button::new("Import…"))
            .clicked()
        {
            intents.push(Intent::Import);
        }
        let export = ui.add_enabled(!view.dialog_open, egui::Button::new("Export…"));
        state.layout.button("Export…", &export);
        if export.clicked() {
            intents.push(Intent::Export);
        }
    }
}

/// The table's keys, in the selection buttons' tooltips.
const SELECTION_KEYS: &str = "Enter: acquire or release the selected rows\n\
    Up, Down, Page Up, Page Down: move the selection (Shift extends it)\n\
    Ctrl+A: select all, Esc: select none, Delete: remove (Ctrl+Z: undo)\n\
    Ctrl+F: filter, Ctrl+L: path field, F5: sort again\n\
    Right click a row for more, double click for its details";

fn add_bar(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(!view.dialog_open, egui::Button::new("Add folders…"))
            .clicked()
        {
            intents.push(Intent::PickFolders);
        }
        let field_id = egui::Id::unique("lockscope-path-field");
        // Several lines pasted into the field are one path each, added at once (the one-line
        // field turned the newlines into spaces: one bogus path, saved). What was typed
        // before the paste counts as its beginning.
        if ui.memory(|m| m.has_focus(field_id)) {
            let pasted = ui.input_mut(|input| {
                let at = input.events.iter().position(
                    |e| matches!(e, egui::Event::Paste(text) if text.trim_end().contains('\n')),
                )?;
                match input.events.remove(at) {
                    egui::Event::Paste(text) => Some(text),
                    _ => None,
                }
            });
            if let Some(text) = pasted {
                intents.push(Intent::AddTypedPaths(format!("{}{text}", state.path_input)));
            }
        }
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut state.path_input)
                    .id(field_id)
                    .hint_text("type or paste a directory, Enter to add")
                    .desired_width(360.0),
            )
            .on_hover_text("Ctrl+L");
        state.layout.add_field = Some(field.rect);
        if std::mem::take(&mut state.focus_path) {
            field.request_focus();
        }
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Add").clicked() || entered {
            intents.push(Intent::AddTypedPaths(state.path_input.clone()));
            // Keep typing: the next path goes into the same field.
            field.request_focus();
        }
        if ui
            .button("Add certbot defaults")
            .on_hover_text(defaults_hint())
            .clicked()
        {
            intents.push(Intent::AddCertbotDefaults);
        }
        let find = ui.button("Find certbot locks…").on_hover_text(
            "Every certbot lock held on this machine, and the directories of running certbot \
             processes: pick which to watch",
        );
        state.layout.button("Find certbot locks…", &find);
        if find.clicked() {
            intents.push(Intent::FindLocks);
        }
    });
    if let Some(hint) = &state.hint {
        ui.horizontal(|ui| {
            ui.label(RichText::new(escape(hint)).italics());
            if ui.small_button("🗙").clicked() {
                intents.push(Intent::DismissHint);
            }
        });
    }
    file_prompt(ui, state, intents);
}

/// Import… / Export… when no file dialog could be shown: the file's path, typed.
fn file_prompt(ui: &mut Ui, state: &mut UiState, intents: &mut Vec<Intent>) {
    let Some(prompt) = state.file_prompt.as_mut() else {
        return;
    };
    let (what, action) = match &prompt.export {
        None => ("the watch-list file to import".to_string(), "Import"),
        Some(name) => (
            format!("the file to export {:?} to", escape(name)),
            "Export",
        ),
    };
    ui.label(
        RichText::new(format!(
            "No file dialog is available here (no desktop portal or zenity). Type {what} \
             and press Enter:"
        ))
        .italics(),
    );
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut prompt.input)
                .hint_text("path of a .toml file")
                .desired_width(360.0),
        );
        if std::mem::take(&mut prompt.focus) {
            field.request_focus();
        }
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button(action).clicked() || entered {
            intents.push(Intent::SubmitFilePrompt);
        }
        if ui.button("Cancel").clicked() {
            intents.push(Intent::CancelFilePrompt);
        }
    });
}

fn defaults_hint() -> &'static str {
    if cfg!(windows) {
        "C:\\Certbot, C:\\Certbot\\lib, C:\\Certbot\\log"
    } else {
        "/etc/letsencrypt, /var/lib/letsencrypt, /var/log/letsencrypt, and /etc/nginx, /etc/apache2, /etc/httpd when present"
    }
}

fn selection_bar(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    let selected = view.model.shown_selected();
    ui.horizontal_wrapped(|ui| {
        let rows: Vec<&Row> = selected.iter().filter_map(|d| view.model.row(d)).collect();
        let any_acquire = rows.iter().any(|r| r.can_acquire());
        let any_release = rows.iter().any(|r| r.can_release());
        let none = "no row is selected (click a row; Ctrl+click or Shift+click for more)";
        let why_not_acquire = match rows.first() {
            None => none.to_string(),
            Some(r) if rows.len() == 1 => format!("cannot be taken: {}", r.acquire_blocker()),
            Some(_) => "none of the selected rows can be taken (held, missing or unknown)".into(),
        };
        let why_not_acquire = escape(&why_not_acquire);
        let why_not_release = if rows.is_empty() {
            none
        } else {
            "this app holds none of the selected rows' locks"
        };
        ui.label(format!("Selected: {}", selected.len()));
        if ui
            .add_enabled(any_acquire, egui::Button::new("Acquire selected"))
            .on_hover_text(format!(
                "Take the selected rows' locks (rows that cannot be taken are skipped)\n\n{SELECTION_KEYS}"
            ))
            .on_disabled_hover_text(why_not_acquire.as_ref())
            .clicked()
        {
            intents.push(Intent::Acquire(Rows::Selected, None));
        }
        let label = ui.label("Hold for");
        ui.add(
            egui::DragValue::new(&mut state.hold_secs)
                .range(1..=86_400)
                .suffix(" s"),
        )
        .labelled_by(label.id);
        if ui
            .add_enabled(any_acquire, egui::Button::new("Hold selected"))
            .on_hover_text("Take the lock and release it after that many seconds")
            .on_disabled_hover_text(why_not_acquire.as_ref())
            .clicked()
        {
            let hold_for = Duration::from_secs(state.hold_secs.into());
            intents.push(Intent::Acquire(Rows::Selected, Some(hold_for)));
        }
        if ui
            .add_enabled(any_release, egui::Button::new("Release selected"))
            .on_hover_text(SELECTION_KEYS)
            .on_disabled_hover_text(why_not_release)
            .clicked()
        {
            intents.push(Intent::Release(Rows::Selected));
        }
        if ui
            .add_enabled(!selected.is_empty(), egui::Button::new("Remove selected"))
            .on_hover_text("Stop watching the selected rows (Delete; asks first, Ctrl+Z puts them back)")
            .on_disabled_hover_text(none)
            .clicked()
        {
            intents.push(Intent::RemoveSelected);
        }
        if view.undo_remove > 0
            && ui
                .button(format!("Undo remove ({})", view.undo_remove))
                .on_hover_text("Ctrl+Z")
                .clicked()
        {
            intents.push(Intent::UndoRemove);
        }
        ui.separator();
        let mut filter = view.model.filter().to_string();
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut filter)
                    .hint_text("filter: path, state or command")
                    .desired_width(220.0),
            )
            .on_hover_text("Ctrl+F");
        if std::mem::take(&mut state.focus_filter) {
            edit.request_focus();
        }
        if edit.changed() {
            intents.push(Intent::Filter(filter));
        }
        ui.label(format!(
            "{} of {} shown",
            view.model.shown().len(),
            view.model.rows().len()
        ));
    });
}

/// The newest messages this many at a time; older ones wait behind a count.
const TOASTS_SHOWN: usize = 4;

/// Messages as toasts floating over the bottom-right corner, newest at the bottom: they never
/// move the panels (a banner pushing the table down made the next click miss its row).
pub fn messages(ui: &Ui, view: &Snapshot<'_>, intents: &mut Vec<Intent>) {
    if view.messages.is_empty() {
        return;
    }
    let first = view.messages.len().saturating_sub(TOASTS_SHOWN);
    egui::Area::new(egui::Id::unique("toasts"))
        .order(egui::Order::Foreground)
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
        .show(ui.ctx(), |ui| {
            let width = (ui.ctx().content_rect().width() * 0.5).clamp(240.0, 520.0);
            ui.set_max_width(width);
            if view.messages.len() > 1 {
                ui.horizontal(|ui| {
                    if ui.button("Dismiss all").clicked() {
                        intents.push(Intent::DismissAllMessages);
                    }
                    if first > 0 {
                        let earlier = if first == 1 {
                            "1 earlier message".to_string()
                        } else {
                            format!("{first} earlier messages")
                        };
                        ui.label(RichText::new(earlier).weak());
                    }
                });
            }
            for (i, m) in view.messages.iter().enumerate().skip(first) {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_width(width);
                    ui.horizontal(|ui| {
                        let color = if m.is_error {
                            Color32::from_rgb(200, 60, 60)
                        } else {
                            Color32::from_rgb(190, 140, 30)
                        };
                        ui.label(RichText::new(if m.is_error { "⚠" } else { "ℹ" }).color(color));
                        if ui.small_button("🗙").on_hover_text("Dismiss").clicked() {
                            intents.push(Intent::DismissMessage(i));
                        }
                        let text = if m.count > 1 {
                            format!("{} (×{})", escape(&m.text), m.count)
                        } else {
                            escape(&m.text).into_owned()
                        };
                        ui.add(egui::Label::new(text).wrap());
                    });
                });
            }
        });
}
