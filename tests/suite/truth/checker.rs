//! The oracle's checker: pure functions from a recorded run (the ground truth the driver knows,
//! and what lockscope reported) to property checks and violations. No I/O, no clock: a history
//! built by hand is checked the same way as a recorded one (see the unit tests below).
//!
//! Times are seconds since the Unix epoch (CLOCK_REALTIME), as f64: the certbot peer prints
//! `time.time()`, `watch --json` prints its `time` key (RFC 3339, milliseconds) and the driver
//! stamps everything else with `SystemTime::now()`.

use std::collections::BTreeMap;

pub type T = f64;

/// The precision of `watch --json`'s `time` key (milliseconds), with a margin.
const TIME_GRAIN: T = 0.002;

/// A closed time interval `[from, to]`; empty when `to < from`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub from: T,
    pub to: T,
}

impl Span {
    pub fn new(from: T, to: T) -> Span {
        Span { from, to }
    }
    pub fn is_empty(&self) -> bool {
        self.to < self.from
    }
    pub fn intersect(&self, o: &Span) -> Span {
        Span::new(self.from.max(o.from), self.to.min(o.to))
    }
}

/// `a ∩ b` for two lists of spans.
pub fn intersect_all(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let z = x.intersect(y);
            if !z.is_empty() {
                out.push(z);
            }
        }
    }
    out
}

/// A value that changes at instants known only within a window (the driver's operation ran
/// from `window.from` to `window.to`): which directory a path names, which file a directory's
/// lock path names.
#[derive(Clone, Debug, Default)]
pub struct Steps {
    pub initial: usize,
    /// (window, new value), in time order.
    pub changes: Vec<(Span, usize)>,
}

impl Steps {
    /// Where the value is certainly `v` (between the end of a change to `v` and the start of
    /// the next change).
    pub fn certain(&self, v: usize) -> Vec<Span> {
        self.segments(v, true)
    }
    /// Where the value may be `v` (from the start of a change to `v` to the end of the next).
    pub fn possible(&self, v: usize) -> Vec<Span> {
        self.segments(v, false)
    }
    fn segments(&self, v: usize, certain: bool) -> Vec<Span> {
        let mut out = Vec::new();
        let mut value = self.initial;
        let mut since = T::NEG_INFINITY; // start of the current value's segment
        for (w, next) in &self.changes {
            if value == v {
                out.push(if certain {
                    Span::new(since, w.from)
                } else {
                    Span::new(since, w.to)
                });
            }
            value = *next;
            since = if certain { w.to } else { w.from };
        }
        if value == v {
            out.push(Span::new(since, T::INFINITY));
        }
        out.retain(|s| !s.is_empty());
        out
    }
    /// The value at `t`, or None inside a change window.
    pub fn at(&self, t: T) -> Option<usize> {
        let mut value = self.initial;
        for (w, next) in &self.changes {
            if t < w.from {
                return Some(value);
            }
            if t <= w.to {
                return None;
            }
            value = *next;
        }
        Some(value)
    }
}

/// One process's lock on one watched path, as the driver knows it.
#[derive(Clone, Debug)]
pub struct Holding {
    pub slot: usize,
    pub pid: u32,
    /// What it was, for messages: "certbot", "hold", "burst hold", "certbot loop".
    pub what: String,
    /// Where it may have held the lock the path names (a superset of the truth).
    pub possible: Vec<Span>,
    /// Where it certainly held it (a subset of the truth; empty when not known precisely).
    pub certain: Vec<Span>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `watch --json` line: its state holds until the source's next line for that slot.
    Watch,
    /// A `status --json` row: one probe somewhere in `[at, until]`.
    Status,
}

/// One thing lockscope said about one path.
#[derive(Clone, Debug)]
pub struct Report {
    /// "watch-root", "watch-unprivileged", "status-root", "status-unprivileged".
    pub source: String,
    pub kind: Kind,
    pub slot: usize,
    pub at: T,
    /// Status: when the command returned (`at` is when it started).
    pub until: T,
    pub state: String,
    pub pid: Option<u32>,
    /// The raw line, for messages.
    pub line: String,
}

impl Report {
    /// An explicit "cannot tell": `error` (permission, cannot tell) or `unknown`.
    pub fn cannot_tell(&self) -> bool {
        self.state == "error" || self.state == "unknown"
    }
}

/// The truth at the end (after the settle time with no operation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalTruth {
    pub state: String,
    pub pid: Option<u32>,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub slots: Vec<String>,
    pub holdings: Vec<Holding>,
    pub reports: Vec<Report>,
    /// When each watch source stopped being read (its last state lasts until then).
    pub watch_end: BTreeMap<String, T>,
    /// Windows in which a slot's filesystem was not healthy (its FUSE daemon stopped).
    pub unhealthy: Vec<(usize, Span)>,
    /// Per slot: the truth after the run had quiesced, and the instant it was taken.
    pub final_truth: Vec<FinalTruth>,
    pub final_at: T,
    /// The run's start (messages give instants relative to it).
    pub t0: T,
    /// Crashes found by the driver (a panic on a watcher's stderr, a bad exit).
    pub crashes: Vec<String>,
    /// Sources whose rows are `unprivileged` (they may say "cannot tell" where root cannot).
    pub unprivileged: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// How late a report may be (and how early a holder's report of its own take may be).
    pub tol: T,
    /// Settle time: how long a change may go unreported.
    pub settle: T,
}

#[derive(Clone, Debug)]
pub struct Violation {
    pub property: usize,
    pub source: String,
    pub slot: usize,
    pub at: T,
    pub msg: String,
}

#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Checks made per property (index 1..=4).
    pub checks: [u64; 5],
    pub violations: Vec<Violation>,
    /// Explicit "cannot tell" answers (not violations of 1-2), per source.
    pub cannot_tell: BTreeMap<String, u64>,
}

impl Outcome {
    pub fn violations_of(&self, p: usize) -> usize {
        self.violations.iter().filter(|v| v.property == p).count()
    }
}

/// A watch's state over time for one slot: (from, to, report).
fn segments<'a>(h: &'a History, source: &str, slot: usize) -> Vec<(T, T, &'a Report)> {
    let rows: Vec<&Report> = h
        .reports
        .iter()
        .filter(|r| r.kind == Kind::Watch && r.source == source && r.slot == slot)
        .collect();
    let end = h.watch_end.get(source).copied().unwrap_or(h.final_at);
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let to = rows.get(i + 1).map_or(end, |n| n.at);
            (r.at, to, *r)
        })
        .collect()
}

fn is_absence(state: &str) -> bool {
    matches!(state, "free" | "absent" | "missing")
}

/// Checks the four properties over a recorded run.
pub fn check(h: &History, p: Params) -> Outcome {
    let mut o = Outcome::default();
    let violate = |o: &mut Outcome, property, r: &Report, msg: String| {
        o.violations.push(Violation {
            property,
            source: r.source.clone(),
            slot: r.slot,
            at: r.at,
            msg,
        })
    };
    let watch_sources: Vec<String> = {
        let mut s: Vec<String> = h
            .reports
            .iter()
            .filter(|r| r.kind == Kind::Watch)
            .map(|r| r.source.clone())
            .collect();
        s.sort();
        s.dedup();
        s
    };
    for r in &h.reports {
        if r.cannot_tell() {
            *o.cannot_tell.entry(r.source.clone()).or_default() += 1;
        }
    }

    // Property 1: every `held` names a process that held the lock at that moment.
    for r in h.reports.iter().filter(|r| r.state == "held") {
        o.checks[1] += 1;
        let window = Span::new(r.at - p.tol, r.until + p.tol);
        let ok = h.holdings.iter().any(|x| {
            x.slot == r.slot
                && r.pid.is_none_or(|pid| pid == x.pid)
                && x.possible.iter().any(|s| !s.intersect(&window).is_empty())
        });
        if !ok {
            let who = match r.pid {
                Some(pid) => format!("pid {pid}, which did not hold it then"),
                None => "an unknown holder, while nobody held it".to_string(),
            };
            // The slot's holders around that moment, for whoever reads the failure.
            let near: Vec<String> = h
                .holdings
                .iter()
                .filter(|x| x.slot == r.slot || Some(x.pid) == r.pid)
                .filter(|x| {
                    x.possible
                        .iter()
                        .any(|s| s.to > r.at - 2.0 && s.from < r.until + 2.0)
                })
                .map(|x| {
                    let spans: Vec<String> = x
                        .possible
                        .iter()
                        .map(|s| format!("+{:.3}..+{:.3}", s.from - h.t0, s.to - h.t0))
                        .collect();
                    format!("{} {} (slot {}) {}", x.what, x.pid, x.slot, spans.join(","))
                })
                .collect();
            violate(
                &mut o,
                1,
                r,
                format!(
                    "reported held by {who}: {} [holders near then: {}]",
                    r.line,
                    near.join("; ")
                ),
            );
        }
    }
    // ... and a watch does not keep naming a holder more than the settle time after it let go.
    for src in &watch_sources {
        for slot in 0..h.slots.len() {
            for (from, to, r) in segments(h, src, slot) {
                let Some(pid) = r.pid.filter(|_| r.state == "held") else {
                    continue;
                };
                o.checks[1] += 1;
                // Every stretch of [from, to] in which pid cannot have held the lock (the path
                // may name another file for a while, then this one again) must be shorter than
                // the settle time: a watch may lag that long, no longer.
                let mut spans: Vec<Span> = h
                    .holdings
                    .iter()
                    .filter(|x| x.slot == slot && x.pid == pid)
                    .flat_map(|x| x.possible.iter())
                    .map(|s| Span::new(s.from - p.tol, s.to + p.tol))
                    .collect();
                spans.sort_by(|a, b| a.from.total_cmp(&b.from));
                let mut covered_to = from;
                let mut stale = None;
                for s in &spans {
                    if s.to < covered_to {
                        continue;
                    }
                    if s.from > covered_to {
                        let gap_end = s.from.min(to);
                        if gap_end - covered_to > p.settle {
                            stale = Some((covered_to, gap_end));
                            break;
                        }
                    }
                    covered_to = covered_to.max(s.to);
                    if covered_to >= to {
                        break;
                    }
                }
                if stale.is_none() && covered_to < to && to - covered_to > p.settle {
                    stale = Some((covered_to, to));
                }
                if let Some((gap_from, gap_to)) = stale {
                    violate(
                        &mut o,
                        1,
                        r,
                        format!(
                            "still showed pid {pid} held {:.2} s after it stopped holding \
                             (settle {:.1} s): {}",
                            gap_to - gap_from,
                            p.settle,
                            r.line
                        ),
                    );
                }
            }
        }
    }

    // Property 2: no free/absent/missing while one holder held it for longer than the settle
    // time (watch), or through the whole probe (status).
    for src in &watch_sources {
        for slot in 0..h.slots.len() {
            for (from, to, r) in segments(h, src, slot) {
                if !is_absence(&r.state) {
                    continue;
                }
                o.checks[2] += 1;
                let bad = h.holdings.iter().filter(|x| x.slot == slot).find_map(|x| {
                    x.certain.iter().find_map(|s| {
                        let lo = from.max(s.from + p.settle);
                        // `watch --json`'s `time` has millisecond precision: a line can look up
                        // to a millisecond older than the release it follows.
                        let hi = to.min(s.to - TIME_GRAIN);
                        (lo < hi).then_some((x, *s, lo))
                    })
                });
                if let Some((x, s, when)) = bad {
                    violate(
                        &mut o,
                        2,
                        r,
                        format!(
                            "showed {} at +{:.3} while {} pid {} had held it for {:.2} s \
                             (and held it {:.2} s longer): {}",
                            r.state,
                            when - h.t0,
                            x.what,
                            x.pid,
                            when - s.from,
                            s.to - when,
                            r.line
                        ),
                    );
                }
            }
        }
    }
    for r in h.reports.iter().filter(|r| r.kind == Kind::Status) {
        if !is_absence(&r.state) {
            continue;
        }
        o.checks[2] += 1;
        let bad = h.holdings.iter().find(|x| {
            x.slot == r.slot
                && x.certain
                    .iter()
                    .any(|s| s.from <= r.at - p.tol && r.until + p.tol <= s.to)
        });
        if let Some(x) = bad {
            violate(
                &mut o,
                2,
                r,
                format!(
                    "said {} while {} pid {} held it through the whole probe: {}",
                    r.state, x.what, x.pid, r.line
                ),
            );
        }
    }

    // Property 3: after the settle time with no operation, every row equals the truth.
    for slot in 0..h.slots.len() {
        let Some(truth) = h.final_truth.get(slot) else {
            continue;
        };
        let mut finals: Vec<&Report> = Vec::new();
        for src in &watch_sources {
            if let Some(last) = h
                .reports
                .iter()
                .rfind(|r| &r.source == src && r.slot == slot && r.at <= h.final_at)
            {
                finals.push(last);
            }
        }
        finals.extend(
            h.reports
                .iter()
                .filter(|r| r.kind == Kind::Status && r.slot == slot && r.at >= h.final_at),
        );
        for r in finals {
            o.checks[3] += 1;
            let unprivileged = h.unprivileged.contains(&r.source);
            let same_state = r.state == truth.state;
            let same_pid = r.pid == truth.pid || (unprivileged && r.pid.is_none());
            if same_state && same_pid {
                continue;
            }
            if unprivileged && r.cannot_tell() {
                continue; // counted above
            }
            violate(
                &mut o,
                3,
                r,
                format!(
                    "final state {} pid {:?}, truth {} pid {:?}: {}",
                    r.state, r.pid, truth.state, truth.pid, r.line
                ),
            );
        }
    }

    // Property 4: no crash; no row stuck not-responding on a healthy filesystem.
    for c in &h.crashes {
        o.checks[4] += 1;
        o.violations.push(Violation {
            property: 4,
            source: "driver".into(),
            slot: 0,
            at: h.final_at,
            msg: c.clone(),
        });
    }
    o.checks[4] += 1; // the crash check itself
    for src in &watch_sources {
        for slot in 0..h.slots.len() {
            for (from, to, r) in segments(h, src, slot) {
                if r.state != "not-responding" {
                    continue;
                }
                o.checks[4] += 1;
                // Instants in [from + settle, to) at which the filesystem had been healthy for
                // the whole settle time before.
                let mut left = vec![Span::new(from + p.settle, to)];
                for (s, u) in &h.unhealthy {
                    if *s != slot {
                        continue;
                    }
                    let cut = Span::new(u.from, u.to + p.settle);
                    left = left
                        .iter()
                        .flat_map(|x| {
                            [
                                Span::new(x.from, x.to.min(cut.from)),
                                Span::new(x.from.max(cut.to), x.to),
                            ]
                        })
                        .filter(|x| x.to > x.from)
                        .collect();
                }
                if let Some(x) = left.iter().find(|x| x.to > x.from) {
                    violate(
                        &mut o,
                        4,
                        r,
                        format!(
                            "not-responding for {:.2} s on a healthy filesystem (healthy from \
                             +{:.2} s): {}",
                            to - from,
                            x.from - p.settle - from,
                            r.line
                        ),
                    );
                }
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Params = Params {
        tol: 0.15,
        settle: 2.5,
    };

    fn watch(slot: usize, at: T, state: &str, pid: Option<u32>) -> Report {
        Report {
            source: "watch-root".into(),
            kind: Kind::Watch,
            slot,
            at,
            until: at,
            state: state.into(),
            pid,
            line: format!("{state} {pid:?} at {at}"),
        }
    }

    fn status(slot: usize, at: T, state: &str, pid: Option<u32>) -> Report {
        Report {
            source: "status-unprivileged".into(),
            kind: Kind::Status,
            until: at + 0.05,
            ..watch(slot, at, state, pid)
        }
    }

    fn holding(pid: u32, from: T, to: T) -> Holding {
        Holding {
            slot: 0,
            pid,
            what: "certbot".into(),
            possible: vec![Span::new(from - 0.01, to + 0.01)],
            certain: vec![Span::new(from, to)],
        }
    }

    /// A clean history: absent, held by 7 from 10 to 20, absent; a status inside.
    fn clean() -> History {
        History {
            slots: vec!["/d".into()],
            holdings: vec![holding(7, 10.0, 20.0)],
            reports: vec![
                watch(0, 0.0, "absent", None),
                watch(0, 10.3, "held", Some(7)),
                watch(0, 20.4, "absent", None),
                status(0, 15.0, "held", Some(7)),
                status(0, 31.0, "absent", None),
            ],
            watch_end: BTreeMap::from([("watch-root".into(), 31.0)]),
            final_truth: vec![FinalTruth {
                state: "absent".into(),
                pid: None,
            }],
            final_at: 30.0,
            unprivileged: vec!["status-unprivileged".into()],
            ..History::default()
        }
    }

    #[test]
    fn a_clean_history_passes() {
        let o = check(&clean(), P);
        assert!(o.violations.is_empty(), "{:?}", o.violations);
        assert!(o.checks[1] >= 2 && o.checks[2] >= 2 && o.checks[3] == 2);
    }

    #[test]
    fn a_held_naming_an_exited_holder_is_property_1() {
        // Item 1: the next holder (8) takes over at 20.1; the watch names 7 again.
        let mut h = clean();
        h.holdings.push(holding(8, 20.1, 21.0));
        h.reports[2] = watch(0, 20.5, "held", Some(7));
        h.reports.push(watch(0, 21.2, "absent", None));
        let o = check(&h, P);
        assert_eq!(o.violations_of(1), 1, "{:?}", o.violations);
        assert_eq!(o.violations_of(2), 0, "{:?}", o.violations);
    }

    #[test]
    fn a_held_line_kept_after_the_release_is_property_1() {
        let mut h = clean();
        h.reports[2] = watch(0, 24.0, "absent", None); // 4 s late
        let o = check(&h, P);
        assert_eq!(o.violations_of(1), 1, "{:?}", o.violations);
    }

    #[test]
    fn a_short_time_on_another_file_does_not_end_a_held_line() {
        // The path names another directory from 14.0 to 14.2 (a symlinked parent re-pointed
        // away and back): holder 7 holds this path's file before and after. A watch that kept
        // showing 7 held is within the settle time; one more than settle late is not.
        let mut h = clean();
        h.holdings[0].possible = vec![Span::new(9.99, 14.0), Span::new(14.2, 20.01)];
        assert!(
            check(&h, P).violations.is_empty(),
            "{:?}",
            check(&h, P).violations
        );
        h.holdings[0].possible = vec![Span::new(9.99, 14.0), Span::new(17.0, 20.01)];
        h.reports[3] = status(0, 18.0, "held", Some(7)); // not in the gap itself
        assert_eq!(
            check(&h, P).violations_of(1),
            1,
            "{:?}",
            check(&h, P).violations
        );
    }

    #[test]
    fn absent_during_a_long_hold_is_property_2() {
        // Item 3/4: the watch never sees the hold.
        let mut h = clean();
        h.reports.remove(2);
        h.reports.remove(1);
        let o = check(&h, P);
        assert_eq!(o.violations_of(2), 1, "{:?}", o.violations);
        // A short blind spot (within the settle time) is not a violation.
        let mut h = clean();
        h.reports[1] = watch(0, 12.0, "held", Some(7));
        assert!(check(&h, P).violations.is_empty());
    }

    #[test]
    fn free_from_status_while_held_is_property_2_but_error_is_counted() {
        let mut h = clean();
        h.reports[3] = status(0, 15.0, "free", None);
        let o = check(&h, P);
        assert_eq!(o.violations_of(2), 1, "{:?}", o.violations);
        let mut h = clean();
        h.reports[3] = status(0, 15.0, "error", None);
        let o = check(&h, P);
        assert!(o.violations.is_empty(), "{:?}", o.violations);
        assert_eq!(o.cannot_tell["status-unprivileged"], 1);
    }

    #[test]
    fn a_wrong_final_state_is_property_3() {
        let mut h = clean();
        h.final_truth[0] = FinalTruth {
            state: "free".into(),
            pid: None,
        };
        let o = check(&h, P);
        assert_eq!(o.violations_of(3), 2, "{:?}", o.violations);
    }

    #[test]
    fn stuck_not_responding_and_crashes_are_property_4() {
        let mut h = clean();
        h.reports.insert(3, watch(0, 22.0, "not-responding", None));
        let o = check(&h, P);
        assert_eq!(o.violations_of(4), 1, "{:?}", o.violations);
        // While the daemon is stopped (and for the settle time after) it is expected.
        h.unhealthy.push((0, Span::new(21.9, 29.0)));
        assert_eq!(check(&h, P).violations_of(4), 0);
        h.crashes
            .push("watch-root: panicked at src/monitor/fs_pool.rs".into());
        assert_eq!(check(&h, P).violations_of(4), 1);
    }

    #[test]
    fn steps_give_certain_and_possible_spans() {
        let s = Steps {
            initial: 0,
            changes: vec![(Span::new(10.0, 11.0), 1), (Span::new(20.0, 20.5), 0)],
        };
        assert_eq!(
            s.certain(0),
            vec![
                Span::new(T::NEG_INFINITY, 10.0),
                Span::new(20.5, T::INFINITY)
            ]
        );
        assert_eq!(s.possible(1), vec![Span::new(10.0, 20.5)]);
        assert_eq!(s.at(10.5), None);
        assert_eq!(s.at(15.0), Some(1));
        assert_eq!(
            intersect_all(&s.certain(1), &[Span::new(0.0, 12.0)]),
            vec![Span::new(11.0, 12.0)]
        );
    }
}
