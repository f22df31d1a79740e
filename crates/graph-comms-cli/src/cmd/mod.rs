//! One module per subcommand.

pub(crate) mod call;
pub(crate) mod completions;
pub(crate) mod consult;
pub(crate) mod demo;
pub(crate) mod emulate;
pub(crate) mod graph;
pub(crate) mod listen;
pub(crate) mod notify;
pub(crate) mod store;
pub(crate) mod track;
pub(crate) mod transfer;
pub(crate) mod validate;
pub(crate) mod wait;

/// Sets up tracing on stderr: `RUST_LOG` wins, else `-v` counts (warnings only by default, or
/// `quiet_default` when given).
pub(crate) fn init_tracing(verbose: u8, quiet_default: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => quiet_default.unwrap_or("warn"),
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
