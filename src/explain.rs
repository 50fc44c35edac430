//! `lockscope explain`: each lock's diagnosis in plain sentences (see `lockscope::diagnose`).

use crate::cli::{buffered_stdout, probe_and_diagnose};
use crate::output::{exit, output_failed};
use lockscope::escape::escape;
use lockscope::local_time::TimeStyle;
use std::io::{self, Write};
use std::path::PathBuf;

pub(crate) fn run(paths: &[PathBuf], lock_name: &str, style: TimeStyle) -> u8 {
    let now = jiff::Timestamp::now();
    let explained = probe_and_diagnose(paths, lock_name);
    let failed = explained.iter().any(|(probe, _)| probe.state.is_err());
    let written = (|| -> io::Result<()> {
        let mut out = buffered_stdout();
        for (i, (probe, diagnosis)) in explained.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            let paragraphs =
                lockscope::diagnose::explain(&probe.dir, &probe.state, diagnosis, now, style);
            for paragraph in paragraphs {
                // Escaped: paths, command lines and container names are chosen by local users.
                writeln!(out, "{}", escape(&paragraph))?;
            }
        }
        out.flush()
    })();
    match written {
        Err(e) => output_failed(&e),
        Ok(()) if failed => exit::ERROR,
        Ok(()) => exit::OK,
    }
}
