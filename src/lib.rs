//! lockscope: see, probe and test certbot-style directory locks.
//!
//! - [`lock`] is a faithful port of certbot's lock protocol (`certbot/_internal/lock.py`): a
//!   [`lock::LockFile`] excludes real certbot processes and is excluded by them.
//! - [`probe`](mod@probe) reports a lock's state and holder without creating, truncating, writing,
//!   locking or touching the lock file.
//! - [`watchlist`] keeps saved, named lists of directories to watch (and the monitor settings)
//!   in a TOML file in the config directory, written atomically.
//! - [`terminate`] ends the process holding a lock, pinned by a pidfd so that a recycled pid
//!   is never signalled (Linux).
//! - [`remote`] runs lockscope on other hosts through the system's ssh (`HOST:DIR`).
//! - [`escape`] makes user-chosen names, paths and command lines safe to print on a terminal.
//!
//! See ARCHITECTURE.md for the measured facts that shape both.

#![warn(missing_docs)]

pub mod atomic_file;
pub mod diagnose;
pub mod discover;
pub mod duration;
pub mod escape;
#[cfg(feature = "gui")]
pub mod gui;
pub mod history;
pub mod holder;
pub mod local_time;
pub mod lock;
pub mod monitor;
pub mod path_error;
pub mod probe;
pub mod record;
pub mod remote;
mod sys;
pub mod terminate;
pub mod watchlist;

pub use holder::Holder;
pub use lock::{LOCK_FILE_NAME, LockError, LockFile, lock_dir, lock_dir_with_name};
pub use path_error::PathError;
pub use probe::{LockState, probe};
