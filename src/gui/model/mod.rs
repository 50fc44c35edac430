//! What the window shows, as plain data: rows, selection, sort and filter, the event log and each
//! row's state history (for the timeline). No egui, no filesystem: tested on its own.
//!
//! This file holds the [`Model`] (the rows, and how a monitor change becomes a row's state, its
//! history and a log line); `row` is one row and what follows from it, `order` the table's sort,
//! filter and selection, `labels` how a row is worded (shortened commands, state words).

mod labels;
mod order;
mod row;

pub use labels::{fit_command, fit_dir, state_word};
pub use order::SortKey;
pub use row::{Bound, Fresh, HeldFor, OwnLock, Row, Since, Span};

use crate::diagnose::Diagnosis;
use crate::monitor::{Cause, Change, DirState, LockState};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How many transitions the event log keeps (oldest dropped first).
pub const LOG_CAPACITY: usize = 10_000;
/// How much state history each row keeps for the timeline.
pub const HISTORY_SPAN: Duration = Duration::from_secs(60 * 60);

/// A state the look before a change saw for what it is: a lock state, or no directory. Not
/// the first look, nor a failed or stuck one (the lock may have been held all along).
fn is_definite(state: &DirState) -> bool {
    matches!(state, DirState::Lock(_) | DirState::Missing)
}

/// Whether a change from `old` to `new` saw the lock taken: the look before found it not held
/// (or held by another process). The first look, or one after a failed or stuck look, only
/// finds it held.
fn seen_taken(old: Option<&DirState>, new: &DirState) -> bool {
    let DirState::Lock(new) = new else {
        return false;
    };
    match old {
        _ if !new.is_held() => false,
        Some(DirState::Missing) => true,
        Some(DirState::Lock(old)) if !old.is_held() => true,
        Some(DirState::Lock(LockState::Held(a))) => match new {
            LockState::Held(b) => a.pid.is_some() && b.pid.is_some() && a.pid != b.pid,
            _ => true,
        },
        Some(DirState::Lock(LockState::HeldByThisProcess)) => {
            !matches!(new, LockState::HeldByThisProcess)
        }
        _ => false,
    }
}

/// The change's diagnosis, without an observed held-since the change cannot back: only a
/// look that found the lock not held can have seen it taken (a monitor once took its first
/// look after a stuck one for an observation).
fn trusted_diagnosis(change: &Change) -> Arc<Diagnosis> {
    use crate::diagnose::HeldSinceSource;
    let observed = change
        .diagnosis
        .held_since
        .is_some_and(|h| h.source == HeldSinceSource::Observed);
    let backed = change
        .old
        .as_ref()
        .is_some_and(|old| is_definite(old) && !old.is_held());
    if observed && !backed {
        let mut diagnosis = (*change.diagnosis).clone();
        diagnosis.held_since = None;
        return Arc::new(diagnosis);
    }
    change.diagnosis.clone()
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub at: SystemTime,
    pub dir: PathBuf,
    pub old: Option<DirState>,
    pub new: DirState,
    pub cause: Cause,
    /// What the app did, for entries it logs itself (a release of a row no longer watched).
    pub note: Option<String>,
    /// First looks at several directories in one line (a big import, the start): how many
    /// were found in each state, by [`DirState::name`]. `dir` and `new` are then the first's.
    pub first_looks: Option<std::collections::BTreeMap<&'static str, usize>>,
}

/// First looks this close together share one log line.
const FIRST_LOOKS_TOGETHER: std::time::Duration = std::time::Duration::from_secs(10);

impl LogEntry {
    /// A first look ([`Cause::Initial`]) that names no holder: what a summary line may hold.
    fn plain_first_look(&self) -> bool {
        self.cause == Cause::Initial && self.old.is_none() && self.new.holder().is_none()
    }
}

/// The table's rows and everything derived from them.
#[derive(Debug)]
pub struct Model {
    rows: Vec<Row>,
    index: HashMap<PathBuf, usize>,
    pub log: VecDeque<LogEntry>,
    pub selection: HashSet<PathBuf>,
    sort: (SortKey, bool),
    filter: String,
    /// Row indices in display order; rebuilt when rows, sort or filter change.
    visible: Option<Vec<usize>>,
    /// The pointer is on the table (or a button is down, or a menu is open): a change of state
    /// does not move rows ([`Model::hold_order`]).
    order_held: bool,
    /// A change arrived while the order was held: re-sort once it is let go.
    order_stale: bool,
    /// The row the keyboard moves from (the last clicked or moved to).
    cursor: Option<PathBuf>,
    /// Where a shift-extended selection starts.
    anchor: Option<PathBuf>,
    /// Each remote host's connection, by its name as rows spell it (`web1`).
    pub hosts: BTreeMap<String, crate::remote::ConnectionState>,
    /// The timelines of directories no row shows now (another list is open, or they were
    /// removed), each ending with a "not watched" span: a row for one of them again takes its
    /// timeline back. At most [`PAST_DIRS`] directories.
    past: HashMap<PathBuf, VecDeque<Span>>,
}

/// How many directories' timelines are kept while no row shows them.
const PAST_DIRS: usize = 20_000;

impl Default for Model {
    fn default() -> Self {
        Model {
            rows: Vec::new(),
            index: HashMap::new(),
            log: VecDeque::new(),
            selection: HashSet::new(),
            sort: (SortKey::Dir, true),
            filter: String::new(),
            visible: None,
            order_held: false,
            order_stale: false,
            cursor: None,
            anchor: None,
            hosts: BTreeMap::new(),
            past: HashMap::new(),
        }
    }
}

impl Model {
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn row(&self, dir: &Path) -> Option<&Row> {
        self.index.get(dir).map(|&i| &self.rows[i])
    }

    pub fn row_mut(&mut self, dir: &Path) -> Option<&mut Row> {
        self.index.get(dir).map(|&i| &mut self.rows[i])
    }

    pub fn dirs(&self) -> Vec<PathBuf> {
        self.rows.iter().map(|r| r.dir.clone()).collect()
    }

    /// Adds a row; false if the directory is already shown.
    pub fn add(&mut self, dir: PathBuf) -> bool {
        if self.index.contains_key(&dir) {
            return false;
        }
        self.index.insert(dir.clone(), self.rows.len());
        let mut row = Row::new(dir);
        if let Some(mut history) = self.past.remove(&row.dir) {
            trim_history(&mut history, SystemTime::now());
            row.history = history;
        }
        self.rows.push(row);
        self.visible = None;
        true
    }

    pub fn remove(&mut self, dir: &Path) -> Option<Row> {
        let i = self.index.remove(dir)?;
        let row = self.rows.remove(i);
        self.keep_past(&row);
        for (j, r) in self.rows.iter().enumerate().skip(i) {
            self.index.insert(r.dir.clone(), j);
        }
        self.selection.remove(dir);
        self.visible = None;
        Some(row)
    }

    /// Keeps a removed row's timeline, closed by a span saying it was not watched from now on
    /// (drawn dotted, not as its last state carried on).
    fn keep_past(&mut self, row: &Row) {
        if row.history.is_empty() {
            return;
        }
        if self.past.len() >= PAST_DIRS && !self.past.contains_key(&row.dir) {
            // The one that has been unwatched longest goes.
            let oldest = self
                .past
                .iter()
                .min_by_key(|(_, h)| h.back().map(|s| s.start))
                .map(|(d, _)| d.clone());
            if let Some(oldest) = oldest {
                self.past.remove(&oldest);
            }
        }
        let mut history = row.history.clone();
        history.push_back(Span {
            start: SystemTime::now(),
            state: DirState::Unknown("not watched (not in the open watch list)".into()),
        });
        self.past.insert(row.dir.clone(), history);
    }

    /// Applies a monitor change: row state, history, log.
    pub fn apply(&mut self, change: Change) {
        let Some(row) = self.row_mut(&change.dir) else {
            return; // a change for a row removed meanwhile
        };
        let newly_taken = seen_taken(change.old.as_ref(), &change.new);
        if newly_taken {
            row.taken_seen = Some(change.at);
        } else if !change.new.is_held() {
            row.taken_seen = None;
        }
        let mut cause = change.cause;
        if matches!(cause, Cause::FsEvent | Cause::Poll) && own_doing(row, &change) {
            // The app took or released this lock itself: the monitor may see the file's event
            // before the app's recheck, but the app knows what it did.
            cause = Cause::Action;
        }
        row.diagnosis = trusted_diagnosis(&change);
        row.fresh = None;
        row.state = Some(change.new.clone());
        row.since = Some(change.at);
        row.since_seen_begin = change.old.as_ref().is_some_and(is_definite);
        // A refusal ("held by pid …") stays while the holder it names may still hold the lock
        // (a change to held: often the recheck after the refusal finding it); any other change
        // (the holder gone, a fresh look after new settings) makes it stale.
        if !change.new.is_held() {
            row.refusal = None;
        }
        row.history.push_back(Span {
            start: change.at,
            state: change.new.clone(),
        });
        trim_history(&mut row.history, change.at);
        let entry = LogEntry {
            at: change.at,
            dir: change.dir,
            old: change.old,
            new: change.new,
            cause,
            note: None,
            first_looks: None,
        };
        // First looks at many directories (an import of 2,000) are one line, not 2,000 that
        // bury the real transitions; a first look that finds a holder keeps its own line. The
        // line gathers the first looks since the last real transition.
        let gather = entry.plain_first_look().then(|| {
            self.log
                .iter_mut()
                .rev()
                .take_while(|e| e.cause == Cause::Initial)
                .find(|e| e.plain_first_look())
                .filter(|e| {
                    entry
                        .at
                        .duration_since(e.at)
                        .is_ok_and(|d| d <= FIRST_LOOKS_TOGETHER)
                })
        });
        match gather.flatten() {
            Some(line) => {
                let counts = line
                    .first_looks
                    .get_or_insert_with(|| [(line.new.name(), 1)].into_iter().collect());
                *counts.entry(entry.new.name()).or_default() += 1;
            }
            None => {
                self.log.push_back(entry);
                self.trim_log();
            }
        }
        if matches!(self.sort.0, SortKey::State | SortKey::Pid | SortKey::Since)
            || !self.filter.is_empty()
        {
            if self.order_held {
                self.order_stale = true;
            } else {
                self.visible = None;
            }
        }
    }

    /// While `held` (the pointer is on the table), changes of state do not re-sort or re-filter
    /// the rows: the row under the pointer stays there. Letting go applies what was held back.
    /// Adding or removing rows, and choosing a sort or filter, re-sort at once.
    pub fn hold_order(&mut self, held: bool) {
        self.order_held = held;
        if !held && self.order_stale {
            self.order_stale = false;
            self.visible = None;
        }
    }

    /// An entry the app logs itself, for what it did to a directory the monitor no longer
    /// watches (a release of a removed row): cause "action", with a note saying what happened.
    pub fn log_action(&mut self, dir: PathBuf, old: Option<DirState>, new: DirState, note: String) {
        self.log.push_back(LogEntry {
            at: SystemTime::now(),
            dir,
            old,
            new,
            cause: Cause::Action,
            note: Some(note),
            first_looks: None,
        });
        self.trim_log();
    }

    fn trim_log(&mut self) {
        while self.log.len() > LOG_CAPACITY {
            self.log.pop_front();
        }
    }

    /// A diagnosis the details pane asked for. It also becomes the row's diagnosis (its badge,
    /// HELD FOR) when it found the state the row shows.
    pub fn set_fresh(&mut self, dir: &Path, fresh: Fresh) {
        let Some(row) = self.row_mut(dir) else {
            return;
        };
        if row.state.as_ref() == Some(&fresh.state) {
            row.diagnosis = fresh.diagnosis.clone();
        }
        row.fresh = Some(fresh);
    }

    pub fn any_held(&self) -> bool {
        self.rows.iter().any(Row::is_held)
    }
}

/// A change the app caused: its lock taken (held by this process), or given up after it asked
/// (a release, or a timed hold's end). A lock file removed while held is someone else's doing.
fn own_doing(row: &Row, change: &Change) -> bool {
    let ours = |s: &DirState| matches!(s, DirState::Lock(LockState::HeldByThisProcess));
    if ours(&change.new) {
        return true;
    }
    if !change.old.as_ref().is_some_and(ours) {
        return false;
    }
    match row.own {
        OwnLock::Held { until } => row.release_asked || until.is_some_and(|t| t <= Instant::now()),
        OwnLock::None | OwnLock::Pending => true,
    }
}

fn trim_history(history: &mut VecDeque<Span>, now: SystemTime) {
    // Keep one span that started before the horizon: it covers the horizon's start.
    while history.len() > 1 && history[1].start + HISTORY_SPAN < now {
        history.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holder::Holder;

    fn change(dir: &str, new: DirState, secs: u64) -> Change {
        Change {
            dir: dir.into(),
            lock_file: Path::new(dir).join(".certbot.lock"),
            old: None,
            new,
            diagnosis: Default::default(),
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            cause: Cause::FsEvent,
        }
    }

    fn held(pid: u32, cmd: &str) -> DirState {
        DirState::Lock(LockState::Held(Holder {
            pid: Some(pid),
            command: Some(cmd.into()),
        }))
    }

    #[test]
    fn a_directory_removed_and_added_again_gets_its_timeline_back_with_the_gap_marked() {
        let mut m = Model::default();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        m.add("/a".into());
        m.apply(change("/a", DirState::Lock(LockState::Absent), now - 30));
        m.apply(change("/a", held(7, "certbot renew"), now - 20));
        m.apply(change("/a", DirState::Lock(LockState::Absent), now - 10));
        assert!(m.remove(Path::new("/a")).is_some());
        assert!(m.add("/a".into()));
        let history = &m.row(Path::new("/a")).unwrap().history;
        assert_eq!(history.len(), 4, "{history:?}");
        assert_eq!(history[1].state, held(7, "certbot renew"));
        assert!(
            matches!(&history[3].state, DirState::Unknown(why) if why.starts_with("not watched")),
            "{history:?}"
        );
        assert!(m.add("/b".into()));
        assert!(
            m.row(Path::new("/b")).unwrap().history.is_empty(),
            "only its own"
        );
    }

    #[test]
    fn first_looks_together_are_one_log_line_but_holders_and_changes_are_their_own() {
        let mut m = Model::default();
        let first = |dir: &str, new: DirState, secs: u64| Change {
            cause: Cause::Initial,
            ..change(dir, new, secs)
        };
        for i in 0..2_000 {
            let dir = format!("/d{i}");
            m.add(dir.clone().into());
            let state = if i % 10 == 0 {
                DirState::Lock(LockState::Free)
            } else {
                DirState::Lock(LockState::Absent)
            };
            m.apply(first(&dir, state, 1));
        }
        m.add("/held".into());
        m.apply(first("/held", held(7, "certbot renew"), 2));
        m.add("/after-held".into());
        m.apply(first("/after-held", DirState::Lock(LockState::Absent), 2));
        m.apply(change("/d1", held(8, "certbot certonly"), 3));
        m.add("/later".into());
        m.apply(first("/later", DirState::Lock(LockState::Absent), 60));
        assert_eq!(
            m.log.len(),
            4,
            "{:#?}",
            m.log.iter().map(|e| &e.dir).collect::<Vec<_>>()
        );
        let counts = m.log[0].first_looks.as_ref().expect("a summary");
        assert_eq!(
            counts.get("absent"),
            Some(&1_801),
            "a holder's line between does not split it"
        );
        assert_eq!(counts.get("free"), Some(&200));
        assert_eq!(
            m.log[1].dir,
            Path::new("/held"),
            "a first look at a holder is its own line"
        );
        assert_eq!(m.log[2].dir, Path::new("/d1"));
        assert!(
            m.log[3].first_looks.is_none(),
            "a lone later first look names its directory"
        );
    }

    #[test]
    fn rows_follow_changes_and_log_them() {
        let mut m = Model::default();
        assert!(m.add("/a".into()));
        assert!(!m.add("/a".into()), "no duplicates");
        m.apply(change("/a", DirState::Lock(LockState::Absent), 1));
        m.apply(change("/a", held(7, "certbot renew"), 2));
        let row = m.row(Path::new("/a")).unwrap();
        assert_eq!(row.state, Some(held(7, "certbot renew")));
        assert_eq!(row.history.len(), 2);
        assert_eq!(m.log.len(), 2);
        m.apply(change("/gone", DirState::Lock(LockState::Absent), 3));
        assert_eq!(m.log.len(), 2, "changes for unknown rows are ignored");
    }

    #[test]
    fn sort_filter_and_remove() {
        let mut m = Model::default();
        for d in ["/c", "/a", "/b"] {
            m.add(d.into());
        }
        m.apply(change("/b", held(9, "certbot renew"), 1));
        m.apply(change("/a", DirState::Lock(LockState::Absent), 1));
        m.apply(change("/c", DirState::Lock(LockState::Free), 1));
        let dirs = |m: &mut Model| -> Vec<String> {
            let v = m.visible().to_vec();
            v.iter()
                .map(|&i| m.rows()[i].dir.display().to_string())
                .collect()
        };
        assert_eq!(dirs(&mut m), ["/a", "/b", "/c"]);
        m.sort_by(SortKey::Dir);
        assert_eq!(dirs(&mut m), ["/c", "/b", "/a"], "same key flips");
        m.sort_by(SortKey::State);
        assert_eq!(dirs(&mut m), ["/b", "/c", "/a"], "held first");
        m.set_filter("RENEW");
        assert_eq!(
            dirs(&mut m),
            ["/b"],
            "filter matches the holder's command, any case"
        );
        m.set_filter("free");
        assert_eq!(dirs(&mut m), ["/c"]);
        m.set_filter("");
        m.remove(Path::new("/b"));
        assert_eq!(dirs(&mut m), ["/c", "/a"]);
        assert!(m.row(Path::new("/a")).is_some() && m.row(Path::new("/c")).is_some());
    }

    #[test]
    fn views_read_the_order_refreshed_before_painting() {
        let mut m = Model::default();
        for d in ["/c", "/a", "/b"] {
            m.add(d.into());
        }
        assert!(m.shown().is_empty(), "stale until refreshed");
        m.set_sort(SortKey::Dir, false);
        m.refresh();
        let order: Vec<&str> = m
            .shown()
            .iter()
            .map(|&i| m.rows()[i].dir.to_str().unwrap())
            .collect();
        assert_eq!(order, ["/c", "/b", "/a"]);
        m.click(Path::new("/a"), false, false);
        m.click(Path::new("/c"), true, false);
        m.refresh();
        assert_eq!(
            m.shown_selected(),
            [PathBuf::from("/c"), PathBuf::from("/a")]
        );
        assert_eq!(m.shown_selected(), m.selected_dirs());
    }

    #[test]
    fn click_toggle_and_shift_select() {
        let mut m = Model::default();
        for d in ["/a", "/b", "/c", "/d"] {
            m.add(d.into());
        }
        m.click(Path::new("/b"), false, false);
        m.click(Path::new("/d"), false, true);
        assert_eq!(
            m.selected_dirs(),
            [PathBuf::from("/b"), "/c".into(), "/d".into()]
        );
        m.click(Path::new("/c"), true, false);
        assert_eq!(m.selected_dirs(), [PathBuf::from("/b"), "/d".into()]);
        m.click(Path::new("/a"), false, false);
        assert_eq!(m.selected_dirs(), [PathBuf::from("/a")]);
    }

    #[test]
    fn buttons_are_enabled_only_when_they_can_work() {
        let mut m = Model::default();
        m.add("/a".into());
        assert!(
            !m.row(Path::new("/a")).unwrap().can_acquire(),
            "unknown state"
        );
        m.apply(change("/a", DirState::Lock(LockState::Free), 1));
        assert!(m.row(Path::new("/a")).unwrap().can_acquire());
        m.apply(change("/a", held(3, "x"), 2));
        assert!(!m.row(Path::new("/a")).unwrap().can_acquire());
        m.row_mut(Path::new("/a")).unwrap().own = OwnLock::Held { until: None };
        assert!(m.row(Path::new("/a")).unwrap().can_release());
    }

    #[test]
    fn log_and_history_are_bounded() {
        let mut m = Model::default();
        m.add("/a".into());
        for i in 0..(LOG_CAPACITY as u64 + 50) {
            let state = if i % 2 == 0 {
                DirState::Lock(LockState::Absent)
            } else {
                DirState::Lock(LockState::Free)
            };
            m.apply(change("/a", state, i));
        }
        assert_eq!(m.log.len(), LOG_CAPACITY);
        let history = &m.row(Path::new("/a")).unwrap().history;
        assert!(
            history.len() <= HISTORY_SPAN.as_secs() as usize + 2,
            "{}",
            history.len()
        );
    }

    #[test]
    fn held_for_comes_from_the_diagnosis_else_from_when_the_app_saw_it_taken() {
        use crate::diagnose::{HeldSince, HeldSinceSource};
        let mut m = Model::default();
        m.add("/a".into());
        m.apply(change("/a", held(7, "certbot"), 10));
        let row = m.row(Path::new("/a")).unwrap();
        assert_eq!(
            row.held_for(),
            Some(HeldFor {
                since: SystemTime::UNIX_EPOCH + Duration::from_secs(10),
                bound: Bound::AtLeast
            }),
            "held at the first look, no diagnosis: a lower bound"
        );
        m.apply(change("/a", DirState::Lock(LockState::Absent), 20));
        assert_eq!(m.row(Path::new("/a")).unwrap().held_for(), None);
        m.apply(Change {
            old: Some(DirState::Lock(LockState::Absent)),
            ..change("/a", held(8, "certbot"), 30)
        });
        let row = m.row(Path::new("/a")).unwrap();
        assert_eq!(
            row.taken_seen,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(30))
        );
        assert_eq!(row.held_for().unwrap().bound, Bound::Exact);

        // A fresh diagnosis of the same state becomes the row's (its badge, HELD FOR) ...
        let created = jiff::Timestamp::from_second(25).unwrap();
        let diagnosis = Arc::new(Diagnosis {
            held_since: Some(HeldSince {
                time: created,
                // The details pane asks with the app's sighting: the diagnosis's observation.
                source: HeldSinceSource::Observed,
            }),
            ..Diagnosis::default()
        });
        let fresh = |state, diagnosis: &Arc<Diagnosis>, secs| Fresh {
            state,
            diagnosis: diagnosis.clone(),
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        };
        m.set_fresh(Path::new("/a"), fresh(held(8, "certbot"), &diagnosis, 31));
        let row = m.row(Path::new("/a")).unwrap();
        assert_eq!(row.held_for().unwrap().since, SystemTime::from(created));
        assert!(row.fresh.is_some());
        // ... one that found another state shows in the pane only ...
        m.set_fresh(
            Path::new("/a"),
            fresh(DirState::Missing, &Arc::default(), 32),
        );
        let row = m.row(Path::new("/a")).unwrap();
        assert_eq!(row.details_state(), Some(&DirState::Missing));
        assert_eq!(row.held_for().unwrap().since, SystemTime::from(created));
        // ... and a change clears it.
        m.apply(change("/a", DirState::Lock(LockState::Free), 40));
        assert!(m.row(Path::new("/a")).unwrap().fresh.is_none());
        assert!(!m.any_held());
    }

    /// Item 9 of issue 20: after a stuck look (not responding) the monitor's next look finds
    /// the lock held: nobody saw it taken, whatever the change's diagnosis says.
    #[test]
    fn a_look_after_a_stuck_one_did_not_see_the_lock_taken() {
        use crate::diagnose::{HeldSince, HeldSinceSource};
        let mut m = Model::default();
        m.add("/a".into());
        m.apply(change("/a", held(7, "certbot"), 10));
        m.apply(Change {
            old: Some(held(7, "certbot")),
            ..change("/a", DirState::NotResponding, 20)
        });
        let observed = Arc::new(Diagnosis {
            held_since: Some(HeldSince {
                time: jiff::Timestamp::from_second(30).unwrap(),
                source: HeldSinceSource::Observed,
            }),
            ..Diagnosis::default()
        });
        m.apply(Change {
            old: Some(DirState::NotResponding),
            diagnosis: observed,
            ..change("/a", held(7, "certbot"), 30)
        });
        let row = m.row(Path::new("/a")).unwrap();
        assert_eq!(row.taken_seen, None, "not seen taken");
        assert_eq!(row.diagnosis.held_since, None, "no observation to back it");
        assert_eq!(
            row.held_for(),
            Some(HeldFor {
                since: SystemTime::UNIX_EPOCH + Duration::from_secs(30),
                bound: Bound::AtLeast
            })
        );
        let since = row.shown_since().unwrap();
        assert_eq!(since.bound, Bound::AtLeast);

        // A state seen to begin is exact; the first look at one is not.
        m.apply(Change {
            old: Some(held(7, "certbot")),
            ..change("/a", DirState::Lock(LockState::Absent), 40)
        });
        let since = m.row(Path::new("/a")).unwrap().shown_since().unwrap();
        assert_eq!((since.bound, since.held), (Bound::Exact, false));
        m.add("/b".into());
        m.apply(change("/b", DirState::Lock(LockState::Free), 50));
        let since = m.row(Path::new("/b")).unwrap().shown_since().unwrap();
        assert_eq!(since.bound, Bound::AtLeast);
    }

    #[test]
    fn the_details_pane_is_for_exactly_one_selected_row() {
        let mut m = Model::default();
        m.add("/a".into());
        m.add("/b".into());
        assert_eq!(m.single_selected(), None);
        m.click(Path::new("/a"), false, false);
        assert_eq!(m.single_selected(), Some(Path::new("/a")));
        m.click(Path::new("/b"), true, false);
        assert_eq!(m.single_selected(), None);
    }
}
