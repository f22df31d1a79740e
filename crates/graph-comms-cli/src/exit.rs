//! The CLI's exit codes and its one-line error output.

use std::process::ExitCode;

/// Success.
pub(crate) const SUCCESS: u8 = 0;
/// Invalid input: a body that fails validation, or input that is not JSON.
pub(crate) const INVALID_INPUT: u8 = 2;
/// Any failure before Graph accepted a request (transport, auth, an HTTP error status, ...).
pub(crate) const NOT_ACCEPTED: u8 = 3;
/// A transfer Graph accepted that then failed, ended the call another way, or timed out.
pub(crate) const TRANSFER_FAILED: u8 = 4;

/// Prints `graph-comms: error: {message}` as one line on stderr and returns `code`.
pub(crate) fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    let one_line = message.to_string().replace('\n', " ");
    eprintln!("graph-comms: error: {one_line}");
    ExitCode::from(code)
}
