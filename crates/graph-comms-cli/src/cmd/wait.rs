//! `graph-comms transfer ... --wait`: send the transfer, then follow it to its outcome through a
//! receiver of the bot's callbacks.
//!
//! The receiver starts and the transfer is tracked before the request is sent (Graph's first
//! notification may arrive before its `202`). Progress goes to stderr (or stdout as JSON lines with
//! `--json`); the outcome ends the command: exit 0 when the transfer completed, 4 when it failed,
//! the call ended another way, or nothing final came within `--timeout`.

use std::process::ExitCode;
use std::time::Duration;

use graph_comms_notify::{
    explain_subcode, TrackOptions, TrackerConfig, TransferOutcome, TransferProgress,
    TransferTracker,
};
use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions};

use super::transfer::{accepted_json, client, prepare, print_warnings, Args, Failure};
use crate::exit::TRANSFER_FAILED;

/// Sends the transfer and waits for its outcome.
///
/// # Errors
/// A [`Failure`] (exit 2 or 3) when the transfer could not be sent or the receiver not started.
pub(crate) async fn send_and_wait(args: &Args) -> Result<ExitCode, Failure> {
    let (Some(addr), Some(app_id)) = (args.listen, args.app_id.as_deref()) else {
        return Err(Failure::not_accepted("--wait needs --listen and --app-id"));
    };
    let prepared = prepare(args)?;
    let client = client(args, &prepared.base)?;

    let tracker = TransferTracker::new(
        TrackerConfig::default().with_timeout(Duration::from_secs(args.timeout)),
    );
    let auth = AuthConfig::new(app_id).with_openid_config_url(args.openid_config.clone());
    let receiver = Receiver::builder(auth)
        .path(args.path.clone())
        .tracker(tracker.clone())
        .build()
        .map_err(|e| Failure::not_accepted(format_args!("receiver: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::not_accepted(format_args!("--listen {addr}: {e}")))?;
    let server = tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        ServeOptions::default(),
    ));

    let mut options = TrackOptions::default();
    if let Some(replaces) = &args.replaces {
        options = TrackOptions::consultative(replaces.clone());
    }
    let handle = tracker
        .track_with(prepared.call_id.clone(), options)
        .map_err(|e| Failure::not_accepted(format_args!("tracker: {e}")))?;
    let mut progress = handle.progress();

    let accepted = client
        .transfer(&prepared.call_id, &prepared.body)
        .await
        .map_err(|e| super::transfer::not_accepted(&e));
    let accepted = match accepted {
        Ok(a) => a,
        Err(f) => {
            server.abort();
            return Err(f);
        }
    };
    print_warnings(&prepared.warnings);
    if args.json {
        println!("{}", accepted_json(&accepted));
    } else {
        eprintln!(
            "202 Accepted (request-id {}); waiting for the outcome on {addr}{}",
            accepted.request_id.as_deref().unwrap_or("-"),
            args.path
        );
    }

    let mut outcome = None;
    while let Some(step) = progress.next().await {
        let (event, detail) = match &step {
            TransferProgress::Transferring => ("transferring", None),
            TransferProgress::TransferAccepted => ("transferAccepted", None),
            TransferProgress::ConsultationEnded { call_id, .. } => {
                ("consultationEnded", Some(call_id.clone()))
            }
            TransferProgress::Finished(o) => {
                outcome = Some(o.clone());
                break;
            }
            _ => continue,
        };
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "event": event, "callId": detail })
            );
        } else {
            eprintln!(
                "{event}{}",
                detail.map(|d| format!(" {d}")).unwrap_or_default()
            );
        }
    }
    let outcome = match outcome {
        Some(o) => o,
        None => handle.await,
    };
    server.abort();
    report(&outcome, args.json);
    Ok(if outcome.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TRANSFER_FAILED)
    })
}

/// Prints the outcome: one JSON line, or one human line with the sub-code's explanation.
fn report(outcome: &TransferOutcome, json: bool) {
    let (name, code, subcode, message) = match outcome {
        TransferOutcome::Completed => ("completed", None, None, None),
        TransferOutcome::Failed {
            code,
            subcode,
            message,
            ..
        } => ("failed", Some(*code), *subcode, message.clone()),
        TransferOutcome::CallEnded {
            code,
            subcode,
            message,
        } => ("callEnded", *code, *subcode, message.clone()),
        TransferOutcome::TimedOut => ("timedOut", None, None, None),
        _ => ("unknown", None, None, None),
    };
    let explanation = subcode.and_then(explain_subcode);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "outcome": name,
                "resultCode": code,
                "resultSubcode": subcode,
                "resultMessage": message,
                "explanation": explanation,
            })
        );
        return;
    }
    let codes = match (code, subcode) {
        (Some(c), Some(s)) => format!(" {c}/{s}"),
        (Some(c), None) => format!(" {c}"),
        _ => String::new(),
    };
    let why = explanation
        .map(str::to_owned)
        .or(message)
        .map(|w| format!(": {w}"))
        .unwrap_or_default();
    match outcome {
        TransferOutcome::Completed => println!("transfer completed"),
        TransferOutcome::TimedOut => println!("no outcome before the timeout"),
        _ => println!("transfer {name}{codes}{why}"),
    }
}
