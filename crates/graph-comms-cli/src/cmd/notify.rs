//! `graph-comms notify ...`: work with `commsNotifications` bodies.
//!
//! `notify parse [FILE|-]` reads a body from FILE, or from stdin when FILE is `-` or absent, and
//! prints one JSON object per notification, each on its own line, with exactly the keys `callId`,
//! `changeType`, `state`, `event` (`transferring`, `transferAccepted`, `transferCompleted`,
//! `transferFailed` or `other`), `resultCode`, `resultSubcode` (integers when the payload gives a
//! number or a numeric string, else `null`), `resultMessage`, `terminationReason` and
//! `replacesContext` (`null` where absent). Input that is not JSON, not a JSON object, or not a
//! `commsNotifications` body exits 2 with a message naming line and column.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::exit::{fail, INVALID_INPUT, NOT_ACCEPTED, SUCCESS};

/// Subcommands of `graph-comms notify`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum NotifyCommand {
    /// Decode a commsNotifications body and print one JSON line per notification.
    #[command(after_help = "\
Each line has exactly the keys callId, changeType, state, event (transferring, transferAccepted,
transferCompleted, transferFailed or other), resultCode, resultSubcode, resultMessage,
terminationReason and replacesContext (null where absent).
Exit codes: 0 decoded; 2 input that is not JSON, not an object, or not a notification batch.

Examples:
  graph-comms notify parse notification.json
  curl -s https://example.test/body.json | graph-comms notify parse -")]
    Parse {
        /// The commsNotifications body (JSON); `-` or nothing reads stdin.
        #[arg(value_name = "FILE|-")]
        file: Option<PathBuf>,
    },
}

/// Runs `graph-comms notify ...`.
pub(crate) fn run(command: NotifyCommand) -> ExitCode {
    match command {
        NotifyCommand::Parse { file } => parse(file.as_deref()),
    }
}

fn parse(file: Option<&Path>) -> ExitCode {
    let (name, input) = match read_input(file) {
        Ok(read) => read,
        Err(message) => return fail(INVALID_INPUT, message),
    };
    let events = match graph_comms_notify::decode(&input) {
        Ok(events) => events,
        Err(e) => return fail(INVALID_INPUT, format_args!("{name}: {e}")),
    };
    let mut out = String::new();
    for event in &events {
        out.push_str(&event.to_json_line());
        out.push('\n');
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::from(SUCCESS),
        Err(e) => fail(NOT_ACCEPTED, format_args!("cannot write stdout: {e}")),
    }
}

/// The input's display name and bytes.
fn read_input(file: Option<&Path>) -> Result<(String, Vec<u8>), String> {
    match file {
        Some(p) if p.as_os_str() != "-" => std::fs::read(p)
            .map(|bytes| (p.display().to_string(), bytes))
            .map_err(|e| format!("cannot read {}: {e}", p.display())),
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(("<stdin>".to_owned(), bytes))
        }
    }
}
