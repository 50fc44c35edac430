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
mod model;
mod notify;
mod state;
mod stats;
mod views;
mod workers;

pub use app::{AppConfig, LockscopeApp, OpenList};
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
}

/// Why the app could not run.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    /// The platform has no config directory and none was given.
    #[error("no config directory on this system; pass --config-dir")]
    NoConfigDir,
    /// The window could not be opened (no display, no OpenGL, ...).
    #[error("cannot open the window: {0}")]
    Window(String),
}

/// Opens the window and runs until it is closed.
pub fn run(options: GuiOptions) -> Result<(), GuiError> {
    let started = std::time::Instant::now();
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
            .with_inner_size([1200.0, 720.0])
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
    };
    eframe::run_native(
        "lockscope",
        native,
        Box::new(move |cc| {
            close_on_signals(&cc.egui_ctx);
            Ok(Box::new(LockscopeApp::new(cc, config)?))
        }),
    )
    .map_err(|e| GuiError::Window(e.to_string()))
}

/// SIGINT/SIGTERM close the window like its close button, so locks are released (unlink, then
/// close) instead of being dropped by the kernel with their files left behind.
fn close_on_signals(ctx: &egui::Context) {
    let ctx = ctx.clone();
    let installed = ctrlc::set_handler(move || {
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        ctx.request_repaint();
    });
    if let Err(e) = installed {
        eprintln!("lockscope: SIGTERM will not release locks cleanly: {e}");
    }
}

use eframe::egui;
