//! The README's tour: build, validate, send and follow one transfer, here against the emulator.
//!
//! `cargo run -p graph-comms-cli --example tour`

use std::sync::Arc;

use graph_comms_emulator::{ApiVersion, Emulator, EmulatorConfig, PlaceCall, Script, TransferFlow};
use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions};
use graph_comms_transport::{ClientCredential, ClientCredentials, Secret};

// --- tour ---
use graph_comms_flow::{settle, ReconcileOptions};
use graph_comms_notify::{TransferOutcome, TransferTracker};
use graph_comms_transfer::{validate, CallContext, Guid, Transfer};
use graph_comms_transport::GraphCommsClient;

/// Transfers `call_id` to a Teams user and waits for Graph's verdict.
async fn transfer_to_heidi(
    client: &GraphCommsClient,
    tracker: &TransferTracker,
    call_id: &str,
) -> Result<TransferOutcome, Box<dyn std::error::Error>> {
    let heidi = Guid::parse("550fae72-d251-43ec-868c-373732c2704f")?;
    let body = Transfer::to_teams_user(heidi, None)
        .display_name("Heidi Steen")
        .build();
    let report = validate(&body, &CallContext::peer().with_call_id(call_id));
    if report.has_errors() {
        return Err(report.to_string().into()); // e.g. "transferTarget.identity.phone.id: ..."
    }
    let handle = tracker.track(call_id)?; // before sending: callbacks may beat the 202
    let accepted = client.transfer(call_id, &body).await?;
    println!("202 Accepted, request-id {:?}", accepted.request_id);
    // Completed, Failed, CallEnded or TimedOut, with codes; Graph is asked if no result came.
    Ok(settle(client, handle, &ReconcileOptions::default()).await?)
}
// --- end of tour ---

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Graph, offline: the emulator, and the bot's receiver verifying its signed callbacks.
    let app_id = "9ecd52e5-6592-42b7-b562-093f37f13bde";
    let emulator = Emulator::start(EmulatorConfig::default().with_bot_app_id(app_id)).await?;
    let auth = AuthConfig::new(app_id).with_openid_config_url(emulator.openid_config_url());
    let receiver = Receiver::new(auth)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let callback = format!("http://{}{}", listener.local_addr()?, receiver.path());
    tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        ServeOptions::default(),
    ));

    // The bot's Graph client as in production: client credentials at the emulator's token
    // endpoint (`{root}/{tenant}/oauth2/v2.0/token`), for the tenant its calls belong to.
    let tenant = emulator.tenant_id().to_string();
    let secret = ClientCredential::Secret(Secret::new("any-secret")); // any, unless registered
    let tokens = ClientCredentials::builder(app_id, secret)
        .authority_host(emulator.root_url())?
        .home_tenant(&tenant)
        .build()?;
    let client = GraphCommsClient::builder(Arc::new(tokens))
        .base_url(emulator.base_url(ApiVersion::V1).clone())
        .tenant(tenant)
        .build()?;
    for flow in [TransferFlow::Success, TransferFlow::Failed] {
        let call = emulator.place_call(
            PlaceCall::new(&callback)
                .with_app_id(app_id)
                .with_script(Script::new(flow)),
        )?;
        let outcome = transfer_to_heidi(&client, receiver.tracker(), &call.id).await?;
        println!("{flow:?}: {outcome:?}");
    }
    emulator.shutdown().await;
    Ok(())
}
