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

use std::process::ExitCode;
use std::sync::Arc;

use graph_comms_model::TransferRequestBody;
use graph_comms_transfer::{CallContext, CallId, Guid, Report, Transfer, Transferee, E164};
use graph_comms_transport::{
    Accepted, ApiVersion, BaseUrl, CallsPath, ClientCredentials, Cloud, Error as TransportError,
    GraphCommsClient, ReqwestTransport, StaticToken, TokenProvider, Transport,
};

use crate::exit::{fail, INVALID_INPUT, NOT_ACCEPTED};

/// A national cloud, for `--cloud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CloudArg {
    /// graph.microsoft.com
    Global,
    /// US Government L4: graph.microsoft.us
    UsgovL4,
    /// US Government L5 (DOD): dod-graph.microsoft.us
    UsgovL5,
    /// China (21Vianet): microsoftgraph.chinacloudapi.cn
    China,
}

impl From<CloudArg> for Cloud {
    fn from(c: CloudArg) -> Self {
        match c {
            CloudArg::Global => Cloud::Global,
            CloudArg::UsgovL4 => Cloud::UsGovL4,
            CloudArg::UsgovL5 => Cloud::UsGovL5,
            CloudArg::China => Cloud::China,
        }
    }
}

/// Arguments of `graph-comms transfer`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Credentials: --token, or the client-credentials flow from AZURE_CLIENT_ID and AZURE_CLIENT_SECRET
(or AZURE_CLIENT_CERTIFICATE_PATH), for the tenant --tenant (default AZURE_TENANT_ID). A token
from a cloud's authority goes only to that cloud's Graph hosts: with another --base-url, name the
issuer with --authority-host or pass --token. Tokens never go over plain http, except to loopback.
Exit codes: 0 accepted (with --wait: completed); 2 invalid input; 3 not accepted by Graph;
4 (with --wait) accepted, then failed, ended the call another way, or timed out.

Examples:
  graph-comms transfer --call-id ID --to-user 550fae72-d251-43ec-868c-373732c2704f --dry-run
  graph-comms transfer --call-id ID --to-phone +12345678901 --app-instance --tenant T
  graph-comms transfer --call-id ID --to-user USER --replaces CONSULTATION-CALL-ID --beta
  graph-comms transfer --call-id ID --to-user USER --transferee-user U2 --transferee-participant P
  graph-comms transfer --call-id ID --to-user USER --wait --listen 0.0.0.0:3978 --app-id APP
  graph-comms transfer --call-id ID --to-user USER --wait --poll 2 --timeout 60")]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["to_user", "to_phone", "to_application", "to_application_instance"])
))]
#[command(group(clap::ArgGroup::new("follow").args(["listen", "poll"])))]
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
    /// The call's tenant (GUID or domain): whose token is used, and, when a GUID, the tenant of
    /// the users named.
    #[arg(long, value_name = "T", env = "AZURE_TENANT_ID")]
    pub(crate) tenant: Option<String>,
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
    /// The API root including its version (default: the cloud's v1.0, e.g.
    /// `https://graph.microsoft.com/v1.0`); any URL, such as a local emulator's.
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Use the beta API instead of v1.0.
    #[arg(long, conflicts_with = "base_url")]
    pub(crate) beta: bool,
    /// The national cloud: picks the default API root, token authority and scope.
    #[arg(long, value_enum, default_value = "global")]
    pub(crate) cloud: CloudArg,
    /// Send to the deprecated /app/calls path instead of /communications/calls.
    #[arg(long)]
    pub(crate) legacy_app_calls: bool,
    /// A bearer token to send as it is, instead of the client-credentials flow.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "GRAPH_COMMS_TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,
    /// The Azure AD authority host (default: the cloud's); tokens come from
    /// {HOST}/{tenant}/oauth2/v2.0/token.
    #[arg(long, value_name = "URL", env = "AZURE_AUTHORITY_HOST")]
    pub(crate) authority_host: Option<String>,
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
    /// With --wait: seconds to wait for the outcome.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub(crate) timeout: u64,
    /// With --wait: print the progress and the outcome as JSON lines.
    #[arg(long)]
    pub(crate) json: bool,
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
    fn invalid(message: impl std::fmt::Display) -> Self {
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

/// The API root from `--base-url`, `--beta`, `--cloud` and `--legacy-app-calls`.
fn base_url(args: &Args) -> Result<BaseUrl, Failure> {
    let base = match &args.base_url {
        Some(url) => {
            BaseUrl::parse(url).map_err(|e| Failure::invalid(format_args!("--base-url: {e}")))?
        }
        None => {
            let version = if args.beta {
                ApiVersion::Beta
            } else {
                ApiVersion::V1
            };
            BaseUrl::new(args.cloud.into(), version)
        }
    };
    Ok(if args.legacy_app_calls {
        base.with_calls_path(CallsPath::LegacyApp)
    } else {
        base
    })
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
    let tenant_guid = args.tenant.as_deref().and_then(|t| Guid::parse(t).ok());
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

/// The Graph client the flags describe: `--token`, else client credentials from `AZURE_*`, with
/// `--tenant` as the token's tenant.
///
/// # Errors
/// Exit code 2 when a token from the cloud's authority would go to a URL that is not one of
/// that cloud's Graph hosts (name `--authority-host` or pass `--token`), or when a token would
/// go over plain http to a host other than loopback; exit code 3 when credentials are missing
/// or unusable.
pub(crate) fn client(args: &Args, base: &BaseUrl) -> Result<GraphCommsClient, Failure> {
    let cloud = base.cloud().unwrap_or(args.cloud.into());
    if args.token.is_none() && args.authority_host.is_none() && base.cloud().is_none() {
        return Err(Failure::invalid(format_args!(
            "--base-url {} is not a Microsoft Graph host of the {cloud:?} cloud, and the token \
             would come from that cloud's authority ({}): a production token is not sent to \
             another host; pass --authority-host (the token issuer that URL trusts, such as an \
             emulator's root) or --token",
            base.as_str(),
            cloud.authority_host(),
        )));
    }
    // One connection pool for the token endpoint and Graph.
    let transport: Arc<dyn Transport> = Arc::new(
        ReqwestTransport::new()
            .map_err(|e| Failure::not_accepted(format_args!("transport: {e}")))?,
    );
    let tokens: Arc<dyn TokenProvider> = match &args.token {
        Some(token) => Arc::new(StaticToken::new(token.clone())),
        None => {
            // `--tenant` (or AZURE_TENANT_ID, which it defaults to) is the token's tenant;
            // `--authority-host` (or AZURE_AUTHORITY_HOST) is read by clap and set below.
            let tenant = args.tenant.clone();
            let lookup = move |name: &str| match name {
                "AZURE_TENANT_ID" => tenant.clone(),
                "AZURE_AUTHORITY_HOST" => None,
                _ => std::env::var(name).ok(),
            };
            let mut builder = ClientCredentials::from_env_with(lookup)
                .map_err(|e| {
                    Failure::not_accepted(format_args!(
                        "{e} (or pass --token; --tenant names the tenant)"
                    ))
                })?
                .cloud(cloud)
                .transport(transport.clone());
            if let Some(host) = &args.authority_host {
                builder = builder
                    .authority_host(host)
                    .map_err(|e| Failure::invalid(format_args!("--authority-host: {e}")))?;
            }
            Arc::new(builder.build().map_err(Failure::not_accepted)?)
        }
    };
    let mut builder = GraphCommsClient::builder(tokens)
        .base_url(base.clone())
        .transport(transport);
    if let Some(tenant) = &args.tenant {
        builder = builder.tenant(tenant.clone());
    }
    builder.build().map_err(|e| match e {
        TransportError::InvalidTenant { .. } => Failure::invalid(format_args!("--tenant: {e}")),
        TransportError::InsecureUrl { .. } => Failure::invalid(format_args!("--base-url: {e}")),
        e => Failure::not_accepted(e),
    })
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
