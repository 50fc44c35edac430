//! Saves two alternating watch-list states to a config directory until killed:
//! `watchlist_writer CONFIG_DIR`. The crash-safety test SIGKILLs it at random moments and checks
//! that the file always loads as one of the two complete states. Keep [`state`] in step with
//! `tests/suite/watchlist.rs`.

use lockscope::watchlist::{Settings, State, Store, WatchList};
use std::path::PathBuf;
use std::time::Duration;

/// State `which` (0 or 1): sizes differ, so a mix of the two could not parse as either.
fn state(which: usize) -> anyhow::Result<State> {
    let mut state = State::default();
    let (count, name) = [(2000, "alpha"), (5000, "beta")][which];
    let dirs = (0..count).map(|i| PathBuf::from(format!("/srv/{name}/site-{i}")));
    state.insert(WatchList::new(name, dirs)?)?;
    state.create(&format!("{name}-empty"))?;
    state.switch(&format!("{name}-empty"))?;
    state.set_settings(Settings {
        interval: Duration::from_millis(500 * (which as u64 + 1)),
        lock_name: format!(".lock-{which}"),
    })?;
    Ok(state)
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: watchlist_writer CONFIG_DIR"))?;
    let store = Store::new(dir);
    let states = [state(0)?, state(1)?];
    for i in 0.. {
        store.save(&states[i % 2])?;
    }
    Ok(())
}
