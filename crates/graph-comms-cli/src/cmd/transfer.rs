//! `graph-comms transfer`: build, validate and send one call transfer to Graph (or an emulator).
//!
//! The body is built with `graph_comms_transfer::Transfer` and validated against what the flags
//! say of the call (exit 2 on any error, warnings on stderr); `--dry-run` then prints the exact
//! request line and JSON body and stops. Otherwise the transfer is sent with
//! `graph_comms_transport::GraphCommsClient` and Graph's answer printed on stdout as one JSON
//! line `{"status":202,"requestId":..,"clientRequestId":..,"date":..}`. Any failure before Graph
//! accepted exits 3 with one line naming Graph's error code and request-id, and what a known
//! refusal code (7504, 7505, 8523) means.
//!
//! The steps are separate functions ([`prepare`], [`client`], [`send`]) so that a command
//! following the outcome can reuse the send path.

use graph_comms_model::TransferRequestBody;
use graph_comms_transfer::{CallContext, CallId, Guid, Report, Transfer, Transferee, E164};
use graph_comms_transport::{Accepted, BaseUrl, Error as TransportError, GraphCommsClient};
use std::process::ExitCode;

use crate::cmd::graph::GraphArgs;
use crate::exit::{fail, INVALID_INPUT, NOT_ACCEPTED};

/// Arguments of `graph-comms transfer`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Credentials: --token, or the client-credentials flow from AZURE_CLIENT_ID and AZURE_CLIENT_SECRET
(or AZURE_CLIENT_CERTIFICATE_PATH), for the tenant --tenant (default AZURE_TENANT_ID). A token
from a cloud's authority goes only to that cloud's Graph hosts: with another --base-url, name the
issuer with --authority-host or pass --token. Tokens never go over plain http, except to loopback.
Exit codes: 0 accepted (with --wait: completed); 2 invalid input; 3 not accepted by Graph;
4 (with --wait) accepted, then failed, ended the call another way, or timed out; with --consult,
rolled back (the caller is back with the bot) or the caller's call ended.

Examples:
  graph-comms transfer --call-id ID --to-user 550fae72-d251-43ec-868c-373732c2704f --dry-run
  graph-comms transfer --call-id ID --to-phone +12345678901 --app-instance --tenant T
  graph-comms transfer --call-id ID --to-user USER --replaces CONSULTATION-CALL-ID --beta
  graph-comms transfer --call-id ID --to-user USER --transferee-user U2 --transferee-participant P
  graph-comms transfer --call-id ID --to-user USER --wait --listen 0.0.0.0:3978 --app-id APP
  graph-comms transfer --call-id ID --to-user USER --wait --poll 2 --timeout 60
  graph-comms transfer --call-id ID --to-user USER --wait --store redis://127.0.0.1:6379
  graph-comms transfer --call-id ID --to-user USER --consult --wait --listen 0.0.0.0:3978 \\
    --app-id APP --callback-uri https://bot.contoso.com/api/calls")]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["to_user", "to_phone", "to_application", "to_application_instance"])
))]
#[command(group(clap::ArgGroup::new("follow").args(["listen", "poll", "store"])))]
pub(crate) struct Args {
    /// The id of the call to transfer.
    #[arg(long, value_name = "ID")]
    pub(crate) call_id: String,
    /// Transfer to a Teams user (object id, a GUID).
    #[arg(long, value_name = "ID")]
    pub(crate) to_user: Option<String>,
    /// Transfer to a PSTN number in E.164 form (the bot must be an application instance).
    #[arg(long, value_name = "+E164")]
    pub(crate) to_phone: Option<String>,
    /// Transfer to an application (a bot's app id).
    #[arg(long, value_name = "ID")]
    pub(crate) to_application: Option<String>,
    /// Transfer to an application instance (auto attendant or call queue resource account).
    #[arg(long, value_name = "ID")]
    pub(crate) to_application_instance: Option<String>,
    /// Consultative transfer: the id of the call with the transfer target that this transfer
    /// replaces (`replacesCallId`).
    #[arg(long, value_name = "ID")]
    pub(crate) replaces: Option<String>,
    /// Group call: the Teams user (object id) being transferred.
    #[arg(long, value_name = "ID", requires = "transferee_participant")]
    pub(crate) transferee_user: Option<String>,
    /// Group call: the transferee's participant id in this call.
    #[arg(long, value_name = "ID", requires = "transferee_user")]
    pub(crate) transferee_participant: Option<String>,
    /// The target's language (`languageId`).
    #[arg(long, value_name = "LANG")]
    pub(crate) language_id: Option<String>,
    /// The target's region (`region`).
    #[arg(long, value_name = "REGION")]
    pub(crate) region: Option<String>,
    /// The bot is an application instance with a phone number (needed for `--to-phone`).
    #[arg(long)]
    pub(crate) app_instance: bool,
    /// Where the request goes and with which credentials.
    #[command(flatten)]
    pub(crate) graph: GraphArgs,
    /// Print the request (URL and exact JSON body) and send nothing.
    #[arg(long, conflicts_with = "wait")]
    pub(crate) dry_run: bool,
    /// After the 202, follow the transfer through a receiver on --listen until it ends: exit 0
    /// when it completed, 4 when it failed, the call ended another way, or --timeout passed.
    #[arg(long, requires = "follow")]
    pub(crate) wait: bool,
    /// Where the receiver listens (the bot's callback URL must reach it), e.g. 0.0.0.0:3978.
    #[arg(long, value_name = "ADDR", requires_all = ["wait", "app_id"])]
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// The callback path the receiver serves.
    #[arg(long, value_name = "PATH", default_value = graph_comms_receiver::DEFAULT_PATH)]
    pub(crate) path: String,
    /// The bot's app id: the audience callbacks must be signed for.
    #[arg(long, value_name = "ID")]
    pub(crate) app_id: Option<String>,
    /// The OpenID configuration whose keys sign callbacks (default: Graph's).
    #[arg(long, value_name = "URL", default_value = graph_comms_receiver::GRAPH_OPENID_CONFIGURATION)]
    pub(crate) openid_config: String,
    /// With --wait: follow the transfer by reading the call (GET) every SECONDS instead of
    /// receiving callbacks, for a bot whose callback URL is served by the running bot.
    #[arg(long, value_name = "SECONDS", requires = "wait", conflicts_with = "listen",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) poll: Option<u64>,
    /// With --wait: register the transfer in this shared store, send it, and wait for the outcome
    /// that any instance of the fleet (`listen --store`) records: redis://HOST:PORT[/DB]. Needs
    /// neither --listen nor --app-id.
    #[arg(long, value_name = "URL", requires = "wait")]
    pub(crate) store: Option<String>,
    /// With --wait: seconds to wait for the outcome.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub(crate) timeout: u64,
    /// With --wait: print the progress and the outcome as JSON lines.
    #[arg(long)]
    pub(crate) json: bool,
    /// Consultative transfer, orchestrated: hold the caller, call the target (--to-user or
    /// --to-phone) with --callback-uri, transfer once it answers, or put the caller back. Exit 0
    /// when transferred, 4 when rolled back or the call ended (the reason on stderr).
    #[arg(long, requires_all = ["wait", "listen", "callback_uri"],
          conflicts_with_all = ["replaces", "poll", "to_application", "to_application_instance"])]
    pub(crate) consult: bool,
    /// With --consult: the bot's callback URL for the consultation call (it must reach --listen).
    #[arg(long, value_name = "URL", requires = "consult")]
    pub(crate) callback_uri: Option<String>,
    /// With --consult --to-phone: the application instance (resource account) placing the
    /// consultation call.
    #[arg(long, value_name = "ID", requires = "consult")]
    pub(crate) app_instance_id: Option<String>,
    /// With --consult: seconds the target has to answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub(crate) answer_timeout: u64,
}

/// A failure: the exit code and the one-line message.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The exit code (see `crate::exit`).
    pub(crate) code: u8,
    /// The message.
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn invalid(message: impl std::fmt::Display) -> Self {
        Self {
            code: INVALID_INPUT,
            message: message.to_string(),
        }
    }
    pub(crate) fn not_accepted(message: impl std::fmt::Display) -> Self {
        Self {
            code: NOT_ACCEPTED,
            message: message.to_string(),
        }
    }
    /// Prints the failure and returns its exit code.
    pub(crate) fn exit(self) -> ExitCode {
        fail(self.code, self.message)
    }
}

/// A validated transfer, ready to send.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Where the transfer goes.
    pub(crate) base: BaseUrl,
    /// The call id.
    pub(crate) call_id: String,
    /// The full request URL.
    pub(crate) url: String,
    /// The body.
    pub(crate) body: TransferRequestBody,
    /// The body exactly as sent.
    pub(crate) json: String,
    /// Validation warnings.
    pub(crate) warnings: Report,
}

fn guid(flag: &str, value: &str) -> Result<Guid, Failure> {
    Guid::parse(value).map_err(|e| Failure::invalid(format_args!("--{flag}: {e}")))
}

/// The API root the flags name.
fn base_url(args: &Args) -> Result<BaseUrl, Failure> {
    args.graph.base_url()
}

/// Builds the body from the flags and validates it against the call they describe.
///
/// # Errors
/// Exit code 2 with the first bad flag, or every rule the body breaks.
pub(crate) fn prepare(args: &Args) -> Result<Prepared, Failure> {
    let base = base_url(args)?;
    let url = base
        .transfer_url(&args.call_id)
        .map_err(|e| Failure::invalid(format_args!("--call-id: {e}")))?
        .to_string();
    // The tenant of users named, when the call's tenant is given as a GUID.
    let tenant_guid = args
        .graph
        .tenant
        .as_deref()
        .and_then(|t| Guid::parse(t).ok());
    let mut transfer = if let Some(user) = &args.to_user {
        Transfer::to_teams_user(guid("to-user", user)?, tenant_guid)
    } else if let Some(phone) = &args.to_phone {
        Transfer::to_phone(
            E164::parse(phone).map_err(|e| Failure::invalid(format_args!("--to-phone: {e}")))?,
        )
    } else if let Some(app) = &args.to_application {
        Transfer::to_application(guid("to-application", app)?)
    } else if let Some(instance) = &args.to_application_instance {
        Transfer::to_application_instance(guid("to-application-instance", instance)?)
    } else {
        return Err(Failure::invalid(
            "name a target: --to-user, --to-phone, --to-application or --to-application-instance",
        ));
    };
    if let Some(replaces) = &args.replaces {
        let id = CallId::parse(replaces)
            .map_err(|e| Failure::invalid(format_args!("--replaces: {e}")))?;
        transfer = transfer.consultative(id);
    }
    let group = match (&args.transferee_user, &args.transferee_participant) {
        (Some(user), Some(participant)) => {
            let user = guid("transferee-user", user)?;
            transfer = transfer.transferee(Transferee::teams_user(
                user,
                tenant_guid,
                participant.clone(),
            ));
            true
        }
        _ => false,
    };
    if let Some(language) = &args.language_id {
        transfer = transfer.language_id(language.clone());
    }
    if let Some(region) = &args.region {
        transfer = transfer.region(region.clone());
    }
    let mut ctx = if group {
        CallContext::group()
    } else {
        CallContext::peer()
    }
    .with_application_instance(args.app_instance)
    .with_call_id(args.call_id.clone());
    ctx.tenant_id = tenant_guid;
    let (body, warnings) = transfer.build_for(&ctx).map_err(Failure::invalid)?;
    let json = serde_json::to_string(&body).map_err(Failure::invalid)?;
    Ok(Prepared {
        base,
        call_id: args.call_id.clone(),
        url,
        body,
        json,
        warnings,
    })
}

/// The Graph client the flags describe (see [`GraphArgs::client`]).
///
/// # Errors
/// As [`GraphArgs::client`].
pub(crate) fn client(args: &Args, base: &BaseUrl) -> Result<GraphCommsClient, Failure> {
    args.graph.client(base)
}

/// The exit-3 line of a transfer Graph did not accept: the error, and what a known refusal
/// code (7504, 7505, 8523) means.
pub(crate) fn not_accepted(e: &TransportError) -> Failure {
    match e.explanation() {
        Some(why) => Failure::not_accepted(format_args!("transfer not accepted: {e}; {why}")),
        None => Failure::not_accepted(format_args!("transfer not accepted: {e}")),
    }
}

/// Validates, then sends the transfer; `Ok` is Graph's acceptance.
///
/// # Errors
/// Exit code 2 for invalid input, 3 for anything that stopped Graph accepting it.
pub(crate) async fn send(args: &Args) -> Result<(Prepared, Accepted), Failure> {
    let prepared = prepare(args)?;
    let client = client(args, &prepared.base)?;
    let accepted = client
        .transfer(&prepared.call_id, &prepared.body)
        .await
        .map_err(|e| not_accepted(&e))?;
    Ok((prepared, accepted))
}

/// Prints the validation warnings on stderr.
pub(crate) fn print_warnings(report: &Report) {
    for w in report.warnings() {
        eprintln!("graph-comms: warning: {w}");
    }
}

/// Graph's acceptance as one JSON line.
pub(crate) fn accepted_json(accepted: &Accepted) -> serde_json::Value {
    serde_json::json!({
        "status": accepted.status.as_u16(),
        "requestId": accepted.request_id,
        "clientRequestId": accepted.client_request_id,
        "date": accepted.date,
    })
}

/// Runs `graph-comms transfer`.
pub(crate) fn run(args: Args) -> ExitCode {
    if args.dry_run {
        return match prepare(&args) {
            Ok(p) => {
                print_warnings(&p.warnings);
                println!("POST {}", p.url);
                println!("{}", p.json);
                ExitCode::SUCCESS
            }
            Err(f) => f.exit(),
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                NOT_ACCEPTED,
                format_args!("cannot start the async runtime: {e}"),
            )
        }
    };
    if args.consult {
        return match runtime.block_on(crate::cmd::consult::consult_and_wait(&args)) {
            Ok(code) => code,
            Err(f) => f.exit(),
        };
    }
    if args.wait {
        return match runtime.block_on(crate::cmd::wait::send_and_wait(&args)) {
            Ok(code) => code,
            Err(f) => f.exit(),
        };
    }
    match runtime.block_on(send(&args)) {
        Ok((prepared, accepted)) => {
            print_warnings(&prepared.warnings);
            println!("{}", accepted_json(&accepted));
            ExitCode::SUCCESS
        }
        Err(f) => f.exit(),
    }
}
