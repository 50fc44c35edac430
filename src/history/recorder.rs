//! The monitor's changes into holds: the recorder's source where the kernel's lock events
//! cannot be traced. It sees what the monitor sees: a hold that begins and ends between two
//! looks is missed, and refused attempts are never seen.

use super::{EndedBy, Hold, Recorded, Source};
use crate::monitor::{Change, DirState, LockState};
use jiff::Timestamp;
use std::collections::HashMap;
use std::path::PathBuf;

/// Turns the monitor's changes into holds.
#[derive(Default)]
pub struct MonitorRecorder {
    /// The hold each directory is in now.
    open: HashMap<PathBuf, Hold>,
}

impl MonitorRecorder {
    /// A recorder with no hold open.
    pub fn new() -> MonitorRecorder {
        MonitorRecorder::default()
    }

    /// What `change` means for its directory's holds.
    pub fn apply(&mut self, change: &Change) -> Vec<Recorded> {
        let at = Timestamp::try_from(change.at).unwrap_or_else(|_| Timestamp::now());
        let mut recorded = Vec::new();
        let holder = match &change.new {
            DirState::Lock(LockState::Held(h)) => Some(h),
            _ => None,
        };
        // The open hold ends unless the same process still holds the lock.
        if let Some(open) = self.open.get(&change.dir)
            && holder.is_none_or(|h| h.pid != open.pid)
        {
            let ended_by = if holder.is_some() {
                EndedBy::HandedOver
            } else if open.pid.is_some_and(|pid| !crate::sys::process_alive(pid)) {
                EndedBy::HolderExited
            } else {
                EndedBy::Released
            };
            if let Some(hold) = self.open.remove(&change.dir) {
                recorded.push(Recorded::Ended(hold.ended(at, ended_by)));
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
            self.open.insert(change.dir.clone(), hold.clone());
            recorded.push(Recorded::Began(hold));
        }
        recorded
    }

    /// The recording stops: holds still open end as "recording-stopped" now (held at least
    /// until now; what became of them after is not known).
    pub fn stop(&mut self) -> Vec<Recorded> {
        let now = Timestamp::now();
        self.open
            .drain()
            .map(|(_, hold)| Recorded::Ended(hold.ended(now, EndedBy::RecordingStopped)))
            .collect()
    }
}
