//! One row of the table: the directory's state as last seen, the app's own lock on it, its
//! history and diagnosis, and what follows from them (how long the lock is held and how that is
//! known, whether it can be acquired or released).

use crate::diagnose::Diagnosis;
use crate::monitor::{DirState, LockState};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

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
    /// The orphaned-lock warning of its last diagnosis: its lock file was removed (or replaced)
    /// while a process still holds a lock on it, so the path no longer excludes another
    /// certbot. The most dangerous state a row can show, whatever its state word.
    pub fn orphaned_lock(&self) -> Option<&crate::diagnose::Warning> {
        self.diagnosis
            .warnings
            .iter()
            .find(|w| w.kind == crate::diagnose::WarningKind::OrphanedLock)
    }

    pub(super) fn new(dir: PathBuf) -> Row {
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
