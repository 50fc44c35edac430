//! The table's order and selection: sort and filter (kept while the pointer is on the table),
//! the display order the views read, and clicks and keys that select rows.

use super::Model;
use super::labels::state_word;
use super::row::Row;
use crate::monitor::{DirState, LockState};
use std::path::{Path, PathBuf};

impl Model {
    /// An explicit refresh (F5): sort and filter again now, even while the order is held.
    pub fn resort(&mut self) {
        self.order_stale = false;
        self.visible = None;
    }

    /// The one selected row's directory, if exactly one is selected (the details pane's).
    pub fn single_selected(&self) -> Option<&Path> {
        let mut selected = self.selection.iter();
        match (selected.next(), selected.next()) {
            (Some(dir), None) if self.index.contains_key(dir) => Some(dir),
            _ => None,
        }
    }

    pub fn sort(&self) -> (SortKey, bool) {
        self.sort
    }

    /// Sets the sort outright (restoring the one saved with the window's UI state).
    pub fn set_sort(&mut self, key: SortKey, ascending: bool) {
        if self.sort != (key, ascending) {
            self.sort = (key, ascending);
            self.visible = None;
        }
    }

    /// Sorts by `key`; the same key again flips the direction.
    pub fn sort_by(&mut self, key: SortKey) {
        self.sort = if self.sort.0 == key {
            (key, !self.sort.1)
        } else {
            (key, true)
        };
        self.visible = None;
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn set_filter(&mut self, filter: &str) {
        if self.filter != filter {
            self.filter = filter.to_string();
            self.visible = None;
        }
    }

    /// Row indices to show, in order (filtered by directory, state word or holder command).
    pub fn visible(&mut self) -> &[usize] {
        if self.visible.is_none() {
            self.order_stale = false;
            let needle = self.filter.to_lowercase();
            let mut shown: Vec<usize> = (0..self.rows.len())
                .filter(|&i| needle.is_empty() || matches_filter(&self.rows[i], &needle))
                .collect();
            if !needle.is_empty() && !self.selection.is_empty() {
                // A row the filter hides is not selected: the details pane and "… selected"
                // act only on rows in sight.
                let rows = &self.rows;
                let in_sight: std::collections::HashSet<&Path> =
                    shown.iter().map(|&i| rows[i].dir.as_path()).collect();
                self.selection.retain(|d| in_sight.contains(d.as_path()));
            }
            let (key, ascending) = self.sort;
            shown.sort_by(|&a, &b| {
                let ord = compare(&self.rows[a], &self.rows[b], key);
                if ascending { ord } else { ord.reverse() }
            });
            self.visible = Some(shown);
        }
        self.visible.as_deref().unwrap_or(&[])
    }

    /// Brings the display order up to date; the app calls it before painting, so views can read
    /// [`Model::shown`] through a shared reference.
    pub fn refresh(&mut self) {
        self.visible();
    }

    /// The display order as last computed by [`Model::refresh`] (empty if it is stale).
    pub fn shown(&self) -> &[usize] {
        self.visible.as_deref().unwrap_or(&[])
    }

    /// The selected rows' directories in the order of [`Model::shown`].
    pub fn shown_selected(&self) -> Vec<PathBuf> {
        self.shown()
            .iter()
            .map(|&i| &self.rows[i].dir)
            .filter(|d| self.selection.contains(*d))
            .cloned()
            .collect()
    }

    /// Click on a row: plain click selects only it, ctrl/cmd toggles it, shift extends from the
    /// last selected visible row.
    pub fn click(&mut self, dir: &Path, toggle: bool, extend: bool) {
        self.cursor = Some(dir.to_path_buf());
        if extend {
            let order = self.shown_dirs();
            let anchor = self
                .anchor
                .as_ref()
                .filter(|a| self.selection.contains(*a))
                .and_then(|a| order.iter().position(|d| d == a))
                .or_else(|| order.iter().position(|d| self.selection.contains(d)));
            if let (Some(a), Some(b)) = (anchor, order.iter().position(|d| d == dir)) {
                let (lo, hi) = (a.min(b), a.max(b));
                self.selection.extend(order[lo..=hi].iter().cloned());
                return;
            }
        }
        self.anchor = Some(dir.to_path_buf());
        if toggle {
            if !self.selection.remove(dir) {
                self.selection.insert(dir.to_path_buf());
            }
        } else {
            self.selection.clear();
            self.selection.insert(dir.to_path_buf());
        }
    }

    fn shown_dirs(&mut self) -> Vec<PathBuf> {
        let visible = self.visible().to_vec();
        visible.iter().map(|&i| self.rows[i].dir.clone()).collect()
    }

    /// The keyboard: moves the cursor `by` rows (arrows, Page Up/Down) and selects it, or with
    /// `extend` (shift) the rows from the anchor to it. With no cursor yet, down starts at the
    /// first row and up at the last. Returns the row moved to (to scroll it into view).
    pub fn move_cursor(&mut self, by: isize, extend: bool) -> Option<PathBuf> {
        let order = self.shown_dirs();
        let last = order.len().checked_sub(1)?;
        let at = self
            .cursor
            .as_ref()
            .and_then(|c| order.iter().position(|d| d == c));
        let to = match at {
            Some(at) => at.saturating_add_signed(by).min(last),
            None if by < 0 => last,
            None => 0,
        };
        let anchor = match (&self.anchor, extend) {
            (Some(a), true) => order.iter().position(|d| d == a).unwrap_or(to),
            _ => {
                self.anchor = Some(order[to].clone());
                to
            }
        };
        let (lo, hi) = (anchor.min(to), anchor.max(to));
        self.selection.clear();
        self.selection.extend(order[lo..=hi].iter().cloned());
        self.cursor = Some(order[to].clone());
        self.cursor.clone()
    }

    /// Ctrl+A: every row shown (the filter applies).
    pub fn select_all(&mut self) {
        self.selection = self.shown_dirs().into_iter().collect();
    }

    /// Esc.
    pub fn clear_selection(&mut self) {
        self.selection.clear();
        self.anchor = None;
    }

    /// The selected rows' directories, in table order.
    pub fn selected_dirs(&mut self) -> Vec<PathBuf> {
        let visible: Vec<usize> = self.visible().to_vec();
        visible
            .into_iter()
            .map(|i| self.rows[i].dir.clone())
            .filter(|d| self.selection.contains(d))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    Dir,
    State,
    Pid,
    Since,
}

fn matches_filter(row: &Row, needle: &str) -> bool {
    let dir = row.dir.to_string_lossy().to_lowercase();
    let state = row.state.as_ref().map_or("", state_word).to_lowercase();
    let command = row
        .state
        .as_ref()
        .and_then(DirState::holder)
        .and_then(|h| h.command)
        .unwrap_or_default()
        .to_lowercase();
    dir.contains(needle) || state.contains(needle) || command.contains(needle)
}

fn compare(a: &Row, b: &Row, key: SortKey) -> std::cmp::Ordering {
    let by_dir = a.dir.cmp(&b.dir);
    let primary = match key {
        SortKey::Dir => std::cmp::Ordering::Equal,
        SortKey::State => state_rank(a).cmp(&state_rank(b)),
        SortKey::Pid => pid(a).cmp(&pid(b)),
        SortKey::Since => a
            .shown_since()
            .map(|s| s.at)
            .cmp(&b.shown_since().map(|s| s.at)),
    };
    primary.then(by_dir)
}

fn state_rank(row: &Row) -> u8 {
    // An orphaned lock first: the most dangerous, though its file says absent or free.
    if row.orphaned_lock().is_some() {
        return 0;
    }
    match &row.state {
        Some(DirState::Lock(LockState::Held(_))) => 1,
        Some(DirState::Lock(LockState::HeldByThisProcess)) => 2,
        Some(DirState::Error(_) | DirState::NotResponding | DirState::Unknown(_)) => 3,
        Some(DirState::Missing) => 4,
        Some(DirState::Lock(LockState::Free)) => 5,
        Some(DirState::Lock(LockState::Absent)) => 6,
        None => 7,
    }
}

fn pid(row: &Row) -> Option<u32> {
    row.state
        .as_ref()
        .and_then(DirState::holder)
        .and_then(|h| h.pid)
}
