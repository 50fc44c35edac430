//! Desktop notifications, decided here as plain data (no egui, no D-Bus): a lock held longer
//! than the list's threshold ("certbot may be stuck", once per hold), and lock state changes
//! while the window is in the background (batched: at most one notification per
//! [`BATCH_GAP`]). Sending is a [`NoticeSink`]'s job, run on a worker thread
//! (`workers::Notices`), so the UI thread never waits on D-Bus.

use crate::escape::{escape, escape_path};
use crate::gui::model::state_word;
use crate::monitor::{Cause, Change, DirState, LockState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Background changes closer together than this go out as one notification.
pub const BATCH_GAP: Duration = Duration::from_secs(5);

/// At most this many changes are listed in one notification (then "and N more").
const MAX_LISTED: usize = 5;

/// One desktop notification. Plain text, already escaped for a terminal-like reader (a
/// hostile directory name cannot draw on the notification); the sink escapes it further for
/// its own format (freedesktop body markup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The title line.
    pub summary: String,
    /// The text: one line per change, or the stuck hold.
    pub body: String,
}

/// Where notices go: the freedesktop notification service in the app, a list in tests. Called
/// on the notice worker's thread, so it may block (D-Bus).
pub trait NoticeSink: Send + Sync {
    /// Shows `notice`, or says why it could not.
    fn show(&self, notice: &Notice) -> Result<(), String>;
}

/// A held lock as the stuck check sees it.
pub struct HeldRow<'a> {
    pub dir: &'a Path,
    pub pid: Option<u32>,
    pub command: Option<&'a str>,
    pub since: SystemTime,
    /// What the holder waits for ("terminal input on /dev/pts/3"), if known.
    pub waiting_for: Option<&'a str>,
}

/// Which hold a stuck notice was for: the holder's pid when known, else when it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoldKey {
    Pid(u32),
    Since(SystemTime),
}

/// Which notices are due, remembering which holds were already reported as stuck and which
/// background changes wait for the next batch.
#[derive(Debug, Default)]
pub struct Notifier {
    reported: HashMap<PathBuf, HoldKey>,
    pending: Vec<String>,
    last_batch: Option<Instant>,
}

impl Notifier {
    /// A monitor change. With `report` (the list asks for background changes and the window is
    /// not focused) it joins the next batch; the app's own doings and first looks do not. A
    /// directory no longer held may be reported stuck again at its next long hold.
    pub fn on_change(&mut self, change: &Change, report: bool) {
        if !change.new.is_held() {
            self.reported.remove(&change.dir);
        }
        if !report || change.old.is_none() || change.cause == Cause::Action {
            return;
        }
        let mut line = format!("{}: {}", escape_path(&change.dir), state_word(&change.new));
        if let DirState::Lock(LockState::Held(h)) = &change.new {
            line.push_str(&format!(" by {}", escape(&h.to_string())));
        }
        self.pending.push(line);
    }

    /// The window has the focus again: what waited is on screen now.
    pub fn focused(&mut self) {
        self.pending.clear();
    }

    /// The batch of background changes, if one is due at `now`.
    pub fn take_batch(&mut self, now: Instant) -> Option<Notice> {
        if self.pending.is_empty() || self.batch_wait(now).is_some() {
            return None;
        }
        self.last_batch = Some(now);
        let lines = std::mem::take(&mut self.pending);
        let summary = match lines.len() {
            1 => "Lock state changed".to_string(),
            n => format!("{n} lock state changes"),
        };
        let mut body = lines[..lines.len().min(MAX_LISTED)].join("\n");
        if lines.len() > MAX_LISTED {
            body.push_str(&format!("\nand {} more", lines.len() - MAX_LISTED));
        }
        Some(Notice { summary, body })
    }

    /// How long until the waiting batch may go out (`None`: nothing waits, or it may now).
    pub fn batch_wait(&self, now: Instant) -> Option<Duration> {
        if self.pending.is_empty() {
            return None;
        }
        let next = self.last_batch? + BATCH_GAP;
        Some(next.saturating_duration_since(now)).filter(|d| !d.is_zero())
    }

    /// A notice for each hold that has just passed `stuck_after`, once per hold.
    pub fn check_stuck<'a>(
        &mut self,
        held: impl IntoIterator<Item = HeldRow<'a>>,
        stuck_after: Duration,
        now: SystemTime,
    ) -> Vec<Notice> {
        let mut out = Vec::new();
        for row in held {
            let age = now.duration_since(row.since).unwrap_or_default();
            let key = match row.pid {
                Some(pid) => HoldKey::Pid(pid),
                None => HoldKey::Since(row.since),
            };
            if age < stuck_after || self.reported.get(row.dir) == Some(&key) {
                continue;
            }
            self.reported.insert(row.dir.to_path_buf(), key);
            let holder = match (row.pid, row.command) {
                (Some(p), Some(c)) => format!("pid {p} ({})", escape(c)),
                (Some(p), None) => format!("pid {p}"),
                _ => "a process lockscope cannot see".to_string(),
            };
            let mut body = format!(
                "{} held for {} by {holder}",
                escape_path(row.dir),
                crate::local_time::format_age(age)
            );
            if let Some(w) = row.waiting_for {
                body.push_str(&format!(", waiting for {}", escape(w)));
            }
            out.push(Notice {
                summary: "certbot may be stuck".to_string(),
                body,
            });
        }
        out
    }

    /// How long until the earliest of these holds passes `stuck_after` (the app asks for one
    /// frame then).
    pub fn next_stuck(
        held: impl IntoIterator<Item = SystemTime>,
        stuck_after: Duration,
        now: SystemTime,
    ) -> Option<Duration> {
        held.into_iter()
            .map(|since| {
                (since + stuck_after)
                    .duration_since(now)
                    .unwrap_or_default()
            })
            .filter(|d| !d.is_zero())
            .min()
    }
}

/// The freedesktop notification service (org.freedesktop.Notifications on the session bus),
/// through notify-rust.
pub struct DesktopNotices;

impl NoticeSink for DesktopNotices {
    fn show(&self, notice: &Notice) -> Result<(), String> {
        notify_rust::Notification::new()
            .appname("lockscope")
            .icon("lockscope")
            .summary(&notice.summary)
            // Servers with the "body-markup" capability read the body as markup: a directory
            // named `<b>` must show as that text.
            .body(&markup_escape(&notice.body))
            .show()
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// `&`, `<` and `>` as entities (the freedesktop body markup's escapes).
fn markup_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holder::Holder;

    fn change(dir: &str, old: Option<DirState>, new: DirState, cause: Cause) -> Change {
        Change {
            dir: dir.into(),
            lock_file: format!("{dir}/.certbot.lock").into(),
            old,
            new,
            diagnosis: Default::default(),
            at: SystemTime::UNIX_EPOCH,
            cause,
        }
    }

    fn held(pid: u32) -> DirState {
        DirState::Lock(LockState::Held(Holder {
            pid: Some(pid),
            command: Some("certbot renew".into()),
        }))
    }

    const FREE: DirState = DirState::Lock(LockState::Absent);

    #[test]
    fn a_long_hold_is_reported_once_and_again_after_a_new_hold() {
        let mut n = Notifier::default();
        let after = Duration::from_secs(600);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let dir = Path::new("/srv/le");
        let rows = |pid, since| {
            vec![HeldRow {
                dir,
                pid: Some(pid),
                command: Some("certbot\x1b renew"),
                since,
                waiting_for: Some("terminal input on /dev/pts/3"),
            }]
        };
        assert!(
            n.check_stuck(rows(7, t0), after, t0 + Duration::from_secs(599))
                .is_empty()
        );
        assert_eq!(
            Notifier::next_stuck([t0], after, t0 + Duration::from_secs(599)),
            Some(Duration::from_secs(1))
        );
        let notices = n.check_stuck(rows(7, t0), after, t0 + Duration::from_secs(600));
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].summary, "certbot may be stuck");
        assert_eq!(
            notices[0].body,
            "/srv/le held for 10 min by pid 7 (certbot\\e renew), waiting for terminal input on \
             /dev/pts/3"
        );
        assert!(
            n.check_stuck(rows(7, t0), after, t0 + Duration::from_secs(900))
                .is_empty(),
            "once per hold"
        );
        // Another holder took over without a gap: its own long hold is reported too.
        assert_eq!(
            n.check_stuck(rows(8, t0), after, t0 + Duration::from_secs(901))
                .len(),
            1
        );
        // Released, then held again by the same pid: reported again once it is long.
        n.on_change(
            &change("/srv/le", Some(held(8)), FREE, Cause::FsEvent),
            false,
        );
        let t1 = t0 + Duration::from_secs(1000);
        assert_eq!(
            n.check_stuck(rows(8, t1), after, t1 + Duration::from_secs(601))
                .len(),
            1
        );
    }

    #[test]
    fn background_changes_are_batched_and_skip_first_looks_and_own_actions() {
        let mut n = Notifier::default();
        let t = Instant::now();
        n.on_change(&change("/a", None, held(9), Cause::Initial), true);
        n.on_change(&change("/a", Some(FREE), held(9), Cause::Action), true);
        n.on_change(&change("/a", Some(FREE), held(9), Cause::FsEvent), false);
        assert_eq!(n.take_batch(t), None, "nothing to report");
        n.on_change(&change("/a", Some(FREE), held(9), Cause::FsEvent), true);
        let first = n.take_batch(t).unwrap();
        assert_eq!(first.summary, "Lock state changed");
        assert_eq!(first.body, "/a: Held by pid 9: certbot renew");
        // Within the gap: held back, then sent as one.
        for i in 0..7 {
            n.on_change(
                &change(&format!("/d{i}"), Some(held(9)), FREE, Cause::Poll),
                true,
            );
        }
        assert_eq!(n.take_batch(t + Duration::from_secs(1)), None);
        assert_eq!(
            n.batch_wait(t + Duration::from_secs(1)),
            Some(Duration::from_secs(4))
        );
        let batch = n.take_batch(t + BATCH_GAP).unwrap();
        assert_eq!(batch.summary, "7 lock state changes");
        assert_eq!(batch.body.lines().count(), 6, "{}", batch.body);
        assert!(batch.body.ends_with("and 2 more"), "{}", batch.body);
        // Focus drops what waited: the window shows it.
        n.on_change(&change("/a", Some(held(9)), FREE, Cause::Poll), true);
        n.focused();
        assert_eq!(n.take_batch(t + 2 * BATCH_GAP), None);
    }

    #[test]
    fn markup_is_escaped_for_the_notification_server() {
        assert_eq!(
            markup_escape("/srv/<b>x</b> & co"),
            "/srv/&lt;b&gt;x&lt;/b&gt; &amp; co"
        );
    }
}
