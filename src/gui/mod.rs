//! The desktop app (eframe/egui, glow renderer): live lock state for watched directories, with
//! buttons to acquire, hold and release locks for manual testing, and saved watch lists.
//!
//! The UI thread only paints and routes messages. The monitor, the lock holder, the watch-list
//! store and dialogs each run on their own thread and wake the UI when something changed, so an
//! idle window does not repaint (only a running hold countdown asks for one repaint a second).

//!
//! Inside the window: `app` owns the state and routes; `views` paint it from a read-only
//! `state::Snapshot` plus the one `state::UiState` they edit in place, and push
//! `intent::Intent`s that `app` applies after painting; `workers` report on one channel
//! (`workers::WorkerEvent`). Neither `views` nor `workers` imports `app`.

mod app;
pub mod icon;
mod intent;
mod layout_log;
mod model;
mod notify;
mod recorded;
mod remote_locks;
mod state;
mod stats;
mod views;
mod workers;

pub use app::{AppConfig, INFO_LIFETIME, LockscopeApp, OpenList};
pub use notify::{Notice, NoticeSink};
pub use workers::{FolderPicker, LoadHook};

use std::path::PathBuf;

/// How `lockscope gui` was started.
#[derive(Debug, Clone, Default)]
pub struct GuiOptions {
    /// Where watch lists live (default: the platform config directory).
    pub config_dir: Option<PathBuf>,
    /// A list to open: a saved list's name, or a watch-list file to import.
    pub watchlist: Option<OpenList>,
    /// The flight recorder's history file to show (default: the system recorder's, then this
    /// user's, whichever exists).
    pub history: Option<PathBuf>,
}

/// Why the app could not run.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    /// The platform has no config directory and none was given.
    #[error("no config directory on this system; pass --config-dir")]
    NoConfigDir,
    /// Neither DISPLAY nor WAYLAND_DISPLAY is set: a headless machine, an SSH session.
    #[error("no display for the window: neither DISPLAY nor WAYLAND_DISPLAY is set")]
    NoDisplay,
    /// The display named in the environment could not be reached (no server there, refused).
    #[error("cannot connect to the display {display} ({reason})")]
    DisplayUnreachable {
        /// DISPLAY or WAYLAND_DISPLAY, as set.
        display: String,
        /// What the windowing library said, without its source location.
        reason: String,
    },
    /// The display was reached but gave the window no usable OpenGL.
    #[error("the display {display} refused OpenGL for the window ({reason})")]
    NoOpenGl {
        /// DISPLAY or WAYLAND_DISPLAY, as set.
        display: String,
        /// What the OpenGL layer said.
        reason: String,
    },
    /// The window could not be opened for another reason.
    #[error("cannot open the window: {0}")]
    Window(String),
}

impl GuiError {
    /// Whether the app cannot run here for want of a (working) display, so the command line is
    /// what to use instead.
    pub fn is_display_missing(&self) -> bool {
        matches!(
            self,
            Self::NoDisplay | Self::DisplayUnreachable { .. } | Self::NoOpenGl { .. }
        )
    }
}

/// Opens the window and runs until it is closed.
pub fn run(options: GuiOptions) -> Result<(), GuiError> {
    let started = std::time::Instant::now();
    // Said before eframe tries: winit's own error names a file in its source tree.
    if !crate::sys::display_named() {
        return Err(GuiError::NoDisplay);
    }
    let config_dir = match options.config_dir {
        Some(dir) => dir,
        None => crate::watchlist::default_config_dir().ok_or(GuiError::NoConfigDir)?,
    };
    let icon = egui::IconData {
        rgba: icon::icon_rgba(64),
        width: 64,
        height: 64,
    };
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("lockscope")
            .with_app_id("lockscope")
            // Wide enough for every column of the table beside the details pane.
            .with_inner_size([1280.0, 760.0])
            .with_min_inner_size([640.0, 400.0])
            .with_icon(icon)
            .with_drag_and_drop(true),
        persist_window: true,
        ..Default::default()
    };
    let config = AppConfig {
        config_dir,
        open_list: options.watchlist,
        picker: std::sync::Arc::new(workers::NativePicker),
        stats: stats::FrameStats::from_env(started),
        before_load: None,
        file_manager: None,
        notices: std::sync::Arc::new(notify::DesktopNotices),
        ssh_command: std::env::var(crate::remote::SSH_COMMAND_ENV).ok(),
        remote_command: None,
        info_lifetime: app::INFO_LIFETIME,
        history_stores: options
            .history
            .map_or_else(app::default_history_stores, |h| vec![h]),
    };
    eframe::run_native(
        "lockscope",
        native,
        Box::new(move |cc| {
            close_on_signals(&cc.egui_ctx);
            Ok(Box::new(LockscopeApp::new(cc, config)?))
        }),
    )
    .map_err(window_error)
}

/// eframe's error as the user's problem: which display, and what it said (winit's errors
/// start with a location in winit's sources, which means nothing to a user).
fn window_error(e: eframe::Error) -> GuiError {
    let display = || {
        ["WAYLAND_DISPLAY", "DISPLAY"]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
            .unwrap_or_default()
    };
    let reason = |e: &dyn std::fmt::Display| without_source_location(&e.to_string()).to_string();
    match e {
        eframe::Error::WinitEventLoop(e) => GuiError::DisplayUnreachable {
            display: display(),
            reason: reason(&e),
        },
        // Without the template it was asked for (a page of Debug output): why none matched.
        eframe::Error::NoGlutinConfigs(_, why) => GuiError::NoOpenGl {
            display: display(),
            reason: reason(&why),
        },
        eframe::Error::Glutin(_) | eframe::Error::OpenGL(_) => GuiError::NoOpenGl {
            display: display(),
            reason: reason(&e),
        },
        other => GuiError::Window(reason(&other)),
    }
}

/// `"winit EventLoopError: os error at /…/winit-0.30.13/src/…/mod.rs:788: Failed to open
/// connection to X server"` → `"Failed to open connection to X server"`.
fn without_source_location(text: &str) -> &str {
    let Some(at) = text.find("os error at ") else {
        return text;
    };
    let rest = &text[at..];
    // The location ends with ":LINE: ".
    rest.match_indices(": ")
        .find(|(i, _)| {
            let before = &rest[..*i];
            before
                .rsplit(':')
                .next()
                .is_some_and(|line| !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()))
        })
        .map_or(text, |(i, sep)| &rest[i + sep.len()..])
}

/// Set once SIGINT or SIGTERM asked the window to close: the app closes without asking.
pub(crate) static CLOSE_SIGNALLED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// SIGINT/SIGTERM close the window like its close button, so locks are released (unlink, then
/// close) instead of being dropped by the kernel with their files left behind.
fn close_on_signals(ctx: &egui::Context) {
    let ctx = ctx.clone();
    let installed = ctrlc::set_handler(move || {
        // No question: a signal (logout, systemd, Ctrl+C) is not a person at the window.
        CLOSE_SIGNALLED.store(true, std::sync::atomic::Ordering::SeqCst);
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        ctx.request_repaint();
    });
    if let Err(e) = installed {
        eprintln!("lockscope: SIGTERM will not release locks cleanly: {e}");
    }
}

use eframe::egui;

#[cfg(test)]
mod tests {
    use super::without_source_location;

    #[test]
    fn winit_source_location_is_left_out() {
        assert_eq!(
            without_source_location(
                "winit EventLoopError: os error at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/winit-0.30.13/src/platform_impl/linux/mod.rs:788: Failed to open connection to X server"
            ),
            "Failed to open connection to X server"
        );
        assert_eq!(without_source_location("plain: text"), "plain: text");
    }
}
