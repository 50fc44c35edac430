//! The app's state and the routing of messages between the window and the worker threads.
//!
//! One frame: [`LockscopeApp::pump`] drains the workers' event channel and the monitor's updates
//! into the state, the views paint it and push [`Intent`]s, then [`LockscopeApp::apply`] carries
//! the intents out (after painting, like rerun's `command_handling.rs`).

use super::intent::{Intent, Rows};
use super::model::{Model, OwnLock};
use super::state::{EndHolder, FilePrompt, Message, Snapshot, UiState};
use super::workers::{
    self, Diagnoses, DialogOutcome, EndEvent, Events, FolderPicker, LoadHook, LockOutcome, Locks,
    StoreOutcome, StoreWorker, WorkerEvent,
};
use crate::monitor::{Monitor, MonitorError, MonitorOptions, Update};
use crate::terminate::{Outcome, Signal};
use crate::watchlist::{self, Settings, State, Store, WatchList};
use eframe::egui;
use std::path::{Path, PathBuf};
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
}

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
        let (events_tx, events) = Events::channel(wake.clone());
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
        })
    }

    /// Applies everything the workers reported since the last frame.
    fn pump(&mut self) {
        while let Ok(update) = self.updates.try_recv() {
            match update {
                Update::Change(change) => self.model.apply(change),
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
            }
        }
    }

    /// Carries out what the views asked for this frame.
    fn apply(&mut self, intent: Intent, ctx: &egui::Context) {
        match intent {
            Intent::AddDirs(dirs) => self.add_dirs(dirs),
            Intent::AddTypedPaths(text) => self.add_typed_paths(&text),
            Intent::AddCertbotDefaults => self.add_dirs(watchlist::certbot_defaults()),
            Intent::PickFolders => self.open_folder_dialog(),
            Intent::RemoveSelected => self.remove_selected(),
            Intent::Acquire(rows, hold_for) => {
                let dirs = self.dirs_of(rows);
                self.acquire(&dirs, hold_for);
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
            Intent::SwitchList(name) => self.switch_list(&name),
            Intent::CreateList(name) => {
                self.create_list(&name);
                self.ui.list_name_input.clear();
            }
            Intent::RenameList(name) => {
                self.rename_active_list(&name);
                self.ui.list_name_input.clear();
            }
            Intent::DeleteList => self.delete_active_list(),
            Intent::Import => self.open_import_dialog(),
            Intent::Export => self.open_export_dialog(),
            Intent::SubmitFilePrompt => self.submit_file_prompt(),
            Intent::CancelFilePrompt => self.ui.file_prompt = None,
            Intent::ApplySettings {
                interval,
                lock_name,
            } => self.apply_settings_inputs(&interval, &lock_name),
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
    fn add_dirs(&mut self, dirs: impl IntoIterator<Item = PathBuf>) {
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
    fn add_typed_paths(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.ui.path_input.clear();
        self.ui.hint = None;
        self.add_dirs(
            text.lines()
                .map(|l| PathBuf::from(l.trim()))
                .filter(|p| !p.as_os_str().is_empty()),
        );
    }

    fn remove_selected(&mut self) {
        for dir in self.model.selected_dirs() {
            self.drop_row(&dir);
        }
        self.save_rows();
    }

    fn acquire(&mut self, dirs: &[PathBuf], hold_for: Option<Duration>) {
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

    fn release(&mut self, dirs: &[PathBuf]) {
        for dir in dirs {
            if self.model.row(dir).is_some_and(|r| r.can_release()) {
                self.locks.release(dir);
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

    fn switch_list(&mut self, name: &str) {
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

    fn create_list(&mut self, name: &str) {
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

    fn delete_active_list(&mut self) {
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

    // ---- the details pane and ending a holder -----------------------------------------------

    /// Asks the worker for a fresh diagnosis of the selected row when it was just selected,
    /// changed since, or is held and its last diagnosis is [`DETAILS_REFRESH`] old; while a held
    /// row stays selected, asks for a frame when the next is due.
    fn refresh_details(&mut self, ctx: &egui::Context) {
        let Some(dir) = self.model.single_selected().map(Path::to_path_buf) else {
            self.details_asked = None;
            return;
        };
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
                self.monitor.recheck(&dir);
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
        self.pump();
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
