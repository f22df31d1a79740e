//! `graph-comms call`: place, answer, reject, redirect, hang up and read calls through Graph (or
//! an emulator), with the credential, cloud and base-URL flags of `transfer` ([`GraphArgs`]).
//!
//! Each body is built with `graph_comms_transfer`'s builders and validated before it leaves (exit
//! 2 on any error; a plain-http callback to a loopback host, which only an emulator reaches, is
//! a warning). `--dry-run` prints the request line and JSON body and sends nothing. `create` and
//! `get` print the call Graph returns as one JSON object (with its `id` and `state`); the other
//! actions print Graph's acceptance as `transfer` does. A refusal by Graph, an unknown call
//! included, exits 3 with Graph's error code and request-id.

use std::process::ExitCode;

use graph_comms_model::RejectReason;
use graph_comms_transfer::control::{
    validate_answer, validate_call, validate_redirect, validate_reject, OutgoingCall, Target,
};
use graph_comms_transfer::{Answer, CallContext, CallId, Guid, Redirect, Reject, Report, E164};
use graph_comms_transport::{BaseUrl, Error as TransportError, GraphCommsClient};

use crate::cmd::graph::GraphArgs;
use crate::cmd::transfer::{accepted_json, Failure};
use crate::exit::NOT_ACCEPTED;

/// `graph-comms call ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CallCommand {
    /// Place a call (`POST /communications/calls`); prints the new call.
    Create(Box<CreateArgs>),
    /// Answer an incoming call.
    Answer(Box<AnswerArgs>),
    /// Reject an incoming call.
    Reject(Box<RejectArgs>),
    /// Redirect an incoming call to a Teams user or a phone number.
    Redirect(Box<RedirectArgs>),
    /// Hang up a call (`DELETE /communications/calls/{id}`).
    Hangup(Box<IdArgs>),
    /// Read a call; prints it.
    Get(Box<IdArgs>),
}

const EXIT_CODES: &str = "\
Credentials and clouds: as for `graph-comms transfer` (--token, or AZURE_CLIENT_ID and
AZURE_CLIENT_SECRET for --tenant; --base-url with --authority-host for an emulator).
Exit codes: 0 done; 2 invalid input (sent nothing); 3 refused by Graph (an unknown call
included: Graph's error code and request-id are shown) or not sent.";

/// Arguments of `graph-comms call create`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = format!("{EXIT_CODES}

Examples:
  graph-comms call create --to-user 550fae72-d251-43ec-868c-373732c2704f --callback-uri https://bot.contoso.com/api/calls --tenant T
  graph-comms call create --to-phone +12345678901 --source-app-instance ID --callback-uri URL --tenant T
  graph-comms call create --to-application APP --callback-uri URL --dry-run"))]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["to_user", "to_phone", "to_application"])
))]
pub(crate) struct CreateArgs {
    /// Call a Teams user (object id, a GUID).
    #[arg(long, value_name = "ID")]
    to_user: Option<String>,
    /// Call a PSTN number in E.164 form, from --source-app-instance.
    #[arg(long, value_name = "+E164", requires = "source_app_instance")]
    to_phone: Option<String>,
    /// Call an application (a bot's app id).
    #[arg(long, value_name = "ID")]
    to_application: Option<String>,
    /// The bot's application instance (the resource account with a phone number) the call
    /// comes from.
    #[arg(long, value_name = "ID")]
    source_app_instance: Option<String>,
    /// Where Graph posts the call's notifications (https; http only to loopback).
    #[arg(long, value_name = "URL")]
    callback_uri: String,
    #[command(flatten)]
    send: SendArgs,
}

/// Arguments of `graph-comms call answer`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = format!("{EXIT_CODES}

Examples:
  graph-comms call answer --call-id ID --callback-uri https://bot.contoso.com/api/calls
  graph-comms call answer --call-id ID --callback-uri URL --dry-run"))]
pub(crate) struct AnswerArgs {
    /// The incoming call's id.
    #[arg(long, value_name = "ID")]
    call_id: String,
    /// Where Graph posts the call's notifications (https; http only to loopback).
    #[arg(long, value_name = "URL")]
    callback_uri: String,
    #[command(flatten)]
    send: SendArgs,
}

/// A reason to reject, for `--reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReasonArg {
    /// No reason given.
    None,
    /// The bot is busy.
    Busy,
    /// The bot does not take this call.
    Forbidden,
}

/// Arguments of `graph-comms call reject`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = format!("{EXIT_CODES}

Examples:
  graph-comms call reject --call-id ID
  graph-comms call reject --call-id ID --reason busy --dry-run"))]
pub(crate) struct RejectArgs {
    /// The incoming call's id.
    #[arg(long, value_name = "ID")]
    call_id: String,
    /// The reason Graph gives the caller.
    #[arg(long, value_enum, default_value = "none")]
    reason: ReasonArg,
    #[command(flatten)]
    send: SendArgs,
}

/// Arguments of `graph-comms call redirect`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = format!("{EXIT_CODES}

Examples:
  graph-comms call redirect --call-id ID --to-user 550fae72-d251-43ec-868c-373732c2704f
  graph-comms call redirect --call-id ID --to-phone +12345678901 --app-instance --dry-run"))]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["to_user", "to_phone"])
))]
pub(crate) struct RedirectArgs {
    /// The incoming call's id.
    #[arg(long, value_name = "ID")]
    call_id: String,
    /// Redirect to a Teams user (object id, a GUID).
    #[arg(long, value_name = "ID")]
    to_user: Option<String>,
    /// Redirect to a PSTN number in E.164 form (the bot must be an application instance).
    #[arg(long, value_name = "+E164")]
    to_phone: Option<String>,
    /// The bot is an application instance with a phone number (needed for `--to-phone`).
    #[arg(long)]
    app_instance: bool,
    #[command(flatten)]
    send: SendArgs,
}

/// Arguments of `graph-comms call hangup` and `graph-comms call get`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = format!("{EXIT_CODES}

Examples:
  graph-comms call hangup --call-id ID
  graph-comms call get --call-id ID --base-url http://127.0.0.1:8990/v1.0 --authority-host http://127.0.0.1:8990
  graph-comms call get --call-id ID --dry-run"))]
pub(crate) struct IdArgs {
    /// The call's id.
    #[arg(long, value_name = "ID")]
    call_id: String,
    #[command(flatten)]
    send: SendArgs,
}

/// The flags every `call` subcommand ends with: `--dry-run`, then where and as whom it sends.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SendArgs {
    /// Print the request and send nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    graph: GraphArgs,
}

/// One request, validated and ready: what `--dry-run` prints and what is sent.
#[derive(Debug)]
enum Action {
    Create(graph_comms_model::Call),
    Answer(String, graph_comms_model::AnswerRequestBody),
    Reject(String, graph_comms_model::RejectRequestBody),
    Redirect(String, graph_comms_model::RedirectRequestBody),
    Hangup(String),
    Get(String),
}

fn guid(flag: &str, value: &str) -> Result<Guid, Failure> {
    Guid::parse(value).map_err(|e| Failure::invalid(format_args!("--{flag}: {e}")))
}

fn e164(flag: &str, value: &str) -> Result<E164, Failure> {
    E164::parse(value).map_err(|e| Failure::invalid(format_args!("--{flag}: {e}")))
}

/// A call id: a GUID, as Graph's call ids are.
fn call_id(value: &str) -> Result<String, Failure> {
    CallId::parse(value).map_err(|e| Failure::invalid(format_args!("--call-id: {e}")))?;
    Ok(value.to_owned())
}

/// The report's errors as exit 2, its warnings (such as a plain-http callback to a loopback
/// host, which only an emulator reaches) on stderr.
fn checked(action: &str, report: Report) -> Result<(), Failure> {
    let mut errors = Vec::new();
    for v in report.violations() {
        if v.is_error() {
            errors.push(v.to_string());
        } else {
            eprintln!("graph-comms: warning: {v}");
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::invalid(format_args!(
            "invalid {action} request: {}",
            errors.join("; ")
        )))
    }
}

/// The tenant as a GUID, when `--tenant` is one.
fn tenant_guid(graph: &GraphArgs) -> Option<Guid> {
    graph.tenant.as_deref().and_then(|t| Guid::parse(t).ok())
}

impl CallCommand {
    fn send(&self) -> &SendArgs {
        match self {
            Self::Create(a) => &a.send,
            Self::Answer(a) => &a.send,
            Self::Reject(a) => &a.send,
            Self::Redirect(a) => &a.send,
            Self::Hangup(a) | Self::Get(a) => &a.send,
        }
    }

    /// Builds and validates the request the flags describe.
    fn action(&self) -> Result<Action, Failure> {
        Ok(match self {
            Self::Create(a) => {
                let tenant = tenant_guid(&a.send.graph);
                let mut call = if let Some(user) = &a.to_user {
                    OutgoingCall::to(
                        &a.callback_uri,
                        Target::teams_user(guid("to-user", user)?, None),
                    )
                } else if let Some(phone) = &a.to_phone {
                    OutgoingCall::to(&a.callback_uri, Target::phone(e164("to-phone", phone)?))
                } else if let Some(app) = &a.to_application {
                    OutgoingCall::to_application(&a.callback_uri, guid("to-application", app)?)
                } else {
                    return Err(Failure::invalid(
                        "name a target: --to-user, --to-phone or --to-application",
                    ));
                };
                if let Some(instance) = &a.source_app_instance {
                    call = call.from_application_instance(
                        guid("source-app-instance", instance)?,
                        None::<String>,
                    );
                }
                let mut ctx =
                    CallContext::peer().with_application_instance(a.source_app_instance.is_some());
                if let Some(t) = tenant {
                    call = call.tenant(t);
                    ctx = ctx.with_tenant(t);
                }
                let call = call.build();
                checked("createCall", validate_call(&call, &ctx))?;
                Action::Create(call)
            }
            Self::Answer(a) => {
                let id = call_id(&a.call_id)?;
                let ctx = CallContext::peer().with_call_id(id.as_str());
                let body = Answer::new(&a.callback_uri).build();
                checked("answer", validate_answer(&body, &ctx))?;
                Action::Answer(id, body)
            }
            Self::Reject(a) => {
                let id = call_id(&a.call_id)?;
                let ctx = CallContext::peer().with_call_id(id.as_str());
                let body = Reject::new(match a.reason {
                    ReasonArg::None => RejectReason::None,
                    ReasonArg::Busy => RejectReason::Busy,
                    ReasonArg::Forbidden => RejectReason::Forbidden,
                })
                .build();
                checked("reject", validate_reject(&body, &ctx))?;
                Action::Reject(id, body)
            }
            Self::Redirect(a) => {
                let id = call_id(&a.call_id)?;
                let target = if let Some(user) = &a.to_user {
                    Target::teams_user(guid("to-user", user)?, tenant_guid(&a.send.graph))
                } else if let Some(phone) = &a.to_phone {
                    Target::phone(e164("to-phone", phone)?)
                } else {
                    return Err(Failure::invalid("name a target: --to-user or --to-phone"));
                };
                let ctx = CallContext::peer()
                    .with_call_id(id.as_str())
                    .with_application_instance(a.app_instance);
                let body = Redirect::to(target).build();
                checked("redirect", validate_redirect(&body, &ctx))?;
                Action::Redirect(id, body)
            }
            Self::Hangup(a) => Action::Hangup(call_id(&a.call_id)?),
            Self::Get(a) => Action::Get(call_id(&a.call_id)?),
        })
    }
}

/// A body as compact JSON, or exit 2.
fn json(serialized: serde_json::Result<String>) -> Result<String, Failure> {
    serialized.map_err(Failure::invalid)
}

impl Action {
    /// The request line and body (`None` for a body-less request).
    fn request(&self, base: &BaseUrl) -> Result<(String, Option<String>), Failure> {
        let url = |id: &str, suffix: &str| {
            base.call_url(id)
                .map(|u| format!("{u}{suffix}"))
                .map_err(|e| Failure::invalid(format_args!("--call-id: {e}")))
        };
        Ok(match self {
            Self::Create(call) => {
                // `{root}/communications/calls`: the URL of a call, less its last segment.
                let one = url("00000000-0000-0000-0000-000000000000", "")?;
                let calls = one
                    .rsplit_once('/')
                    .map_or(one.as_str(), |(calls, _)| calls)
                    .to_owned();
                (
                    format!("POST {calls}"),
                    Some(json(serde_json::to_string(call))?),
                )
            }
            Self::Answer(id, body) => (
                format!("POST {}", url(id, "/answer")?),
                Some(json(serde_json::to_string(body))?),
            ),
            Self::Reject(id, body) => (
                format!("POST {}", url(id, "/reject")?),
                Some(json(serde_json::to_string(body))?),
            ),
            Self::Redirect(id, body) => (
                format!("POST {}", url(id, "/redirect")?),
                Some(json(serde_json::to_string(body))?),
            ),
            Self::Hangup(id) => (format!("DELETE {}", url(id, "")?), None),
            Self::Get(id) => (format!("GET {}", url(id, "")?), None),
        })
    }

    /// Sends the request; the JSON line to print.
    async fn send(self, client: &GraphCommsClient) -> Result<serde_json::Value, Failure> {
        let refused = |e: TransportError| match e.explanation() {
            Some(why) => Failure::not_accepted(format_args!("refused: {e}; {why}")),
            None => Failure::not_accepted(format_args!("refused: {e}")),
        };
        let to_value = |v: &graph_comms_model::Call| {
            serde_json::to_value(v).map_err(|e| Failure::not_accepted(format_args!("{e}")))
        };
        match self {
            Self::Create(call) => {
                let replied = client.create_call(&call).await.map_err(refused)?;
                match replied.value {
                    Some(call) => to_value(&call),
                    None => Err(Failure {
                        code: NOT_ACCEPTED,
                        message: format!(
                            "Graph answered {} without the new call (request-id {:?}): the call \
                             may have been placed; do not place it again",
                            replied.accepted.status, replied.accepted.request_id
                        ),
                    }),
                }
            }
            Self::Answer(id, body) => client
                .answer(&id, &body)
                .await
                .map(|a| accepted_json(&a))
                .map_err(refused),
            Self::Reject(id, body) => client
                .reject(&id, &body)
                .await
                .map(|a| accepted_json(&a))
                .map_err(refused),
            Self::Redirect(id, body) => client
                .redirect(&id, &body)
                .await
                .map(|a| accepted_json(&a))
                .map_err(refused),
            Self::Hangup(id) => client
                .hang_up(&id)
                .await
                .map(|a| accepted_json(&a))
                .map_err(refused),
            Self::Get(id) => to_value(&client.get_call(&id).await.map_err(refused)?),
        }
    }
}

async fn execute(command: CallCommand) -> Result<(), Failure> {
    let action = command.action()?;
    let graph = &command.send().graph;
    let base = graph.base_url()?;
    if command.send().dry_run {
        let (line, body) = action.request(&base)?;
        println!("{line}");
        if let Some(body) = body {
            println!("{body}");
        }
        return Ok(());
    }
    // Checks the URL before any credential is fetched.
    action.request(&base)?;
    let client = graph.client(&base)?;
    let value = action.send(&client).await?;
    println!("{value}");
    Ok(())
}

/// Runs `graph-comms call ...`.
pub(crate) fn run(command: CallCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Failure::not_accepted(format_args!("cannot start the async runtime: {e}"))
                .exit()
        }
    };
    match runtime.block_on(execute(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.exit(),
    }
}
