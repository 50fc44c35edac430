//! The integration tests, as one test binary (ripgrep's layout): the modules are in `suite/`,
//! the shared helpers in `common/`. One binary links once where twelve linked twelve times, and
//! linking dominates `cargo test` on 2 cores.
//!
//! One binary for every platform: Unix builds get the Unix and Linux modules below, plus `gui`
//! with the `gui` feature (it drives the real app headless through egui_kittest, a Unix
//! dev-dependency); Windows builds get only `windows`, which `scripts/windows-test` builds for
//! x86_64-pc-windows-gnu and runs under Wine (`--test tests`). The monitor engine's tests share
//! the process with tests that probe in-process: the engine tells its own lock-file opens from
//! others' by a per-thread count of probe opens, so those probes cannot hide a real open event.
//!
//! Nothing here changes process-wide state another module could see: no test sets environment
//! variables, the current directory, the umask or signal handlers in this process (children
//! get their own environment through `Command`). `hostile` runs this binary again as an
//! unprivileged child selecting its one test by full name (`hostile::unprivileged_child`), and
//! `terminate` in a pid namespace (`terminate::pid_reuse_child`): these helpers are `#[ignore]`d
//! (not counted as tests) and run with `--ignored --exact`; run without their parent, they fail.
//! The app's time test: `gui::times_follow_tz_not_utc` runs this binary with `TZ` set, selecting the ignored
//! `gui::times_in_new_york_child` (`--ignored --exact`).
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
#[cfg(target_os = "linux")] // /proc: what holders wait for, their children, pid namespaces
#[path = "suite/diagnose.rs"]
mod diagnose;
#[cfg(unix)]
#[path = "suite/first_run.rs"]
mod first_run;
#[cfg(target_os = "linux")] // loop images, overlays, FUSE, pid namespaces
#[path = "suite/fs_matrix.rs"]
mod fs_matrix;
#[cfg(unix)] // absolute paths in the generated lists are Unix paths
#[path = "suite/fuzz_watchlist.rs"]
mod fuzz_watchlist;
#[cfg(all(unix, feature = "gui"))]
#[path = "suite/gui.rs"]
mod gui;
#[cfg(target_os = "linux")] // the flight recorder against real certbot, SIGKILLed at random
#[path = "suite/history.rs"]
mod history;
#[cfg(unix)]
#[path = "suite/hostile/mod.rs"]
mod hostile;
#[cfg(unix)]
#[path = "suite/in_process.rs"]
mod in_process;
#[cfg(target_os = "linux")] // the engine reads /proc/locks
#[path = "suite/monitor.rs"]
mod monitor;
#[cfg(target_os = "linux")] // setpriv, the kernel's symlink rules
#[path = "suite/neighbours.rs"]
mod neighbours;
#[cfg(target_os = "linux")] // /proc/locks and /proc/<pid>/fdinfo
#[path = "suite/probe_holders.rs"]
mod probe_holders;
#[cfg(target_os = "linux")] // holders' names from /proc/<pid>/comm; Debian's prometheus
#[path = "suite/prometheus.rs"]
mod prometheus;
#[cfg(target_os = "linux")] // strace fault injection
#[path = "suite/reliability.rs"]
mod reliability;
#[cfg(target_os = "linux")] // a real sshd (Debian openssh-server), /proc for process trees
#[path = "suite/remote.rs"]
mod remote;
#[cfg(target_os = "linux")] // /proc/PID/status (threads), Debian's prometheus
#[path = "suite/serve_hostile.rs"]
mod serve_hostile;
#[cfg(target_os = "linux")] // /proc/locks under churn, unprivileged children
#[path = "suite/table_churn.rs"]
mod table_churn;
#[cfg(target_os = "linux")] // pidfds, pid namespaces
#[path = "suite/terminate.rs"]
mod terminate;
#[cfg(target_os = "linux")] // mounts, /proc, setpriv: issue 20's truth oracle
#[path = "suite/truth.rs"]
mod truth;
#[cfg(unix)] // the kill test sends SIGKILL
#[path = "suite/watchlist.rs"]
mod watchlist;
#[cfg(windows)]
#[path = "suite/windows.rs"]
mod windows;
#[cfg(target_os = "linux")] // flock(1), a real sshd (Debian openssh-server)
#[path = "suite/wire.rs"]
mod wire;
