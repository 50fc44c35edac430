//! What the window shows, as plain data: rows, selection, sort and filter, the event log and each
//! row's state history (for the timeline). No egui, no filesystem: tested on its own.

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

/// This app's own lock on a row's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnLock {
    None,
    /// Asked the worker; no answer yet.
    Pending,
    /// Held until released, or until `until` (a timed hold).
    Held {
        until: Option<Instant>,
    },
}

/// A stretch of time a directory spent in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: SystemTime,
    pub state: DirState,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub dir: PathBuf,
    /// `None` until the monitor's first report.
    pub state: Option<DirState>,
    /// When the current state was first seen.
    pub since: Option<SystemTime>,
    /// `since` is when the state began (within a look): the look before found another
    /// definite state. Otherwise it is the app's first look at a state that began earlier.
    pub since_seen_begin: bool,
    pub own: OwnLock,
    /// Why the last acquire failed ("held by pid 4563: certbot renew").
    pub refusal: Option<String>,
    /// The app holds this row's lock, but its lock file was removed or replaced meanwhile.
    pub orphaned: bool,
    /// Past states, oldest first, trimmed to `HISTORY_SPAN`.
    pub history: VecDeque<Span>,
    /// Why, as last diagnosed: the monitor's with each change, or a fresher one asked for by
    /// the details pane (when it found the same state).
    pub diagnosis: Arc<Diagnosis>,
    /// When the app saw the lock taken (a change to held, or to another holder); `None` when it
    /// was held already at the first look, or is not held.
    pub taken_seen: Option<SystemTime>,
    /// The last diagnosis the details pane asked for (cleared by each change).
    pub fresh: Option<Fresh>,
    /// Not in the active list: kept because the app holds its lock (the list it came from).
    /// Not saved in the active list; dropped once released.
    pub kept_from: Option<String>,
    /// The app asked its lock worker to release this row's lock (no answer yet).
    pub release_asked: bool,
    /// A `HOST:DIR` row: the remote's last row (holder, held since, warnings: hostile text).
    pub remote: Option<Arc<crate::remote::RemoteRow>>,
}

/// A diagnosis made on request (the details pane), with the state its probe found then.
#[derive(Debug, Clone)]
pub struct Fresh {
    pub state: DirState,
    pub diagnosis: Arc<Diagnosis>,
    pub at: SystemTime,
}

/// How long a lock has been held, and how that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldFor {
    pub since: SystemTime,
    pub bound: Bound,
}

/// How a time the table shows relates to the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Seen begin (lockscope saw the lock taken, or the state change).
    Exact,
    /// Began at or before it: the app's first look found it so (held at least this long).
    AtLeast,
    /// Began at or after it: the earliest the lock can have been taken (the lock file's birth
    /// or the holder's start; nothing records when a leftover file was locked).
    AtMost,
}

/// Since when a row's state is as shown (the SINCE column): for a held row, since when the
/// lock is held (the details pane's), else since when the state is as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since {
    pub at: SystemTime,
    pub bound: Bound,
    pub held: bool,
}

impl Row {
    fn new(dir: PathBuf) -> Row {
        Row {
            dir,
            state: None,
            since: None,
            since_seen_begin: false,
            own: OwnLock::None,
            refusal: None,
            orphaned: false,
            history: VecDeque::new(),
            diagnosis: Arc::default(),
            taken_seen: None,
            fresh: None,
            kept_from: None,
            release_asked: false,
            remote: None,
        }
    }

    /// The state the details pane shows: the fresh probe's if it came after the last change.
    pub fn details_state(&self) -> Option<&DirState> {
        self.fresh
            .as_ref()
            .map(|f| &f.state)
            .or(self.state.as_ref())
    }

    /// The diagnosis the details pane shows (fresh if there is one).
    pub fn details_diagnosis(&self) -> &Diagnosis {
        self.fresh
            .as_ref()
            .map_or(&self.diagnosis, |f| &f.diagnosis)
    }

    pub fn is_held(&self) -> bool {
        self.state.as_ref().is_some_and(DirState::is_held)
    }

    /// Since when the lock is held (the HELD FOR column and the details pane): when lockscope
    /// saw it taken (the diagnosis's observation, or this app's), else the earliest it can have
    /// been taken (the diagnosis's lock file birth or holder start), else (held at least this
    /// long) when the app first saw it held.
    pub fn held_for(&self) -> Option<HeldFor> {
        use crate::diagnose::HeldSinceSource;
        if !self.is_held() {
            return None;
        }
        let diagnosed = self.diagnosis.held_since;
        if let Some(h) = diagnosed.filter(|h| h.source == HeldSinceSource::Observed) {
            return Some(HeldFor {
                since: SystemTime::from(h.time),
                bound: Bound::Exact,
            });
        }
        if let Some(t) = self.taken_seen {
            return Some(HeldFor {
                since: t,
                bound: Bound::Exact,
            });
        }
        if let Some(h) = diagnosed {
            return Some(HeldFor {
                since: SystemTime::from(h.time),
                bound: Bound::AtMost,
            });
        }
        self.since.map(|t| HeldFor {
            since: t,
            bound: Bound::AtLeast,
        })
    }

    /// The SINCE column: a held row's held-since ([`Row::held_for`], as the details pane),
    /// another state's first sighting (exact when the app saw it begin).
    pub fn shown_since(&self) -> Option<Since> {
        if let Some(h) = self.held_for() {
            return Some(Since {
                at: h.since,
                bound: h.bound,
                held: true,
            });
        }
        self.since.map(|at| Since {
            at,
            bound: if self.since_seen_begin {
                Bound::Exact
            } else {
                Bound::AtLeast
            },
            held: false,
        })
    }

    /// Acquire / Hold can work: nobody holds it and it can be probed.
    pub fn can_acquire(&self) -> bool {
        self.own == OwnLock::None
            && matches!(
                self.state,
                Some(DirState::Lock(LockState::Absent) | DirState::Lock(LockState::Free))
            )
    }

    /// Why Acquire cannot work now (empty when it can).
    pub fn acquire_blocker(&self) -> String {
        match (&self.own, &self.state) {
            (OwnLock::Pending, _) => "waiting for the lock…".into(),
            (OwnLock::Held { .. }, _) => "held by this app".into(),
            (_, Some(DirState::Lock(LockState::Held(h)))) => format!("held by {h}"),
            (_, Some(DirState::Lock(LockState::HeldByThisProcess))) => "held by this app".into(),
            (_, Some(DirState::Missing)) => "the directory does not exist".into(),
            (_, Some(DirState::Error(e))) => e.to_string(),
            (_, Some(DirState::NotResponding)) => "its filesystem is not responding".into(),
            (_, Some(DirState::Unknown(why))) => why.clone(),
            (_, None) => "state not known yet".into(),
            _ => String::new(),
        }
    }

    pub fn can_release(&self) -> bool {
        matches!(self.own, OwnLock::Held { .. })
    }
}

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    Dir,
    State,
    Pid,
    Since,
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
}

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
        self.rows.push(Row::new(dir));
        self.visible = None;
        true
    }

    pub fn remove(&mut self, dir: &Path) -> Option<Row> {
        let i = self.index.remove(dir)?;
        let row = self.rows.remove(i);
        for (j, r) in self.rows.iter().enumerate().skip(i) {
            self.index.insert(r.dir.clone(), j);
        }
        self.selection.remove(dir);
        self.visible = None;
        Some(row)
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
        self.log.push_back(LogEntry {
            at: change.at,
            dir: change.dir,
            old: change.old,
            new: change.new,
            cause,
            note: None,
        });
        self.trim_log();
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
        });
        self.trim_log();
    }

    fn trim_log(&mut self) {
        while self.log.len() > LOG_CAPACITY {
            self.log.pop_front();
        }
    }

    /// An explicit refresh (F5): sort and filter again now, even while the order is held.
    pub fn resort(&mut self) {
        self.order_stale = false;
        self.visible = None;
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

    /// The one selected row's directory, if exactly one is selected (the details pane's).
    pub fn single_selected(&self) -> Option<&Path> {
        let mut selected = self.selection.iter();
        match (selected.next(), selected.next()) {
            (Some(dir), None) if self.index.contains_key(dir) => Some(dir),
            _ => None,
        }
    }

    pub fn any_held(&self) -> bool {
        self.rows.iter().any(Row::is_held)
    }

    pub fn sort(&self) -> (SortKey, bool) {
        self.sort
    }

    /// Sets the sort outright (restoring the one saved with the window's UI state).
    pub fn set_sort(&mut self, key: SortKey, ascending: bool) {
        if self.sort != (key, ascending) {
            self.sort = (key, ascending);
            self.visible = None;
        }
    }

    /// Sorts by `key`; the same key again flips the direction.
    pub fn sort_by(&mut self, key: SortKey) {
        self.sort = if self.sort.0 == key {
            (key, !self.sort.1)
        } else {
            (key, true)
        };
        self.visible = None;
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn set_filter(&mut self, filter: &str) {
        if self.filter != filter {
            self.filter = filter.to_string();
            self.visible = None;
        }
    }

    /// Row indices to show, in order (filtered by directory, state word or holder command).
    pub fn visible(&mut self) -> &[usize] {
        if self.visible.is_none() {
            self.order_stale = false;
            let needle = self.filter.to_lowercase();
            let mut shown: Vec<usize> = (0..self.rows.len())
                .filter(|&i| needle.is_empty() || matches_filter(&self.rows[i], &needle))
                .collect();
            let (key, ascending) = self.sort;
            shown.sort_by(|&a, &b| {
                let ord = compare(&self.rows[a], &self.rows[b], key);
                if ascending { ord } else { ord.reverse() }
            });
            self.visible = Some(shown);
        }
        self.visible.as_deref().unwrap_or(&[])
    }

    /// Brings the display order up to date; the app calls it before painting, so views can read
    /// [`Model::shown`] through a shared reference.
    pub fn refresh(&mut self) {
        self.visible();
    }

    /// The display order as last computed by [`Model::refresh`] (empty if it is stale).
    pub fn shown(&self) -> &[usize] {
        self.visible.as_deref().unwrap_or(&[])
    }

    /// The selected rows' directories in the order of [`Model::shown`].
    pub fn shown_selected(&self) -> Vec<PathBuf> {
        self.shown()
            .iter()
            .map(|&i| &self.rows[i].dir)
            .filter(|d| self.selection.contains(*d))
            .cloned()
            .collect()
    }

    /// Click on a row: plain click selects only it, ctrl/cmd toggles it, shift extends from the
    /// last selected visible row.
    pub fn click(&mut self, dir: &Path, toggle: bool, extend: bool) {
        self.cursor = Some(dir.to_path_buf());
        if extend {
            let order = self.shown_dirs();
            let anchor = self
                .anchor
                .as_ref()
                .filter(|a| self.selection.contains(*a))
                .and_then(|a| order.iter().position(|d| d == a))
                .or_else(|| order.iter().position(|d| self.selection.contains(d)));
            if let (Some(a), Some(b)) = (anchor, order.iter().position(|d| d == dir)) {
                let (lo, hi) = (a.min(b), a.max(b));
                self.selection.extend(order[lo..=hi].iter().cloned());
                return;
            }
        }
        self.anchor = Some(dir.to_path_buf());
        if toggle {
            if !self.selection.remove(dir) {
                self.selection.insert(dir.to_path_buf());
            }
        } else {
            self.selection.clear();
            self.selection.insert(dir.to_path_buf());
        }
    }

    fn shown_dirs(&mut self) -> Vec<PathBuf> {
        let visible = self.visible().to_vec();
        visible.iter().map(|&i| self.rows[i].dir.clone()).collect()
    }

    /// The keyboard: moves the cursor `by` rows (arrows, Page Up/Down) and selects it, or with
    /// `extend` (shift) the rows from the anchor to it. With no cursor yet, down starts at the
    /// first row and up at the last. Returns the row moved to (to scroll it into view).
    pub fn move_cursor(&mut self, by: isize, extend: bool) -> Option<PathBuf> {
        let order = self.shown_dirs();
        let last = order.len().checked_sub(1)?;
        let at = self
            .cursor
            .as_ref()
            .and_then(|c| order.iter().position(|d| d == c));
        let to = match at {
            Some(at) => at.saturating_add_signed(by).min(last),
            None if by < 0 => last,
            None => 0,
        };
        let anchor = match (&self.anchor, extend) {
            (Some(a), true) => order.iter().position(|d| d == a).unwrap_or(to),
            _ => {
                self.anchor = Some(order[to].clone());
                to
            }
        };
        let (lo, hi) = (anchor.min(to), anchor.max(to));
        self.selection.clear();
        self.selection.extend(order[lo..=hi].iter().cloned());
        self.cursor = Some(order[to].clone());
        self.cursor.clone()
    }

    /// Ctrl+A: every row shown (the filter applies).
    pub fn select_all(&mut self) {
        self.selection = self.shown_dirs().into_iter().collect();
    }

    /// Esc.
    pub fn clear_selection(&mut self) {
        self.selection.clear();
        self.anchor = None;
    }

    /// The selected rows' directories, in table order.
    pub fn selected_dirs(&mut self) -> Vec<PathBuf> {
        let visible: Vec<usize> = self.visible().to_vec();
        visible
            .into_iter()
            .map(|i| self.rows[i].dir.clone())
            .filter(|d| self.selection.contains(d))
            .collect()
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

fn matches_filter(row: &Row, needle: &str) -> bool {
    let dir = row.dir.to_string_lossy().to_lowercase();
    let state = row.state.as_ref().map_or("", state_word).to_lowercase();
    let command = row
        .state
        .as_ref()
        .and_then(DirState::holder)
        .and_then(|h| h.command)
        .unwrap_or_default()
        .to_lowercase();
    dir.contains(needle) || state.contains(needle) || command.contains(needle)
}

fn compare(a: &Row, b: &Row, key: SortKey) -> std::cmp::Ordering {
    let by_dir = a.dir.cmp(&b.dir);
    let primary = match key {
        SortKey::Dir => std::cmp::Ordering::Equal,
        SortKey::State => state_rank(a).cmp(&state_rank(b)),
        SortKey::Pid => pid(a).cmp(&pid(b)),
        SortKey::Since => a
            .shown_since()
            .map(|s| s.at)
            .cmp(&b.shown_since().map(|s| s.at)),
    };
    primary.then(by_dir)
}

fn state_rank(row: &Row) -> u8 {
    match &row.state {
        Some(DirState::Lock(LockState::Held(_))) => 0,
        Some(DirState::Lock(LockState::HeldByThisProcess)) => 1,
        Some(DirState::Error(_) | DirState::NotResponding | DirState::Unknown(_)) => 2,
        Some(DirState::Missing) => 3,
        Some(DirState::Lock(LockState::Free)) => 4,
        Some(DirState::Lock(LockState::Absent)) => 5,
        None => 6,
    }
}

fn pid(row: &Row) -> Option<u32> {
    row.state
        .as_ref()
        .and_then(DirState::holder)
        .and_then(|h| h.pid)
}

/// The options whose paths tell two certbots apart: kept whole by [`short_command`].
const DIR_OPTIONS: [&str; 5] = ["--config-dir", "--work-dir", "--logs-dir", "-c", "--config"];

/// A command line made readable in a narrow column: absolute paths shortened to their file name
/// ("/usr/bin/python3 /usr/bin/certbot renew" → "python3 certbot renew"), except the paths of
/// `--config-dir`, `--work-dir`, `--logs-dir` and `-c`/`--config` (as `--opt PATH` or
/// `--opt=PATH`), which are what tell two certbots apart. The full line is shown on hover.
pub fn short_command(command: &str) -> String {
    let mut after_dir_option = false;
    command
        .split(' ')
        .map(|word| {
            let keep = std::mem::take(&mut after_dir_option)
                || word
                    .split_once('=')
                    .is_some_and(|(opt, _)| DIR_OPTIONS.contains(&opt));
            after_dir_option = DIR_OPTIONS.contains(&word);
            match word.rsplit_once('/') {
                Some((_, name)) if !keep && word.starts_with('/') && !name.is_empty() => name,
                _ => word,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`short_command`] made to fit `max_chars`: the longest paths are cut in the middle ("…"),
/// keeping their start and their longer end (the end is what differs between two certbots).
/// Words that are not paths are left alone (the label still cuts its end if need be).
pub fn fit_command(command: &str, max_chars: usize) -> String {
    const MIN_PATH: usize = 10;
    let mut words: Vec<String> = short_command(command)
        .split(' ')
        .map(str::to_string)
        .collect();
    let too_long = |words: &[String]| {
        words.iter().map(|w| w.chars().count()).sum::<usize>() + words.len().saturating_sub(1)
            > max_chars
    };
    // "python3 certbot ...": the interpreter says least.
    if too_long(&words) && words.len() > 1 && words[0].starts_with("python") {
        words.remove(0);
    }
    let len = |words: &[String]| -> usize {
        words.iter().map(|w| w.chars().count()).sum::<usize>() + words.len().saturating_sub(1)
    };
    loop {
        let total = len(&words);
        if total <= max_chars {
            break;
        }
        let longest = words
            .iter()
            .enumerate()
            .filter(|(_, w)| w.contains('/') && w.chars().count() > MIN_PATH)
            .max_by_key(|(_, w)| w.chars().count())
            .map(|(i, _)| i);
        let Some(i) = longest else { break };
        let n = words[i].chars().count();
        let keep = n.saturating_sub(total - max_chars).max(MIN_PATH);
        if keep >= n {
            break;
        }
        words[i] = cut_path(&words[i], keep);
    }
    let line = words.join(" ");
    // Still too long (long words that are not paths): the line loses its middle, not its end.
    cut_middle(&line, max_chars.max(MIN_PATH))
}

/// A path in `keep` characters: its leading "/", "…", and its end (what differs).
fn cut_path(path: &str, keep: usize) -> String {
    let chars: Vec<char> = path.chars().collect();
    if chars.len() <= keep || keep < 3 {
        return path.to_string();
    }
    let mut out: String = chars[..1].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - (keep - 2)..]);
    out
}

/// `text` in `keep` characters: its first quarter, "…", and the rest from its end.
fn cut_middle(text: &str, keep: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= keep || keep < 2 {
        return text.to_string();
    }
    let head = (keep - 1) / 4;
    let tail = keep - 1 - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// The state's word in the table's badge.
pub fn state_word(state: &DirState) -> &'static str {
    match state {
        DirState::Lock(LockState::Held(_)) => "Held",
        DirState::Lock(LockState::HeldByThisProcess) => "Held by this app",
        DirState::Lock(LockState::Free) => "Free (stale file)",
        DirState::Lock(LockState::Absent) => "Absent",
        DirState::Missing => "Missing",
        DirState::Error(_) => "Error",
        DirState::NotResponding => "Not responding",
        DirState::Unknown(_) => "Unknown",
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
    fn commands_are_shortened_for_the_table() {
        assert_eq!(
            short_command("/usr/bin/python3 /usr/bin/certbot renew"),
            "python3 certbot renew"
        );
        assert_eq!(
            short_command("certbot --config-dir /etc/le/ x"),
            "certbot --config-dir /etc/le/ x"
        );
        assert_eq!(short_command(""), "");
        assert_eq!(
            short_command(
                "/usr/bin/certbot --config-dir /srv/a/etc --work-dir=/srv/a/lib -c /x/cli.ini"
            ),
            "certbot --config-dir /srv/a/etc --work-dir=/srv/a/lib -c /x/cli.ini",
            "the paths that tell two certbots apart are kept"
        );
    }

    #[test]
    fn long_paths_are_cut_in_the_middle_to_fit() {
        let cmd = "/usr/bin/certbot renew --config-dir /srv/customers/acme-corporation/letsencrypt-staging";
        let fitted = fit_command(cmd, 50);
        assert!(fitted.chars().count() <= 50, "{fitted}");
        assert!(
            fitted.starts_with("certbot renew --config-dir /"),
            "{fitted}"
        );
        assert!(
            fitted.ends_with("letsencrypt-staging"),
            "the end is kept: {fitted}"
        );
        assert!(fitted.contains('…'), "{fitted}");
        assert_eq!(fit_command(cmd, 500), short_command(cmd), "fits: unchanged");
        assert_eq!(cut_middle("abcdefghij", 7), "a…fghij");
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
