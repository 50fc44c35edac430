//! `lockscope gui` (and `lockscope` alone): the desktop app, or what to use without a display.

use crate::output::{Failure, Outcome, exit};
use std::path::{Path, PathBuf};

pub(crate) fn run(watchlist: Option<String>, config_dir: Option<PathBuf>) -> Outcome {
    use lockscope::gui::OpenList;
    // An existing file is imported; anything else names a saved list.
    let watchlist = watchlist.map(|w| {
        if Path::new(&w).is_file() {
            OpenList::File(w.into())
        } else {
            OpenList::Name(w)
        }
    });
    match lockscope::gui::run(lockscope::gui::GuiOptions {
        config_dir,
        watchlist,
    }) {
        Ok(()) => Ok(exit::OK),
        Err(e) if e.is_display_missing() => {
            Err(Failure::error(format!("{e:#}")).with_hint(WITHOUT_A_DISPLAY))
        }
        Err(e) => Err(Failure::error(format!("{e:#}"))),
    }
}

/// What to do instead when the app has no display (a headless server, an SSH session).
const WITHOUT_A_DISPLAY: &str = "\
Without a working display, use lockscope's command line:
  lockscope status /etc/letsencrypt /var/lib/letsencrypt /var/log/letsencrypt
  lockscope explain /etc/letsencrypt
  lockscope watch /etc/letsencrypt
  lockscope hold --for 30s /etc/letsencrypt
  lockscope terminate /etc/letsencrypt
`lockscope --help` lists every command and option.
";
