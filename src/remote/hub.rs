//! Many hosts whose directories come and go (the app's watch list): one [`RemoteWatch`] per
//! host, started again with the host's new set of directories when it changes. Changes that
//! come together (a list being loaded) are gathered for a moment first, so that they cost one
//! new connection, not one each.

use super::operand::{Host, RemoteDir};
use super::ssh::Ssh;
use super::watch::{RemoteEvent, RemoteWatch, WatchOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long changes are gathered before a host's watch is started again.
pub const SETTLE: Duration = Duration::from_millis(100);

enum Command {
    Add(RemoteDir),
    Remove(RemoteDir),
    Options(WatchOptions),
}

/// Watches remote directories on any number of hosts; every event goes to one sink (on the
/// hub's threads). Dropping it stops every watch (ssh is killed; nothing is joined).
pub struct RemoteMonitor {
    commands: mpsc::Sender<Command>,
}

impl RemoteMonitor {
    /// Starts an empty hub. `ssh_for` gives each host's ssh settings (the app keeps a remote
    /// command per host); `options` apply to every host.
    pub fn start(
        ssh_for: impl Fn(&Host) -> Ssh + Send + 'static,
        options: WatchOptions,
        sink: impl FnMut(RemoteEvent) + Send + 'static,
    ) -> RemoteMonitor {
        let (commands, inbox) = mpsc::channel();
        let sink: Arc<Mutex<dyn FnMut(RemoteEvent) + Send>> = Arc::new(Mutex::new(sink));
        std::thread::Builder::new()
            .name("remote hub".into())
            .spawn(move || run(inbox, ssh_for, options, sink))
            .ok();
        RemoteMonitor { commands }
    }

    /// Watches `dir` too (no effect if it is watched already).
    pub fn add(&self, dir: RemoteDir) {
        let _ = self.commands.send(Command::Add(dir));
    }

    /// Stops watching `dir`.
    pub fn remove(&self, dir: RemoteDir) {
        let _ = self.commands.send(Command::Remove(dir));
    }

    /// New interval or lock name: every host's watch starts again.
    pub fn set_options(&self, options: WatchOptions) {
        let _ = self.commands.send(Command::Options(options));
    }
}

fn run(
    inbox: mpsc::Receiver<Command>,
    ssh_for: impl Fn(&Host) -> Ssh,
    mut options: WatchOptions,
    sink: Arc<Mutex<dyn FnMut(RemoteEvent) + Send>>,
) {
    let mut dirs: BTreeMap<Host, BTreeSet<String>> = BTreeMap::new();
    let mut watches: BTreeMap<Host, RemoteWatch> = BTreeMap::new();
    loop {
        // Block for the first command, then gather what follows within SETTLE.
        let Ok(first) = inbox.recv() else { return };
        let mut changed: BTreeSet<Host> = BTreeSet::new();
        let mut apply = |command: Command, changed: &mut BTreeSet<Host>| match command {
            Command::Add(d) => {
                if dirs.entry(d.host.clone()).or_default().insert(d.dir) {
                    changed.insert(d.host);
                }
            }
            Command::Remove(d) => {
                if dirs.get_mut(&d.host).is_some_and(|set| set.remove(&d.dir)) {
                    changed.insert(d.host);
                }
            }
            Command::Options(o) => {
                options = o;
                changed.extend(dirs.keys().cloned());
            }
        };
        apply(first, &mut changed);
        loop {
            match inbox.recv_timeout(SETTLE) {
                Ok(command) => apply(command, &mut changed),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        for host in changed {
            // The old connection goes first (its ssh is killed), then the new one starts.
            watches.remove(&host);
            let Some(set) = dirs.get(&host).filter(|s| !s.is_empty()) else {
                dirs.remove(&host);
                continue;
            };
            let sink = sink.clone();
            let watch = RemoteWatch::start(
                ssh_for(&host),
                host.clone(),
                set.iter().cloned().collect(),
                options.clone(),
                move |event| {
                    if let Ok(mut sink) = sink.lock() {
                        sink(event);
                    }
                },
            );
            watches.insert(host, watch);
        }
    }
}
