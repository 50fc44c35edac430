//! The timeline column: each row's last minutes as a strip over a time axis in local time.
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
const TICK_STEPS: [u64; 10] = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

/// The header's height when the timeline is shown: its title line and the axis.
pub const HEADER_HEIGHT: f32 = ROW_HEIGHT + AXIS_HEIGHT;

/// The column header: its title (the legend on hover), the span (edited in place, kept across
/// restarts), and the time axis with the local zone's abbreviation once.
pub fn header(ui: &mut Ui, minutes: &mut u32, now: SystemTime) {
    let span = Duration::from_secs(u64::from(*minutes) * 60);
    ui.vertical(|ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        ui.horizontal(|ui| {
            ui.strong("Timeline").on_hover_ui(legend);
            ui.add(egui::DragValue::new(minutes).range(1..=60).suffix(" min"));
            // The zone once, on the title line: the axis below keeps its width for ticks.
            let zone_name = to_timestamp(now)
                .to_zoned(TimeStyle::Resolved.zone())
                .strftime("%Z")
                .to_string();
            ui.label(egui::RichText::new(zone_name).small().weak())
                .on_hover_text("the axis is in local time");
        });
        axis(ui, now, span);
    });
}

/// Tick labels ("04:10") under the header, aligned with the strips' tick marks.
fn axis(ui: &mut Ui, now: SystemTime, span: Duration) {
    let size = egui::vec2(ui.available_width(), AXIS_HEIGHT);
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let zone = TimeStyle::Resolved.zone();
    let scale = Scale::new(rect, now, span);
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
}

/// The legend (the header title's hover): what each mark means.
fn legend(ui: &mut Ui) {
    ui.label("The last minutes of each directory, oldest at the left:");
    let rows: [(&str, Mark); 4] = [
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
    ui.label("Hover a mark for its holder and times.");
}

/// A thin strip of the last `span` (`now` at its right edge) with the axis's tick marks; hovering
/// it says the state at the pointer, its holder and when that state began and ended.
pub fn strip(ui: &mut Ui, history: &VecDeque<Span>, now: SystemTime, span: Duration) {
    let size = egui::vec2(ui.available_width(), ROW_HEIGHT - 8.0);
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "timeline"));
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    let scale = Scale::new(rect, now, span);
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
    for (i, s) in history.iter().enumerate() {
        let end = history.get(i + 1).map_or(now, |n| n.start);
        if end < scale.start {
            continue;
        }
        let (x0, x1) = (
            scale.x_of(s.start),
            scale.x_of(end).max(scale.x_of(s.start) + 2.0),
        );
        let bar = Rect::from_x_y_ranges(x0..=x1, rect.y_range());
        paint_mark(&painter, visuals, bar, mark(&s.state));
    }
    if let Some(pos) = response.hover_pos() {
        let at = scale.time_at(pos.x);
        let text = describe_at(history, at, now);
        response.on_hover_text_at_pointer(text);
    }
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

/// The strip's x axis: `span` ending at `now` over `rect`'s width.
struct Scale {
    start: SystemTime,
    span: Duration,
    left: f32,
    width: f32,
}

impl Scale {
    fn new(rect: Rect, now: SystemTime, span: Duration) -> Scale {
        Scale {
            start: now.checked_sub(span).unwrap_or(SystemTime::UNIX_EPOCH),
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
        .unwrap_or(3600);
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

/// "04:10", or "04:10:30" when the ticks are less than a minute apart.
fn tick_label(zone: &TimeZone, t: SystemTime, step: u64) -> String {
    let format = if step < 60 { "%H:%M:%S" } else { "%H:%M" };
    to_timestamp(t)
        .to_zoned(zone.clone())
        .strftime(format)
        .to_string()
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
