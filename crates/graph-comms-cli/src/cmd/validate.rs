//! `graph-comms validate`: checks a transfer request body against the call it applies to.
//!
//! Reads the body (JSON) from FILE, or from stdin when FILE is `-` or absent, and prints every
//! violation, warnings and errors, one per line on stderr as `path: message`. Exits 0 when there
//! is no error (warnings allowed), 2 when there is any error or the input is not a JSON object
//! (broken JSON is reported with its line and column).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use graph_comms_transfer::{validate_json, CallContext, CallKind, Guid};

use crate::exit::{fail, INVALID_INPUT, SUCCESS};

/// The kind of call the body applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Call {
    /// A two-party call.
    Peer,
    /// A call with more than two participants (a transferee is required).
    Group,
}

/// Arguments of `graph-comms validate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints each violation on stderr as `path: message` (warnings say `warning:`).
Exit codes: 0 no error (warnings allowed); 2 an error, or input that is not a JSON object.

Example:
  graph-comms validate --call group --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47 body.json")]
pub(crate) struct Args {
    /// The kind of call being transferred.
    #[arg(long, value_enum)]
    call: Call,
    /// The bot is an application instance with a phone number (needed for PSTN targets).
    #[arg(long)]
    app_instance: bool,
    /// The tenant of the call (a GUID); every tenant the body states must be this one.
    #[arg(long, value_name = "T", value_parser = parse_tenant)]
    tenant: Option<Guid>,
    /// The transfer request body (JSON); `-` or nothing reads stdin.
    #[arg(value_name = "FILE|-")]
    file: Option<PathBuf>,
}

fn parse_tenant(s: &str) -> Result<Guid, String> {
    Guid::parse(s).map_err(|e| e.to_string())
}

/// Runs `graph-comms validate`.
pub(crate) fn run(args: Args) -> ExitCode {
    let (name, input) = match read_input(args.file.as_deref()) {
        Ok(read) => read,
        Err(message) => return fail(INVALID_INPUT, message),
    };
    let kind = match args.call {
        Call::Peer => CallKind::Peer,
        Call::Group => CallKind::Group,
    };
    let mut ctx = CallContext::new(kind).with_application_instance(args.app_instance);
    ctx.tenant_id = args.tenant;
    match validate_json(&input, &ctx) {
        Err(e) => fail(INVALID_INPUT, format_args!("{name}: {e}")),
        Ok((_, report)) => {
            let mut stderr = String::new();
            for v in report.violations() {
                stderr.push_str(&v.to_string());
                stderr.push('\n');
            }
            eprint!("{stderr}");
            ExitCode::from(if report.has_errors() {
                INVALID_INPUT
            } else {
                SUCCESS
            })
        }
    }
}

/// The input's display name and bytes.
fn read_input(file: Option<&std::path::Path>) -> Result<(String, Vec<u8>), String> {
    match file {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read(p)
            .map(|bytes| (p.display().to_string(), bytes))
            .map_err(|e| format!("cannot read {}: {e}", p.display())),
    }
}

fn read_stdin() -> Result<(String, Vec<u8>), String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    Ok(("<stdin>".to_owned(), bytes))
}
