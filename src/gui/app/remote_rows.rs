//! `HOST:DIR` rows: the remote hub (started with the first remote row), its connection events
//! and rows turned into the model's states and changes, and the end of a remote hold.

use super::LockscopeApp;
use crate::gui::model::{Model, OwnLock};
use crate::gui::workers::WorkerEvent;
use crate::monitor::{Cause, Change, DirState, LockState};
use crate::remote::{
    ConnectionState, Operand, RemoteDir, RemoteEvent, RemoteMonitor, RemoteRow, RemoteState,
    WatchOptions,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

impl LockscopeApp {
    pub(super) fn remote_options(&self) -> WatchOptions {
        WatchOptions {
            interval: self.settings.interval,
            lock_name: self.settings.lock_name.clone(),
        }
    }

    /// The remote hub, started on first use; its events come on the workers' channel.
    pub(super) fn remote_monitor(&mut self) -> Result<&RemoteMonitor, String> {
        let ssh = self.ssh.clone()?;
        let options = self.remote_options();
        let events = self.events_tx.clone();
        Ok(self.remote.get_or_insert_with(|| {
            RemoteMonitor::start(
                move |_host| ssh.clone(),
                options,
                move |event| events.send(WorkerEvent::Remote(event)),
            )
        }))
    }

    /// `background_changes`: changes may be notified (as the local monitor's).
    pub(super) fn on_remote_event(&mut self, event: RemoteEvent, background_changes: bool) {
        match event {
            RemoteEvent::Connection { host, state } => {
                let host = host.to_string();
                if state == ConnectionState::Connected {
                    self.lost_told.remove(&host);
                }
                // Said once per loss, not at every retry.
                if let ConnectionState::Lost { reason, retry_in } = &state
                    && self.lost_told.insert(host.clone())
                {
                    self.tell(
                        format!(
                            "connection to {host} lost: {reason} (trying again in {})",
                            humantime::format_duration(*retry_in)
                        ),
                        true,
                    );
                }
                self.model.hosts.insert(host, state);
            }
            RemoteEvent::Notice { host, text } => self.tell(format!("{host}: {text}"), false),
            RemoteEvent::Row(row) => self.on_remote_row(row, background_changes),
        }
    }

    /// A remote row becomes the row's state (logged when it changed); a lost connection's
    /// `unknown` replaces whatever was known.
    pub(super) fn on_remote_row(&mut self, remote: RemoteRow, background_changes: bool) {
        let Some(host) = remote.host.as_deref() else {
            return;
        };
        let dir = PathBuf::from(format!("{host}:{}", remote.dir));
        let Some(row) = self.model.row(&dir) else {
            return; // removed meanwhile
        };
        let mut new = remote_state(&remote);
        if let (DirState::Lock(LockState::Held(h)), Some(own)) = (&new, self.remote_pids.get(&dir))
            && row.own != OwnLock::None
            && h.pid == Some(*own)
        {
            new = DirState::Lock(LockState::HeldByThisProcess);
        }
        let note = match (&row.state, &new) {
            (_, DirState::Unknown(why)) => Some(why.clone()),
            (Some(DirState::Unknown(_)), _) => Some(format!("connection to {host} is back")),
            _ => None,
        };
        let changed = row.state.as_ref() != Some(&new);
        let remote = Arc::new(remote);
        if let Some(row) = self.model.row_mut(&dir) {
            row.remote = Some(remote.clone());
        }
        if changed {
            let change = remote_change(
                &self.model,
                dir,
                &self.settings.lock_name,
                new,
                Some(&remote),
            );
            self.notifier.on_change(&change, background_changes);
            self.model.apply(change);
            if let Some(note) = note
                && let Some(entry) = self.model.log.back_mut()
            {
                entry.note = Some(note);
            }
        }
    }

    pub(super) fn on_remote_hold_ended(&mut self, dir: PathBuf, error: Option<String>) {
        self.remote_pids.remove(&dir);
        let shown = crate::escape::escape(&dir.to_string_lossy()).to_string();
        let text = match &error {
            None => format!("{shown}: the remote hold ran its time; the lock is released"),
            Some(e) => format!(
                "{shown}: the remote hold ended ({e}); the remote lock is released (it lasts \
                 only as long as its ssh session)"
            ),
        };
        let Some(row) = self.model.row_mut(&dir) else {
            self.tell(text, error.is_some());
            return;
        };
        row.own = OwnLock::None;
        row.release_asked = false;
        let ours = matches!(
            row.state,
            Some(DirState::Lock(LockState::HeldByThisProcess))
        );
        let now = match &row.state {
            // "Held by this app" is over; what the lock is now, the host's next row says.
            Some(state) if !ours => state.clone(),
            _ => DirState::Unknown(
                "the remote hold ended; waiting for the host's next report".into(),
            ),
        };
        let change = remote_change(&self.model, dir, &self.settings.lock_name, now, None);
        self.model.apply(change);
        if let Some(entry) = self.model.log.back_mut() {
            entry.note = Some(text.clone());
            entry.cause = Cause::Action;
        }
        self.tell(text, error.is_some());
    }
}

/// The remote directory a row stands for, if it is a `HOST:DIR` row.
pub(super) fn remote_dir(dir: &Path) -> Option<RemoteDir> {
    match crate::remote::parse_operand(dir.as_os_str()) {
        Ok(Operand::Remote(remote)) => Some(remote),
        _ => None,
    }
}

/// A remote row's state in the model's terms. A remote that could not probe the directory,
/// or a host that cannot be asked, is `Unknown` with the reason.
fn remote_state(row: &RemoteRow) -> DirState {
    let why = || row.error.clone().unwrap_or_default();
    match row.state {
        RemoteState::Absent => DirState::Lock(LockState::Absent),
        RemoteState::Free => DirState::Lock(LockState::Free),
        RemoteState::Held => DirState::Lock(LockState::Held(crate::holder::Holder {
            pid: row.holder.as_ref().and_then(|h| h.pid),
            command: row.holder.as_ref().and_then(|h| h.command.clone()),
        })),
        RemoteState::Missing => DirState::Missing,
        RemoteState::NotResponding => DirState::NotResponding,
        RemoteState::Error => {
            DirState::Unknown(format!("the remote could not probe it: {}", why()))
        }
        RemoteState::Unknown => DirState::Unknown(why()),
    }
}

/// A change of a remote row, as the model takes the local monitor's.
pub(super) fn remote_change(
    model: &Model,
    dir: PathBuf,
    lock_name: &str,
    new: DirState,
    remote: Option<&RemoteRow>,
) -> Change {
    // Names as the wire format spells them (lockscope::record); a cause this side does not
    // know (a newer remote) reads as the periodic pass.
    let cause = remote
        .and_then(|r| r.other.get("cause"))
        .and_then(|c| c.as_str())
        .and_then(Cause::from_name)
        .unwrap_or(Cause::Poll);
    let held_since = remote.filter(|_| new.is_held()).and_then(|r| {
        use crate::diagnose::HeldSinceSource as Source;
        let source = r
            .other
            .get("held_since_source")
            .and_then(|s| serde::Deserialize::deserialize(s).ok())
            .unwrap_or(Source::Observed);
        Some(crate::diagnose::HeldSince {
            time: r.held_since?,
            source,
        })
    });
    Change {
        lock_file: remote.map_or_else(
            || dir.join(lock_name),
            |r| PathBuf::from(r.lock_file.clone()),
        ),
        old: model.row(&dir).and_then(|r| r.state.clone()),
        dir,
        new,
        diagnosis: Arc::new(crate::diagnose::Diagnosis {
            held_since,
            ..Default::default()
        }),
        at: SystemTime::now(),
        cause,
    }
}
