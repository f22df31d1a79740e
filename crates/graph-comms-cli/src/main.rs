//! `graph-comms`: validate, send and follow Microsoft Graph call transfers from the command line.
//!
//! Exit codes, fixed for the whole CLI (see [`exit`]): 0 success, 2 invalid input, 3 any failure
//! before Graph accepted a request, 4 a transfer that Graph accepted but then failed or timed out.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod exit;

/// Validate, send and follow Microsoft Graph call transfers.
#[derive(Debug, Parser)]
#[command(name = "graph-comms", version, about, long_about = None)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a transfer request body against the call it applies to.
    Validate(cmd::validate::Args),
    /// Send a transfer to Microsoft Graph (or an emulator).
    Transfer(Box<cmd::transfer::Args>),
    /// Work with commsNotifications bodies.
    #[command(subcommand)]
    Notify(cmd::notify::NotifyCommand),
    /// Place, answer, reject, redirect, hang up or read a call.
    #[command(
        subcommand,
        after_help = "Examples:\n  graph-comms call create --to-user USER --callback-uri URL --tenant T\n  \
                      graph-comms call answer --call-id ID --callback-uri URL\n  \
                      graph-comms call get --call-id ID"
    )]
    Call(cmd::call::CallCommand),
    /// Run the authenticated webhook receiver alone and print each event.
    Listen(cmd::listen::Args),
    /// Read, or wait for, a transfer's outcome in a shared store (--store).
    Track(cmd::track::Args),
    /// Run the offline Graph communications emulator.
    Emulate(cmd::emulate::Args),
    /// Run every transfer scenario offline, end to end, against the emulator.
    Demo(cmd::demo::Args),
    /// Print shell completions.
    Completions(cmd::completions::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo runs its own emulator: its start-up warning about development defaults is noise
    // there (`-v` or RUST_LOG still show it).
    let quiet = matches!(cli.command, Command::Demo(_)) && cli.verbose == 0;
    cmd::init_tracing(
        cli.verbose,
        quiet.then_some("warn,graph_comms_emulator=error"),
    );
    match cli.command {
        Command::Validate(args) => cmd::validate::run(args),
        Command::Transfer(args) => cmd::transfer::run(*args),
        Command::Notify(args) => cmd::notify::run(args),
        Command::Call(args) => cmd::call::run(args),
        Command::Listen(args) => cmd::listen::run(args),
        Command::Track(args) => cmd::track::run(args),
        Command::Emulate(args) => cmd::emulate::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Completions(args) => cmd::completions::run::<Cli>(args),
    }
}
