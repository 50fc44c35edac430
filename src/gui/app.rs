//! The app's state and the routing of messages between the window and the worker threads.
//!
//! One frame: [`LockscopeApp::pump`] drains the workers' event channel and the monitor's updates
//! into the state, the views paint it and push [`Intent`]s, then [`LockscopeApp::apply`] carries
//! the intents out (after painting, like rerun's `command_handling.rs`).

use super::intent::{Intent, Rows};
use super::model::{Model, OwnLock};
use super::notify::{DesktopNotices, HeldRow, NoticeSink, Notifier};
use super::remote_locks::RemoteLocks;
use super::state::{Answer, Ask, EndHolder, FilePrompt, Message, Snapshot, UiState};
use super::workers::{
    self, Diagnoses, DialogOutcome, EndEvent, Events, FolderPicker, LoadHook, LockOutcome, Locks,
    Notices, Resolved, StoreOutcome, StoreWorker, WorkerEvent,
};
use crate::monitor::{
    Cause, Change, DirState, LockState, Monitor, MonitorError, MonitorOptions, Update,
};
use crate::remote::{
    ConnectionState, Operand, RemoteDir, RemoteEvent, RemoteMonitor, RemoteRow, RemoteState, Ssh,
    WatchOptions,
};
use crate::terminate::{Outcome, Signal};
use crate::watchlist::{self, Settings, State, Store, WatchList};
use eframe::egui;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime};

/// How the app is set up (the binary passes the native dialog; tests pass their own).
pub struct AppConfig {
    /// Where the watch-list file lives.
    pub config_dir: PathBuf,
    /// A list to open at start instead of the last active one.
    pub open_list: Option<OpenList>,
    /// The folder and file dialogs (the native one, or a test's).
    pub picker: Arc<dyn FolderPicker>,
    /// Frame timing for benchmarks (`LOCKSCOPE_GUI_STATS`); `None` normally.
    pub stats: Option<super::stats::FrameStats>,
    /// Runs on the store thread before every watch-list load; `None` normally. Tests block in it
    /// to stand in for a config directory on a hung network filesystem, which nothing local
    /// reproduces (the store opens even a FIFO without blocking).
    pub before_load: Option<LoadHook>,
    /// The program "Open folder" runs with the directory as its argument; `None`: the
    /// system's (`xdg-open`, `open`, `explorer`). Tests pass their own.
    pub file_manager: Option<PathBuf>,
    /// Where desktop notifications go: the freedesktop service; tests pass their own.
    pub notices: Arc<dyn NoticeSink>,
    /// The ssh program and its options for `HOST:DIR` rows (as `LOCKSCOPE_SSH_COMMAND`);
    /// `None`: `ssh`. [`AppConfig::new`] reads the environment variable.
    pub ssh_command: Option<String>,
    /// The program run on remote hosts; `None`: `lockscope`.
    pub remote_command: Option<String>,
}

impl AppConfig {
    /// The usual setup: the last active list, no frame stats.
    pub fn new(config_dir: impl Into<PathBuf>, picker: Arc<dyn FolderPicker>) -> AppConfig {
        AppConfig {
            config_dir: config_dir.into(),
            open_list: None,
            picker,
            stats: None,
            notices: Arc::new(DesktopNotices),
            before_load: None,
            file_manager: None,
            ssh_command: std::env::var(crate::remote::SSH_COMMAND_ENV).ok(),
            remote_command: None,
        }
    }
}

/// `--watchlist NAME|FILE`, decided by the caller (the UI thread does not stat paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenList {
    /// A saved list's name.
    Name(String),
    /// A watch-list file to import and open.
    File(PathBuf),
}

/// The app: its state, the workers it talks to, and the intents its views pushed.
pub struct LockscopeApp {
    model: Model,
    /// What the views edit in place; partly saved across restarts.
    ui: UiState,
    monitor: Monitor,
    /// The monitor's own channel (the library's; replaced with the monitor on new settings).
    updates: Receiver<Update>,
    /// Every worker's reports (locks, store, dialogs), on one channel.
    events: Receiver<WorkerEvent>,
    /// Its sending end, cloned into each dialog's thread.
    events_tx: Events,
    locks: Locks,
    store: StoreWorker,
    picker: Arc<dyn FolderPicker>,
    /// A dialog is open (at most one at a time).
    dialog_open: bool,
    wake: workers::Waker,
    /// The saved lists; `None` until loaded.
    lists: Option<State>,
    /// Saving is off when the lists file could not be read (never overwrite what we could not load).
    saving_disabled: bool,
    open_list: Option<OpenList>,
    settings: Settings,
    messages: Vec<Message>,
    stats: Option<super::stats::FrameStats>,
    /// Directories added before the lists finished loading; merged into the loaded list.
    pending_dirs: Vec<PathBuf>,
    /// The intents of the frame being painted (kept to reuse its allocation).
    intents: Vec<Intent>,
    /// Fresh diagnoses for the details pane.
    diagnoses: Diagnoses,
    /// The details pane's last request.
    details_asked: Option<DetailsAsked>,
    /// "End holder…" in progress.
    end: Option<EndHolder>,
    /// A question waiting for the user's answer.
    ask: Option<Ask>,
    /// Locks released for rows the app dropped (removed, or not in the list switched to): the
    /// row's last state and why, logged when the release is done.
    releasing: HashMap<PathBuf, (Option<DirState>, String)>,
    /// What "Open folder" runs.
    file_manager: PathBuf,
    /// The directories the last removal took away ("Undo remove").
    removed: Vec<PathBuf>,
    /// Desktop notifications: which are due (the active list says which kinds it wants) ...
    notifier: Notifier,
    /// ... and the thread that shows them.
    notices: Notices,
    /// How `HOST:DIR` rows are reached, or why they cannot be (a bad ssh command).
    ssh: Result<Ssh, String>,
    /// The remote rows' live state: one hub for every host, started with the first remote row.
    remote: Option<RemoteMonitor>,
    /// The app's locks on remote directories.
    remote_locks: RemoteLocks,
    /// The remote pid of each remote hold (its row's holder then is this app).
    remote_pids: HashMap<PathBuf, u32>,
    /// Hosts whose loss the banner has told (until they are connected again).
    lost_told: std::collections::HashSet<String>,
}

/// The details pane's last diagnosis request.
struct DetailsAsked {
    dir: PathBuf,
    at: Instant,
    /// No answer yet.
    pending: bool,
}

/// How often the details of a held, selected row are diagnosed again.
const DETAILS_REFRESH: Duration = Duration::from_secs(2);

impl LockscopeApp {
    /// Starts the monitor and the workers, and asks the store for the watch lists.
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        config: AppConfig,
    ) -> Result<LockscopeApp, MonitorError> {
        let ctx = cc.egui_ctx.clone();
        let wake: workers::Waker = Arc::new(move || ctx.request_repaint());
        let mut ui = UiState::load(cc.storage);
        cc.egui_ctx.set_theme(ui.theme.preference());
        let mut model = Model::default();
        model.set_sort(ui.sort, ui.sort_ascending);
        let settings = Settings::default();
        ui.interval_input = humantime::format_duration(settings.interval).to_string();
        ui.lock_name_input = settings.lock_name.clone();
        let (monitor, updates) = start_monitor(&settings, wake.clone())?;
        workers::watch_local_zone(wake.clone());
        let (events_tx, events) = Events::channel(wake.clone());
        let events_tx_for_notices = events_tx.clone();
        Ok(LockscopeApp {
            model,
            ui,
            monitor,
            updates,
            events,
            diagnoses: Diagnoses::start(events_tx.clone()),
            locks: Locks::start(events_tx.clone()),
            store: StoreWorker::start(
                Store::new(config.config_dir),
                config.before_load,
                events_tx.clone(),
            ),
            events_tx,
            picker: config.picker,
            dialog_open: false,
            wake,
            lists: None,
            saving_disabled: false,
            open_list: config.open_list,
            settings,
            messages: Vec::new(),
            stats: config.stats,
            pending_dirs: Vec::new(),
            intents: Vec::new(),
            details_asked: None,
            end: None,
            ask: None,
            releasing: HashMap::new(),
            file_manager: config
                .file_manager
                .unwrap_or_else(workers::default_file_manager),
            removed: Vec::new(),
            notifier: Notifier::default(),
            notices: Notices::start(config.notices, events_tx_for_notices.clone()),
            ssh: Ssh::new(
                config.ssh_command.as_deref(),
                config.remote_command.as_deref(),
            )
            .map_err(|e| e.to_string()),
            remote: None,
            remote_locks: RemoteLocks::start(events_tx_for_notices),
            remote_pids: HashMap::new(),
            lost_told: Default::default(),
        })
    }

    /// Applies everything the workers reported since the last frame. `focused`: whether the
    /// window has the focus (changes seen in the background may be notified).
    fn pump(&mut self, focused: bool) {
        let background_changes = !focused
            && self
                .active_list()
                .is_some_and(|l| l.notify.background_changes);
        while let Ok(update) = self.updates.try_recv() {
            match update {
                Update::Change(change) => {
                    self.notifier.on_change(&change, background_changes);
                    self.model.apply(change)
                }
                Update::Notice(text) => self.tell(text, false),
            }
        }
        while let Ok(event) = self.events.try_recv() {
            match event {
                WorkerEvent::Lock(outcome) => self.on_lock_outcome(outcome),
                WorkerEvent::Store(outcome) => self.on_store_outcome(outcome),
                WorkerEvent::Dialog(answer) => {
                    self.dialog_open = false;
                    match answer {
                        Some(outcome) => self.on_dialog(outcome),
                        None => self.no_dialog_hint(),
                    }
                }
                WorkerEvent::Diagnosed { dir, fresh } => {
                    if let Some(asked) = self.details_asked.as_mut().filter(|a| a.dir == dir) {
                        asked.pending = false;
                    }
                    self.model.set_fresh(&dir, fresh);
                }
                WorkerEvent::End(event) => self.on_end_event(event),
                WorkerEvent::Resolved(resolved) => self.add_resolved(resolved),
                WorkerEvent::Opened { dir, error } => {
                    if let Some(e) = error {
                        self.tell(format!("could not open {}: {e}", dir.display()), true);
                    }
                }
                WorkerEvent::NoticeFailed(e) => {
                    self.tell(format!("desktop notifications cannot be shown: {e}"), true)
                }
                WorkerEvent::Remote(event) => self.on_remote_event(event, background_changes),
                WorkerEvent::RemoteHoldEnded { dir, error } => {
                    self.on_remote_hold_ended(dir, error)
                }
            }
        }
    }

    /// Carries out what the views asked for this frame.
    fn apply(&mut self, intent: Intent, ctx: &egui::Context) {
        match intent {
            Intent::AddDirs(paths) => self.resolve_and_add(paths),
            Intent::AddTypedPaths(text) => self.add_typed_paths(&text),
            Intent::AddCertbotDefaults => self.add_dirs(watchlist::certbot_defaults()),
            Intent::PickFolders => self.open_folder_dialog(),
            Intent::RemoveSelected => self.ask_remove_selected(),
            Intent::Remove(dir) => self.remove(vec![dir]),
            Intent::UndoRemove => {
                let dirs = std::mem::take(&mut self.removed);
                self.add_dirs(dirs);
            }
            Intent::Toggle(rows) => {
                let dirs = self.dirs_of(rows);
                let (release, acquire): (Vec<PathBuf>, Vec<PathBuf>) = dirs
                    .into_iter()
                    .partition(|d| self.model.row(d).is_some_and(|r| r.can_release()));
                self.release(&release);
                self.acquire(&acquire, None, true);
            }
            Intent::OpenFolder(dir) => {
                if !workers::open_folder(&self.events_tx, self.file_manager.clone(), dir) {
                    self.tell("could not start a thread to open the folder", true);
                }
            }
            Intent::MoveCursor { by, extend } => {
                self.ui.scroll_to = self.model.move_cursor(by, extend);
            }
            Intent::SelectAll => self.model.select_all(),
            Intent::ClearSelection => self.model.clear_selection(),
            Intent::Resort => self.model.resort(),
            Intent::Acquire(rows, hold_for) => {
                let bulk = rows == Rows::Selected;
                let dirs = self.dirs_of(rows);
                self.acquire(&dirs, hold_for, bulk);
            }
            Intent::Release(rows) => {
                let dirs = self.dirs_of(rows);
                self.release(&dirs);
            }
            Intent::Click {
                dir,
                toggle,
                extend,
            } => self.model.click(&dir, toggle, extend),
            Intent::SortBy(key) => self.model.sort_by(key),
            Intent::Filter(text) => self.model.set_filter(&text),
            Intent::SwitchList(name) => self.ask_switch_list(name),
            Intent::CreateList(name) => {
                self.create_list(&name);
                self.ui.list_name_input.clear();
            }
            Intent::RenameList(name) => {
                self.rename_active_list(&name);
                self.ui.list_name_input.clear();
            }
            Intent::DeleteList => self.ask_delete_active_list(),
            Intent::Import => self.open_import_dialog(),
            Intent::Export => self.open_export_dialog(),
            Intent::SubmitFilePrompt => self.submit_file_prompt(),
            Intent::CancelFilePrompt => self.ui.file_prompt = None,
            Intent::SetNotifications {
                stuck_after,
                background_changes,
            } => self.set_notifications(stuck_after.as_deref(), background_changes),
            Intent::ApplySettings {
                interval,
                lock_name,
            } => self.ask_apply_settings(interval, lock_name),
            Intent::Answer(answer) => self.answer(answer),
            Intent::CopyText(text) => ctx.copy_text(text),
            Intent::DismissMessage(i) => {
                if i < self.messages.len() {
                    self.messages.remove(i);
                }
            }
            Intent::DismissHint => self.ui.hint = None,
            Intent::EndHolder(dir) => self.ask_end_holder(dir),
            Intent::ConfirmEnd => {
                if let Some(EndHolder::Confirm { dir, target }) = self.end.take() {
                    let grace = Duration::from_secs(self.ui.end_grace_secs.into());
                    self.start_ending(dir, target, Signal::term(), grace);
                }
            }
            Intent::KillHolder => {
                if let Some(EndHolder::StillHeld { dir, target, grace }) = self.end.take() {
                    self.start_ending(dir, target, Signal::kill(), grace);
                }
            }
            Intent::CancelEnd => {
                if matches!(
                    self.end,
                    Some(EndHolder::Confirm { .. } | EndHolder::StillHeld { .. })
                ) {
                    self.end = None;
                }
            }
            Intent::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }

    fn dirs_of(&mut self, rows: Rows) -> Vec<PathBuf> {
        match rows {
            Rows::Selected => self.model.selected_dirs(),
            Rows::One(dir) => vec![dir],
        }
    }

    fn tell(&mut self, text: impl Into<String>, is_error: bool) {
        self.messages.push(Message {
            text: text.into(),
            is_error,
        });
    }

    fn on_lock_outcome(&mut self, outcome: LockOutcome) {
        const ORPHANED: &str = "the lock file was removed or replaced while this app held it: \
            the lock no longer excludes certbot (release it)";
        let dir = match &outcome {
            LockOutcome::Held { dir, .. }
            | LockOutcome::Refused { dir, .. }
            | LockOutcome::Released { dir, .. }
            | LockOutcome::Orphaned { dir } => dir.clone(),
        };
        let error = match (&outcome, self.model.row_mut(&dir)) {
            (
                LockOutcome::Held {
                    until, remote_pid, ..
                },
                Some(row),
            ) => {
                row.own = OwnLock::Held { until: *until };
                row.refusal = None;
                if let Some(pid) = remote_pid {
                    self.remote_pids.insert(dir.clone(), *pid);
                }
                None
            }
            (LockOutcome::Refused { reason, .. }, Some(row)) => {
                row.own = OwnLock::None;
                row.refusal = Some(reason.clone());
                None
            }
            (LockOutcome::Released { error, .. }, Some(row)) => {
                self.remote_pids.remove(&dir);
                row.own = OwnLock::None;
                row.orphaned = false;
                row.release_asked = false;
                error.clone()
            }
            (LockOutcome::Orphaned { .. }, Some(row)) => {
                row.orphaned = true;
                Some(ORPHANED.to_string())
            }
            // A row removed meanwhile: a lock taken for it is not wanted any more.
            (LockOutcome::Held { .. }, None) => {
                self.release_lock(&dir);
                None
            }
            // A row the app dropped: its release is logged here (the monitor no longer
            // watches it).
            (LockOutcome::Released { error, .. }, None) => {
                if let Some((old, why)) = self.releasing.remove(&dir) {
                    self.model.log_action(
                        dir.clone(),
                        old,
                        DirState::Lock(LockState::Absent),
                        format!("released by this app: {why}"),
                    );
                }
                error.clone()
            }
            _ => None,
        };
        if let LockOutcome::Held {
            remote_pid: Some(_),
            ..
        } = &outcome
            && let Some(last) = self.model.row(&dir).and_then(|r| r.remote.clone())
        {
            // The remote watch may have seen the hold before its answer came: it is ours.
            self.on_remote_row((*last).clone(), false);
        }
        match (&outcome, error) {
            (LockOutcome::Orphaned { .. }, Some(e)) => {
                self.tell(format!("{}: {e}", dir.display()), true);
            }
            (_, Some(e)) => self.tell(format!("released {}, but: {e}", dir.display()), true),
            (_, None) => {}
        }
        let kept = self
            .model
            .row(&dir)
            .filter(|r| r.own == OwnLock::None)
            .and_then(|r| r.kept_from.clone());
        if let (LockOutcome::Released { .. }, Some(from)) = (&outcome, kept) {
            // A row kept from another list only while the app held its lock.
            let old = self.model.row(&dir).and_then(|r| r.state.clone());
            self.model.log_action(
                dir.clone(),
                old,
                DirState::Lock(LockState::Absent),
                format!(
                    "released by this app; not in this list (kept from {from:?}), no longer watched"
                ),
            );
            self.model.remove(&dir);
            self.unwatch(&dir);
            return;
        }
        self.recheck(&dir);
    }

    fn on_store_outcome(&mut self, outcome: StoreOutcome) {
        match outcome {
            StoreOutcome::Loaded(Ok(loaded)) => {
                for warning in &loaded.warnings {
                    self.tell(warning.to_string(), false);
                }
                self.lists_loaded(loaded.state);
            }
            StoreOutcome::Loaded(Err(e)) => {
                self.saving_disabled = true;
                self.tell(format!("{e}; changes will not be saved this session"), true);
                self.lists_loaded(State::default());
            }
            StoreOutcome::Saved(Err(e)) => {
                self.tell(format!("could not save the watch lists: {e}"), true)
            }
            StoreOutcome::Saved(Ok(())) => {}
            StoreOutcome::Imported(Ok(list)) => self.add_list(list),
            StoreOutcome::Imported(Err(e)) => self.tell(format!("import failed: {e}"), true),
            StoreOutcome::Exported(path, Ok(())) => {
                self.tell(format!("exported to {}", path.display()), false)
            }
            StoreOutcome::Exported(_, Err(e)) => self.tell(format!("export failed: {e}"), true),
        }
    }

    fn lists_loaded(&mut self, mut state: State) {
        match self.open_list.take() {
            Some(OpenList::File(path)) => self.store.import(path),
            // `certbot` is the built-in preset unless a saved list has that name, as for
            // `serve --watchlist certbot`; it needs no file (one that cannot be read included).
            Some(OpenList::Name(name))
                if name == crate::watchlist::CERTBOT_PRESET_NAME
                    && state.get(&name).is_none()
                    && state
                        .insert(crate::watchlist::WatchList::certbot_preset())
                        .and_then(|()| state.switch(&name))
                        .is_ok() => {}
            Some(OpenList::Name(name)) if state.switch(&name).is_err() => {
                self.tell(format!("no saved watch list named {name:?}"), true);
            }
            Some(OpenList::Name(_)) | None => {}
        }
        if state.lists().is_empty() {
            // First run: one empty list to add directories to.
            let _ = state.create("default");
        }
        let settings = state.settings().clone();
        self.lists = Some(state);
        self.apply_settings(settings);
        self.show_active_list(None, "");
        let pending = std::mem::take(&mut self.pending_dirs);
        if !pending.is_empty() {
            self.add_dirs(pending);
        }
    }

    /// Rows become the active list's directories. Rows the app holds a lock for stay (marked as
    /// kept from list `keep_from`) when `keep_from` is given; otherwise their locks are released
    /// and logged with `why`.
    fn show_active_list(&mut self, keep_from: Option<String>, why: &str) {
        // Another list's rows are not this one's to put back.
        self.removed.clear();
        let stuck_after = self
            .active_list()
            .and_then(|l| l.notify.stuck_after)
            .unwrap_or(watchlist::DEFAULT_STUCK_AFTER);
        self.ui.stuck_after_input = humantime::format_duration(stuck_after).to_string();
        let dirs = self
            .lists
            .as_ref()
            .and_then(State::active)
            .map(|l| l.dirs.clone())
            .unwrap_or_default();
        let gone: Vec<PathBuf> = self
            .model
            .rows()
            .iter()
            .filter(|r| !dirs.contains(&r.dir))
            .map(|r| r.dir.clone())
            .collect();
        for dir in gone {
            if let (Some(from), Some(row)) = (&keep_from, self.model.row_mut(&dir))
                && row.own != OwnLock::None
            {
                row.kept_from.get_or_insert_with(|| from.clone());
                continue;
            }
            self.drop_row(&dir, why);
        }
        for dir in dirs {
            if self.model.add(dir.clone()) {
                self.watch(dir);
            } else if let Some(row) = self.model.row_mut(&dir) {
                row.kept_from = None;
            }
        }
    }

    // ---- local and remote rows -------------------------------------------------------------

    /// Starts watching a row's directory: the local monitor, or the remote hub (started now if
    /// this is the first remote row).
    fn watch(&mut self, dir: PathBuf) {
        let Some(remote) = remote_dir(&dir) else {
            self.monitor.add(dir);
            return;
        };
        match self.remote_monitor() {
            Ok(hub) => hub.add(remote),
            Err(e) => {
                let change = remote_change(
                    &self.model,
                    dir,
                    &self.settings.lock_name,
                    DirState::Unknown(format!("cannot reach remote hosts: {e}")),
                    None,
                );
                self.model.apply(change);
            }
        }
    }

    fn unwatch(&mut self, dir: &Path) {
        match remote_dir(dir) {
            None => self.monitor.remove(dir),
            Some(remote) => {
                if let Some(hub) = &self.remote {
                    hub.remove(remote);
                }
            }
        }
    }

    /// A fresh look after the app's own lock action (the remote watch sees it by itself).
    fn recheck(&mut self, dir: &Path) {
        if remote_dir(dir).is_none() {
            self.monitor.recheck(dir);
        }
    }

    fn release_lock(&mut self, dir: &Path) {
        if remote_dir(dir).is_some() {
            self.remote_locks.release(&dir.to_path_buf());
        } else {
            self.locks.release(dir);
        }
    }

    fn remote_options(&self) -> WatchOptions {
        WatchOptions {
            interval: self.settings.interval,
            lock_name: self.settings.lock_name.clone(),
        }
    }

    /// The remote hub, started on first use; its events come on the workers' channel.
    fn remote_monitor(&mut self) -> Result<&RemoteMonitor, String> {
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
    fn on_remote_event(&mut self, event: RemoteEvent, background_changes: bool) {
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
    fn on_remote_row(&mut self, remote: RemoteRow, background_changes: bool) {
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

    fn on_remote_hold_ended(&mut self, dir: PathBuf, error: Option<String>) {
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

    /// Drops a row; a lock the app holds for it is released, and the release logged with `why`.
    fn drop_row(&mut self, dir: &Path, why: &str) {
        if let Some(row) = self.model.remove(dir) {
            if row.own != OwnLock::None {
                self.release_lock(dir);
                self.releasing
                    .insert(dir.to_path_buf(), (row.state.clone(), why.to_string()));
            }
            self.unwatch(dir);
        }
    }

    /// How many of the app's locks (held or being taken) are on rows `keep` does not want.
    fn held_outside(&self, keep: &[PathBuf]) -> usize {
        self.model
            .rows()
            .iter()
            .filter(|r| r.own != OwnLock::None && !keep.contains(&r.dir))
            .count()
    }

    /// Carries out what was asked, as answered.
    fn answer(&mut self, answer: Answer) {
        let Some(ask) = self.ask.take() else {
            return;
        };
        if answer == Answer::Cancel {
            return;
        }
        let keep = answer == Answer::Keep;
        match ask {
            Ask::SwitchList { to, .. } => self.switch_list(&to, keep),
            Ask::DeleteList { name, .. } => self.delete_list(&name, keep),
            Ask::Remove { dirs, .. } => self.remove(dirs),
            Ask::LockName {
                interval,
                lock_name,
                ..
            } => {
                let held: Vec<PathBuf> = self
                    .model
                    .rows()
                    .iter()
                    .filter(|r| r.own != OwnLock::None)
                    .map(|r| r.dir.clone())
                    .collect();
                for dir in held {
                    self.release_lock(&dir);
                    if let Some(row) = self.model.row_mut(&dir) {
                        row.release_asked = true;
                    }
                }
                self.apply_settings_inputs(&interval, &lock_name);
            }
        }
    }

    /// Restarts the monitor when the interval or lock name changed.
    fn apply_settings(&mut self, settings: Settings) {
        self.ui.interval_input = humantime::format_duration(settings.interval).to_string();
        self.ui.lock_name_input = settings.lock_name.clone();
        if settings == self.settings {
            return;
        }
        let (monitor, updates) = match start_monitor(&settings, self.wake.clone()) {
            Ok(m) => m,
            Err(e) => {
                self.tell(format!("{e}; keeping the previous settings"), true);
                return;
            }
        };
        self.settings = settings;
        self.monitor = monitor;
        self.updates = updates;
        if let Some(remote) = &self.remote {
            remote.set_options(self.remote_options());
        }
        for dir in self.model.dirs() {
            if remote_dir(&dir).is_none() {
                self.monitor.add(dir);
            }
        }
    }

    fn save(&mut self) {
        if let (Some(state), false) = (&self.lists, self.saving_disabled) {
            self.store.save(state);
        }
    }

    /// Stores the rows as the active list's directories and saves.
    fn save_rows(&mut self) {
        // Rows kept from another list (held by the app) are not this list's.
        let dirs: Vec<PathBuf> = self
            .model
            .rows()
            .iter()
            .filter(|r| r.kept_from.is_none())
            .map(|r| r.dir.clone())
            .collect();
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        let Some(name) = state.active().map(|l| l.name.clone()) else {
            return;
        };
        if let Err(e) = state.set_dirs(&name, dirs) {
            self.tell(e.to_string(), true);
            return;
        }
        self.save();
    }

    // ---- what the user can do ----------------------------------------------------------

    /// Adds directories (typed, dropped, picked). Relative paths are made absolute, `~` expanded.
    fn add_dirs(&mut self, dirs: impl IntoIterator<Item = PathBuf>) {
        if self.lists.is_none() {
            // Still loading (a slow config directory): keep them for the list being loaded.
            self.pending_dirs
                .extend(dirs.into_iter().map(|d| normalize(&d)));
            return;
        }
        let mut added = false;
        let mut already = Vec::new();
        for dir in dirs {
            let dir = normalize(&dir);
            if dir.to_str().is_none() {
                self.tell(
                    format!(
                        "{} is not valid UTF-8: watch it with `lockscope watch`",
                        dir.display()
                    ),
                    true,
                );
                continue;
            }
            if self.model.add(dir.clone()) {
                self.watch(dir);
                added = true;
            } else if let Some(row) = self.model.row_mut(&dir)
                && row.kept_from.is_some()
            {
                // Kept from another list while held: now this list's too.
                row.kept_from = None;
                added = true;
            } else {
                already.push(dir.display().to_string());
            }
        }
        if added {
            self.save_rows();
        }
        if !already.is_empty() {
            self.tell(format!("already watched: {}", already.join(", ")), false);
        }
    }

    /// Typed or dropped paths: each resolved on a worker like `lockscope status` resolves it (a
    /// lock file means its directory), then added.
    fn resolve_and_add(&mut self, paths: Vec<PathBuf>) {
        let mut refused = Vec::new();
        let paths: Vec<PathBuf> = paths
            .iter()
            .filter(|p| match crate::remote::parse_operand(p.as_os_str()) {
                Ok(_) => true,
                Err(e) => {
                    refused.push(e.to_string());
                    false
                }
            })
            .map(|p| normalize(p))
            .collect();
        for why in refused {
            self.tell(why, true);
        }
        if paths.is_empty() {
            return;
        }
        let lock_name = self.settings.lock_name.clone();
        if !workers::resolve_paths(&self.events_tx, paths.clone(), lock_name.clone()) {
            // No thread: only what the name tells (a path named like the lock file).
            let dirs = paths
                .into_iter()
                .map(|p| match (p.file_name(), p.parent()) {
                    (Some(name), Some(parent)) if name == lock_name.as_str() => {
                        parent.to_path_buf()
                    }
                    _ => p,
                });
            self.add_dirs(dirs.collect::<Vec<_>>());
        }
    }

    fn add_resolved(&mut self, resolved: Vec<Resolved>) {
        for r in &resolved {
            let name = r.path.file_name().map(|n| n.to_string_lossy().into_owned());
            if let (true, Some(name)) = (r.was_file, name)
                && name != self.settings.lock_name
            {
                // Raw here: the banner escapes every message it shows.
                self.tell(
                    format!(
                        "{} is a file: watching its directory {} for the lock file {:?}                          (the lock file name in Settings applies to every directory)",
                        r.path.display(),
                        r.dir.display(),
                        self.settings.lock_name
                    ),
                    false,
                );
            }
        }
        self.add_dirs(resolved.into_iter().map(|r| r.dir).collect::<Vec<_>>());
    }

    /// The path field's text, on Enter or "Add".
    fn add_typed_paths(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.ui.path_input.clear();
        self.ui.hint = None;
        self.resolve_and_add(
            text.lines()
                .map(|l| PathBuf::from(l.trim()))
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
        );
    }

    /// "Remove selected": asks first (and says which locks it releases).
    fn ask_remove_selected(&mut self) {
        let dirs = self.model.selected_dirs();
        if dirs.is_empty() {
            return;
        }
        let held = self
            .model
            .rows()
            .iter()
            .filter(|r| r.own != OwnLock::None && dirs.contains(&r.dir))
            .count();
        self.ask = Some(Ask::Remove { dirs, held });
    }

    /// Removes rows (their locks released and logged); "Undo remove" puts them back.
    fn remove(&mut self, dirs: Vec<PathBuf>) {
        if dirs.is_empty() {
            return;
        }
        for dir in &dirs {
            self.drop_row(dir, "removed from the watch list");
        }
        self.removed = dirs;
        self.save_rows();
    }

    /// `bulk` ("Acquire selected"): the rows that cannot be taken are named in a message.
    fn acquire(&mut self, dirs: &[PathBuf], hold_for: Option<Duration>, bulk: bool) {
        let mut skipped = Vec::new();
        for dir in dirs {
            let Some(row) = self.model.row_mut(dir) else {
                continue;
            };
            if !row.can_acquire() {
                skipped.push(format!("{} ({})", dir.display(), row.acquire_blocker()));
                continue;
            }
            row.own = OwnLock::Pending;
            row.refusal = None;
            match (remote_dir(dir), &self.ssh) {
                (None, _) => self.locks.acquire(dir, &self.settings.lock_name, hold_for),
                (Some(remote), Ok(ssh)) => {
                    let lock_name = self.settings.lock_name.clone();
                    let (ssh, dir) = (ssh.clone(), dir.clone());
                    if !self
                        .remote_locks
                        .acquire(ssh, dir.clone(), remote, lock_name, hold_for)
                        && let Some(row) = self.model.row_mut(&dir)
                    {
                        row.own = OwnLock::None;
                        row.refusal = Some("could not start a thread for the remote hold".into());
                    }
                }
                (Some(_), Err(e)) => {
                    row.own = OwnLock::None;
                    row.refusal = Some(format!("cannot reach remote hosts: {e}"));
                }
            }
        }
        if bulk && !skipped.is_empty() {
            self.tell(format!("skipped {}", skipped.join(", ")), false);
        }
    }

    fn release(&mut self, dirs: &[PathBuf]) {
        for dir in dirs {
            if let Some(row) = self.model.row_mut(dir).filter(|r| r.can_release()) {
                row.release_asked = true;
                self.release_lock(dir);
            }
        }
    }

    fn open_folder_dialog(&mut self) {
        self.open_dialog(|p| {
            let started = Instant::now();
            let picked = p.pick_folders();
            DialogOutcome::Folders(picked, started.elapsed())
        });
    }

    fn open_import_dialog(&mut self) {
        self.open_dialog(|p| {
            let started = Instant::now();
            let picked = p.pick_file();
            DialogOutcome::ImportFile(picked, started.elapsed())
        });
    }

    fn open_export_dialog(&mut self) {
        let Some(name) = self.active_list().map(|l| l.name.clone()) else {
            return;
        };
        self.open_dialog(move |p| {
            let started = Instant::now();
            let file = p.save_file(&format!("{name}.toml"));
            DialogOutcome::ExportFile(name, file, started.elapsed())
        });
    }

    /// Runs a dialog on its thread unless one is open already.
    fn open_dialog(
        &mut self,
        job: impl FnOnce(&dyn FolderPicker) -> DialogOutcome + Send + 'static,
    ) {
        if self.dialog_open {
            return;
        }
        if workers::run_dialog(self.picker.clone(), self.events_tx.clone(), job) {
            self.dialog_open = true;
        } else {
            self.no_dialog_hint();
        }
    }

    fn on_dialog(&mut self, outcome: DialogOutcome) {
        match outcome {
            DialogOutcome::Folders(Some(dirs), _) => self.add_dirs(dirs),
            DialogOutcome::Folders(None, took) if took < workers::NO_DIALOG_WITHIN => {
                self.no_dialog_hint()
            }
            DialogOutcome::Folders(None, _) => {}
            DialogOutcome::ImportFile(Some(path), _) => self.store.import(path),
            DialogOutcome::ImportFile(None, took) if took < workers::NO_DIALOG_WITHIN => {
                self.file_prompt(None)
            }
            DialogOutcome::ImportFile(None, _) => {}
            DialogOutcome::ExportFile(name, Some(path), _) => self.export_to(&name, path),
            DialogOutcome::ExportFile(name, None, took) if took < workers::NO_DIALOG_WITHIN => {
                self.file_prompt(Some(name))
            }
            DialogOutcome::ExportFile(_, None, _) => {}
        }
    }

    fn export_to(&mut self, name: &str, path: PathBuf) {
        if let Some(list) = self.lists.as_ref().and_then(|s| s.get(name)).cloned() {
            self.store.export(list, path);
        }
    }

    /// No file dialog could be shown: the toolbar asks for the file's path instead.
    fn file_prompt(&mut self, export: Option<String>) {
        let input = match (&export, self.ui.file_prompt.take()) {
            (_, Some(old)) if old.export == export => old.input,
            _ => String::new(),
        };
        self.ui.file_prompt = Some(FilePrompt {
            export,
            input,
            focus: true,
        });
    }

    /// The prompt's typed path: `~` expanded, made absolute (lexically).
    fn submit_file_prompt(&mut self) {
        let Some(prompt) = self.ui.file_prompt.take() else {
            return;
        };
        let typed = prompt.input.trim();
        if typed.is_empty() {
            self.ui.file_prompt = Some(FilePrompt {
                focus: true,
                ..prompt
            });
            return;
        }
        let path = normalize(Path::new(typed));
        match prompt.export {
            None => self.store.import(path),
            Some(name) => self.export_to(&name, path),
        }
    }

    fn no_dialog_hint(&mut self) {
        self.ui.hint = Some(
            "No folder dialog is available here (no desktop portal or zenity). Type or paste a path \
             and press Enter, or drag folders onto the window."
                .into(),
        );
        self.ui.focus_path = true;
    }

    // ---- watch lists -------------------------------------------------------------------

    fn active_list(&self) -> Option<&WatchList> {
        self.lists.as_ref().and_then(State::active)
    }

    /// Switches lists, asking first when the app holds locks the other list does not watch.
    fn ask_switch_list(&mut self, to: String) {
        let Some(target) = self.lists.as_ref().and_then(|s| s.get(&to)) else {
            // Unknown: switch_list says so.
            self.switch_list(&to, false);
            return;
        };
        let held = self.held_outside(&target.dirs);
        if held > 0 {
            self.ask = Some(Ask::SwitchList { to, held });
        } else {
            self.switch_list(&to, false);
        }
    }

    /// `keep`: rows held by the app stay (marked) until released; otherwise they are released.
    fn switch_list(&mut self, name: &str, keep: bool) {
        let from = self.active_list().map(|l| l.name.clone());
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        if let Err(e) = state.switch(name) {
            self.tell(e.to_string(), true);
            return;
        }
        let why = format!("switched to watch list {name:?}");
        self.show_active_list(from.filter(|_| keep), &why);
        self.save();
    }

    fn create_list(&mut self, name: &str) {
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        let from = state.active().map(|l| l.name.clone());
        let result = state.create(name).and_then(|()| state.switch(name.trim()));
        match result {
            Ok(()) => {
                // A new list watches nothing yet: the app's locks stay held, their rows kept.
                self.show_active_list(from, "");
                self.save();
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    fn rename_active_list(&mut self, to: &str) {
        let Some(from) = self.active_list().map(|l| l.name.clone()) else {
            return;
        };
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        match state.rename(&from, to) {
            Ok(()) => self.save(),
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    /// "Delete list": always asks (it cannot be undone), saying which locks it would release.
    fn ask_delete_active_list(&mut self) {
        let Some(list) = self.active_list() else {
            return;
        };
        let (name, dirs) = (list.name.clone(), list.dirs.len());
        let held = self.held_outside(&[]);
        self.ask = Some(Ask::DeleteList { name, dirs, held });
    }

    fn delete_list(&mut self, name: &str, keep: bool) {
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        match state.delete(name) {
            Ok(_) => {
                if state.lists().is_empty() {
                    let _ = state.create("default");
                }
                let why = format!("watch list {name:?} deleted");
                self.show_active_list(keep.then(|| name.to_string()), &why);
                self.save();
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    fn add_list(&mut self, mut list: WatchList) {
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        list.name = state.unused_name(&list.name);
        let name = list.name.clone();
        let from = state.active().map(|l| l.name.clone());
        match state.insert(list).and_then(|()| state.switch(&name)) {
            Ok(()) => {
                // The app's locks stay held, their rows kept, unless the imported list has them.
                self.show_active_list(from, "");
                self.save();
                self.tell(format!("imported watch list {name:?}"), false);
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    /// The settings panel's "Apply": asks first when a new lock-file name would leave the app's
    /// locks (taken under the old name) unwatched.
    fn ask_apply_settings(&mut self, interval: String, lock_name: String) {
        let held = self.held_outside(&[]);
        if held > 0 && lock_name.trim() != self.settings.lock_name {
            self.ask = Some(Ask::LockName {
                interval,
                lock_name,
                held,
            });
        } else {
            self.apply_settings_inputs(&interval, &lock_name);
        }
    }

    /// Applies the settings panel's fields.
    fn apply_settings_inputs(&mut self, interval: &str, lock_name: &str) {
        // Read like `watch --interval` (a bare number is seconds); the 10ms minimum is checked by
        // set_settings, whose message names the value.
        let interval = match crate::duration::parse_duration(interval) {
            Ok(d) => d,
            Err(e) => {
                self.tell(format!("poll interval: {e}"), true);
                return;
            }
        };
        let settings = Settings {
            interval,
            lock_name: lock_name.trim().to_string(),
        };
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        match state.set_settings(settings.clone()) {
            Ok(()) => {
                self.apply_settings(settings);
                self.save();
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    /// The settings panel's notification choices for the active list, saved with it.
    fn set_notifications(&mut self, stuck_after: Option<&str>, background_changes: bool) {
        let stuck_after = match stuck_after.map(crate::duration::parse_duration) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                self.tell(format!("held longer than: {e}"), true);
                return;
            }
        };
        let notify = watchlist::Notifications {
            stuck_after,
            background_changes,
        };
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        let Some(name) = state.active().map(|l| l.name.clone()) else {
            return;
        };
        match state.set_notify(&name, notify) {
            Ok(()) => {
                if let Some(d) = stuck_after {
                    self.ui.stuck_after_input = humantime::format_duration(d).to_string();
                }
                self.save();
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    // ---- the details pane and ending a holder -----------------------------------------------

    /// Asks the worker for a fresh diagnosis of the selected row when it was just selected,
    /// changed since, or is held and its last diagnosis is [`DETAILS_REFRESH`] old; while a held
    /// row stays selected, asks for a frame when the next is due.
    fn refresh_details(&mut self, ctx: &egui::Context) {
        let Some(dir) = self.model.single_selected().map(Path::to_path_buf) else {
            self.details_asked = None;
            return;
        };
        if remote_dir(&dir).is_some() {
            // No local diagnosis of a remote directory: the pane shows the remote's row.
            self.details_asked = None;
            return;
        }
        let Some(row) = self.model.row(&dir) else {
            return;
        };
        let (held, taken_seen, has_fresh) = (row.is_held(), row.taken_seen, row.fresh.is_some());
        let due = match &self.details_asked {
            Some(a) if a.dir == dir => {
                !a.pending && (!has_fresh || (held && a.at.elapsed() >= DETAILS_REFRESH))
            }
            _ => true,
        };
        if due {
            self.diagnoses
                .request(&dir, &self.settings.lock_name, taken_seen);
            self.details_asked = Some(DetailsAsked {
                dir,
                at: Instant::now(),
                pending: true,
            });
        }
        if held && let Some(a) = &self.details_asked {
            ctx.request_repaint_after(DETAILS_REFRESH.saturating_sub(a.at.elapsed()));
        }
    }

    fn ask_end_holder(&mut self, dir: PathBuf) {
        if self.end.is_some() {
            return;
        }
        if workers::identify_holder(
            &self.events_tx,
            dir.clone(),
            self.settings.lock_name.clone(),
        ) {
            self.end = Some(EndHolder::Identifying { dir });
        } else {
            self.tell("could not start a thread to identify the holder", true);
        }
    }

    fn start_ending(
        &mut self,
        dir: PathBuf,
        target: crate::terminate::Target,
        signal: Signal,
        grace: Duration,
    ) {
        let started = workers::end_holder(
            &self.events_tx,
            dir.clone(),
            self.settings.lock_name.clone(),
            target.clone(),
            signal,
            grace,
        );
        if started {
            self.end = Some(EndHolder::Ending {
                dir,
                target,
                signal,
                grace,
                signalled: false,
            });
        } else {
            self.tell("could not start a thread to end the holder", true);
        }
    }

    fn on_end_event(&mut self, event: EndEvent) {
        match event {
            EndEvent::Identified { dir, result } => {
                if !matches!(&self.end, Some(EndHolder::Identifying { dir: d }) if *d == dir) {
                    return; // cancelled meanwhile
                }
                match result {
                    Ok(target) => self.end = Some(EndHolder::Confirm { dir, target }),
                    Err(e) => {
                        self.end = None;
                        self.tell(e, true);
                    }
                }
            }
            EndEvent::Signalled { dir, pid } => {
                if let Some(EndHolder::Ending {
                    dir: d,
                    target,
                    signalled,
                    ..
                }) = &mut self.end
                    && *d == dir
                    && target.pid == pid
                {
                    *signalled = true;
                }
            }
            EndEvent::Finished {
                dir,
                pid,
                signal,
                grace,
                result,
            } => {
                let target = match self.end.take() {
                    Some(EndHolder::Ending { target, .. }) => Some(target),
                    other => {
                        self.end = other;
                        None
                    }
                };
                // Raw here: the banner escapes every message it shows.
                let lock = dir.join(&self.settings.lock_name).display().to_string();
                let grace_text = humantime::format_duration(grace);
                match result {
                    Ok(Outcome::Released { exited: true }) => {
                        self.tell(format!("{signal} ended pid {pid}: {lock} released"), false)
                    }
                    Ok(Outcome::Released { exited: false }) => self.tell(
                        format!("released {lock}: pid {pid} let go of the lock after {signal}"),
                        false,
                    ),
                    Ok(Outcome::PassedOn(holder)) => self.tell(
                        format!("pid {pid} released {lock}; it is now held by {}", holder),
                        false,
                    ),
                    Ok(Outcome::StillShared { holder, exited }) => self.tell(
                        format!(
                            "{lock} is still held through the same open file description by \
                             {holder}, which inherited the descriptor; pid {pid} {} after \
                             {signal}. End that process too to release it",
                            if exited { "exited" } else { "lives on" }
                        ),
                        true,
                    ),
                    Ok(Outcome::StillHeld) if signal == Signal::term() => {
                        self.tell(
                            format!(
                                "{lock} is still held by pid {pid} {grace_text} after {signal}"
                            ),
                            true,
                        );
                        if let Some(target) = target {
                            self.end = Some(EndHolder::StillHeld {
                                dir: dir.clone(),
                                target,
                                grace,
                            });
                        }
                    }
                    Ok(Outcome::StillHeld) => self.tell(
                        format!(
                            "{lock} is still held by pid {pid} {grace_text} after {signal}: it \
                             may be stuck in the kernel (uninterruptible sleep)"
                        ),
                        true,
                    ),
                    Err(e) => self.tell(e, true),
                }
                self.recheck(&dir);
                if let Some(a) = self.details_asked.as_mut().filter(|a| a.dir == dir) {
                    // Diagnose again at once (the holder is gone, or not).
                    a.pending = false;
                }
                if let Some(row) = self.model.row_mut(&dir) {
                    row.fresh = None;
                }
            }
        }
    }

    /// Sends the desktop notifications due now: the batch of background changes, and holds
    /// past the active list's threshold. Returns when the next one may be due.
    fn send_notices(&mut self) -> Option<Duration> {
        let now = Instant::now();
        if let Some(notice) = self.notifier.take_batch(now) {
            self.notices.send(notice);
        }
        let batch_wait = self.notifier.batch_wait(now);
        let Some(stuck_after) = self.active_list().and_then(|l| l.notify.stuck_after) else {
            return batch_wait;
        };
        // Holds by others: the app's own locks are the user's doing.
        let held = self.model.rows().iter().filter_map(|row| {
            let since = row.held_for()?.since;
            let DirState::Lock(LockState::Held(holder)) = row.state.as_ref()? else {
                return None;
            };
            Some(HeldRow {
                dir: &row.dir,
                pid: holder.pid,
                command: holder.command.as_deref(),
                since,
                waiting_for: row
                    .diagnosis
                    .holder
                    .as_ref()
                    .and_then(|d| d.waiting_for.as_deref()),
            })
        });
        let wall = SystemTime::now();
        let stuck: Vec<_> = held.collect();
        let next = Notifier::next_stuck(stuck.iter().map(|r| r.since), stuck_after, wall);
        for notice in self.notifier.check_stuck(stuck, stuck_after, wall) {
            self.notices.send(notice);
        }
        [batch_wait, next].into_iter().flatten().min()
    }

    /// Seconds until the nearest timed hold ends, if any (the UI repaints for its countdown).
    fn next_countdown(&self) -> Option<Duration> {
        self.model
            .rows()
            .iter()
            .filter_map(|r| match r.own {
                OwnLock::Held { until: Some(t) } => {
                    Some(t.saturating_duration_since(Instant::now()))
                }
                _ => None,
            })
            .min()
    }
}

impl eframe::App for LockscopeApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let frame_start = Instant::now();
        // Rows stay put while the pointer is on the table, a button is down or a menu is open:
        // what is under the pointer is what the next click hits.
        let ctx = ui.ctx().clone();
        let on_table = ctx.input(|i| {
            i.pointer.any_down()
                || i.pointer
                    .hover_pos()
                    .zip(self.ui.table_rect)
                    .is_some_and(|(p, r)| r.contains(p))
        }) || egui::Popup::is_any_open(&ctx);
        self.model.hold_order(on_table);
        let focused = ctx.input(|i| i.focused);
        if focused {
            self.notifier.focused();
        }
        self.pump(focused);
        if let Some(wait) = self.send_notices() {
            ctx.request_repaint_after(wait);
        }
        self.model.refresh();
        self.refresh_details(ui.ctx());
        let mut intents = std::mem::take(&mut self.intents);
        let view = Snapshot {
            model: &self.model,
            lists: self.lists.as_ref(),
            settings: &self.settings,
            messages: &self.messages,
            dialog_open: self.dialog_open,
            end: self.end.as_ref(),
            ask: self.ask.as_ref(),
            undo_remove: self.removed.len(),
        };
        super::views::show(ui, &view, &mut self.ui, &mut intents);
        let theme = self.ui.theme.preference();
        if ui.ctx().options(|o| o.theme_preference) != theme {
            // Chosen in the settings panel this frame: the next one is painted in it.
            ui.ctx().set_theme(theme);
            ui.ctx().request_repaint();
        }
        if !intents.is_empty() {
            // Applied after painting: the next frame shows what they changed.
            ui.ctx().request_repaint();
        }
        for intent in intents.drain(..) {
            self.apply(intent, ui.ctx());
        }
        self.intents = intents;
        if let Some(stats) = self.stats.as_mut() {
            stats.record(frame_start, frame_start.elapsed(), frame.info().cpu_usage);
        }
        if let Some(left) = self.next_countdown() {
            // A countdown is on screen: repaint when its seconds digit changes.
            let to_next_second = Duration::from_nanos(left.subsec_nanos() as u64 + 1_000_000);
            ui.ctx().request_repaint_after(to_next_second);
        }
        if self.model.any_held() {
            // The HELD FOR column ticks; nothing held, nothing repaints.
            ui.ctx().request_repaint_after(HELD_FOR_TICK);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        (self.ui.sort, self.ui.sort_ascending) = self.model.sort();
        eframe::set_value(storage, UiState::KEY, &self.ui);
    }
}

/// How often the HELD FOR column is repainted while some row is held.
const HELD_FOR_TICK: Duration = Duration::from_secs(1);

fn start_monitor(
    settings: &Settings,
    wake: workers::Waker,
) -> Result<(Monitor, Receiver<Update>), MonitorError> {
    let options = MonitorOptions {
        interval: settings.interval,
        lock_name: settings.lock_name.clone(),
    };
    Monitor::start(options, move || wake())
}

/// The remote directory a row stands for, if it is a `HOST:DIR` row.
fn remote_dir(dir: &Path) -> Option<RemoteDir> {
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
fn remote_change(
    model: &Model,
    dir: PathBuf,
    lock_name: &str,
    new: DirState,
    remote: Option<&RemoteRow>,
) -> Change {
    let cause = match remote
        .and_then(|r| r.other.get("cause"))
        .and_then(|c| c.as_str())
    {
        Some("initial") => Cause::Initial,
        Some("fs-event") => Cause::FsEvent,
        Some("action") => Cause::Action,
        _ => Cause::Poll,
    };
    let held_since = remote.filter(|_| new.is_held()).and_then(|r| {
        use crate::diagnose::HeldSinceSource as Source;
        let source = match r.other.get("held_since_source").and_then(|s| s.as_str()) {
            Some("lock-file-created") => Source::LockFileCreated,
            Some("holder-started") => Source::HolderStarted,
            _ => Source::Observed,
        };
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

/// `~` expanded, relative paths made absolute against the working directory (no I/O);
/// `HOST:DIR` kept as it is (spelled as the hub will report it).
fn normalize(path: &Path) -> PathBuf {
    if let Some(remote) = remote_dir(path) {
        return PathBuf::from(remote.to_string());
    }
    let expanded = match path.strip_prefix("~") {
        Ok(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => path.to_path_buf(),
        },
        Err(_) => path.to_path_buf(),
    };
    std::path::absolute(&expanded).unwrap_or(expanded)
}
