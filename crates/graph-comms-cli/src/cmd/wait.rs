//! `graph-comms transfer ... --wait`: send the transfer, then follow it to its outcome, through a
//! receiver of the bot's callbacks (`--listen`) or by reading the call (`--poll SECONDS`).
//!
//! With `--listen`, the receiver starts and the transfer is tracked before the request is sent
//! (Graph's first notification may arrive before its `202`); a transfer that reaches `--timeout`
//! without a final notification is reconciled: the call is read (`GET
//! /communications/calls/{id}`) and the outcome decided from what Graph says. With `--poll`, the
//! call is read every SECONDS until it ends or `--timeout` passes, then reconciled the same way.
//!
//! Progress goes to stderr (or stdout as JSON lines with `--json`); the outcome ends the command:
//! exit 0 when the transfer completed, 4 when it failed, the call ended another way, or nothing
//! final came within `--timeout`.

use std::process::ExitCode;
use std::time::Duration;

use graph_comms_flow::ReconcileOptions;
use graph_comms_notify::{
    TrackOptions, TrackerConfig, TransferOutcome, TransferProgress, TransferTracker,
};
use graph_comms_receiver::{AuthConfig, Receiver, ReceiverBuilder, ServeOptions};

use super::transfer::{accepted_json, client, prepare, print_warnings, Args, Failure};
use crate::exit::TRANSFER_FAILED;

/// How long reconciliation keeps reading a call that Graph says is still transferring.
const MAX_GRACE: Duration = Duration::from_secs(30);

/// Sends the transfer and waits for its outcome.
///
/// # Errors
/// A [`Failure`] (exit 2 or 3) when the transfer could not be sent or the receiver not started.
pub(crate) async fn send_and_wait(args: &Args) -> Result<ExitCode, Failure> {
    if let Some(seconds) = args.poll {
        return send_and_poll(args, seconds).await;
    }
    if let Some(url) = &args.store {
        return send_and_wait_on_store(args, url).await;
    }
    let (Some(addr), Some(app_id)) = (args.listen, args.app_id.as_deref()) else {
        return Err(Failure::not_accepted(
            "--wait needs --listen and --app-id, or --poll",
        ));
    };
    let prepared = prepare(args)?;
    let client = client(args, &prepared.base)?;

    let tracker = TransferTracker::new(
        TrackerConfig::default().with_timeout(Duration::from_secs(args.timeout)),
    );
    let auth = AuthConfig::new(app_id).with_openid_config_url(args.openid_config.clone());
    let receiver = Receiver::builder(auth)
        .path(args.path.clone())
        .tracker(tracker.clone());
    let server = serve_receiver(receiver, addr).await?;

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
        if let TransferProgress::Finished(o) = step {
            outcome = Some(o);
            break;
        }
        print_step(&step, args.json);
    }
    let mut outcome = outcome
        .or_else(|| handle.outcome())
        .unwrap_or(TransferOutcome::TimedOut);
    if outcome == TransferOutcome::TimedOut {
        if !args.json {
            eprintln!("no final notification in time; asking Graph what became of the call");
        }
        match graph_comms_flow::reconcile_handle(&client, &handle, &reconcile_options(args, None))
            .await
        {
            Ok(o) => outcome = o,
            Err(e) => eprintln!("graph-comms: warning: reconciliation failed: {e}"),
        }
    }
    server.abort();
    Ok(finish(&outcome, args.json))
}

/// `--store`: register the transfer in the shared store, send it, wait on the store for the
/// outcome any instance records (at the deadline, `TimedOut` is recorded unless one was).
async fn send_and_wait_on_store(args: &Args, url: &str) -> Result<ExitCode, Failure> {
    let prepared = prepare(args)?;
    let client = client(args, &prepared.base)?;
    let timeout = Duration::from_secs(args.timeout);
    let tracker = crate::cmd::store::open(url, TrackerConfig::default().with_timeout(timeout))
        .await
        .map_err(Failure::not_accepted)?;
    let mut options = TrackOptions::default();
    if let Some(replaces) = &args.replaces {
        options = TrackOptions::consultative(replaces.clone());
    }
    let deadline = crate::cmd::store::register(&tracker, &prepared.call_id, options, timeout)
        .await
        .map_err(Failure::not_accepted)?;
    let accepted = client
        .transfer(&prepared.call_id, &prepared.body)
        .await
        .map_err(|e| super::transfer::not_accepted(&e))?;
    print_warnings(&prepared.warnings);
    if args.json {
        println!("{}", accepted_json(&accepted));
    } else {
        eprintln!(
            "202 Accepted (request-id {}); waiting for the outcome in the store",
            accepted.request_id.as_deref().unwrap_or("-"),
        );
    }
    let outcome = crate::cmd::store::wait(&tracker, &prepared.call_id, deadline)
        .await
        .map_err(Failure::not_accepted)?;
    Ok(finish(&outcome, args.json))
}

/// `--poll`: send, then read the call every `seconds` until it ends or `--timeout` passes.
async fn send_and_poll(args: &Args, seconds: u64) -> Result<ExitCode, Failure> {
    let prepared = prepare(args)?;
    let client = client(args, &prepared.base)?;
    let accepted = client
        .transfer(&prepared.call_id, &prepared.body)
        .await
        .map_err(|e| Failure::not_accepted(format_args!("transfer not accepted: {e}")))?;
    print_warnings(&prepared.warnings);
    if args.json {
        println!("{}", accepted_json(&accepted));
    } else {
        eprintln!(
            "202 Accepted (request-id {}); reading the call every {seconds} s",
            accepted.request_id.as_deref().unwrap_or("-"),
        );
    }
    let json = args.json;
    let outcome = graph_comms_flow::poll(
        &client,
        &prepared.call_id,
        Duration::from_secs(args.timeout),
        &reconcile_options(args, Some(seconds)),
        |step| print_step(&step, json),
    )
    .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("graph-comms: warning: {e}");
            TransferOutcome::TimedOut
        }
    };
    Ok(finish(&outcome, args.json))
}

/// Reconciliation settings: a grace period of at most `--timeout` (and 30 s); reads every
/// `interval` seconds (`--poll`), else every second.
fn reconcile_options(args: &Args, interval: Option<u64>) -> ReconcileOptions {
    ReconcileOptions::default()
        .with_grace(Duration::from_secs(args.timeout).min(MAX_GRACE))
        .with_interval(Duration::from_secs(interval.unwrap_or(1)))
}

/// Prints one progress step: a JSON line on stdout, or a word on stderr.
fn print_step(step: &TransferProgress, json: bool) {
    let (event, detail) = match step {
        TransferProgress::Transferring => ("transferring", None),
        TransferProgress::TransferAccepted => ("transferAccepted", None),
        TransferProgress::ConsultationEnded { call_id, .. } => {
            ("consultationEnded", Some(call_id.clone()))
        }
        _ => return,
    };
    print_event(event, "callId", detail, json);
}

/// Prints one event: `{"event": …, key: detail}` on stdout with `--json`, else the event and its
/// detail (quoted) on stderr.
pub(crate) fn print_event(event: &str, key: &str, detail: Option<String>, json: bool) {
    if json {
        let mut line = serde_json::Map::new();
        line.insert("event".into(), event.into());
        line.insert(key.into(), detail.into());
        println!("{}", serde_json::Value::Object(line));
    } else {
        eprintln!(
            "{event}{}",
            detail.map(|d| format!(" {d:?}")).unwrap_or_default()
        );
    }
}

/// Prints the outcome and returns the exit code.
fn finish(outcome: &TransferOutcome, json: bool) -> ExitCode {
    report(outcome, json);
    if outcome.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TRANSFER_FAILED)
    }
}

/// Prints the outcome: one JSON line, or one human line with what it means.
fn report(outcome: &TransferOutcome, json: bool) {
    let name = match outcome {
        TransferOutcome::Completed { .. } => "completed",
        TransferOutcome::Failed { .. } => "failed",
        TransferOutcome::CallEnded { .. } => "callEnded",
        TransferOutcome::TimedOut => "timedOut",
        _ => "unknown",
    };
    if json {
        let mut line = serde_json::json!({
            "outcome": name,
            "resultCode": outcome.code(),
            "resultSubcode": outcome.subcode(),
            "resultMessage": outcome.message(),
            "terminationReason": outcome.termination_reason(),
            "explanation": outcome.explanation(),
        });
        if outcome.is_inferred() {
            line["inferred"] = true.into();
        }
        if outcome.is_late() {
            line["late"] = true.into();
        }
        println!("{line}");
        return;
    }
    let codes = match (outcome.code(), outcome.subcode()) {
        (Some(c), Some(s)) => format!(" {c}/{s}"),
        (Some(c), None) => format!(" {c}"),
        _ => String::new(),
    };
    let inferred = if outcome.is_inferred() {
        " (inferred)"
    } else {
        ""
    };
    match outcome {
        TransferOutcome::Completed { .. } => println!("transfer completed{inferred}"),
        TransferOutcome::TimedOut => println!("no outcome before the timeout"),
        _ => {
            let why = outcome
                .explanation()
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            println!("transfer {name}{codes}{inferred}{why}");
        }
    }
}

/// Builds the `--wait` receiver, binds `--listen` (`addr`) and serves the receiver in a task
/// (abort it once the transfer is followed).
pub(crate) async fn serve_receiver(
    receiver: ReceiverBuilder,
    addr: std::net::SocketAddr,
) -> Result<tokio::task::JoinHandle<graph_comms_receiver::Result<()>>, Failure> {
    let receiver = receiver
        .build()
        .map_err(|e| Failure::not_accepted(format_args!("receiver: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::not_accepted(format_args!("--listen {addr}: {e}")))?;
    Ok(tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        ServeOptions::default(),
    )))
}
