//! `graph-comms demo`.

use std::process::ExitCode;

/// Arguments of `graph-comms demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `graph-comms demo`.
pub(crate) fn run(_args: Args) -> ExitCode {
    crate::exit::fail(1, "this subcommand is not built yet")
}
