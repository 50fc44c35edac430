//! What the panels share: row height, state colours, time formats.

use crate::local_time::{TimeStyle, format_time_short};
use crate::monitor::{DirState, LockState};
use eframe::egui::Color32;
use jiff::Timestamp;
use std::time::{Duration, SystemTime};

pub const ROW_HEIGHT: f32 = 22.0;

/// The orphaned lock's badge: the warning colour, apart from held's red and absent's green.
pub const ORPHANED_COLOR: Color32 = Color32::from_rgb(226, 112, 0);

pub fn badge_color(state: &DirState) -> Color32 {
    match state {
        DirState::Lock(LockState::Held(_)) => Color32::from_rgb(214, 69, 65),
        DirState::Lock(LockState::HeldByThisProcess) => Color32::from_rgb(52, 120, 226),
        DirState::Lock(LockState::Free) => Color32::from_rgb(224, 158, 36),
        DirState::Lock(LockState::Absent) => Color32::from_rgb(76, 163, 90),
        DirState::Missing => Color32::from_rgb(130, 130, 130),
        DirState::Error(_) => Color32::from_rgb(160, 60, 150),
        DirState::NotResponding => Color32::from_rgb(120, 90, 160),
        DirState::Unknown(_) => Color32::from_rgb(100, 100, 100),
    }
}

/// A time as people read it: in the local time zone with its abbreviation, the time of day when
/// it is today there, the date too when not (`04:01:42 CET`, `2026-12-01 23:59:01 CET`).
pub fn clock(t: SystemTime, now: SystemTime) -> String {
    match (Timestamp::try_from(t), Timestamp::try_from(now)) {
        (Ok(t), Ok(now)) => format_time_short(t, now, TimeStyle::Resolved),
        // Outside jiff's range (years beyond ±9999): RFC 3339 UTC still says when.
        _ => humantime::format_rfc3339_seconds(t).to_string(),
    }
}

pub fn ago(now: SystemTime, then: SystemTime) -> String {
    let secs = now.duration_since(then).unwrap_or_default().as_secs();
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::clock;
    use std::time::{Duration, SystemTime};

    #[test]
    fn times_are_local_with_the_zone_and_a_date_when_not_today() {
        let now = SystemTime::now();
        let zone = jiff::Zoned::now().strftime("%Z").to_string();
        let today = clock(now, now);
        assert!(today.ends_with(&format!(" {zone}")), "{today}");
        assert_eq!(today.len(), "04:01:42 ".len() + zone.len(), "{today}");
        let earlier = clock(now - Duration::from_secs(3 * 86_400), now);
        assert!(earlier.ends_with(&format!(" {zone}")), "{earlier}");
        assert!(
            earlier.contains('-') && earlier.len() > today.len() + 10,
            "{earlier}"
        );
    }
}
