//! "Find certbot locks on this machine" (a modal window): while looking, a spinner; then every
//! directory found, how it was found and its lock's state, ticked to be added; when nothing is
//! held, it says so and where it looked.

use crate::discover::FoundBy;
use crate::escape::{escape, escape_path};
use crate::gui::intent::Intent;
use crate::gui::state::{Finding, Layout, Snapshot};
use crate::gui::workers::{Discovered, FoundDir};
use crate::probe::LockState;
use eframe::egui::{self, RichText, Ui};

pub fn show(ui: &mut Ui, view: &Snapshot<'_>, layout: &mut Layout, intents: &mut Vec<Intent>) {
    let Some(finding) = view.finding else {
        return;
    };
    let modal = egui::Modal::new(egui::Id::unique("lockscope-find")).show(ui.ctx(), |ui| {
        ui.set_max_width(720.0);
        ui.heading("Certbot locks on this machine");
        ui.add_space(4.0);
        let mut done = false;
        match finding {
            Finding::Looking => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(
                        "looking in the kernel's lock table, at running certbot processes and \
                         in certbot's default directories…",
                    );
                });
                if ui.button("Cancel").clicked() {
                    intents.push(Intent::CloseFound);
                    done = true;
                }
            }
            Finding::Found { found, chosen } => {
                ui.label(summary(found, &view.settings.lock_name));
                ui.add_space(6.0);
                if !found.dirs.is_empty() {
                    list(ui, view, found, chosen, intents);
                }
                ui.add_space(6.0);
                let n = chosen.iter().filter(|c| **c).count();
                ui.horizontal(|ui| {
                    let add = match n {
                        1 => "Add 1 directory".to_string(),
                        n => format!("Add {n} directories"),
                    };
                    let button = ui.add_enabled(n > 0, egui::Button::new(&add));
                    layout.button(&add, &button);
                    if button.clicked() {
                        intents.push(Intent::AddFound);
                        done = true;
                    }
                    if ui.button("Close").clicked() {
                        intents.push(Intent::CloseFound);
                        done = true;
                    }
                });
            }
        }
        done
    });
    if modal.should_close() && !modal.inner {
        intents.push(Intent::CloseFound);
    }
}

/// One paragraph: how many held locks, and where it looked (said in full when none is held).
fn summary(found: &Discovered, lock_name: &str) -> String {
    let held = found.dirs.iter().filter(|f| is_held(f)).count();
    let processes = match found.certbot_processes {
        0 => "no running certbot process".to_string(),
        1 => "1 running certbot process".to_string(),
        n => format!("{n} running certbot processes"),
    };
    let presets: Vec<String> = found
        .presets
        .iter()
        .map(|p| escape_path(p).into_owned())
        .collect();
    let looked = format!(
        "Looked in the kernel's lock table (every {} held on this machine), at {processes}, and \
         in certbot's default directories ({}).",
        escape(lock_name),
        presets.join(", ")
    );
    match held {
        0 => format!("No certbot lock is held now. {looked}"),
        1 => format!("1 certbot lock is held now. {looked}"),
        n => format!("{n} certbot locks are held now. {looked}"),
    }
}

/// A lock held now: on the path, or (in the lock table) on a lock file removed since.
fn is_held(f: &FoundDir) -> bool {
    matches!(
        f.state,
        Ok(LockState::Held(_)) | Ok(LockState::HeldByThisProcess)
    ) || f.found_by.contains(&FoundBy::LockTable)
}

fn list(
    ui: &mut Ui,
    view: &Snapshot<'_>,
    found: &Discovered,
    chosen: &[bool],
    intents: &mut Vec<Intent>,
) {
    // The buttons below stay on screen in a small window: the list scrolls instead.
    let room = ui.ctx().content_rect().height() - 260.0;
    egui::ScrollArea::vertical()
        .max_height(room.clamp(80.0, 360.0))
        .show(ui, |ui| {
            egui::Grid::new("found-dirs")
                .num_columns(3)
                .striped(true)
                .spacing([12.0, 4.0])
                .show(ui, |ui| {
                    ui.strong("Directory");
                    ui.strong("Lock");
                    ui.strong("Found by");
                    ui.end_row();
                    for (index, f) in found.dirs.iter().enumerate() {
                        let watched = view.model.row(&f.dir).is_some();
                        let mut tick = chosen.get(index).copied().unwrap_or(false);
                        let label = escape_path(&f.dir).into_owned();
                        let response = ui
                            .add_enabled(!watched, egui::Checkbox::new(&mut tick, label))
                            .on_disabled_hover_text("already in this watch list");
                        if response.changed() {
                            intents.push(Intent::ChooseFound {
                                index,
                                chosen: tick,
                            });
                        }
                        // A holder's command line can be long: cut, whole on hover.
                        let state = state_text(f);
                        let text = if is_held(f) {
                            RichText::new(&state).strong()
                        } else {
                            RichText::new(&state)
                        };
                        ui.scope(|ui| {
                            ui.set_max_width(280.0);
                            ui.add(egui::Label::new(text).truncate())
                                .on_hover_text(state);
                        });
                        let how: Vec<&str> = f.found_by.iter().map(|b| found_by(*b)).collect();
                        ui.label(how.join(", "));
                        ui.end_row();
                    }
                });
        });
}

fn state_text(f: &FoundDir) -> String {
    match &f.state {
        Ok(LockState::Held(holder)) => format!("held by {}", escape(&holder.to_string())),
        Ok(LockState::HeldByThisProcess) => "held by this app".into(),
        // The lock table shows a lock on a lock file here that the path no longer names.
        Ok(_) if f.found_by.contains(&FoundBy::LockTable) => {
            "held on a removed lock file (orphaned lock)".into()
        }
        Ok(LockState::Free) => "free (leftover lock file)".into(),
        Ok(_) => "no lock file".into(),
        Err(e) => format!("cannot tell: {}", escape(e)),
    }
}

fn found_by(how: FoundBy) -> &'static str {
    match how {
        FoundBy::LockTable => "held lock",
        FoundBy::CertbotProcess => "running certbot",
        FoundBy::Preset => "certbot default",
    }
}
