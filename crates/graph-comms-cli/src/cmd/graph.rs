//! The flags every command that talks to Graph shares: where requests go (`--base-url`, `--beta`,
//! `--cloud`, `--legacy-app-calls`) and with which credentials (`--token`, or client credentials
//! from `AZURE_*` for `--tenant`, issued by `--authority-host`).

use std::sync::Arc;

use graph_comms_transport::{
    ApiVersion, BaseUrl, CallsPath, ClientCredentials, Cloud, Error as TransportError,
    GraphCommsClient, ReqwestTransport, StaticToken, TokenProvider, Transport,
};

use crate::cmd::transfer::Failure;

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

/// The API root and credentials, flattened into `transfer` and every `call` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GraphArgs {
    /// The call's tenant (GUID or domain): whose token is used, and, when a GUID, the tenant of
    /// the users named.
    #[arg(long, value_name = "T", env = "AZURE_TENANT_ID")]
    pub(crate) tenant: Option<String>,
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
}

impl GraphArgs {
    /// The API root from `--base-url`, `--beta`, `--cloud` and `--legacy-app-calls`.
    ///
    /// # Errors
    /// Exit code 2 when `--base-url` is not a usable URL.
    pub(crate) fn base_url(&self) -> Result<BaseUrl, Failure> {
        let base = match &self.base_url {
            Some(url) => BaseUrl::parse(url)
                .map_err(|e| Failure::invalid(format_args!("--base-url: {e}")))?,
            None => {
                let version = if self.beta {
                    ApiVersion::Beta
                } else {
                    ApiVersion::V1
                };
                BaseUrl::new(self.cloud.into(), version)
            }
        };
        Ok(if self.legacy_app_calls {
            base.with_calls_path(CallsPath::LegacyApp)
        } else {
            base
        })
    }

    /// The Graph client the flags describe: `--token`, else client credentials from `AZURE_*`,
    /// with `--tenant` as the token's tenant.
    ///
    /// # Errors
    /// Exit code 2 when a token from the cloud's authority would go to a URL that is not one of
    /// that cloud's Graph hosts (name `--authority-host` or pass `--token`), or when a token
    /// would go over plain http to a host other than loopback; exit code 3 when credentials are
    /// missing or unusable.
    pub(crate) fn client(&self, base: &BaseUrl) -> Result<GraphCommsClient, Failure> {
        let cloud = base.cloud().unwrap_or(self.cloud.into());
        if self.token.is_none() && self.authority_host.is_none() && base.cloud().is_none() {
            return Err(Failure::invalid(format_args!(
                "--base-url {} is not a Microsoft Graph host of the {cloud:?} cloud, and the \
                 token would come from that cloud's authority ({}): a production token is not \
                 sent to another host; pass --authority-host (the token issuer that URL trusts, \
                 such as an emulator's root) or --token",
                base.as_str(),
                cloud.authority_host(),
            )));
        }
        // One connection pool for the token endpoint and Graph.
        let transport: Arc<dyn Transport> = Arc::new(
            ReqwestTransport::new()
                .map_err(|e| Failure::not_accepted(format_args!("transport: {e}")))?,
        );
        let tokens: Arc<dyn TokenProvider> = match &self.token {
            Some(token) => Arc::new(StaticToken::new(token.clone())),
            None => {
                // `--tenant` (or AZURE_TENANT_ID, which it defaults to) is the token's tenant;
                // `--authority-host` (or AZURE_AUTHORITY_HOST) is read by clap and set below.
                let tenant = self.tenant.clone();
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
                if let Some(host) = &self.authority_host {
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
        if let Some(tenant) = &self.tenant {
            builder = builder.tenant(tenant.clone());
        }
        builder.build().map_err(|e| match e {
            TransportError::InvalidTenant { .. } => Failure::invalid(format_args!("--tenant: {e}")),
            TransportError::InsecureUrl { .. } => Failure::invalid(format_args!("--base-url: {e}")),
            e => Failure::not_accepted(e),
        })
    }
}
