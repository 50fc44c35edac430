//! The app's state and the routing of messages between the window and the worker threads.
//!
//! One frame: [`LockscopeApp::pump`] drains the workers' event channel and the monitor's updates
//! into the state, the views paint it and push [`Intent`]s, then [`LockscopeApp::apply`] carries
//! the intents out (after painting, like rerun's `command_handling.rs`).
//!
//! This file holds the app's struct, its construction and the frame (`eframe::App`); each job is
//! an `impl LockscopeApp` of its own: `pump` (what the workers reported), `intents` (what the user
//! asked), `dialogs`, `rows` (watching a row, local or remote), `remote_rows` (`HOST:DIR` rows),
//! `lists` (watch lists), `settings`, `details` (the details pane, ending a holder).

mod details;
mod dialogs;
mod find;
mod intents;
mod lists;
mod pump;
mod remote_rows;
mod rows;
mod settings;

use super::intent::Intent;
use super::model::{Model, OwnLock};
use super::notify::{DesktopNotices, NoticeSink, Notifier};
use super::recorded::{HistoryReader, RecordedLoad, RecordedWindow};
use super::remote_locks::RemoteLocks;
use super::state::{Ask, EndHolder, Message, Snapshot, UiState};
use super::workers::{
    self, Diagnoses, Events, FolderPicker, LoadHook, Locks, Notices, StoreWorker, WorkerEvent,
};
use crate::monitor::{DirState, Monitor, MonitorError, MonitorOptions, Update};
use crate::remote::{RemoteMonitor, Ssh};
use crate::watchlist::{Settings, State, Store};
use eframe::egui;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

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
    /// How long an informational message stays on screen (errors stay until dismissed).
    pub info_lifetime: Duration,
    /// The flight recorder's history files, the first that exists shown
    /// ([`default_history_stores`]; tests pass their own).
    pub history_stores: Vec<PathBuf>,
}

/// Where the flight recorder's history is looked for: the system recorder's (the
/// `lockscope-record` service, as root), then this user's `lockscope record`'s.
pub fn default_history_stores() -> Vec<PathBuf> {
    vec![
        PathBuf::from(crate::history::SYSTEM_STORE),
        crate::history::default_store_path(),
    ]
}

/// How long an informational message ("exported to …") stays, by default.
pub const INFO_LIFETIME: Duration = Duration::from_secs(8);

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
            info_lifetime: INFO_LIFETIME,
            history_stores: default_history_stores(),
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
    info_lifetime: Duration,
    stats: Option<super::stats::FrameStats>,
    /// `LOCKSCOPE_GUI_LAYOUT`: where widgets are, for the scripts that drive the window.
    layout_log: Option<super::layout_log::LayoutLog>,
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
    /// The user answered "Release and quit": the next close request is let through.
    quit_confirmed: bool,
    /// "Find certbot locks…", while its window is open.
    finding: Option<super::state::Finding>,
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
    /// The flight recorder's history in the timeline's window, and its reader.
    recorded: RecordedLoad,
    history_reader: HistoryReader,
    /// The window last asked of the reader.
    recorded_asked: Option<RecordedWindow>,
}

/// The details pane's last diagnosis request.
struct DetailsAsked {
    dir: PathBuf,
    at: Instant,
    /// No answer yet.
    pending: bool,
}

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
        let events_tx_for_history = events_tx.clone();
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
            info_lifetime: config.info_lifetime,
            stats: config.stats,
            layout_log: super::layout_log::LayoutLog::from_env(),
            pending_dirs: Vec::new(),
            intents: Vec::new(),
            details_asked: None,
            end: None,
            ask: None,
            quit_confirmed: false,
            finding: None,
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
            recorded: RecordedLoad::default(),
            history_reader: HistoryReader::start(events_tx_for_history, config.history_stores),
            recorded_asked: None,
        })
    }

    /// Shows a message: an error until dismissed, information for [`AppConfig::info_lifetime`].
    /// The same message again is counted on the one already shown (moved to the end), not
    /// stacked: 101 repair warnings are one message "(×101)".
    fn tell(&mut self, text: impl Into<String>, is_error: bool) {
        let text = text.into();
        let mut message = Message {
            text,
            is_error,
            count: 1,
            at: Instant::now(),
        };
        if let Some(i) = self
            .messages
            .iter()
            .position(|m| m.text == message.text && m.is_error == is_error)
        {
            message.count += self.messages.remove(i).count;
        }
        self.messages.push(message);
    }

    /// Drops informational messages older than their lifetime; returns when the next one goes.
    fn expire_messages(&mut self) -> Option<Duration> {
        let lifetime = self.info_lifetime;
        self.messages
            .retain(|m| m.is_error || m.at.elapsed() < lifetime);
        self.messages
            .iter()
            .filter(|m| !m.is_error)
            .map(|m| lifetime.saturating_sub(m.at.elapsed()))
            .min()
    }

    /// Asks the history reader for the local rows' directories over the timeline's window (a
    /// margin around it, on a coarse grid: a live window asks again every quarter of its span,
    /// not every frame).
    fn ask_recorded(&mut self) {
        let span = super::views::timeline_span(self.ui.timeline_minutes);
        let grid = (span / 4).max(Duration::from_secs(1));
        let end = self
            .ui
            .timeline_end
            .map(jiff::Timestamp::try_from)
            .and_then(Result::ok);
        let right = end.unwrap_or_else(jiff::Timestamp::now);
        let since = floor_to(right, grid)
            .checked_sub(span + grid)
            .unwrap_or(right);
        let until = end.map(|e| floor_to(e, grid) + grid * 2);
        let mut dirs: Vec<PathBuf> = self
            .model
            .rows()
            .iter()
            .filter(|r| r.remote.is_none())
            .map(|r| r.dir.clone())
            .collect();
        dirs.sort();
        let window = RecordedWindow { dirs, since, until };
        if self.recorded_asked.as_ref() != Some(&window) {
            self.history_reader.want(window.clone());
            self.recorded_asked = Some(window);
        }
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

impl LockscopeApp {
    /// One rule for every way a person closes the window (its close button, Ctrl+Q, the window
    /// manager): when the app holds locks, ask first, since quitting releases them. A signal
    /// (SIGTERM at logout, Ctrl+C in the terminal) closes without asking.
    fn question_before_closing(&mut self, ctx: &egui::Context) {
        if !ctx.input(|i| i.viewport().close_requested()) {
            return;
        }
        let held = self.held_outside(&[]);
        let signalled = super::CLOSE_SIGNALLED.load(std::sync::atomic::Ordering::SeqCst);
        if held == 0 || self.quit_confirmed || signalled {
            return;
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        self.ask = Some(Ask::Quit { held });
        ctx.request_repaint();
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
        self.question_before_closing(&ctx);
        let focused = ctx.input(|i| i.focused);
        if focused {
            self.notifier.focused();
        }
        self.pump(focused);
        if let Some(next) = self.expire_messages() {
            ctx.request_repaint_after(next);
        }
        if let Some(wait) = self.send_notices() {
            ctx.request_repaint_after(wait);
        }
        self.model.refresh();
        self.ask_recorded();
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
            finding: self.finding.as_ref(),
            recorded: &self.recorded,
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
        if let Some(log) = self.layout_log.as_mut() {
            log.frame(&self.ui.layout, ui.ctx().pixels_per_point());
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

/// `t` rounded down to a multiple of `grid` since the epoch.
fn floor_to(t: jiff::Timestamp, grid: Duration) -> jiff::Timestamp {
    let grid_ns = i128::try_from(grid.as_nanos()).unwrap_or(i128::MAX).max(1);
    let ns = t.as_nanosecond();
    jiff::Timestamp::from_nanosecond(ns - ns.rem_euclid(grid_ns)).unwrap_or(t)
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
