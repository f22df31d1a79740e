//! `graph-comms emulate`.

use std::process::ExitCode;

/// Arguments of `graph-comms emulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `graph-comms emulate`.
pub(crate) fn run(_args: Args) -> ExitCode {
    crate::exit::fail(1, "this subcommand is not built yet")
}
