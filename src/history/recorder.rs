//! The monitor's changes into holds: the recorder's source where the kernel's lock events
//! cannot be traced. It sees what the monitor sees: a hold that begins and ends between two
//! looks is missed, and refused attempts are never seen.

use super::{EndedBy, HistoryError, Hold, Source, Store};
use crate::monitor::{Change, DirState, LockState};
use jiff::Timestamp;
use std::collections::HashMap;
use std::path::PathBuf;

/// What a change did to the record, for `record --events-json` and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A hold was recorded as begun (or found held at the first look).
    Began(Hold),
    /// A hold ended.
    Ended(Hold),
    /// An attempt to take the lock was refused (kernel events only).
    Refused(super::Refused),
}

/// Turns monitor changes into holds in a [`Store`].
pub struct MonitorRecorder {
    store: Store,
    /// The hold each directory is in now, with its row id.
    open: HashMap<PathBuf, (i64, Hold)>,
}

impl MonitorRecorder {
    /// A recorder writing into `store`.
    pub fn new(store: Store) -> MonitorRecorder {
        MonitorRecorder {
            store,
            open: HashMap::new(),
        }
    }

    /// Records what `change` means for its directory's holds.
    pub fn apply(&mut self, change: &Change) -> Result<Vec<Recorded>, HistoryError> {
        let at = Timestamp::try_from(change.at).unwrap_or_else(|_| Timestamp::now());
        let mut recorded = Vec::new();
        let holder = match &change.new {
            DirState::Lock(LockState::Held(h)) => Some(h),
            _ => None,
        };
        // The open hold ends unless the same process still holds the lock.
        if let Some((_, open)) = self.open.get(&change.dir)
            && holder.is_none_or(|h| h.pid != open.pid)
        {
            let ended_by = if holder.is_some() {
                EndedBy::HandedOver
            } else if open.pid.is_some_and(|pid| !crate::sys::process_alive(pid)) {
                EndedBy::HolderExited
            } else {
                EndedBy::Released
            };
            if let Some((id, mut hold)) = self.open.remove(&change.dir) {
                self.store.end_hold(id, Some(at), ended_by)?;
                hold.end = Some(at);
                hold.ended_by = Some(ended_by);
                recorded.push(Recorded::Ended(hold));
            }
        }
        if let Some(h) = holder
            && !self.open.contains_key(&change.dir)
        {
            // Seen to begin when the look before found it not held; at the first look it was
            // held already, since some time before.
            let seen = change.old.as_ref().is_some_and(|old| !old.is_held());
            let hold = Hold {
                dir: change.dir.clone(),
                pid: h.pid,
                command: h.command.clone(),
                user: change
                    .diagnosis
                    .holder
                    .as_ref()
                    .and_then(|d| d.user.clone()),
                start: at,
                start_seen: seen,
                end: None,
                ended_by: None,
                source: Source::Monitor,
            };
            let id = self.store.begin_hold(&hold)?;
            self.open.insert(change.dir.clone(), (id, hold.clone()));
            recorded.push(Recorded::Began(hold));
        }
        Ok(recorded)
    }

    /// The recording stops: holds still open end as "recording-stopped" now (held at least
    /// until now; what became of them after is not known).
    pub fn stop(&mut self) -> Result<(), HistoryError> {
        let now = Timestamp::now();
        for (_, (id, _)) in self.open.drain() {
            self.store
                .end_hold(id, Some(now), EndedBy::RecordingStopped)?;
        }
        Ok(())
    }
}
