//! The watch table (centre): one row per directory with its state badge, holder, age, timeline
//! strip and its own Acquire/Hold/Release buttons; click to select, headers sort.

use super::style::{ORPHANED_COLOR, ROW_HEIGHT, ago, badge_color, clock};
use super::timeline;
use crate::escape::{escape, escape_path};
use crate::gui::intent::{Intent, Rows};
use crate::gui::model::{
    Bound, HeldFor, OwnLock, Row, Since, SortKey, fit_command, fit_dir, state_word,
};
use crate::gui::state::{Snapshot, UiState};
use crate::local_time::{TimeStyle, age_at, format_age, format_time};
use crate::monitor::{DirState, LockState};
use eframe::egui::{self, Color32, RichText, Sense, Ui};
use egui_extras::{Column, TableBuilder};
use std::time::{Duration, Instant, SystemTime};

/// The table's columns at their first widths (the Command column at its least), side by side
/// with their gaps and the panel's margins (measured: 32 px more than the gaps alone): what the
/// details pane gives way to, without and with the timeline column.
pub const MIN_WIDTH: f32 =
    140.0 + 140.0 + 55.0 + 80.0 + 95.0 + 70.0 + ACTIONS_WIDTH + 7.0 * 8.0 + 32.0;
pub const MIN_WIDTH_WITH_TIMELINE: f32 = MIN_WIDTH + TIMELINE_WIDTH + 8.0;
const ACTIONS_WIDTH: f32 = 250.0;
const TIMELINE_WIDTH: f32 = 100.0;
/// The header and eight rows (the event log gives way to this).
pub const MIN_HEIGHT: f32 = timeline::HEADER_HEIGHT + 8.0 * ROW_HEIGHT + 16.0;

pub fn empty_state(ui: &mut Ui) {
    ui.centered_and_justified(|ui| {
        ui.label(RichText::new(
            "No directories yet.\nAdd folders with the dialog, type a path, drag folders here,\nadd certbot's defaults, or find certbot's locks on this machine.",
        ).size(16.0));
    });
}

fn badge(ui: &mut Ui, state: Option<&DirState>, orphaned: bool) -> egui::Response {
    let (word, color) = match state {
        Some(_) if orphaned => ("Orphaned lock", ORPHANED_COLOR),
        Some(s) => (state_word(s), badge_color(s)),
        None => ("…", Color32::GRAY),
    };
    egui::Frame::new()
        .fill(color)
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(word).color(Color32::WHITE).strong())
        })
        .inner
}

pub fn show(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    // Clicks on cell text select the row; selectable labels would swallow them.
    ui.style_mut().interaction.selectable_labels = false;
    let model = view.model;
    let visible = model.shown();
    let (sort_key, ascending) = model.sort();
    let timeline = state.panels.timeline;
    let span = timeline::span_of(state.timeline_minutes);
    let hold_for = Duration::from_secs(state.hold_secs.into());
    let now = SystemTime::now();
    let window_end = state.timeline_end.unwrap_or(now);
    let mut clicked: Option<Intent> = None;
    let mut act: Option<Intent> = None;
    let mut sort_by = None;
    let mut menu: Option<Intent> = None;
    let lock_name = view.settings.lock_name.as_str();
    // Page Up/Down move by what fits (the header takes one row).
    state.page_rows = ((ui.available_height() / ROW_HEIGHT) as usize)
        .saturating_sub(2)
        .max(1);
    let menu_row = state.menu_row.take();
    let mut menu_open_for: Option<std::path::PathBuf> = None;
    let scroll_to = state
        .scroll_to
        .take()
        .and_then(|dir| visible.iter().position(|&i| model.rows()[i].dir == dir));

    // Columns are this far apart; a resize line is in the middle of the gap.
    let half_gap = ui.spacing().item_spacing.x / 2.0;
    let mut builder = TableBuilder::new(ui)
        .striped(true)
        .sense(Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(
            Column::initial(140.0)
                .at_least(120.0)
                .clip(true)
                .resizable(true),
        )
        // "Orphaned lock" and its "⚠ 1" fit (wider content pushed that row's later cells right).
        .column(Column::initial(140.0).at_least(135.0).clip(true))
        .column(Column::initial(55.0).at_least(40.0))
        // The command takes what the others leave (down to 80 px), so the Actions column stays
        // in view at the default width, with the settings or details pane open too.
        .column(Column::remainder().at_least(80.0).clip(true))
        // Local time and zone ("04:01:42 CET"; with the date when not today: resizable, clipped,
        // the hover has it all).
        .column(
            Column::initial(95.0)
                .at_least(70.0)
                .clip(true)
                .resizable(true),
        )
        .column(Column::initial(70.0).at_least(70.0));
    if timeline {
        builder = builder.column(
            Column::initial(TIMELINE_WIDTH)
                .at_least(80.0)
                .resizable(true),
        );
    }
    if let Some(i) = scroll_to {
        builder = builder.scroll_to_row(i, None);
    }
    // The timeline's axis takes a second line under its title.
    let header_height = if timeline {
        timeline::HEADER_HEIGHT
    } else {
        ROW_HEIGHT
    };
    builder
        // The countdown slot and the three buttons.
        .column(Column::exact(ACTIONS_WIDTH))
        .header(header_height, |mut header| {
            for (key, title) in [
                (SortKey::Dir, "Directory"),
                (SortKey::State, "State"),
                (SortKey::Pid, "PID"),
            ] {
                let (used, _) =
                    header.col(|ui| sort_header(ui, title, key, sort_key, ascending, &mut sort_by));
                match key {
                    SortKey::Dir => state.layout.first_column = Some(used),
                    // The resize line: in the gap before the next cell, whose contents start
                    // at its left edge.
                    SortKey::State => {
                        if let Some(first) = &mut state.layout.first_column {
                            first.max.x = used.min.x - half_gap;
                        }
                    }
                    _ => {}
                }
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
            header.col(|ui| {
                ui.strong("Held for").on_hover_text(
                    "How long the lock has been held (≥: at least, since the app first saw it \
                     held; ≤: at most, since its lock file was created or its holder started)",
                );
            });
            if timeline {
                header.col(|ui| {
                    timeline::header(
                        ui,
                        &mut state.timeline_minutes,
                        &mut state.timeline_end,
                        &mut state.layout,
                        now,
                    );
                });
            }
            header.col(|ui| {
                ui.strong("Actions");
            });
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, visible.len(), |mut row_ui| {
                let row = &model.rows()[visible[row_ui.index()]];
                row_ui.set_selected(
                    model.selection.contains(&row.dir) || menu_row.as_ref() == Some(&row.dir),
                );
                let holder = match (&row.state, &row.remote) {
                    // This app's remote hold: its pid on that host, not this process's.
                    (Some(DirState::Lock(LockState::HeldByThisProcess)), Some(remote)) => {
                        remote.holder.as_ref().map(|h| crate::holder::Holder {
                            pid: h.pid,
                            command: h.command.clone(),
                        })
                    }
                    (state, _) => state.as_ref().and_then(DirState::holder),
                };
                row_ui.col(|ui| {
                    let dir = escape_path(&row.dir);
                    // Cut in the middle to fit: the end tells rows apart.
                    let font = egui::TextStyle::Body.resolve(ui.style());
                    let char_width = ui.fonts_mut(|f| f.glyph_width(&font, 'n')).max(1.0);
                    let shown = fit_dir(&dir, (ui.available_width() / char_width) as usize);
                    let label = ui.add(egui::Label::new(shown).truncate());
                    // Screen readers (and the tests) get the whole path.
                    label.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Label, true, dir.as_ref())
                    });
                    label.on_hover_text(dir.as_ref());
                    if let Some(from) = &row.kept_from {
                        ui.label(RichText::new("(kept)").weak())
                            .on_hover_text(format!(
                                "Not in this list: kept from {} because this app holds its lock; \
                             it goes once released",
                                escape(from)
                            ));
                    }
                });
                row_ui.col(|ui| {
                    let badge = badge(ui, row.state.as_ref(), row.orphaned_lock().is_some());
                    if let Some(DirState::Unknown(why)) = &row.state {
                        badge.on_hover_text(escape(why).as_ref());
                    }
                    warning_badge(ui, row);
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
                    let mut is_command = false;
                    let full = match (&row.state, &row.refusal) {
                        (Some(DirState::Error(e)), _) => e.to_string(),
                        (Some(DirState::Unknown(why)), _) => why.clone(),
                        (Some(DirState::NotResponding), _) => {
                            "the filesystem is not responding".to_string()
                        }
                        _ if row.orphaned => {
                            "lock file removed while held: no longer excludes certbot".to_string()
                        }
                        _ if row.orphaned_lock().is_some() => {
                            let holder = row
                                .orphaned_lock()
                                .and_then(|w| w.holder.as_ref())
                                .map_or("a process".to_string(), |h| h.to_string());
                            format!(
                                "lock file removed while {holder} holds it: another certbot \
                                 can start beside it"
                            )
                        }
                        (_, Some(refusal)) => format!("refused: {refusal}"),
                        _ => {
                            is_command = true;
                            holder
                                .as_ref()
                                .and_then(|h| h.command.clone())
                                .unwrap_or_default()
                        }
                    };
                    // A command fitted to the column: long paths lose their middle, not their
                    // end. Messages keep their start.
                    let shown = if is_command {
                        let font = egui::TextStyle::Body.resolve(ui.style());
                        let char_width = ui.fonts_mut(|f| f.glyph_width(&font, 'n')).max(1.0);
                        fit_command(&full, (ui.available_width() / char_width) as usize)
                    } else {
                        full.clone()
                    };
                    ui.add(egui::Label::new(escape(&shown).into_owned()).truncate())
                        .on_hover_text(escape(&full).as_ref());
                });
                row_ui.col(|ui| {
                    if let Some(since) = row.shown_since() {
                        since_cell(ui, row, since, now);
                    }
                });
                row_ui.col(|ui| {
                    if let Some(held) = row.held_for() {
                        held_for(ui, held, now);
                    }
                });
                if timeline {
                    let recorded = view.recorded.dir(&row.dir);
                    row_ui.col(|ui| {
                        timeline::strip(ui, &row.history, recorded, window_end, span, now);
                    });
                }
                row_ui.col(|ui| {
                    if let Some(a) = row_actions(ui, row) {
                        let one = Rows::One(row.dir.clone());
                        act = Some(match a {
                            Act::Acquire => Intent::Acquire(one, None),
                            Act::Hold => Intent::Acquire(one, Some(hold_for)),
                            Act::Release => Intent::Release(one),
                        });
                    }
                });
                let response = row_ui.response();
                if response.double_clicked() {
                    // Only this row: its details pane opens.
                    clicked = Some(Intent::Click {
                        dir: row.dir.clone(),
                        toggle: false,
                        extend: false,
                    });
                } else if response.clicked() {
                    let mods = response.ctx.input(|i| i.modifiers);
                    clicked = Some(Intent::Click {
                        dir: row.dir.clone(),
                        toggle: mods.command,
                        extend: mods.shift,
                    });
                }
                let open = response.context_menu(|ui| {
                    if let Some(intent) = row_menu(ui, row, lock_name, hold_for) {
                        menu = Some(intent);
                        ui.close();
                    }
                });
                if open.is_some() {
                    menu_open_for = Some(row.dir.clone());
                }
            });
        });

    if menu_open_for != menu_row {
        // Highlight (or stop highlighting) the menu's row in the next frame.
        ui.ctx().request_repaint();
    }
    state.menu_row = menu_open_for;
    intents.extend(sort_by.map(Intent::SortBy));
    intents.extend(clicked);
    intents.extend(act);
    intents.extend(menu);
}

/// A row's context menu (right click): its lock, copying its paths and holder, opening it in
/// the file manager, removing it. What is copied is escaped like what is shown (a newline in
/// a pasted path must not run a command).
fn row_menu(ui: &mut Ui, row: &Row, lock_name: &str, hold_for: Duration) -> Option<Intent> {
    let one = || Rows::One(row.dir.clone());
    // Shell-quoted from the holder's own arguments where they are known (the row's diagnosis
    // comes with its state, so names the same process), else its command line escaped.
    let command = match row
        .diagnosis
        .holder
        .as_ref()
        .and_then(|d| d.arguments.as_ref())
    {
        Some(args) if row.is_held() => Some(crate::escape::shell_quote(args)),
        _ => row
            .state
            .as_ref()
            .and_then(DirState::holder)
            .and_then(|h| h.command)
            .map(|c| escape(&c).into_owned()),
    };
    let mut chosen = None;
    let can_acquire = row.can_acquire();
    if ui
        .add_enabled(can_acquire, egui::Button::new("Acquire the lock"))
        .clicked()
    {
        chosen = Some(Intent::Acquire(one(), None));
    }
    if ui
        .add_enabled(can_acquire, egui::Button::new("Hold the lock"))
        .on_hover_text(format!("for {}", humantime::format_duration(hold_for)))
        .clicked()
    {
        chosen = Some(Intent::Acquire(one(), Some(hold_for)));
    }
    if ui
        .add_enabled(row.can_release(), egui::Button::new("Release the lock"))
        .clicked()
    {
        chosen = Some(Intent::Release(one()));
    }
    let holder_uid = row.diagnosis.holder.as_ref().and_then(|d| d.uid);
    let not_permitted = holder_uid.is_some_and(|uid| !crate::terminate::may_signal(uid));
    let remote = row.remote.is_some() || crate::watchlist::is_remote(&row.dir);
    let held_by_other = !remote
        && row
            .state
            .as_ref()
            .and_then(DirState::holder)
            .is_some_and(|h| h.pid.is_some());
    if ui
        .add_enabled(
            held_by_other && !not_permitted,
            egui::Button::new("End holder…"),
        )
        .on_hover_text("Ask the process holding this lock to exit (SIGTERM), after confirming")
        .on_disabled_hover_text(if not_permitted {
            "another user's process: this app may not signal it (start it as root)"
        } else {
            "not held by another process here"
        })
        .clicked()
    {
        chosen = Some(Intent::EndHolder(row.dir.clone()));
    }
    ui.separator();
    if ui.button("Copy path").clicked() {
        chosen = Some(Intent::CopyText(escape_path(&row.dir).into_owned()));
    }
    if ui.button("Copy lock-file path").clicked() {
        chosen = Some(Intent::CopyText(
            escape_path(&row.dir.join(lock_name)).into_owned(),
        ));
    }
    if ui
        .add_enabled(
            command.is_some(),
            egui::Button::new("Copy holder command line"),
        )
        .clicked()
    {
        chosen = Some(Intent::CopyText(command.unwrap_or_default()));
    }
    if ui
        .add_enabled(!remote, egui::Button::new("Open folder"))
        .on_hover_text("in the file manager")
        .on_disabled_hover_text("a directory on another host (HOST:DIR)")
        .clicked()
    {
        chosen = Some(Intent::OpenFolder(row.dir.clone()));
    }
    ui.separator();
    if ui
        .button("Remove")
        .on_hover_text("Stop watching this directory (Ctrl+Z puts it back)")
        .clicked()
    {
        chosen = Some(Intent::Remove(row.dir.clone()));
    }
    chosen
}

/// "⚠ 2" after the state badge of a row whose diagnosis has warnings; the tooltip lists them.
fn warning_badge(ui: &mut Ui, row: &Row) {
    let warnings = &row.diagnosis.warnings;
    if warnings.is_empty() {
        return;
    }
    let text: Vec<String> = warnings
        .iter()
        .map(|w| format!("{}: {}", w.kind.name(), escape(&w.message)))
        .collect();
    ui.label(
        RichText::new(format!("⚠ {}", warnings.len()))
            .color(ui.visuals().warn_fg_color)
            .strong(),
    )
    .on_hover_text(text.join("\n"));
}

/// "12 min 5 s" ("≥ 3 min" when held at least that long, "≤ 8 min" at most), the time on
/// hover.
fn held_for(ui: &mut Ui, held: HeldFor, now: SystemTime) {
    let (Ok(since), Ok(now)) = (
        jiff::Timestamp::try_from(held.since),
        jiff::Timestamp::try_from(now),
    ) else {
        return;
    };
    let age = format_age(age_at(since, now));
    let at = format_time(since, TimeStyle::Resolved);
    let (text, hover) = match held.bound {
        Bound::Exact => (
            age,
            format!("held since {at} (when lockscope saw it taken)"),
        ),
        Bound::AtLeast => (
            format!("≥ {age}"),
            format!("held at least since {at} (when the app first saw it held)"),
        ),
        Bound::AtMost => (
            format!("≤ {age}"),
            format!(
                "taken at the earliest {at} (when its lock file was created or its holder \
                 started; a leftover lock file is older than its lock)"
            ),
        ),
    };
    ui.label(text).on_hover_text(hover);
}

/// The SINCE column: the clock time, "≤ 04:01:42" when the state began at or before it (the
/// app's first look), "≥ 04:01:42" when the lock was taken at or after it; what it is on hover.
fn since_cell(ui: &mut Ui, row: &Row, since: Since, now: SystemTime) {
    let at = clock(since.at, now);
    let (text, what) = match (since.bound, since.held) {
        (Bound::Exact, true) => (at.clone(), "held since, as lockscope saw it taken"),
        (Bound::AtMost, true) => (
            format!("≥ {at}"),
            "taken at the earliest: when its lock file was created or its holder started",
        ),
        (Bound::AtLeast, true) => (
            format!("≤ {at}"),
            "held at least since the app's first look",
        ),
        (Bound::Exact, false) => (at.clone(), "in this state since, as the app saw it change"),
        (Bound::AtLeast | Bound::AtMost, false) => (
            format!("≤ {at}"),
            "in this state at least since the app's first look",
        ),
    };
    let state = row.state.as_ref().map_or("…", state_word);
    ui.add(egui::Label::new(&text).truncate())
        .on_hover_text(format!("{state}: {what}: {at}, {} ago", ago(now, since.at)));
}

enum Act {
    Acquire,
    Hold,
    Release,
}

fn row_actions(ui: &mut Ui, row: &Row) -> Option<Act> {
    let mut act = None;
    // The row's own reason (one copy: this one had drifted, without remote rows' Unknown).
    let why_not = row.acquire_blocker();
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

/// The filter hides every row: say so (a blank table read as "nothing watched"), with a way out.
pub fn all_filtered_out(ui: &mut Ui, view: &Snapshot<'_>, intents: &mut Vec<Intent>) {
    ui.vertical_centered(|ui| {
        ui.add_space(40.0);
        let rows = view.model.rows().len();
        ui.label(format!(
            "The filter \u{201c}{}\u{201d} hides {}.",
            escape(view.model.filter()),
            if rows == 1 {
                "the only directory".to_string()
            } else {
                format!("all {rows} directories")
            }
        ));
        if ui.button("Clear the filter").clicked() {
            intents.push(Intent::Filter(String::new()));
        }
    });
}
