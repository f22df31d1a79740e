//! `graph-comms emulate`: the offline Graph communications emulator as a process.
//!
//! Prints where everything is (Graph base URLs, the token endpoint, the OpenID configuration and
//! keys of callback tokens, the control API) on stdout, as text or, with `--json`, as one JSON
//! object on one line, then serves until Ctrl-C. With `--place-call URL` it also places one call at
//! the bot at URL and prints its id. Exit 3 when the address cannot be bound.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{
    DeliveryPolicy, Emulator, EmulatorConfig, PlaceCall, RegisteredClient, Script, SigningKey,
    TransferFlow, DEFAULT_TENANT_ID,
};

use crate::exit::{fail, INVALID_INPUT, NOT_ACCEPTED, SUCCESS};

/// Arguments of `graph-comms emulate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # Serve on a fixed port; point a bot's Graph client at http://127.0.0.1:8990/v1.0
  graph-comms emulate --addr 127.0.0.1:8990

  # Only one client may get tokens; every transfer fails with 500/7000
  graph-comms emulate --client my-bot:s3cret --flow failed

  # With a receiver: place a call at it and transfer it
  graph-comms listen --addr 127.0.0.1:3978 --app-id bot \\
      --openid-config http://127.0.0.1:8990/v1/.well-known/OpenIdConfiguration &
  graph-comms emulate --place-call http://127.0.0.1:3978/api/calls --app-id bot

Scripting a call at run time (the control API, no auth):
  curl -X PUT http://127.0.0.1:8990/_emulator/calls/CALL_ID/script \\
       -d '{\"flow\":\"consultativeFailed\",\"delayMs\":500,\"duplicates\":true}'
Flows: success, completed, appTransferred, failed, failedAfterAccepted, consultativeFailed,
callerHangUp, noOutcome. Listening on an address other than loopback prints a warning: the control
API and the token endpoint are unauthenticated.")]
pub(crate) struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8990")]
    addr: SocketAddr,
    /// Tenant id of calls whose token and body name none.
    #[arg(long, value_name = "ID", default_value = DEFAULT_TENANT_ID)]
    tenant: String,
    /// The bot's app id: callback token audience when a call does not name one.
    #[arg(long, value_name = "ID", env = "GRAPH_COMMS_APP_ID")]
    app_id: Option<String>,
    /// Register a client `ID:SECRET` (repeatable); then only registered clients get tokens.
    /// Without it any client id and secret is accepted (a development default).
    #[arg(long = "client", value_name = "ID:SECRET")]
    clients: Vec<String>,
    /// Default transfer flow of new calls.
    #[arg(long, value_name = "FLOW", default_value = "success")]
    flow: String,
    /// Delay before each notification, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    delay_ms: u64,
    /// Deliver every transfer notification twice.
    #[arg(long)]
    duplicates: bool,
    /// Deliver `transferAccepted` before `transferring`.
    #[arg(long)]
    out_of_order: bool,
    /// Write result codes as numeric strings.
    #[arg(long)]
    string_codes: bool,
    /// Callback delivery attempts per notification.
    #[arg(long, value_name = "N", default_value_t = 4)]
    delivery_attempts: u32,
    /// PEM file of the RSA signing key, PKCS#1 or PKCS#8 (default: a fresh 2048-bit key).
    #[arg(long, value_name = "FILE")]
    key: Option<std::path::PathBuf>,
    /// Place one call (answered at once) at the bot whose callback is URL, and print its id.
    #[arg(long, value_name = "URL")]
    place_call: Option<String>,
    /// Print the URLs as one JSON object on one line.
    #[arg(long)]
    json: bool,
}

/// Runs `graph-comms emulate`.
pub(crate) fn run(args: Args) -> ExitCode {
    let config = match config(&args) {
        Ok(c) => c,
        Err(message) => return fail(INVALID_INPUT, message),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(NOT_ACCEPTED, format_args!("cannot start the runtime: {e}")),
    };
    runtime.block_on(serve(args, config))
}

fn config(args: &Args) -> Result<EmulatorConfig, String> {
    let flow: TransferFlow = args.flow.parse().map_err(|e| format!("--flow: {e}"))?;
    let mut script = Script::new(flow).with_delay_ms(args.delay_ms);
    if args.duplicates {
        script = script.with_duplicates();
    }
    if args.out_of_order {
        script = script.with_out_of_order();
    }
    if args.string_codes {
        script = script.with_string_codes();
    }
    let mut config = EmulatorConfig::default()
        .with_addr(args.addr)
        .with_tenant_id(&args.tenant)
        .with_default_script(script)
        .with_delivery(DeliveryPolicy::new(
            args.delivery_attempts,
            Duration::from_millis(200),
        ));
    if let Some(app_id) = &args.app_id {
        config = config.with_bot_app_id(app_id);
    }
    for c in &args.clients {
        let Some((id, secret)) = c
            .split_once(':')
            .filter(|(id, s)| !id.is_empty() && !s.is_empty())
        else {
            return Err(format!("--client `{c}`: expected ID:SECRET"));
        };
        config = config.with_client(RegisteredClient::with_secret(id, secret));
    }
    if let Some(path) = &args.key {
        let pem =
            std::fs::read_to_string(path).map_err(|e| format!("--key {}: {e}", path.display()))?;
        let key =
            SigningKey::from_pem(&pem).map_err(|e| format!("--key {}: {e}", path.display()))?;
        config = config.with_signing_key(key);
    }
    Ok(config)
}

async fn serve(args: Args, config: EmulatorConfig) -> ExitCode {
    let any_client = config.clients.is_empty();
    let emulator = match Emulator::start(config).await {
        Ok(e) => e,
        Err(e) => return fail(NOT_ACCEPTED, e),
    };
    let placed = match &args.place_call {
        Some(url) => {
            let mut call = PlaceCall::new(url);
            if args.app_id.is_none() {
                return fail(
                    INVALID_INPUT,
                    "--place-call needs --app-id (the bot's app id, the callback token audience)",
                );
            }
            call.app_id = args.app_id.clone();
            match emulator.place_call(call) {
                Ok(p) => Some(p),
                Err(e) => return fail(INVALID_INPUT, format_args!("--place-call: {e}")),
            }
        }
        None => None,
    };
    let root = emulator.root_url().to_owned();
    let mut out = std::io::stdout().lock();
    let printed = if args.json {
        let mut v = serde_json::json!({
            "rootUrl": root,
            "baseUrl": emulator.base_url(ApiVersion::V1).as_str(),
            "betaUrl": emulator.base_url(ApiVersion::Beta).as_str(),
            "tokenUrl": emulator.token_url(&args.tenant),
            "openIdConfigurationUrl": emulator.openid_config_url(),
            "jwksUrl": emulator.jwks_url(),
            "controlUrl": format!("{root}/_emulator"),
            "tenantId": args.tenant,
            "anyClientAccepted": any_client,
        });
        if let Some(p) = &placed {
            v["callId"] = serde_json::json!(p.id);
        }
        writeln!(out, "{v}")
    } else {
        let mut text = format!(
            "graph-comms emulator listening on {root}\n\
             \x20 Graph base URLs:  {}  {}\n\
             \x20 token endpoint:   {}  (any tenant: {root}/{{tenant}}/oauth2/v2.0/token)\n\
             \x20 OpenID config:    {}\n\
             \x20 keys (JWKS):      {}\n\
             \x20 control API:      {root}/_emulator\n",
            emulator.base_url(ApiVersion::V1),
            emulator.base_url(ApiVersion::Beta),
            emulator.token_url(&args.tenant),
            emulator.openid_config_url(),
            emulator.jwks_url(),
        );
        if let Some(p) = &placed {
            text.push_str(&format!("  placed call:      {}\n", p.id));
        }
        text.push_str("Press Ctrl-C to stop.\n");
        write!(out, "{text}")
    };
    if printed.and_then(|()| out.flush()).is_err() {
        // stdout closed: keep serving anyway; the URLs are derivable from --addr.
    }
    drop(out);
    if let Some(warning) = emulator.exposure_warning() {
        eprintln!("graph-comms: WARNING: {warning}");
    }
    if any_client {
        eprintln!(
            "graph-comms: warning: the token endpoint accepts ANY client id and secret (development default); use --client ID:SECRET to restrict it"
        );
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("graph-comms: warning: cannot wait for Ctrl-C ({e}); stopping");
    }
    emulator.shutdown().await;
    ExitCode::from(SUCCESS)
}
