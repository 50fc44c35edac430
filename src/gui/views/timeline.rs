//! The timeline column: each row's state over a window of time (the last minutes by default;
//! up to 7 days, panned back and zoomed) as a strip over a time axis in local time. What the app
//! saw itself comes from its rows' state history; before that, the flight recorder's history
//! (`lockscope record`'s file), when there is one: its holds, and its refused attempts as marks.
//!
//! The strip's marks are patterns, not the table's badge colours, so a bar cannot be read as a
//! state badge: a lock held by another process is a hatched, outlined bar (its colour tells
//! holders apart, from a palette away from the badges' red, blue, orange, green and purple), this
//! app's own lock a hollow outline, an unreadable directory (missing, error, not responding) a
//! dotted line; free and absent are the bare baseline. The header's title explains this on hover,
//! and hovering a mark says its state, its holder and its start and end times.

use super::style::ROW_HEIGHT;
use crate::escape::escape;
use crate::gui::model::{Span, state_word};
use crate::gui::recorded::DirRecord;
use crate::gui::state::Layout;
use crate::history::{Hold, Refused};
use crate::local_time::{TimeStyle, age_at, format_age, format_time_short};
use crate::monitor::{DirState, LockState};
use eframe::egui::{self, Color32, Painter, Rect, Sense, Stroke, Ui};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

/// The height of the axis line under the header's title.
const AXIS_HEIGHT: f32 = 14.0;
/// At least this many pixels between two tick labels.
const TICK_SPACING: f32 = 40.0;
/// Tick steps, in seconds, from which the axis picks the smallest that fits.
const TICK_STEPS: [u64; 15] = [
    10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/// The longest window: 7 days, in minutes.
pub const MAX_MINUTES: u32 = 7 * 24 * 60;

/// How near (pixels) the pointer must be to a refused attempt's mark for its hover.
const REFUSED_HOVER: f32 = 4.0;

/// The header's height when the timeline is shown: its title line and the axis.
pub const HEADER_HEIGHT: f32 = ROW_HEIGHT + AXIS_HEIGHT;

/// The column header: its title (the legend on hover), the window's controls (earlier, its span
/// edited in place and kept across restarts, later, back to now), and the time axis with the
/// local zone's abbreviation once. `end` is the window's right edge (`None`: now, following the
/// clock). Dragging the axis pans; Ctrl + wheel over it zooms.
pub fn header(
    ui: &mut Ui,
    minutes: &mut u32,
    end: &mut Option<SystemTime>,
    layout: &mut Layout,
    now: SystemTime,
) {
    let span = span_of(*minutes);
    let shown_end = end.unwrap_or(now);
    ui.vertical(|ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        ui.horizontal(|ui| {
            ui.strong("Timeline").on_hover_ui(legend);
            if ui
                .small_button("◀")
                .on_hover_text("earlier (half the window)")
                .clicked()
            {
                *end = Some(shown_end.checked_sub(span / 2).unwrap_or(shown_end));
            }
            let width = ui
                .add(
                    egui::DragValue::new(minutes)
                        .range(1..=MAX_MINUTES)
                        .speed(0.2)
                        .custom_formatter(|m, _| span_text(m.round() as u32))
                        .custom_parser(parse_span),
                )
                .on_hover_text("the window's width: drag, or type 30 min, 6 h, 2 d");
            layout.button("timeline span", &width);
            if end.is_some() {
                if ui
                    .small_button("▶")
                    .on_hover_text("later (half the window)")
                    .clicked()
                {
                    let later = shown_end + span / 2;
                    *end = (later < now).then_some(later);
                }
                if ui
                    .small_button("Now")
                    .on_hover_text("follow the clock again")
                    .clicked()
                {
                    *end = None;
                }
            }
            // The zone once, on the title line: the axis below keeps its width for ticks.
            let zone_name = to_timestamp(shown_end)
                .to_zoned(TimeStyle::Resolved.zone())
                .strftime("%Z")
                .to_string();
            ui.label(egui::RichText::new(zone_name).small().weak())
                .on_hover_text("the axis is in local time");
        });
        let axis_response = axis(ui, shown_end, span);
        if axis_response.dragged() && axis_response.rect.width() > 0.0 {
            let dragged = axis_response.drag_delta().x / axis_response.rect.width();
            *end = pan(shown_end, -span.as_secs_f64() * f64::from(dragged), now);
        }
        if axis_response.hovered() {
            let zoom = ui.input(|i| i.zoom_delta());
            if zoom != 1.0 {
                let zoomed = (f64::from(*minutes) / f64::from(zoom)).round();
                *minutes = (zoomed as u32).clamp(1, MAX_MINUTES);
            }
        }
    });
}

/// The window's span: `minutes`, at least one.
pub fn span_of(minutes: u32) -> Duration {
    Duration::from_secs(u64::from(minutes.clamp(1, MAX_MINUTES)) * 60)
}

/// The window's right edge moved by `seconds` (later if positive); `None` once it reaches now.
fn pan(end: SystemTime, seconds: f64, now: SystemTime) -> Option<SystemTime> {
    let moved = if seconds >= 0.0 {
        end + Duration::from_secs_f64(seconds)
    } else {
        end.checked_sub(Duration::from_secs_f64(-seconds))
            .unwrap_or(end)
    };
    (moved < now).then_some(moved)
}

/// "5 min", "1 h 30 min", "2 d 6 h".
fn span_text(minutes: u32) -> String {
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (mins, "min")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 min".into()
    } else {
        parts.join(" ")
    }
}

/// A typed span: a bare number is minutes; else a duration as people write it ("6h", "2 d").
fn parse_span(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(minutes) = text.parse::<f64>() {
        return Some(minutes);
    }
    let compact: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("")
        .replace("min", "m");
    humantime::parse_duration(&compact)
        .ok()
        .map(|d| (d.as_secs_f64() / 60.0).round())
}

/// Tick labels ("04:10") under the header, aligned with the strips' tick marks; its response
/// (dragged to pan).
fn axis(ui: &mut Ui, end: SystemTime, span: Duration) -> egui::Response {
    let size = egui::vec2(ui.available_width(), AXIS_HEIGHT);
    let (rect, response) = ui.allocate_exact_size(size, Sense::drag());
    let zone = TimeStyle::Resolved.zone();
    let scale = Scale::new(rect, end, span);
    let font = egui::TextStyle::Small.resolve(ui.style());
    let color = ui.visuals().weak_text_color();
    let mut free_from = rect.left();
    let (step, ticks) = ticks(&zone, scale.start, span, rect.width());
    for t in ticks {
        let text = tick_label(&zone, t, step);
        let width = ui.fonts_mut(|f| f.layout_no_wrap(text.clone(), font.clone(), color).size().x);
        let x = scale.x_of(t);
        let (left, right) = (x - width / 2.0, x + width / 2.0);
        if left < free_from || right > rect.right() {
            continue;
        }
        ui.put(
            Rect::from_min_size(egui::pos2(left, rect.top()), egui::vec2(width, AXIS_HEIGHT)),
            egui::Label::new(egui::RichText::new(text).small().color(color)),
        );
        free_from = right + 4.0;
    }
    response.on_hover_text("drag to move in time; Ctrl + wheel to zoom")
}

/// The legend (the header title's hover): what each mark means.
fn legend(ui: &mut Ui) {
    ui.label("Each directory over the window, oldest at the left:");
    let rows: [(&str, Mark); 5] = [
        (
            "held by another process (hatched; one colour per process)",
            Mark::HeldByOther(holder_color(Some(4242))),
        ),
        ("held by this app (hollow)", Mark::HeldByThisApp),
        (
            "missing, error or not responding (dotted)",
            Mark::Unreadable,
        ),
        ("free or absent (the bare line)", Mark::None),
        (
            "an attempt to take it, refused (the flight recorder's history)",
            Mark::Refused,
        ),
    ];
    for (text, mark) in rows {
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(40.0, 12.0), Sense::hover());
            let painter = ui.painter_at(rect);
            baseline(&painter, rect, ui.visuals().weak_text_color());
            paint_mark(&painter, ui.visuals(), rect, mark);
            ui.label(text);
        });
    }
    ui.label(
        "Hover a mark for its holder and times. Before the app watched a directory, the \
         marks are the flight recorder's (`lockscope record`), when it ran.",
    );
}

/// A thin strip of the window `span` ending at `end` with the axis's tick marks: the row's own
/// history, the flight recorder's before it (`recorded`), and refused attempts. Hovering it
/// says the state at the pointer, its holder and when that state began and ended.
pub fn strip(
    ui: &mut Ui,
    history: &VecDeque<Span>,
    recorded: Option<&DirRecord>,
    end: SystemTime,
    span: Duration,
    now: SystemTime,
) {
    let size = egui::vec2(ui.available_width(), ROW_HEIGHT - 8.0);
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "timeline"));
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    let scale = Scale::new(rect, end, span);
    let zone = TimeStyle::Resolved.zone();
    let (_, ticks) = ticks(&zone, scale.start, span, rect.width());
    let tick_color = visuals.weak_text_color().gamma_multiply(0.5);
    for t in ticks {
        let x = scale.x_of(t);
        painter.line_segment(
            [egui::pos2(x, rect.top()), egui::pos2(x, rect.top() + 3.0)],
            (1.0, tick_color),
        );
    }
    baseline(&painter, rect, visuals.weak_text_color());
    // The app's own looks from its first one on; the recorder's before.
    let seen_from = history.front().map_or(now, |s| s.start);
    let window_end = end.min(now);
    for h in recorded.map_or(&[][..], |r| &r.holds[..]) {
        let start = SystemTime::from(h.start);
        let until = h.end.map_or(now, SystemTime::from).min(seen_from);
        if until < scale.start || start > window_end || start >= until {
            continue;
        }
        let (x0, x1) = (scale.x_of(start), scale.x_of(until));
        let bar = Rect::from_x_y_ranges(x0..=x1.max(x0 + 2.0), rect.y_range());
        paint_mark(
            &painter,
            visuals,
            bar,
            Mark::HeldByOther(holder_color(h.pid)),
        );
    }
    for (i, s) in history.iter().enumerate() {
        let until = history.get(i + 1).map_or(now, |n| n.start);
        if until < scale.start || s.start > window_end {
            continue;
        }
        let (x0, x1) = (
            scale.x_of(s.start),
            scale.x_of(until).max(scale.x_of(s.start) + 2.0),
        );
        let bar = Rect::from_x_y_ranges(x0..=x1, rect.y_range());
        paint_mark(&painter, visuals, bar, mark(&s.state));
    }
    let refused = recorded.map_or(&[][..], |r| &r.refused[..]);
    for r in refused {
        let at = SystemTime::from(r.time);
        if at < scale.start || at > window_end {
            continue;
        }
        let x = scale.x_of(at);
        let mark = Rect::from_x_y_ranges(x - 3.0..=x + 3.0, rect.y_range());
        paint_mark(&painter, visuals, mark, Mark::Refused);
    }
    if let Some(pos) = response.hover_pos() {
        let at = scale.time_at(pos.x);
        let near = refused
            .iter()
            .filter(|r| (scale.x_of(SystemTime::from(r.time)) - pos.x).abs() <= REFUSED_HOVER)
            .min_by(|a, b| {
                let da = (scale.x_of(SystemTime::from(a.time)) - pos.x).abs();
                let db = (scale.x_of(SystemTime::from(b.time)) - pos.x).abs();
                da.total_cmp(&db)
            });
        let text = match (near, recorded) {
            (Some(r), _) => describe_refused(r, now),
            (None, Some(record)) if at < seen_from => describe_recorded(&record.holds, at, now),
            _ => describe_at(history, at, now),
        };
        response.on_hover_text_at_pointer(text);
    }
}

/// What a strip says on hover over a refused attempt.
pub fn describe_refused(r: &Refused, now: SystemTime) -> String {
    let now_ts = to_timestamp(now);
    let mut text = format!(
        "Refused at {}: ",
        format_time_short(r.time, now_ts, TimeStyle::Resolved)
    );
    text.push_str(&process_text(
        r.pid,
        &r.user,
        &r.command,
        "a process not visible here",
    ));
    match r.holder_pid {
        Some(holder) => text.push_str(&format!("\nwhile pid {holder} held the lock")),
        None => text.push_str("\nwhile the lock was held"),
    }
    text.push_str("\n(the flight recorder's history)");
    text
}

/// "pid 812 (root): certbot renew", escaped; `unseen` without a pid.
fn process_text(
    pid: Option<u32>,
    user: &Option<String>,
    command: &Option<String>,
    unseen: &str,
) -> String {
    let mut text = pid.map_or(unseen.to_string(), |pid| format!("pid {pid}"));
    if let Some(user) = user {
        text.push_str(&format!(" ({})", escape(user)));
    }
    if let Some(cmd) = command {
        text.push_str(&format!(": {}", escape(cmd)));
    }
    text
}

/// What a strip says on hover at `at`, before the app watched the directory: the flight
/// recorder's hold then, or that it saw none.
pub fn describe_recorded(holds: &[Hold], at: SystemTime, now: SystemTime) -> String {
    let at_ts = to_timestamp(at);
    let now_ts = to_timestamp(now);
    let when = |t: Timestamp| format_time_short(t, now_ts, TimeStyle::Resolved);
    let Some(h) = holds
        .iter()
        .rev()
        .find(|h| h.start <= at_ts && h.end.is_none_or(|e| e > at_ts))
    else {
        return "Not held, as far as the flight recorder saw (before the app watched this \
                directory)"
            .to_string();
    };
    let mut text = String::from("Held (the flight recorder's history)\nholder: ");
    text.push_str(&process_text(h.pid, &h.user, &h.command, "pid not visible"));
    let start = if h.start_seen {
        when(h.start)
    } else {
        format!("≤ {}", when(h.start))
    };
    match (h.end, h.ended_by) {
        (Some(end), Some(how)) => text.push_str(&format!(
            "\nfrom {start} to {} ({}, {})",
            when(end),
            format_age(age_at(h.start, end)),
            how.name()
        )),
        _ => text.push_str(&format!("\nsince {start}, still")),
    }
    text
}

/// What a strip says on hover at time `at`: the state then, its holder, its start and end.
pub fn describe_at(history: &VecDeque<Span>, at: SystemTime, now: SystemTime) -> String {
    let Some(i) = history.iter().rposition(|s| s.start <= at) else {
        return "nothing recorded yet (before the app watched this directory)".to_string();
    };
    let s = &history[i];
    let end = history.get(i + 1).map(|n| n.start);
    let now_ts = to_timestamp(now);
    let when = |t: SystemTime| format_time_short(to_timestamp(t), now_ts, TimeStyle::Resolved);
    let lasted = format_age(age_at(
        to_timestamp(s.start),
        to_timestamp(end.unwrap_or(now)),
    ));
    let mut text = String::from(state_word(&s.state));
    match &s.state {
        DirState::Lock(LockState::Held(h)) => {
            text.push_str(" by another process (hatched)\nholder: ");
            match h.pid {
                Some(pid) => text.push_str(&format!("pid {pid}")),
                None => text.push_str("pid not visible"),
            }
            if let Some(cmd) = &h.command {
                text.push_str(&format!(": {}", escape(cmd)));
            }
        }
        DirState::Lock(LockState::HeldByThisProcess) => text.push_str(" (hollow)"),
        DirState::Error(e) => text.push_str(&format!(" (dotted): {}", escape(&e.to_string()))),
        DirState::Unknown(why) => text.push_str(&format!(" (dotted): {}", escape(why))),
        DirState::Missing | DirState::NotResponding => text.push_str(" (dotted)"),
        DirState::Lock(LockState::Free | LockState::Absent) => {}
    }
    match end {
        Some(end) => text.push_str(&format!(
            "\nfrom {} to {} ({lasted})",
            when(s.start),
            when(end)
        )),
        None => text.push_str(&format!("\nsince {}, still ({lasted})", when(s.start))),
    }
    text
}

/// How one stretch of time is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mark {
    None,
    HeldByOther(Color32),
    HeldByThisApp,
    Unreadable,
    /// A refused attempt: a thin upright tick under a downward triangle.
    Refused,
}

fn mark(state: &DirState) -> Mark {
    match state {
        DirState::Lock(LockState::Held(h)) => Mark::HeldByOther(holder_color(h.pid)),
        DirState::Lock(LockState::HeldByThisProcess) => Mark::HeldByThisApp,
        DirState::Error(_) | DirState::Missing | DirState::NotResponding | DirState::Unknown(_) => {
            Mark::Unreadable
        }
        DirState::Lock(LockState::Free | LockState::Absent) => Mark::None,
    }
}

fn baseline(painter: &Painter, rect: Rect, color: Color32) {
    let mid = rect.center().y;
    painter.line_segment(
        [egui::pos2(rect.left(), mid), egui::pos2(rect.right(), mid)],
        (1.0, color.gamma_multiply(0.6)),
    );
}

fn paint_mark(painter: &Painter, visuals: &egui::Visuals, bar: Rect, mark: Mark) {
    match mark {
        Mark::None => {}
        Mark::HeldByOther(color) => {
            painter.rect_filled(bar, 1.0, color.gamma_multiply(0.25));
            let hatch = painter.with_clip_rect(bar.intersect(painter.clip_rect()));
            let h = bar.height();
            let mut x = bar.left() - h;
            while x < bar.right() {
                hatch.line_segment(
                    [egui::pos2(x, bar.bottom()), egui::pos2(x + h, bar.top())],
                    (1.5, color),
                );
                x += 5.0;
            }
            painter.rect_stroke(bar, 1.0, Stroke::new(1.0, color), egui::StrokeKind::Inside);
        }
        Mark::HeldByThisApp => {
            let stroke = Stroke::new(2.0, visuals.strong_text_color());
            painter.rect_stroke(
                bar.shrink2(egui::vec2(0.0, 1.0)),
                1.0,
                stroke,
                egui::StrokeKind::Inside,
            );
        }
        Mark::Refused => {
            let color = visuals.strong_text_color();
            let x = bar.center().x;
            painter.line_segment(
                [egui::pos2(x, bar.top()), egui::pos2(x, bar.bottom())],
                (1.0, color),
            );
            let top = bar.top();
            painter.add(egui::Shape::convex_polygon(
                vec![
                    egui::pos2(x - 3.0, top),
                    egui::pos2(x + 3.0, top),
                    egui::pos2(x, top + 4.0),
                ],
                color,
                Stroke::NONE,
            ));
        }
        Mark::Unreadable => {
            let color = visuals.strong_text_color();
            let mut x = bar.left() + 1.5;
            while x < bar.right() {
                painter.circle_filled(egui::pos2(x, bar.center().y), 1.5, color);
                x += 5.0;
            }
        }
    }
}

/// A stable colour per holder pid, so one process's bars look alike across rows; from a palette
/// of hues none of the state badges uses (teal, olive, slate, brown, sky grey, khaki).
fn holder_color(pid: Option<u32>) -> Color32 {
    const PALETTE: [Color32; 6] = [
        Color32::from_rgb(0, 150, 140),
        Color32::from_rgb(140, 140, 30),
        Color32::from_rgb(90, 110, 130),
        Color32::from_rgb(140, 95, 60),
        Color32::from_rgb(110, 150, 160),
        Color32::from_rgb(170, 160, 100),
    ];
    let Some(pid) = pid else {
        return PALETTE[0];
    };
    PALETTE[(pid.wrapping_mul(2_654_435_761) >> 16) as usize % PALETTE.len()]
}

/// The strip's x axis: `span` ending at `end` over `rect`'s width.
struct Scale {
    start: SystemTime,
    span: Duration,
    left: f32,
    width: f32,
}

impl Scale {
    fn new(rect: Rect, end: SystemTime, span: Duration) -> Scale {
        Scale {
            start: end.checked_sub(span).unwrap_or(SystemTime::UNIX_EPOCH),
            span,
            left: rect.left(),
            width: rect.width(),
        }
    }

    fn x_of(&self, t: SystemTime) -> f32 {
        let secs = t
            .duration_since(self.start)
            .unwrap_or_default()
            .as_secs_f32();
        self.left + self.width * (secs / self.span.as_secs_f32()).clamp(0.0, 1.0)
    }

    fn time_at(&self, x: f32) -> SystemTime {
        let f = ((x - self.left) / self.width.max(1.0)).clamp(0.0, 1.0);
        self.start + self.span.mul_f32(f)
    }
}

fn to_timestamp(t: SystemTime) -> Timestamp {
    Timestamp::try_from(t).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The axis's ticks from `start` over `span`: the smallest step of [`TICK_STEPS`] leaving at
/// least [`TICK_SPACING`] pixels between ticks, at round local times (04:10, 04:15, ...).
fn ticks(zone: &TimeZone, start: SystemTime, span: Duration, width: f32) -> (u64, Vec<SystemTime>) {
    let fits = (width / TICK_SPACING).max(1.0);
    let step = TICK_STEPS
        .into_iter()
        .find(|&step| span.as_secs_f32() / step as f32 <= fits)
        .unwrap_or(86400);
    let start_ts = to_timestamp(start);
    let offset = i64::from(zone.to_offset(start_ts).seconds());
    let local = start_ts.as_second() + offset;
    let first = local.div_euclid(step as i64) * step as i64 + step as i64;
    let mut out = Vec::new();
    let mut t = first - offset;
    let end = start_ts.as_second() + span.as_secs() as i64;
    while t <= end {
        if let Ok(ts) = Timestamp::from_second(t) {
            out.push(SystemTime::from(ts));
        }
        t += step as i64;
    }
    (step, out)
}

/// "04:10", "04:10:30" when the ticks are less than a minute apart, the day ("Tue 8") at
/// midnight when they are hours apart.
fn tick_label(zone: &TimeZone, t: SystemTime, step: u64) -> String {
    let zoned = to_timestamp(t).to_zoned(zone.clone());
    let midnight = zoned.hour() == 0 && zoned.minute() == 0;
    let format = if step < 60 {
        "%H:%M:%S"
    } else if step >= 3600 && midnight {
        "%a %-d"
    } else {
        "%H:%M"
    };
    zoned.strftime(format).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holder::Holder;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn ticks_fall_on_round_local_times_and_fit_the_width() {
        let zone = TimeZone::fixed(jiff::tz::offset(1));
        // 5 minutes over 150 px: two minutes apart at most three ticks.
        let (step, ticks) = ticks(&zone, at(1_000_000), Duration::from_secs(300), 150.0);
        assert_eq!(step, 120);
        assert!(!ticks.is_empty() && ticks.len() <= 3, "{ticks:?}");
        for t in &ticks {
            let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
            assert_eq!((secs + 3600) % 120, 0);
            assert!(*t > at(1_000_000) && *t <= at(1_000_300));
        }
        assert_eq!(tick_label(&zone, at(3 * 3600 + 600), 120), "04:10");
        assert_eq!(tick_label(&zone, at(3 * 3600 + 630), 30), "04:10:30");
    }

    #[test]
    fn the_hover_names_the_state_its_holder_and_its_times() {
        let mut history = VecDeque::new();
        let now = SystemTime::now();
        history.push_back(Span {
            start: now - Duration::from_secs(100),
            state: DirState::Lock(LockState::Absent),
        });
        history.push_back(Span {
            start: now - Duration::from_secs(60),
            state: DirState::Lock(LockState::Held(Holder {
                pid: Some(42),
                command: Some("certbot\x1b[31m renew".into()),
            })),
        });
        let text = describe_at(&history, now - Duration::from_secs(30), now);
        assert!(text.starts_with("Held by another process"), "{text}");
        assert!(
            text.contains("holder: pid 42: certbot\\e[31m renew"),
            "escaped: {text}"
        );
        assert!(
            text.contains("since ") && text.contains("still (1 min)"),
            "{text}"
        );
        let text = describe_at(&history, now - Duration::from_secs(90), now);
        assert!(text.starts_with("Absent\nfrom "), "{text}");
        assert!(text.ends_with("(40 s)"), "{text}");
        assert!(describe_at(&history, now - Duration::from_secs(200), now).starts_with("nothing"));
    }

    #[test]
    fn spans_read_and_write_as_people_do() {
        assert_eq!(span_text(5), "5 min");
        assert_eq!(span_text(90), "1 h 30 min");
        assert_eq!(span_text(1440), "1 d");
        assert_eq!(span_text(MAX_MINUTES), "7 d");
        assert_eq!(parse_span("45"), Some(45.0));
        assert_eq!(parse_span("6 h"), Some(360.0));
        assert_eq!(parse_span("1 d"), Some(1440.0));
        assert_eq!(parse_span("1 h 30 min"), Some(90.0));
        assert_eq!(parse_span("soon"), None);
        assert_eq!(span_of(0), Duration::from_secs(60), "at least a minute");
        assert_eq!(span_of(u32::MAX), Duration::from_secs(7 * 86_400));
    }

    #[test]
    fn panning_stops_at_now() {
        let now = at(100_000);
        assert_eq!(pan(at(90_000), -600.0, now), Some(at(89_400)));
        assert_eq!(pan(at(90_000), 600.0, now), Some(at(90_600)));
        assert_eq!(pan(at(99_900), 600.0, now), None, "past now: live again");
    }

    #[test]
    fn day_ticks_name_the_day_at_midnight() {
        let zone = TimeZone::fixed(jiff::tz::offset(0));
        // 2026-12-08 00:00 UTC is a Tuesday.
        let midnight = SystemTime::from(Timestamp::from_second(1_796_688_000).unwrap());
        assert_eq!(tick_label(&zone, midnight, 21_600), "Tue 8");
        assert_eq!(
            tick_label(&zone, midnight + Duration::from_secs(6 * 3600), 21_600),
            "06:00"
        );
        let (step, ticks) = ticks(&zone, midnight, Duration::from_secs(86_400), 170.0);
        assert!(step >= 21_600, "{step}");
        assert!(ticks.len() <= 4, "{ticks:?}");
    }

    fn recorded_hold(pid: u32, start: u64, end: Option<u64>) -> Hold {
        Hold {
            dir: "/etc/letsencrypt".into(),
            pid: Some(pid),
            command: Some("certbot\x1b]0;owned\x07 renew".into()),
            user: Some("root".into()),
            start: to_timestamp(at(start)),
            start_seen: true,
            end: end.map(|e| to_timestamp(at(e))),
            ended_by: end.map(|_| crate::history::EndedBy::Released),
            source: crate::history::Source::Kernel,
        }
    }

    #[test]
    fn the_recorders_holds_and_refusals_are_named_on_hover() {
        let now = at(2_000_000);
        let holds = [
            recorded_hold(812, 1_000_000, Some(1_000_030)),
            recorded_hold(955, 1_500_000, None),
        ];
        let text = describe_recorded(&holds, at(1_000_010), now);
        assert!(
            text.starts_with("Held (the flight recorder's history)"),
            "{text}"
        );
        assert!(
            text.contains("pid 812 (root): certbot\\e]0;owned\\a renew"),
            "escaped: {text}"
        );
        assert!(text.contains("(30 s, released)"), "{text}");
        assert!(describe_recorded(&holds, at(1_200_000), now).starts_with("Not held"));
        assert!(describe_recorded(&holds, at(1_600_000), now).contains("still"));
        let refused = Refused {
            dir: "/etc/letsencrypt".into(),
            pid: Some(956),
            command: Some("certbot -q renew\n".into()),
            user: None,
            time: to_timestamp(at(1_500_100)),
            holder_pid: Some(955),
            source: crate::history::Source::Kernel,
        };
        let text = describe_refused(&refused, now);
        assert!(text.starts_with("Refused at "), "{text}");
        assert!(
            text.contains("pid 956: certbot -q renew\\n"),
            "escaped: {text}"
        );
        assert!(text.contains("while pid 955 held the lock"), "{text}");
    }

    #[test]
    fn marks_are_not_badge_colours() {
        use super::super::style::badge_color;
        let states = [
            DirState::Lock(LockState::Held(Holder::unknown())),
            DirState::Lock(LockState::HeldByThisProcess),
            DirState::Lock(LockState::Free),
            DirState::Lock(LockState::Absent),
            DirState::Missing,
            DirState::NotResponding,
        ];
        for pid in 0..100 {
            let c = holder_color(Some(pid));
            for s in &states {
                assert_ne!(c, badge_color(s));
            }
        }
    }
}
