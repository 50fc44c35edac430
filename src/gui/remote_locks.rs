//! The app's locks on remote directories: each a remote `lockscope hold` tied to its ssh
//! session ([`crate::remote::RemoteHold`]). Taking one blocks until the remote answers, so
//! each request runs on its own thread; a release too. One thread notices holds that ended
//! on their own (`--for` ran out, the connection dropped). Dropping the handle drops every
//! session: the remote holds see their stdin close and release.

use super::workers::{Events, LockOutcome, WorkerEvent};
use crate::remote::{RemoteDir, RemoteHold, RemoteWait, Ssh, start_hold};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a release waits for the remote to say it let go before ssh is killed (the remote
/// then sees the same end of input and releases anyway).
const RELEASE_GRACE: Duration = Duration::from_secs(5);

/// How often held sessions are checked for having ended on their own.
const ENDED_CHECK: Duration = Duration::from_millis(500);

type Held = Arc<Mutex<HashMap<PathBuf, RemoteHold>>>;

/// The remote holds, keyed by the row's `HOST:DIR`.
pub struct RemoteLocks {
    held: Held,
    events: Events,
}

impl RemoteLocks {
    pub fn start(events: Events) -> RemoteLocks {
        let held: Held = Arc::default();
        let weak = Arc::downgrade(&held);
        let watcher_events = events.clone();
        std::thread::Builder::new()
            .name("lockscope-remote-holds".into())
            .spawn(move || watch_ended(weak, watcher_events))
            .ok();
        RemoteLocks { held, events }
    }

    /// Takes `remote`'s lock (row `dir`); the outcome arrives as [`WorkerEvent::Lock`]. False
    /// when no thread could be started.
    pub fn acquire(
        &self,
        ssh: Ssh,
        dir: PathBuf,
        remote: RemoteDir,
        lock_name: String,
        hold_for: Option<Duration>,
    ) -> bool {
        let held = Arc::downgrade(&self.held);
        let events = self.events.clone();
        std::thread::Builder::new()
            .name("lockscope-remote-hold".into())
            .spawn(move || {
                let result = start_hold(
                    &ssh,
                    &remote.host,
                    &remote.dir,
                    &lock_name,
                    hold_for,
                    RemoteWait::No,
                );
                let outcome = match result {
                    Ok(hold) => {
                        let until = hold_for.and_then(|d| Instant::now().checked_add(d));
                        let pid = hold.pid;
                        // The app quit meanwhile: the hold is dropped here (released).
                        let Some(held) = held.upgrade() else { return };
                        if let Ok(mut held) = held.lock() {
                            held.insert(dir.clone(), hold);
                        }
                        LockOutcome::Held {
                            dir,
                            until,
                            remote_pid: pid,
                        }
                    }
                    Err(e) => LockOutcome::Refused {
                        dir,
                        reason: e.to_string(),
                    },
                };
                events.send(WorkerEvent::Lock(outcome));
            })
            .is_ok()
    }

    /// Releases the hold of row `dir`, if there is one (off this thread).
    pub fn release(&self, dir: &PathBuf) {
        let hold = self.held.lock().ok().and_then(|mut h| h.remove(dir));
        let Some(hold) = hold else { return };
        let events = self.events.clone();
        let row = dir.clone();
        let dir = dir.clone();
        let spawned = std::thread::Builder::new()
            .name("lockscope-remote-release".into())
            .spawn(move || {
                let error = hold.release(RELEASE_GRACE).err().map(|e| e.to_string());
                events.send(WorkerEvent::Lock(LockOutcome::Released { dir, error }));
            });
        if spawned.is_err() {
            // The hold was dropped with the closure: its session ended, the remote released.
            self.events.send(WorkerEvent::Lock(LockOutcome::Released {
                dir: row,
                error: None,
            }));
        }
    }
}

/// Reports holds whose session ended by itself, until the app drops its [`RemoteLocks`].
fn watch_ended(held: Weak<Mutex<HashMap<PathBuf, RemoteHold>>>, events: Events) {
    loop {
        std::thread::sleep(ENDED_CHECK);
        let Some(held) = held.upgrade() else { return };
        let mut ended = Vec::new();
        if let Ok(mut held) = held.lock() {
            let dirs: Vec<PathBuf> = held
                .iter_mut()
                .filter_map(|(d, h)| h.ended().then(|| d.clone()))
                .collect();
            for dir in dirs {
                if let Some(mut hold) = held.remove(&dir) {
                    ended.push((dir, hold.outcome()));
                }
            }
        }
        drop(held);
        for (dir, outcome) in ended {
            events.send(WorkerEvent::RemoteHoldEnded {
                dir,
                error: outcome.err().map(|e| e.to_string()),
            });
        }
    }
}
