//! Desktop notifications, decided here as plain data (no egui, no D-Bus): a lock held longer
//! than a threshold ("certbot may be stuck", once per hold), and state changes while the window
//! is unfocused. What decides is tested on its own; sending goes through a [`Sink`], which the
//! app is to back with a thread talking to the freedesktop notification service, so the UI
//! thread never waits on D-Bus.
//!
//! Not wired into the app yet (issue 13, item 2): no setting, no sender.

use crate::escape::{escape, escape_path};
use crate::gui::model::state_word;
use crate::monitor::{Change, DirState, LockState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a hold lasts before "certbot may be stuck", unless the list says otherwise.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(10 * 60);

/// One desktop notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub summary: String,
    pub body: String,
}

/// Where notices go. The app's sink hands them to a sender thread and returns at once.
pub trait Sink: Send {
    fn send(&self, notice: Notice);
}

/// Which notices are due, remembering which holds were already reported as stuck.
#[derive(Debug)]
pub struct Notifier {
    pub stuck_after: Duration,
    /// The hold each directory was last reported stuck for (its holder's pid and start).
    reported: HashMap<PathBuf, (Option<u32>, SystemTime)>,
}

impl Notifier {
    pub fn new(stuck_after: Duration) -> Notifier {
        Notifier {
            stuck_after,
            reported: HashMap::new(),
        }
    }

    /// A monitor change: a notice while the window is not focused. A directory no longer held
    /// may be reported stuck again at its next long hold.
    pub fn on_change(&mut self, change: &Change, focused: bool) -> Option<Notice> {
        if !change.new.is_held() {
            self.reported.remove(&change.dir);
        }
        if focused {
            return None;
        }
        let mut body = format!("{}: {}", escape_path(&change.dir), state_word(&change.new));
        if let DirState::Lock(LockState::Held(h)) = &change.new {
            body.push_str(&format!(" by {}", escape(&h.to_string())));
        }
        Some(Notice {
            summary: "Lock state changed".to_string(),
            body,
        })
    }

    /// The directories held since `since` by `pid` (`command`): a notice for each hold that
    /// just passed the threshold, once per hold.
    pub fn check_stuck<'a>(
        &mut self,
        held: impl IntoIterator<Item = (&'a Path, Option<u32>, Option<&'a str>, SystemTime)>,
        now: SystemTime,
    ) -> Vec<Notice> {
        let mut out = Vec::new();
        for (dir, pid, command, since) in held {
            let age = now.duration_since(since).unwrap_or_default();
            if age < self.stuck_after || self.reported.get(dir) == Some(&(pid, since)) {
                continue;
            }
            self.reported.insert(dir.to_path_buf(), (pid, since));
            let holder = match (pid, command) {
                (Some(p), Some(c)) => format!("pid {p}: {}", escape(c)),
                (Some(p), None) => format!("pid {p}"),
                _ => "a process".to_string(),
            };
            out.push(Notice {
                summary: "certbot may be stuck".to_string(),
                body: format!(
                    "{} held for {} by {holder}",
                    escape_path(dir),
                    crate::local_time::format_age(age)
                ),
            });
        }
        out
    }

    /// How long until the earliest of these holds passes the threshold (the app asks for one
    /// frame then, not one a second).
    pub fn next_due(
        &self,
        held: impl IntoIterator<Item = SystemTime>,
        now: SystemTime,
    ) -> Option<Duration> {
        held.into_iter()
            .map(|since| {
                (since + self.stuck_after)
                    .duration_since(now)
                    .unwrap_or_default()
            })
            .filter(|d| !d.is_zero())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holder::Holder;
    use crate::monitor::Cause;

    fn change(new: DirState) -> Change {
        Change {
            dir: "/srv/le".into(),
            lock_file: "/srv/le/.certbot.lock".into(),
            old: None,
            new,
            diagnosis: Default::default(),
            at: SystemTime::UNIX_EPOCH,
            cause: Cause::FsEvent,
        }
    }

    #[test]
    fn a_long_hold_is_reported_once_and_again_after_a_new_hold() {
        let mut n = Notifier::new(DEFAULT_STUCK_AFTER);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let dir = Path::new("/srv/le");
        let held = |since| vec![(dir, Some(7), Some("certbot\x1b renew"), since)];
        assert!(
            n.check_stuck(held(t0), t0 + Duration::from_secs(599))
                .is_empty()
        );
        assert_eq!(
            n.next_due([t0], t0 + Duration::from_secs(599)),
            Some(Duration::from_secs(1))
        );
        let notices = n.check_stuck(held(t0), t0 + Duration::from_secs(600));
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].summary, "certbot may be stuck");
        assert_eq!(
            notices[0].body,
            "/srv/le held for 10 min by pid 7: certbot\\e renew"
        );
        assert!(
            n.check_stuck(held(t0), t0 + Duration::from_secs(900))
                .is_empty()
        );
        // Released, then a new hold: reported again once it is long.
        n.on_change(&change(DirState::Lock(LockState::Absent)), true);
        let t1 = t0 + Duration::from_secs(1000);
        assert_eq!(
            n.check_stuck(held(t1), t1 + Duration::from_secs(601)).len(),
            1
        );
    }

    #[test]
    fn changes_are_reported_only_while_unfocused() {
        let mut n = Notifier::new(DEFAULT_STUCK_AFTER);
        let held = DirState::Lock(LockState::Held(Holder {
            pid: Some(9),
            command: Some("certbot renew".into()),
        }));
        assert_eq!(n.on_change(&change(held.clone()), true), None);
        let notice = n.on_change(&change(held), false).unwrap();
        assert_eq!(notice.body, "/srv/le: Held by pid 9: certbot renew");
    }
}
