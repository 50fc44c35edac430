//! Opt-in frame statistics for benchmarks: with `LOCKSCOPE_GUI_STATS=FILE`, the app records when
//! each frame ran and how long its UI code took, and writes them to FILE as JSON when it exits
//! (the only file the UI thread ever writes, and only on request).

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct FrameStats {
    file: PathBuf,
    started: Instant,
    /// (seconds since start, UI time in ms, the previous frame's whole CPU time in ms as eframe
    /// measured it: UI, tessellation and painting) per frame.
    frames: Vec<(f64, f64, f64)>,
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

    pub fn record(
        &mut self,
        frame_start: Instant,
        ui_time: Duration,
        previous_frame_cpu: Option<f32>,
    ) {
        let at = frame_start.duration_since(self.started).as_secs_f64();
        let previous = previous_frame_cpu.map_or(f64::NAN, |s| f64::from(s) * 1e3);
        self.frames
            .push((at, ui_time.as_secs_f64() * 1e3, previous));
    }
}

impl Drop for FrameStats {
    fn drop(&mut self) {
        let json = serde_json::json!({ "frames": self.frames });
        if let Err(e) = crate::atomic_file::write(&self.file, json.to_string().as_bytes()) {
            eprintln!(
                "lockscope: cannot write frame stats to {}: {e}",
                self.file.display()
            );
        }
    }
}
