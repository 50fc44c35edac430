//! `--watchlist NAME|FILE` for the commands that watch (`serve`, `record`): a saved list by
//! name, an exported list file, or the built-in certbot preset.

use crate::output::report;
use lockscope::watchlist::{CERTBOT_PRESET_NAME, Store, WatchList, default_config_dir, import};
use std::path::Path;

/// `--watchlist NAME|FILE` as the app's: an existing file is read as an exported list; anything
/// else names a saved list (`certbot`: the preset, unless a saved list has that name).
pub(crate) fn load_watchlist(
    name: &str,
    config_dir: Option<&Path>,
) -> Result<(WatchList, lockscope::watchlist::Settings), String> {
    if Path::new(name).is_file() {
        let list = import(Path::new(name)).map_err(|e| e.to_string())?;
        return Ok((list, Default::default()));
    }
    let dir = config_dir
        .map(Path::to_path_buf)
        .or_else(default_config_dir)
        .ok_or("no config directory (no home directory); use --config-dir")?;
    let loaded = match Store::new(dir.clone()).load() {
        Ok(loaded) => loaded,
        // The preset needs no file: a saved state that cannot be read (or, corrupt, cannot be
        // set aside: a read-only config dir) is reported, left alone, and the preset served.
        Err(e) if name == CERTBOT_PRESET_NAME => {
            report(format!(
                "warning: {e}; serving the built-in {CERTBOT_PRESET_NAME:?} watch list"
            ));
            return Ok((WatchList::certbot_preset(), Default::default()));
        }
        Err(e) => return Err(e.to_string()),
    };
    for warning in &loaded.warnings {
        report(format!("warning: {warning}"));
    }
    let settings = loaded.state.settings().clone();
    match loaded.state.get(name) {
        Some(list) => Ok((list.clone(), settings)),
        None if name == CERTBOT_PRESET_NAME => Ok((WatchList::certbot_preset(), settings)),
        None => {
            let names: Vec<&str> = loaded
                .state
                .lists()
                .iter()
                .map(|l| l.name.as_str())
                .collect();
            Err(format!(
                "no watch list named {name:?} in {} (saved lists: {})",
                dir.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        }
    }
}
