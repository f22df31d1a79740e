//! `graph-comms notify ...`.

use std::process::ExitCode;

/// Subcommands of `graph-comms notify`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum NotifyCommand {
    /// Decode a commsNotifications body and print one JSON line per notification.
    Parse {},
}

/// Runs `graph-comms notify ...`.
pub(crate) fn run(_command: NotifyCommand) -> ExitCode {
    crate::exit::fail(1, "this subcommand is not built yet")
}
