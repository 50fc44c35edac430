//! What a view can ask the app to do. Views push intents while painting; the app applies them
//! after the frame is painted (`LockscopeApp::apply`), the way rerun's `command_handling.rs`
//! does. An intent carries what the view saw (the text typed, the row clicked); the app decides
//! what becomes of it.

use super::model::SortKey;
use super::state::Answer;
use std::path::PathBuf;
use std::time::Duration;

/// Which rows an action is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// The selected rows, as they are when the intent is applied.
    Selected,
    /// One row's directory (its own Acquire/Hold/Release buttons).
    One(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    // ---- rows
    /// Paths dropped on the window (a lock file among them means its directory).
    AddDirs(Vec<PathBuf>),
    /// The path field's text on Enter or "Add" (one path a line); the field is cleared.
    AddTypedPaths(String),
    AddCertbotDefaults,
    /// "Find certbot locks…": look for them on this machine (on a thread), then list them.
    FindLocks,
    /// Tick or untick found directory number `index` in that list.
    ChooseFound {
        index: usize,
        chosen: bool,
    },
    /// Add the ticked found directories and close the list.
    AddFound,
    CloseFound,
    /// "Add folders…": the folder dialog, on its thread.
    PickFolders,
    RemoveSelected,
    /// One row's "Remove" (its context menu).
    Remove(PathBuf),
    /// Put back the rows the last removal took away (Ctrl+Z, "Undo remove").
    UndoRemove,
    /// Take the lock; with a duration, release it after that long ("Hold").
    Acquire(Rows, Option<Duration>),
    Release(Rows),
    /// Enter: release the rows this app holds, take the others' locks where possible.
    Toggle(Rows),
    /// Open the directory in the system's file manager (xdg-open, open, explorer; on a thread).
    OpenFolder(PathBuf),
    // ---- the table
    /// A click on a row: plain selects only it, `toggle` (ctrl/cmd) flips it, `extend` (shift)
    /// selects the range from the last selected row.
    Click {
        dir: PathBuf,
        toggle: bool,
        extend: bool,
    },
    /// A column header: sort by it, or flip the direction if it is the sort already.
    SortBy(SortKey),
    /// The table's filter text changed.
    Filter(String),
    /// Arrows, Page Up/Down: move the selection `by` rows; `extend` (shift) from the anchor.
    MoveCursor {
        by: isize,
        extend: bool,
    },
    /// Ctrl+A.
    SelectAll,
    /// Esc.
    ClearSelection,
    /// F5: sort and filter again now (the order is held while the pointer is on the table).
    Resort,
    // ---- ending a holder (the details pane)
    /// "End holder…": identify DIR's holder, then ask for confirmation.
    EndHolder(PathBuf),
    /// The confirmation dialog's "End": SIGTERM, then wait the chosen grace time.
    ConfirmEnd,
    /// Close the confirmation dialog, or the offer to kill, without signalling.
    CancelEnd,
    /// "Kill": SIGKILL to the holder still there after the grace time (same safe sequence).
    KillHolder,
    /// "Resume": SIGCONT to DIR's stopped holder (no question: it only lets it run again).
    ResumeHolder(PathBuf),
    // ---- watch lists
    SwitchList(String),
    /// Create a list with this name and switch to it; the name field is cleared.
    CreateList(String),
    /// Rename the active list; the name field is cleared.
    RenameList(String),
    DeleteList,
    /// "Import…" / "Export…": the file dialogs, on their thread.
    Import,
    Export,
    /// The answer to the question the app asked (`state::Ask`).
    Answer(Answer),
    /// The typed path of the no-dialog fallback: import that file, or export to it.
    SubmitFilePrompt,
    CancelFilePrompt,
    // ---- the rest
    /// The settings panel's fields, as typed.
    ApplySettings {
        interval: String,
        lock_name: String,
    },
    /// The settings panel's notifications for the active list: the "held longer than" text
    /// when that box is ticked, and whether background changes are notified.
    SetNotifications {
        stuck_after: Option<String>,
        background_changes: bool,
    },
    /// Put text on the clipboard (the event log's "Copy").
    CopyText(String),
    /// Close message number `i` of the banner.
    DismissMessage(usize),
    /// "Dismiss all".
    DismissAllMessages,
    DismissHint,
    /// Close the window (Ctrl+Q), which releases every lock.
    Quit,
}
