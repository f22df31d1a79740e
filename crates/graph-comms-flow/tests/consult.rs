//! Consultative transfer against the emulator, in process: our client, our receiver (signed
//! callbacks on 127.0.0.1), the tracker and the call lifecycle. Every branch: transferred,
//! declined, no answer, answer timeout, 7700, refused (8523), the hook rolling back,
//! the caller hanging up on hold, and the future dropped mid-flow.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{CallTarget, Emulator, EmulatorConfig, PlaceCall, Script, TransferFlow};
use graph_comms_flow::{
    ConsultOptions, ConsultOutcome, ConsultStep, Consultation, Proceed, ReconcileOptions,
    RollbackReason,
};
use graph_comms_notify::{CallLifecycle, TrackerConfig, TransferTracker};
use graph_comms_receiver::{AuthConfig, Delivery, Receiver, ServeOptions};
use graph_comms_transfer::{Guid, OutgoingCall, Transfer};
use graph_comms_transport::{ClientCredential, ClientCredentials, GraphCommsClient, Secret};

const BOT: &str = "9ecd52e5-6592-42b7-b562-093f37f13bde";
const HEIDI: &str = "550fae72-d251-43ec-868c-373732c2704f";

struct Bot {
    emulator: Emulator,
    client: GraphCommsClient,
    tracker: TransferTracker,
    lifecycle: Arc<CallLifecycle>,
    callback: String,
}

async fn bot() -> Bot {
    let emulator = Emulator::start(EmulatorConfig::default().with_bot_app_id(BOT))
        .await
        .unwrap();
    let tenant = emulator.tenant_id().to_string();
    let tracker = TransferTracker::new(TrackerConfig::default());
    let lifecycle = Arc::new(CallLifecycle::default());
    let feed = Arc::clone(&lifecycle);
    let auth = AuthConfig::new(BOT).with_openid_config_url(emulator.openid_config_url());
    let receiver = Receiver::builder(auth)
        .tracker(tracker.clone())
        .handler(move |d: &Delivery<'_>| {
            for e in d.events {
                feed.apply(e);
            }
        })
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        receiver.path()
    );
    tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        ServeOptions::default(),
    ));
    let tokens = ClientCredentials::builder(BOT, ClientCredential::Secret(Secret::new("s")))
        .authority_host(emulator.root_url())
        .and_then(|b| b.home_tenant(tenant.clone()).build())
        .unwrap();
    let client = GraphCommsClient::builder(Arc::new(tokens))
        .base_url(emulator.base_url(ApiVersion::Beta).clone())
        .tenant(tenant)
        .build()
        .unwrap();
    Bot {
        emulator,
        client,
        tracker,
        lifecycle,
        callback,
    }
}

/// A call at the bot whose transfer plays `flow`, the target's behaviour `target`; returns the
/// call id, the caller's participant id (read through `GET .../participants`) and the
/// consultation.
async fn setup(bot: &Bot, flow: Script, target: Script) -> (String, String, Consultation) {
    bot.emulator.set_default_script(target);
    let call = bot
        .emulator
        .place_call(
            PlaceCall::new(bot.callback.clone())
                .with_app_id(BOT)
                .with_script(flow),
        )
        .unwrap();
    let participants = bot.client.list_participants(&call.id).await.unwrap();
    let caller = participants[0].id.clone().expect("participant id");
    let tenant: Guid = bot.emulator.tenant_id();
    let heidi: Guid = HEIDI.parse().unwrap();
    let consultation = Consultation::new(
        call.id.clone(),
        caller.clone(),
        OutgoingCall::to_teams_user(bot.callback.clone(), heidi, tenant).build(),
        Transfer::to_teams_user(heidi, tenant),
    )
    .tenant(tenant.to_hyphenated())
    .options(
        ConsultOptions::default()
            .with_answer_timeout(Duration::from_secs(5))
            .with_transfer_timeout(Duration::from_secs(5))
            .with_reconcile(
                ReconcileOptions::default()
                    .with_grace(Duration::from_millis(500))
                    .with_interval(Duration::from_millis(50)),
            ),
    );
    (call.id, caller, consultation)
}

/// Collects the steps of a run.
fn recorder() -> (Arc<Mutex<Vec<ConsultStep>>>, impl FnMut(ConsultStep) + Send) {
    let steps = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&steps);
    (steps, move |s| sink.lock().unwrap().push(s))
}

fn consultation_id(steps: &[ConsultStep]) -> String {
    steps
        .iter()
        .find_map(|s| match s {
            ConsultStep::ConsultationPlaced { call_id } => Some(call_id.clone()),
            _ => None,
        })
        .expect("a consultation call was placed")
}

/// Waits until the emulator no longer has `call_id` up (gone, or terminated).
async fn assert_down(emulator: &Emulator, call_id: &str) {
    for _ in 0..200 {
        match emulator.call_state(call_id).as_deref() {
            None | Some("terminated") => return,
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    panic!(
        "call {call_id} is still up: {:?}",
        emulator.call_state(call_id)
    );
}

fn placed_and_hung_up(steps: &[ConsultStep]) -> (bool, bool, bool) {
    (
        steps.contains(&ConsultStep::HoldStarted),
        steps.contains(&ConsultStep::HoldStopped),
        steps.contains(&ConsultStep::ConsultationHungUp),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_answers_then_transferred() {
    let bot = bot().await;
    let (call, _, consultation) = setup(
        &bot,
        Script::new(TransferFlow::Success),
        Script::default().with_target(CallTarget::Answer),
    )
    .await;
    let (steps, on_step) = recorder();
    let outcome = consultation
        .run(&bot.client, &bot.tracker, &bot.lifecycle, on_step)
        .await
        .unwrap();
    let steps = steps.lock().unwrap().clone();
    let consult = consultation_id(&steps);
    match &outcome {
        ConsultOutcome::Completed {
            consultation_call_id,
            transfer,
        } => {
            assert_eq!(consultation_call_id, &consult);
            assert_eq!(transfer.termination_reason(), Some("AppTransferred"));
        }
        other => panic!("expected Completed, got {other:?}"),
    }
    assert_eq!(outcome.name(), "completed");
    assert!(steps.contains(&ConsultStep::TargetAnswered));
    assert!(steps.contains(&ConsultStep::TransferSent));
    // Graph ended the consultation call itself (AppTransferred): the flow did not hang it up.
    assert_eq!(placed_and_hung_up(&steps), (true, false, false));
    assert_down(&bot.emulator, &consult).await;
    assert_down(&bot.emulator, &call).await;
}

/// Runs a consultation expected to roll back; checks the reason and codes, that the caller is off
/// hold and still connected, and that the consultation call is down.
async fn check_rolled_back(
    flow: Script,
    target: Script,
    hook: Option<Proceed>,
    want: (RollbackReason, Option<i64>, Option<i64>),
) -> Vec<ConsultStep> {
    let bot = bot().await;
    let (call, _, consultation) = setup(&bot, flow, target).await;
    let (steps, on_step) = recorder();
    let decision = hook.unwrap_or(Proceed::Transfer);
    let outcome = consultation
        .run_with(
            &bot.client,
            &bot.tracker,
            &bot.lifecycle,
            on_step,
            |_| async move { decision },
        )
        .await
        .unwrap();
    match &outcome {
        ConsultOutcome::RolledBack {
            reason,
            code,
            subcode,
            ..
        } => assert_eq!((reason.clone(), *code, *subcode), want),
        other => panic!("expected RolledBack, got {other:?}"),
    }
    assert_eq!(outcome.name(), "rolledBack");
    let steps = steps.lock().unwrap().clone();
    assert!(steps.contains(&ConsultStep::HoldStarted));
    assert!(steps.contains(&ConsultStep::HoldStopped), "{steps:?}");
    assert!(
        steps.contains(&ConsultStep::RollingBack(want.0)),
        "{steps:?}"
    );
    assert_eq!(bot.emulator.on_hold(&call), None);
    assert_eq!(
        bot.emulator.call_state(&call).as_deref(),
        Some("established")
    );
    assert_down(&bot.emulator, &consultation_id(&steps)).await;
    steps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_declines_then_rolled_back() {
    let steps = check_rolled_back(
        Script::new(TransferFlow::Success),
        Script::default().with_target(CallTarget::Decline),
        None,
        (RollbackReason::Declined, Some(603), Some(0)),
    )
    .await;
    // Graph ended the declined call: nothing to hang up, no transfer sent.
    assert!(!steps.contains(&ConsultStep::ConsultationHungUp));
    assert!(!steps.contains(&ConsultStep::TransferSent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_does_not_answer_then_rolled_back() {
    check_rolled_back(
        Script::new(TransferFlow::Success),
        Script::default().with_target(CallTarget::NoAnswer),
        None,
        (RollbackReason::NoAnswer, Some(408), Some(10057)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_timeout_hangs_up_the_ringing_call() {
    let bot = bot().await;
    // The target rings and never answers; the flow gives it 300 ms.
    let (call, _, consultation) = setup(
        &bot,
        Script::new(TransferFlow::Success),
        Script::default().with_target(CallTarget::Ring),
    )
    .await;
    let consultation = consultation
        .options(ConsultOptions::default().with_answer_timeout(Duration::from_millis(300)));
    let (steps, on_step) = recorder();
    let outcome = consultation
        .run(&bot.client, &bot.tracker, &bot.lifecycle, on_step)
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            ConsultOutcome::RolledBack {
                reason: RollbackReason::NoAnswer,
                code: None,
                ..
            }
        ),
        "{outcome:?}"
    );
    let steps = steps.lock().unwrap().clone();
    assert_eq!(placed_and_hung_up(&steps), (true, true, true));
    assert_eq!(bot.emulator.on_hold(&call), None);
    assert_down(&bot.emulator, &consultation_id(&steps)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_fails_7700_then_rolled_back() {
    let steps = check_rolled_back(
        Script::new(TransferFlow::ConsultativeFailed),
        Script::default(),
        None,
        (RollbackReason::TransferFailed, Some(500), Some(7700)),
    )
    .await;
    assert!(steps.contains(&ConsultStep::TransferSent));
    assert!(steps.contains(&ConsultStep::ConsultationHungUp));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_refused_in_a_meeting_then_rolled_back() {
    let steps = check_rolled_back(
        Script::new(TransferFlow::Success).with_refusal(8523),
        Script::default(),
        None,
        (RollbackReason::TransferRefused, Some(403), Some(8523)),
    )
    .await;
    assert!(!steps.contains(&ConsultStep::TransferSent));
    assert!(steps.contains(&ConsultStep::ConsultationHungUp));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_rolls_back() {
    let steps = check_rolled_back(
        Script::new(TransferFlow::Success),
        Script::default(),
        Some(Proceed::RollBack("Heidi is in a meeting".into())),
        (
            RollbackReason::Hook("Heidi is in a meeting".into()),
            None,
            None,
        ),
    )
    .await;
    assert!(steps.contains(&ConsultStep::TargetAnswered));
    assert!(!steps.contains(&ConsultStep::TransferSent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_hangs_up_while_on_hold() {
    let bot = bot().await;
    let (call, _, consultation) =
        setup(&bot, Script::new(TransferFlow::Success), Script::default()).await;
    let (steps, on_step) = recorder();
    let emulator = &bot.emulator;
    let call_id = call.clone();
    let outcome = consultation
        .run_with(
            &bot.client,
            &bot.tracker,
            &bot.lifecycle,
            on_step,
            |_| async move {
                // The caller hangs up while the bot talks to the target.
                emulator.hang_up(&call_id).unwrap();
                std::future::pending::<Proceed>().await
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, ConsultOutcome::CallEnded { .. }),
        "{outcome:?}"
    );
    let steps = steps.lock().unwrap().clone();
    assert!(steps.contains(&ConsultStep::ConsultationHungUp));
    assert!(!steps.contains(&ConsultStep::TransferSent));
    assert_down(&bot.emulator, &consultation_id(&steps)).await;
    assert_down(&bot.emulator, &call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_mid_flow_leaves_no_consultation_call_up() {
    let bot = bot().await;
    let (call, caller, consultation) =
        setup(&bot, Script::new(TransferFlow::Success), Script::default()).await;
    let (steps, on_step) = recorder();
    // The target answers; the hook never returns; the bot gives up on the whole flow.
    let run = consultation.run_with(&bot.client, &bot.tracker, &bot.lifecycle, on_step, |_| {
        std::future::pending::<Proceed>()
    });
    let gave_up = tokio::time::timeout(Duration::from_millis(1500), run).await;
    assert!(
        gave_up.is_err(),
        "the flow should still be waiting on the hook"
    );
    let steps = steps.lock().unwrap().clone();
    assert!(steps.contains(&ConsultStep::TargetAnswered), "{steps:?}");
    let consult = consultation_id(&steps);
    assert_down(&bot.emulator, &consult).await;
    // The caller is taken off hold too, and stays connected.
    for _ in 0..200 {
        if bot.emulator.on_hold(&call).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(bot.emulator.on_hold(&call), None, "{caller} still on hold");
    assert_eq!(
        bot.emulator.call_state(&call).as_deref(),
        Some("established")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_while_ringing_leaves_no_consultation_call_up() {
    let bot = bot().await;
    let (_, _, consultation) = setup(
        &bot,
        Script::new(TransferFlow::Success),
        Script::default().with_target(CallTarget::Ring),
    )
    .await;
    let (steps, on_step) = recorder();
    let run = consultation.run(&bot.client, &bot.tracker, &bot.lifecycle, on_step);
    assert!(tokio::time::timeout(Duration::from_millis(800), run)
        .await
        .is_err());
    let steps = steps.lock().unwrap().clone();
    assert!(!steps.contains(&ConsultStep::TargetAnswered));
    assert_down(&bot.emulator, &consultation_id(&steps)).await;
}
