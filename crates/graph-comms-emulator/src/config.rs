//! Emulator configuration.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use graph_comms_transport::Transport;

use crate::keys::SigningKey;
use crate::script::Script;

/// The tenant id used when neither the token nor the request names one.
pub const DEFAULT_TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// The app role the call actions require (Graph's application permission for calls): create,
/// answer, reject, redirect, transfer, delete, play a prompt.
pub const CALLS_ROLE: &str = "Calls.Initiate.All";

/// An app role that allows hold music (`participant: startHoldMusic` / `stopHoldMusic`).
pub const JOIN_GROUP_CALL_ROLE: &str = "Calls.JoinGroupCall.All";

/// The other app role that allows hold music.
pub const JOIN_GROUP_CALL_AS_GUEST_ROLE: &str = "Calls.JoinGroupCallAsGuest.All";

/// The roles of tokens issued by default: [`CALLS_ROLE`] and [`JOIN_GROUP_CALL_ROLE`], enough for
/// every action the emulator serves.
pub fn default_roles() -> Vec<String> {
    vec![CALLS_ROLE.to_owned(), JOIN_GROUP_CALL_ROLE.to_owned()]
}

/// How the emulator starts. `Default` binds `127.0.0.1:0`, accepts any client at the token
/// endpoint (a development default, logged at start), generates a fresh RSA key, and plays the
/// success flow for every call.
///
/// ```
/// use graph_comms_emulator::{EmulatorConfig, RegisteredClient, Script, TransferFlow};
/// let config = EmulatorConfig::default()
///     .with_bot_app_id("11111111-2222-3333-4444-555555555555")
///     .with_client(RegisteredClient::with_secret("my-bot", "s3cret"))
///     .with_default_script(Script::new(TransferFlow::Failed));
/// assert_eq!(config.clients.len(), 1);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// Where to listen (default `127.0.0.1:0`: a free loopback port).
    pub addr: SocketAddr,
    /// The tenant of calls whose token and body name none.
    pub tenant_id: String,
    /// The bot's app id, used as the callback JWT audience when neither the call's body
    /// (`source.identity.application.id`) nor the access token (`appid`) names one.
    pub bot_app_id: Option<String>,
    /// Clients the token endpoint accepts. Empty (the default) accepts any client id with any
    /// secret or well-formed client assertion: a development default.
    pub clients: Vec<RegisteredClient>,
    /// The RSA key for tokens and callbacks; `None` generates a 2048-bit key at start.
    pub signing_key: Option<SigningKey>,
    /// The script of calls that are not given one.
    pub default_script: Script,
    /// Lifetime of issued access tokens (default 3599 s, as Azure AD's `expires_in`).
    pub token_lifetime: Duration,
    /// How callbacks are delivered.
    pub delivery: DeliveryPolicy,
    /// The app roles of tokens issued while no client is registered (default
    /// [`default_roles`]); a route whose role is missing answers Graph's `403`.
    pub default_roles: Vec<String>,
    /// The transport callbacks are POSTed through (default: a new
    /// `graph_comms_transport::ReqwestTransport`). It must not follow redirects.
    pub callback_transport: Option<Arc<dyn Transport>>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tenant_id: DEFAULT_TENANT_ID.to_owned(),
            bot_app_id: None,
            clients: Vec::new(),
            signing_key: None,
            default_script: Script::default(),
            token_lifetime: Duration::from_secs(3599),
            delivery: DeliveryPolicy::default(),
            default_roles: default_roles(),
            callback_transport: None,
        }
    }
}

impl EmulatorConfig {
    /// Sets the listening address.
    #[must_use]
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Sets the default tenant id.
    #[must_use]
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = tenant_id.into();
        self
    }

    /// Sets the transport callbacks are POSTed through.
    #[must_use]
    pub fn with_callback_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.callback_transport = Some(transport);
        self
    }

    /// Sets the fallback bot app id (callback JWT audience).
    #[must_use]
    pub fn with_bot_app_id(mut self, app_id: impl Into<String>) -> Self {
        self.bot_app_id = Some(app_id.into());
        self
    }

    /// Registers a client; once one is registered, only registered clients get tokens.
    #[must_use]
    pub fn with_client(mut self, client: RegisteredClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Uses this signing key instead of generating one.
    #[must_use]
    pub fn with_signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// Sets the script of calls that are not given one.
    #[must_use]
    pub fn with_default_script(mut self, script: Script) -> Self {
        self.default_script = script;
        self
    }

    /// Sets the roles of tokens issued while no client is registered.
    #[must_use]
    pub fn with_default_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.default_roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the callback delivery policy.
    #[must_use]
    pub fn with_delivery(mut self, delivery: DeliveryPolicy) -> Self {
        self.delivery = delivery;
        self
    }
}

/// A client the token endpoint knows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisteredClient {
    /// The application (client) id.
    pub client_id: String,
    /// How it authenticates.
    pub credential: RegisteredCredential,
    /// The app roles put in its tokens (default [`default_roles`]; empty to test `403`).
    pub roles: Vec<String>,
}

impl RegisteredClient {
    /// A client authenticating with a secret, granted the [`default_roles`].
    pub fn with_secret(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        RegisteredClient {
            client_id: client_id.into(),
            credential: RegisteredCredential::Secret(secret.into()),
            roles: default_roles(),
        }
    }

    /// A client authenticating with a client assertion (a JWT whose `iss` and `sub` are the client
    /// id; its signature is not checked), granted the [`default_roles`].
    pub fn with_assertion(client_id: impl Into<String>) -> Self {
        RegisteredClient {
            client_id: client_id.into(),
            credential: RegisteredCredential::Assertion,
            roles: default_roles(),
        }
    }

    /// Replaces the roles put in this client's tokens.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}

/// How a registered client proves itself at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisteredCredential {
    /// `client_secret` must equal this.
    Secret(String),
    /// `client_assertion` must be a JWT (`client_assertion_type` =
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`) with `iss` = `sub` = the client id.
    Assertion,
}

/// Callback delivery: each call has one delivery task that posts its notifications in order; a
/// notification whose POST fails (connection error, timeout, `408`, `429` or `5xx`) is retried up to
/// `max_attempts` times in all with exponential backoff, then given up (logged, recorded) so the
/// next one can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryPolicy {
    /// Attempts per notification, the first included (default 4; at least 1).
    pub max_attempts: u32,
    /// The first retry's backoff, doubled for each further retry (default 100 ms).
    pub initial_backoff: Duration,
    /// Timeout of one POST (default 10 s).
    pub timeout: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(10),
        }
    }
}

impl DeliveryPolicy {
    /// A policy with these attempts and initial backoff (timeout 10 s).
    pub fn new(max_attempts: u32, initial_backoff: Duration) -> Self {
        DeliveryPolicy {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            ..DeliveryPolicy::default()
        }
    }
}
