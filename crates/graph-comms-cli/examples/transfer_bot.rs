//! The README's transfer bot: answers every incoming call, plays a greeting, and transfers the
//! call to the front desk.
//!
//! Offline (no `AZURE_CLIENT_ID` set), it runs against the emulator: a caller rings the bot, which
//! answers through its receiver and client, greets and transfers; `tests/transfer_bot.rs` runs it
//! so. Against Graph: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `CALLBACK_URL`
//! (the public https URL of this receiver) and `FRONT_DESK` (a Teams user's object id), then
//! `cargo run -p graph-comms-cli --example transfer_bot`.

use std::sync::Arc;
use std::time::Duration;

use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{Emulator, EmulatorConfig, PlaceCall};
use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions};
use graph_comms_transport::{ClientCredentials, StaticToken};

// --- bot ---
use graph_comms_notify::{CallLifecycle, IncomingCall};
use graph_comms_receiver::{Delivery, NotificationHandler};
use graph_comms_transfer::{Answer, CallContext, Guid, PlayPrompt, Transfer};
use graph_comms_transport::GraphCommsClient;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Answers each incoming call, greets the caller, and transfers the call to the front desk.
struct FrontDeskBot {
    client: GraphCommsClient,
    lifecycle: Arc<CallLifecycle>,
    callback_uri: String,
    front_desk: Guid,
}

impl NotificationHandler for FrontDeskBot {
    fn on_notifications(&self, delivery: &Delivery<'_>) {
        for e in delivery.events {
            self.lifecycle.apply(e); // established, declined or ended, per call
        }
    }

    fn on_incoming_call(&self, call: &IncomingCall, _: &Delivery<'_>) {
        let (client, call_id) = (self.client.clone(), call.call_id.clone());
        let mut call = self.lifecycle.follow(&call_id); // before answering: callbacks may beat the 202
        let ctx = CallContext::peer().with_call_id(call_id.as_str());
        let answer = Answer::new(&self.callback_uri).build_for(&ctx);
        let hello = PlayPrompt::media("https://bot.contoso.com/hello.wav").build_for(&ctx);
        let transfer = Transfer::to_teams_user(self.front_desk, None).build_for(&ctx);
        tokio::spawn(async move {
            let steps = async {
                client.answer(&call_id, &answer?.0).await?;
                call.established().await?; // Err(CallEnd::..) if the caller hung up first
                client.play_prompt(&call_id, &hello?.0).await?;
                client.transfer(&call_id, &transfer?.0).await?;
                Ok::<(), BoxError>(())
            };
            if let Err(e) = steps.await {
                eprintln!("call {call_id:?}: {e}");
            }
        });
    }
}
// --- end of bot ---

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    if std::env::var_os("AZURE_CLIENT_ID").is_none() {
        let states = against_the_emulator().await?;
        println!("the call went {}", states.join(" -> "));
        return Ok(());
    }
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let tokens = ClientCredentials::from_env()?.build()?;
    let app_id = env("AZURE_CLIENT_ID")?;
    let bot = FrontDeskBot {
        client: GraphCommsClient::builder(Arc::new(tokens)).build()?,
        lifecycle: Arc::default(),
        callback_uri: env("CALLBACK_URL")?,
        front_desk: env("FRONT_DESK")?.parse()?,
    };
    let receiver = Receiver::builder(AuthConfig::new(app_id))
        .handler(bot)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3978").await?;
    println!("listening on {}{}", listener.local_addr()?, receiver.path());
    graph_comms_receiver::serve(listener, receiver.router(), ServeOptions::default()).await?;
    Ok(())
}

/// Runs the bot against the emulator: a caller rings it; returns the states of the call's
/// notifications, in order, once the call has ended (or an error after 10 seconds).
pub(crate) async fn against_the_emulator() -> Result<Vec<String>, BoxError> {
    let app_id = "9ecd52e5-6592-42b7-b562-093f37f13bde";
    let emulator = Emulator::start(EmulatorConfig::default().with_bot_app_id(app_id)).await?;
    let token = emulator.issue_token(
        &emulator.tenant_id().to_string(),
        app_id,
        &["Calls.Initiate.All"],
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let callback_uri = format!(
        "http://{}{}",
        listener.local_addr()?,
        graph_comms_receiver::DEFAULT_PATH
    );
    let bot = FrontDeskBot {
        client: GraphCommsClient::builder(Arc::new(StaticToken::new(token)))
            .base_url(emulator.base_url(ApiVersion::V1).clone())
            .build()?,
        lifecycle: Arc::default(),
        callback_uri: callback_uri.clone(),
        front_desk: "550fae72-d251-43ec-868c-373732c2704f".parse()?,
    };
    let auth = AuthConfig::new(app_id).with_openid_config_url(emulator.openid_config_url());
    let receiver = Receiver::builder(auth).handler(bot).build()?;
    let server = tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        ServeOptions::default(),
    ));

    // A caller rings the bot: Graph offers it the call (`incoming`) for it to answer.
    let call = emulator.place_call(
        PlaceCall::new(&callback_uri)
            .with_app_id(app_id)
            .answered_by_bot(),
    )?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    let states = loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let records = emulator
            .wait_for_deliveries(&call.id, seen + 1, remaining)
            .await;
        if records
            .iter()
            .any(|r| r.state.as_deref() == Some("terminated"))
        {
            break records.into_iter().filter_map(|r| r.state).collect();
        }
        if remaining.is_zero() {
            server.abort();
            return Err(format!("the call did not end in time: {records:?}").into());
        }
        seen = records.len();
    };
    server.abort();
    emulator.shutdown().await;
    Ok(states)
}
