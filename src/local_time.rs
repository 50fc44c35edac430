//! Times as people read them: in the local time zone (the system's tz database, via jiff) with
//! the zone shown, or in UTC when asked; and ages ("12 min"). JSON keeps RFC 3339 UTC.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::sync::RwLock;
use std::time::Duration;

/// Which clock a person reads times in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeStyle {
    /// The local time zone (`TZ`, else `/etc/localtime`), with its abbreviation.
    #[default]
    Local,
    /// UTC (`--utc`).
    Utc,
    /// The local zone as last resolved by [`resolve_local_zone`] (UTC until then). For a UI
    /// thread, which must not touch the filesystem: jiff's `TimeZone::system()` re-reads
    /// `/etc/localtime` every few minutes on whichever thread asks.
    Resolved,
}

/// The zone [`TimeStyle::Resolved`] reads.
static RESOLVED: RwLock<Option<TimeZone>> = RwLock::new(None);

impl TimeStyle {
    /// The zone times are shown in.
    pub fn zone(self) -> TimeZone {
        match self {
            // An unreadable zone falls back to UTC inside jiff (and says so in its name).
            TimeStyle::Local => TimeZone::system(),
            TimeStyle::Utc => TimeZone::UTC,
            TimeStyle::Resolved => RESOLVED
                .read()
                .ok()
                .and_then(|zone| zone.clone())
                .unwrap_or(TimeZone::UTC),
        }
    }
}

/// Reads the local zone (`TZ`, else `/etc/localtime`: file I/O) for [`TimeStyle::Resolved`].
/// True if it changed (or was resolved for the first time).
pub fn resolve_local_zone() -> bool {
    let zone = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let Ok(mut resolved) = RESOLVED.write() else {
        return false;
    };
    if resolved.as_ref() == Some(&zone) {
        return false;
    }
    *resolved = Some(zone);
    true
}

/// `2026-12-02 04:01:42 CET`: the time in `style`'s zone, to the second, with the zone's
/// abbreviation (or its offset when the zone has none).
pub fn format_time(time: Timestamp, style: TimeStyle) -> String {
    time.to_zoned(style.zone())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// Like [`format_time`] to the millisecond (`lockscope watch`'s lines).
pub fn format_time_precise(time: Timestamp, style: TimeStyle) -> String {
    time.to_zoned(style.zone())
        .strftime("%Y-%m-%d %H:%M:%S%.3f %Z")
        .to_string()
}

/// Like [`format_time`] with just the time of day when `time` is today in that zone.
pub fn format_time_short(time: Timestamp, now: Timestamp, style: TimeStyle) -> String {
    let zone = style.zone();
    let (at, today) = (time.to_zoned(zone.clone()), now.to_zoned(zone));
    if at.date() == today.date() {
        at.strftime("%H:%M:%S %Z").to_string()
    } else {
        at.strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
    }
}

/// How long something has lasted, in the two largest units: `42 s`, `12 min 5 s`, `3 h 20
/// min`, `2 days 4 h`.
pub fn format_age(age: Duration) -> String {
    let s = age.as_secs();
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) if s == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, 0) => format!("{h} h"),
        (0, _, _) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".to_string(),
        (1, _, _) => format!("1 day {h} h"),
        (_, 0, _) => format!("{d} days"),
        _ => format!("{d} days {h} h"),
    }
}

/// The time from `then` to `now` (zero if `then` is later: clocks and /proc disagree by a
/// tick).
pub fn age_at(then: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(then)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolved_zone_is_the_systems_once_resolved() {
        resolve_local_zone();
        assert_eq!(
            TimeStyle::Resolved.zone(),
            TimeZone::try_system().unwrap_or(TimeZone::UTC)
        );
        assert!(!resolve_local_zone(), "unchanged: no wake-up");
    }

    #[test]
    fn ages_read_naturally() {
        let cases = [
            (0, "0 s"),
            (42, "42 s"),
            (60, "1 min"),
            (725, "12 min 5 s"),
            (3600, "1 h"),
            (12_000, "3 h 20 min"),
            (86_400, "1 day"),
            (90_000, "1 day 1 h"),
            (2 * 86_400 + 4 * 3600 + 5, "2 days 4 h"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_age(Duration::from_secs(secs)), text, "{secs}");
        }
    }

    #[test]
    fn utc_is_labelled_and_a_named_zone_uses_its_abbreviation() {
        let t: Timestamp = "2026-12-02T03:01:42.186Z".parse().unwrap();
        assert_eq!(format_time(t, TimeStyle::Utc), "2026-12-02 03:01:42 UTC");
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            t.to_zoned(berlin)
                .strftime("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            "2026-12-02 04:01:42 CET"
        );
        let later: Timestamp = "2026-12-02T03:02:00Z".parse().unwrap();
        assert_eq!(format_time_short(t, later, TimeStyle::Utc), "03:01:42 UTC");
        assert_eq!(age_at(later, t), Duration::ZERO);
    }
}
