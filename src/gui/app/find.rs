//! "Find certbot locks on this machine": discovery on a thread, then the list the user picks
//! from (the view is `views/find.rs`).

use super::LockscopeApp;
use crate::discover::FoundBy;
use crate::gui::state::Finding;
use crate::gui::workers;
use crate::probe::LockState;

impl LockscopeApp {
    /// Looks on a thread; the list opens at once with a spinner.
    pub(super) fn find_locks(&mut self) {
        if workers::find_locks(&self.events_tx, self.settings.lock_name.clone()) {
            self.finding = Some(Finding::Looking);
        } else {
            self.tell("could not start a thread to look for certbot's locks", true);
        }
    }

    /// What the search found. Ticked: the directories held now, and those whose lock file is
    /// held in the lock table (a lock on a removed file included), that no row watches yet.
    pub(super) fn on_discovered(&mut self, found: workers::Discovered) {
        if !matches!(self.finding, Some(Finding::Looking)) {
            return; // closed meanwhile
        }
        let chosen = found
            .dirs
            .iter()
            .map(|f| {
                let held = matches!(f.state, Ok(LockState::Held(_)));
                let in_table = f.found_by.contains(&FoundBy::LockTable);
                (held || in_table) && self.model.row(&f.dir).is_none()
            })
            .collect();
        self.finding = Some(Finding::Found { found, chosen });
    }
}
