//! The settings panel (right): poll interval and lock file name, applied together; the theme;
//! the active list's desktop notifications, applied at once.

use crate::escape::escape;
use crate::gui::intent::Intent;
use crate::gui::state::{Snapshot, Theme, UiState};
use eframe::egui::{TextEdit, Ui};

pub fn show(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    ui.heading("Settings");
    ui.label("Poll interval");
    ui.text_edit_singleline(&mut state.interval_input);
    ui.label("Lock file name");
    ui.text_edit_singleline(&mut state.lock_name_input);
    if ui.button("Apply").clicked() {
        intents.push(Intent::ApplySettings {
            interval: state.interval_input.clone(),
            lock_name: state.lock_name_input.clone(),
        });
    }
    ui.separator();
    ui.label(format!(
        "Polling every {}",
        humantime::format_duration(view.settings.interval)
    ));
    ui.label(format!("Lock file: {}", escape(&view.settings.lock_name)));
    ui.separator();
    // Applied at once and kept across restarts (the app sets egui's theme from it each frame).
    ui.label("Theme");
    ui.horizontal(|ui| {
        ui.selectable_value(&mut state.theme, Theme::System, "System")
            .on_hover_text("Follow the system's dark or light preference");
        ui.selectable_value(&mut state.theme, Theme::Dark, "Dark");
        ui.selectable_value(&mut state.theme, Theme::Light, "Light");
    });
    notifications(ui, view, state, intents);
}

/// The active list's notification choices (saved with the list, off unless ticked).
fn notifications(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    let Some(list) = view.lists.and_then(|l| l.active()) else {
        return;
    };
    ui.separator();
    ui.label(format!("Notifications for \"{}\"", escape(&list.name)));
    let mut stuck = list.notify.stuck_after.is_some();
    let mut background = list.notify.background_changes;
    let mut changed = false;
    ui.horizontal(|ui| {
        changed |= ui
            .checkbox(&mut stuck, "Held longer than")
            .on_hover_text("Once per hold: certbot may be stuck (a prompt, a hung hook)")
            .changed();
        let field = ui.add(
            TextEdit::singleline(&mut state.stuck_after_input)
                .desired_width(56.0)
                .hint_text("10m"),
        );
        let shown = list
            .notify
            .stuck_after
            .map(|d| humantime::format_duration(d).to_string());
        // Typed and left (Enter or a click elsewhere) while ticked: the new threshold.
        changed |=
            stuck && field.lost_focus() && shown.as_deref() != Some(state.stuck_after_input.trim());
    });
    changed |= ui
        .checkbox(&mut background, "Changes while in the background")
        .on_hover_text("A lock taken or released while the window does not have the focus")
        .changed();
    if changed {
        intents.push(Intent::SetNotifications {
            stuck_after: stuck.then(|| state.stuck_after_input.clone()),
            background_changes: background,
        });
    }
}
