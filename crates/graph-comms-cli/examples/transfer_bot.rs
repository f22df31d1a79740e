//! The README's transfer bot: answers every incoming call, plays a greeting, and transfers the
//! call to the front desk. Compiled with the workspace; it will run against the emulator once the
//! emulator answers calls. Against Graph: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//! `AZURE_CLIENT_SECRET`, `CALLBACK_URL` (the public https URL of this receiver) and `FRONT_DESK`
//! (a Teams user's object id), then `cargo run -p graph-comms-cli --example transfer_bot`.

use std::sync::Arc;

use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions};
use graph_comms_transport::ClientCredentials;

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
