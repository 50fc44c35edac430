//! The window's own state, apart from the rows: what views read ([`Snapshot`]) and the one UI
//! state struct they edit in place ([`UiState`]), of which the part that should survive a
//! restart is saved in eframe's storage.

use super::model::{Model, SortKey};
use crate::terminate::{Signal, Target};
use crate::watchlist::{Settings, State, WatchList};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which optional panels are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// Everything the views edit in place (egui's widgets take `&mut`), in one place.
///
/// Saved across restarts (eframe storage, key [`UiState::KEY`]): the open panels, the table's
/// sort, the hold seconds and the timeline's span. Not saved (`serde(skip)`): text being typed
/// (the path, a list name, the log filter), the settings fields (they are refilled from the
/// watch-list file's settings once it loads) and one-shot hints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiState {
    pub panels: Panels,
    /// "Hold for" seconds (1 to 86,400).
    pub hold_secs: u32,
    /// The timeline column's span in minutes (1 to 7 days).
    pub timeline_minutes: u32,
    /// The timeline's right edge when panned back in time; `None`: now, following the clock.
    #[serde(skip)]
    pub timeline_end: Option<std::time::SystemTime>,
    /// "End holder…": how long to wait for the lock after SIGTERM, in seconds (1 to 300).
    pub end_grace_secs: u32,
    /// The table's sort as last saved; the model owns the live one.
    pub sort: SortKey,
    pub sort_ascending: bool,
    /// Dark, light, or the system's preference.
    pub theme: Theme,
    #[serde(skip)]
    pub path_input: String,
    /// The row whose context menu is open (highlighted: the menu acts on it, not on the
    /// selection), as of the last frame.
    #[serde(skip)]
    pub menu_row: Option<PathBuf>,
    #[serde(skip)]
    pub list_name_input: String,
    #[serde(skip)]
    pub interval_input: String,
    #[serde(skip)]
    pub lock_name_input: String,
    /// The settings panel's "held longer than" field (refilled from the active list).
    #[serde(skip)]
    pub stuck_after_input: String,
    #[serde(skip)]
    pub log_filter: String,
    /// Focus the path field on the next frame (after "no folder dialog here").
    #[serde(skip)]
    pub focus_path: bool,
    /// Focus the table's filter field on the next frame (Ctrl+F).
    #[serde(skip)]
    pub focus_filter: bool,
    /// Scroll the table to this row on the next frame (the keyboard moved to it).
    #[serde(skip)]
    pub scroll_to: Option<PathBuf>,
    /// Where a few widgets were last painted, for the opt-in layout log (`layout_log.rs`).
    #[serde(skip)]
    pub layout: Layout,
    /// Where the table was last painted (with its header): while the pointer is in it, rows
    /// do not move ([`super::model::Model::hold_order`]).
    #[serde(skip)]
    pub table_rect: Option<eframe::egui::Rect>,
    /// How many rows the table shows at once (Page Up/Down).
    #[serde(skip)]
    pub page_rows: usize,
    /// Shown under the path field until dismissed.
    #[serde(skip)]
    pub hint: Option<String>,
    /// Import… / Export… with no file dialog available: the file's path typed instead.
    #[serde(skip)]
    pub file_prompt: Option<FilePrompt>,
}

/// A typed file path standing in for the Import… / Export… dialog (no portal, no zenity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePrompt {
    /// `None`: a file to import; `Some(list)`: where to export that list.
    pub export: Option<String>,
    pub input: String,
    /// Focus the field on the next frame.
    pub focus: bool,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            panels: Panels::default(),
            menu_row: None,
            hold_secs: 30,
            timeline_minutes: 5,
            timeline_end: None,
            end_grace_secs: 10,
            sort: SortKey::Dir,
            sort_ascending: true,
            theme: Theme::System,
            path_input: String::new(),
            list_name_input: String::new(),
            interval_input: String::new(),
            lock_name_input: String::new(),
            stuck_after_input: String::new(),
            log_filter: String::new(),
            focus_path: false,
            focus_filter: false,
            scroll_to: None,
            layout: Layout::default(),
            table_rect: None,
            page_rows: 10,
            hint: None,
            file_prompt: None,
        }
    }
}

impl UiState {
    /// Its key in eframe's storage.
    pub const KEY: &'static str = "lockscope.ui";
    /// Where earlier versions saved only [`Panels`]; read when [`UiState::KEY`] is absent.
    pub const OLD_PANELS_KEY: &'static str = "lockscope.panels";

    /// The saved state (defaults for anything missing), values kept in their widgets' ranges.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> UiState {
        let Some(storage) = storage else {
            return UiState::default();
        };
        let mut state = match eframe::get_value::<UiState>(storage, UiState::KEY) {
            Some(state) => state,
            None => UiState {
                panels: eframe::get_value(storage, UiState::OLD_PANELS_KEY).unwrap_or_default(),
                ..UiState::default()
            },
        };
        state.hold_secs = state.hold_secs.clamp(1, 86_400);
        state.timeline_minutes = state
            .timeline_minutes
            .clamp(1, super::views::TIMELINE_MAX_MINUTES);
        state.end_grace_secs = state.end_grace_secs.clamp(1, 300);
        state
    }
}

/// The settings panel's theme choice (saved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Theme {
    /// Follow the system's dark/light preference (as the window system reports it).
    #[default]
    System,
    Dark,
    Light,
}

impl Theme {
    pub fn preference(self) -> eframe::egui::ThemePreference {
        use eframe::egui::ThemePreference;
        match self {
            Theme::System => ThemePreference::System,
            Theme::Dark => ThemePreference::Dark,
            Theme::Light => ThemePreference::Light,
        }
    }
}

/// A message shown as a toast until dismissed (not saved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub is_error: bool,
    /// How many times it was told (shown once, "(×N)").
    pub count: usize,
    /// When it was last told (informational ones expire after a while).
    pub at: std::time::Instant,
}

/// "End holder…" in progress (one at a time). The target is what `terminate::identify` found;
/// the worker checks it again before signalling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndHolder {
    /// Asked the worker who holds the lock (for the confirmation dialog).
    Identifying { dir: PathBuf },
    /// The confirmation dialog is open.
    Confirm { dir: PathBuf, target: Target },
    /// Sending `signal` (`signalled`: sent), then waiting up to `grace` for the lock to go.
    Ending {
        dir: PathBuf,
        target: Target,
        signal: Signal,
        grace: Duration,
        signalled: bool,
    },
    /// Still held after the grace time: SIGKILL is offered.
    StillHeld {
        dir: PathBuf,
        target: Target,
        grace: Duration,
    },
}

impl EndHolder {
    pub fn dir(&self) -> &Path {
        match self {
            EndHolder::Identifying { dir }
            | EndHolder::Confirm { dir, .. }
            | EndHolder::Ending { dir, .. }
            | EndHolder::StillHeld { dir, .. } => dir,
        }
    }
}

/// A question the app asks before doing something that cannot be undone or that would give up
/// the app's locks (a modal dialog; one at a time). `held`: how many of the app's locks it
/// would release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Switching lists while the app holds locks of rows the other list does not have.
    SwitchList { to: String, held: usize },
    DeleteList {
        name: String,
        dirs: usize,
        held: usize,
    },
    /// "Remove selected".
    Remove { dirs: Vec<PathBuf>, held: usize },
    /// Closing the window (its close button, Ctrl+Q) while the app holds locks: quitting
    /// releases them all.
    Quit { held: usize },
    /// Exporting a list to a typed path where a file exists.
    ReplaceFile { list: String, path: PathBuf },
    /// A new lock-file name while the app holds locks under the old one.
    LockName {
        interval: String,
        lock_name: String,
        held: usize,
    },
}

/// The user's answer to an [`Ask`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Go ahead, releasing the locks concerned.
    Release,
    /// Go ahead, keeping the locks (and their rows).
    Keep,
    Cancel,
}

/// "Find certbot locks…": looking, then what was found and which of it the user chose.
#[derive(Debug, Clone)]
pub enum Finding {
    Looking,
    Found {
        found: crate::gui::workers::Discovered,
        /// Per found directory: ticked to be added.
        chosen: Vec<bool>,
    },
}

/// What the views read: the app's state, borrowed for one frame.
pub struct Snapshot<'a> {
    pub model: &'a Model,
    /// The saved lists; `None` until loaded.
    pub lists: Option<&'a State>,
    /// The settings in effect (the monitor's).
    pub settings: &'a Settings,
    pub messages: &'a [Message],
    /// A dialog is open (its buttons are disabled meanwhile).
    pub dialog_open: bool,
    /// "End holder…" in progress, if any.
    pub end: Option<&'a EndHolder>,
    /// A question waiting for the user's answer.
    pub ask: Option<&'a Ask>,
    /// How many rows "Undo remove" would put back (0: nothing to undo).
    pub undo_remove: usize,
    /// "Find certbot locks…", while its window is open.
    pub finding: Option<&'a Finding>,
    /// The flight recorder's history of the rows' directories, in the timeline's window.
    pub recorded: &'a super::recorded::RecordedLoad,
}

impl Snapshot<'_> {
    pub fn active_list(&self) -> Option<&WatchList> {
        self.lists.and_then(State::active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eframe::Storage as _;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Memory(HashMap<String, String>);

    impl eframe::Storage for Memory {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.to_string(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    #[test]
    fn what_is_saved_comes_back_and_what_is_typed_does_not() {
        let mut saved = UiState {
            panels: Panels {
                log: false,
                timeline: true,
                settings: true,
            },
            hold_secs: 90,
            timeline_minutes: 12,
            sort: SortKey::Since,
            sort_ascending: false,
            theme: Theme::Light,
            path_input: "/half/typed".into(),
            hint: Some("a hint".into()),
            ..UiState::default()
        };
        let mut storage = Memory::default();
        eframe::set_value(&mut storage, UiState::KEY, &saved);
        let loaded = UiState::load(Some(&storage));
        saved.path_input.clear();
        saved.hint = None;
        assert_eq!(loaded, saved);
    }

    #[test]
    fn panels_saved_by_an_earlier_version_are_read() {
        let panels = Panels {
            log: false,
            timeline: false,
            settings: true,
        };
        let mut storage = Memory::default();
        eframe::set_value(&mut storage, UiState::OLD_PANELS_KEY, &panels);
        let loaded = UiState::load(Some(&storage));
        assert_eq!(loaded.panels, panels);
        assert_eq!(loaded.hold_secs, 30);
        assert_eq!(UiState::load(None), UiState::default());
    }

    #[test]
    fn saved_values_outside_their_widgets_ranges_are_clamped() {
        let mut storage = Memory::default();
        storage.set_string(
            UiState::KEY,
            "(hold_secs: 0, timeline_minutes: 100000)".into(),
        );
        let loaded = UiState::load(Some(&storage));
        assert_eq!(
            (loaded.hold_secs, loaded.timeline_minutes),
            (1, super::super::views::TIMELINE_MAX_MINUTES)
        );
    }
}

/// Where a few widgets were painted (points): what the layout log writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// The path field (type or paste a directory).
    pub add_field: Option<eframe::egui::Rect>,
    /// The table header's first column, to the middle of the gap after it: its right edge is
    /// the resize line a user drags.
    pub first_column: Option<eframe::egui::Rect>,
    /// Buttons the scripts click, by label, as painted this frame ("Export…", a question's
    /// answers, "Find certbot locks…", the found list's "Add …").
    pub buttons: std::collections::BTreeMap<String, eframe::egui::Rect>,
}

impl Layout {
    /// Notes where the button labelled `label` was painted (see [`Layout::buttons`]).
    pub fn button(&mut self, label: &str, response: &eframe::egui::Response) {
        self.buttons.insert(label.to_string(), response.rect);
    }
}
