//! `graph-comms track`: the outcome of a transfer recorded in a shared store (`--store`), whoever
//! sent it and whichever instance received its notifications.
//!
//! Prints one JSON line, as `listen` prints a finished transfer: `{"callId", "outcome",
//! "resultCode", "resultSubcode", "resultMessage", "replacesContext", "explanation"}` with
//! `outcome` one of `transferCompleted`, `transferFailed`, `callEnded`, `timedOut` (plus
//! `"inferred": true` / `"late": true` when so). Waits up to `--timeout` seconds for an outcome
//! not recorded yet; a call nobody registered is `timedOut` then. Exit 0 when the transfer
//! completed, 4 otherwise, 3 when the store cannot be reached.

use std::process::ExitCode;
use std::time::Duration;

use graph_comms_notify::TrackerConfig;

use crate::cmd::listen::outcome_line;
use crate::cmd::store;
use crate::exit::{fail, NOT_ACCEPTED, TRANSFER_FAILED};

/// Arguments of `graph-comms track`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit codes: 0 the transfer completed; 4 it failed, ended the call another way, or no outcome was
recorded within --timeout (an unknown call is timedOut); 3 the store cannot be reached.

Examples:
  graph-comms track --call-id ID --store redis://127.0.0.1:6379
  graph-comms track --call-id ID --store redis://10.0.0.5:6379/2 --timeout 30")]
pub(crate) struct Args {
    /// The id of the transferred call.
    #[arg(long, value_name = "ID")]
    call_id: String,
    /// The shared transfer store: redis://HOST:PORT[/DB].
    #[arg(long, value_name = "URL", env = "GRAPH_COMMS_STORE")]
    store: String,
    /// Seconds to wait for an outcome not recorded yet.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    timeout: u64,
}

/// Runs `graph-comms track`.
pub(crate) fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(NOT_ACCEPTED, format_args!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        let tracker = match store::open(&args.store, TrackerConfig::default()).await {
            Ok(t) => t,
            Err(e) => return fail(NOT_ACCEPTED, e),
        };
        let timeout = Duration::from_secs(args.timeout);
        match store::read_or_wait(&tracker, &args.call_id, timeout).await {
            Ok(outcome) => {
                println!("{}", outcome_line(&args.call_id, &outcome));
                if outcome.is_success() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(TRANSFER_FAILED)
                }
            }
            Err(e) => fail(NOT_ACCEPTED, e),
        }
    })
}
