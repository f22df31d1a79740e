//! `graph-comms listen`.

use std::process::ExitCode;

/// Arguments of `graph-comms listen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `graph-comms listen`.
pub(crate) fn run(_args: Args) -> ExitCode {
    crate::exit::fail(1, "this subcommand is not built yet")
}
