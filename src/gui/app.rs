//! The app's state and the routing of messages between the window and the worker threads.

use super::model::{Model, OwnLock};
use super::workers::{
    self, DialogOutcome, FolderPicker, LockOutcome, Locks, StoreOutcome, StoreWorker, Waker,
};
use crate::monitor::{Monitor, MonitorError, MonitorOptions, Update};
use crate::watchlist::{self, Settings, State, Store, WatchList};
use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How the app is set up (the binary passes the native dialog; tests pass their own).
pub struct AppConfig {
    pub config_dir: PathBuf,
    /// A list to open at start instead of the last active one.
    pub open_list: Option<OpenList>,
    pub picker: Arc<dyn FolderPicker>,
    /// Frame timing for benchmarks (`LOCKSCOPE_GUI_STATS`); `None` normally.
    pub stats: Option<super::stats::FrameStats>,
    /// Runs on the store thread before every watch-list load; `None` normally. Tests block in it
    /// to stand in for a config directory on a hung network filesystem, which nothing local
    /// reproduces (the store opens even a FIFO without blocking).
    pub before_load: Option<LoadHook>,
}

/// See [`AppConfig::before_load`].
pub type LoadHook = Arc<dyn Fn() + Send + Sync>;

impl AppConfig {
    /// The usual setup: the last active list, no frame stats.
    pub fn new(config_dir: impl Into<PathBuf>, picker: Arc<dyn FolderPicker>) -> AppConfig {
        AppConfig {
            config_dir: config_dir.into(),
            open_list: None,
            picker,
            stats: None,
            before_load: None,
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

/// Which optional panels are open (kept across runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Panels {
    pub log: bool,
    pub timeline: bool,
    pub settings: bool,
}

impl Default for Panels {
    fn default() -> Self {
        Panels {
            log: true,
            timeline: true,
            settings: false,
        }
    }
}

/// A message shown in the banner until dismissed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub is_error: bool,
}

pub struct LockscopeApp {
    pub(crate) model: Model,
    monitor: Monitor,
    updates: Receiver<Update>,
    locks: Locks,
    store: StoreWorker,
    picker: Arc<dyn FolderPicker>,
    dialog: Option<Receiver<DialogOutcome>>,
    dialog_started: Instant,
    wake: Waker,
    /// The saved lists; `None` until loaded.
    pub(crate) lists: Option<State>,
    /// Saving is off when the lists file could not be read (never overwrite what we could not load).
    saving_disabled: bool,
    open_list: Option<OpenList>,
    pub(crate) settings: Settings,
    pub(crate) messages: Vec<Message>,
    pub(crate) path_input: String,
    pub(crate) focus_path: bool,
    pub(crate) hint: Option<String>,
    pub(crate) hold_secs: u32,
    pub(crate) panels: Panels,
    pub(crate) timeline_minutes: u32,
    pub(crate) log_filter: String,
    pub(crate) list_name_input: String,
    pub(crate) interval_input: String,
    pub(crate) lock_name_input: String,
    stats: Option<super::stats::FrameStats>,
    /// Directories added before the lists finished loading; merged into the loaded list.
    pending_dirs: Vec<PathBuf>,
}

const PANELS_KEY: &str = "lockscope.panels";

impl LockscopeApp {
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        config: AppConfig,
    ) -> Result<LockscopeApp, MonitorError> {
        let ctx = cc.egui_ctx.clone();
        let wake: Waker = Arc::new(move || ctx.request_repaint());
        let panels = cc
            .storage
            .and_then(|s| eframe::get_value(s, PANELS_KEY))
            .unwrap_or_default();
        let settings = Settings::default();
        let (monitor, updates) = start_monitor(&settings, wake.clone())?;
        Ok(LockscopeApp {
            model: Model::default(),
            monitor,
            updates,
            locks: Locks::start(wake.clone()),
            store: StoreWorker::start(
                Store::new(config.config_dir),
                config.before_load,
                wake.clone(),
            ),
            picker: config.picker,
            dialog: None,
            dialog_started: Instant::now(),
            wake,
            lists: None,
            saving_disabled: false,
            open_list: config.open_list,
            interval_input: humantime::format_duration(settings.interval).to_string(),
            lock_name_input: settings.lock_name.clone(),
            settings,
            messages: Vec::new(),
            path_input: String::new(),
            focus_path: false,
            hint: None,
            hold_secs: 30,
            panels,
            timeline_minutes: 5,
            log_filter: String::new(),
            list_name_input: String::new(),
            stats: config.stats,
            pending_dirs: Vec::new(),
        })
    }

    /// Applies everything the workers reported since the last frame.
    pub(crate) fn pump(&mut self) {
        while let Ok(update) = self.updates.try_recv() {
            match update {
                Update::Change(change) => self.model.apply(change),
                Update::Notice(text) => self.tell(text, false),
            }
        }
        while let Ok(outcome) = self.locks.outcomes.try_recv() {
            self.on_lock_outcome(outcome);
        }
        while let Ok(outcome) = self.store.outcomes.try_recv() {
            self.on_store_outcome(outcome);
        }
        let dialog_done = self.dialog.as_ref().map(|rx| rx.try_recv());
        match dialog_done {
            Some(Ok(outcome)) => {
                self.dialog = None;
                self.on_dialog(outcome);
            }
            Some(Err(std::sync::mpsc::TryRecvError::Disconnected)) => {
                self.dialog = None;
                self.no_dialog_hint();
            }
            _ => {}
        }
    }

    pub(crate) fn tell(&mut self, text: impl Into<String>, is_error: bool) {
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
            (LockOutcome::Held { until, .. }, Some(row)) => {
                row.own = OwnLock::Held { until: *until };
                row.refusal = None;
                None
            }
            (LockOutcome::Refused { reason, .. }, Some(row)) => {
                row.own = OwnLock::None;
                row.refusal = Some(reason.clone());
                None
            }
            (LockOutcome::Released { error, .. }, Some(row)) => {
                row.own = OwnLock::None;
                row.orphaned = false;
                error.clone()
            }
            (LockOutcome::Orphaned { .. }, Some(row)) => {
                row.orphaned = true;
                Some(ORPHANED.to_string())
            }
            // A row removed meanwhile: a lock taken for it is not wanted any more.
            (LockOutcome::Held { .. }, None) => {
                self.locks.release(&dir);
                None
            }
            _ => None,
        };
        match (&outcome, error) {
            (LockOutcome::Orphaned { .. }, Some(e)) => {
                self.tell(format!("{}: {e}", dir.display()), true);
            }
            (_, Some(e)) => self.tell(format!("released {}, but: {e}", dir.display()), true),
            (_, None) => {}
        }
        self.monitor.recheck(&dir);
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
        if state.lists().is_empty() {
            // First run: one empty list to add directories to.
            let _ = state.create("default");
        }
        match self.open_list.take() {
            Some(OpenList::File(path)) => self.store.import(path),
            Some(OpenList::Name(name)) if state.switch(&name).is_err() => {
                self.tell(format!("no saved watch list named {name:?}"), true);
            }
            Some(OpenList::Name(_)) | None => {}
        }
        let settings = state.settings().clone();
        self.lists = Some(state);
        self.apply_settings(settings);
        self.show_active_list();
        let pending = std::mem::take(&mut self.pending_dirs);
        if !pending.is_empty() {
            self.add_dirs(pending);
        }
    }

    /// Rows become the active list's directories.
    fn show_active_list(&mut self) {
        let dirs = self
            .lists
            .as_ref()
            .and_then(State::active)
            .map(|l| l.dirs.clone())
            .unwrap_or_default();
        for row in self.model.rows().to_vec() {
            if !dirs.contains(&row.dir) {
                self.drop_row(&row.dir);
            }
        }
        for dir in dirs {
            if self.model.add(dir.clone()) {
                self.monitor.add(dir);
            }
        }
    }

    fn drop_row(&mut self, dir: &Path) {
        if let Some(row) = self.model.remove(dir) {
            if row.own != OwnLock::None {
                self.locks.release(dir);
            }
            self.monitor.remove(dir);
        }
    }

    /// Restarts the monitor when the interval or lock name changed.
    fn apply_settings(&mut self, settings: Settings) {
        self.interval_input = humantime::format_duration(settings.interval).to_string();
        self.lock_name_input = settings.lock_name.clone();
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
        for dir in self.model.dirs() {
            self.monitor.add(dir);
        }
    }

    fn save(&mut self) {
        if let (Some(state), false) = (&self.lists, self.saving_disabled) {
            self.store.save(state);
        }
    }

    /// Stores the rows as the active list's directories and saves.
    fn save_rows(&mut self) {
        let dirs = self.model.dirs();
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
    pub(crate) fn add_dirs(&mut self, dirs: impl IntoIterator<Item = PathBuf>) {
        if self.lists.is_none() {
            // Still loading (a slow config directory): keep them for the list being loaded.
            self.pending_dirs
                .extend(dirs.into_iter().map(|d| normalize(&d)));
            return;
        }
        let mut added = false;
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
                self.monitor.add(dir);
                added = true;
            }
        }
        if added {
            self.save_rows();
        }
    }

    /// The path field's text, on Enter or "Add".
    pub(crate) fn add_typed_path(&mut self) {
        let text = self.path_input.trim().to_string();
        if text.is_empty() {
            return;
        }
        self.path_input.clear();
        self.hint = None;
        self.add_dirs(
            text.lines()
                .map(|l| PathBuf::from(l.trim()))
                .filter(|p| !p.as_os_str().is_empty()),
        );
    }

    pub(crate) fn add_certbot_defaults(&mut self) {
        self.add_dirs(watchlist::certbot_defaults());
    }

    pub(crate) fn remove_selected(&mut self) {
        for dir in self.model.selected_dirs() {
            self.drop_row(&dir);
        }
        self.save_rows();
    }

    pub(crate) fn acquire(&mut self, dirs: &[PathBuf], hold_for: Option<Duration>) {
        for dir in dirs {
            let Some(row) = self.model.row_mut(dir) else {
                continue;
            };
            if !row.can_acquire() {
                continue;
            }
            row.own = OwnLock::Pending;
            row.refusal = None;
            self.locks.acquire(dir, &self.settings.lock_name, hold_for);
        }
    }

    pub(crate) fn release(&mut self, dirs: &[PathBuf]) {
        for dir in dirs {
            if self.model.row(dir).is_some_and(|r| r.can_release()) {
                self.locks.release(dir);
            }
        }
    }

    pub(crate) fn open_folder_dialog(&mut self) {
        if self.dialog.is_some() {
            return;
        }
        self.dialog_started = Instant::now();
        self.dialog = Some(workers::run_dialog(
            self.picker.clone(),
            self.wake.clone(),
            |p| {
                let started = Instant::now();
                let picked = p.pick_folders();
                DialogOutcome::Folders(picked, started.elapsed())
            },
        ));
    }

    pub(crate) fn open_import_dialog(&mut self) {
        if self.dialog.is_none() {
            self.dialog = Some(workers::run_dialog(
                self.picker.clone(),
                self.wake.clone(),
                |p| DialogOutcome::ImportFile(p.pick_file()),
            ));
        }
    }

    pub(crate) fn open_export_dialog(&mut self) {
        let Some(name) = self.active_list().map(|l| l.name.clone()) else {
            return;
        };
        if self.dialog.is_none() {
            self.dialog = Some(workers::run_dialog(
                self.picker.clone(),
                self.wake.clone(),
                move |p| {
                    let file = p.save_file(&format!("{name}.toml"));
                    DialogOutcome::ExportFile(name, file)
                },
            ));
        }
    }

    pub(crate) fn dialog_open(&self) -> bool {
        self.dialog.is_some()
    }

    fn on_dialog(&mut self, outcome: DialogOutcome) {
        match outcome {
            DialogOutcome::Folders(Some(dirs), _) => self.add_dirs(dirs),
            DialogOutcome::Folders(None, took) if took < workers::NO_DIALOG_WITHIN => {
                self.no_dialog_hint()
            }
            DialogOutcome::Folders(None, _) => {}
            DialogOutcome::ImportFile(Some(path)) => self.store.import(path),
            DialogOutcome::ImportFile(None) => {}
            DialogOutcome::ExportFile(name, Some(path)) => {
                if let Some(list) = self.lists.as_ref().and_then(|s| s.get(&name)).cloned() {
                    self.store.export(list, path);
                }
            }
            DialogOutcome::ExportFile(_, None) => {}
        }
    }

    fn no_dialog_hint(&mut self) {
        self.hint = Some(
            "No folder dialog is available here (no desktop portal or zenity). Type or paste a path \
             and press Enter, or drag folders onto the window."
                .into(),
        );
        self.focus_path = true;
    }

    // ---- watch lists -------------------------------------------------------------------

    pub(crate) fn active_list(&self) -> Option<&WatchList> {
        self.lists.as_ref().and_then(State::active)
    }

    pub(crate) fn switch_list(&mut self, name: &str) {
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        if let Err(e) = state.switch(name) {
            self.tell(e.to_string(), true);
            return;
        }
        self.show_active_list();
        self.save();
    }

    pub(crate) fn create_list(&mut self, name: &str) {
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        let result = state.create(name).and_then(|()| state.switch(name.trim()));
        match result {
            Ok(()) => {
                self.show_active_list();
                self.save();
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    pub(crate) fn rename_active_list(&mut self, to: &str) {
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

    pub(crate) fn delete_active_list(&mut self) {
        let Some(name) = self.active_list().map(|l| l.name.clone()) else {
            return;
        };
        let Some(state) = self.lists.as_mut() else {
            return;
        };
        match state.delete(&name) {
            Ok(_) => {
                if state.lists().is_empty() {
                    let _ = state.create("default");
                }
                self.show_active_list();
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
        match state.insert(list).and_then(|()| state.switch(&name)) {
            Ok(()) => {
                self.show_active_list();
                self.save();
                self.tell(format!("imported watch list {name:?}"), false);
            }
            Err(e) => self.tell(e.to_string(), true),
        }
    }

    /// Applies the settings panel's fields.
    pub(crate) fn apply_settings_inputs(&mut self) {
        // Read like `watch --interval` (a bare number is seconds); the 10ms minimum is checked by
        // set_settings, whose message names the value.
        let interval = match crate::duration::parse_duration(&self.interval_input) {
            Ok(d) => d,
            Err(e) => {
                self.tell(format!("poll interval: {e}"), true);
                return;
            }
        };
        let settings = Settings {
            interval,
            lock_name: self.lock_name_input.trim().to_string(),
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

    /// Seconds until the nearest timed hold ends, if any (the UI repaints for its countdown).
    pub(crate) fn next_countdown(&self) -> Option<Duration> {
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
        self.pump();
        super::views::show(self, ui);
        if let Some(stats) = self.stats.as_mut() {
            stats.record(frame_start, frame_start.elapsed(), frame.info().cpu_usage);
        }
        if let Some(left) = self.next_countdown() {
            // A countdown is on screen: repaint when its seconds digit changes.
            let to_next_second = Duration::from_nanos(left.subsec_nanos() as u64 + 1_000_000);
            ui.ctx().request_repaint_after(to_next_second);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, PANELS_KEY, &self.panels);
    }
}

fn start_monitor(
    settings: &Settings,
    wake: Waker,
) -> Result<(Monitor, Receiver<Update>), MonitorError> {
    let options = MonitorOptions {
        interval: settings.interval,
        lock_name: settings.lock_name.clone(),
    };
    Monitor::start(options, move || wake())
}

/// `~` expanded, relative paths made absolute against the working directory (no I/O).
fn normalize(path: &Path) -> PathBuf {
    let expanded = match path.strip_prefix("~") {
        Ok(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => path.to_path_buf(),
        },
        Err(_) => path.to_path_buf(),
    };
    std::path::absolute(&expanded).unwrap_or(expanded)
}
