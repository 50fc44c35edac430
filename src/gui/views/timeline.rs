//! The timeline column: each row's last minutes as a strip, held periods coloured by holder.

use super::style::{ROW_HEIGHT, badge_color};
use crate::gui::model::Span;
use crate::monitor::{DirState, LockState};
use eframe::egui::{self, Color32, Sense, Ui};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

/// The column header: its title and the span (edited in place, kept across restarts).
pub fn header(ui: &mut Ui, minutes: &mut u32) {
    ui.strong("Timeline");
    ui.add(egui::DragValue::new(minutes).range(1..=60).suffix(" min"));
}

/// A thin strip of the last `span`: held periods as bars coloured by holder.
pub fn strip(ui: &mut Ui, history: &VecDeque<Span>, now: SystemTime, span: Duration) {
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
            DirState::Lock(LockState::Held(h)) => holder_color(h.pid),
            DirState::Lock(LockState::HeldByThisProcess) => badge_color(&s.state),
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
