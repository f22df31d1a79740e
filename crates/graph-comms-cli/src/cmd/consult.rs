//! `graph-comms transfer --consult`: a consultative transfer orchestrated by
//! `graph_comms_flow::Consultation`.
//!
//! The caller (found with `GET .../participants`: the first participant that is not an
//! application) is put on hold, a consultation call is placed to the target (`--to-user` or
//! `--to-phone`) with `--callback-uri`, and once the target answers the call is transferred with
//! `replacesCallId` = that call. Callbacks are received on `--listen` (the `--callback-uri` must
//! reach it). Exit 0 when the caller was transferred; 4 when the consultation was rolled back
//! (the target declined, did not answer, the transfer failed) or the caller's call ended, with
//! the reason on stderr; 2 for invalid flags; 3 when Graph refused a step before the
//! consultation call was up.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use graph_comms_flow::{ConsultOptions, ConsultOutcome, ConsultStep, Consultation};
use graph_comms_model::Participant;
use graph_comms_notify::{CallLifecycle, TrackerConfig, TransferProgress, TransferTracker};
use graph_comms_receiver::{AuthConfig, Delivery, Receiver};
use graph_comms_transfer::control::Target;
use graph_comms_transfer::{Guid, OutgoingCall, Transfer, E164};

use super::transfer::{client, prepare, print_warnings, Args, Failure};
use super::wait::serve_receiver;
use crate::exit::TRANSFER_FAILED;

/// The consultation call and the transfer (without `replacesCallId`) the flags describe.
fn parts(args: &Args, callback: &str) -> Result<(OutgoingCall, Transfer), Failure> {
    let invalid = |m: String| Failure {
        code: crate::exit::INVALID_INPUT,
        message: m,
    };
    let tenant = args
        .graph
        .tenant
        .as_deref()
        .and_then(|t| Guid::parse(t).ok());
    if let Some(user) = &args.to_user {
        let user = Guid::parse(user).map_err(|e| invalid(format!("--to-user: {e}")))?;
        let mut call = OutgoingCall::to(callback, Target::teams_user(user, None));
        if let Some(t) = tenant {
            call = call.tenant(t);
        }
        return Ok((call, Transfer::to_teams_user(user, tenant)));
    }
    if let Some(phone) = &args.to_phone {
        let number = E164::parse(phone).map_err(|e| invalid(format!("--to-phone: {e}")))?;
        let Some(instance) = &args.app_instance_id else {
            return Err(invalid(
                "--consult --to-phone needs --app-instance-id (the resource account that places the consultation call)".into(),
            ));
        };
        let instance =
            Guid::parse(instance).map_err(|e| invalid(format!("--app-instance-id: {e}")))?;
        let mut call = OutgoingCall::to(callback, Target::phone(number.clone()))
            .from_application_instance(instance, None::<String>);
        if let Some(t) = tenant {
            call = call.tenant(t);
        }
        return Ok((call, Transfer::to_phone(number)));
    }
    Err(invalid(
        "--consult: name the target with --to-user or --to-phone".into(),
    ))
}

/// The caller: the first participant that is not an application (the bot).
pub(crate) fn caller(participants: &[Participant]) -> Option<String> {
    let is_app = |p: &Participant| {
        p.info
            .as_ref()
            .and_then(|i| i.identity.as_ref())
            .is_some_and(|id| id.application.is_some() || id.application_instance.is_some())
    };
    participants
        .iter()
        .filter(|p| !is_app(p))
        .chain(participants.iter())
        .find_map(|p| p.id.clone())
}

/// Runs the consultation and returns the exit code.
///
/// # Errors
/// A [`Failure`] (exit 2 or 3) for invalid flags, a receiver that cannot start, or Graph
/// refusing a step before the consultation call was up.
pub(crate) async fn consult_and_wait(args: &Args) -> Result<ExitCode, Failure> {
    let (Some(addr), Some(app_id), Some(callback)) = (
        args.listen,
        args.app_id.as_deref(),
        args.callback_uri.as_deref(),
    ) else {
        return Err(Failure::not_accepted(
            "--consult needs --wait, --listen, --app-id and --callback-uri",
        ));
    };
    // The flags' transfer, validated as `transfer` does (without `replacesCallId` yet).
    let prepared = prepare(args)?;
    print_warnings(&prepared.warnings);
    let (call, transfer) = parts(args, callback)?;
    let client = client(args, &prepared.base)?;

    let tracker = TransferTracker::new(TrackerConfig::default());
    let lifecycle = Arc::new(CallLifecycle::default());
    let feed = Arc::clone(&lifecycle);
    let auth = AuthConfig::new(app_id).with_openid_config_url(args.openid_config.clone());
    let receiver = Receiver::builder(auth)
        .path(args.path.clone())
        .tracker(tracker.clone())
        .handler(move |d: &Delivery<'_>| {
            for e in d.events {
                feed.apply(e);
            }
        });
    let server = serve_receiver(receiver, addr).await?;

    let result = run(args, &client, &tracker, &lifecycle, call, transfer).await;
    server.abort();
    let outcome = result?;
    let json = args.json;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "outcome": outcome.name(),
                "reason": match &outcome {
                    ConsultOutcome::RolledBack { reason, .. } => Some(reason.name()),
                    _ => None,
                },
                "resultCode": outcome.code(),
                "resultSubcode": outcome.subcode(),
            })
        );
    }
    if outcome.is_success() {
        if !json {
            println!("transfer completed");
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("graph-comms: {outcome}");
        Ok(ExitCode::from(TRANSFER_FAILED))
    }
}

async fn run(
    args: &Args,
    client: &graph_comms_transport::GraphCommsClient,
    tracker: &TransferTracker,
    lifecycle: &CallLifecycle,
    call: OutgoingCall,
    transfer: Transfer,
) -> Result<ConsultOutcome, Failure> {
    let participants = client
        .list_participants(&args.call_id)
        .await
        .map_err(|e| Failure::not_accepted(format_args!("GET .../participants: {e}")))?;
    let Some(caller) = caller(&participants) else {
        return Err(Failure::not_accepted(format_args!(
            "call {:?} has no participant to transfer",
            args.call_id
        )));
    };
    let timeout = Duration::from_secs(args.timeout);
    let mut consultation = Consultation::new(args.call_id.clone(), caller, call.build(), transfer)
        .options(
            ConsultOptions::default()
                .with_answer_timeout(Duration::from_secs(args.answer_timeout))
                .with_transfer_timeout(timeout),
        );
    if let Some(t) = &args.graph.tenant {
        if Guid::parse(t).is_ok() {
            consultation = consultation.tenant(t.clone());
        }
    }
    let json = args.json;
    consultation
        .run(client, tracker, lifecycle, |step| print_step(&step, json))
        .await
        .map_err(Failure::not_accepted)
}

/// Prints one step: a JSON line on stdout, or a line on stderr.
fn print_step(step: &ConsultStep, json: bool) {
    let (event, detail) = match step {
        ConsultStep::HoldStarted => ("holdStarted", None),
        ConsultStep::ConsultationPlaced { call_id } => {
            ("consultationPlaced", Some(call_id.clone()))
        }
        ConsultStep::TargetAnswered => ("targetAnswered", None),
        ConsultStep::TransferSent => ("transferSent", None),
        ConsultStep::Transfer(TransferProgress::Transferring) => ("transferring", None),
        ConsultStep::Transfer(TransferProgress::TransferAccepted) => ("transferAccepted", None),
        ConsultStep::Transfer(TransferProgress::ConsultationEnded { call_id, .. }) => {
            ("consultationEnded", Some(call_id.clone()))
        }
        ConsultStep::RollingBack(reason) => ("rollingBack", Some(reason.name().to_owned())),
        ConsultStep::HoldStopped => ("holdStopped", None),
        ConsultStep::ConsultationHungUp => ("consultationHungUp", None),
        _ => return,
    };
    super::wait::print_event(event, "detail", detail, json);
}
