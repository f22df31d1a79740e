#![doc = include_str!("../README.md")]

mod auth;
mod count;
mod error;
mod handler;
mod log;
mod receiver;
mod repoll;
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
