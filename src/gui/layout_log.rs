//! Opt-in layout log for the scripts that drive the real window (scripts/gui-clipboard,
//! gui-remembers): with `LOCKSCOPE_GUI_LAYOUT=FILE`, where a few widgets were painted is written
//! to FILE as JSON whenever it changes, in physical pixels from the window's top-left corner:
//! `{"add_field": [x0, y0, x1, y1], "first_column": [x0, y0, x1, y1], "buttons": {"Export…":
//! [x0, y0, x1, y1], ...}`. The scripts click and
//! drag where the app says things are, not at guessed coordinates or colours.
//!
//! The file is written by a thread of its own (the UI thread never touches the filesystem) with
//! `atomic_file::write`; nothing waits for it at exit.

use super::state::Layout;
use eframe::egui::Rect;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};

pub struct LayoutLog {
    last: Option<(Layout, f32)>,
    writes: Sender<String>,
}

impl LayoutLog {
    /// The log when `LOCKSCOPE_GUI_LAYOUT` names a file (and its writer thread started).
    pub fn from_env() -> Option<LayoutLog> {
        let file = PathBuf::from(std::env::var_os("LOCKSCOPE_GUI_LAYOUT")?);
        let (writes, texts) = mpsc::channel::<String>();
        let started = std::thread::Builder::new()
            .name("lockscope-layout-log".into())
            .spawn(move || {
                for text in texts {
                    if let Err(e) = crate::atomic_file::write(&file, text.as_bytes()) {
                        eprintln!(
                            "lockscope: cannot write the layout to {}: {e}",
                            file.display()
                        );
                    }
                }
            });
        started.ok().map(|_| LayoutLog { last: None, writes })
    }

    /// After a frame: sends the layout on if it changed (most frames it does not).
    pub fn frame(&mut self, layout: &Layout, pixels_per_point: f32) {
        let now = (layout.clone(), pixels_per_point);
        if self.last.as_ref() == Some(&now) {
            return;
        }
        let pixels = |r: Option<Rect>| {
            r.map(|r| {
                [r.min.x, r.min.y, r.max.x, r.max.y].map(|v| (v * pixels_per_point).round() as i64)
            })
        };
        let buttons: serde_json::Map<String, serde_json::Value> = layout
            .buttons
            .iter()
            .map(|(label, rect)| (label.clone(), serde_json::json!(pixels(Some(*rect)))))
            .collect();
        let text = serde_json::json!({
            "add_field": pixels(layout.add_field),
            "first_column": pixels(layout.first_column),
            "buttons": buttons,
        })
        .to_string();
        let _ = self.writes.send(text);
        self.last = Some(now);
    }
}
