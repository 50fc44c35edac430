//! One file per subcommand, each with its local and its `HOST:DIR` path. Commands share the
//! binary's modules (output, rows, remote, metrics) and never import each other. `record` and
//! `history` are `lockscope-history`'s (src/bin/lockscope-history), which links SQLite.

pub(crate) mod explain;
#[cfg(feature = "gui")]
pub(crate) mod gui;
pub(crate) mod hold;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod terminate;
pub(crate) mod watch;
