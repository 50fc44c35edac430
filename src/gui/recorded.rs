//! The flight recorder's history (what `lockscope record` kept) for the timeline and the details
//! pane: read on a thread of its own from the first history file there is (the system
//! recorder's, then this user's), for the rows' directories and the timeline's window.
//!
//! Cached facts and where they are checked again: the open file is kept while its path still
//! names the same file (stat'ed at every look); its content is read again only when SQLite's
//! `data_version` says the recorder committed since, or the window or the directories changed.
//! A load is sent to the UI only when it differs from the last one, so an idle app is not woken.

use super::workers::{Events, WorkerEvent};
use crate::history::{Hold, Refused, Store};
use jiff::Timestamp;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

/// How often the file is looked at for new events.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// At most this many holds (and as many refused attempts) per directory and window: the latest.
pub const MAX_EVENTS: usize = 20_000;

/// What the views want: these directories' events in `since..until` (`None`: up to now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedWindow {
    pub dirs: Vec<PathBuf>,
    pub since: Timestamp,
    pub until: Option<Timestamp>,
}

/// One directory's recorded events in the window, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirRecord {
    pub holds: Vec<Hold>,
    pub refused: Vec<Refused>,
    /// More happened in the window than [`MAX_EVENTS`]: only the latest are here.
    pub cut: bool,
}

/// What was read: from which file, for which window, or why nothing could be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedLoad {
    /// The history file read; `None` when there is none (no recorder has run).
    pub store: Option<PathBuf>,
    pub window: Option<RecordedWindow>,
    pub dirs: HashMap<PathBuf, DirRecord>,
    /// Why the file could not be read (permissions, a newer schema).
    pub error: Option<String>,
}

impl RecordedLoad {
    /// `dir`'s events, if the history has any there.
    pub fn dir(&self, dir: &std::path::Path) -> Option<&DirRecord> {
        self.dirs
            .get(dir)
            .filter(|d| !d.holds.is_empty() || !d.refused.is_empty())
    }
}

/// The reader's thread. Dropping this ends it at its next look (it is never joined: no read of
/// a file may hold up the app's exit).
pub struct HistoryReader {
    tx: Sender<RecordedWindow>,
}

impl HistoryReader {
    /// Reads from the first of `stores` that exists (looked for again at every look, so a
    /// recorder started later is found). Loads arrive as [`WorkerEvent::Recorded`].
    pub fn start(events: Events, stores: Vec<PathBuf>) -> HistoryReader {
        let (tx, rx) = mpsc::channel::<RecordedWindow>();
        let spawned = std::thread::Builder::new()
            .name("lockscope-history".into())
            .spawn(move || {
                let mut reader = Reader {
                    stores,
                    open: None,
                    read: None,
                    sent: RecordedLoad::default(),
                };
                let mut window: Option<RecordedWindow> = None;
                loop {
                    match rx.recv_timeout(LOOK_EVERY) {
                        Ok(asked) => window = Some(rx.try_iter().last().unwrap_or(asked)),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let Some(window) = &window else { continue };
                    if let Some(load) = reader.look(window) {
                        events.send(WorkerEvent::Recorded(load));
                    }
                }
            });
        if spawned.is_err() {
            // Without the thread the app has no recorded history; the live timeline still works.
            let (tx, _) = mpsc::channel();
            return HistoryReader { tx };
        }
        HistoryReader { tx }
    }

    /// Asks for `window` (the reader answers once, then whenever the recorder adds to it).
    pub fn want(&self, window: RecordedWindow) {
        let _ = self.tx.send(window);
    }
}

struct Reader {
    stores: Vec<PathBuf>,
    /// The file open now, with its identity when opened.
    open: Option<(PathBuf, FileIdentity, Store)>,
    /// What the last read was of: the file, its data version and the window.
    read: Option<(PathBuf, i64, RecordedWindow)>,
    sent: RecordedLoad,
}

/// A file's identity: its (device, inode) where the platform has one, else its creation time
/// (a history deleted and made again under the same name is another file).
type FileIdentity = (Option<(u64, u64)>, Option<std::time::SystemTime>);

fn identity(path: &std::path::Path) -> Option<FileIdentity> {
    let created = std::fs::metadata(path).ok()?.created().ok();
    Some((crate::sys::file_id(path), created))
}

impl Reader {
    /// Reads what is new for `window`; `Some` when the answer differs from the last one sent.
    fn look(&mut self, window: &RecordedWindow) -> Option<RecordedLoad> {
        let load = self.load(window);
        if load == self.sent {
            return None;
        }
        self.sent = load.clone();
        Some(load)
    }

    fn load(&mut self, window: &RecordedWindow) -> RecordedLoad {
        let Some(path) = self.stores.iter().find(|p| p.is_file()).cloned() else {
            self.open = None;
            self.read = None;
            return RecordedLoad::default();
        };
        let id = identity(&path);
        let still_open = self
            .open
            .as_ref()
            .is_some_and(|(p, open_id, _)| *p == path && Some(*open_id) == id);
        if !still_open {
            self.open = None;
            self.read = None;
            match Store::open_read_only(&path) {
                Ok(store) => self.open = Some((path.clone(), id.unwrap_or((None, None)), store)),
                Err(e) => {
                    return RecordedLoad {
                        store: Some(path),
                        error: Some(e.to_string()),
                        ..RecordedLoad::default()
                    };
                }
            }
        }
        let Some((_, _, store)) = &self.open else {
            return RecordedLoad::default();
        };
        let version = store.data_version().unwrap_or(-1);
        let unchanged = self
            .read
            .as_ref()
            .is_some_and(|(p, v, w)| *p == path && *v == version && w == window);
        if unchanged {
            return self.sent.clone();
        }
        let mut load = RecordedLoad {
            store: Some(path.clone()),
            window: Some(window.clone()),
            ..RecordedLoad::default()
        };
        for dir in &window.dirs {
            let holds = store.latest_holds(dir, Some(window.since), window.until, Some(MAX_EVENTS));
            let refused =
                store.latest_refused(dir, Some(window.since), window.until, Some(MAX_EVENTS));
            match (holds, refused) {
                (Ok(holds), Ok(refused)) => {
                    let cut = holds.len() >= MAX_EVENTS || refused.len() >= MAX_EVENTS;
                    load.dirs.insert(
                        dir.clone(),
                        DirRecord {
                            holds,
                            refused,
                            cut,
                        },
                    );
                }
                (Err(e), _) | (_, Err(e)) => {
                    load.error = Some(e.to_string());
                    break;
                }
            }
        }
        self.read = Some((path, version, window.clone()));
        load
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{EndedBy, Recorded, Source};

    fn hold(dir: &std::path::Path, pid: u32, start_s: i64) -> Hold {
        Hold {
            dir: dir.to_path_buf(),
            pid: Some(pid),
            command: Some("certbot renew".into()),
            user: None,
            start: Timestamp::from_second(start_s).unwrap(),
            start_seen: true,
            end: None,
            ended_by: None,
            source: Source::Kernel,
        }
    }

    /// The reader answers once per change: nothing new (no commit, same window) wakes nobody;
    /// a recorder's commit or another window is read again; a history replaced under the same
    /// name is reopened.
    #[test]
    fn a_look_answers_only_when_something_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("history.db");
        let dir = PathBuf::from("/etc/letsencrypt");
        let mut writer = Store::open(&path).unwrap();
        let first = hold(&dir, 812, 1_000_000);
        writer.record(&Recorded::Began(first.clone())).unwrap();
        let mut reader = Reader {
            stores: vec![tmp.path().join("missing.db"), path.clone()],
            open: None,
            read: None,
            sent: RecordedLoad::default(),
        };
        let window = RecordedWindow {
            dirs: vec![dir.clone()],
            since: Timestamp::from_second(999_000).unwrap(),
            until: None,
        };
        let load = reader.look(&window).expect("the first look answers");
        assert_eq!(load.store.as_deref(), Some(path.as_path()));
        assert_eq!(load.dir(&dir).unwrap().holds, vec![first.clone()]);
        assert!(reader.look(&window).is_none(), "nothing new");

        let end = Timestamp::from_second(1_000_030).unwrap();
        writer
            .record(&Recorded::Ended(first.ended(end, EndedBy::Released)))
            .unwrap();
        let load = reader.look(&window).expect("the recorder committed");
        assert_eq!(load.dir(&dir).unwrap().holds[0].end, Some(end));

        let later = RecordedWindow {
            since: Timestamp::from_second(1_000_100).unwrap(),
            ..window.clone()
        };
        let load = reader.look(&later).expect("another window");
        assert!(load.dir(&dir).is_none(), "nothing in the later window");

        drop(writer);
        std::fs::remove_file(&path).unwrap();
        let mut writer = Store::open(&path).unwrap();
        writer
            .record(&Recorded::Began(hold(&dir, 955, 1_000_200)))
            .unwrap();
        let load = reader.look(&later).expect("a new file at the same path");
        assert_eq!(load.dir(&dir).unwrap().holds[0].pid, Some(955));
    }
}
