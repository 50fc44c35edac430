//! Helpers shared by the watch-list unit tests.

use super::{Loaded, Settings, State, Store, WatchList};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

pub(super) fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

pub(super) fn abs(s: &str) -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(format!(
            r"C:\{}",
            s.trim_start_matches('/').replace('/', "\\")
        ))
    } else {
        PathBuf::from(s)
    }
}

pub(super) fn sample() -> State {
    let mut state = State::default();
    state
        .insert(WatchList::new("certbot", [abs("/etc/letsencrypt"), abs("/var/lib/x")]).unwrap())
        .unwrap();
    state.create("empty").unwrap();
    state
        .insert(WatchList::new("web", [abs("/etc/nginx")]).unwrap())
        .unwrap();
    state.switch("web").unwrap();
    state
        .set_settings(Settings {
            interval: Duration::from_millis(1500),
            lock_name: ".other.lock".into(),
        })
        .unwrap();
    state
}

pub(super) fn names(state: &State) -> Vec<&str> {
    state.lists().iter().map(|l| l.name.as_str()).collect()
}

pub(super) fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("config"));
    (dir, store)
}

/// Writes `bytes` as the store's file and loads it.
pub(super) fn load_bytes(bytes: &[u8]) -> (tempfile::TempDir, Store, Loaded) {
    let (dir, store) = store();
    fs::create_dir_all(store.dir()).unwrap();
    fs::write(store.file(), bytes).unwrap();
    let loaded = store.load().expect("load must not fail on bad content");
    (dir, store, loaded)
}

pub(super) fn backups(store: &Store) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".bak"))
        .collect();
    names.sort();
    names
}
