//! Painting: the toolbar, the watch table, the event log, the timeline and the settings panel.
//! Only reads the app's state and calls its methods; never touches the filesystem.
//!
//! Every directory, lock path, holder command line, error and message is shown through
//! [`escape`]: local users choose them, and a newline, ESC or bidi override must not change
//! what a row or log line appears to say.

use super::app::LockscopeApp;
use super::model::{OwnLock, Row, SortKey, Span, short_command, state_word};
use crate::escape::{escape, escape_path};
use crate::monitor::{Cause, DirState};
use eframe::egui::{self, Color32, RichText, Sense, Ui};
use egui_extras::{Column, TableBuilder};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

const ROW_HEIGHT: f32 = 22.0;

pub(super) fn show(app: &mut LockscopeApp, ui: &mut Ui) {
    take_dropped_folders(app, ui);
    if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Q)) {
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
    }
    egui::Panel::top("toolbar").show(ui, |ui| {
        ui.add_space(4.0);
        lists_bar(app, ui);
        ui.separator();
        add_bar(app, ui);
        selection_bar(app, ui);
        messages(app, ui);
        ui.add_space(2.0);
    });
    if app.panels.settings {
        egui::Panel::right("settings")
            .default_size(260.0)
            .show(ui, |ui| settings_panel(app, ui));
    }
    if app.panels.log {
        egui::Panel::bottom("log")
            .resizable(true)
            .default_size(180.0)
            .show(ui, |ui| log_panel(app, ui));
    }
    egui::CentralPanel::default().show(ui, |ui| {
        if app.lists.is_none() {
            ui.centered_and_justified(|ui| ui.spinner());
        } else if app.model.rows().is_empty() {
            empty_state(ui);
        } else {
            table(app, ui);
        }
    });
}

fn take_dropped_folders(app: &mut LockscopeApp, ui: &Ui) {
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
        let lock_name = app.settings.lock_name.clone();
        let dirs = dropped
            .into_iter()
            .map(|p| match (p.file_name(), p.parent()) {
                (Some(name), Some(parent)) if name == lock_name.as_str() => parent.to_path_buf(),
                _ => p,
            });
        app.add_dirs(dirs.collect::<Vec<_>>());
    }
}

fn lists_bar(app: &mut LockscopeApp, ui: &mut Ui) {
    ui.horizontal(|ui| {
        let label = ui.label("Watch list:");
        let names: Vec<String> = app
            .lists
            .as_ref()
            .map(|s| s.lists().iter().map(|l| l.name.clone()).collect())
            .unwrap_or_default();
        let active = app
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
            app.switch_list(&chosen);
        }
        ui.add(
            egui::TextEdit::singleline(&mut app.list_name_input)
                .hint_text("list name")
                .desired_width(120.0),
        );
        let name = app.list_name_input.trim().to_string();
        if ui
            .add_enabled(!name.is_empty(), egui::Button::new("New list"))
            .clicked()
        {
            app.create_list(&name);
            app.list_name_input.clear();
        }
        if ui
            .add_enabled(!name.is_empty(), egui::Button::new("Rename"))
            .on_hover_text("Rename the current list")
            .clicked()
        {
            app.rename_active_list(&name);
            app.list_name_input.clear();
        }
        if ui.button("Delete list").clicked() {
            app.delete_active_list();
        }
        ui.separator();
        if ui
            .add_enabled(!app.dialog_open(), egui::Button::new("Import…"))
            .clicked()
        {
            app.open_import_dialog();
        }
        if ui
            .add_enabled(!app.dialog_open(), egui::Button::new("Export…"))
            .clicked()
        {
            app.open_export_dialog();
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.toggle_value(&mut app.panels.settings, "Settings");
            ui.toggle_value(&mut app.panels.log, "Event log");
            ui.toggle_value(&mut app.panels.timeline, "Timeline");
        });
    });
}

fn add_bar(app: &mut LockscopeApp, ui: &mut Ui) {
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!app.dialog_open(), egui::Button::new("Add folders…"))
            .clicked()
        {
            app.open_folder_dialog();
        }
        let field = ui.add(
            egui::TextEdit::singleline(&mut app.path_input)
                .hint_text("type or paste a directory, Enter to add")
                .desired_width(360.0),
        );
        if std::mem::take(&mut app.focus_path) {
            field.request_focus();
        }
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Add").clicked() || entered {
            app.add_typed_path();
            // Keep typing: the next path goes into the same field.
            field.request_focus();
        }
        if ui
            .button("Add certbot defaults")
            .on_hover_text(defaults_hint())
            .clicked()
        {
            app.add_certbot_defaults();
        }
    });
    if let Some(hint) = app.hint.clone() {
        ui.horizontal(|ui| {
            ui.label(RichText::new(escape(&hint)).italics());
            if ui.small_button("🗙").clicked() {
                app.hint = None;
            }
        });
    }
}

fn defaults_hint() -> &'static str {
    if cfg!(windows) {
        "C:\\Certbot, C:\\Certbot\\lib, C:\\Certbot\\log"
    } else {
        "/etc/letsencrypt, /var/lib/letsencrypt, /var/log/letsencrypt, and /etc/nginx, /etc/apache2, /etc/httpd when present"
    }
}

fn selection_bar(app: &mut LockscopeApp, ui: &mut Ui) {
    let selected = app.model.selected_dirs();
    ui.horizontal(|ui| {
        let rows: Vec<&Row> = selected.iter().filter_map(|d| app.model.row(d)).collect();
        let any_acquire = rows.iter().any(|r| r.can_acquire());
        let any_release = rows.iter().any(|r| r.can_release());
        ui.label(format!("Selected: {}", selected.len()));
        if ui
            .add_enabled(any_acquire, egui::Button::new("Acquire selected"))
            .clicked()
        {
            app.acquire(&selected, None);
        }
        let label = ui.label("Hold for");
        ui.add(
            egui::DragValue::new(&mut app.hold_secs)
                .range(1..=86_400)
                .suffix(" s"),
        )
        .labelled_by(label.id);
        if ui
            .add_enabled(any_acquire, egui::Button::new("Hold selected"))
            .on_hover_text("Take the lock and release it after that many seconds")
            .clicked()
        {
            app.acquire(&selected, Some(Duration::from_secs(app.hold_secs.into())));
        }
        if ui
            .add_enabled(any_release, egui::Button::new("Release selected"))
            .clicked()
        {
            app.release(&selected);
        }
        if ui
            .add_enabled(!selected.is_empty(), egui::Button::new("Remove selected"))
            .clicked()
        {
            app.remove_selected();
        }
        ui.separator();
        let mut filter = app.model.filter().to_string();
        ui.add(
            egui::TextEdit::singleline(&mut filter)
                .hint_text("filter: path, state or command")
                .desired_width(220.0),
        );
        app.model.set_filter(&filter);
        ui.label(format!(
            "{} of {} shown",
            app.model.visible().len(),
            app.model.rows().len()
        ));
    });
}

fn messages(app: &mut LockscopeApp, ui: &mut Ui) {
    let mut dismissed = None;
    for (i, m) in app.messages.iter().enumerate() {
        ui.horizontal(|ui| {
            let color = if m.is_error {
                Color32::from_rgb(200, 60, 60)
            } else {
                Color32::from_rgb(190, 140, 30)
            };
            ui.label(RichText::new(if m.is_error { "⚠" } else { "ℹ" }).color(color));
            ui.label(escape(&m.text).as_ref());
            if ui.small_button("🗙").clicked() {
                dismissed = Some(i);
            }
        });
    }
    if let Some(i) = dismissed {
        app.messages.remove(i);
    }
}

fn empty_state(ui: &mut Ui) {
    ui.centered_and_justified(|ui| {
        ui.label(RichText::new(
            "No directories yet.\nAdd folders with the dialog, type a path, drag folders here,\nor add certbot's defaults.",
        ).size(16.0));
    });
}

pub fn badge_color(state: &DirState) -> Color32 {
    match state {
        DirState::Held(_) => Color32::from_rgb(214, 69, 65),
        DirState::HeldByThisProcess => Color32::from_rgb(52, 120, 226),
        DirState::Free => Color32::from_rgb(224, 158, 36),
        DirState::Absent => Color32::from_rgb(76, 163, 90),
        DirState::Missing => Color32::from_rgb(130, 130, 130),
        DirState::Error(_) => Color32::from_rgb(160, 60, 150),
        DirState::NotResponding => Color32::from_rgb(120, 90, 160),
    }
}

fn badge(ui: &mut Ui, state: Option<&DirState>) {
    let (word, color) = match state {
        Some(s) => (state_word(s), badge_color(s)),
        None => ("…", Color32::GRAY),
    };
    egui::Frame::new()
        .fill(color)
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(word).color(Color32::WHITE).strong())
        });
}

fn table(app: &mut LockscopeApp, ui: &mut Ui) {
    // Clicks on cell text select the row; selectable labels would swallow them.
    ui.style_mut().interaction.selectable_labels = false;
    let visible: Vec<usize> = app.model.visible().to_vec();
    let (sort_key, ascending) = app.model.sort();
    let timeline = app.panels.timeline;
    let span = Duration::from_secs(u64::from(app.timeline_minutes) * 60);
    let now = SystemTime::now();
    let mut clicked: Option<(PathBuf, bool, bool)> = None;
    let mut act: Option<(PathBuf, Act)> = None;
    let mut sort_by = None;

    let mut builder = TableBuilder::new(ui)
        .striped(true)
        .sense(Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(
            Column::initial(220.0)
                .at_least(120.0)
                .clip(true)
                .resizable(true),
        )
        .column(Column::initial(125.0).at_least(90.0))
        .column(Column::initial(55.0).at_least(40.0))
        .column(
            Column::initial(200.0)
                .at_least(80.0)
                .clip(true)
                .resizable(true),
        )
        .column(Column::initial(75.0).at_least(70.0));
    if timeline {
        builder = builder.column(Column::initial(150.0).at_least(80.0).resizable(true));
    }
    builder
        .column(Column::remainder().at_least(230.0))
        .header(ROW_HEIGHT, |mut header| {
            for (key, title) in [
                (SortKey::Dir, "Directory"),
                (SortKey::State, "State"),
                (SortKey::Pid, "PID"),
            ] {
                header.col(|ui| sort_header(ui, title, key, sort_key, ascending, &mut sort_by));
            }
            header.col(|ui| {
                ui.strong("Command");
            });
            header.col(|ui| {
                sort_header(
                    ui,
                    "Since",
                    SortKey::Since,
                    sort_key,
                    ascending,
                    &mut sort_by,
                )
            });
            if timeline {
                header.col(|ui| {
                    ui.strong("Timeline");
                    ui.add(
                        egui::DragValue::new(&mut app.timeline_minutes)
                            .range(1..=60)
                            .suffix(" min"),
                    );
                });
            }
            header.col(|ui| {
                ui.strong("Actions");
            });
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, visible.len(), |mut row_ui| {
                let row = &app.model.rows()[visible[row_ui.index()]];
                row_ui.set_selected(app.model.selection.contains(&row.dir));
                let holder = row.state.as_ref().and_then(DirState::holder);
                row_ui.col(|ui| {
                    let dir = escape_path(&row.dir);
                    ui.label(dir.as_ref()).on_hover_text(dir.as_ref());
                });
                row_ui.col(|ui| {
                    badge(ui, row.state.as_ref());
                });
                row_ui.col(|ui| {
                    ui.label(
                        holder
                            .as_ref()
                            .and_then(|h| h.pid)
                            .map_or("-".into(), |p| p.to_string()),
                    );
                });
                row_ui.col(|ui| {
                    let full = match (&row.state, &row.refusal) {
                        (Some(DirState::Error(e)), _) => e.clone(),
                        (Some(DirState::NotResponding), _) => {
                            "the filesystem is not responding".to_string()
                        }
                        _ if row.orphaned => {
                            "lock file removed while held: no longer excludes certbot".to_string()
                        }
                        (_, Some(refusal)) => format!("refused: {refusal}"),
                        _ => holder
                            .as_ref()
                            .and_then(|h| h.command.clone())
                            .unwrap_or_default(),
                    };
                    ui.add(egui::Label::new(escape(&short_command(&full)).into_owned()).truncate())
                        .on_hover_text(escape(&full).as_ref());
                });
                row_ui.col(|ui| {
                    if let Some(since) = row.since {
                        ui.label(clock(since))
                            .on_hover_text(format!("for {}", ago(now, since)));
                    }
                });
                if timeline {
                    row_ui.col(|ui| strip(ui, &row.history, now, span));
                }
                row_ui.col(|ui| {
                    if let Some(a) = row_actions(ui, row) {
                        act = Some((row.dir.clone(), a));
                    }
                });
                if row_ui.response().clicked() {
                    let mods = row_ui.response().ctx.input(|i| i.modifiers);
                    clicked = Some((row.dir.clone(), mods.command, mods.shift));
                }
            });
        });

    if let Some(key) = sort_by {
        app.model.sort_by(key);
    }
    if let Some((dir, toggle, extend)) = clicked {
        app.model.click(&dir, toggle, extend);
    }
    match act {
        Some((dir, Act::Acquire)) => app.acquire(&[dir], None),
        Some((dir, Act::Hold)) => {
            app.acquire(&[dir], Some(Duration::from_secs(app.hold_secs.into())))
        }
        Some((dir, Act::Release)) => app.release(&[dir]),
        None => {}
    }
}

enum Act {
    Acquire,
    Hold,
    Release,
}

fn row_actions(ui: &mut Ui, row: &Row) -> Option<Act> {
    let mut act = None;
    let why_not = match (&row.own, &row.state) {
        (OwnLock::Pending, _) => "waiting for the lock…".to_string(),
        (OwnLock::Held { .. }, _) => "held by this app".to_string(),
        (_, Some(DirState::Held(h))) => format!("held by {h}"),
        (_, Some(DirState::HeldByThisProcess)) => "held by this app".to_string(),
        (_, Some(DirState::Missing)) => "the directory does not exist".to_string(),
        (_, Some(DirState::Error(e))) => e.clone(),
        (_, Some(DirState::NotResponding)) => "its filesystem is not responding".to_string(),
        (_, None) => "state not known yet".to_string(),
        _ => String::new(),
    };
    // A fixed slot for a hold's countdown, so the buttons never move.
    let countdown = match row.own {
        OwnLock::Held { until: Some(t) } => {
            format!(
                "{:>3} s",
                t.saturating_duration_since(Instant::now()).as_secs() + 1
            )
        }
        _ => String::new(),
    };
    let why_not = escape(&why_not);
    ui.add_sized(
        [40.0, ROW_HEIGHT - 4.0],
        egui::Label::new(RichText::new(countdown).monospace()),
    )
    .on_hover_text("a timed hold by this app: seconds left");
    let can_acquire = row.can_acquire();
    if ui
        .add_enabled(can_acquire, egui::Button::new("Acquire"))
        .on_disabled_hover_text(why_not.as_ref())
        .clicked()
    {
        act = Some(Act::Acquire);
    }
    if ui
        .add_enabled(can_acquire, egui::Button::new("Hold"))
        .on_disabled_hover_text(why_not.as_ref())
        .clicked()
    {
        act = Some(Act::Hold);
    }
    if ui
        .add_enabled(row.can_release(), egui::Button::new("Release"))
        .clicked()
    {
        act = Some(Act::Release);
    }
    act
}

fn sort_header(
    ui: &mut Ui,
    title: &str,
    key: SortKey,
    current: SortKey,
    ascending: bool,
    sort_by: &mut Option<SortKey>,
) {
    let arrow = if key != current {
        ""
    } else if ascending {
        " ⏶"
    } else {
        " ⏷"
    };
    if ui
        .add(egui::Button::new(RichText::new(format!("{title}{arrow}")).strong()).frame(false))
        .clicked()
    {
        *sort_by = Some(key);
    }
}

/// A thin strip of the last `span`: held periods as bars coloured by holder.
fn strip(ui: &mut Ui, history: &std::collections::VecDeque<Span>, now: SystemTime, span: Duration) {
    let size = egui::vec2(ui.available_width(), ROW_HEIGHT - 8.0);
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    let mid = rect.center().y;
    painter.line_segment(
        [egui::pos2(rect.left(), mid), egui::pos2(rect.right(), mid)],
        (1.0, Color32::from_gray(120)),
    );
    let start = now.checked_sub(span).unwrap_or(SystemTime::UNIX_EPOCH);
    let x_of = |t: SystemTime| {
        let secs = t.duration_since(start).unwrap_or_default().as_secs_f32();
        rect.left() + rect.width() * (secs / span.as_secs_f32()).clamp(0.0, 1.0)
    };
    for (i, s) in history.iter().enumerate() {
        let end = history.get(i + 1).map_or(now, |n| n.start);
        if end < start {
            continue;
        }
        let color = match &s.state {
            DirState::Held(h) => holder_color(h.pid),
            DirState::HeldByThisProcess => badge_color(&s.state),
            DirState::Error(_) | DirState::Missing | DirState::NotResponding => {
                badge_color(&s.state).gamma_multiply(0.6)
            }
            _ => continue,
        };
        let (x0, x1) = (x_of(s.start), x_of(end).max(x_of(s.start) + 2.0));
        painter.rect_filled(
            egui::Rect::from_x_y_ranges(x0..=x1, rect.y_range()),
            2.0,
            color,
        );
    }
}

/// A stable colour per holder pid, so one process's bars look alike across rows.
fn holder_color(pid: Option<u32>) -> Color32 {
    let Some(pid) = pid else {
        return Color32::from_rgb(214, 69, 65);
    };
    let hue = (pid.wrapping_mul(2_654_435_761) >> 8) as f32 / (1u32 << 24) as f32;
    egui::ecolor::Hsva::new(hue, 0.65, 0.85, 1.0).into()
}

fn log_panel(app: &mut LockscopeApp, ui: &mut Ui) {
    let needle = app.log_filter.to_lowercase();
    let entries: Vec<&super::model::LogEntry> = app
        .model
        .log
        .iter()
        .filter(|e| needle.is_empty() || e.dir.to_string_lossy().to_lowercase().contains(&needle))
        .collect();
    let mut copy = false;
    let mut filter = app.log_filter.clone();
    ui.horizontal(|ui| {
        ui.strong("Event log");
        ui.add(
            egui::TextEdit::singleline(&mut filter)
                .hint_text("filter by directory")
                .desired_width(220.0),
        );
        copy = ui
            .button("Copy")
            .on_hover_text("Copy the shown lines")
            .clicked();
        ui.label(format!("{} events", entries.len()));
    });
    if copy {
        let text: Vec<String> = entries.iter().map(|e| log_line(e)).collect();
        ui.ctx().copy_text(text.join("\n"));
    }
    egui::ScrollArea::vertical()
        .stick_to_bottom(true)
        .auto_shrink(false)
        .show_rows(ui, 18.0, entries.len(), |ui, range| {
            for e in &entries[range] {
                let line = log_line(e);
                ui.add(egui::Label::new(RichText::new(&line).monospace()).truncate())
                    .on_hover_text(line);
            }
        });
    app.log_filter = filter;
}

/// One event-log line, as shown and as *Copy* copies it: escaped (one line per event).
fn log_line(e: &super::model::LogEntry) -> String {
    let old = e.old.as_ref().map_or("-", |s| s.name());
    let cause = match e.cause {
        Cause::Initial => "initial",
        Cause::FsEvent => "fs-event",
        Cause::Poll => "poll",
        Cause::Action => "action",
    };
    let holder = e
        .new
        .holder()
        .map(|h| format!("  ({h})"))
        .unwrap_or_default();
    format!(
        "{}  {}  {old} → {}  [{cause}]{}",
        clock(e.at),
        escape_path(&e.dir),
        e.new.name(),
        escape(&holder)
    )
}

fn settings_panel(app: &mut LockscopeApp, ui: &mut Ui) {
    ui.heading("Settings");
    ui.label("Poll interval");
    ui.text_edit_singleline(&mut app.interval_input);
    ui.label("Lock file name");
    ui.text_edit_singleline(&mut app.lock_name_input);
    if ui.button("Apply").clicked() {
        app.apply_settings_inputs();
    }
    ui.separator();
    ui.label(format!(
        "Polling every {}",
        humantime::format_duration(app.settings.interval)
    ));
    ui.label(format!("Lock file: {}", escape(&app.settings.lock_name)));
}

/// Wall-clock time of day, UTC, like the CLI's timestamps.
fn clock(t: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(t).to_string();
    text.get(11..19)
        .map_or(text.clone(), |hms| format!("{hms}Z"))
}

fn ago(now: SystemTime, then: SystemTime) -> String {
    let secs = now.duration_since(then).unwrap_or_default().as_secs();
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}
