//! The event log panel (bottom): every state change, filterable by directory, copyable.

use super::style::clock;
use crate::escape::{escape, escape_path};
use crate::gui::intent::Intent;
use crate::gui::model::LogEntry;
use crate::gui::state::{Snapshot, UiState};
use crate::monitor::{DirState, LockState};
use eframe::egui::{self, RichText, Ui};

pub fn show(ui: &mut Ui, view: &Snapshot<'_>, state: &mut UiState, intents: &mut Vec<Intent>) {
    let needle = state.log_filter.to_lowercase();
    let entries: Vec<&LogEntry> = view
        .model
        .log
        .iter()
        .filter(|e| {
            needle.is_empty()
                || (e.first_looks.is_none()
                    && e.dir.to_string_lossy().to_lowercase().contains(&needle))
        })
        .collect();
    let now = std::time::SystemTime::now();
    let mut copy = false;
    ui.horizontal(|ui| {
        ui.strong("Event log");
        ui.add(
            egui::TextEdit::singleline(&mut state.log_filter)
                .hint_text("filter by directory")
                .desired_width(220.0),
        );
        copy = ui
            .button("Copy")
            .on_hover_text("Copy the shown lines")
            .clicked();
        ui.label(count_label(entries.len()));
    });
    if copy {
        let text: Vec<String> = entries.iter().map(|e| log_line(e, now)).collect();
        intents.push(Intent::CopyText(text.join("\n")));
    }
    egui::ScrollArea::vertical()
        .stick_to_bottom(true)
        .auto_shrink(false)
        .show_rows(ui, 18.0, entries.len(), |ui, range| {
            for e in &entries[range] {
                let line = log_line(e, now);
                // The hover in the line's own (monospace) font: the proportional one has no "→".
                ui.add(egui::Label::new(RichText::new(&line).monospace()).truncate())
                    .on_hover_text(RichText::new(line).monospace());
            }
        });
}

/// One event-log line, as shown and as *Copy* copies it: escaped (one line per event).
fn log_line(e: &LogEntry, now: std::time::SystemTime) -> String {
    if let Some(counts) = &e.first_looks {
        let total: usize = counts.values().sum();
        let each: Vec<String> = counts
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        return format!(
            "{}  first look at {total} directories: {}  [{}]",
            clock(e.at, now),
            each.join(", "),
            e.cause.name()
        );
    }
    let old = e.old.as_ref().map_or("-", |s| s.name());
    let cause = e.cause.name();
    let ours_remote = matches!(e.new, DirState::Lock(LockState::HeldByThisProcess))
        && crate::watchlist::is_remote(&e.dir);
    let holder = if ours_remote {
        // Not this process: a remote `lockscope hold` on that host, tied to our ssh session.
        "  (this app's remote hold)".to_string()
    } else {
        e.new
            .holder()
            .map(|h| format!("  ({h})"))
            .unwrap_or_default()
    };
    let note = e
        .note
        .as_ref()
        .map(|n| format!("  {}", escape(n)))
        .unwrap_or_default();
    format!(
        "{}  {}  {old} → {}  [{cause}]{}{note}",
        clock(e.at, now),
        escape_path(&e.dir),
        e.new.name(),
        escape(&holder)
    )
}

/// "1 event", "2 events" (it said "1 events").
fn count_label(n: usize) -> String {
    if n == 1 {
        "1 event".to_string()
    } else {
        format!("{n} events")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn first_looks_read_as_one_line_of_counts() {
        use crate::monitor::Cause;
        let at = std::time::SystemTime::now();
        let entry = super::LogEntry {
            at,
            dir: "/d0".into(),
            old: None,
            new: super::DirState::Lock(super::LockState::Absent),
            cause: Cause::Initial,
            note: None,
            first_looks: Some([("absent", 1_800), ("free", 200)].into_iter().collect()),
        };
        let line = super::log_line(&entry, at);
        assert!(
            line.ends_with("  first look at 2000 directories: 1800 absent, 200 free  [initial]"),
            "{line}"
        );
    }

    #[test]
    fn one_event_is_singular() {
        assert_eq!(super::count_label(0), "0 events");
        assert_eq!(super::count_label(1), "1 event");
        assert_eq!(super::count_label(2_011), "2011 events");
    }
}
