//! What the panels share: row height, state colours, time formats.

use crate::monitor::{DirState, LockState};
use eframe::egui::Color32;
use std::time::{Duration, SystemTime};

pub const ROW_HEIGHT: f32 = 22.0;

pub fn badge_color(state: &DirState) -> Color32 {
    match state {
        DirState::Lock(LockState::Held(_)) => Color32::from_rgb(214, 69, 65),
        DirState::Lock(LockState::HeldByThisProcess) => Color32::from_rgb(52, 120, 226),
        DirState::Lock(LockState::Free) => Color32::from_rgb(224, 158, 36),
        DirState::Lock(LockState::Absent) => Color32::from_rgb(76, 163, 90),
        DirState::Missing => Color32::from_rgb(130, 130, 130),
        DirState::Error(_) => Color32::from_rgb(160, 60, 150),
        DirState::NotResponding => Color32::from_rgb(120, 90, 160),
    }
}

/// Wall-clock time of day, UTC, like the CLI's timestamps.
pub fn clock(t: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(t).to_string();
    text.get(11..19)
        .map_or(text.clone(), |hms| format!("{hms}Z"))
}

pub fn ago(now: SystemTime, then: SystemTime) -> String {
    let secs = now.duration_since(then).unwrap_or_default().as_secs();
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}
