//! The settings panel (right): poll interval and lock file name, applied together.

use crate::escape::escape;
use crate::gui::intent::Intent;
use crate::gui::state::{Snapshot, Theme, UiState};
use eframe::egui::Ui;

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
}
