//! `lockscope status --format prometheus [--output FILE]`: one probe of every path as the
//! metrics `serve` exposes, for node_exporter's textfile collector. With `--output` the file is
//! replaced atomically, so the collector never reads half of it.

use crate::cli::probe_and_diagnose;
use crate::metrics::{LockMetrics, MetricsOptions, SharedMetrics, render};
use crate::output::{exit, output_failed, report};
use lockscope::monitor::DirState;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) fn run(
    paths: &[PathBuf],
    lock_name: &str,
    output: Option<&Path>,
    options: MetricsOptions,
) -> u8 {
    let mut metrics = LockMetrics::new(options);
    let mut any_error = false;
    for (probed, diagnosis) in probe_and_diagnose(paths, lock_name) {
        let state = DirState::from(probed.state);
        // As the table and JSON: a missing directory is an error for `status`.
        any_error |= matches!(state, DirState::Error(_) | DirState::Missing);
        metrics.set(crate::cli::lossy_string(probed.dir), &state, &diagnosis);
    }
    let text = render(&SharedMetrics::new(metrics).registry());
    match output {
        Some(file) => {
            if let Err(e) = lockscope::atomic_file::write(file, text.as_bytes()) {
                report(format!("cannot write {}: {e}", file.display()));
                return exit::ERROR;
            }
        }
        None => {
            let mut out = crate::cli::buffered_stdout();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                return output_failed(&e);
            }
        }
    }
    if any_error { exit::ERROR } else { exit::OK }
}
