//! Every scripted branch through our own stack: the transport's `GraphCommsClient` (client
//! credentials from the emulator's token endpoint) sends the transfer, our receiver verifies the
//! emulator's signed callbacks, and its tracker resolves the outcome. All over 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{key, APP_ID, CONSULTATIVE_BODY, PEER_BODY, TENANT, WAIT};
use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{
    Emulator, EmulatorConfig, PlaceCall, RegisteredClient, Script, TransferFlow,
};
use graph_comms_model::TransferRequestBody;
use graph_comms_notify::{
    TrackOptions, TrackerConfig, TransferOutcome, TransferProgress, TransferTracker,
};
use graph_comms_receiver::{AuthConfig, Receiver};
use graph_comms_transport::{
    BaseUrl, CallsPath, ClientCredential, ClientCredentials, GraphCommsClient, RetryPolicy, Secret,
};

/// A bot: emulator, our receiver on a loopback port, and our client authenticated by the
/// emulator's token endpoint.
struct Bot {
    emulator: Emulator,
    receiver: Receiver,
    callback: String,
    client: GraphCommsClient,
}

fn retry_fast() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        jitter: false,
        ..RetryPolicy::default()
    }
}

async fn client(
    emulator: &Emulator,
    base: BaseUrl,
    client_id: &str,
    secret: &str,
) -> GraphCommsClient {
    let tokens =
        ClientCredentials::builder(client_id, ClientCredential::Secret(Secret::new(secret)))
            .authority_host(emulator.root_url())
            .expect("authority")
            .home_tenant(TENANT)
            .build()
            .expect("credentials");
    GraphCommsClient::builder(Arc::new(tokens))
        .base_url(base)
        .tenant(TENANT)
        .retry_policy(retry_fast())
        .build()
        .expect("client")
}

async fn bot_with(config: EmulatorConfig, version: ApiVersion, calls_path: CallsPath) -> Bot {
    let emulator = Emulator::start(config).await.expect("emulator");
    let auth = AuthConfig::new(APP_ID).with_openid_config_url(emulator.openid_config_url());
    let tracker =
        TransferTracker::new(TrackerConfig::default().with_timeout(Duration::from_secs(30)));
    let receiver = Receiver::builder(auth)
        .tracker(tracker)
        .build()
        .expect("receiver");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let callback = format!(
        "http://{}{}",
        listener.local_addr().expect("addr"),
        receiver.path()
    );
    tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        Default::default(),
    ));
    let base = emulator
        .base_url(version)
        .clone()
        .with_calls_path(calls_path);
    let client = client(&emulator, base, APP_ID, "any-secret").await;
    Bot {
        emulator,
        receiver,
        callback,
        client,
    }
}

async fn bot() -> Bot {
    bot_with(common::config(), ApiVersion::V1, CallsPath::Communications).await
}

fn body(json: &str) -> TransferRequestBody {
    serde_json::from_str(json).expect("transfer body")
}

/// Places a call scripted with `script`, transfers it with `json`, and awaits the outcome.
async fn run(
    bot: &Bot,
    script: Script,
    json: &str,
    call: PlaceCall,
) -> (TransferOutcome, Vec<TransferProgress>) {
    let placed = bot
        .emulator
        .place_call(call.with_app_id(APP_ID).with_script(script))
        .expect("place call");
    let body = body(json);
    let options = match body.transfer_target.replaces_call_id.clone() {
        Some(id) => TrackOptions::consultative(id),
        None => TrackOptions::default(),
    };
    // Track before sending: the first notification may beat the 202.
    let handle = bot
        .receiver
        .tracker()
        .track_with(placed.id.clone(), options)
        .expect("track");
    let mut progress = handle.progress();
    let accepted = bot
        .client
        .transfer(&placed.id, &body)
        .await
        .expect("202 Accepted");
    let _ = accepted;
    let outcome = tokio::time::timeout(WAIT, handle)
        .await
        .expect("an outcome");
    let mut steps = Vec::new();
    while let Ok(Some(step)) = tokio::time::timeout(WAIT, progress.next()).await {
        let is_outcome = matches!(step, TransferProgress::Finished(_));
        steps.push(step);
        if is_outcome {
            break;
        }
    }
    assert_eq!(
        bot.receiver.stats().rejected(),
        0,
        "every callback verified"
    );
    (outcome, steps)
}

fn peer(bot: &Bot) -> PlaceCall {
    PlaceCall::new(bot.callback.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_completes_with_7015() {
    let bot = bot().await;
    let (outcome, steps) = run(&bot, Script::default(), PEER_BODY, peer(&bot)).await;
    assert!(outcome.is_success(), "{outcome:?}");
    assert!(steps.contains(&TransferProgress::Transferring), "{steps:?}");
    assert!(
        steps.contains(&TransferProgress::TransferAccepted),
        "{steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consultative_success_completes_with_app_transferred() {
    // One bot per case: the tracker follows the consultation call (`replacesCallId`) too, and
    // the spec body always names the same one.
    let cases = [
        (Script::default(), CONSULTATIVE_BODY),
        (Script::new(TransferFlow::AppTransferred), PEER_BODY),
        (Script::new(TransferFlow::Completed), CONSULTATIVE_BODY),
    ];
    for (script, json) in cases {
        let bot = bot().await;
        let (outcome, _) = run(&bot, script.clone(), json, peer(&bot)).await;
        assert!(outcome.is_success(), "{script:?}: {outcome:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_is_7000_and_the_call_can_transfer_again() {
    let bot = bot().await;
    let placed_script = Script::new(TransferFlow::Failed);
    let (outcome, _) = run(&bot, placed_script, PEER_BODY, peer(&bot)).await;
    match outcome {
        TransferOutcome::Failed { code, subcode, .. } => {
            assert_eq!((code, subcode), (Some(500), Some(7000)))
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_then_retried_transfer_completes() {
    let bot = bot().await;
    let placed = bot
        .emulator
        .place_call(
            peer(&bot)
                .with_app_id(APP_ID)
                .with_script(Script::new(TransferFlow::Failed)),
        )
        .unwrap();
    let tracker = bot.receiver.tracker();
    let first = tracker.track(placed.id.clone()).unwrap();
    bot.client
        .transfer(&placed.id, &body(PEER_BODY))
        .await
        .unwrap();
    assert!(matches!(
        tokio::time::timeout(WAIT, first).await.unwrap(),
        TransferOutcome::Failed { .. }
    ));
    bot.emulator
        .script_call(&placed.id, Script::default())
        .unwrap();
    // The emulator refuses a new transfer until `established` has been posted: it has been.
    let second = tracker.track(placed.id.clone()).unwrap();
    bot.client
        .transfer(&placed.id, &body(PEER_BODY))
        .await
        .unwrap();
    assert!(tokio::time::timeout(WAIT, second)
        .await
        .unwrap()
        .is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consultative_failure_is_7700_with_replaces_context() {
    let bot = bot().await;
    let (outcome, _) = run(
        &bot,
        Script::new(TransferFlow::ConsultativeFailed),
        CONSULTATIVE_BODY,
        peer(&bot),
    )
    .await;
    match outcome {
        TransferOutcome::Failed {
            code,
            subcode,
            replaces_context,
            ..
        } => {
            assert_eq!((code, subcode), (Some(500), Some(7700)));
            assert!(replaces_context.is_some_and(|c| !c.is_empty()));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_hang_up_ends_the_call() {
    let bot = bot().await;
    let (outcome, _) = run(
        &bot,
        Script::new(TransferFlow::CallerHangUp),
        PEER_BODY,
        peer(&bot),
    )
    .await;
    assert!(
        matches!(outcome, TransferOutcome::CallEnded { .. }),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_outcome_times_out() {
    let bot = bot().await;
    let placed = bot
        .emulator
        .place_call(
            peer(&bot)
                .with_app_id(APP_ID)
                .with_script(Script::new(TransferFlow::NoOutcome)),
        )
        .unwrap();
    let options = TrackOptions::default().with_timeout(Duration::from_millis(300));
    let handle = bot
        .receiver
        .tracker()
        .track_with(placed.id.clone(), options)
        .unwrap();
    bot.client
        .transfer(&placed.id, &body(PEER_BODY))
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(WAIT, handle).await.unwrap(),
        TransferOutcome::TimedOut
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_out_of_order_string_codes_and_delays_still_resolve() {
    let bot = bot().await;
    let scripts = [
        Script::default().with_duplicates(),
        Script::default().with_out_of_order(),
        Script::default().with_string_codes().with_delay_ms(5),
        Script::new(TransferFlow::Failed)
            .with_duplicates()
            .with_out_of_order()
            .with_string_codes(),
    ];
    for script in scripts {
        let failed = script.flow == TransferFlow::Failed;
        let (outcome, _) = run(&bot, script.clone(), PEER_BODY, peer(&bot)).await;
        if failed {
            assert!(
                matches!(
                    outcome,
                    TransferOutcome::Failed {
                        code: Some(500),
                        subcode: Some(7000),
                        ..
                    }
                ),
                "{script:?}: {outcome:?}"
            );
        } else {
            assert!(outcome.is_success(), "{script:?}: {outcome:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_transfer_is_retried_by_the_client() {
    let bot = bot().await;
    let (outcome, _) = run(
        &bot,
        Script::default().with_throttle(2, 0),
        PEER_BODY,
        peer(&bot),
    )
    .await;
    assert!(outcome.is_success(), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_call_transfer_with_a_transferee() {
    let bot = bot().await;
    let placed = bot
        .emulator
        .place_call(peer(&bot).with_app_id(APP_ID).with_group(3))
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(PEER_BODY).unwrap();
    json["transferee"] = serde_json::to_value(&placed.participants[2]).unwrap();
    let body: TransferRequestBody = serde_json::from_value(json).unwrap();
    let handle = bot.receiver.tracker().track(placed.id.clone()).unwrap();
    bot.client.transfer(&placed.id, &body).await.expect("202");
    assert!(tokio::time::timeout(WAIT, handle)
        .await
        .unwrap()
        .is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beta_and_the_deprecated_app_path() {
    let bot = bot_with(common::config(), ApiVersion::Beta, CallsPath::LegacyApp).await;
    let (outcome, _) = run(&bot, Script::default(), PEER_BODY, peer(&bot)).await;
    assert!(outcome.is_success(), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_errors_reach_the_client_typed() {
    let bot = bot().await;
    // 404: no such call.
    let err = bot
        .client
        .transfer("4a1f0b00-0000-4000-8000-000000000000", &body(PEER_BODY))
        .await
        .unwrap_err();
    let e = err
        .graph_error()
        .unwrap_or_else(|| panic!("expected a Graph error, got {err:?}"));
    assert_eq!(
        (e.status.as_u16(), e.code.as_deref()),
        (404, Some("itemNotFound"))
    );
    assert!(e.request_id.as_deref().is_some_and(|r| !r.is_empty()));
    // 400: a group call without a transferee.
    let placed = bot
        .emulator
        .place_call(peer(&bot).with_app_id(APP_ID).with_group(2))
        .unwrap();
    let err = bot
        .client
        .transfer(&placed.id, &body(PEER_BODY))
        .await
        .unwrap_err();
    let e = err
        .graph_error()
        .unwrap_or_else(|| panic!("expected a Graph error, got {err:?}"));
    assert_eq!(
        (e.status.as_u16(), e.code.as_deref()),
        (400, Some("BadRequest"))
    );
    assert!(e
        .message
        .as_deref()
        .is_some_and(|m| m.contains("transferee")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_client_without_the_role_gets_403() {
    let config = common::config()
        .with_client(
            RegisteredClient::with_secret("limited", "pw").with_roles(Vec::<String>::new()),
        )
        .with_signing_key(key());
    let bot = bot_with(config, ApiVersion::V1, CallsPath::Communications).await;
    let base = bot.emulator.base_url(ApiVersion::V1).clone();
    let limited = client(&bot.emulator, base.clone(), "limited", "pw").await;
    let placed = bot
        .emulator
        .place_call(peer(&bot).with_app_id(APP_ID))
        .unwrap();
    let err = limited
        .transfer(&placed.id, &body(PEER_BODY))
        .await
        .unwrap_err();
    let e = err
        .graph_error()
        .unwrap_or_else(|| panic!("expected a Graph error, got {err:?}"));
    assert_eq!(e.status.as_u16(), 403);
    // A wrong secret fails at the token endpoint, before Graph.
    let wrong = client(&bot.emulator, base, "limited", "nope").await;
    let err = wrong
        .transfer(&placed.id, &body(PEER_BODY))
        .await
        .unwrap_err();
    assert!(err.graph_error().is_none(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reads_the_call_back() {
    let bot = bot().await;
    let placed = bot
        .emulator
        .place_call(peer(&bot).with_app_id(APP_ID))
        .unwrap();
    let call = bot.client.get_call(&placed.id).await.expect("GET call");
    assert_eq!(call.id.as_deref(), Some(placed.id.as_str()));
    assert_eq!(call.state.as_ref().map(|s| s.as_str()), Some("established"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consultative_transfer_reports_the_consultation_call_ending() {
    let bot = bot().await;
    let consultation = bot
        .emulator
        .place_call(peer(&bot).with_app_id(APP_ID))
        .unwrap();
    let original = bot
        .emulator
        .place_call(peer(&bot).with_app_id(APP_ID))
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(CONSULTATIVE_BODY).unwrap();
    json["transferTarget"]["replacesCallId"] = serde_json::json!(consultation.id);
    let body: TransferRequestBody = serde_json::from_value(json).unwrap();
    let handle = bot
        .receiver
        .tracker()
        .track_with(
            original.id.clone(),
            TrackOptions::consultative(consultation.id.clone()),
        )
        .unwrap();
    let mut progress = handle.progress();
    bot.client.transfer(&original.id, &body).await.expect("202");
    assert!(tokio::time::timeout(WAIT, handle)
        .await
        .unwrap()
        .is_success());
    let mut ended = None;
    for _ in 0..8 {
        match tokio::time::timeout(WAIT, progress.next()).await {
            Ok(Some(TransferProgress::ConsultationEnded {
                call_id,
                termination_reason,
            })) => {
                ended = Some((call_id, termination_reason));
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert_eq!(
        ended,
        Some((consultation.id.clone(), Some("AppTransferred".to_owned())))
    );
}

/// The bot creates each call itself (`POST /communications/calls`), then transfers it through our
/// client: every flow, outcome through the receiver and tracker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_on_calls_the_bot_created() {
    let bot = bot().await;
    let token = bot
        .emulator
        .issue_token(TENANT, APP_ID, &["Calls.Initiate.All"])
        .unwrap();
    let http = reqwest::Client::new();
    for flow in TransferFlow::ALL {
        let create = serde_json::json!({
            "callbackUri": bot.callback,
            "targets": [{"identity": {"user": {"id": "112f7296-5fa4-42ca-bae8-6a692b15d4b8", "displayName": "John"}}}],
            "requestedModalities": ["audio"],
            "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
            "tenantId": TENANT,
        });
        let resp = http
            .post(format!(
                "{}/communications/calls",
                bot.emulator.base_url(ApiVersion::V1)
            ))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(create.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let call: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        let id = call["id"].as_str().unwrap().to_owned();
        // Transfer once the bot has been told the call is established.
        bot.emulator.wait_for_deliveries(&id, 2, WAIT).await;
        bot.emulator.script_call(&id, Script::new(flow)).unwrap();
        let options = match flow {
            TransferFlow::NoOutcome => {
                TrackOptions::default().with_timeout(Duration::from_millis(200))
            }
            _ => TrackOptions::default(),
        };
        let handle = bot
            .receiver
            .tracker()
            .track_with(id.clone(), options)
            .unwrap();
        bot.client
            .transfer(&id, &body(PEER_BODY))
            .await
            .expect("202");
        let outcome = tokio::time::timeout(WAIT, handle).await.unwrap();
        let expected = match flow {
            TransferFlow::Success | TransferFlow::Completed | TransferFlow::AppTransferred => {
                "completed"
            }
            TransferFlow::Failed
            | TransferFlow::FailedAfterAccepted
            | TransferFlow::ConsultativeFailed => "failed",
            TransferFlow::CallerHangUp => "callEnded",
            _ => "timedOut",
        };
        let got = match outcome {
            TransferOutcome::Completed { .. } => "completed",
            TransferOutcome::Failed { .. } => "failed",
            TransferOutcome::CallEnded { .. } => "callEnded",
            TransferOutcome::TimedOut => "timedOut",
            _ => "other",
        };
        assert_eq!(got, expected, "{flow}: {outcome:?}");
    }
    assert_eq!(bot.receiver.stats().rejected(), 0);
}

/// What Graph really sends, as scripted options: batched bodies, a bare `deleted` after
/// `terminated`, roster updates mid-transfer, the legacy operations flow, failure after
/// `transferAccepted`. Each resolves through our receiver and tracker as the same transfer would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realism_options_resolve_through_the_tracker() {
    let bot = bot().await;
    let cases = [
        (Script::default().with_batching(), "completed"),
        (
            Script::default().with_deleted_after_terminated(),
            "completed",
        ),
        (Script::default().with_roster(), "completed"),
        (Script::default().with_operations(), "completed"),
        (
            Script::new(TransferFlow::Failed).with_operations(),
            "failed",
        ),
        (Script::new(TransferFlow::FailedAfterAccepted), "failed"),
        (
            Script::new(TransferFlow::FailedAfterAccepted)
                .with_batching()
                .with_roster(),
            "failed",
        ),
    ];
    for (script, expected) in cases {
        let label = serde_json::to_string(&script).unwrap();
        let (outcome, _) = run(&bot, script, PEER_BODY, PlaceCall::new(&bot.callback)).await;
        let got = match outcome {
            TransferOutcome::Completed { .. } => "completed",
            TransferOutcome::Failed { .. } => "failed",
            TransferOutcome::CallEnded { .. } => "callEnded",
            TransferOutcome::TimedOut => "timedOut",
            _ => "other",
        };
        assert_eq!(got, expected, "{label}: {outcome:?}");
    }
    assert_eq!(bot.receiver.stats().rejected(), 0);
}

/// A final notification scripted past the bot's deadline: the tracker gives up first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_final_notification_times_the_transfer_out() {
    let bot = bot().await;
    let placed = bot
        .emulator
        .place_call(
            PlaceCall::new(&bot.callback)
                .with_app_id(APP_ID)
                .with_script(Script::default().with_final_delay_ms(600_000)),
        )
        .expect("place call");
    let handle = bot
        .receiver
        .tracker()
        .track_with(
            placed.id.clone(),
            TrackOptions::default().with_timeout(Duration::from_millis(200)),
        )
        .expect("track");
    bot.client
        .transfer(&placed.id, &body(PEER_BODY))
        .await
        .expect("202");
    let outcome = tokio::time::timeout(WAIT, handle)
        .await
        .expect("an outcome");
    assert!(matches!(outcome, TransferOutcome::TimedOut), "{outcome:?}");
    // The emulator still holds the outcome back: the call is accepted, not ended.
    let records = bot.emulator.wait_for_deliveries(&placed.id, 4, WAIT).await;
    assert_eq!(records.len(), 4);
    assert_eq!(
        bot.emulator.call_state(&placed.id).as_deref(),
        Some("transferAccepted")
    );
}
