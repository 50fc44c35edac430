//! The integration tests, as one test binary (ripgrep's layout): the modules are in `suite/`,
//! the shared helpers in `common/`. One binary links once where twelve linked twelve times, and
//! linking dominates `cargo test` on 2 cores.
//!
//! Two test binaries in all, for a reason each:
//!
//! - `tests` (this file): every integration test except the monitor engine's, on every
//!   platform. Unix builds get the Unix and Linux modules below, plus `gui` with the `gui`
//!   feature (it drives the real app headless through egui_kittest, a Unix dev-dependency);
//!   Windows builds get only `windows`, which `scripts/windows-test` builds for
//!   x86_64-pc-windows-gnu and runs under Wine (`--test tests`).
//! - `monitor` (tests/monitor.rs): the monitor engine in this process, asserting that changes
//!   arrive by filesystem event (a 60 s poll interval, so no pass can stand in). It is kept
//!   out of this binary because the engine tells its own opens of a lock file from others' by
//!   a process-wide count of probe opens (`opens_by_probes` in src/probe/mod.rs): a direct
//!   `probe` by any other test in the same process while the engine observes a directory is
//!   counted as the engine's own, and the next real open event there (certbot or `lockscope
//!   hold` opening an existing lock file) is then ignored as its echo, for up to 1 s. In this
//!   binary `certbot_interop`, `hostile`, `in_process` and `probe_holders` probe in-process
//!   all the time. The engines run here (`gui`'s app, `fs_matrix`'s idle watch) have short
//!   poll intervals that catch such a change anyway.
//!
//! Nothing here changes process-wide state another module could see: no test sets environment
//! variables, the current directory, the umask or signal handlers in this process (children
//! get their own environment through `Command`). `hostile` runs this binary again as an
//! unprivileged child selecting its one test by full name (`hostile::unprivileged_child`).
//! The locks held in this process (`lockscope::lock_dir`, the registry in src/lock/registry.rs)
//! are per file, on each test's own temporary directory.

#[cfg(unix)]
mod common; // Unix-only helpers (certbot peers, snapshots, unprivileged children)

#[cfg(unix)]
#[path = "suite/certbot_interop.rs"]
mod certbot_interop;
#[cfg(unix)]
#[path = "suite/cli.rs"]
mod cli;
#[cfg(target_os = "linux")] // loop images, overlays, FUSE, pid namespaces
#[path = "suite/fs_matrix.rs"]
mod fs_matrix;
#[cfg(unix)] // absolute paths in the generated lists are Unix paths
#[path = "suite/fuzz_watchlist.rs"]
mod fuzz_watchlist;
#[cfg(all(unix, feature = "gui"))]
#[path = "suite/gui.rs"]
mod gui;
#[cfg(unix)]
#[path = "suite/hostile/mod.rs"]
mod hostile;
#[cfg(unix)]
#[path = "suite/in_process.rs"]
mod in_process;
#[cfg(target_os = "linux")] // /proc/locks and /proc/<pid>/fdinfo
#[path = "suite/probe_holders.rs"]
mod probe_holders;
#[cfg(target_os = "linux")] // strace fault injection
#[path = "suite/reliability.rs"]
mod reliability;
#[cfg(unix)] // the kill test sends SIGKILL
#[path = "suite/watchlist.rs"]
mod watchlist;
#[cfg(windows)]
#[path = "suite/windows.rs"]
mod windows;
