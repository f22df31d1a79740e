//! An authenticated axum webhook receiver for Microsoft Graph call notifications.
//!
//! Graph POSTs `commsNotifications` to the bot's public callback URL, and so can anyone else. A
//! [`Receiver`] is the bot's front door:
//!
//! 1. it authenticates every POST before reading its body: `Authorization: Bearer <jwt>`, RS256
//!    only, signed by a key published at the OpenID configuration ([`AuthConfig`]), issuer
//!    accepted, audience = the bot's app id (`403` for a genuine token of another app, `401`
//!    otherwise), `exp`/`nbf` with leeway; verified tokens are cached until they expire, so a
//!    sender reusing its token costs one lookup, not one RSA verification, per callback;
//!    An unauthenticated caller gets a generic error body (the detail goes to the log);
//! 2. it bounds the input: `415` unless `application/json`, `413` past 1 MiB (checked while
//!    reading) or past 1 000 notifications (counted before decoding), `408` for slow bodies,
//!    `400` with the decoder's message for anything that is not a `commsNotifications` batch;
//! 3. it decodes the batch with [`graph_comms_notify::decode`], applies every event to the
//!    [`TransferTracker`](graph_comms_notify::TransferTracker), calls the user's
//!    [`NotificationHandler`] with the events and the caller's tenant, and answers `202`.
//!
//! It answers `POST {path}` and `POST {path}/{anything}` (per-call callback paths; see
//! [`ReceiverBuilder::path`]). Refusals are logged with every attacker-controlled value escaped,
//! the first of each kind at `warn` and the rest rate-limited into periodic summaries
//! ([`ReceiverBuilder::rejection_log_period`]); [`Receiver::stats`] counts them all.
//!
//! Serve it with [`serve`] rather than a plain `axum::serve`: [`serve`] adds the header-read and
//! idle timeouts and the connection cap a public endpoint needs ([`ServeOptions`]).
//!
//! ```no_run
//! use graph_comms_receiver::{AuthConfig, Delivery, Receiver};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = AuthConfig::new("my-app-id")
//!     .with_openid_config_url("http://127.0.0.1:4000/v1/.well-known/OpenIdConfiguration");
//! let receiver = Receiver::builder(auth)
//!     .handler(|d: &Delivery<'_>| println!("{} events from {:?}", d.events.len(), d.tenant_id()))
//!     .build()?;
//! let outcome = receiver.tracker().track("call-id")?; // before sending the transfer
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3978").await?;
//! tokio::spawn(graph_comms_receiver::serve(listener, receiver.router(), Default::default()));
//! println!("{:?}", outcome.await);
//! # Ok(()) }
//! ```

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod auth;
mod count;
mod error;
mod handler;
mod log;
mod receiver;
mod serve;

pub use auth::{
    AuthConfig, AuthStats, Authenticator, VerifiedCaller, CRYPTO_BACKEND, DEFAULT_ISSUERS,
    GRAPH_OPENID_CONFIGURATION,
};
pub use error::{AuthError, Error, Rejection, Result};
pub use handler::{Delivery, NotificationHandler};
pub use receiver::{
    Receiver, ReceiverBuilder, ReceiverStats, DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENT_BODIES, DEFAULT_MAX_NOTIFICATIONS, DEFAULT_PATH,
    DEFAULT_REJECTION_LOG_PERIOD,
};
pub use serve::{
    serve, serve_with_shutdown, ServeOptions, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, READ_BUFFER_BYTES,
};

/// Types of `graph-comms-notify` that appear in this crate's API (a [`Delivery`]'s events, the
/// tracker the receiver feeds, the incoming call a handler is offered), so a bot can name them
/// without depending on `graph-comms-notify` itself.
pub use graph_comms_notify::{IncomingCall, NotificationEvent, TransferTracker};
/// The transport trait [`AuthConfig::with_transport`] takes.
pub use graph_comms_transport::Transport;
