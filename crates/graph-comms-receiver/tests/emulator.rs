//! The receiver against the emulator: the emulator signs its callbacks as interfaces pin them
//! (RS256, `kid`, `iss` Bot Framework, `aud` the bot's app id, `tid`), the receiver verifies them
//! with the emulator's OpenID configuration, and the tracker resolves each scripted transfer.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{Emulator, EmulatorConfig, PlaceCall, Script, TransferFlow};
use graph_comms_notify::TransferOutcome;
use graph_comms_receiver::{AuthConfig, Receiver};
use graph_comms_transport::{HttpRequest, ReqwestTransport, Transport};
use support::Recorder;

const APP_ID: &str = "3f0d8a4c-6a2e-4b9d-8c1f-7e5a2d9b4c61";

struct Bot {
    emulator: Emulator,
    receiver: Receiver,
    callback: String,
    tenants: Arc<Mutex<Vec<Option<String>>>>,
    deliveries: Arc<AtomicUsize>,
}

async fn bot() -> Bot {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let auth = AuthConfig::new(APP_ID).with_openid_config_url(emulator.openid_config_url());
    let recorder = Recorder::default();
    let receiver = Receiver::builder(auth)
        .handler(recorder.handler())
        .build()
        .expect("receiver");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let callback = format!("http://{}/api/calls", listener.local_addr().expect("addr"));
    tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        Default::default(),
    ));
    Bot {
        emulator,
        receiver,
        callback,
        tenants: recorder.tenants,
        deliveries: recorder.deliveries,
    }
}

/// Asks the emulator to transfer the call, as a bot would through Graph.
async fn transfer(bot: &Bot, call_id: &str) {
    let token = bot
        .emulator
        .issue_token(
            &bot.emulator.tenant_id().to_string(),
            APP_ID,
            &["Calls.Initiate.All"],
        )
        .expect("access token");
    let url = format!(
        "{}/communications/calls/{call_id}/transfer",
        bot.emulator.base_url(ApiVersion::V1)
    );
    let body = serde_json::json!({
        "transferTarget": {
            "endpointType": "default",
            "identity": {"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}},
            "languageId": "en-us",
            "region": "amer"
        }
    });
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let request = HttpRequest {
        method: http::Method::POST,
        url: url::Url::parse(&url).expect("url"),
        headers,
        body: body.to_string().into(),
    };
    let transport = ReqwestTransport::new().expect("transport");
    let response = transport.send(request).await.expect("transfer request");
    assert_eq!(
        response.status.as_u16(),
        202,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}

async fn run_flow(script: Script) -> (Bot, TransferOutcome) {
    let bot = bot().await;
    let call = bot
        .emulator
        .place_call(
            PlaceCall::new(bot.callback.clone())
                .with_app_id(APP_ID)
                .with_script(script),
        )
        .expect("place call");
    // Track before sending the transfer: its first notification may beat the 202.
    let handle = bot
        .receiver
        .tracker()
        .track(call.id.clone())
        .expect("track");
    transfer(&bot, &call.id).await;
    let outcome = tokio::time::timeout(Duration::from_secs(30), handle)
        .await
        .expect("an outcome within 30 s");
    (bot, outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scripted_flow_resolves_through_the_receiver() {
    let cases = [
        (Script::new(TransferFlow::Completed), "completed"),
        (Script::new(TransferFlow::AppTransferred), "completed"),
        (Script::new(TransferFlow::Failed), "failed"),
        (Script::new(TransferFlow::ConsultativeFailed), "failed"),
        (Script::new(TransferFlow::CallerHangUp), "callEnded"),
        (
            Script::new(TransferFlow::Completed)
                .with_duplicates()
                .with_out_of_order()
                .with_string_codes(),
            "completed",
        ),
    ];
    for (script, expected) in cases {
        let (bot, outcome) = run_flow(script.clone()).await;
        let got = match outcome {
            TransferOutcome::Completed { .. } => "completed",
            TransferOutcome::Failed { .. } => "failed",
            TransferOutcome::CallEnded { .. } => "callEnded",
            _ => "other",
        };
        assert_eq!(got, expected, "{script:?}: {outcome:?}");
        let stats = bot.receiver.stats();
        assert_eq!(stats.rejected(), 0, "{stats:?}");
        assert!(bot.deliveries.load(Ordering::SeqCst) >= 3);
        let tenant = Some(bot.emulator.tenant_id().to_string());
        assert!(bot
            .tenants
            .lock()
            .expect("tenants")
            .iter()
            .all(|t| *t == tenant));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_for_another_app_are_refused_403() {
    let bot = bot().await;
    let call = bot
        .emulator
        .place_call(PlaceCall::new(bot.callback.clone()).with_app_id("another-bot"))
        .expect("place call");
    let records = bot
        .emulator
        .wait_for_deliveries(&call.id, 1, Duration::from_secs(30))
        .await;
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r.status == Some(403)), "{records:?}");
    assert_eq!(bot.receiver.stats().accepted, 0);
    assert_eq!(bot.deliveries.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulators_callback_token_verifies() {
    let bot = bot().await;
    let token = bot
        .emulator
        .callback_token(APP_ID, "tenant-x")
        .expect("token");
    let caller = bot
        .receiver
        .authenticator()
        .verify(&token)
        .await
        .expect("verifies");
    assert_eq!(caller.tenant_id.as_deref(), Some("tenant-x"));
    assert_eq!(caller.issuer, "https://api.botframework.com");
}
