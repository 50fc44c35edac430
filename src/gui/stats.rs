//! Opt-in frame statistics for benchmarks: with `LOCKSCOPE_GUI_STATS=FILE`, the app records when
//! each frame ran and how long its UI code took, and writes them to FILE as JSON when it exits
//! (the only file the UI thread ever writes, and only on request).

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct FrameStats {
    file: PathBuf,
    started: Instant,
    /// (seconds since start, UI time in milliseconds) per frame.
    frames: Vec<(f64, f64)>,
}

impl FrameStats {
    /// Stats are on when `LOCKSCOPE_GUI_STATS` names a file. `started` is when `main` began.
    pub fn from_env(started: Instant) -> Option<FrameStats> {
        let file = std::env::var_os("LOCKSCOPE_GUI_STATS")?;
        Some(FrameStats {
            file: file.into(),
            started,
            frames: Vec::new(),
        })
    }

    pub fn record(&mut self, frame_start: Instant, ui_time: Duration) {
        let at = frame_start.duration_since(self.started).as_secs_f64();
        self.frames.push((at, ui_time.as_secs_f64() * 1e3));
    }
}

impl Drop for FrameStats {
    fn drop(&mut self) {
        let json = serde_json::json!({ "frames": self.frames });
        if let Err(e) = std::fs::write(&self.file, json.to_string()) {
            eprintln!(
                "lockscope: cannot write frame stats to {}: {e}",
                self.file.display()
            );
        }
    }
}
